// Every frame the server sends on the WebSocket (docs/protocol.md, "Server frames") is
// handled here, and only here: each case turns the frame into state mutators, then marks
// what changed to be drawn again (views/render.js: once a frame, however many came).
import { idGt } from '../lib/ids.js';
import {
  openCid, myId, lastSeq, seqStored, head, firstReady, conversation, hasConversation, ingestMessage,
  confirmMessage, failMessage, removeOutgoing, setLastMessage, countUnread, recordReadUpto,
  updateGroup, setMark, setPresence, setTyping, recordSeq, rewindSeq, setHead, advanceHead,
  setAckedSeq, setSocketReady, setFirstReady, forgetReadSent, userById, rememberUser, updateMe,
} from '../state.js';
import { startHeartbeat } from './socket.js';
import { scheduleAck, maybeSendRead, isViewing } from './acks.js';
import { flushOutbox, resendLater } from './outbox.js';
import { loadContacts } from './users.js';
import { scheduleConvRefresh } from './conversations.js';
import { dropConversation, forgetConversation } from '../router.js';
import { setBanner, showError } from '../views/alerts.js';
import { redrawList, redrawConv, redrawUser, redrawChat } from '../views/render.js';
import { refreshGroupInfo } from '../views/group-info.js';
import { renderMe } from '../views/list.js';
import { stopTyping } from '../features/typing.js';
import { notify } from '../features/notifications.js';
import { noteGroupFrame } from '../views/group-events.js';
import { noteReceipt } from '../views/message-menu.js';

// Refusals of a `send` that retrying cannot fix (§8): the message is marked failed.
const FINAL_ERRORS = new Set(['bad_request', 'too_large', 'not_found', 'forbidden', 'group_full']);

export function onFrame(f) {
  switch (f.type) {
    case 'ready': onReady(f); break;
    case 'message': onMessage(f); break;
    case 'sent': {
      removeOutgoing(f.client_msg_id);
      confirmMessage(f.conversation_id, f.client_msg_id, f.message_id, f.ts);
      if (!hasConversation(f.conversation_id)) scheduleConvRefresh();
      redrawConv(f.conversation_id);
      if (openCid === f.conversation_id) redrawChat('messages');
      break;
    }
    case 'receipt': {
      if (f.user_id === myId()) { if (f.status === 'read') applyReadState(f.conversation_id, f.message_id); break; }
      noteReceipt(f); // its time, for a message's Info
      if (setMark(f.conversation_id, f.user_id, f.status, f.message_id)) {
        redrawConv(f.conversation_id);
        if (openCid === f.conversation_id) redrawChat('messages');
      }
      break;
    }
    case 'read_state': applyReadState(f.conversation_id, f.message_id); break;
    case 'presence': {
      setPresence(f.user_id, f.status, f.last_active_at);
      redrawUser(f.user_id);
      break;
    }
    case 'profile': onProfile(f); break;
    case 'typing': {
      if (f.user_id === myId()) break;
      setTyping(f.conversation_id, f.user_id, Date.now() + 5000);
      if (openCid === f.conversation_id) redrawChat('typing');
      setTimeout(() => redrawChat('typing'), 5100);
      break;
    }
    case 'error': {
      if (f.client_msg_id) {
        if (FINAL_ERRORS.has(f.code)) {
          removeOutgoing(f.client_msg_id);
          failMessage(f.client_msg_id);
          showError(`Message not sent: ${f.message}`);
          redrawChat('messages');
          redrawList();
        } else {
          resendLater(f.client_msg_id, f.retry_after_ms);
        }
      } else {
        console.warn('server error frame', f.code, f.message);
      }
      break;
    }
    case 'group': {
      const cid = f.conversation_id || f.group_id;
      noteGroupFrame(cid, f); // "Ann added Ben" in the chat
      if (Array.isArray(f.members) && !f.members.includes(myId())) { dropConversation(cid); break; }
      if (hasConversation(cid)) {
        const details = {};
        if (f.name) details.name = f.name;
        if (f.members) details.members = f.members;
        if ('owner_id' in f) details.owner_id = f.owner_id;
        updateGroup(cid, details);
        redrawConv(cid);
        if (openCid === cid) { redrawChat('head', 'messages'); refreshGroupInfo(); }
      }
      scheduleConvRefresh();
      break;
    }
    case 'conversation_deleted': { // this user deleted a former group on one of their devices
      if (hasConversation(f.conversation_id)) forgetConversation(f.conversation_id);
      break;
    }
    default: break; // pong and unknown frames
  }
}

function onReady(f) {
  setSocketReady(Number(f.heartbeat_interval) || 10);
  setBanner('');
  setHead(f.head);
  setAckedSeq(0);
  // behind us (the server's data was restored), or a fresh device that asked for no
  // backlog: from the head on; the list again, for what came since it was loaded
  if (f.head < lastSeq || !seqStored()) { rewindSeq(f.head); scheduleConvRefresh(); }
  startHeartbeat();
  flushOutbox();
  loadContacts().then(() => { redrawList(); redrawChat('head'); }).catch(() => {});
  if (!firstReady) scheduleConvRefresh(); // a reconnect: the list may have moved on
  setFirstReady(false);
  forgetReadSent();
  maybeSendRead();
  if (lastSeq > 0) scheduleAck();
}

function onMessage(f) {
  const cid = f.conversation_id;
  const isNew = ingestMessage(f);
  if (f.sender_id === myId() && f.client_msg_id) removeOutgoing(f.client_msg_id);
  const c = conversation(cid);
  let newer = false;
  if (!c) scheduleConvRefresh();
  else {
    const lm = c.last_message;
    newer = !lm || !lm.message_id || idGt(f.message_id, lm.message_id) || (lm.client_msg_id && lm.client_msg_id === f.client_msg_id && lm.sender_id === f.sender_id);
    if (lm && !lm.message_id && lm.sender_id === myId() && f.sender_id !== myId()) newer = true;
    if (newer) {
      // keep a pending own preview if this echo is for an older message
      setLastMessage(cid, { message_id: f.message_id, conversation_id: cid, kind: f.kind, sender_id: f.sender_id, body: f.body, ts: f.ts, client_msg_id: f.client_msg_id, attachments: f.attachments });
      if (f.sender_id !== myId() && isNew && !isViewing(cid)) countUnread(cid, f.message_id); // once per message_id
    }
  }
  if (f.sender_id !== myId()) stopTyping(cid, f.sender_id);
  recordSeq(f.seq);
  if (isNew && newer && f.sender_id !== myId() && f.seq > head) notify(c, f);
  redrawConv(cid);
  if (openCid === cid) { redrawChat('messages'); maybeSendRead(); }
  scheduleAck();
  advanceHead(f.seq);
}

// A display name or profile picture changed: mine (on another device), or a contact's.
function onProfile(f) {
  const u = { user_id: f.user_id, username: f.username, display_name: f.display_name, avatar: f.avatar || null };
  if (f.user_id === myId()) { updateMe(u); renderMe(); refreshGroupInfo(); }
  else if (userById(f.user_id)) { rememberUser(f.user_id, { ...userById(f.user_id), ...u }); refreshGroupInfo(); }
  else return; // not shown here: fetched when it is
  redrawUser(f.user_id);
}

// This user read `cid` up to `mid`, here or on another device.
function applyReadState(cid, mid) {
  if (!hasConversation(cid)) return;
  // newer messages may be unread: the server's count says, unless the chat is on screen
  // (its newest is read next; a burst in the open chat asks for no list per message)
  if (!recordReadUpto(cid, mid) && !isViewing(cid)) scheduleConvRefresh();
  redrawConv(cid);
}
