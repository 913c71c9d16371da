// Ids are decimal strings of 64-bit numbers (docs/protocol.md): compare them as such.
export function idGt(a, b) {
  if (!a) return false;
  if (!b) return true;
  if (a.length !== b.length) return a.length > b.length;
  return a > b;
}
export const idMax = (a, b) => (idGt(a, b) ? a : b || a);
// the lower of two ids, null when either is missing
export const idLower = (a, b) => (!a || !b ? null : idGt(a, b) ? b : a);
export const codePoints = (s) => [...s].length;

export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
