// Muting the open conversation, from its header: for 1 hour, 8 hours or always, and
// unmuting. A muted conversation gets no pushes (the server's rule, PATCH
// /conversations/{id}) and no notifications from the page; unread counts still count.
import { $ } from '../lib/dom.js';
import { fmtTime } from '../lib/format.js';
import { openCid, mutedUntil } from '../state.js';
import { saveMute } from '../net/push.js';
import { showError, clearError } from './alerts.js';
import { renderConvList } from './list.js';

const HOUR = 3600000;
const CHOICES = { '1h': () => Date.now() + HOUR, '8h': () => Date.now() + 8 * HOUR, always: () => -1 };

export function wireMute() {
  $('btn-mute').addEventListener('click', () => {
    if (mutedUntil(openCid) !== null) setMute(null);
    else if ($('mute-menu').hidden) openMuteMenu();
    else closeMuteMenu(true);
  });
  for (const b of $('mute-menu').querySelectorAll('[data-mute]')) {
    b.addEventListener('click', () => setMute(CHOICES[b.dataset.mute]()));
  }
  $('mute-menu').addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeMuteMenu(true); });
  $('app').addEventListener('click', (ev) => { if (!ev.target.closest('.mute-wrap')) closeMuteMenu(false); });
}

function openMuteMenu() {
  $('mute-menu').hidden = false;
  $('btn-mute').setAttribute('aria-expanded', 'true');
  $('mute-menu').querySelector('button').focus();
}

export function closeMuteMenu(focusBack) {
  const menu = $('mute-menu');
  if (!menu || menu.hidden) return;
  menu.hidden = true;
  $('btn-mute').setAttribute('aria-expanded', 'false');
  if (focusBack) $('btn-mute').focus();
}

async function setMute(until) {
  const cid = openCid;
  try {
    await saveMute(cid, until);
    clearError();
  } catch (e) { showError(e.message); return; }
  renderConvList(); // the row's muted mark
  if (cid !== openCid) return;
  closeMuteMenu(false);
  renderMute();
  $('btn-mute').focus();
}

// The header's button ("Mute" opens the choices, "Unmute" acts at once) and its note.
export function renderMute() {
  const btn = $('btn-mute');
  if (!btn || !openCid) return;
  const until = mutedUntil(openCid);
  btn.textContent = until === null ? 'Mute' : 'Unmute';
  if (until === null) btn.setAttribute('aria-expanded', String(!$('mute-menu').hidden));
  else { btn.removeAttribute('aria-expanded'); closeMuteMenu(false); }
  const note = $('chat-muted');
  note.hidden = until === null;
  note.textContent = until === -1 ? 'Muted' : until ? `Muted until ${fmtTime(until)}` : '';
}
