// Look-ups of single items asked for in the same tick go out together: `fetchMany(keys)`
// gets at most `max` keys at a time and resolves to a Map(key -> value); a key it does not
// hold (or a failed fetch) resolves to null. Scheduling, not state (like lib/timer.js).
export function createBatch(fetchMany, max) {
  let queue = null; // key -> [resolve, ...], until the tick ends
  const flush = () => {
    const q = queue;
    queue = null;
    const keys = [...q.keys()];
    for (let i = 0; i < keys.length; i += max) {
      const part = keys.slice(i, i + max);
      const settle = (found) => { for (const k of part) for (const r of q.get(k)) r((found && found.get(k)) || null); };
      fetchMany(part).then(settle, () => settle(null));
    }
  };
  return (key) => new Promise((resolve) => {
    if (!queue) { queue = new Map(); queueMicrotask(flush); }
    if (!queue.has(key)) queue.set(key, []);
    queue.get(key).push(resolve);
  });
}
