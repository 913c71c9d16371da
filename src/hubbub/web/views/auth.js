// The login / sign-up screen.
import { $, mountTemplate } from '../lib/dom.js';
import { logIn } from '../session.js';

export function showAuth(message) {
  mountTemplate('tpl-auth');
  document.title = 'Hubbub';
  const form = $('auth-form');
  const alertEl = $('auth-alert');
  const say = (m) => { alertEl.textContent = m; alertEl.hidden = !m; };
  if (message) say(message);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const mode = ev.submitter && ev.submitter.value === 'signup' ? 'signup' : 'login';
    const username = $('auth-username').value.trim();
    const password = $('auth-password').value;
    const display = $('auth-display').value.trim();
    if (!username || !password) { say('Enter a username and a password.'); return; }
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    say('');
    try {
      await logIn(mode, username, password, display);
    } catch (e) {
      say(e.message || 'Something went wrong.');
      for (const b of form.querySelectorAll('button')) b.disabled = false;
    }
  });
  setTimeout(() => $('auth-username') && $('auth-username').focus(), 0);
}
