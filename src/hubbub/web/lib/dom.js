// DOM helpers. The page's one security rule lives here: user data only ever enters the
// page as text. h() puts `text` in with textContent and every child string in as a text
// node; nothing in the client assigns innerHTML.
import { colorFor, initials } from './format.js';

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svgIcon(paths, { circle } = {}) {
  const s = document.createElementNS(SVG_NS, 'svg');
  s.setAttribute('viewBox', '0 0 18 12');
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('focusable', 'false');
  if (circle) {
    const c = document.createElementNS(SVG_NS, 'circle');
    c.setAttribute('cx', '9'); c.setAttribute('cy', '6'); c.setAttribute('r', '5');
    s.append(c);
  }
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    s.append(p);
  }
  return s;
}

export function setAvatar(el, id, name) {
  el.textContent = initials(name);
  el.style.background = colorFor(id);
}

// Replace the page's content with a <template>'s.
export function mountTemplate(id) {
  $('root').replaceChildren($(id).content.cloneNode(true));
}

// Put `els` into `parent` in order, touching only nodes that are out of place
// (moving a node would restart its animation and drop focus).
export function syncChildren(parent, els) {
  const want = new Set(els);
  for (const c of [...parent.children]) if (!want.has(c)) c.remove();
  for (let i = 0; i < els.length; i++) {
    const at = parent.children[i];
    if (at !== els[i]) parent.insertBefore(els[i], at || null);
  }
}

// The rendered child of `parent` for each key (a render cache kept on the element itself,
// so it goes when the element goes); resetKeyed() forgets them all.
export function keyedChildren(parent) {
  if (!parent._byKey) parent._byKey = new Map();
  return parent._byKey;
}
export function resetKeyed(parent) { parent._byKey = new Map(); }
