// REST about people: profiles (fetched once, on first sight, in batches), contacts and
// presence, and this user's own profile and settings. Answers go into state through its
// mutators.
import { api } from './rest.js';
import { createBatch } from '../lib/batch.js';
import {
  userById, userRequest, setUserRequest, forgetUserRequest, rememberUser,
  setPresence, updateMe, setMySettings, myId,
} from '../state.js';
import { redrawUser } from '../views/render.js';

// The profiles asked for in one tick, 100 a request (GET /users/batch); where each shows
// is drawn again (at the next frame, once for them all).
const lookUp = createBatch(async (uids) => {
  const d = await api('GET', `/users/batch?ids=${uids.join(',')}`);
  const found = new Map();
  for (const u of d.users) { rememberUser(u.user_id, u); found.set(u.user_id, u); redrawUser(u.user_id); }
  return found;
}, 100);

// The profile of `uid` (null when there is none or it could not be fetched): at most one
// request each.
export function getUser(uid) {
  if (userById(uid)) return Promise.resolve(userById(uid));
  if (!userRequest(uid)) setUserRequest(uid, lookUp(uid).then((u) => { if (!u) forgetUserRequest(uid); return u; }));
  return userRequest(uid);
}

// The user with this username (an ApiError `not_found` when there is none).
export async function findUser(username) {
  const u = await api('GET', `/users?username=${encodeURIComponent(username)}`);
  rememberUser(u.user_id, u);
  return u;
}

// People whose username or display name starts with `term` (GET /users/search: at most
// 20; a 429 when searching too fast). Their profiles join the name cache, so what they are
// called is known wherever they show next, and shows anew where they show already.
export async function searchPeople(term, signal) {
  const d = await api('GET', `/users/search?q=${encodeURIComponent(term)}`, undefined, { signal });
  const found = (d && d.users) || [];
  for (const u of found) if (u.user_id !== myId()) { rememberUser(u.user_id, u); redrawUser(u.user_id); }
  return found;
}

// Everyone this user watches: their profiles and presence.
export async function loadContacts() {
  const d = await api('GET', '/contacts');
  for (const x of d.contacts) {
    setPresence(x.user_id, x.status, x.last_active_at);
    rememberUser(x.user_id, { user_id: x.user_id, username: x.username, display_name: x.display_name, avatar: x.avatar || null });
  }
}

export function addContact(uid) { return api('PUT', `/contacts/${uid}`); }

export async function loadPresence(uid) {
  const p = await api('GET', `/users/${uid}/presence`);
  setPresence(uid, p.status, p.last_active_at);
}

export async function saveDisplayName(name) {
  const u = await api('PATCH', '/me', { display_name: name });
  updateMe(u);
  return u;
}

// The profile picture: the media id of an image I uploaded, or null for none.
export async function saveAvatar(mediaId) {
  const u = await api('PATCH', '/me', { avatar: mediaId });
  updateMe(u);
  return u;
}

export async function saveHistoryDays(days) {
  const s = await api('PUT', '/me/settings', { history_retention_days: days });
  setMySettings(s);
  return s;
}

// Who may put me in a group: 'everyone' or 'contacts'.
export async function saveGroupAdds(choice) {
  await api('PATCH', '/me', { group_adds: choice });
  setMySettings({ group_adds: choice });
  return choice;
}

// What a push notification shows: 'full' (sender and text), 'sender' or 'none'.
export async function savePushPreview(level) {
  await api('PATCH', '/me', { push_preview: level });
  setMySettings({ push_preview: level });
  return level;
}
