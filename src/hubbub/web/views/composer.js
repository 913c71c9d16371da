// The message box: Enter sends, Shift+Enter adds a line; it grows with its text, which is
// the open chat's draft (kept in state.js as it is typed, shown again when the chat opens,
// cleared by sending). With files in the tray (views/tray.js), Send uploads them first,
// one at a time with a progress bar each, then queues one message carrying them all and
// the text as caption.
import { $ } from '../lib/dom.js';
import { codePoints } from '../lib/ids.js';
import { MAX_ATTACHMENTS } from '../lib/media.js';
import {
  openCid, uploading, setLastTypingSent, trayItems, trayItem, clearTray, setUploading, setTrayUpload,
  draftOf, setDraft,
} from '../state.js';
import { queueMessage, transmit } from '../net/outbox.js';
import { uploadFile } from '../net/media.js';
import { noteTyping } from '../features/typing.js';
import { showError, clearError } from './alerts.js';
import { renderConvList } from './list.js';
import { renderMessages } from './chat.js';
import { wireTray, renderTray } from './tray.js';

export function wireComposer() {
  const input = $('msg-input');
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      sendCurrent();
    }
  });
  input.addEventListener('input', () => {
    autosize();
    setDraft(openCid, input.value); // the open chat's draft, kept as it is typed
    if (input.value.trim()) noteTyping();
  });
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); sendCurrent(); });
  wireTray();
}

function autosize() {
  const el = $('msg-input');
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
}

// Another chat opens: its composer shows that chat's draft (files being uploaded are
// cancelled: they are not part of it).
export function showDraft(cid) {
  $('msg-input').value = draftOf(cid);
  autosize();
  clearTray();
  renderTray();
}

const currentBody = () => $('msg-input').value.replace(/\u0000/g, '');

async function sendCurrent() {
  const cid = openCid;
  if (!cid || uploading) return;
  const hasFiles = trayItems().length > 0;
  if (!hasFiles && !currentBody().trim()) return;
  if (codePoints(currentBody()) > 100000) { showError('That message is too long (the limit is 100,000 characters).'); return; }
  let attachments;
  if (hasFiles) {
    if (trayItems().length > MAX_ATTACHMENTS) { showError(`A message can carry at most ${MAX_ATTACHMENTS} files.`); return; }
    attachments = await uploadTray();
    // refused (the error shows, the text and the files stay) or cancelled (another chat
    // opened); otherwise it goes to the chat it was written in, even if that was closed
    if (!attachments) return;
  }
  // read again: the caption may have been edited while the files went up
  const body = currentBody();
  const item = queueMessage(cid, hasFiles && !body.trim() ? '' : body, attachments);
  setDraft(cid, '');
  const input = $('msg-input');
  input.value = '';
  autosize();
  clearTray();
  renderTray();
  setLastTypingSent(0);
  renderMessages({ toBottom: true });
  renderConvList();
  transmit(item);
}

// The attachment a message names, from the upload's answer (its thumbnail path is
// implied by the type: every image has one).
function attachmentOf(m) {
  const a = { media_id: m.media_id, content_type: m.content_type, size: m.size, sha256: m.sha256 };
  for (const k of ['filename', 'width', 'height', 'duration_ms']) if (m[k] != null) a[k] = m[k];
  return a;
}

// Upload what the tray has not uploaded yet: its attachments in order, or null after a
// refusal (shown, with the server's words) or when the tray was cleared meanwhile.
async function uploadTray() {
  const keys = trayItems().map((x) => x.key);
  setUploading(true);
  clearError();
  renderTray();
  try {
    for (const key of keys) {
      const x = trayItem(key);
      if (!x) return null; // cleared: another chat opened
      if (x.media) continue; // uploaded by an earlier try
      const up = uploadFile(x.file, (loaded) => { setTrayUpload(key, { loaded }); renderTray(); });
      setTrayUpload(key, { abort: up.abort, loaded: 0, error: '' });
      renderTray();
      try {
        const m = await up.promise;
        setTrayUpload(key, { media: attachmentOf(m), loaded: x.size, abort: null });
      } catch (e) {
        if (e.code === 'aborted') return null;
        setTrayUpload(key, { error: e.message, loaded: 0, abort: null });
        showError(`Could not upload ${x.name || 'the file'}: ${e.message}`);
        return null;
      }
    }
    return keys.map((k) => trayItem(k)).every(Boolean) ? keys.map((k) => trayItem(k).media) : null;
  } finally {
    if (keys.some((k) => trayItem(k))) setUploading(false); // (a cleared tray reset it already)
    renderTray();
  }
}
