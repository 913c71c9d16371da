// PushManager stubbed for tests/e2e/test_web_push.py (an init script in every page of a
// context; INIT is replaced by the subscription's endpoint and keys). Headless Chromium
// cannot reach a real push service. The subscription lives in localStorage (a real one
// outlives the page), and the test can move its endpoint through window.__pushStub.
((init) => {
  const KEY = '__pushStub';
  const load = () => JSON.parse(localStorage.getItem(KEY) || 'null') || { ...init, active: false, subscribed: 0, unsubscribed: 0 };
  const save = (s) => localStorage.setItem(KEY, JSON.stringify(s));
  const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const unb64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;
  function subscription(s) {
    return {
      endpoint: s.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: unb64(s.key) },
      getKey: (name) => unb64(name === 'p256dh' ? s.p256dh : s.auth),
      toJSON: () => ({ endpoint: s.endpoint, expirationTime: null, keys: { p256dh: s.p256dh, auth: s.auth } }),
      unsubscribe: async () => { const t = load(); t.active = false; t.unsubscribed++; save(t); return true; },
    };
  }
  PushManager.prototype.subscribe = async function (options) {
    const s = load();
    if (!options || options.userVisibleOnly !== true) throw new DOMException('userVisibleOnly', 'NotAllowedError');
    s.key = b64(options.applicationServerKey);
    s.active = true; s.subscribed++;
    save(s);
    return subscription(s);
  };
  PushManager.prototype.getSubscription = async function () {
    const s = load();
    return s.active ? subscription(s) : null;
  };
  window.__pushStub = { load, save };
})(INIT)
