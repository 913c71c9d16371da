// A message bubble's attachments: a photo as its thumbnail (a click opens the viewer),
// audio and video as the browser's own players, anything else as a download button with
// its name and size. Built once per bubble (attachments never change).
//
// Every box is sized before its bytes come, from the attachment's width and height, so
// the list does not jump when a thumbnail loads (and scrolling to the bottom stays true).
import { h } from '../lib/dom.js';
import { fmtSize } from '../lib/format.js';
import { mediaKind, fitBox, fileName, fileLabel } from '../lib/media.js';
import { mediaUrl, saveMedia } from '../net/media.js';
import { openViewer } from './viewer.js';
import { showError } from './alerts.js';

const THUMB_MAX = 320; // px: the server's thumbnails are 320 on their longer side
const UNKNOWN_BOX = { width: 240, height: 180 }; // no size known (older uploads)
// Audio and video up to this size are fetched as soon as their bubble is drawn, so the
// player's controls work at once; bigger ones wait until someone presses Play. Why a
// bound: a blob: URL holds the whole file in memory (a <video src> cannot send the
// token, so it cannot stream /v1/media with ranges), and a chat full of long videos must
// not download them all just by being opened. 8 MB covers voice notes and short clips.
const AUTOLOAD_BYTES = 8 * 1024 * 1024;

export function buildAttachments(atts) {
  return h('div', { class: `atts${atts.length > 1 ? ' many' : ''}` }, atts.map(buildOne));
}

function buildOne(att) {
  const kind = mediaKind(att);
  if (kind === 'image') return buildImage(att);
  if (kind === 'video' || kind === 'audio') return buildPlayer(att, kind);
  return buildFile(att);
}

// Sizes a box to the media's aspect ratio: the width is fixed, CSS lets it shrink to the
// bubble (max-width) and the aspect ratio gives the height.
function sizeBox(el, box) {
  el.style.width = `${box.width}px`;
  el.style.aspectRatio = `${box.width} / ${box.height}`;
}

function unavailable(el, e) {
  if (e && e.code === 'released') return; // the chat was left meanwhile
  el.classList.add('att-broken');
  el.title = `Not available (${(e && e.message) || 'error'})`;
}

function buildImage(att) {
  const name = att.filename || 'Photo';
  const box = fitBox(att.width, att.height, THUMB_MAX, THUMB_MAX) || UNKNOWN_BOX;
  const img = h('img', { alt: name, width: box.width, height: box.height, decoding: 'async' });
  const btn = h('button', { type: 'button', class: 'att att-image', 'aria-label': `Open photo ${name}` }, img);
  btn.addEventListener('click', () => openViewer(att, btn));
  sizeBox(btn, box);
  img.addEventListener('load', () => btn.classList.add('loaded'));
  img.addEventListener('error', () => { if (img.getAttribute('src')) unavailable(btn); });
  mediaUrl(att, 'thumb').then((url) => { img.src = url; }).catch((e) => unavailable(btn, e));
  return btn;
}

function buildPlayer(att, kind) {
  const noun = kind === 'video' ? 'Video' : 'Audio';
  const player = h(kind, { controls: true, preload: 'metadata', 'aria-label': `${noun}: ${fileName(att)}` });
  const cap = h('span', { class: 'att-cap', text: fileLabel(att) });
  const wrap = h('div', { class: `att att-${kind}` }, player, cap);
  if (kind === 'video') sizeBox(wrap, fitBox(att.width, att.height, THUMB_MAX, THUMB_MAX) || { width: 320, height: 180 });
  const load = () => mediaUrl(att, 'full').then((url) => { player.src = url; wrap.classList.add('loaded'); });
  if (att.size <= AUTOLOAD_BYTES) {
    load().catch((e) => unavailable(wrap, e));
    return wrap;
  }
  // big: a Play button stands in for the player until the file is here
  player.hidden = true;
  const play = h('button', { type: 'button', class: 'att-play' }, `▶ Play ${noun.toLowerCase()} (${fmtSize(att.size)})`);
  play.addEventListener('click', () => {
    play.disabled = true;
    play.textContent = 'Loading…';
    load().then(() => {
      play.remove();
      player.hidden = false;
      player.focus();
      player.play().catch(() => { /* autoplay refused: the controls are there */ });
    }).catch((e) => {
      if (e.code === 'released') return;
      play.disabled = false;
      play.textContent = `▶ Play ${noun.toLowerCase()} (${fmtSize(att.size)})`;
      showError(`Could not load ${fileName(att)}: ${e.message}`);
    });
  });
  wrap.insertBefore(play, cap);
  return wrap;
}

function buildFile(att) {
  const name = fileName(att);
  const btn = h('button', { type: 'button', class: 'att att-file', 'aria-label': `Download ${fileLabel(att)}` },
    h('span', { class: 'att-icon', 'aria-hidden': 'true' }, '📎'),
    h('span', { class: 'att-name', text: name }),
    h('span', { class: 'att-size', text: `· ${fmtSize(att.size)}` }));
  btn.addEventListener('click', () => {
    btn.disabled = true;
    saveMedia(att, name)
      .catch((e) => showError(`Could not download ${name}: ${e.message}`))
      .finally(() => { btn.disabled = false; });
  });
  return btn;
}
