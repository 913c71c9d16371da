// One named timer slot: starting it again replaces what was pending. Modules keep their
// timers in these (scheduling, not state: what is known lives in state.js).
export function createTimer() {
  let id = null;
  let repeating = false;
  const clear = () => {
    if (id !== null) (repeating ? clearInterval : clearTimeout)(id);
    id = null;
  };
  return {
    get pending() { return id !== null; },
    after(ms, fn) {
      clear();
      repeating = false;
      id = setTimeout(() => { id = null; fn(); }, ms);
    },
    every(ms, fn) {
      clear();
      repeating = true;
      id = setInterval(fn, ms);
    },
    clear,
  };
}
