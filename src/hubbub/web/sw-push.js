// The service worker's push rules, as pure functions: what a push shows, and where a click
// on a notification goes. sw.js loads this file with importScripts(), so it is a classic
// script (its functions are globals of the worker), not a module; the browser tests call
// these functions in the worker itself (tests/e2e/test_web_push.py).

const PUSH_ICON = '/icon-192.png';
const PUSH_ID = /^\d{1,19}$/;

const pushText = (v, max) => (typeof v === 'string' && v.trim() ? v.slice(0, max) : null);
const pushId = (v) => ((typeof v === 'string' || typeof v === 'number') && PUSH_ID.test(String(v)) ? String(v) : null);
const pushCount = (v) => (Number.isInteger(v) && v >= 0 ? v : null);

// The page's avatar rules (lib/format.js colorFor and initials), repeated here because a
// classic worker script cannot import the page's modules; a browser test checks they agree.
const PUSH_PALETTE = ['#cf3f3f', '#ab602b', '#896f22', '#4f7e20', '#218349', '#207e77',
  '#297aa3', '#3f6fcf', '#835ad6', '#b539ce', '#ca3297', '#ce3b60'];
function pushColor(id) {
  let x = 0;
  for (const ch of String(id)) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
  return PUSH_PALETTE[x % PUSH_PALETTE.length];
}
// Graphemes, not code points: a family emoji (three people joined by ZWJ) or a flag (two
// regional letters) is one character to a person, and half of one is a broken glyph.
const GRAPHEMES = typeof Intl !== 'undefined' && Intl.Segmenter
  ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
const firstGrapheme = (word) => {
  if (!word) return '';
  if (GRAPHEMES) { for (const { segment } of GRAPHEMES.segment(word)) return segment; }
  return [...word][0];
};
function pushInitials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const a = firstGrapheme(parts[0]) || '?';
  const b = parts.length > 1 ? firstGrapheme(parts[parts.length - 1]) : '';
  return (a + b).toUpperCase();
}

// A push's decrypted payload (docs/protocol.md §5.7), or anything else, to what to do:
// {close: cid, unread} for `read`; {title, options, unread} to show. Never throws: a
// payload that cannot be understood still shows a generic notification.
function pushAction(p) {
  const ok = p !== null && typeof p === 'object';
  const cid = ok ? pushId(p.conversation_id) : null;
  if (ok && p.type === 'read' && cid) return { close: cid, unread: pushCount(p.unread) };
  if (ok && p.type === 'message' && cid) {
    const sender = pushText(p.sender_name, 100);
    const preview = pushText(p.preview, 200);
    const group = p.conversation_kind === 'group' ? pushText(p.group_name, 100) : null;
    const text = preview || (sender ? 'New message' : 'Open Hubbub to read it.');
    // the conversation's avatar, as the app draws it: a group's, or the sender's; none
    // when the preview level hides who wrote (the app icon then)
    const senderId = pushId(p.sender_id);
    const avatar = group ? { text: pushInitials(group), color: pushColor(cid) }
      : sender && senderId ? { text: pushInitials(sender), color: pushColor(senderId) } : null;
    return {
      title: group || sender || 'New message',
      avatar,
      options: {
        body: group && sender ? `${sender}: ${text}` : text,
        tag: cid, // one notification per conversation: a newer message replaces it
        renotify: true, // ... and still rings
        icon: PUSH_ICON,
        data: { conversation_id: cid, message_id: pushId(p.message_id) },
      },
      unread: pushCount(p.unread),
    };
  }
  return {
    title: 'New message',
    options: { body: 'Open Hubbub to read it.', tag: 'hubbub', icon: PUSH_ICON, data: { conversation_id: null, message_id: null } },
    unread: null,
  };
}

// The conversation a clicked notification is for (the page's own use `cid`), or null.
function clickedConversation(data) {
  if (!data || typeof data !== 'object') return null;
  return pushId(data.conversation_id) || pushId(data.cid);
}

// Where a click goes when no window of the app is open: the router's #/c/<id>.
function chatUrl(cid) {
  return cid ? `/#/c/${cid}` : '/';
}

// Of the app's windows (clients.matchAll), the one to focus: the focused one, else a
// visible one, else the first; null when there is none.
function pickWindow(windows, origin) {
  const ours = windows.filter((w) => typeof w.url === 'string' && w.url.startsWith(`${origin}/`));
  return ours.find((w) => w.focused) || ours.find((w) => w.visibilityState === 'visible') || ours[0] || null;
}
