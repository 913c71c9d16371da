// "… is typing": ours goes out at most every 3 s while the box has text; others' show
// for 5 s after their last `typing` frame (net/frames.js) or until their message arrives.
import { $ } from '../lib/dom.js';
import { openCid, socketReady, lastTypingSent, typingIn, clearTyping, setLastTypingSent } from '../state.js';
import { wsSend } from '../net/socket.js';
import { nameOf } from '../views/names.js';

export function renderTyping() {
  const el = $('typing');
  if (!el) return;
  const names = socketReady ? typingIn(openCid, Date.now()).map((uid) => nameOf(uid)) : [];
  el.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}

export function stopTyping(cid, uid) {
  if (clearTyping(cid, uid) && cid === openCid) renderTyping();
}

// The user typed in the open conversation.
export function noteTyping() {
  if (openCid && socketReady && Date.now() - lastTypingSent > 3000) {
    setLastTypingSent(Date.now());
    wsSend({ type: 'typing', conversation_id: openCid });
  }
}
