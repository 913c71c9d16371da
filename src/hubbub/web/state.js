// The one owner of the client's mutable state.
//
// Other modules read it through the exported `let` bindings (live, and read-only outside
// this file: assigning to an import is a TypeError) and the getters, and change it only
// through the named mutators below. Getters hand out the live entries (conversations,
// messages, users): read them, never write to them. The persisted parts (the session, the seq cursor,
// receipt marks, the outbox, the notification choice, this device's push subscription, the mutes, the
// drafts, the app as last seen and the appearance) are kept in localStorage by this module alone
// (theme.js reads the appearance before the first paint). Attachments add the composer's tray (files
// picked, not yet sent) and the blob: URLs of media fetched with the token (see net/media.js).
import { idGt, idMax, idLower } from './lib/ids.js';
import { storage } from './lib/storage.js';

export const AUTH_KEY = 'hubbub.auth';
const NOTIFY_KEY = 'hubbub.notify';
const APPEARANCE_KEY = 'hubbub.appearance'; // theme.js reads it too: keep both in step

// ---------- session: who is logged in ----------
export let auth = storage.get(AUTH_KEY, null); // {token, user_id, device_id}
export let me = null; // {user_id, username, display_name, settings}
export const myId = () => auth && auth.user_id;

const [seqKey, outboxKey, marksKey, everyoneKey, pushKey, mutesKey, draftsKey, cacheKey] =
  ['seq', 'outbox', 'marks', 'everyone', 'push', 'mutes', 'drafts', 'cache'].map((k) => () => `hubbub.${auth.user_id}.${k}`); // this user's keys

export const storedAuth = () => storage.get(AUTH_KEY, null);
export function setAuth(next) { auth = next; storage.set(AUTH_KEY, auth); } // a new login here
export function adoptAuth(next) { auth = next; } // a login in another tab (already stored)
export function clearSession() { if (auth) storage.del(cacheKey()); auth = null; me = null; storage.del(AUTH_KEY); clearTray(); releaseMediaUrls(true); }
// The profile and the list as last seen: shown when the server cannot be reached at load.
export const cachedApp = () => (auth ? storage.get(cacheKey(), null) : null);
export function saveAppCache() { if (auth && me) storage.set(cacheKey(), { me, conversations: [...convs.values()], users: [...users.values()] }); }

// The profile from GET /me: everything about the previous session is forgotten, the
// persisted cursor and receipt marks of this user are loaded.
export function startSession(profile) {
  me = profile;
  users.set(me.user_id, me);
  lastSeq = Number(storage.get(seqKey(), 0)) || 0;
  ackedSeq = 0;
  marks = storage.get(marksKey(), {}) || {};
  everyone = storage.get(everyoneKey(), {}) || {};
  convs.clear(); chats.clear(); counted.clear(); presence.clear(); typers.clear();
  clearTray(); releaseMediaUrls(true);
  openCid = null;
  firstReady = true;
}
export function updateMe(u) { // a user object of mine (PATCH /me, a `profile` frame)
  for (const k of ['display_name', 'avatar']) if (k in u) me[k] = u[k];
  users.set(me.user_id, { ...users.get(me.user_id), ...u });
}
export function setMySettings(s) { me.settings = { ...me.settings, ...s }; }

// ---------- people: profiles and presence ----------
const users = new Map(); // uid -> user
const userRequests = new Map(); // uid -> pending GET /users/{uid}
const presence = new Map(); // uid -> {status, last_active_at}

export const userById = (uid) => users.get(uid);
export function rememberUser(uid, u) { users.set(uid, u); }
export const userRequest = (uid) => userRequests.get(uid);
export function setUserRequest(uid, p) { userRequests.set(uid, p); }
export function forgetUserRequest(uid) { userRequests.delete(uid); }
export const presenceOf = (uid) => presence.get(uid);
export function setPresence(uid, status, lastActiveAt) {
  presence.set(uid, { status, last_active_at: lastActiveAt });
}
// Our socket went: presence and typing heard so far are dropped (`ready` seeds presence again).
export function forgetLive() { presence.clear(); typers.clear(); }
export let searchesRefusedUntil = 0; // ms: the server refused people searches (429) until then, for every field
export function refuseSearches(until) { searchesRefusedUntil = Math.max(searchesRefusedUntil, until); }

