// Browser notifications for new messages while the tab is hidden (opt-in in Settings);
// clicking one opens its conversation.
import { $ } from '../lib/dom.js';
import { notifyChosen, setNotifyChosen } from '../state.js';
import { goChat } from '../router.js';
import { nameOf } from '../views/names.js';

export function notifyOn() {
  return 'Notification' in window && Notification.permission === 'granted' && notifyChosen();
}

export function renderNotifyState() {
  const st = $('notify-state');
  if (!st) return;
  const btn = $('btn-notify');
  if (!('Notification' in window)) { st.textContent = 'Not supported in this browser.'; btn.disabled = true; return; }
  if (Notification.permission === 'denied') { st.textContent = 'Blocked in the browser settings.'; btn.setAttribute('aria-pressed', 'false'); return; }
  const on = notifyOn();
  btn.setAttribute('aria-pressed', String(on));
  st.textContent = on ? 'On: you are notified while Hubbub is in the background.' : 'Off';
}

export function wireNotifications() {
  $('btn-notify').addEventListener('click', async () => {
    if (!('Notification' in window)) { renderNotifyState(); return; }
    if (notifyOn()) { setNotifyChosen(false); renderNotifyState(); return; }
    let perm = Notification.permission;
    if (perm === 'default') perm = await Notification.requestPermission();
    setNotifyChosen(perm === 'granted');
    renderNotifyState();
  });
}

// A new message `m` in conversation `c` (undefined when not in the list yet).
export function notify(c, m) {
  if (!notifyOn() || !document.hidden) return;
  const title = c ? (c.kind === 'group' ? `${nameOf(m.sender_id)} in ${c.name}` : nameOf(m.sender_id)) : 'New message';
  const opts = { body: m.body.slice(0, 240), tag: m.conversation_id, icon: '/icon-192.png', data: { cid: m.conversation_id } };
  try {
    const n = new Notification(title, opts);
    n.onclick = () => { window.focus(); goChat(m.conversation_id); n.close(); };
  } catch {
    if (navigator.serviceWorker) navigator.serviceWorker.ready.then((r) => r.showNotification(title, opts)).catch(() => {});
  }
}

// The service worker's notificationclick (sw.js) asks the page to open a conversation.
export function onWorkerMessage(ev) {
  if (ev.data && ev.data.type === 'open' && ev.data.cid) goChat(ev.data.cid);
}
