// The photo viewer: a modal <dialog> with the full image. showModal() keeps focus inside
// and closes on Escape; the close button and a click on the backdrop close it too, and
// focus goes back to the thumbnail that opened it. The thumbnail (already fetched) shows
// at once, scaled, and the full image replaces it when it comes; the full image can be
// big, so its blob: URL is revoked as soon as the viewer closes.
import { $ } from '../lib/dom.js';
import { fitBox } from '../lib/media.js';
import { viewing, setViewing, releaseMediaUrl } from '../state.js';
import { mediaUrl } from '../net/media.js';

export function wireViewer() {
  const dlg = $('viewer');
  $('viewer-close').addEventListener('click', () => dlg.close());
  dlg.addEventListener('click', (ev) => { if (ev.target === dlg) dlg.close(); }); // the backdrop
  dlg.addEventListener('close', onClosed);
}

export function openViewer(att, opener) {
  const dlg = $('viewer');
  if (dlg.open) return; // modal: nothing else can be clicked meanwhile
  setViewing(att);
  dlg._opener = opener; // where focus goes back to (DOM, kept on the element like _parts)
  const name = att.filename || 'Photo';
  const img = $('viewer-img');
  $('viewer-title').textContent = name;
  $('viewer-note').textContent = '';
  img.alt = name;
  img.removeAttribute('src');
  img.dataset.full = '';
  // the whole image in the viewport (never scaled up), its box known before any bytes
  const box = fitBox(att.width, att.height, Math.max(120, window.innerWidth - 32), Math.max(120, window.innerHeight - 110));
  img.style.width = box ? `${box.width}px` : '';
  img.style.aspectRatio = box ? `${box.width} / ${box.height}` : '';
  mediaUrl(att, 'thumb').then((url) => { if (viewing === att && !img.dataset.full) img.src = url; }).catch(() => {});
  mediaUrl(att, 'full').then((url) => {
    if (viewing !== att) return;
    img.src = url;
    img.dataset.full = '1';
  }).catch((e) => { if (viewing === att && e.code !== 'released') $('viewer-note').textContent = `The full image could not be loaded (${e.message}).`; });
  dlg.showModal();
  $('viewer-close').focus();
}

// Close it if open (another chat opens, a logout): focus is not moved then.
export function closeViewer() {
  const dlg = $('viewer');
  if (!dlg || !dlg.open) return;
  dlg._opener = null;
  dlg.close();
}

function onClosed() {
  const dlg = $('viewer');
  const att = viewing;
  setViewing(null);
  $('viewer-img').removeAttribute('src');
  if (att) releaseMediaUrl(`${att.media_id}:full`);
  const opener = dlg._opener;
  dlg._opener = null;
  if (opener && opener.isConnected) opener.focus();
}