// ---------- conversations (the list) ----------
// An entry: the server's summary, `localTs` (made or last sent to here); groups' `members`, `owner_id`, `name`, `departed`.
const convs = new Map(); // cid -> entry

export const conversation = (cid) => convs.get(cid);
export const hasConversation = (cid) => convs.has(cid);
export const conversations = () => [...convs.values()];
export const conversationIds = () => [...convs.keys()];
export function upsertConversation(entry) { convs.set(entry.conversation_id, entry); }
export function removeConversation(cid) { convs.delete(cid); chats.delete(cid); counted.delete(cid); }

// Unread: the server's unread_count holds every message up to its last_message (`upto`);
// later ones are counted here once each, by message_id (`ids`), so a catch-up replaying
// what the server counted already (its last_message among them) never counts it twice.
const counted = new Map(); // cid -> {upto: message id or null, ids: Set of message ids}
const countedOf = (cid) => counted.get(cid) || counted.set(cid, { upto: null, ids: new Set() }).get(cid);

// Merge one summary from GET /conversations with what is known here: a newer local last
// message (sent or received since the server answered) and the unread counted since survive.
export function mergeServerConversation(c) {
  const cid = c.conversation_id;
  const local = convs.get(cid);
  raiseEveryone(cid); // with the members as last heard, before the server's replace them
  const next = { ...c, localTs: local ? local.localTs : 0, owner_id: local ? local.owner_id : undefined };
  next.departed = ['left', 'removed'].includes(c.membership) ? c.membership : undefined; // views/departed.js
  if (local) {
    next.read_upto = idMax(local.read_upto, c.read_upto);
    const ll = local.last_message;
    if (ll && (!ll.message_id || !c.last_message || idGt(ll.message_id, c.last_message.message_id))) next.last_message = ll;
  }
  const k = countedOf(cid);
  k.upto = idMax(k.upto, c.last_message && c.last_message.message_id);
  for (const id of k.ids) if (!idGt(id, k.upto) || (next.read_upto && !idGt(id, next.read_upto))) k.ids.delete(id);
  next.unread_count = (c.unread_count || 0) + k.ids.size;
  convs.set(cid, next);
  if (next.last_message && next.last_message.message_id && next.read_upto && !idGt(next.last_message.message_id, next.read_upto)) clearUnread(cid);
  raiseEveryone(cid);
}
// The list's preview; `localTs` too when the message was written here.
export function setLastMessage(cid, lm, localTs) {
  const c = convs.get(cid);
  if (!c) return;
  c.last_message = lm;
  if (localTs !== undefined) c.localTs = localTs;
}
// A message from someone else arrived unread: counted unless it already is (the server's
// count holds it, or it was counted here before).
export function countUnread(cid, mid) {
  const c = convs.get(cid);
  const k = countedOf(cid);
  if (!c || !mid || !idGt(mid, k.upto) || k.ids.has(mid) || (c.read_upto && !idGt(mid, c.read_upto))) return;
  k.ids.add(mid);
  c.unread_count = (c.unread_count || 0) + 1;
}
// Everything here was seen: nothing up to the newest message known counts again.
export function clearUnread(cid) {
  const c = convs.get(cid);
  if (!c) return;
  const k = countedOf(cid);
  for (const id of [...k.ids, c.last_message && c.last_message.message_id]) k.upto = idMax(k.upto, id);
  c.unread_count = 0; k.ids.clear();
}
// This user read up to `mid` (on any device). True when nothing is left unread; false when
// a newer message may still be unread (the count is then the server's to say).
export function recordReadUpto(cid, mid) {
  const c = convs.get(cid);
  c.read_upto = idMax(c.read_upto, mid);
  if (!c.last_message || !c.last_message.message_id || !idGt(c.last_message.message_id, c.read_upto)) {
    clearUnread(cid);
    return true;
  }
  const { ids } = countedOf(cid);
  for (const id of ids) if (!idGt(id, c.read_upto)) ids.delete(id);
  return false;
}
// Group details as last heard: only the fields given change.
const GROUP_FIELDS = ['name', 'members', 'owner_id'];
export function updateGroup(cid, details) {
  const c = convs.get(cid);
  if (!c) return;
  raiseEveryone(cid); // with the members the marks were got from
  for (const k of GROUP_FIELDS) if (k in details) c[k] = details[k];
  raiseEveryone(cid);
}

