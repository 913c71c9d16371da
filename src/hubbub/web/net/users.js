// REST about people: profiles (fetched once, on first sight), contacts and presence, and
// this user's own profile and settings. Answers go into state through its mutators.
import { api } from './rest.js';
import {
  openCid, hasUser, userById, userRequest, setUserRequest, forgetUserRequest, rememberUser,
  setPresence, updateMe, setMySettings,
} from '../state.js';
import { renderConvList } from '../views/list.js';
import { renderChatHead, renderMessages } from '../views/chat.js';
import { renderTyping } from '../features/typing.js';

// The profile of `uid`: at most one request each; what shows the name is drawn again.
export function getUser(uid) {
  if (hasUser(uid)) return Promise.resolve(userById(uid));
  if (!userRequest(uid)) {
    const p = api('GET', `/users/${uid}`).then((u) => {
      rememberUser(uid, u);
      renderConvList();
      if (openCid) { renderChatHead(); renderMessages(); renderTyping(); }
      return u;
    }).catch(() => { forgetUserRequest(uid); return null; });
    setUserRequest(uid, p);
  }
  return userRequest(uid);
}

// The user with this username (an ApiError `not_found` when there is none).
export async function findUser(username) {
  const u = await api('GET', `/users?username=${encodeURIComponent(username)}`);
  rememberUser(u.user_id, u);
  return u;
}

// Everyone this user watches: their profiles and presence.
export async function loadContacts() {
  const d = await api('GET', '/contacts');
  for (const x of d.contacts) {
    setPresence(x.user_id, x.status, x.last_active_at);
    rememberUser(x.user_id, { user_id: x.user_id, username: x.username, display_name: x.display_name });
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
