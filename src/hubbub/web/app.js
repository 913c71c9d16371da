// Hubbub web client. Plain ES module, no build step.
// Rule: user data is only ever put into the page with textContent / text nodes.

import { $, h, svgIcon, setAvatar, mountTemplate, syncChildren } from './lib/dom.js';
import { idGt, idMax, codePoints, newClientId } from './lib/ids.js';
import { fmtTime, fmtShort, relTime, colorFor, deviceName } from './lib/format.js';
import { storage as store } from './lib/storage.js';

const AUTH_KEY = 'hubbub.auth';
const NOTIFY_KEY = 'hubbub.notify';
const PAGE = 50;
const FINAL_ERRORS = new Set(['bad_request', 'too_large', 'not_found', 'forbidden', 'group_full']);

const STATUS_ICONS = {
  sending: () => svgIcon(['M9 3.2V6l2 1.4'], { circle: true }),
  sent: () => svgIcon(['M3 6.5l3 3 7-7']),
  delivered: () => svgIcon(['M1 6.5l3 3 7-7', 'M7.5 8.5l1 1 7-7']),
  read: () => svgIcon(['M1 6.5l3 3 7-7', 'M7.5 8.5l1 1 7-7']),
  failed: () => svgIcon(['M9 2.5v4.5', 'M9 9v.5'], { circle: true }),
};

// ---------- state ----------
let auth = store.get(AUTH_KEY, null); // {token, user_id, device_id}
let me = null; // {user_id, username, display_name, settings}
const users = new Map(); // uid -> user
const userReqs = new Map();
const convs = new Map(); // cid -> conversation entry
const chats = new Map(); // cid -> {msgs: Map(key -> msg), loaded, reachedStart, loading}
const presence = new Map(); // uid -> {status, last_active_at}
const typers = new Map(); // cid -> Map(uid -> expiry)
let marks = {}; // cid -> uid -> {d: mid, r: mid}
let openCid = null;
let lastSeq = 0;
let head = 0;
let ws = null;
let wsReady = false;
let attempt = 0;
let reconnectTimer = null;
let hbTimer = null;
let lastFrameAt = 0;
let hbInterval = 10;
let stopped = true;
let ackTimer = null;
let ackedSeq = 0;
let lastTypingSent = 0;
let msgEls = new Map();
let navigatedIn = false;
let convRefreshTimer = null;
let firstReady = true;

const seqKey = () => `hubbub.${auth.user_id}.seq`;
const outboxKey = () => `hubbub.${auth.user_id}.outbox`;
const marksKey = () => `hubbub.${auth.user_id}.marks`;
const myId = () => auth && auth.user_id;

function saveSeq() { store.set(seqKey(), lastSeq); }
function outboxRead() { return store.get(outboxKey(), []); }
function outboxAdd(item) { const a = outboxRead(); a.push(item); store.set(outboxKey(), a); }
function outboxRemove(cmid) {
  const a = outboxRead();
  const b = a.filter((x) => x.client_msg_id !== cmid);
  if (b.length !== a.length) store.set(outboxKey(), b);
}

// ---------- REST ----------
class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
async function api(method, path, body) {
  const headers = {};
  if (auth) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'Network error: could not reach the server.');
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* empty */ }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const e = new ApiError(res.status, err.code || 'error', err.message || `Request failed (${res.status})`);
    if (res.status === 401 && auth && !path.startsWith('/sessions')) forceLogout('Your session has ended. Please log in again.');
    throw e;
  }
  return data;
}

function getUser(uid) {
  if (users.has(uid)) return Promise.resolve(users.get(uid));
  if (!userReqs.has(uid)) {
    const p = api('GET', `/users/${uid}`).then((u) => {
      users.set(uid, u);
      renderConvList();
      if (openCid) { renderChatHead(); renderMessages(); renderTyping(); }
      return u;
    }).catch(() => { userReqs.delete(uid); return null; });
    userReqs.set(uid, p);
  }
  return userReqs.get(uid);
}
function nameOf(uid) {
  if (me && uid === me.user_id) return me.display_name;
  const u = users.get(uid);
  if (u) return u.display_name || u.username;
  getUser(uid);
  return '…';
}
function usernameOf(uid) {
  if (me && uid === me.user_id) return me.username;
  const u = users.get(uid);
  if (u) return u.username;
  getUser(uid);
  return '…';
}
function convTitle(c) {
  if (!c) return '';
  if (c.kind === 'group') return c.name || 'Group';
  if (c.peer_id === myId()) return `${me.display_name} (you)`;
  return nameOf(c.peer_id);
}

// ---------- alerts ----------
let alertTimer = null;
function showError(msg) {
  const box = $('alert-box');
  if (!box) return;
  $('app-alert').textContent = msg;
  box.hidden = false;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => { box.hidden = true; $('app-alert').textContent = ''; }, 10000);
}
function clearError() {
  const box = $('alert-box');
  if (box) { box.hidden = true; $('app-alert').textContent = ''; }
}

// ---------- screens ----------
function showAuth(message) {
  mountTemplate('tpl-auth');
  document.title = 'Hubbub';
  const form = $('auth-form');
  const alertEl = $('auth-alert');
  const say = (m) => { alertEl.textContent = m; alertEl.hidden = !m; };
  if (message) say(message);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const mode = ev.submitter && ev.submitter.value === 'signup' ? 'signup' : 'login';
    const username = $('auth-username').value.trim();
    const password = $('auth-password').value;
    const display = $('auth-display').value.trim();
    if (!username || !password) { say('Enter a username and a password.'); return; }
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    say('');
    try {
      if (mode === 'signup') {
        const body = { username, password };
        if (display) body.display_name = display;
        await api('POST', '/users', body);
      }
      const s = await api('POST', '/sessions', { username, password, device_name: deviceName() });
      auth = { token: s.token, user_id: s.user_id, device_id: s.device_id };
      store.set(AUTH_KEY, auth);
      await boot();
    } catch (e) {
      say(e.message || 'Something went wrong.');
      for (const b of form.querySelectorAll('button')) b.disabled = false;
    }
  });
  setTimeout(() => $('auth-username') && $('auth-username').focus(), 0);
}

