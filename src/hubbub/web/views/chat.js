// The open conversation: its header, its messages (with the older pages loaded as the
// user scrolls up), and opening / closing it.
import { $, h, syncChildren, keyedChildren, resetKeyed } from '../lib/dom.js';
import { showAvatar } from './avatar.js';
import { idGt } from '../lib/ids.js';
import { fmtTime, relTime, nameColorFor } from '../lib/format.js';
import {
  myId, openCid, socketReady, conversation, chatOf, msgKey, presenceOf, setOpenConversation,
  setChatLoading, setLastTypingSent, releaseMediaUrls,
} from '../state.js';
import { fetchOlderPage, refreshGroup } from '../net/conversations.js';
import { addContact, loadPresence } from '../net/users.js';
import { maybeSendRead } from '../net/acks.js';
import { goBack } from '../router.js';
import { renderTyping } from '../features/typing.js';
import { nameOf, usernameOf, convTitle, convAvatar } from './names.js';
import { statusOf, STATUS_ICONS } from './status.js';
import { renderConvList } from './list.js';
import { showDraft } from './composer.js';
import { closeGroupInfo } from './group-info.js';
import { renderMute, closeMuteMenu } from './mute.js';
import { buildAttachments } from './attachments.js';
import { fillBody } from './message-body.js';
import { withSeparators, scrollToUnread, noteUnreadOnOpen, wireJump, renderJump } from './separators.js';
import { observeGroup } from './group-events.js';
import { renderDeparted } from './departed.js';
import { wireMessageMenu, addMenuButton } from './message-menu.js';
import { wireChatSearch, closeChatSearch } from './chat-search.js';
import { closeViewer } from './viewer.js';
import { messageLabel, syncTabStop, wireMessageKeys, hush } from './msg-access.js';
import { rescueFocus, listFocusTarget } from './focus.js';
import { afterDraw } from './render.js';

export function wireChat() {
  $('btn-back').addEventListener('click', goBack);
  wireMessageKeys();
  $('scroller').addEventListener('scroll', () => {
    if ($('scroller').scrollTop < 120) loadOlder(openCid);
  }, { passive: true });
  wireJump();
  wireMessageMenu();
  wireChatSearch();
}

export function openChat(cid) {
  const changed = openCid !== cid;
  setOpenConversation(cid);
  const c = conversation(cid);
  $('app').classList.add('chat-open');
  $('chat-empty').hidden = true;
  $('chat-view').hidden = false;
  if (changed) {
    closeViewer();
    noteUnreadOnOpen(c); // the chat opens at its first unread message
    closeChatSearch(false);
    releaseMediaUrls(); // the media of the chat left (its bubbles go too)
    resetKeyed($('messages'));
    $('messages').replaceChildren();
    hush($('scroller'));
    showDraft(cid);
    closeGroupInfo(false);
    closeMuteMenu(false);
    setLastTypingSent(0);
  }
  renderChatHead();
  renderMessages({ toBottom: changed }); // the same chat again (the URL follows): it stays where it is
  renderTyping();
  renderConvList();
  if (changed) {
    const chat = chatOf(cid);
    if (!chat.loaded) loadOlder(cid, true);
    if (c.kind === 'direct' && c.peer_id !== myId()) {
      const peer = c.peer_id;
      addContact(peer).catch(() => {});
      loadPresence(peer).then(() => { renderChatHead(); renderConvList(); }).catch(() => {});
    }
    if (c.kind === 'group') refreshGroup(cid).catch(() => {});
    if (!window.matchMedia('(max-width: 720px)').matches) $('msg-input').focus();
    else rescueFocus($('chat-name')); // the row clicked is hidden now: the chat's name, not <body>
  }
  maybeSendRead();
}

export function closeChat() {
  const left = openCid;
  setOpenConversation(null);
  if (!$('app')) return;
  $('app').classList.remove('chat-open');
  $('chat-view').hidden = true;
  $('chat-empty').hidden = false;
  closeGroupInfo(false);
  closeViewer();
  releaseMediaUrls();
  resetKeyed($('messages')); // its bubbles would show revoked URLs: drawn anew next time
  $('messages').replaceChildren();
  renderConvList();
  // after a login, a Back, leaving or losing a group; once the list is drawn
  afterDraw(() => rescueFocus(listFocusTarget(left)));
}

export function renderChatHead() {
  const c = conversation(openCid);
  if (!c || !$('chat-name')) return;
  const title = convTitle(c);
  $('chat-name').textContent = title;
  renderMute();
  showAvatar($('chat-avatar'), c.kind === 'group' ? c.conversation_id : c.peer_id, title, convAvatar(c));
  const pres = $('chat-presence');
  const sub = $('chat-sub');
  if (c.kind === 'group') {
    pres.hidden = true; pres.textContent = '';
    const names = (c.members || []).map((u) => (u === myId() ? 'You' : nameOf(u)));
    sub.textContent = names.join(', ');
    sub.hidden = !names.length; // (a group this user left: who is in it is not theirs to know)
    $('btn-groupinfo').hidden = false;
  } else {
    $('btn-groupinfo').hidden = true;
    sub.textContent = c.peer_id === myId() ? 'Notes to yourself' : `@${usernameOf(c.peer_id)}`;
    if (c.peer_id === myId()) { pres.hidden = true; pres.textContent = ''; }
    else {
      // while our socket is down no presence is heard: nothing is said rather than stale news
      const p = socketReady ? presenceOf(c.peer_id) : null;
      pres.hidden = !p;
      pres.textContent = p ? (p.status === 'online' ? 'online' : `last seen ${relTime(p.last_active_at)}`) : '';
      pres.classList.toggle('online', !!p && p.status === 'online');
      sub.hidden = !!p;
    }
  }
  renderDeparted(c);
  observeGroup(c);
}

