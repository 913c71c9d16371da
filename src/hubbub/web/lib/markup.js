// A message's text as the page shows it: links that can be clicked and simple formatting
// (*bold*, _italic_, ~struck~, `code`, ```blocks```), built as DOM nodes (createElement and
// text nodes) and never by interpreting HTML: "<img onerror=…>" stays those characters.
//
// Links are http(s) and mailto only (a bare "www." gets https://); anything else, a
// javascript: URL among them, stays text. A link opens in a new tab with
// rel="noopener noreferrer". The work is linear in the text's length: a 100,000-character
// message (the server's limit) renders at once, whatever markers it holds.

const BLOCK = /```([\s\S]*?)```/g;
// inline code, or a link (not glued to a word before it)
const ATOM = /`([^`\n]+)`|(?<![\w@.\/:-])((?:https?:\/\/|mailto:|www\.)[^\s<>"`]+)/gi;
const TRAILING = /[.,;:!?'"*_~]+$/; // "see https://x.org." ends before the dot
const TAGS = { '*': 'strong', _: 'em', '~': 's' };
const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/;

// The node for `raw` if it is a link people may follow, else null.
export function safeHref(raw) {
  const href = /^www\./i.test(raw) ? `https://${raw}` : raw;
  let url;
  try { url = new URL(href); } catch { return null; }
  if (!['http:', 'https:', 'mailto:'].includes(url.protocol)) return null;
  if (url.protocol !== 'mailto:' && !url.hostname) return null;
  return url.href;
}

// A link's text without what is more likely the sentence's: trailing punctuation, and a
// closing parenthesis it did not open ("(see https://x.org/a)").
function trimLink(s) {
  let out = s.replace(TRAILING, '');
  while (out.endsWith(')') && (out.match(/\(/g) || []).length < (out.match(/\)/g) || []).length) {
    out = out.slice(0, -1).replace(TRAILING, '');
  }
  return out;
}

function linkNode(text, href) {
  const a = document.createElement('a');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  a.textContent = text;
  return a;
}

// The atoms of one stretch of text (no code blocks): inline code and links, by position.
function atomsOf(src) {
  const atoms = [];
  ATOM.lastIndex = 0;
  let m;
  while ((m = ATOM.exec(src))) {
    if (m[1] !== undefined) {
      const code = document.createElement('code');
      code.textContent = m[1];
      atoms.push({ start: m.index, end: m.index + m[0].length, node: code });
      continue;
    }
    const text = trimLink(m[2]);
    const href = text && safeHref(text);
    if (href) atoms.push({ start: m.index, end: m.index + text.length, node: linkNode(text, href) });
    ATOM.lastIndex = m.index + Math.max(1, text.length);
  }
  return atoms;
}

// Pairs of emphasis markers in `src` outside the atoms: open position -> close position.
// A marker opens after a space, a punctuation mark or the start, before a non-space; it
// closes after a non-space, before a space, punctuation or the end (so snake_case and
// 2*3*4 stay as they are). Pairs never cross, and never span a line. Linear: an opener is
// looked for only when one of its kind is open, and what is skipped over is dropped.
function pairsOf(src, atoms) {
  const pairs = new Map();
  const stack = [];
  const open = { '*': 0, _: 0, '~': 0 };
  const clear = () => { stack.length = 0; open['*'] = 0; open._ = 0; open['~'] = 0; };
  let a = 0;
  for (let i = 0; i < src.length; i++) {
    if (a < atoms.length && i === atoms[a].start) { i = atoms[a].end - 1; a++; continue; }
    const ch = src[i];
    if (ch === '\n') { clear(); continue; }
    if (!(ch in TAGS)) continue;
    const before = i > 0 ? src[i - 1] : ' ';
    const after = i + 1 < src.length ? src[i + 1] : ' ';
    const afterOk = SPACE.test(after) || !WORD.test(after);
    const canClose = !SPACE.test(before) && before !== ch && afterOk;
    if (canClose && open[ch] > 0) {
      let k = stack.length - 1;
      while (stack[k].ch !== ch) k--;
      pairs.set(stack[k].pos, i);
      for (const dropped of stack.splice(k)) open[dropped.ch]--;
      continue;
    }
    const canOpen = (SPACE.test(before) || !WORD.test(before)) && !SPACE.test(after) && after !== ch;
    if (canOpen) { stack.push({ ch, pos: i }); open[ch]++; }
  }
  return pairs;
}

// One stretch without code blocks, appended to `parent`.
function inline(src, parent) {
  const atoms = atomsOf(src);
  const pairs = pairsOf(src, atoms);
  const parents = [parent];
  const closes = [];
  let text = '';
  const flush = () => { if (text) { parents[parents.length - 1].append(document.createTextNode(text)); text = ''; } };
  let a = 0;
  for (let i = 0; i < src.length; i++) {
    if (a < atoms.length && i === atoms[a].start) {
      flush();
      parents[parents.length - 1].append(atoms[a].node);
      i = atoms[a].end - 1;
      a++;
    } else if (pairs.has(i)) {
      flush();
      const el = document.createElement(TAGS[src[i]]);
      parents[parents.length - 1].append(el);
      parents.push(el);
      closes.push(pairs.get(i));
    } else if (closes.length && closes[closes.length - 1] === i) {
      flush();
      parents.pop();
      closes.pop();
    } else text += src[i];
  }
  flush();
}

// The fragment for a message's text.
export function renderMarkup(body) {
  const frag = document.createDocumentFragment();
  const src = String(body || '');
  let last = 0;
  BLOCK.lastIndex = 0;
  let m;
  while ((m = BLOCK.exec(src))) {
    if (!m[1].trim()) continue; // ``` ``` is no block
    inline(src.slice(last, m.index), frag);
    const pre = document.createElement('pre');
    const code = document.createElement('code');
    code.textContent = m[1].replace(/^\n/, '').replace(/\n$/, '');
    pre.append(code);
    frag.append(pre);
    last = m.index + m[0].length;
  }
  inline(src.slice(last), frag);
  return frag;
}

// The text a reader sees, markers gone ("*bold*" reads "bold"): for one-line previews.
// Only the first `max` characters are read (a preview shows fewer).
export function plainText(body, max = 400) {
  return renderMarkup(String(body || '').slice(0, max)).textContent;
}
