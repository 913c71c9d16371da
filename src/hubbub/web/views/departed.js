// A group this user left or was removed from stays on screen, read only, for the rest of
// the session: its history as it was, "You left this group" or "You were removed from this
// group" where the composer was, and no way to add members or leave again. (The server
// forgets the chat for a former member: after a reload it is gone.) Being added back
// brings the composer back (the server's list has the chat again, without the mark).
import { $, h } from '../lib/dom.js';
import { myId, conversation, upsertConversation, updateGroup } from '../state.js';
import { noteDeparture } from './group-events.js';
import { rescueFocus } from './focus.js';

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

function notice() {
  let el = $('chat-notice');
  if (!el) {
    el = h('p', { id: 'chat-notice', class: 'chat-notice', role: 'status', tabindex: '-1', hidden: true });
    $('composer').before(el);
  }
  return el;
}

// The open chat's composer, or the notice in its place.
export function renderDeparted(c) {
  const how = c && c.departed;
  const el = notice();
  el.hidden = !how;
  el.textContent = how === 'left' ? 'You left this group.' : how ? 'You were removed from this group.' : '';
  $('composer').hidden = !!how;
  $('tray').hidden = how ? true : $('tray').hidden;
  $('gi-add').hidden = !!how;
  $('gi-leave').hidden = !!how;
  // What had focus (the composer being typed in, the Leave button) may just have been
  // hidden: the notice that says why takes it, so a keyboard user stays in the chat.
  if (how) rescueFocus(el);
}