async function boot() {
  if (!auth) { showAuth(); return; }
  try {
    me = await api('GET', '/me');
  } catch (e) {
    if (e.status === 401) return; // forceLogout already showed the login screen
    mountTemplate('tpl-auth');
    showAuth(`Cannot reach the server (${e.message}). Retrying…`);
    setTimeout(() => { if (auth && !me) boot(); }, 3000);
    return;
  }
  users.set(me.user_id, me);
  lastSeq = Number(store.get(seqKey(), 0)) || 0;
  ackedSeq = 0;
  marks = store.get(marksKey(), {}) || {};
  convs.clear(); chats.clear(); presence.clear(); typers.clear(); convEls.clear();
  openCid = null;
  firstReady = true;
  mountTemplate('tpl-app');
  wireApp();
  renderMe();
  // optimistic bubbles for anything still queued
  for (const item of outboxRead()) addPending(item);
  try { await loadConversations(); } catch (e) { showError(e.message); }
  stopped = false;
  connect();
  route();
}

function forceLogout(message) {
  stopped = true;
  clearTimeout(reconnectTimer);
  stopHeartbeat();
  if (ws) { const s = ws; ws = null; try { s.close(1000); } catch { /* ignore */ } }
  wsReady = false;
  auth = null; me = null;
  store.del(AUTH_KEY);
  if (location.hash) history.replaceState(null, '', location.pathname);
  showAuth(message);
}

// ---------- app wiring ----------
function wireApp() {
  $('alert-dismiss').addEventListener('click', clearError);
  $('btn-logout').addEventListener('click', async () => {
    try { await api('DELETE', '/sessions/current'); } catch { /* already gone */ }
    forceLogout();
  });
  const panels = { newchat: 'panel-newchat', newgroup: 'panel-newgroup', settings: 'panel-settings' };
  const buttons = { newchat: 'btn-newchat', newgroup: 'btn-newgroup', settings: 'btn-settings' };
  const showPanel = (name) => {
    for (const [k, pid] of Object.entries(panels)) {
      const on = k === name && $(pid).hidden;
      $(pid).hidden = !on;
      $(buttons[k]).setAttribute('aria-expanded', String(on));
      if (on) {
        if (k === 'settings') fillSettings();
        const first = $(pid).querySelector('input');
        if (first) first.focus();
      }
    }
  };
  for (const k of Object.keys(panels)) $(buttons[k]).addEventListener('click', () => showPanel(k));
  for (const b of document.querySelectorAll('[data-cancel]')) b.addEventListener('click', () => {
    const pid = b.closest('.panel').id;
    const k = Object.keys(panels).find((x) => panels[x] === pid);
    $(pid).hidden = true;
    $(buttons[k]).setAttribute('aria-expanded', 'false');
    $(buttons[k]).focus();
  });
  const closePanel = (k) => { $(panels[k]).hidden = true; $(buttons[k]).setAttribute('aria-expanded', 'false'); };

  $('panel-newchat').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('nc-username').value.trim();
    if (!name) return;
    leaveChatForNew();
    try {
      const u = await api('GET', `/users?username=${encodeURIComponent(name)}`);
      users.set(u.user_id, u);
      const c = await api('POST', '/conversations/direct', { user_id: u.user_id });
      if (!convs.has(c.conversation_id)) {
        convs.set(c.conversation_id, { conversation_id: c.conversation_id, kind: 'direct', peer_id: c.peer_id, last_message: null, unread_count: 0, read_upto: null, localTs: Date.now() });
      }
      $('nc-username').value = '';
      closePanel('newchat');
      clearError();
      renderConvList();
      goChat(c.conversation_id);
    } catch (e) {
      showError(e.code === 'not_found' ? `No user called “${name}”.` : e.message);
    }
  });

  $('panel-newgroup').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('ng-name').value.trim();
    if (!name) { showError('Give the group a name.'); return; }
    leaveChatForNew();
    const names = $('ng-members').value.split(/[\s,;]+/).map((s) => s.trim().replace(/^@/, '')).filter(Boolean);
    try {
      const ids = [];
      for (const n of names) {
        try {
          const u = await api('GET', `/users?username=${encodeURIComponent(n)}`);
          users.set(u.user_id, u);
          ids.push(u.user_id);
        } catch (e) {
          if (e.code === 'not_found') throw new ApiError(404, 'not_found', `No user called “${n}”.`);
          throw e;
        }
      }
      const g = await api('POST', '/groups', { name, members: ids });
      convs.set(g.conversation_id, { conversation_id: g.conversation_id, kind: 'group', group_id: g.group_id, name: g.name, members: g.members, owner_id: g.owner_id, last_message: null, unread_count: 0, read_upto: null, localTs: Date.now() });
      $('ng-name').value = ''; $('ng-members').value = '';
      closePanel('newgroup');
      clearError();
      renderConvList();
      goChat(g.conversation_id);
    } catch (e) { showError(e.message); }
  });

  $('form-name').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = $('set-display').value.trim();
    if (!v) { showError('The display name cannot be empty.'); return; }
    try {
      const u = await api('PATCH', '/me', { display_name: v });
      me.display_name = u.display_name;
      users.set(me.user_id, { ...users.get(me.user_id), ...u });
      renderMe();
      renderConvList();
      if (openCid) { renderChatHead(); renderMessages(); if (!$('group-info').hidden) renderGroupInfo(); }
      $('settings-status').textContent = 'Display name saved.';
      clearError();
    } catch (e) { showError(e.message); }
  });
  $('form-history').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const raw = $('set-history').value.trim();
    let val = null;
    if (raw !== '') {
      val = Number(raw);
      if (!Number.isInteger(val) || val < 1 || val > 3650) { showError('Keep history: enter a whole number of days from 1 to 3650, or leave it empty to keep forever.'); return; }
    }
    try {
      const s = await api('PUT', '/me/settings', { history_retention_days: val });
      me.settings = s;
      $('settings-status').textContent = s.history_retention_days == null ? 'History is kept forever.' : `History is kept for ${s.history_retention_days} days.`;
      clearError();
    } catch (e) { showError(e.message); }
  });
  $('btn-notify').addEventListener('click', async () => {
    if (!('Notification' in window)) { renderNotifyState(); return; }
    if (notifyOn()) { store.set(NOTIFY_KEY, false); renderNotifyState(); return; }
    let perm = Notification.permission;
    if (perm === 'default') perm = await Notification.requestPermission();
    store.set(NOTIFY_KEY, perm === 'granted');
    renderNotifyState();
  });

  $('btn-back').addEventListener('click', () => {
    if (navigatedIn && history.length > 1) history.back();
    else { history.replaceState(null, '', location.pathname); route(); }
  });
  $('btn-groupinfo').addEventListener('click', () => {
    if ($('group-info').hidden) openGroupInfo(); else closeGroupInfo(true);
  });
  $('gi-close').addEventListener('click', () => closeGroupInfo(true));
  $('gi-add').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const c = convs.get(openCid);
    const name = $('gi-add-input').value.trim().replace(/^@/, '');
    if (!c || !name) return;
    try {
      const u = await api('GET', `/users?username=${encodeURIComponent(name)}`);
      users.set(u.user_id, u);
      await api('POST', `/groups/${c.group_id}/members`, { user_id: u.user_id });
      $('gi-add-input').value = '';
      clearError();
      await refreshGroup(c.conversation_id);
    } catch (e) { showError(e.code === 'not_found' ? `No user called “${name}”.` : e.message); }
  });
  $('gi-leave').addEventListener('click', async () => {
    const c = convs.get(openCid);
    if (!c) return;
    try {
      await api('DELETE', `/groups/${c.group_id}/members/${myId()}`);
      dropConversation(c.conversation_id);
      clearError();
    } catch (e) { showError(e.message); }
  });

  const input = $('msg-input');
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      sendCurrent();
    }
  });
  input.addEventListener('input', () => {
    autosize();
    if (input.value.trim() && openCid && wsReady && Date.now() - lastTypingSent > 3000) {
      lastTypingSent = Date.now();
      wsSend({ type: 'typing', conversation_id: openCid });
    }
  });
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); sendCurrent(); });

  $('scroller').addEventListener('scroll', () => {
    if ($('scroller').scrollTop < 120) loadOlder(openCid);
  }, { passive: true });
  renderNotifyState();
}