// ---------- chats (the messages of a conversation) ----------
// A message is keyed `c:<client_msg_id>` when it is our own (so the pending bubble and
// the server's copy are one) and `m:<message_id>` otherwise.
const chats = new Map(); // cid -> {msgs: Map(key -> msg), loaded, reachedStart, loading}

export function msgKey(m) {
  return m.sender_id === myId() && m.client_msg_id ? `c:${m.client_msg_id}` : `m:${m.message_id}`;
}
export function chatOf(cid) {
  let c = chats.get(cid);
  if (!c) { c = { msgs: new Map(), loaded: false, reachedStart: false, loading: false }; chats.set(cid, c); }
  return c;
}
export function setChatLoading(cid, loading) { const c = chats.get(cid); if (c) c.loading = loading; }
export function markChatLoaded(cid, reachedStart) {
  const c = chats.get(cid);
  if (!c) return;
  c.loaded = true;
  if (reachedStart) c.reachedStart = true;
}
// Merge a message from the server; true when it was new here.
export function ingestMessage(m) {
  const chat = chatOf(m.conversation_id);
  const key = msgKey(m);
  const ex = chat.msgs.get(key);
  if (ex) {
    if (!ex.message_id || ex.failed) { ex.message_id = m.message_id; ex.ts = m.ts; ex.failed = false; }
    return false;
  }
  chat.msgs.set(key, { message_id: m.message_id, conversation_id: m.conversation_id, sender_id: m.sender_id, body: m.body, ts: m.ts, client_msg_id: m.client_msg_id, kind: m.kind, attachments: m.attachments });
  return true;
}
// An outbox item shown as our own message, not yet stored by the server.
export function addPendingMessage(item) {
  const chat = chatOf(item.conversation_id);
  const key = `c:${item.client_msg_id}`;
  if (chat.msgs.has(key)) return;
  chat.msgs.set(key, { message_id: null, conversation_id: item.conversation_id, sender_id: myId(), body: item.body, ts: null, localTs: item.created, client_msg_id: item.client_msg_id, attachments: item.attachments });
}
// The server stored our message (`sent`): the bubble and the list's preview get its id.
export function confirmMessage(cid, clientMsgId, messageId, ts) {
  const m = chatOf(cid).msgs.get(`c:${clientMsgId}`);
  if (m) { m.message_id = messageId; m.ts = ts; m.failed = false; }
  const c = convs.get(cid);
  if (c && c.last_message && c.last_message.client_msg_id === clientMsgId && c.last_message.sender_id === myId()) {
    c.last_message = { ...c.last_message, message_id: messageId, ts };
  }
}
// The server refused our message for good.
export function failMessage(clientMsgId) {
  for (const chat of chats.values()) {
    const m = chat.msgs.get(`c:${clientMsgId}`);
    if (m && !m.message_id) m.failed = true;
  }
}

// ---------- the outbox: our messages until the server has them (persisted) ----------
export const outbox = () => storage.get(outboxKey(), []);
export function queueOutgoing(item) { const a = outbox(); a.push(item); storage.set(outboxKey(), a); }
export function removeOutgoing(clientMsgId) {
  const a = outbox();
  const b = a.filter((x) => x.client_msg_id !== clientMsgId);
  if (b.length !== a.length) storage.set(outboxKey(), b);
}

// ---------- drafts: what the composer holds, per conversation (persisted) ----------
// Kept as it is typed, so switching chats and reloading bring it back; sending clears it.
export const draftOf = (cid) => (auth && cid ? (storage.get(draftsKey(), {}) || {})[cid] || '' : '');
export function setDraft(cid, text) {
  if (!auth || !cid) return;
  const all = storage.get(draftsKey(), {}) || {};
  if ((all[cid] || '') === text) return;
  if (text) all[cid] = text; else delete all[cid];
  storage.set(draftsKey(), all);
}

// ---------- the composer's tray: files to send with the next message ----------
// Each entry: {key, file, name, size, type, loaded (bytes sent so far), media (the
// server's attachment once uploaded: a retry after a failed send does not upload it
// again), error, abort (cancels its upload in flight)}. It belongs to the open chat.
const tray = [];
let trayKeys = 0;
export let uploading = false; // a send is uploading the tray: it cannot change meanwhile

