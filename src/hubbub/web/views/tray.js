// Files to send with the next message, and the three ways in: the Attach button (a
// hidden <input type=file multiple>), dropping files on the chat, and pasting them.
// They wait in a tray above the composer (name, size, a Remove button; a progress bar
// while uploading); the composer's text becomes their caption (views/composer.js sends).
import { $, h, syncChildren, keyedChildren } from '../lib/dom.js';
import { fmtSize } from '../lib/format.js';
import { MAX_ATTACHMENTS, mediaKind } from '../lib/media.js';
import { openCid, uploading, trayItems, addToTray, removeFromTray } from '../state.js';
import { showError } from './alerts.js';

const ICONS = { image: '📷', video: '🎥', audio: '🎵', file: '📎' };
const hasFiles = (ev) => !!ev.dataTransfer && [...ev.dataTransfer.types].includes('Files');

export function wireTray() {
  const input = $('file-input');
  $('btn-attach').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    addFiles([...input.files]);
    input.value = ''; // picking the same file again is a change too
  });

  const pane = $('chat-view');
  const hint = $('drop-hint');
  pane.addEventListener('dragenter', (ev) => { if (hasFiles(ev)) { ev.preventDefault(); hint.hidden = false; } });
  pane.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault(); // this is a drop target
    ev.dataTransfer.dropEffect = 'copy';
    hint.hidden = false;
  });
  // leaving for a child of the pane is not leaving the pane
  pane.addEventListener('dragleave', (ev) => { if (!ev.relatedTarget || !pane.contains(ev.relatedTarget)) hint.hidden = true; });
  pane.addEventListener('drop', (ev) => {
    hint.hidden = true;
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    addFiles([...ev.dataTransfer.files]);
  });
  // a file dropped anywhere else must not make the browser open it in place of the app
  $('app').addEventListener('dragover', (ev) => { if (hasFiles(ev) && !pane.contains(ev.target)) { ev.preventDefault(); ev.dataTransfer.dropEffect = 'none'; } });
  $('app').addEventListener('drop', (ev) => { if (hasFiles(ev)) ev.preventDefault(); });

  // pasted files (a screenshot, an image copied from a page): into the tray, not the text
  pane.addEventListener('paste', (ev) => {
    const files = ev.clipboardData ? [...ev.clipboardData.files] : [];
    if (!files.length) return;
    ev.preventDefault();
    addFiles(files);
  });
}

// Files picked, dropped or pasted: into the tray, up to the message's limit.
export function addFiles(files) {
  if (!openCid || !files.length) return;
  if (uploading) { showError('Wait until the files being sent are uploaded.'); return; }
  const empty = files.filter((f) => f.size === 0);
  const room = MAX_ATTACHMENTS - trayItems().length;
  const usable = files.filter((f) => f.size > 0);
  for (const f of usable.slice(0, Math.max(0, room))) addToTray(f);
  if (usable.length > room) {
    showError(`A message can carry at most ${MAX_ATTACHMENTS} files: ${usable.length - Math.max(0, room)} not added.`);
  } else if (empty.length) {
    showError(`${empty.map((f) => f.name || 'A file').join(', ')}: empty, not added.`);
  }
  renderTray();
  $('msg-input').focus();
}

export function renderTray() {
  const list = $('tray');
  if (!list) return;
  const arr = trayItems();
  const items = keyedChildren(list);
  const els = [];
  for (const x of arr) {
    let li = items.get(x.key);
    if (!li) { li = buildItem(x); items.set(x.key, li); }
    updateItem(li, x);
    els.push(li);
  }
  syncChildren(list, els);
  for (const k of [...items.keys()]) if (!arr.some((x) => x.key === k)) items.delete(k);
  list.hidden = arr.length === 0;
  $('btn-attach').disabled = uploading;
  $('btn-send').disabled = uploading;
  $('composer').setAttribute('aria-busy', String(uploading));
}

function buildItem(x) {
  const name = x.name || 'file';
  const progress = h('progress', { max: x.size || 1, value: 0, 'aria-label': `Uploading ${name}` });
  const error = h('span', { class: 'tray-error' }); // the toast (role=alert) says it aloud
  const remove = h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Remove ${name}`, title: 'Remove' }, '✕');
  remove.addEventListener('click', () => {
    removeFromTray(x.key);
    renderTray();
    $('msg-input').focus();
  });
  const li = h('li', { class: 'tray-item' },
    h('span', { class: 'tray-icon', 'aria-hidden': 'true' }, ICONS[mediaKind({ content_type: x.type })]),
    h('span', { class: 'tray-main' },
      h('span', { class: 'tray-name', text: name }),
      h('span', { class: 'tray-size', text: fmtSize(x.size) }),
      progress, error),
    remove);
  li._parts = { progress, error, remove };
  return li;
}

function updateItem(li, x) {
  const p = li._parts;
  // shown while this send is uploading (a finished file stays full)
  p.progress.hidden = !(uploading || x.media) || !!x.error;
  p.progress.value = x.media ? p.progress.max : Math.min(x.loaded, p.progress.max);
  p.error.textContent = x.error || '';
  p.error.hidden = !x.error;
  li.classList.toggle('failed', !!x.error);
  p.remove.disabled = uploading;
}