function autosize() {
  const el = $('msg-input');
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
}

function renderMe() {
  $('me-name').textContent = me.display_name;
  $('me-username').textContent = `@${me.username}`;
  setAvatar($('me-avatar'), me.user_id, me.display_name);
}
function fillSettings() {
  $('set-display').value = me.display_name;
  const d = me.settings && me.settings.history_retention_days;
  $('set-history').value = d == null ? '' : String(d);
  $('settings-status').textContent = '';
  renderNotifyState();
}
function notifyOn() {
  return 'Notification' in window && Notification.permission === 'granted' && store.get(NOTIFY_KEY, false) === true;
}
function renderNotifyState() {
  const st = $('notify-state');
  if (!st) return;
  const btn = $('btn-notify');
  if (!('Notification' in window)) { st.textContent = 'Not supported in this browser.'; btn.disabled = true; return; }
  if (Notification.permission === 'denied') { st.textContent = 'Blocked in the browser settings.'; btn.setAttribute('aria-pressed', 'false'); return; }
  const on = notifyOn();
  btn.setAttribute('aria-pressed', String(on));
  st.textContent = on ? 'On: you are notified while Hubbub is in the background.' : 'Off';
}

// ---------- routing ----------
// While a new chat is being set up, no old chat stays open, so nothing typed goes to the wrong place.
function leaveChatForNew() {
  if (!openCid) return;
  if (location.hash) history.replaceState(null, '', location.pathname);
  closeChat();
}
function goChat(cid) {
  navigatedIn = true;
  if (convs.has(cid)) openChat(cid); // synchronously, so typing right away goes to this chat
  if (location.hash !== `#/c/${cid}`) location.hash = `#/c/${cid}`;
}
function route() {
  if (!me) return;
  const m = /^#\/c\/(\d{1,19})$/.exec(location.hash);
  const cid = m ? m[1] : null;
  if (cid && convs.has(cid)) openChat(cid);
  else closeChat();
}
window.addEventListener('hashchange', route);

// ---------- conversations ----------
function getChat(cid) {
  let c = chats.get(cid);
  if (!c) { c = { msgs: new Map(), loaded: false, reachedStart: false, loading: false }; chats.set(cid, c); }
  return c;
}
function msgKey(m) {
  return m.sender_id === myId() && m.client_msg_id ? `c:${m.client_msg_id}` : `m:${m.message_id}`;
}
function activity(c) {
  return Math.max((c.last_message && c.last_message.ts) || 0, c.localTs || 0);
}

async function loadConversations() {
  const data = await api('GET', '/conversations');
  const seen = new Set();
  for (const c of data.conversations) {
    const cid = c.conversation_id;
    seen.add(cid);
    const local = convs.get(cid);
    const next = { ...c, localTs: local ? local.localTs : 0, owner_id: local ? local.owner_id : undefined };
    if (local) {
      next.read_upto = idMax(local.read_upto, c.read_upto);
      const ll = local.last_message;
      if (ll && (!ll.message_id || !c.last_message || idGt(ll.message_id, c.last_message.message_id))) {
        next.last_message = ll;
        const chat = chats.get(cid);
        let extra = 0;
        if (chat) {
          for (const m of chat.msgs.values()) {
            if (m.message_id && m.sender_id !== myId() && (!c.last_message || idGt(m.message_id, c.last_message.message_id)) && (!next.read_upto || idGt(m.message_id, next.read_upto))) extra++;
          }
        }
        next.unread_count = c.unread_count + extra;
      }
    }
    if (next.last_message && next.last_message.message_id && next.read_upto && !idGt(next.last_message.message_id, next.read_upto)) next.unread_count = 0;
    convs.set(cid, next);
    // the server's receipt watermarks: statuses survive a reload and reach new devices
    for (const r of c.receipts || []) {
      if (r.delivered_upto) setMark(cid, r.user_id, 'delivered', r.delivered_upto);
      if (r.read_upto) setMark(cid, r.user_id, 'read', r.read_upto);
    }
    if (c.kind === 'direct') getUser(c.peer_id);
  }
  for (const cid of [...convs.keys()]) {
    if (!seen.has(cid)) {
      const c = convs.get(cid);
      if (c.localTs && Date.now() - c.localTs < 5000) continue; // just created here
      dropConversation(cid, true);
    }
  }
  renderConvList();
  if (openCid) { renderChatHead(); maybeSendRead(); }
}
function scheduleConvRefresh() {
  clearTimeout(convRefreshTimer);
  convRefreshTimer = setTimeout(() => { loadConversations().catch(() => {}); }, 250);
}
function dropConversation(cid, quiet) {
  convs.delete(cid);
  chats.delete(cid);
  if (openCid === cid) {
    if (!quiet) showError('You are no longer in that group.');
    history.replaceState(null, '', location.pathname);
    closeChat();
  }
  renderConvList();
}

