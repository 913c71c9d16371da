// Hubbub service worker: caches the app shell (never the API), and shows push
// notifications (the rules are in sw-push.js: what each push shows, where a click goes).
// The server fills in both constants when it serves this file (src/hubbub/api/static.py):
// SHELL lists every file of the client, walked from this directory, and CACHE is named
// after a hash of their content, so each release installs afresh and drops the old cache.
const SHELL = __HUBBUB_SHELL__;
const CACHE = __HUBBUB_CACHE__;
importScripts('/sw-push.js'); // pushAction, clickedConversation, chatUrl, pickWindow

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/v1/') || url.pathname === '/v1' || url.pathname === '/healthz') return; // never cache the API
  const isShell = req.mode === 'navigate' || SHELL.includes(url.pathname);
  if (!isShell) return;
  // network first, so a new version shows up at once; the cache is the offline fallback
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok && res.type === 'basic') {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(req.mode === 'navigate' ? '/' : req, copy));
        }
        return res;
      })
      .catch(() => caches.match(req.mode === 'navigate' ? '/' : req).then((r) => r || caches.match('/index.html'))),
  );
});

// The app icon's badge: the user's unread total, when the push says and the browser can.
function setBadge(unread) {
  const nav = self.navigator;
  if (unread === null || !nav || !nav.setAppBadge) return Promise.resolve();
  return (unread > 0 ? nav.setAppBadge(unread) : nav.clearAppBadge()).catch(() => {});
}

// A notification icon with the conversation's initials on its colour (a PNG data URL), or
// null where the worker cannot draw (no OffscreenCanvas): the app icon is shown then.
async function avatarIcon(avatar) {
  if (!avatar || typeof OffscreenCanvas === 'undefined') return null;
  try {
    const size = 192;
    const canvas = new OffscreenCanvas(size, size);
    const g = canvas.getContext('2d');
    g.fillStyle = avatar.color;
    g.beginPath(); g.arc(size / 2, size / 2, size / 2, 0, 2 * Math.PI); g.fill();
    g.fillStyle = '#fff';
    g.font = `600 ${size * 0.4}px system-ui, sans-serif`;
    g.textAlign = 'center'; g.textBaseline = 'middle';
    g.fillText(avatar.text, size / 2, size / 2 + size * 0.02);
    const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return `data:image/png;base64,${btoa(binary)}`;
  } catch { return null; }
}

async function onPush(data) {
  let payload = null;
  try { payload = data ? data.json() : null; } catch { /* not JSON: shown as a generic one */ }
  const act = pushAction(payload);
  if (act.close) {
    const shown = await self.registration.getNotifications({ tag: act.close });
    for (const n of shown) n.close();
  } else {
    // always a notification for a message (browsers penalise pushes that show nothing)
    const icon = await avatarIcon(act.avatar);
    await self.registration.showNotification(act.title, icon ? { ...act.options, icon } : act.options);
  }
  await setBadge(act.unread);
}

self.addEventListener('push', (event) => { event.waitUntil(onPush(event.data)); });

// Open the conversation: in a window of the app if one is open (it is asked to open the
// chat, then focused), else in a new one.
async function openConversation(cid) {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const win = pickWindow(all, self.location.origin);
  if (win) {
    win.postMessage({ type: 'open', cid });
    await win.focus().catch(() => {});
    return;
  }
  await self.clients.openWindow(chatUrl(cid));
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openConversation(clickedConversation(event.notification.data)));
});

// The push service replaced or dropped the subscription: subscribe again with the same
// key, and tell the open pages, which register it with the server (the worker holds no
// token); with none open, the next start sees the endpoint changed and registers it.
async function onSubscriptionChange(event) {
  const old = event.oldSubscription;
  const key = old && old.options && old.options.applicationServerKey;
  if (!event.newSubscription && key) {
    await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }).catch(() => null);
  }
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const c of all) c.postMessage({ type: 'push-changed' });
}

self.addEventListener('pushsubscriptionchange', (event) => { event.waitUntil(onSubscriptionChange(event)); });
