// Drawing at most once per animation frame: what changed is marked (`mark(part, key)`),
// and `draw` gets everything marked since the last frame, as a Map(part -> Set of keys).
// A hidden tab gets no animation frames: a timer draws then (the title's unread count).
// Scheduling, not state (like lib/timer.js): what is known lives in state.js.
export function createFrameBatch(draw, hiddenDelay = 200) {
  let dirty = new Map();
  let raf = null;
  let timer = null;
  const flush = () => {
    if (raf !== null) cancelAnimationFrame(raf);
    if (timer !== null) clearTimeout(timer);
    raf = null; timer = null;
    const d = dirty;
    dirty = new Map();
    draw(d);
  };
  return {
    mark(part, key) {
      let keys = dirty.get(part);
      if (!keys) { keys = new Set(); dirty.set(part, keys); }
      if (key !== undefined) keys.add(key);
      if (raf !== null) return;
      raf = requestAnimationFrame(flush);
      timer = setTimeout(flush, hiddenDelay);
    },
    flush,
  };
}
