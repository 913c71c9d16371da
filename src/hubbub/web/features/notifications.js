// Notifications (opt-in in Settings, off by default). Turning the switch on asks the
// browser's permission (only from that click) and subscribes this device to Web Push
// (net/push.js), so the service worker shows new messages even when Hubbub is closed;
// while a tab is open and hidden, the page shows them itself (notify). Clicking one opens
// its conversation. Muted conversations are not notified.
import { $ } from '../lib/dom.js';
import { attachmentsLabel } from '../lib/media.js';
import { auth, notifyChosen, setNotifyChosen, pushRecord, mutedUntil } from '../state.js';
import { pushSupported, enablePush, disablePush, syncPush } from '../net/push.js';
import { savePushPreview } from '../net/users.js';
import { goChat } from '../router.js';
import { nameOf } from '../views/names.js';

export function notifyOn() {
  return 'Notification' in window && Notification.permission === 'granted' && notifyChosen();
}

const PREVIEW_SAVED = {
  full: 'Notifications show who wrote and the start of the message.',
  sender: 'Notifications show who wrote, not the message.',
  none: 'Notifications only say that a message came.',
};

// The switch and the line beside it; `note` says what went wrong or is going on.
export function renderNotifyState(note) {
  const st = $('notify-state');
  if (!st) return;
  const btn = $('btn-notify');
  const on = notifyOn();
  btn.setAttribute('aria-checked', String(on));
  if (!('Notification' in window)) { st.textContent = 'This browser cannot show notifications.'; btn.disabled = true; return; }
  if (note) st.textContent = note;
  else if (Notification.permission === 'denied') st.textContent = 'Notifications are blocked for Hubbub in this browser’s settings. Allow them there, then turn this on.';
  else if (!on) st.textContent = 'Off';
  else if (pushRecord()) st.textContent = 'On: new messages are shown even when Hubbub is closed.';
  else st.textContent = 'On while Hubbub is open in a tab (this browser cannot be notified when it is closed).';
}

async function turnOn() {
  // the permission prompt comes only from this click, and is asked before anything else
  const perm = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  if (perm !== 'granted') {
    setNotifyChosen(false);
    renderNotifyState(perm === 'denied' ? undefined : 'Notifications stay off: the browser did not get permission.');
    return;
  }
  setNotifyChosen(true);
  if (!pushSupported()) { renderNotifyState(); return; }
  renderNotifyState('Turning on…');
  try {
    await enablePush();
    renderNotifyState();
  } catch (e) {
    renderNotifyState(`On while Hubbub is open. Notifications when it is closed could not be set up: ${e.message}`);
  }
}

async function turnOff() {
  setNotifyChosen(false);
  renderNotifyState('Turning off…');
  try {
    await disablePush();
    renderNotifyState();
  } catch (e) {
    renderNotifyState(`Off. The server could not be told yet (${e.message}); it will be on the next start.`);
  }
}

export function wireNotifications() {
  $('btn-notify').addEventListener('click', () => {
    if (!('Notification' in window)) renderNotifyState();
    else if (notifyOn()) turnOff();
    else turnOn();
  });
  $('form-push-preview').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      $('settings-status').textContent = PREVIEW_SAVED[await savePushPreview($('set-push-preview').value)];
    } catch (e) { $('settings-status').textContent = e.message; }
  });
}

// At start, and when the worker says the browser's subscription changed: the server's
// subscription for this device follows the choice (re-registered, or deleted).
export function resumeNotifications() {
  if (!auth) return;
  syncPush(notifyOn()).then(() => renderNotifyState()).catch(() => {});
}

// A new message `m` in conversation `c` (undefined when not in the list yet).
export function notify(c, m) {
  if (!notifyOn() || !document.hidden || mutedUntil(m.conversation_id) !== null) return;
  const title = c ? (c.kind === 'group' ? `${nameOf(m.sender_id)} in ${c.name}` : nameOf(m.sender_id)) : 'New message';
  const opts = { body: (m.body || attachmentsLabel(m.attachments)).slice(0, 240), tag: m.conversation_id, icon: '/icon-192.png', data: { conversation_id: m.conversation_id } };
  try {
    const n = new Notification(title, opts);
    n.onclick = () => { window.focus(); goChat(m.conversation_id); n.close(); };
  } catch {
    if (navigator.serviceWorker) navigator.serviceWorker.ready.then((r) => r.showNotification(title, opts)).catch(() => {});
  }
}

// `cid` was read here: what the worker shows for it goes (the server clears other devices).
export function clearShown(cid) {
  if (!navigator.serviceWorker || !notifyOn()) return;
  navigator.serviceWorker.getRegistration()
    .then((r) => (r ? r.getNotifications({ tag: cid }) : []))
    .then((shown) => { for (const n of shown) n.close(); })
    .catch(() => {});
}

// From the service worker (sw.js): open a conversation (a notification was clicked), or
// the browser's push subscription changed (register it again).
export function onWorkerMessage(ev) {
  if (!ev.data) return;
  if (ev.data.type === 'open' && ev.data.cid) goChat(ev.data.cid);
  else if (ev.data.type === 'push-changed') resumeNotifications();
}
