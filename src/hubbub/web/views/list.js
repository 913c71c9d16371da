// The sidebar: who is logged in, and the conversation list (newest activity first).
import { $, h, svgIcon, syncChildren, keyedChildren } from '../lib/dom.js';
import { idGt } from '../lib/ids.js';
import { fmtShort } from '../lib/format.js';
import { me, myId, openCid, socketReady, conversations, hasConversation, presenceOf, mutedUntil } from '../state.js';
import { goChat } from '../router.js';
import { convTitle, convAvatar, previewParts, previewText } from './names.js';
import { showAvatar } from './avatar.js';
import { renderMyPicture } from './profile-picture.js';
import { statusOf, STATUS_ICONS } from './status.js';
import { redrawList, redrawConv } from './render.js';
import { listFilter, matchesFilter, renderFilterNote } from './list-filter.js';

export function renderMe() {
  $('me-name').textContent = me.display_name;
  $('me-username').textContent = me.username ? `@${me.username}` : '';
  showAvatar($('me-avatar'), me.user_id, me.display_name, me.avatar);
  renderMyPicture();
}

function activity(c) {
  return Math.max((c.last_message && c.last_message.ts) || 0, c.localTs || 0);
}

// Every row again (at the next frame): for changes that may touch any of them.
export function renderConvList() { redrawList(); }

// A conversation shows `uid`: its peer, or the writer of its last message.
const showsUser = (c, uids) => (c.kind === 'direct' ? uids.has(c.peer_id) : !!c.last_message && uids.has(c.last_message.sender_id));

// Draw the list (views/render.js calls this once a frame): rows in activity order, moved
// only when out of place; only the rows in `cids` (null: all) and those showing one of
// `uids` are updated, and a row whose content is unchanged is not touched.
// A long list is built over several frames (the top first), so no frame is long.
const NEW_ROWS_PER_FRAME = 60;
export function drawConvList(cids, uids) {
  const list = $('conv-list');
  if (!list || !me) return;
  const arr = conversations().sort((a, b) => activity(b) - activity(a) || (idGt(a.conversation_id, b.conversation_id) ? -1 : 1));
  $('conv-empty').hidden = arr.length > 0;
  const items = keyedChildren(list);
  const els = [];
  let totalUnread = 0;
  let built = 0;
  const filter = listFilter();
  let wanted = 0; // rows the search field lets through
  for (const c of arr) {
    const cid = c.conversation_id;
    let li = items.get(cid);
    totalUnread += c.unread_count || 0;
    if (filter && !matchesFilter(c, convTitle(c), filter)) continue;
    wanted += 1;
    if (!li && built === NEW_ROWS_PER_FRAME) continue;
    if (!li) {
      built += 1;
      li = buildConvItem(cid);
      items.set(cid, li);
      updateConvItem(li, c);
    } else if (!cids || cids.has(cid) || (uids && showsUser(c, uids))) updateConvItem(li, c);
    els.push(li);
  }
  syncChildren(list, els);
  renderFilterNote(filter, wanted);
  if (els.length < wanted) redrawConv(null); // the rest at the next frame
  if (items.size > arr.length) for (const k of [...items.keys()]) if (!hasConversation(k)) items.delete(k);
  const title = totalUnread ? `(${totalUnread}) Hubbub` : 'Hubbub';
  if (document.title !== title) document.title = title;
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
  const time = fmtShort(c.last_message ? c.last_message.ts : c.localTs);
  const [who, text] = previewParts(c);
  const isMuted = mutedUntil(c.conversation_id) !== null;
  const current = c.conversation_id === openCid;
  const online = socketReady && c.kind === 'direct' && c.peer_id !== myId() && presenceOf(c.peer_id) && presenceOf(c.peer_id).status === 'online';
  const lm = c.last_message;
  const st = lm && lm.sender_id === myId() ? statusOf(c, lm) : '';
  // what the row shows: when none of it changed, the row is not touched
  const picture = convAvatar(c);
  const shown = [title, unread, time, who, text, isMuted, current, online, st, picture].join('\u0000');
  if (li._shown === shown) return;
  li._shown = shown;
  p.title.textContent = title;
  showAvatar(p.avatar, c.kind === 'group' ? c.conversation_id : c.peer_id, title, picture);
  p.time.textContent = time;
  // who wrote is isolated (<bdi>): the line's direction is the message's own
  p.prev.replaceChildren(...(who ? [h('bdi', {}, who), ': '] : []), text);
  p.badge.textContent = unread ? String(unread) : '';
  p.badge.hidden = !unread;
  p.muted.hidden = !isMuted;
  li.classList.toggle('muted-conv', isMuted);
  // named as it is seen: who, its state, the last message and when ("Bob, 2 unread, hi, 10:07")
  const preview = previewText(c);
  p.a.setAttribute('aria-label', `${title}${isMuted ? ', muted' : ''}${unread ? `, ${unread} unread` : ''}, ${preview}${time ? `, ${time}` : ''}`);
  p.a.title = preview;
  if (current) p.a.setAttribute('aria-current', 'true'); else p.a.removeAttribute('aria-current');
  li.classList.toggle('unread', unread > 0);
  p.dot.hidden = !online;
  p.mark.replaceChildren();
  if (st) {
    p.mark.className = `pmark st-${st}`;
    p.mark.append(STATUS_ICONS[st]());
  }
}