function previewText(c) {
  const m = c.last_message;
  if (!m) return c.kind === 'group' ? 'New group' : 'No messages yet';
  const body = m.body.replace(/\s+/g, ' ').slice(0, 120);
  if (m.sender_id === myId()) return `You: ${body}`;
  if (c.kind === 'group') return `${nameOf(m.sender_id)}: ${body}`;
  return body;
}

const convEls = new Map();
function renderConvList() {
  const list = $('conv-list');
  if (!list || !me) return;
  const arr = [...convs.values()].sort((a, b) => activity(b) - activity(a) || (idGt(a.conversation_id, b.conversation_id) ? -1 : 1));
  $('conv-empty').hidden = arr.length > 0;
  const els = [];
  let totalUnread = 0;
  for (const c of arr) {
    const cid = c.conversation_id;
    let li = convEls.get(cid);
    if (!li) {
      li = buildConvItem(cid);
      convEls.set(cid, li);
    }
    updateConvItem(li, c);
    totalUnread += c.unread_count || 0;
    els.push(li);
  }
  syncChildren(list, els);
  for (const k of [...convEls.keys()]) if (!convs.has(k)) convEls.delete(k);
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
  const title = h('span', { class: 'conv-title' });
  const time = h('span', { class: 'conv-time' });
  const mark = h('span', { class: 'pmark', 'aria-hidden': 'true' });
  const prev = h('span', { class: 'conv-preview' });
  const badge = h('span', { class: 'badge', 'aria-hidden': 'true' });
  a.append(h('span', { class: 'avatar-wrap' }, avatar, dot),
    h('span', { class: 'conv-main' },
      h('span', { class: 'conv-top' }, title, time),
      h('span', { class: 'conv-bottom' }, mark, prev, badge)));
  const li = h('li', {}, a);
  li._parts = { a, avatar, dot, title, time, mark, prev, badge };
  return li;
}
function updateConvItem(li, c) {
  const p = li._parts;
  const title = convTitle(c);
  const unread = c.unread_count || 0;
  p.title.textContent = title;
  setAvatar(p.avatar, c.kind === 'group' ? c.conversation_id : c.peer_id, title);
  p.time.textContent = fmtShort(c.last_message ? c.last_message.ts : c.localTs);
  p.prev.textContent = previewText(c);
  p.badge.textContent = unread ? String(unread) : '';
  p.badge.hidden = !unread;
  p.a.setAttribute('aria-label', unread ? `${title}, ${unread} unread` : title);
  p.a.title = previewText(c);
  if (c.conversation_id === openCid) p.a.setAttribute('aria-current', 'true'); else p.a.removeAttribute('aria-current');
  li.classList.toggle('unread', unread > 0);
  const online = c.kind === 'direct' && c.peer_id !== myId() && presence.get(c.peer_id) && presence.get(c.peer_id).status === 'online';
  p.dot.hidden = !online;
  p.mark.replaceChildren();
  const lm = c.last_message;
  if (lm && lm.sender_id === myId()) {
    const st = statusOf(c, lm);
    p.mark.className = `pmark st-${st}`;
    p.mark.append(STATUS_ICONS[st]());
  }
}

// ---------- chat view ----------
function openChat(cid) {
  const changed = openCid !== cid;
  openCid = cid;
  const c = convs.get(cid);
  $('app').classList.add('chat-open');
  $('chat-empty').hidden = true;
  $('chat-view').hidden = false;
  if (changed) {
    msgEls = new Map();
    $('messages').replaceChildren();
    $('msg-input').value = '';
    autosize();
    closeGroupInfo(false);
    lastTypingSent = 0;
  }
  renderChatHead();
  renderMessages({ toBottom: true });
  renderTyping();
  renderConvList();
  if (changed) {
    const chat = getChat(cid);
    if (!chat.loaded) loadOlder(cid, true);
    if (c.kind === 'direct' && c.peer_id !== myId()) {
      const peer = c.peer_id;
      api('PUT', `/contacts/${peer}`).catch(() => {});
      api('GET', `/users/${peer}/presence`).then((p) => {
        presence.set(peer, { status: p.status, last_active_at: p.last_active_at });
        renderChatHead(); renderConvList();
      }).catch(() => {});
    }
    if (c.kind === 'group') refreshGroup(cid).catch(() => {});
    if (!window.matchMedia('(max-width: 720px)').matches) $('msg-input').focus();
  }
  maybeSendRead();
}
function closeChat() {
  openCid = null;
  if (!$('app')) return;
  $('app').classList.remove('chat-open');
  $('chat-view').hidden = true;
  $('chat-empty').hidden = false;
  closeGroupInfo(false);
  renderConvList();
}

