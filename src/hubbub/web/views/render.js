// What the screen shows is drawn again at most once per animation frame (lib/frame.js):
// state changes mark what they touched, and the next frame draws just that. The list
// updates only the rows marked (keyed by conversation id; moved, not rebuilt, when the
// order changes); a profile or presence that arrives marks only where that person shows.
import { createFrameBatch } from '../lib/frame.js';
import { openCid } from '../state.js';
import { drawConvList } from './list.js';
import { renderChatHead, renderMessages } from './chat.js';
import { renderTyping } from '../features/typing.js';

const frame = createFrameBatch(draw);

export const redrawList = () => frame.mark('list'); // every row
export const redrawConv = (cid) => frame.mark('conv', cid); // one row, and its place
export const redrawUser = (uid) => frame.mark('user', uid); // wherever uid's name or presence shows
// the open chat's 'head', 'messages' or 'typing'
export const redrawChat = (...parts) => { for (const p of parts) frame.mark(p); };
// fn runs after the next draw: what it looks for (a row to focus) is on the page by then
export const afterDraw = (fn) => frame.mark('after', fn);

function draw(d) {
  const users = d.get('user');
  if (d.has('list') || d.has('conv') || users) drawConvList(d.has('list') ? null : d.get('conv') || new Set(), users);
  if (openCid) {
    if (users || d.has('head')) renderChatHead();
    if (users || d.has('messages')) renderMessages();
    if (users || d.has('typing')) renderTyping();
  }
  for (const fn of d.get('after') || []) fn();
}
