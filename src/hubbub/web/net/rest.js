// REST (docs/protocol.md): every request goes through api(), which sends the session's
// token and turns a refusal into an ApiError. A 401 outside /sessions means the session
// has ended: the user is sent back to the login screen. A 429 carries its Retry-After
// (`retryAfter`, seconds). `signal` (an AbortSignal) cancels the request: it then rejects
// with the browser's AbortError, not an ApiError.
import { auth } from '../state.js';
import { forceLogout } from '../session.js';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message); this.status = status; this.code = code; this.retryAfter = retryAfter;
  }
}

// A server (or a proxy) that takes the connection and never answers would leave the
// caller waiting for ever ("Loading…" at start): after this long it is a network error,
// and the callers' retrying takes over.
export const REQUEST_TIMEOUT_MS = 20000;

// `signal`: the caller's own abort (a newer search replaces an older one); its abort
// rejects with the browser's AbortError, as fetch does.
export async function api(method, path, body, { signal } = {}) {
  const headers = {};
  if (auth) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS); // the page's clock
  const forward = () => abort.abort(signal.reason);
  if (signal) signal.addEventListener('abort', forward, { once: true });
  let res;
  let data = null;
  try {
    try {
      if (signal && signal.aborted) forward();
      res = await fetch(`/v1${path}`, { method, headers, signal: abort.signal, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      if (signal && signal.aborted) throw e;
      throw abort.signal.aborted
        ? new ApiError(0, 'timeout', 'The server did not answer in time.')
        : new ApiError(0, 'network', 'Network error: could not reach the server.');
    }
    if (res.status === 204) return null;
    try { data = await res.json(); } catch { /* empty, or cut off by the timeout */ }
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', forward);
  }
  if (signal && signal.aborted) throw new DOMException('The request was replaced', 'AbortError');
  if (!res.ok) {
    const err = (data && data.error) || {};
    const wait = Number(res.headers.get('Retry-After')); // whole seconds (docs/protocol.md 7.1)
    const e = new ApiError(res.status, err.code || 'error', err.message || `Request failed (${res.status})`, wait > 0 ? wait : null);
    if (res.status === 401 && auth && !path.startsWith('/sessions')) forceLogout('Your session has ended. Please log in again.');
    throw e;
  }
  return data;
}