function renderChatHead() {
  const c = convs.get(openCid);
  if (!c || !$('chat-name')) return;
  const title = convTitle(c);
  $('chat-name').textContent = title;
  setAvatar($('chat-avatar'), c.kind === 'group' ? c.conversation_id : c.peer_id, title);
  const pres = $('chat-presence');
  const sub = $('chat-sub');
  if (c.kind === 'group') {
    pres.hidden = true; pres.textContent = '';
    const names = (c.members || []).map((u) => (u === myId() ? 'You' : nameOf(u)));
    sub.textContent = names.join(', ');
    sub.hidden = false;
    $('btn-groupinfo').hidden = false;
  } else {
    $('btn-groupinfo').hidden = true;
    sub.textContent = c.peer_id === myId() ? 'Notes to yourself' : `@${usernameOf(c.peer_id)}`;
    if (c.peer_id === myId()) { pres.hidden = true; pres.textContent = ''; }
    else {
      const p = presence.get(c.peer_id);
      pres.hidden = !p;
      pres.textContent = p ? (p.status === 'online' ? 'online' : `last seen ${relTime(p.last_active_at)}`) : '';
      pres.classList.toggle('online', !!p && p.status === 'online');
      sub.hidden = !!p;
    }
  }
}
setInterval(() => { if (openCid) renderChatHead(); }, 30000);

function sortedMessages(cid) {
  const chat = getChat(cid);
  const arr = [...chat.msgs.values()];
  arr.sort((a, b) => {
    if (a.message_id && b.message_id) return idGt(a.message_id, b.message_id) ? 1 : a.message_id === b.message_id ? 0 : -1;
    if (a.message_id) return -1;
    if (b.message_id) return 1;
    return (a.localTs || 0) - (b.localTs || 0);
  });
  return arr;
}

function statusOf(c, m) {
  if (m.failed) return 'failed';
  if (!m.message_id) return 'sending';
  const cm = marks[c.conversation_id] || {};
  let others;
  if (c.kind === 'direct') others = c.peer_id === myId() ? [] : [c.peer_id];
  else others = (c.members || []).filter((u) => u !== myId());
  if (!others.length) return 'sent';
  const mk = (u) => cm[u] || {};
  if (others.every((u) => mk(u).r && !idGt(m.message_id, mk(u).r))) return 'read';
  if (others.every((u) => { const w = idMax(mk(u).d, mk(u).r); return w && !idGt(m.message_id, w); })) return 'delivered';
  return 'sent';
}

