// Hubbub service worker: caches the app shell, never touches the API.
// The server fills in both constants when it serves this file (src/hubbub/api/static.py):
// SHELL lists every file of the client, walked from this directory, and CACHE is named
// after a hash of their content, so each release installs afresh and drops the old cache.
const SHELL = __HUBBUB_SHELL__;
const CACHE = __HUBBUB_CACHE__;

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

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const cid = event.notification.data && event.notification.data.cid;
  event.waitUntil((async () => {
    const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const c of all) {
      if ('focus' in c) { await c.focus(); c.postMessage({ type: 'open', cid }); return; }
    }
    await self.clients.openWindow(cid ? `/#/c/${cid}` : '/');
  })());
});
