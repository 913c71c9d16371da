// Hubbub web client: plain ES modules, no build step. index.html loads this module; it
// listens to the browser and starts the app. Rule: user data only ever enters the page
// as text (textContent / text nodes, see lib/dom.js).
//
//   state.js     the one owner of mutable state; everything else reads it and calls its mutators
//   session.js   log in / out, start the app        router.js  which chat is open (#/c/<id>)
//   net/         rest.js (fetch), socket.js (WebSocket, reconnect, heartbeat), frames.js
//                (every server frame is handled there), acks.js (ack / read), outbox.js
//                (sending exactly once), users.js and conversations.js (REST -> state),
//                push.js (Web Push subscription, mute), media.js (uploads; media as blob: URLs)
//   views/       draw from state: list.js (sidebar), chat.js (open chat), composer.js,
//                tray.js (files to send), attachments.js (a bubble's media), viewer.js,
//                panels.js, group-info.js, mute.js, auth.js, alerts.js; names.js, status.js;
//                people-picker.js (find people as you type), appearance.js (Settings' theme);
//                msg-access.js (messages by keys and screen reader), focus.js (never <body>)
//                inside a chat (issue 13): message-body.js (markup, Read more), separators.js
//                (dates, unread, Jump to latest), group-events.js, departed.js, message-menu.js,
//                chat-search.js; their CSS is messages.css
//   features/    notifications.js (the switch, push, the tab's own), typing.js
//   lib/         helpers without state: dom.js, ids.js, format.js, storage.js, timer.js, base64.js, markup.js, days.js,
//                media.js (an attachment's kind, box and label)
//   theme.js     a classic script index.html runs first: the colour theme before the first paint
//   sw.js        the service worker (app shell cache, push notifications; rules in sw-push.js)
//
// Modules only declare things when imported; what runs is started here.
import { openCid, saveAppCache } from './state.js';
import { boot, onStorage } from './session.js';
import { route } from './router.js';
import { onOnline, onOffline, onVisible } from './net/socket.js';
import { maybeSendRead } from './net/acks.js';
import { renderChatHead } from './views/chat.js';
import { onWorkerMessage } from './features/notifications.js';

window.addEventListener('hashchange', route);
setInterval(() => { if (openCid) renderChatHead(); }, 30000); // "last seen 5 minutes ago" moves on
document.addEventListener('visibilitychange', () => { maybeSendRead(); onVisible(); }); // onVisible: reconnect at once
window.addEventListener('focus', () => { maybeSendRead(); });
window.addEventListener('online', onOnline);
window.addEventListener('offline', onOffline);
if (navigator.serviceWorker) navigator.serviceWorker.addEventListener('message', onWorkerMessage);
window.addEventListener('storage', onStorage); // another tab logged in or out
window.addEventListener('pagehide', saveAppCache); // the list as last seen, for a load without the server

if ('serviceWorker' in navigator && (location.protocol === 'https:' || location.hostname === 'localhost' || location.hostname === '127.0.0.1')) {
  window.addEventListener('load', () => { navigator.serviceWorker.register('/sw.js').catch(() => {}); });
}

boot();
