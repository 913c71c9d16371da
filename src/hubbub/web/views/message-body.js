// A bubble's text: links and simple formatting (lib/markup.js, DOM nodes only), and a
// long message folded to its first lines with a "Read more" button that unfolds it in
// place (and "Show less" folds it again; the button keeps the focus).
import { h } from '../lib/dom.js';
import { renderMarkup } from '../lib/markup.js';

const LONG_CHARS = 700;
const LONG_LINES = 12;

const isLong = (text) => text.length > LONG_CHARS || text.split('\n', LONG_LINES + 1).length > LONG_LINES;

// Fill `body` with `text`; what goes after it in the bubble (the button of a long one).
export function fillBody(body, text) {
  body.replaceChildren(renderMarkup(text));
  if (!text || !isLong(text)) return [];
  body.classList.add('collapsed');
  if (!body.id) body.id = `body-${Math.random().toString(36).slice(2)}`;
  const more = h('button', { type: 'button', class: 'read-more', 'aria-expanded': 'false', 'aria-controls': body.id }, 'Read more');
  more.addEventListener('click', () => setFolded(body, !body.classList.contains('collapsed')));
  return [more];
}

// Fold or unfold a long message's text (search unfolds the one it shows).
export function setFolded(body, folded) {
  const more = body.parentElement && body.parentElement.querySelector(':scope > .read-more');
  if (!more) return;
  body.classList.toggle('collapsed', folded);
  more.setAttribute('aria-expanded', String(!folded));
  more.textContent = folded ? 'Read more' : 'Show less';
}