function renderMessages({ toBottom = false } = {}) {
  const cid = openCid;
  if (!cid || !$('messages')) return;
  const c = convs.get(cid);
  const chat = getChat(cid);
  const list = $('messages');
  const sc = $('scroller');
  const nearBottom = sc.scrollHeight - sc.scrollTop - sc.clientHeight < 100;
  const arr = sortedMessages(cid);
  const els = [];
  let prevSender = null;
  for (const m of arr) {
    const key = msgKey(m);
    let li = msgEls.get(key);
    if (!li) { li = buildMsg(c, m); msgEls.set(key, li); }
    updateMsg(li, c, m, prevSender === m.sender_id);
    prevSender = m.sender_id;
    els.push(li);
  }
  syncChildren(list, els);
  const note = $('history-note');
  note.textContent = chat.loading ? 'Loading older messages…' : chat.reachedStart ? (arr.length ? 'This is the start of the conversation.' : 'No messages yet. Say hello!') : '';
  if (toBottom || nearBottom) sc.scrollTop = sc.scrollHeight;
}
function buildMsg(c, m) {
  const own = m.sender_id === myId();
  const li = h('li', { class: `msg ${own ? 'own' : 'other'}`, title: '' });
  const sender = h('span', { class: 'sender' });
  const body = h('p', { class: 'body' });
  body.textContent = m.body;
  const time = h('time', { class: 'time' });
  const meta = h('span', { class: 'meta' }, time);
  let status = null;
  if (own) {
    status = h('span', { class: 'status', role: 'img' });
    meta.append(status);
  }
  li.append(sender, body, meta);
  li._parts = { sender, body, time, status };
  return li;
}
function updateMsg(li, c, m, grouped) {
  const p = li._parts;
  const own = m.sender_id === myId();
  const showSender = c && c.kind === 'group' && !own && !grouped;
  p.sender.hidden = !showSender;
  if (showSender) { p.sender.textContent = nameOf(m.sender_id); p.sender.style.color = colorFor(m.sender_id); }
  li.classList.toggle('grouped', grouped);
  const ts = m.ts || m.localTs;
  p.time.textContent = fmtTime(ts);
  if (ts) p.time.dateTime = new Date(ts).toISOString();
  if (m.message_id) li.dataset.messageId = m.message_id;
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

async function loadOlder(cid, initial = false) {
  if (!cid) return;
  const chat = getChat(cid);
  if (chat.loading || (!initial && (chat.reachedStart || !chat.loaded))) return;
  chat.loading = true;
  if (openCid === cid) renderMessages();
  let before = null;
  if (!initial) for (const m of chat.msgs.values()) if (m.message_id && (!before || idGt(before, m.message_id))) before = m.message_id;
  const q = `limit=${PAGE}${before ? `&before=${before}` : ''}`;
  const sc = $('scroller');
  const prevH = sc ? sc.scrollHeight : 0;
  const prevTop = sc ? sc.scrollTop : 0;
  try {
    const data = await api('GET', `/conversations/${cid}/messages?${q}`);
    for (const m of data.messages) ingest(m);
    chat.loaded = true;
    if (data.messages.length < PAGE) chat.reachedStart = true;
  } catch (e) {
    if (e.status === 404) { chat.loading = false; dropConversation(cid); return; }
    showError(e.message);
  } finally {
    chat.loading = false;
  }
  if (openCid !== cid) return;
  renderMessages({ toBottom: initial });
  if (!initial && sc) sc.scrollTop = sc.scrollHeight - prevH + prevTop;
  maybeSendRead();
  // fill the viewport if the first page is short
  if (sc && !chat.reachedStart && sc.scrollHeight <= sc.clientHeight + 120) setTimeout(() => loadOlder(cid), 0);
}

// merge a message object into the chat store; returns true when it was new
function ingest(m) {
  const chat = getChat(m.conversation_id);
  const key = msgKey(m);
  const ex = chat.msgs.get(key);
  if (ex) {
    if (!ex.message_id || ex.failed) { ex.message_id = m.message_id; ex.ts = m.ts; ex.failed = false; }
    return false;
  }
  chat.msgs.set(key, { message_id: m.message_id, conversation_id: m.conversation_id, sender_id: m.sender_id, body: m.body, ts: m.ts, client_msg_id: m.client_msg_id, kind: m.kind });
  return true;
}

function addPending(item) {
  const chat = getChat(item.conversation_id);
  const key = `c:${item.client_msg_id}`;
  if (chat.msgs.has(key)) return;
  chat.msgs.set(key, { message_id: null, conversation_id: item.conversation_id, sender_id: myId(), body: item.body, ts: null, localTs: item.created, client_msg_id: item.client_msg_id });
}

function sendCurrent() {
  const input = $('msg-input');
  const cid = openCid;
  if (!cid) return;
  const body = input.value.replace(/\u0000/g, '');
  if (!body.trim()) return;
  if (codePoints(body) > 100000) { showError('That message is too long (the limit is 100,000 characters).'); return; }
  const item = { client_msg_id: newClientId(), conversation_id: cid, body, created: Date.now() };
  outboxAdd(item);
  addPending(item);
  const c = convs.get(cid);
  if (c) {
    c.last_message = { message_id: null, conversation_id: cid, sender_id: myId(), body, ts: item.created, client_msg_id: item.client_msg_id };
    c.localTs = item.created;
  }
  input.value = '';
  autosize();
  lastTypingSent = 0;
  renderMessages({ toBottom: true });
  renderConvList();
  if (wsReady) wsSend({ type: 'send', client_msg_id: item.client_msg_id, conversation_id: cid, body });
}

function flushOutbox() {
  for (const item of outboxRead()) {
    addPending(item);
    wsSend({ type: 'send', client_msg_id: item.client_msg_id, conversation_id: item.conversation_id, body: item.body });
  }
  if (openCid) renderMessages();
}

function isViewing(cid) {
  return openCid === cid && document.visibilityState === 'visible';
}
let lastReadSent = new Map();
function maybeSendRead() {
  const cid = openCid;
  if (!cid || !wsReady || document.visibilityState !== 'visible') return;
  const c = convs.get(cid);
  if (!c) return;
  let newest = null;
  for (const m of getChat(cid).msgs.values()) if (m.message_id && idGt(m.message_id, newest)) newest = m.message_id;
  if (c.last_message && c.last_message.message_id && idGt(c.last_message.message_id, newest)) newest = c.last_message.message_id;
  if (!newest) return;
  if (c.unread_count) { c.unread_count = 0; renderConvList(); }
  if (c.read_upto && !idGt(newest, c.read_upto)) return;
  if (lastReadSent.get(cid) === newest) return;
  lastReadSent.set(cid, newest);
  wsSend({ type: 'read', conversation_id: cid, message_id: newest });
}
document.addEventListener('visibilitychange', () => { maybeSendRead(); });
window.addEventListener('focus', () => { maybeSendRead(); });

// ---------- typing ----------
function renderTyping() {
  const el = $('typing');
  if (!el) return;
  const now = Date.now();
  const t = openCid && typers.get(openCid);
  const names = [];
  if (t) for (const [uid, exp] of t) if (exp > now) names.push(nameOf(uid)); else t.delete(uid);
  el.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}
function stopTyping(cid, uid) {
  const t = typers.get(cid);
  if (t && t.delete(uid) && cid === openCid) renderTyping();
}

// ---------- WebSocket ----------
function wsSend(frame) {
  if (ws && wsReady && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
  return false;
}
function setBanner(text) {
  const b = $('banner');
  if (!b) return;
  b.textContent = text || '';
  b.hidden = !text;
}

// Same-origin socket URL: the fallback whenever discovery has no usable answer.
function sameOriginWs() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/ws`;
}
// GET /v1/discovery names the node to connect to; any failure (older server, 503,
// network, a URL the page may not open) means same-origin.
let skipDiscovery = false; // the last discovered node failed before `ready`
async function discoverWs() {
  if (skipDiscovery) { skipDiscovery = false; return null; }
  try {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 3000);
    const res = await fetch('/v1/discovery', { signal: ctl.signal, cache: 'no-store' });
    clearTimeout(t);
    if (!res.ok) return null;
    const d = await res.json();
    const url = d && typeof d.ws_url === 'string' ? d.ws_url : '';
    if (!/^wss?:\/\//.test(url)) return null;
    if (location.protocol === 'https:' && url.startsWith('ws:')) return null; // mixed content
    return url;
  } catch { return null; }
}
let connecting = false;
async function connect() {
  if (stopped || !auth || connecting) return;
  clearTimeout(reconnectTimer);
  connecting = true;
  let discovered;
  try { discovered = await discoverWs(); } finally { connecting = false; }
  if (stopped || !auth || (ws && ws.readyState <= WebSocket.OPEN)) return;
  const url = discovered || sameOriginWs();
  let sock;
  try { sock = new WebSocket(url); } catch {
    if (discovered) skipDiscovery = true;
    scheduleReconnect(discovered ? 0 : undefined);
    return;
  }
  ws = sock;
  wsReady = false;
  let sawReady = false;
  const token = auth.token;
  sock.onopen = () => { if (sock === ws) sock.send(JSON.stringify({ type: 'hello', token, since: lastSeq })); };
  sock.onmessage = (ev) => {
    if (sock !== ws) return;
    lastFrameAt = Date.now();
    let f;
    try { f = JSON.parse(ev.data); } catch { return; }
    if (f && f.type === 'ready') sawReady = true;
    try { onFrame(f); } catch (e) { console.error('frame handling failed', e, f); }
  };
  sock.onclose = (ev) => {
    if (sock !== ws) return;
    ws = null;
    wsReady = false;
    stopHeartbeat();
    if (ev.code === 4001 || ev.code === 4002) {
      forceLogout(ev.code === 4002 ? 'You have been logged out.' : 'Your session is no longer valid. Please log in again.');
      return;
    }
    // a discovered node that never said `ready`: retry at once on the same origin
    const fellThrough = discovered && !sawReady;
    if (fellThrough) skipDiscovery = true;
    scheduleReconnect(ev.code === 4008 || fellThrough ? 0 : undefined);
  };
  sock.onerror = () => { /* close follows */ };
}
function scheduleReconnect(delay) {
  if (stopped) return;
  setBanner('Reconnecting…');
  if (delay === undefined) {
    const base = Math.min(15000, 500 * 2 ** attempt);
    delay = base / 2 + Math.random() * (base / 2);
  }
  attempt = Math.min(attempt + 1, 10);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(connect, delay);
}
function startHeartbeat() {
  stopHeartbeat();
  hbTimer = setInterval(() => {
    if (!ws) return;
    if (Date.now() - lastFrameAt > 2.5 * hbInterval * 1000) {
      const s = ws; ws = null; wsReady = false;
      try { s.close(); } catch { /* ignore */ }
      stopHeartbeat();
      scheduleReconnect();
      return;
    }
    wsSend({ type: 'ping' });
  }, Math.max(1000, hbInterval * 1000));
}
function stopHeartbeat() { clearInterval(hbTimer); hbTimer = null; }
window.addEventListener('online', () => { if (!ws && !stopped) { attempt = 0; connect(); } });
window.addEventListener('offline', () => {
  if (stopped || !ws) return;
  const s = ws; ws = null; wsReady = false;
  try { s.close(); } catch { /* ignore */ }
  stopHeartbeat();
  scheduleReconnect();
});

function scheduleAck() {
  if (ackTimer) return;
  ackTimer = setTimeout(() => {
    ackTimer = null;
    if (lastSeq > ackedSeq && lastSeq <= head && wsSend({ type: 'ack', seq: lastSeq })) ackedSeq = lastSeq;
  }, 200);
}

function setMark(cid, uid, status, mid) {
  const cm = marks[cid] || (marks[cid] = {});
  const um = cm[uid] || (cm[uid] = {});
  const k = status === 'read' ? 'r' : 'd';
  if (!idGt(mid, um[k])) return false;
  um[k] = mid;
  store.set(marksKey(), marks);
  return true;
}

function applyReadState(cid, mid) {
  const c = convs.get(cid);
  if (!c) return;
  c.read_upto = idMax(c.read_upto, mid);
  if (!c.last_message || !c.last_message.message_id || !idGt(c.last_message.message_id, c.read_upto)) c.unread_count = 0;
  else scheduleConvRefresh();
  renderConvList();
}

function onFrame(f) {
  switch (f.type) {
    case 'ready': {
      wsReady = true;
      attempt = 0;
      setBanner('');
      hbInterval = Number(f.heartbeat_interval) || 10;
      head = f.head;
      ackedSeq = 0;
      if (f.head < lastSeq) { lastSeq = f.head; saveSeq(); scheduleConvRefresh(); }
      startHeartbeat();
      flushOutbox();
      api('GET', '/contacts').then((d) => {
        for (const x of d.contacts) { presence.set(x.user_id, { status: x.status, last_active_at: x.last_active_at }); users.set(x.user_id, { user_id: x.user_id, username: x.username, display_name: x.display_name }); }
        renderConvList(); if (openCid) renderChatHead();
      }).catch(() => {});
      if (!firstReady) scheduleConvRefresh();
      firstReady = false;
      lastReadSent = new Map();
      maybeSendRead();
      if (lastSeq > 0) scheduleAck();
      break;
    }
    case 'message': onMessage(f); break;
    case 'sent': {
      outboxRemove(f.client_msg_id);
      const chat = getChat(f.conversation_id);
      const m = chat.msgs.get(`c:${f.client_msg_id}`);
      if (m) { m.message_id = f.message_id; m.ts = f.ts; m.failed = false; }
      const c = convs.get(f.conversation_id);
      if (c && c.last_message && c.last_message.client_msg_id === f.client_msg_id && c.last_message.sender_id === myId()) {
        c.last_message = { ...c.last_message, message_id: f.message_id, ts: f.ts };
      }
      if (!c) scheduleConvRefresh();
      renderConvList();
      if (openCid === f.conversation_id) renderMessages();
      break;
    }
    case 'receipt': {
      if (f.user_id === myId()) { if (f.status === 'read') applyReadState(f.conversation_id, f.message_id); break; }
      if (setMark(f.conversation_id, f.user_id, f.status, f.message_id)) {
        renderConvList();
        if (openCid === f.conversation_id) renderMessages();
      }
      break;
    }
    case 'read_state': applyReadState(f.conversation_id, f.message_id); break;
    case 'presence': {
      presence.set(f.user_id, { status: f.status, last_active_at: f.last_active_at });
      renderConvList();
      if (openCid) renderChatHead();
      break;
    }
    case 'typing': {
      if (f.user_id === myId()) break;
      let t = typers.get(f.conversation_id);
      if (!t) { t = new Map(); typers.set(f.conversation_id, t); }
      t.set(f.user_id, Date.now() + 5000);
      if (openCid === f.conversation_id) renderTyping();
      setTimeout(renderTyping, 5100);
      break;
    }
    case 'error': {
      if (f.client_msg_id) {
        if (FINAL_ERRORS.has(f.code)) {
          outboxRemove(f.client_msg_id);
          for (const chat of chats.values()) {
            const m = chat.msgs.get(`c:${f.client_msg_id}`);
            if (m && !m.message_id) m.failed = true;
          }
          showError(`Message not sent: ${f.message}`);
          if (openCid) renderMessages();
          renderConvList();
        } else {
          setTimeout(() => {
            const item = outboxRead().find((x) => x.client_msg_id === f.client_msg_id);
            if (item) wsSend({ type: 'send', client_msg_id: item.client_msg_id, conversation_id: item.conversation_id, body: item.body });
          }, 3000);
        }
      } else {
        console.warn('server error frame', f.code, f.message);
      }
      break;
    }
    case 'group': {
      const cid = f.conversation_id || f.group_id;
      if (Array.isArray(f.members) && !f.members.includes(myId())) { dropConversation(cid); break; }
      const c = convs.get(cid);
      if (c) {
        if (f.name) c.name = f.name;
        if (f.members) c.members = f.members;
        if ('owner_id' in f) c.owner_id = f.owner_id;
        renderConvList();
        if (openCid === cid) { renderChatHead(); renderMessages(); if (!$('group-info').hidden) renderGroupInfo(); }
      }
      scheduleConvRefresh();
      break;
    }
    default: break; // pong and unknown frames
  }
}

function onMessage(f) {
  const cid = f.conversation_id;
  const isNew = ingest(f);
  if (f.sender_id === myId() && f.client_msg_id) outboxRemove(f.client_msg_id);
  const c = convs.get(cid);
  let newer = false;
  if (!c) scheduleConvRefresh();
  else {
    const lm = c.last_message;
    newer = !lm || !lm.message_id || idGt(f.message_id, lm.message_id) || (lm.client_msg_id && lm.client_msg_id === f.client_msg_id && lm.sender_id === f.sender_id);
    if (lm && !lm.message_id && lm.sender_id === myId() && f.sender_id !== myId()) newer = true;
    if (newer) {
      // keep a pending own preview if this echo is for an older message
      c.last_message = { message_id: f.message_id, conversation_id: cid, kind: f.kind, sender_id: f.sender_id, body: f.body, ts: f.ts, client_msg_id: f.client_msg_id };
      if (f.sender_id !== myId() && isNew && !isViewing(cid) && (!c.read_upto || idGt(f.message_id, c.read_upto))) c.unread_count = (c.unread_count || 0) + 1;
    }
  }
  if (f.sender_id !== myId()) stopTyping(cid, f.sender_id);
  if (typeof f.seq === 'number' && f.seq > lastSeq) { lastSeq = f.seq; saveSeq(); }
  if (isNew && newer && f.sender_id !== myId() && f.seq > head) notify(c, f);
  renderConvList();
  if (openCid === cid) { renderMessages(); maybeSendRead(); }
  scheduleAck();
  if (f.seq > head) head = f.seq;
}

// ---------- notifications ----------
function notify(c, m) {
  if (!notifyOn() || !document.hidden) return;
  const title = c ? (c.kind === 'group' ? `${nameOf(m.sender_id)} in ${c.name}` : nameOf(m.sender_id)) : 'New message';
  const opts = { body: m.body.slice(0, 240), tag: m.conversation_id, icon: '/icon-192.png', data: { cid: m.conversation_id } };
  try {
    const n = new Notification(title, opts);
    n.onclick = () => { window.focus(); goChat(m.conversation_id); n.close(); };
  } catch {
    if (navigator.serviceWorker) navigator.serviceWorker.ready.then((r) => r.showNotification(title, opts)).catch(() => {});
  }
}
if (navigator.serviceWorker) {
  navigator.serviceWorker.addEventListener('message', (ev) => {
    if (ev.data && ev.data.type === 'open' && ev.data.cid) goChat(ev.data.cid);
  });
}

// ---------- group info ----------
async function refreshGroup(cid) {
  const c = convs.get(cid);
  if (!c || c.kind !== 'group') return;
  try {
    const g = await api('GET', `/groups/${c.group_id || cid}`);
    c.members = g.members; c.owner_id = g.owner_id; c.name = g.name;
    for (const u of g.members) getUser(u);
    renderConvList();
    if (openCid === cid) { renderChatHead(); renderMessages(); if (!$('group-info').hidden) renderGroupInfo(); }
  } catch (e) {
    if (e.status === 404) dropConversation(cid);
  }
}
function openGroupInfo() {
  $('group-info').hidden = false;
  $('btn-groupinfo').setAttribute('aria-expanded', 'true');
  renderGroupInfo();
  refreshGroup(openCid);
  $('gi-close').focus();
}
function closeGroupInfo(focusBack) {
  const gi = $('group-info');
  if (!gi || gi.hidden) return;
  gi.hidden = true;
  $('btn-groupinfo').setAttribute('aria-expanded', 'false');
  if (focusBack) $('btn-groupinfo').focus();
}
function renderGroupInfo() {
  const c = convs.get(openCid);
  if (!c || c.kind !== 'group') return;
  $('gi-name').textContent = c.name;
  const isOwner = c.owner_id === myId();
  const members = [...(c.members || [])].sort((a, b) => (a === myId() ? -1 : b === myId() ? 1 : nameOf(a).localeCompare(nameOf(b))));
  const items = members.map((uid) => {
    const tags = [];
    if (uid === c.owner_id) tags.push('owner');
    if (uid === myId()) tags.push('you');
    const li = h('li', {},
      h('span', { class: 'avatar small', 'aria-hidden': 'true' }),
      h('span', { class: 'mname' }, h('strong', { text: nameOf(uid) }), h('span', { class: 'muted small', text: `@${usernameOf(uid)}${tags.length ? ` · ${tags.join(', ')}` : ''}` })));
    setAvatar(li.firstChild, uid, nameOf(uid));
    if (isOwner && uid !== myId()) {
      const uname = usernameOf(uid);
      li.append(h('button', {
        type: 'button', class: 'ghost danger-text',
        onclick: async () => {
          try {
            await api('DELETE', `/groups/${c.group_id || c.conversation_id}/members/${uid}`);
            clearError();
            await refreshGroup(c.conversation_id);
          } catch (e) { showError(e.message); }
        },
      }, `Remove ${uname}`));
    }
    return li;
  });
  $('gi-members').replaceChildren(...items);
}

// ---------- cross-tab ----------
window.addEventListener('storage', (ev) => {
  if (ev.key !== AUTH_KEY) return;
  const next = store.get(AUTH_KEY, null);
  if (!next && auth) forceLogout('You logged out in another tab.');
  else if (next && (!auth || next.token !== auth.token)) { stopped = true; if (ws) { const s = ws; ws = null; try { s.close(1000); } catch { /* */ } } auth = next; boot(); }
});

// ---------- service worker ----------
if ('serviceWorker' in navigator && (location.protocol === 'https:' || location.hostname === 'localhost' || location.hostname === '127.0.0.1')) {
  window.addEventListener('load', () => { navigator.serviceWorker.register('/sw.js').catch(() => {}); });
}

boot();
