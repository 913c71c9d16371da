// What a person or a conversation is called on screen. A profile not known yet shows
// "…" and is fetched; whatever shows it is drawn again when it arrives.
import { me, myId, userById } from '../state.js';
import { plainText } from '../lib/markup.js';
import { getUser } from '../net/users.js';
import { attachmentsLabel } from '../lib/media.js';

export function nameOf(uid) {
  if (me && uid === me.user_id) return me.display_name;
  const u = userById(uid);
  if (u) return u.display_name || u.username;
  getUser(uid);
  return '…';
}

export function usernameOf(uid) {
  if (me && uid === me.user_id) return me.username;
  const u = userById(uid);
  if (u) return u.username;
  getUser(uid);
  return '…';
}

// The media id of a person's profile picture, or null (initials then).
export function avatarOf(uid) {
  if (me && uid === me.user_id) return me.avatar || null;
  const u = userById(uid);
  return (u && u.avatar) || null;
}

// A conversation's picture: a direct chat's is the other person's (groups have none).
export const convAvatar = (c) => (c && c.kind === 'direct' ? avatarOf(c.peer_id) : null);

export function convTitle(c) {
  if (!c) return '';
  if (c.kind === 'group') return c.name || 'Group';
  if (c.peer_id === myId()) return `${me.display_name} (you)`;
  return nameOf(c.peer_id);
}

// The list's preview of `c` as [who wrote it (null when it goes without saying), text].
export function previewParts(c) {
  const m = c.last_message;
  if (!m) return [null, c.kind === 'group' ? 'New group' : 'No messages yet'];
  // a message with attachments: "📷 Photo" alone, or before its caption
  const text = plainText(m.body).replace(/\s+/g, ' ').slice(0, 120); // as the chat shows it
  const label = attachmentsLabel(m.attachments);
  const body = label ? (text.trim() ? `${label.split(' ')[0]} ${text}` : label) : text;
  if (m.sender_id === myId()) return ['You', body];
  if (c.kind === 'group') return [nameOf(m.sender_id), body];
  return [null, body];
}

export function previewText(c) {
  const [who, text] = previewParts(c);
  return who ? `${who}: ${text}` : text;
}
