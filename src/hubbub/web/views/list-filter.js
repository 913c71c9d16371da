// The conversation list's search field: as it is typed, the list shows only the chats
// whose title (a person's name or username, a group's name) or last message holds the
// text, whatever its case or accents ("elodie" finds "Élodie"). The text is this view's
// own: the field holds it (no copy kept), read once a draw. Escape clears it.
import { $ } from '../lib/dom.js';
import { usernameOf } from './names.js';
import { redrawList } from './render.js';

const fold = (s) => String(s || '').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

// What the field asks for, folded ('' for nothing: every row).
export function listFilter() {
  const field = $('conv-filter');
  return field ? fold(field.value.trim()) : '';
}

// Does the row of `c`, titled `title`, hold `wanted` (from listFilter)?
export function matchesFilter(c, title, wanted) {
  if (!wanted) return true;
  if (fold(title).includes(wanted)) return true;
  if (c.kind === 'direct' && fold(usernameOf(c.peer_id)).includes(wanted)) return true;
  return !!c.last_message && fold(c.last_message.body).includes(wanted);
}

// After a draw: "No chats match" when the filter leaves no row.
export function renderFilterNote(wanted, shown) {
  const note = $('conv-nomatch');
  note.hidden = !wanted || shown > 0;
  if (!note.hidden) note.textContent = `No chats match “${$('conv-filter').value.trim()}”.`;
}

export function wireListFilter() {
  const field = $('conv-filter');
  field.addEventListener('input', () => redrawList());
  field.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !field.value) return;
    ev.preventDefault(); // only the field: panels' Escape is for what is open
    ev.stopPropagation();
    field.value = '';
    redrawList();
  });
}
