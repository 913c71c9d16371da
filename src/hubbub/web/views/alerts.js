// The error toast (hides itself after 10 s) and the connection banner.
import { $ } from '../lib/dom.js';
import { createTimer } from '../lib/timer.js';

const hideTimer = createTimer();

export function showError(msg) {
  const box = $('alert-box');
  if (!box) return;
  $('app-alert').textContent = msg;
  box.hidden = false;
  hideTimer.after(10000, () => { box.hidden = true; $('app-alert').textContent = ''; });
}

export function clearError() {
  const box = $('alert-box');
  if (box) { box.hidden = true; $('app-alert').textContent = ''; }
}

export function setBanner(text) {
  const b = $('banner');
  if (!b) return;
  b.textContent = text || '';
  b.hidden = !text;
}

export function wireAlerts() {
  $('alert-dismiss').addEventListener('click', clearError);
}
