// The sidebar's panels (new chat, new group, settings) and the Log out button.
import { $ } from '../lib/dom.js';
import { me, myId, openCid } from '../state.js';
import { startDirectChat, startDirectChatWith, createGroup } from '../net/conversations.js';
import { saveDisplayName, saveHistoryDays, saveGroupAdds } from '../net/users.js';
import { logOut } from '../session.js';
import { goChat, leaveChatForNew } from '../router.js';
import { renderNotifyState } from '../features/notifications.js';
import { renderDevices } from '../features/devices.js';
import { showError, clearError } from './alerts.js';
import { renderConvList, renderMe } from './list.js';
import { renderChatHead, renderMessages } from './chat.js';
import { refreshGroupInfo, closeGroupInfo } from './group-info.js';
import { askConfirm } from './confirm.js';
import { wireAppearance, fillAppearance } from './appearance.js';
import { attachPeoplePicker } from './people-picker.js';

const panels = { newchat: 'panel-newchat', newgroup: 'panel-newgroup', settings: 'panel-settings' };
const buttons = { newchat: 'btn-newchat', newgroup: 'btn-newgroup', settings: 'btn-settings' };

// Open panel `name` (or close it if open); the others close.
function showPanel(name) {
  for (const [k, pid] of Object.entries(panels)) {
    const on = k === name && $(pid).hidden;
    $(pid).hidden = !on;
    $(buttons[k]).setAttribute('aria-expanded', String(on));
    if (on) {
      if (k === 'settings') fillSettings();
      const first = $(pid).querySelector('input');
      if (first) first.focus();
    }
  }
}
function closePanel(k) { $(panels[k]).hidden = true; $(buttons[k]).setAttribute('aria-expanded', 'false'); }

function fillSettings() {
  $('set-display').value = me.display_name;
  const d = me.settings && me.settings.history_retention_days;
  $('set-history').value = d == null ? '' : String(d);
  $('set-group-adds').value = (me.settings && me.settings.group_adds) || 'everyone';
  $('set-push-preview').value = (me.settings && me.settings.push_preview) || 'sender';
  fillAppearance();
  $('settings-status').textContent = '';
  renderNotifyState();
  renderDevices();
}

// Escape closes what is open, innermost first (a dialog and the mute menu handle it
// themselves), and focus goes back to the button that opened it, never to <body>.
function onEscape(ev) {
  if (ev.key !== 'Escape' || ev.defaultPrevented || document.querySelector('dialog[open]')) return;
  const open = Object.keys(panels).find((k) => $(panels[k]) && !$(panels[k]).hidden);
  if (open) {
    ev.preventDefault();
    closePanel(open);
    $(buttons[open]).focus();
    return;
  }
  const gi = $('group-info');
  if (gi && !gi.hidden) {
    ev.preventDefault();
    closeGroupInfo(true);
  }
}

// The usernames in a members field ("bob, @carol dave").
const usernames = (text) => text.split(/[\s,;]+/).map((s) => s.trim().replace(/^@/, '')).filter(Boolean);
// Those taken already: the last part of the field is still being typed.
const namesBeforeLastComma = () => usernames($('ng-members').value.split(/[,;]/).slice(0, -1).join(','));

// Open the direct chat that `start` gives (its conversation id), the panel done.
async function startChat(picker, start, who) {
  picker.reset();
  leaveChatForNew();
  try {
    const cid = await start();
    $('nc-username').value = '';
    closePanel('newchat');
    clearError();
    renderConvList();
    goChat(cid);
  } catch (e) {
    showError(e.code === 'not_found' ? `No user called “${who}”.` : e.message);
  }
}

export function wirePanels() {
  document.addEventListener('keydown', onEscape);
  wireAppearance();
  $('btn-logout').addEventListener('click', async (ev) => {
    const sure = await askConfirm({
      title: 'Log out?',
      body: 'This browser forgets your session and stops notifications; your messages stay on the server.',
      confirm: 'Log out',
      opener: ev.currentTarget,
    });
    if (sure) logOut();
  });
  for (const k of Object.keys(panels)) $(buttons[k]).addEventListener('click', () => showPanel(k));
  for (const b of document.querySelectorAll('[data-cancel]')) b.addEventListener('click', () => {
    const pid = b.closest('.panel').id;
    const k = Object.keys(panels).find((x) => panels[x] === pid);
    $(pid).hidden = true;
    $(buttons[k]).setAttribute('aria-expanded', 'false');
    $(buttons[k]).focus();
  });

  // New chat: someone found by name (not oneself), or a username typed in full
  const chatPeople = attachPeoplePicker($('nc-username'), {
    label: 'People to chat with',
    after: $('panel-newchat').querySelector('.row'), // under the buttons: they never move
    offer: (u) => u.user_id !== myId(),
    pick: (u) => startChat(chatPeople, () => startDirectChatWith(u.user_id), u.username),
  });
  $('panel-newchat').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('nc-username').value.trim().replace(/^@/, '');
    if (name) startChat(chatPeople, () => startDirectChat(name), name);
  });

  // New group: each member found by name (the username goes in) or typed
  attachPeoplePicker($('ng-members'), {
    label: 'People to add to the group',
    after: $('panel-newgroup').querySelector('.row'),
    termOf: (v) => v.split(/[,;]/).pop(),
    offer: (u) => u.user_id !== myId() && !namesBeforeLastComma().includes(u.username),
    pick: (u) => { $('ng-members').value = `${[...namesBeforeLastComma(), u.username].join(', ')}, `; },
  });

  $('panel-newgroup').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('ng-name').value.trim();
    if (!name) { showError('Give the group a name.'); return; }
    leaveChatForNew();
    try {
      const cid = await createGroup(name, usernames($('ng-members').value));
      $('ng-name').value = ''; $('ng-members').value = '';
      closePanel('newgroup');
      clearError();
      renderConvList();
      goChat(cid);
    } catch (e) { showError(e.message); }
  });

  $('form-name').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = $('set-display').value.trim();
    if (!v) { showError('The display name cannot be empty.'); return; }
    try {
      await saveDisplayName(v);
      renderMe();
      renderConvList();
      if (openCid) { renderChatHead(); renderMessages(); refreshGroupInfo(); }
      $('settings-status').textContent = 'Display name saved.';
      clearError();
    } catch (e) { showError(e.message); }
  });

  $('form-history').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const raw = $('set-history').value.trim();
    let val = null;
    if (raw !== '') {
      val = Number(raw);
      if (!Number.isInteger(val) || val < 1 || val > 3650) { showError('Keep history: enter a whole number of days from 1 to 3650, or leave it empty to keep forever.'); return; }
    }
    try {
      const s = await saveHistoryDays(val);
      $('settings-status').textContent = s.history_retention_days == null ? 'History is kept forever.' : `History is kept for ${s.history_retention_days} days.`;
      clearError();
    } catch (e) { showError(e.message); }
  });

  $('form-group-adds').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const choice = await saveGroupAdds($('set-group-adds').value);
      $('settings-status').textContent = choice === 'contacts' ? 'Only your contacts can add you to groups.' : 'Anyone can add you to groups.';
      clearError();
    } catch (e) { showError(e.message); }
  });
}
