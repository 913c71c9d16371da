// The error toast (hides itself after 10 s) and the connection banner (with its Retry
// now button while reconnecting).
import { $ } from '../lib/dom.js';
import { createTimer } from '../lib/timer.js';
import { retryNow } from '../net/socket.js';

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

// `retry`: offer to try again now instead of at the next backoff.
export function setBanner(text, retry = false) {
  const b = $('banner');
  if (!b) return;
  $('banner-text').textContent = text || '';
  $('banner-retry').hidden = !retry;
  b.hidden = !text;
}

export function wireAlerts() {
  $('alert-dismiss').addEventListener('click', clearError);
  $('banner-retry').addEventListener('click', retryNow);
}