function sortedMessages(cid) {
  const arr = [...chatOf(cid).msgs.values()];
  arr.sort((a, b) => {
    if (a.message_id && b.message_id) return idGt(a.message_id, b.message_id) ? 1 : a.message_id === b.message_id ? 0 : -1;
    if (a.message_id) return -1;
    if (b.message_id) return 1;
    return (a.localTs || 0) - (b.localTs || 0);
  });
  return arr;
}

export function renderMessages({ toBottom = false } = {}) {
  const cid = openCid;
  if (!cid || !$('messages')) return;
  const c = conversation(cid);
  const chat = chatOf(cid);
  const list = $('messages');
  const sc = $('scroller');
  const nearBottom = sc.scrollHeight - sc.scrollTop - sc.clientHeight < 100;
  const arr = sortedMessages(cid);
  const items = keyedChildren(list);
  const els = [];
  let prevSender = null;
  for (const m of arr) {
    const key = msgKey(m);
    let li = items.get(key);
    if (!li) { li = buildMsg(c, m); items.set(key, li); }
    updateMsg(li, c, m, prevSender === m.sender_id);
    prevSender = m.sender_id;
    els.push(li);
  }
  syncChildren(list, withSeparators(list, cid, arr, els)); // dates, unread line, group events
  syncTabStop(list);
  const note = $('history-note');
  note.textContent = chat.loading ? 'Loading older messages…' : chat.reachedStart ? (arr.length ? 'This is the start of the conversation.' : 'No messages yet. Say hello!') : '';
  if (!scrollToUnread(sc) && (toBottom || nearBottom)) sc.scrollTop = sc.scrollHeight;
  renderJump();
}

function buildMsg(c, m) {
  const own = m.sender_id === myId();
  const li = h('li', { class: `msg ${own ? 'own' : 'other'}`, title: '' });
  // dir=auto: Arabic or Hebrew lays out right to left, whatever the page's direction
  const sender = h('span', { class: 'sender', dir: 'auto' });
  const body = h('p', { class: 'body', dir: 'auto' });
  const more = fillBody(body, m.body); // [the Read more button] of a long one
  body.hidden = !m.body; // a message of attachments alone
  const time = h('time', { class: 'time' });
  const meta = h('span', { class: 'meta' }, time);
  let status = null;
  if (own) {
    status = h('span', { class: 'status', role: 'img' });
    meta.append(status);
  }
  // the attachments, then the caption under them
  if (m.attachments && m.attachments.length) {
    li.classList.add('has-atts');
    li.append(sender, buildAttachments(m.attachments), body, ...more, meta);
  } else li.append(sender, body, ...more, meta);
  addMenuButton(li, m); // Copy, Info
  li._parts = { sender, body, time, status };
  return li;
}

function updateMsg(li, c, m, grouped) {
  const p = li._parts;
  const own = m.sender_id === myId();
  const showSender = c && c.kind === 'group' && !own && !grouped;
  p.sender.hidden = !showSender;
  if (showSender) { p.sender.textContent = nameOf(m.sender_id); p.sender.style.color = nameColorFor(m.sender_id); }
  li.classList.toggle('grouped', grouped);
  const ts = m.ts || m.localTs;
  p.time.textContent = fmtTime(ts);
  if (ts) p.time.dateTime = new Date(ts).toISOString();
  if (m.message_id) li.dataset.messageId = m.message_id;
  li.setAttribute('aria-label', messageLabel(c, m));
  if (p.status) {
    const st = statusOf(c, m);
    if (p.status.dataset.status !== st) {
      p.status.dataset.status = st;
      p.status.setAttribute('aria-label', st);
      p.status.title = st === 'failed' ? 'Not sent' : st[0].toUpperCase() + st.slice(1);
      p.status.className = `status st-${st}`;
      p.status.replaceChildren(STATUS_ICONS[st]());
    }
  }
}

// The next older page of `cid` (its newest page when `initial`), keeping the scroll
// position; a short first page is followed by more until the view is full.
export async function loadOlder(cid, initial = false) {
  if (!cid) return;
  const chat = chatOf(cid);
  if (chat.loading || (!initial && (chat.reachedStart || !chat.loaded))) return;
  setChatLoading(cid, true);
  if (openCid === cid) renderMessages();
  const sc = $('scroller');
  const prevH = sc ? sc.scrollHeight : 0;
  const prevTop = sc ? sc.scrollTop : 0;
  if (!(await fetchOlderPage(cid, initial))) return;
  if (openCid !== cid) return;
  if (sc) hush(sc);
  renderMessages({ toBottom: initial });
  if (!initial && sc) sc.scrollTop = sc.scrollHeight - prevH + prevTop;
  maybeSendRead();
  // fill the viewport if the first page is short
  if (sc && !chat.reachedStart && sc.scrollHeight <= sc.clientHeight + 120) setTimeout(() => loadOlder(cid), 0);
}
