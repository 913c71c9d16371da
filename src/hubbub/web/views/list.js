// The sidebar: who is logged in, and the conversation list (newest activity first).
import { $, h, setAvatar, svgIcon, syncChildren, keyedChildren } from '../lib/dom.js';
import { idGt } from '../lib/ids.js';
import { fmtShort } from '../lib/format.js';
import { me, myId, openCid, socketReady, conversations, hasConversation, presenceOf, mutedUntil } from '../state.js';
import { goChat } from '../router.js';
import { convTitle, previewParts, previewText } from './names.js';
import { statusOf, STATUS_ICONS } from './status.js';

export function renderMe() {
  $('me-name').textContent = me.display_name;
  $('me-username').textContent = `@${me.username}`;
  setAvatar($('me-avatar'), me.user_id, me.display_name);
}

function activity(c) {
  return Math.max((c.last_message && c.last_message.ts) || 0, c.localTs || 0);
}

export function renderConvList() {
  const list = $('conv-list');
  if (!list || !me) return;
  const arr = conversations().sort((a, b) => activity(b) - activity(a) || (idGt(a.conversation_id, b.conversation_id) ? -1 : 1));
  $('conv-empty').hidden = arr.length > 0;
  const items = keyedChildren(list);
  const els = [];
  let totalUnread = 0;
  for (const c of arr) {
    const cid = c.conversation_id;
    let li = items.get(cid);
    if (!li) {
      li = buildConvItem(cid);
      items.set(cid, li);
    }
    updateConvItem(li, c);
    totalUnread += c.unread_count || 0;
    els.push(li);
  }
  syncChildren(list, els);
  for (const k of [...items.keys()]) if (!hasConversation(k)) items.delete(k);
  document.title = totalUnread ? `(${totalUnread}) Hubbub` : 'Hubbub';
}

function buildConvItem(cid) {
  const a = h('a', { class: 'conv', href: `#/c/${cid}` });
  a.addEventListener('click', (ev) => {
    if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    goChat(cid);
  });
  const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true' });
  const dot = h('span', { class: 'dot', hidden: true });
  const title = h('span', { class: 'conv-title', dir: 'auto' });
  const time = h('span', { class: 'conv-time' });
  const mark = h('span', { class: 'pmark', 'aria-hidden': 'true' });
  const prev = h('span', { class: 'conv-preview', dir: 'auto' });
  const badge = h('span', { class: 'badge', 'aria-hidden': 'true' });
  const muted = h('span', { class: 'conv-muted', hidden: true, title: 'Muted' },
    svgIcon(['M5 9.5h8', 'M6.5 9.5V6a2.5 2.5 0 0 1 5 0v3.5', 'M3 1.5l12 9.5']));
  a.append(h('span', { class: 'avatar-wrap' }, avatar, dot),
    h('span', { class: 'conv-main' },
      h('span', { class: 'conv-top' }, title, time),
      h('span', { class: 'conv-bottom' }, mark, prev, muted, badge)));
  const li = h('li', {}, a);
  li._parts = { a, avatar, dot, title, time, mark, prev, muted, badge };
  return li;
}

function updateConvItem(li, c) {
  const p = li._parts;
  const title = convTitle(c);
  const unread = c.unread_count || 0;
  p.title.textContent = title;
  setAvatar(p.avatar, c.kind === 'group' ? c.conversation_id : c.peer_id, title);
  p.time.textContent = fmtShort(c.last_message ? c.last_message.ts : c.localTs);
  // who wrote is isolated (<bdi>): the line's direction is the message's own
  const [who, text] = previewParts(c);
  p.prev.replaceChildren(...(who ? [h('bdi', {}, who), ': '] : []), text);
  p.badge.textContent = unread ? String(unread) : '';
  p.badge.hidden = !unread;
  const isMuted = mutedUntil(c.conversation_id) !== null;
  p.muted.hidden = !isMuted;
  li.classList.toggle('muted-conv', isMuted);
  // named as it is seen: who, its state, the last message and when ("Bob, 2 unread, hi, 10:07")
  const preview = previewText(c);
  const when = p.time.textContent;
  p.a.setAttribute('aria-label', `${title}${isMuted ? ', muted' : ''}${unread ? `, ${unread} unread` : ''}, ${preview}${when ? `, ${when}` : ''}`);
  p.a.title = preview;
  if (c.conversation_id === openCid) p.a.setAttribute('aria-current', 'true'); else p.a.removeAttribute('aria-current');
  li.classList.toggle('unread', unread > 0);
  const online = socketReady && c.kind === 'direct' && c.peer_id !== myId() && presenceOf(c.peer_id) && presenceOf(c.peer_id).status === 'online';
  p.dot.hidden = !online;
  p.mark.replaceChildren();
  const lm = c.last_message;
  if (lm && lm.sender_id === myId()) {
    const st = statusOf(c, lm);
    p.mark.className = `pmark st-${st}`;
    p.mark.append(STATUS_ICONS[st]());
  }
}
