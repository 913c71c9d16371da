// Watermarks we send (docs/protocol.md): `ack` for what this device received (the
// sender's "delivered"), `read` for what the user has seen in the open conversation.
import { idGt } from '../lib/ids.js';
import { createTimer } from '../lib/timer.js';
import {
  lastSeq, ackedSeq, head, openCid, socketReady, conversation, chatOf, clearUnread,
  readSentFor, noteReadSent, setAckedSeq,
} from '../state.js';
import { wsSend } from './socket.js';
import { redrawConv } from '../views/render.js';
import { clearShown } from '../features/notifications.js';

const ackTimer = createTimer();

// Ack the newest seq received, once for a burst of frames.
export function scheduleAck() {
  if (ackTimer.pending) return;
  ackTimer.after(200, () => {
    if (lastSeq > ackedSeq && lastSeq <= head && wsSend({ type: 'ack', seq: lastSeq })) setAckedSeq(lastSeq);
  });
}

export function isViewing(cid) {
  return openCid === cid && document.visibilityState === 'visible';
}

// The open conversation is on screen: it is read up to its newest message.
export function maybeSendRead() {
  const cid = openCid;
  if (!cid || !socketReady || document.visibilityState !== 'visible') return;
  const c = conversation(cid);
  if (!c) return;
  let newest = null;
  for (const m of chatOf(cid).msgs.values()) if (m.message_id && idGt(m.message_id, newest)) newest = m.message_id;
  if (c.last_message && c.last_message.message_id && idGt(c.last_message.message_id, newest)) newest = c.last_message.message_id;
  if (!newest) return;
  if (c.unread_count) { clearUnread(cid); redrawConv(cid); clearShown(cid); }
  if (c.read_upto && !idGt(newest, c.read_upto)) return;
  if (readSentFor(cid) === newest) return;
  noteReadSent(cid, newest);
  wsSend({ type: 'read', conversation_id: cid, message_id: newest });
}
