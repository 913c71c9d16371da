// Where focus goes when what held it goes away (a chat closes, a group is left, a row is
// hidden at phone width): never to <body>, where someone on a keyboard or a screen reader
// would start again from the top of the page.
import { $ } from '../lib/dom.js';

// Nothing useful has focus: <body>, or an element gone or no longer drawn.
export function focusIsLost() {
  const el = document.activeElement;
  return !el || el === document.body || !el.isConnected || el.getClientRects().length === 0;
}

export function rescueFocus(el) {
  if (el && focusIsLost()) el.focus();
}

// In the conversation list: the row of `cid`, else the first row, else "New chat".
export function listFocusTarget(cid) {
  const list = $('conv-list');
  if (!list) return null;
  return (cid && list.querySelector(`a.conv[href="#/c/${cid}"]`)) || list.querySelector('a.conv') || $('btn-newchat');
}
