// The group info panel: name and members; members add people, the owner removes them,
// anyone leaves.
import { $, h } from '../lib/dom.js';
import { showAvatar } from './avatar.js';
import { myId, openCid, conversation } from '../state.js';
import { refreshGroup, addGroupMember, addToGroup, removeGroupMember, leaveGroup } from '../net/conversations.js';
import { dropConversation } from '../router.js';
import { nameOf, usernameOf, avatarOf } from './names.js';
import { showError, clearError } from './alerts.js';
import { askConfirm } from './confirm.js';
import { noteOwnAction } from './group-events.js';
import { attachPeoplePicker } from './people-picker.js';

export function wireGroupInfo() {
  $('btn-groupinfo').addEventListener('click', () => {
    if ($('group-info').hidden) openGroupInfo(); else closeGroupInfo(true);
  });
  $('gi-close').addEventListener('click', () => closeGroupInfo(true));
  // Add member: someone found by name (members are marked, not offered), or a username typed
  const people = attachPeoplePicker($('gi-add-input'), {
    label: 'People to add',
    after: $('gi-add-input').parentElement,
    offer: (u) => {
      const c = conversation(openCid);
      if (u.user_id === myId()) return false;
      return c && (c.members || []).includes(u.user_id) ? 'already in the group' : true;
    },
    pick: (u) => addMember(people, (c) => addToGroup(c, u), u.username),
  });
  $('gi-add').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('gi-add-input').value.trim().replace(/^@/, '');
    if (name) addMember(people, (c) => addGroupMember(c, name), name);
  });
  $('gi-leave').addEventListener('click', async (ev) => {
    const c = conversation(openCid);
    if (!c) return;
    const sure = await askConfirm({
      title: `Leave “${c.name || 'this group'}”?`,
      body: 'You will stop getting its messages. Only a member can add you back.',
      confirm: 'Leave group',
      opener: ev.currentTarget,
    });
    if (!sure) return;
    try {
      noteOwnAction(c.conversation_id, myId());
      await leaveGroup(c);
      dropConversation(c.conversation_id);
      clearError();
    } catch (e) { showError(e.message); }
  });
}

// Add to the open group whoever `adding` adds (it gives their profile).
async function addMember(picker, adding, who) {
  const c = conversation(openCid);
  if (!c) return;
  picker.reset();
  try {
    noteOwnAction(c.conversation_id, (await adding(c)).user_id);
    $('gi-add-input').value = '';
    clearError();
    await refreshGroup(c.conversation_id);
  } catch (e) { showError(e.code === 'not_found' ? `No user called “${who}”.` : e.message); }
}

function openGroupInfo() {
  $('group-info').hidden = false;
  $('btn-groupinfo').setAttribute('aria-expanded', 'true');
  renderGroupInfo();
  refreshGroup(openCid);
  $('gi-close').focus();
}

export function closeGroupInfo(focusBack) {
  const gi = $('group-info');
  if (!gi || gi.hidden) return;
  gi.hidden = true;
  $('btn-groupinfo').setAttribute('aria-expanded', 'false');
  if (focusBack) $('btn-groupinfo').focus();
}

// Draw the panel again if it is open.
export function refreshGroupInfo() {
  if (!$('group-info').hidden) renderGroupInfo();
}

function renderGroupInfo() {
  const c = conversation(openCid);
  if (!c || c.kind !== 'group') return;
  $('gi-name').textContent = c.name;
  const isOwner = c.owner_id === myId();
  const members = [...(c.members || [])].sort((a, b) => (a === myId() ? -1 : b === myId() ? 1 : nameOf(a).localeCompare(nameOf(b))));
  const items = members.map((uid) => {
    const tags = [];
    if (uid === c.owner_id) tags.push('owner');
    if (uid === myId()) tags.push('you');
    const li = h('li', {},
      h('span', { class: 'avatar small', 'aria-hidden': 'true' }),
      h('span', { class: 'mname' }, h('strong', { text: nameOf(uid), dir: 'auto' }), h('span', { class: 'muted small', text: `@${usernameOf(uid)}${tags.length ? ` · ${tags.join(', ')}` : ''}` })));
    showAvatar(li.firstChild, uid, nameOf(uid), avatarOf(uid));
    if (isOwner && uid !== myId()) {
      const uname = usernameOf(uid);
      li.append(h('button', {
        type: 'button', class: 'ghost danger-text',
        onclick: async () => {
          try {
            noteOwnAction(c.conversation_id, uid);
            await removeGroupMember(c, uid);
            clearError();
            await refreshGroup(c.conversation_id);
          } catch (e) { showError(e.message); }
        },
      }, `Remove ${uname}`));
    }
    return li;
  });
  // drawn anew, the list keeps focus where it was: on the button at the same place, the
  // next member's when that member was removed, else the Add member field
  const list = $('gi-members');
  const had = [...list.querySelectorAll('button')].indexOf(document.activeElement);
  list.replaceChildren(...items);
  if (had >= 0) {
    const buttons = list.querySelectorAll('button');
    (buttons[Math.min(had, buttons.length - 1)] || $('gi-add-input')).focus();
  }
}
