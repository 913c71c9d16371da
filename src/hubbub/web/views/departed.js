// A group this user left or was removed from stays in the list, read only, until they
// delete it: its history up to the departure, "You left this group" or "You were removed
// from this group" where the composer was with a "Delete chat" button, and no way to add
// members or leave again. The mark (`departed`: 'left' or 'removed') is the server's
// (`membership` in GET /v1/conversations, so it holds across reloads and on every device)
// or, until the list is fetched again, this page's own (the `group` frame that left this
// user out). Being added back brings the composer back (the server's list has the chat
// again, without the mark); deleting the chat takes it off every device of this user.
import { $, h } from '../lib/dom.js';
import { myId, openCid, conversation, upsertConversation, updateGroup } from '../state.js';
import { noteDeparture } from './group-events.js';
import { rescueFocus } from './focus.js';
import { askConfirm } from './confirm.js';
import { showError, clearError } from './alerts.js';
import { deleteChat } from '../net/conversations.js';

// `cid` is a group we are out of: kept, marked. False for what is not a group.
export function keepDeparted(cid) {
  const c = conversation(cid);
  if (!c || c.kind !== 'group') return false;
  if (c.departed) return true;
  const how = noteDeparture(cid);
  updateGroup(cid, { members: (c.members || []).filter((u) => u !== myId()) });
  upsertConversation({ ...conversation(cid), departed: how });
  return true;
}

async function onDelete(ev) {
  const cid = openCid;
  const c = conversation(cid);
  if (!c || !c.departed) return;
  const sure = await askConfirm({
    title: `Delete “${c.name || 'this group'}”?`,
    body: 'Its messages go from this device and from your other devices. You cannot get them back.',
    confirm: 'Delete chat',
    opener: ev.currentTarget,
  });
  if (!sure) return;
  try {
    await deleteChat(cid);
    clearError();
  } catch (e) { showError(e.message); }
}

function box() {
  let el = $('chat-departed');
  if (!el) {
    el = h('div', { id: 'chat-departed', class: 'chat-notice', hidden: true },
      h('p', { id: 'chat-notice', role: 'status', tabindex: '-1' }),
      h('button', { type: 'button', id: 'chat-delete', class: 'ghost danger-text', onclick: onDelete }, 'Delete chat'));
    $('composer').before(el);
  }
  return el;
}

// The open chat's composer, or the notice in its place.
export function renderDeparted(c) {
  const how = c && c.departed;
  box().hidden = !how;
  const el = $('chat-notice');
  el.textContent = how === 'left' ? 'You left this group.' : how ? 'You were removed from this group.' : '';
  $('composer').hidden = !!how;
  $('tray').hidden = how ? true : $('tray').hidden;
  $('gi-add').hidden = !!how;
  $('gi-leave').hidden = !!how;
  // What had focus (the composer being typed in, the Leave button) may just have been
  // hidden: the notice that says why takes it, so a keyboard user stays in the chat.
  if (how) rescueFocus(el);
}
