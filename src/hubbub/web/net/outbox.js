// Our messages go out through the outbox (docs/protocol.md §8): each gets its idempotency
// key once, is kept (persisted) until `sent` or a final error, and is sent again with the
// same key after every reconnect, so it is stored exactly once. A message with attachments
// is queued only once its files are uploaded (views/composer.js): the item keeps their
// attachment objects (the pending bubble shows them, after a reload too) and the frame
// names their media ids, so a resend carries the same files under the same key.
import { newClientId } from '../lib/ids.js';
import { myId, socketReady, outbox, queueOutgoing, addPendingMessage, setLastMessage } from '../state.js';
import { wsSend } from './socket.js';
import { redrawChat } from '../views/render.js';

function sendFrame(item) {
  const f = { type: 'send', client_msg_id: item.client_msg_id, conversation_id: item.conversation_id, body: item.body };
  if (item.attachments && item.attachments.length) f.attachments = item.attachments.map((a) => a.media_id);
  return f;
}

// A new message: into the outbox, on screen as pending and as the list's preview.
// `attachments`: the server's attachment objects of files already uploaded (then `body`
// may be '').
export function queueMessage(cid, body, attachments) {
  const item = { client_msg_id: newClientId(), conversation_id: cid, body, created: Date.now() };
  if (attachments && attachments.length) item.attachments = attachments;
  queueOutgoing(item);
  addPendingMessage(item);
  setLastMessage(cid, { message_id: null, conversation_id: cid, sender_id: myId(), body, ts: item.created, client_msg_id: item.client_msg_id, attachments: item.attachments }, item.created);
  return item;
}

// Send a queued message now if the socket is ready (else it goes with the next flush).
export function transmit(item) {
  if (socketReady) wsSend(sendFrame(item));
}

// After `ready`: everything still queued, again.
export function flushOutbox() {
  for (const item of outbox()) {
    addPendingMessage(item);
    wsSend(sendFrame(item));
  }
  redrawChat('messages');
}

// A passing refusal (`unavailable`, `internal`, `rate_limited`): try once more in a while,
// as long as the server said to wait (retry_after_ms) when it said so.
export function resendLater(clientMsgId, afterMs = 3000) {
  setTimeout(() => {
    const item = outbox().find((x) => x.client_msg_id === clientMsgId);
    if (item) wsSend(sendFrame(item));
  }, Math.max(afterMs, 50));
}
