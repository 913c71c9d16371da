// REST about conversations: the list (merged with what is known here), history pages,
// direct chats and groups. Answers go into state through its mutators.
import { api, ApiError } from './rest.js';
import { idGt } from '../lib/ids.js';
import { createTimer } from '../lib/timer.js';
import {
  openCid, myId, conversation, conversationIds, hasConversation, upsertConversation,
  mergeServerConversation, setMark, chatOf, ingestMessage, markChatLoaded, setChatLoading,
  updateGroup, setMutedUntil, saveAppCache, seqStored, rewindSeq,
} from '../state.js';
import { getUser, findUser } from './users.js';
import { maybeSendRead } from './acks.js';
import { dropConversation, forgetConversation } from '../router.js';
import { showError } from '../views/alerts.js';
import { redrawList, redrawConv, redrawChat } from '../views/render.js';
import { refreshGroupInfo } from '../views/group-info.js';

export const PAGE = 50; // messages per history page
const refreshTimer = createTimer();

export async function loadConversations() {
  const data = await api('GET', '/conversations');
  // a fresh device starts where this list was read (hello since = its head): whatever
  // came after is replayed, so the list is fetched once (docs/protocol.md §5.6)
  if (!seqStored() && Number.isInteger(data.head)) rewindSeq(data.head);
  const seen = new Set();
  for (const c of data.conversations) {
    const cid = c.conversation_id;
    seen.add(cid);
    mergeServerConversation(c);
    // the server's mute (set on any of this user's devices); absent from older servers
    if ('muted_until' in c) setMutedUntil(cid, c.muted_until);
    // the server's receipt watermarks: statuses survive a reload and reach new devices
    for (const r of c.receipts || []) {
      if (r.delivered_upto) setMark(cid, r.user_id, 'delivered', r.delivered_upto);
      if (r.read_upto) setMark(cid, r.user_id, 'read', r.read_upto);
    }
    if (c.kind === 'direct') getUser(c.peer_id);
  }
  // the server lists the groups this user left too (marked): what it does not list is gone
  for (const cid of conversationIds()) {
    if (!seen.has(cid)) {
      const c = conversation(cid);
      if (c.localTs && Date.now() - c.localTs < 5000) continue; // just created here
      forgetConversation(cid);
    }
  }
  saveAppCache(); // shown at the next load if the server cannot be reached then
  redrawList();
  redrawChat('head');
  maybeSendRead();
}

// Reload the list soon (several frames in a row cause one request).
export function scheduleConvRefresh() {
  refreshTimer.after(250, () => { loadConversations().catch(() => {}); });
}

// One page of history before the oldest message here (the newest page when `initial`).
// False when the conversation is gone (404) and was dropped.
export async function fetchOlderPage(cid, initial) {
  const chat = chatOf(cid);
  let before = null;
  if (!initial) for (const m of chat.msgs.values()) if (m.message_id && (!before || idGt(before, m.message_id))) before = m.message_id;
  const q = `limit=${PAGE}${before ? `&before=${before}` : ''}`;
  try {
    const data = await api('GET', `/conversations/${cid}/messages?${q}`);
    for (const m of data.messages) ingestMessage(m);
    markChatLoaded(cid, data.messages.length < PAGE);
  } catch (e) {
    if (e.status === 404) {
      setChatLoading(cid, false);
      const c = conversation(cid);
      if (c && c.departed) forgetConversation(cid); // a former group, deleted meanwhile
      else dropConversation(cid);
      return false;
    }
    showError(e.message);
  } finally {
    setChatLoading(cid, false);
  }
  return true;
}

// The direct conversation with `username` (the server creates it if new): its id.
export async function startDirectChat(username) { return startDirectChatWith((await findUser(username)).user_id); }

// The same with the user `uid` (one found by a search).
export async function startDirectChatWith(uid) {
  const c = await api('POST', '/conversations/direct', { user_id: uid });
  if (!hasConversation(c.conversation_id)) {
    upsertConversation({ conversation_id: c.conversation_id, kind: 'direct', peer_id: c.peer_id, last_message: null, unread_count: 0, read_upto: null, localTs: Date.now() });
  }
  return c.conversation_id;
}

// A new group with these members (usernames): its conversation id.
export async function createGroup(name, usernames) {
  const ids = [];
  for (const n of usernames) {
    try {
      ids.push((await findUser(n)).user_id);
    } catch (e) {
      if (e.code === 'not_found') throw new ApiError(404, 'not_found', `No user called “${n}”.`);
      throw e;
    }
  }
  const g = await api('POST', '/groups', { name, members: ids });
  upsertConversation({ conversation_id: g.conversation_id, kind: 'group', group_id: g.group_id, name: g.name, members: g.members, owner_id: g.owner_id, last_message: null, unread_count: 0, read_upto: null, localTs: Date.now() });
  return g.conversation_id;
}

// Fetch a group's name, members and owner again; a group we are no longer in is dropped.
export async function refreshGroup(cid) {
  const c = conversation(cid);
  if (!c || c.kind !== 'group' || c.departed) return; // a former member: nothing to learn
  try {
    const g = await api('GET', `/groups/${c.group_id || cid}`);
    updateGroup(cid, { members: g.members, owner_id: g.owner_id, name: g.name });
    for (const u of g.members) getUser(u);
    redrawConv(cid);
    if (openCid === cid) { redrawChat('head', 'messages'); refreshGroupInfo(); }
  } catch (e) {
    if (e.status === 404) dropConversation(cid);
  }
}

export async function addGroupMember(c, username) { return addToGroup(c, await findUser(username)); }
// Add `user` (a profile: one found by a search) to group `c`.
export async function addToGroup(c, user) {
  await api('POST', `/groups/${c.group_id}/members`, { user_id: user.user_id });
  return user;
}
export function removeGroupMember(c, uid) { return api('DELETE', `/groups/${c.group_id || c.conversation_id}/members/${uid}`); }
// Delete a group this user is no longer in from the list, here and (by the server's
// `conversation_deleted` frame) on their other devices. Gone already (404): gone here too.
export async function deleteChat(cid) {
  try {
    await api('DELETE', `/conversations/${cid}`);
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  forgetConversation(cid);
}
export function leaveGroup(c) { return api('DELETE', `/groups/${c.group_id}/members/${myId()}`); }
