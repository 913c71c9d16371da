// The message box: Enter sends, Shift+Enter adds a line; it grows with its text.
import { $ } from '../lib/dom.js';
import { codePoints } from '../lib/ids.js';
import { openCid, setLastTypingSent } from '../state.js';
import { queueMessage, transmit } from '../net/outbox.js';
import { noteTyping } from '../features/typing.js';
import { showError } from './alerts.js';
import { renderConvList } from './list.js';
import { renderMessages } from './chat.js';

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
    if (input.value.trim()) noteTyping();
  });
  $('composer').addEventListener('submit', (ev) => { ev.preventDefault(); sendCurrent(); });
}

function autosize() {
  const el = $('msg-input');
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
}

export function clearComposer() {
  $('msg-input').value = '';
  autosize();
}

function sendCurrent() {
  const input = $('msg-input');
  const cid = openCid;
  if (!cid) return;
  const body = input.value.replace(/\u0000/g, '');
  if (!body.trim()) return;
  if (codePoints(body) > 100000) { showError('That message is too long (the limit is 100,000 characters).'); return; }
  const item = queueMessage(cid, body);
  input.value = '';
  autosize();
  setLastTypingSent(0);
  renderMessages({ toBottom: true });
  renderConvList();
  transmit(item);
}
