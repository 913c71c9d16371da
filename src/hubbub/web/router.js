// Which conversation is on screen follows the URL: #/c/<conversation id>.
import { me, openCid, navigatedIn, hasConversation, noteNavigatedIn, removeConversation } from './state.js';
import { showError } from './views/alerts.js';
import { renderConvList } from './views/list.js';
import { openChat, closeChat, renderChatHead, renderMessages } from './views/chat.js';
import { keepDeparted } from './views/departed.js';

export function goChat(cid) {
  noteNavigatedIn();
  if (hasConversation(cid)) openChat(cid); // synchronously, so typing right away goes to this chat
  if (location.hash !== `#/c/${cid}`) location.hash = `#/c/${cid}`;
}

export function route() {
  if (!me) return;
  const m = /^#\/c\/(\d{1,19})$/.exec(location.hash);
  const cid = m ? m[1] : null;
  if (cid && hasConversation(cid)) openChat(cid);
  else closeChat();
}

// The chat's Back button (phone width): back in history if we came from the list.
export function goBack() {
  if (navigatedIn && history.length > 1) history.back();
  else { history.replaceState(null, '', location.pathname); route(); }
}

// While a new chat is being set up, no old chat stays open, so nothing typed goes to the wrong place.
export function leaveChatForNew() {
  if (!openCid) return;
  if (location.hash) history.replaceState(null, '', location.pathname);
  closeChat();
}

// A conversation gone from this user's list: a former group deleted (here or on another
// device), or one the server no longer lists. Nothing is said: the user asked for it.
export function forgetConversation(cid) {
  removeConversation(cid);
  if (openCid === cid) {
    history.replaceState(null, '', location.pathname);
    closeChat();
  }
  renderConvList();
}

// A conversation we are no longer in (left or removed: a group stays, read only).
export function dropConversation(cid, quiet) {
  if (keepDeparted(cid)) { // a group: kept read only (views/departed.js)
    if (openCid === cid) { renderChatHead(); renderMessages(); }
    renderConvList();
    return;
  }
  removeConversation(cid);
  if (openCid === cid) {
    if (!quiet) showError('You are no longer in that group.');
    history.replaceState(null, '', location.pathname);
    closeChat();
  }
  renderConvList();
}
