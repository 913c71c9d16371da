// The messages by keyboard and screen reader. The message log (role=log in index.html) is
// a live region: a new message is read out as it comes, but a page of history drawn at
// once is not (hush). It is also one Tab stop: one
// message at a time has tabindex 0 (a roving tabindex), the newest unless focus is among
// the messages; Up and Down move between messages, Home and End go to the first and the
// newest. Each message is named as a screen reader should say it: who, what, when, and
// for one's own, its status ("You: see you at 8, 10:07, read").
import { $ } from '../lib/dom.js';
import { fmtTime } from '../lib/format.js';
import { attachmentsLabel } from '../lib/media.js';
import { myId } from '../state.js';
import { nameOf } from './names.js';
import { statusOf } from './status.js';

const STATUS_WORDS = { sending: 'sending', sent: 'sent', delivered: 'delivered', read: 'read', failed: 'not sent' };

export function messageLabel(c, m) {
  const own = m.sender_id === myId();
  const files = attachmentsLabel(m.attachments).replace(/^\S+ /, ''); // "Photo", not "📷 Photo"
  const text = [files, m.body].filter(Boolean).join(', ');
  const parts = [`${own ? 'You' : nameOf(m.sender_id)}: ${text}`, fmtTime(m.ts || m.localTs)];
  if (own && c) parts.push(STATUS_WORDS[statusOf(c, m)]);
  return parts.filter(Boolean).join(', ');
}

const messagesOf = (list) => [...list.children].filter((li) => li.classList.contains('msg'));

function setStop(list, stop) {
  for (const li of messagesOf(list)) {
    const want = li === stop ? '0' : '-1';
    if (li.getAttribute('tabindex') !== want) li.setAttribute('tabindex', want);
  }
}

// After the messages are drawn: exactly one of them is the Tab stop.
export function syncTabStop(list) {
  const msgs = messagesOf(list);
  if (!msgs.length) return;
  const current = list.contains(document.activeElement) && msgs.find((li) => li.getAttribute('tabindex') === '0');
  setStop(list, current || msgs[msgs.length - 1]);
}

const MOVES = {
  ArrowUp: (msgs, i) => msgs[Math.max(0, i - 1)],
  ArrowDown: (msgs, i) => msgs[Math.min(msgs.length - 1, i + 1)],
  Home: (msgs) => msgs[0],
  End: (msgs) => msgs[msgs.length - 1],
};

export function wireMessageKeys() {
  const list = $('messages');
  list.addEventListener('keydown', (ev) => {
    const opensMenu = ev.key === 'Enter' || ev.key === 'ContextMenu' || (ev.key === 'F10' && ev.shiftKey);
    const more = opensMenu && ev.target.classList.contains('msg') && ev.target.querySelector('.msg-more');
    if (more) { ev.preventDefault(); more.click(); return; }
    const move = MOVES[ev.key];
    // only on a message itself: a player's or a button's own keys stay theirs
    if (!move || !ev.target.classList.contains('msg') || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const msgs = messagesOf(list);
    const next = move(msgs, msgs.indexOf(ev.target));
    ev.preventDefault();
    if (next && next !== ev.target) { setStop(list, next); next.focus(); }
  });
  // a click or a Tab into a message's button makes that message the stop
  list.addEventListener('focusin', (ev) => {
    const li = ev.target.closest('li.msg');
    if (li && li.parentElement === list) setStop(list, li);
  });
}

// Messages drawn in bulk (a chat opened, an older page) are not news: the log is busy
// (aria-busy, so screen readers hold its changes) until they are in.
export function hush(log) {
  log.setAttribute('aria-busy', 'true');
  clearTimeout(log._hush); // the timer is kept on the element (as _parts are)
  log._hush = setTimeout(() => log.removeAttribute('aria-busy'), 500);
}
