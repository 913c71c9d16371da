// What sits between an open chat's bubbles: a date line where the day changes, the
// "N unread messages" line where the chat was opened (the chat opens there), and the
// "Jump to latest" button with the count of messages that came while scrolled up (new
// messages never move the view then). Their elements live in the messages list's own
// render cache (lib/dom.js keyedChildren), the unread anchor on the list element: both go
// when another chat opens.
import { $, h, keyedChildren } from '../lib/dom.js';
import { idGt } from '../lib/ids.js';
import { dayKey, dayLabel } from '../lib/days.js';
import { myId, openCid, chatOf } from '../state.js';
import { eventLines } from './group-events.js';

const tsOf = (m) => m.ts || m.localTs || 0;

// A chat opens: where its unread messages start (from the list's count, before it clears).
export function noteUnreadOnOpen(c) {
  $('messages')._unread = c && c.unread_count > 0
    ? { count: c.unread_count, after: c.read_upto || null, mid: null, scrolled: false } : null;
}

function cached(items, key, make) {
  let el = items.get(key);
  if (!el) { el = make(); items.set(key, el); }
  return el;
}

function separator(items, key, label, cls) {
  // a list item (the list holds only items: axe's `list` rule) holding a named separator
  const el = cached(items, key, () => h('li', { class: `sep ${cls}` }, h('span', { role: 'separator' })));
  const line = el.firstChild;
  if (line.textContent !== label) { line.textContent = label; line.setAttribute('aria-label', label); }
  return el;
}

// The first unread message of the open chat (resolved once its history is here).
function unreadMid(anchor, arr) {
  if (!anchor) return null;
  if (anchor.mid || !chatOf(openCid).loaded) return anchor.mid;
  const others = arr.filter((m) => m.message_id && m.sender_id !== myId());
  const first = anchor.after ? others.find((m) => idGt(m.message_id, anchor.after))
    : others[Math.max(0, others.length - anchor.count)];
  anchor.mid = first ? first.message_id : null;
  if (!first) anchor.count = 0;
  return anchor.mid;
}

// The list's elements in order: `els` (the bubbles of `arr`) with the separators and the
// group's events (views/group-events.js) among them.
export function withSeparators(list, cid, arr, els) {
  const items = keyedChildren(list);
  const anchor = list._unread;
  const mid = unreadMid(anchor, arr);
  const events = eventLines(cid, items);
  const now = Date.now();
  const out = [];
  let day = null;
  let e = 0;
  const dateLine = (ts) => {
    const k = dayKey(ts);
    if (k === day) return false;
    day = k;
    out.push(separator(items, `d:${k}`, dayLabel(ts, now), 'sep-date'));
    return true;
  };
  arr.forEach((m, i) => {
    while (e < events.length && events[e].ts <= tsOf(m)) { dateLine(events[e].ts); out.push(events[e++].el); }
    let broke = dateLine(tsOf(m) || now);
    if (mid && m.message_id === mid) {
      const n = anchor.count;
      out.push(separator(items, 'u:unread', `${n} unread message${n === 1 ? '' : 's'}`, 'sep-unread'));
      broke = true;
    }
    if (broke) els[i].classList.remove('grouped');
    out.push(els[i]);
  });
  for (; e < events.length; e++) { dateLine(events[e].ts); out.push(events[e].el); }
  return out;
}

// Once, when the chat opens at its unread line: scrolled there; true if it was.
export function scrollToUnread(sc) {
  const anchor = $('messages')._unread;
  if (!anchor || anchor.scrolled || !anchor.mid) return false;
  const line = $('messages').querySelector('.sep-unread');
  if (!line) return false;
  anchor.scrolled = true;
  sc.scrollTop += line.getBoundingClientRect().top - sc.getBoundingClientRect().top - 8;
  return true;
}

// ---------- the "Jump to latest" button ----------

const atBottom = (sc) => sc.scrollHeight - sc.scrollTop - sc.clientHeight < 100;

export function wireJump() {
  const sc = $('scroller');
  const btn = h('button', { type: 'button', class: 'jump', id: 'jump-latest', hidden: true },
    h('span', { class: 'jump-arrow', 'aria-hidden': 'true' }, '↓'), h('span', { class: 'jump-count' }));
  sc.append(h('div', { class: 'jump-holder' }, btn));
  btn.addEventListener('click', () => {
    sc.scrollTop = sc.scrollHeight;
    renderJump();
    $('msg-input').focus();
  });
  sc.addEventListener('scroll', () => renderJump(), { passive: true });
}

// Show or hide the button; its count is of others' messages newer than the newest seen
// at the bottom.
export function renderJump() {
  const btn = $('jump-latest');
  const sc = $('scroller');
  if (!btn || !openCid) return;
  const msgs = [...chatOf(openCid).msgs.values()].filter((m) => m.message_id);
  let newest = '';
  for (const m of msgs) if (idGt(m.message_id, newest || null)) newest = m.message_id;
  if (btn.dataset.cid !== openCid) { btn.dataset.cid = openCid; btn.dataset.seen = ''; }
  if (!btn.dataset.seen && chatOf(openCid).loaded) btn.dataset.seen = newest;
  if (atBottom(sc)) { btn.dataset.seen = newest; btn.hidden = true; return; }
  const seen = btn.dataset.seen || null;
  const n = msgs.filter((m) => m.sender_id !== myId() && idGt(m.message_id, seen)).length;
  btn.hidden = false;
  btn.querySelector('.jump-count').textContent = n ? String(n) : '';
  btn.setAttribute('aria-label', n ? `Jump to latest, ${n} new message${n === 1 ? '' : 's'}` : 'Jump to latest');
}
