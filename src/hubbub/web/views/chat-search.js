// Find a message in the loaded history: a search box under the chat's header (the
// header's Search button opens it) marks every match in the loaded messages; Enter goes
// to the next older one, Shift+Enter back, "n of m" says where (1 is the newest). A match
// in a folded long message unfolds it. Escape closes the box and the marks go.
import { $, h } from '../lib/dom.js';
import { setFolded } from './message-body.js';

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function wireChatSearch() {
  const open = h('button', { type: 'button', id: 'btn-search', class: 'ghost', 'aria-expanded': 'false', 'aria-controls': 'chat-search' }, 'Search');
  $('chat-view').querySelector('.mute-wrap').before(open);
  const input = h('input', { type: 'search', id: 'chat-search-input', 'aria-label': 'Search in this chat', placeholder: 'Search loaded messages', autocomplete: 'off', spellcheck: 'false' });
  const count = h('span', { class: 'search-count muted small', id: 'chat-search-count', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'ghost', 'aria-label': 'Newer match' }, '↓');
  const next = h('button', { type: 'button', class: 'ghost', 'aria-label': 'Older match' }, '↑');
  const close = h('button', { type: 'button', class: 'ghost', 'aria-label': 'Close search' }, '✕');
  const bar = h('div', { class: 'chat-search', id: 'chat-search', role: 'search', hidden: true }, input, count, next, prev, close);
  $('chat-view').querySelector('.chat-head').after(bar);
  open.addEventListener('click', () => (bar.hidden ? openSearch() : closeChatSearch(true)));
  close.addEventListener('click', () => closeChatSearch(true));
  input.addEventListener('input', () => find(input.value));
  next.addEventListener('click', () => step(1));
  prev.addEventListener('click', () => step(-1));
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); step(ev.shiftKey ? -1 : 1); }
    else if (ev.key === 'Escape') { ev.preventDefault(); closeChatSearch(true); }
  });
}

function openSearch() {
  $('chat-search').hidden = false;
  $('btn-search').setAttribute('aria-expanded', 'true');
  $('chat-search-input').focus();
  find($('chat-search-input').value);
}

// Close the box (another chat opened, Escape, its ✕); focus back to Search if asked.
export function closeChatSearch(focusBack) {
  const bar = $('chat-search');
  if (!bar || bar.hidden) return;
  bar.hidden = true;
  $('btn-search').setAttribute('aria-expanded', 'false');
  clearMarks();
  $('chat-search-input').value = '';
  $('chat-search-count').textContent = '';
  if (focusBack) $('btn-search').focus();
}

function clearMarks() {
  for (const mk of [...$('messages').querySelectorAll('mark.hit')]) {
    const parent = mk.parentNode;
    mk.replaceWith(document.createTextNode(mk.textContent));
    parent.normalize();
  }
  $('chat-search')._hits = [];
}

// Mark every match of `query` in the loaded messages' text, and show the newest.
function find(query) {
  clearMarks();
  const q = query.trim();
  const bar = $('chat-search');
  if (!q) { $('chat-search-count').textContent = ''; return; }
  const re = new RegExp(escapeRe(q), 'giu');
  const hits = [];
  for (const body of $('messages').querySelectorAll('.msg .body')) {
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    const nodes = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
    for (const node of nodes) {
      const text = node.data;
      re.lastIndex = 0;
      if (!re.test(text)) continue;
      re.lastIndex = 0;
      const frag = document.createDocumentFragment();
      let last = 0;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        if (m.index > last) frag.append(text.slice(last, m.index));
        const mk = h('mark', { class: 'hit' }, m[0]);
        hits.push(mk);
        frag.append(mk);
        last = m.index + m[0].length;
      }
      if (last < text.length) frag.append(text.slice(last));
      node.replaceWith(frag);
    }
  }
  bar._hits = hits.reverse(); // the newest first
  bar._at = 0;
  show();
}

function step(by) {
  const bar = $('chat-search');
  const hits = bar._hits || [];
  if (!hits.length) return;
  bar._at = (bar._at + by + hits.length) % hits.length;
  show();
}

function show() {
  const bar = $('chat-search');
  const hits = bar._hits || [];
  for (const mk of $('messages').querySelectorAll('mark.current')) mk.classList.remove('current');
  $('chat-search-count').textContent = hits.length ? `${bar._at + 1} of ${hits.length}` : 'No matches';
  const mk = hits[bar._at];
  if (!mk) return;
  mk.classList.add('current');
  const body = mk.closest('.body');
  if (body && body.classList.contains('collapsed')) setFolded(body, false);
  mk.scrollIntoView({ block: 'center' });
}