export const trayItems = () => tray;
export const trayItem = (key) => tray.find((x) => x.key === key);
export function addToTray(file) {
  tray.push({ key: ++trayKeys, file, name: file.name, size: file.size, type: file.type, loaded: 0, media: null, error: '', abort: null });
}
export function removeFromTray(key) { const i = tray.findIndex((x) => x.key === key); if (i >= 0) tray.splice(i, 1); }
// Everything goes; uploads in flight are cancelled.
export function clearTray() {
  for (const x of tray.splice(0)) if (x.abort) x.abort();
  uploading = false;
}
export function setUploading(on) { uploading = on; }
export function setTrayUpload(key, fields) { const x = trayItem(key); if (x) Object.assign(x, fields); }

// ---------- attachments' bytes: blob: URLs (memory only) ----------
// `<media_id>:thumb` or `<media_id>:full` -> {promise (of the URL), url once it came}.
// Only the open chat's media are held: all are revoked when another chat opens (coming
// back refetches them from the HTTP cache: media answers are immutable). A fetch that
// ends after its entry was released is revoked at once (keepMediaUrl says no). Profile
// pictures (`avatar:<media_id>`, one each however many rows show it) stay for the session.
const mediaUrls = new Map();

export const mediaRequest = (key) => mediaUrls.get(key);
export function setMediaRequest(key, promise) { const e = { promise, url: null }; mediaUrls.set(key, e); return e; }
export function keepMediaUrl(key, entry, url) {
  if (mediaUrls.get(key) !== entry) return false;
  entry.url = url;
  return true;
}
export function forgetMediaRequest(key, entry) { if (mediaUrls.get(key) === entry) mediaUrls.delete(key); }
export function releaseMediaUrl(key) {
  const e = mediaUrls.get(key);
  if (!e) return;
  mediaUrls.delete(key);
  if (e.url) URL.revokeObjectURL(e.url);
}
export function releaseMediaUrls(pictures = false) {
  for (const [k, e] of mediaUrls) if (pictures || !k.startsWith('avatar:')) { mediaUrls.delete(k); if (e.url) URL.revokeObjectURL(e.url); }
}

// ---------- receipts: how far each member got, per conversation (persisted) ----------
let marks = {}; // cid -> uid -> {d: delivered upto, r: read upto}
export const marksOf = (cid) => marks[cid] || {};
// Raise a watermark; true when it moved.
export function setMark(cid, uid, status, mid) {
  const cm = marks[cid] || (marks[cid] = {});
  const um = cm[uid] || (cm[uid] = {});
  const k = status === 'read' ? 'r' : 'd';
  if (!idGt(mid, um[k])) return false;
  um[k] = mid;
  storage.set(marksKey(), marks);
  raiseEveryone(cid);
  return true;
}

// How far everyone else in a group had got at some moment (cid -> {d, r}): raised as marks
// or members change (with the members before a change too), never lowered, so a mark does
// not go back when members leave (down to none) or join (no marks for what came before).
let everyone = {};
export const everyoneOf = (cid) => everyone[cid] || {};
function raiseEveryone(cid) {
  const c = convs.get(cid);
  const others = c && c.kind === 'group' ? (c.members || []).filter((u) => u !== myId()) : [];
  if (!others.length) return;
  const mk = (u) => (marks[cid] || {})[u] || {};
  const r = others.map((u) => mk(u).r).reduce(idLower);
  const d = others.map((u) => idMax(mk(u).d, mk(u).r)).reduce(idLower);
  const e = everyone[cid] || {};
  if (!idGt(r, e.r) && !idGt(d, e.d)) return;
  everyone[cid] = { r: idMax(r, e.r) || null, d: idMax(d, e.d) || null };
  storage.set(everyoneKey(), everyone);
}

// ---------- typing: who is typing where, until when ----------
const typers = new Map(); // cid -> Map(uid -> expiry ms)
export function setTyping(cid, uid, until) {
  let t = typers.get(cid);
  if (!t) { t = new Map(); typers.set(cid, t); }
  t.set(uid, until);
}
export function clearTyping(cid, uid) { const t = typers.get(cid); return !!t && t.delete(uid); }
// Who is typing in `cid` now (expired entries are dropped).
export function typingIn(cid, now) {
  const t = cid && typers.get(cid);
  const uids = [];
  if (t) for (const [uid, exp] of t) if (exp > now) uids.push(uid); else t.delete(uid);
  return uids;
}

