// Logging in and out, and starting the app for the logged-in user.
import { deviceName } from './lib/format.js';
import { mountTemplate } from './lib/dom.js';
import {
  AUTH_KEY, auth, me, storedAuth, setAuth, adoptAuth, clearSession, startSession, forgetProfile,
  outbox, addPendingMessage, setNotifyChosen,
} from './state.js';
import { api } from './net/rest.js';
import { disablePush, dropBrowserSubscription } from './net/push.js';
import { startConnection, disconnect } from './net/socket.js';
import { loadConversations } from './net/conversations.js';
import { route } from './router.js';
import { showAuth } from './views/auth.js';
import { showError } from './views/alerts.js';
import { mountAppScreen } from './views/app-screen.js';
import { resumeNotifications } from './features/notifications.js';

export async function boot() {
  if (!auth) { showAuth(); return; }
  let profile;
  try {
    profile = await api('GET', '/me');
  } catch (e) {
    if (e.status === 401) return; // forceLogout already showed the login screen
    // a tab following another tab's login still holds the old profile: without this the
    // retry below never ran, and the old chats could still be routed to
    forgetProfile();
    mountTemplate('tpl-auth');
    showAuth(`Cannot reach the server (${e.message}). Retrying…`);
    setTimeout(() => { if (auth && !me) boot(); }, 3000);
    return;
  }
  startSession(profile);
  mountAppScreen();
  // optimistic bubbles for anything still queued
  for (const item of outbox()) addPendingMessage(item);
  try { await loadConversations(); } catch (e) { showError(e.message); }
  startConnection();
  route();
  resumeNotifications();
}

// The login form: sign up first for 'signup', then log in as a new device. Throws an
// ApiError the form shows.
export async function logIn(mode, username, password, displayName) {
  if (mode === 'signup') {
    const body = { username, password };
    if (displayName) body.display_name = displayName;
    await api('POST', '/users', body);
  }
  const s = await api('POST', '/sessions', { username, password, device_name: deviceName() });
  setAuth({ token: s.token, user_id: s.user_id, device_id: s.device_id });
  await boot();
}

export async function logOut() {
  // while the token works: the browser unsubscribes and the server deletes the subscription
  try { await disablePush(); } catch { /* the server drops the device's subscriptions at logout too */ }
  try { await api('DELETE', '/sessions/current'); } catch { /* already gone */ }
  forceLogout();
}

// Back to the login screen (the session ended, was logged out, or is no longer valid).
// Push goes too: the next login here starts with notifications off.
export function forceLogout(message) {
  dropBrowserSubscription();
  setNotifyChosen(false);
  disconnect();
  clearSession();
  if (location.hash) history.replaceState(null, '', location.pathname);
  showAuth(message);
}

// Another tab logged out, or logged in: follow it.
export function onStorage(ev) {
  if (ev.key !== AUTH_KEY) return;
  const next = storedAuth();
  if (!next && auth) forceLogout('You logged out in another tab.');
  else if (next && (!auth || next.token !== auth.token)) { disconnect(); adoptAuth(next); boot(); }
}
