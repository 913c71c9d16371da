// Logging in and out, and starting the app for the logged-in user.
import { deviceName } from './lib/format.js';
import { $ } from './lib/dom.js';
import { createTimer } from './lib/timer.js';
import {
  AUTH_KEY, auth, storedAuth, setAuth, adoptAuth, clearSession, startSession, cachedApp,
  upsertConversation, rememberUser, outbox, addPendingMessage, setNotifyChosen,
} from './state.js';
import { api } from './net/rest.js';
import { disablePush, dropBrowserSubscription } from './net/push.js';
import { startConnection, disconnect } from './net/socket.js';
import { loadConversations } from './net/conversations.js';
import { route } from './router.js';
import { showAuth } from './views/auth.js';
import { showError, setBanner } from './views/alerts.js';
import { mountAppScreen } from './views/app-screen.js';
import { renderConvList } from './views/list.js';
import { resumeNotifications } from './features/notifications.js';

const retryTimer = createTimer();
const RETRY_MS = 2000;

// `again`: the server could not be reached before, and the app as last seen is showing.
export async function boot(again = false) {
  retryTimer.clear();
  if (!auth) { showAuth(); return; }
  let profile;
  try {
    profile = await api('GET', '/me');
  } catch (e) {
    if (e.status === 401 || !auth) return; // forceLogout already showed the login screen
    // the server cannot be reached (or fails): the session is still good as far as anyone
    // knows, so the app as last seen shows, never the login form; tried again until it answers
    if (!again) showLastSeen();
    setBanner('Connecting…', true);
    retryTimer.after(RETRY_MS, () => boot(true));
    return;
  }
  startSession(profile);
  mountAppScreen();
  if (again) restoreList(); // no blank list until the server's arrives
  // optimistic bubbles for anything still queued
  for (const item of outbox()) addPendingMessage(item);
  try { await loadConversations(); } catch (e) { showError(e.message); }
  startConnection();
  route();
  resumeNotifications();
}

// The profile and the conversation list of the last session in this browser (an empty
// shell without them), with "Connecting…"; no chat opens until the server answers.
function showLastSeen() {
  const cached = cachedApp();
  const stub = { user_id: auth.user_id, username: '', display_name: '', settings: {} };
  startSession(cached && cached.me && cached.me.user_id === auth.user_id ? cached.me : stub);
  mountAppScreen();
  restoreList();
  $('banner-retry').addEventListener('click', () => boot(true)); // this screen's Retry now
}
function restoreList() {
  const cached = cachedApp();
  for (const u of (cached && cached.users) || []) if (u && u.user_id !== auth.user_id) rememberUser(u.user_id, u);
  for (const c of (cached && cached.conversations) || []) upsertConversation(c);
  renderConvList();
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
  retryTimer.clear();
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
