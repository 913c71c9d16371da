// Web Push for this device (docs/push.md, "The web client"): the browser's subscription,
// made with the server's VAPID key, registered with the server (POST /push/subscriptions),
// and removed from both when notifications are turned off or the user logs out. The
// notifications themselves are shown by the service worker (sw.js, sw-push.js).
import { api } from './rest.js';
import { fromBase64Url } from '../lib/base64.js';
import { auth, pushRecord, setPushRecord, setMutedUntil } from '../state.js';

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

// The active worker's registration; ready never settles without one (plain http on a host
// other than localhost), so give up after a while.
function registration() {
  const late = new Promise((_, reject) => {
    setTimeout(() => reject(new Error('the service worker did not start')), 10000);
  });
  return Promise.race([navigator.serviceWorker.ready, late]);
}

async function serverKey() {
  return fromBase64Url((await api('GET', '/push/vapid-public-key')).key);
}

// The subscription was made with another key (the server's changed): it cannot be used.
function otherKey(sub, key) {
  const k = sub.options && sub.options.applicationServerKey;
  if (!k) return false;
  const a = new Uint8Array(k);
  return a.length !== key.length || a.some((x, i) => x !== key[i]);
}

// The browser's subscription for the server's key, made if there is none.
async function browserSubscription() {
  const reg = await registration();
  const key = await serverKey();
  let sub = await reg.pushManager.getSubscription();
  if (sub && otherKey(sub, key)) { await sub.unsubscribe().catch(() => {}); sub = null; }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  return sub;
}

async function register(sub) {
  const j = sub.toJSON();
  const body = { kind: 'webpush', endpoint: j.endpoint, keys: { p256dh: j.keys.p256dh, auth: j.keys.auth } };
  const out = await api('POST', '/push/subscriptions', body);
  setPushRecord({ subscription_id: out.subscription_id, endpoint: j.endpoint });
}

// Notifications turned on (permission granted): subscribe and register. Throws an Error
// whose message the settings show.
export async function enablePush() {
  await register(await browserSubscription());
}

// The browser forgets its subscription (no request to the server); never throws.
export async function dropBrowserSubscription() {
  setPushRecord(null);
  if (!pushSupported()) return;
  try {
    const reg = await navigator.serviceWorker.getRegistration();
    const sub = reg && (await reg.pushManager.getSubscription());
    if (sub) await sub.unsubscribe();
  } catch { /* nothing to drop */ }
}

// Notifications turned off, or logging out (while the token still works): the browser
// unsubscribes and the server deletes the subscription. A failed DELETE is retried by
// syncPush() on the next start (and the push service answers 410 meanwhile).
export async function disablePush() {
  const rec = pushRecord();
  await dropBrowserSubscription();
  if (rec && auth) {
    try { await api('DELETE', `/push/subscriptions/${rec.subscription_id}`); } catch (e) {
      if (e.status !== 404) { setPushRecord(rec); throw e; }
    }
  }
}

// At start (and when the worker says the subscription changed): make the server's list
// match the browser. Wanted: the browser's subscription (made again if it went) is the one
// the server has for this device, registered anew if its endpoint differs. Not wanted: a
// subscription this device still has on the server is deleted.
export async function syncPush(wanted) {
  if (!wanted) {
    if (pushRecord()) await disablePush();
    return;
  }
  if (!pushSupported()) return;
  const sub = await browserSubscription();
  const { subscriptions } = await api('GET', '/push/subscriptions');
  const mine = subscriptions.find((s) => s.kind === 'webpush' && s.device_id === auth.device_id && s.endpoint === sub.endpoint);
  if (mine) setPushRecord({ subscription_id: mine.subscription_id, endpoint: sub.endpoint });
  else await register(sub);
}

// Mute `cid` until `until` (ms, -1 for ever) or unmute it (null), for this user: the
// server sends no pushes for it meanwhile. The stored value.
export async function saveMute(cid, until) {
  const out = await api('PATCH', `/conversations/${cid}`, { muted_until: until });
  setMutedUntil(cid, out.muted_until);
  return out.muted_until;
}
