// Times, names and colours as the page shows them (pure functions of their arguments).
export function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const now = new Date();
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) return t;
  const y = new Date(now); y.setDate(now.getDate() - 1);
  if (d.toDateString() === y.toDateString()) return `Yesterday ${t}`;
  return `${d.toLocaleDateString([], { day: 'numeric', month: 'short', year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric' })} ${t}`;
}
export function fmtShort(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (now - d < 6 * 864e5) return d.toLocaleDateString([], { weekday: 'short' });
  return d.toLocaleDateString([], { day: 'numeric', month: 'short' });
}
export function relTime(ms) {
  if (!ms) return 'a long time ago';
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 45) return 'just now';
  if (s < 90) return '1 minute ago';
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 5400) return '1 hour ago';
  if (s < 86400) return `${Math.round(s / 3600)} hours ago`;
  return `on ${fmtTime(ms)}`;
}
// A person's (or a group's) colour: one of twelve hues, the same for its avatar and, in a
// group, its name. The palette is picked for contrast (WCAG AA asks 4.5:1 for text): each
// is the lightest colour of its hue (HSL, 60% saturation) with 4.7:1 or more between it
// and white, so white initials on it read in both themes (an avatar is its own
// background), and as a name on the light theme's white bubble it reads too. The dark
// theme's bubble (#202c33) needs lighter names: access.css sets --name-N, a tint of the
// same hue with 4.8:1 or more there. Red, orange, olive, green, emerald, teal, cyan, blue,
// violet, purple, magenta, rose. (sw-push.js repeats the list for notification icons.)
export const PALETTE = ['#cf3f3f', '#ab602b', '#896f22', '#4f7e20', '#218349', '#207e77',
  '#297aa3', '#3f6fcf', '#835ad6', '#b539ce', '#ca3297', '#ce3b60'];
function hueOf(id) {
  let x = 0;
  for (const ch of String(id)) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
  return x % PALETTE.length;
}
export const colorFor = (id) => PALETTE[hueOf(id)];
export const nameColorFor = (id) => `var(--name-${hueOf(id)}, ${colorFor(id)})`;
// Graphemes, not code points: a family emoji (three people joined by ZWJ) or a flag (two
// regional letters) is one character to a person, and half of one is a broken glyph.
const GRAPHEMES = typeof Intl !== 'undefined' && Intl.Segmenter
  ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
const firstGrapheme = (word) => {
  if (!word) return '';
  if (GRAPHEMES) { for (const { segment } of GRAPHEMES.segment(word)) return segment; }
  return [...word][0];
};
export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const a = firstGrapheme(parts[0]) || '?';
  const b = parts.length > 1 ? firstGrapheme(parts[parts.length - 1]) : '';
  return (a + b).toUpperCase();
}
export function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom/.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac/.test(ua) ? 'macOS' : /Win/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return `Web · ${browser}${os ? ` on ${os}` : ''}`.slice(0, 64);
}
// A byte count as people read it: "820 B", "14 KB", "1.2 MB" (1 KB = 1024 bytes).
export function fmtSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v)} ${units[i]}`;
}