// ---------- what the page shows ----------
export let openCid = null; // the conversation on screen
export let navigatedIn = false; // this page opened a chat itself (Back may go back)
export let lastTypingSent = 0; // when our last `typing` went out
const readSent = new Map(); // cid -> the last message id we sent `read` for
export let viewing = null; // the photo open in the viewer (an attachment), or null

export function setOpenConversation(cid) { openCid = cid; }
export function setViewing(att) { viewing = att; }
export function noteNavigatedIn() { navigatedIn = true; }
export function setLastTypingSent(t) { lastTypingSent = t; }
export const readSentFor = (cid) => readSent.get(cid);
export function noteReadSent(cid, mid) { readSent.set(cid, mid); }
export function forgetReadSent() { readSent.clear(); }
export function notifyChosen() { return storage.get(NOTIFY_KEY, false) === true; }
export function setNotifyChosen(on) { storage.set(NOTIFY_KEY, on); }
export const appearance = () => storage.get(APPEARANCE_KEY, 'system'); // the colour theme: 'system', 'light' or 'dark'
export function setAppearance(choice) { storage.set(APPEARANCE_KEY, choice); }

// ---------- push: this device's subscription, and muted conversations (persisted) ----------
// The server's id and endpoint of this device's Web Push subscription, or null.
export const pushRecord = () => (auth ? storage.get(pushKey(), null) : null);
export function setPushRecord(rec) { if (!auth) return; if (rec) storage.set(pushKey(), rec); else storage.del(pushKey()); }
// Until when `cid` is muted (ms, -1 for ever), as this device last set or heard it; null if not.
export function mutedUntil(cid) {
  const until = (storage.get(mutesKey(), {}) || {})[cid];
  return until === -1 || (typeof until === 'number' && until > Date.now()) ? until : null;
}
export function setMutedUntil(cid, until) {
  const all = storage.get(mutesKey(), {}) || {};
  if (until == null) delete all[cid]; else all[cid] = until;
  storage.set(mutesKey(), all);
}

// ---------- the event stream: where this device is (docs/protocol.md, seq and acks) ----------
export let lastSeq = 0; // the newest seq received (persisted: `since` on the next hello)
export let head = 0; // the newest seq the server has for this device
export let ackedSeq = 0; // the newest seq acked on this socket

export function recordSeq(seq) {
  if (typeof seq === 'number' && seq > lastSeq) { lastSeq = seq; storage.set(seqKey(), lastSeq); }
}
// The server's head is behind us (its data was restored): start again from its head.
export function rewindSeq(to) { lastSeq = to; storage.set(seqKey(), lastSeq); }
export const seqStored = () => storage.get(seqKey(), null) !== null; // none yet: a fresh device
export function setHead(seq) { head = seq; }
export function advanceHead(seq) { if (seq > head) head = seq; }
export function setAckedSeq(seq) { ackedSeq = seq; }

// ---------- the WebSocket ----------
export let socket = null; // the current WebSocket, or null
export let socketReady = false; // `ready` was received on it
export let stopped = true; // logged out: do not reconnect
export let attempt = 0; // reconnect attempts since the last `ready` (backoff)
export let heartbeatInterval = 10; // seconds, from `ready`
export let lastFrameAt = 0; // when the socket last said anything
export let skipDiscovery = false; // the last discovered node failed before `ready`
export let connecting = false; // discovery is being asked
export let firstReady = true; // no `ready` yet in this session

export function setSocket(s) { socket = s; socketReady = false; }
export function setSocketReady(heartbeat) { socketReady = true; attempt = 0; heartbeatInterval = heartbeat; }
export function setFirstReady(on) { firstReady = on; }
export function setStopped(on) { stopped = on; }
export function nextAttempt() { attempt = Math.min(attempt + 1, 10); }
export function resetAttempts() { attempt = 0; }
export function noteFrame() { lastFrameAt = Date.now(); }
export function setSkipDiscovery(on) { skipDiscovery = on; }
export function setConnecting(on) { connecting = on; }
