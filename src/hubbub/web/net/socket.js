// The WebSocket (docs/protocol.md): discovery of the node to use, hello with our seq,
// heartbeat, and reconnecting with backoff (at most 5 s, with jitter), or at once when
// asked (Retry now), when the browser is back online or the tab is shown again. Frames
// received go to net/frames.js.
import { createTimer } from '../lib/timer.js';
import {
  auth, lastSeq, seqStored, socket, socketReady, stopped, attempt, heartbeatInterval, lastFrameAt,
  skipDiscovery, connecting, setSocket, setStopped, nextAttempt, resetAttempts, noteFrame,
  setSkipDiscovery, setConnecting, forgetLive,
} from '../state.js';
import { onFrame } from './frames.js';
import { forceLogout } from '../session.js';
import { setBanner } from '../views/alerts.js';
import { redrawList, redrawChat } from '../views/render.js';

const reconnectTimer = createTimer();
// `since` for a device with no stored position: no backlog (docs/protocol.md §6.2); the
// list, unread counts and last messages come over REST, a chat's history when it opens.
// Normally the list's `head` is stored first (net/conversations.js) and this is not used:
// only when the list could not be read before the socket opened.
const NO_BACKLOG = Number.MAX_SAFE_INTEGER;
const heartbeat = createTimer();

// Send a frame if the socket is up and `ready`; false when it could not be sent.
export function wsSend(frame) {
  if (socket && socketReady && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
  return false;
}

// Same-origin socket URL: the fallback whenever discovery has no usable answer.
function sameOriginWs() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/ws`;
}
// GET /v1/discovery names the node to connect to; any failure (older server, 503,
// network, a URL the page may not open) means same-origin.
async function discoverWs() {
  if (skipDiscovery) { setSkipDiscovery(false); return null; }
  try {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 3000);
    const res = await fetch('/v1/discovery', { signal: ctl.signal, cache: 'no-store' });
    clearTimeout(t);
    if (!res.ok) return null;
    const d = await res.json();
    const url = d && typeof d.ws_url === 'string' ? d.ws_url : '';
    if (!/^wss?:\/\//.test(url)) return null;
    if (location.protocol === 'https:' && url.startsWith('ws:')) return null; // mixed content
    return url;
  } catch { return null; }
}

// Logged in: connect now, and again whenever the socket goes.
export function startConnection() {
  setStopped(false);
  connect();
}

async function connect() {
  if (stopped || !auth || connecting) return;
  reconnectTimer.clear();
  setConnecting(true);
  let discovered;
  try { discovered = await discoverWs(); } finally { setConnecting(false); }
  if (stopped || !auth || (socket && socket.readyState <= WebSocket.OPEN)) return;
  const url = discovered || sameOriginWs();
  let sock;
  try { sock = new WebSocket(url); } catch {
    if (discovered) setSkipDiscovery(true);
    scheduleReconnect(discovered ? 0 : undefined);
    return;
  }
  setSocket(sock);
  let sawReady = false;
  const token = auth.token;
  sock.onopen = () => { if (sock === socket) sock.send(JSON.stringify({ type: 'hello', token, since: lastSeq || (seqStored() ? 0 : NO_BACKLOG) })); };
  sock.onmessage = (ev) => {
    if (sock !== socket) return;
    noteFrame();
    let f;
    try { f = JSON.parse(ev.data); } catch { return; }
    if (f && f.type === 'ready') sawReady = true;
    try { onFrame(f); } catch (e) { console.error('frame handling failed', e, f); }
  };
  sock.onclose = (ev) => {
    if (sock !== socket) return;
    setSocket(null);
    stopHeartbeat();
    lostLive();
    if (ev.code === 4001 || ev.code === 4002) {
      forceLogout(ev.code === 4002 ? 'You have been logged out.' : 'Your session is no longer valid. Please log in again.');
      return;
    }
    // a discovered node that never said `ready`: retry at once on the same origin
    const fellThrough = discovered && !sawReady;
    if (fellThrough) setSkipDiscovery(true);
    scheduleReconnect(ev.code === 4008 || fellThrough ? 0 : undefined);
  };
  sock.onerror = () => { /* close follows */ };
}

// The longest wait between tries: a server back from a restart is found within seconds.
const MAX_BACKOFF = 5000;

function scheduleReconnect(delay) {
  if (stopped) return;
  setBanner('Reconnecting…', true);
  if (delay === undefined) {
    // jitter: the clients of a restarted server do not all come back at the same instant
    const base = Math.min(MAX_BACKOFF, 500 * 2 ** attempt);
    delay = base / 2 + Math.random() * (base / 2);
  }
  nextAttempt();
  reconnectTimer.after(delay, connect);
}

// Try now rather than at the next backoff; a try still hanging (a network that swallows
// packets) starts over.
export function retryNow() {
  if (stopped || !auth || socketReady) return;
  if (socket) dropSocket();
  resetAttempts();
  connect();
}

// After `ready`: ping every heartbeat interval; a socket silent for 2.5 intervals is dead.
export function startHeartbeat() {
  heartbeat.every(Math.max(1000, heartbeatInterval * 1000), () => {
    if (!socket) return;
    if (Date.now() - lastFrameAt > 2.5 * heartbeatInterval * 1000) {
      dropSocket();
      scheduleReconnect();
      return;
    }
    wsSend({ type: 'ping' });
  });
}
function stopHeartbeat() { heartbeat.clear(); }

function dropSocket() {
  const s = socket;
  setSocket(null);
  try { s.close(); } catch { /* ignore */ }
  stopHeartbeat();
  lostLive();
}

// Presence and typing stop showing with the socket (what is not heard is not known).
function lostLive() {
  forgetLive();
  redrawList();
  redrawChat('head', 'typing');
}

// Logged out (here or in another tab): close the socket, and do not reconnect.
export function disconnect() {
  setStopped(true);
  reconnectTimer.clear();
  stopHeartbeat();
  if (socket) { const s = socket; setSocket(null); try { s.close(1000); } catch { /* ignore */ } }
}

// The browser's online / offline events, and the tab shown again: a socket that went
// silent meanwhile (a laptop asleep) is dropped rather than waited for.
export function onOnline() { retryNow(); }
export function onVisible() {
  if (document.visibilityState !== 'visible' || stopped) return;
  if (socket && socketReady && Date.now() - lastFrameAt > 2.5 * heartbeatInterval * 1000) dropSocket();
  retryNow();
}
export function onOffline() {
  if (stopped || !socket) return;
  dropSocket();
  scheduleReconnect();
}
