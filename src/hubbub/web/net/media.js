// Attachments over HTTP (docs/protocol.md, media): uploads, and the bytes of media shown.
//
// Every /v1/media request needs the Authorization header, and the token never goes in a
// URL (URLs end up in logs, history and Referer). An <img>/<video> src cannot send a
// header, so media are fetched here and shown through blob: URLs, which the page's CSP
// allows (img-src/media-src blob:); state.js keeps them and revokes them.
import { auth, mediaRequest, setMediaRequest, keepMediaUrl, forgetMediaRequest } from '../state.js';
import { ApiError } from './rest.js';
import { forceLogout } from '../session.js';

const errorOf = (status, data) => {
  const err = (data && data.error) || {};
  return new ApiError(status, err.code || 'error', err.message || `Request failed (${status})`);
};

// POST /v1/media with the file as the body. XMLHttpRequest, not fetch: only it reports
// upload progress. `onProgress(loaded, total)` as bytes go out. Returns {promise (the
// server's attachment object), abort}; refusals reject with the server's ApiError
// (code too_large, unsupported_media, rate_limited...), abort() with code 'aborted'.
export function uploadFile(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const q = file.name ? `?filename=${encodeURIComponent(file.name)}` : '';
    xhr.open('POST', `/v1/media${q}`);
    if (auth) xhr.setRequestHeader('Authorization', `Bearer ${auth.token}`);
    // only a hint: the server sniffs the bytes and refuses a claim they do not bear out
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.responseType = 'json';
    xhr.upload.onprogress = (ev) => { if (onProgress) onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size); };
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 200) { resolve(xhr.response); return; }
      if (xhr.status === 401 && auth) forceLogout('Your session has ended. Please log in again.');
      reject(errorOf(xhr.status, xhr.response));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Network error: the upload did not reach the server.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

// GET /v1/media/{id} (or its thumbnail) as a Blob.
async function fetchBlob(path) {
  let res;
  try {
    res = await fetch(`/v1${path}`, { headers: { Authorization: `Bearer ${auth ? auth.token : ''}` } });
  } catch {
    throw new ApiError(0, 'network', 'Network error: could not reach the server.');
  }
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { /* not JSON */ }
    throw errorOf(res.status, data);
  }
  return res.blob();
}

const mediaPath = (att, variant) => `/media/${att.media_id}${variant === 'thumb' ? '/thumbnail' : ''}`;

// A blob: URL of the attachment's thumbnail ('thumb') or file ('full'): one fetch per
// media id and variant while state keeps it (every bubble showing it shares the URL).
export function mediaUrl(att, variant) {
  return cachedUrl(`${att.media_id}:${variant}`, mediaPath(att, variant));
}

// A profile picture's thumbnail as a blob: URL: one fetch per media id for the session,
// however many rows, headers and member lists show it (a list of 500 chats with one
// person is one request). `knownAvatarUrl` is the URL if it is here already.
export const avatarUrl = (mediaId) => cachedUrl(`avatar:${mediaId}`, `/media/${mediaId}/thumbnail`);
export const knownAvatarUrl = (mediaId) => { const e = mediaRequest(`avatar:${mediaId}`); return e ? e.url : null; };

function cachedUrl(key, path) {
  const known = mediaRequest(key);
  if (known) return known.promise;
  let entry = null;
  const promise = fetchBlob(path).then((blob) => {
    const url = URL.createObjectURL(blob);
    // released meanwhile (another chat opened, a logout): nobody will revoke it later
    if (!keepMediaUrl(key, entry, url)) { URL.revokeObjectURL(url); throw new ApiError(0, 'released', 'No longer shown.'); }
    return url;
  });
  entry = setMediaRequest(key, promise);
  // a failure is not kept: the next render asks again
  promise.catch(() => forgetMediaRequest(key, entry));
  return promise;
}

// Save the attachment as a file: fetched with the token, handed to the browser through a
// blob: URL and an <a download> (the name is the upload's; the URL goes once it is used).
export async function saveMedia(att, name) {
  const blob = await fetchBlob(mediaPath(att, 'full'));
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // the download has started from the URL by the next task; a minute is ample margin
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
