// The login / sign-up screen. One mode at a time (tabs), so Enter does what the screen
// says: with two submit buttons, Enter always meant "Log in", and a person signing up
// with Enter was told their (new) password was wrong.
import { $, mountTemplate } from '../lib/dom.js';
import { logIn } from '../session.js';

// What people type for a username ("Alice", "@bob ") becomes the name it stands for.
export const normalUsername = (typed) => typed.trim().replace(/^@+/, '').toLowerCase();

// Server messages are lower-case fragments ("username is taken"): a sentence on screen.
const sentence = (m) => (m ? m[0].toUpperCase() + m.slice(1) : m);

export function showAuth(message) {
  mountTemplate('tpl-auth');
  document.title = 'Hubbub';
  const form = $('auth-form');
  const alertEl = $('auth-alert');
  const say = (m) => { alertEl.textContent = sentence(m); alertEl.hidden = !m; };
  if (message) say(message);
  let mode = 'login';
  const tabs = { login: $('mode-login'), signup: $('mode-signup') };
  const setMode = (next, focusTab = false) => {
    mode = next;
    for (const [name, tab] of Object.entries(tabs)) {
      tab.setAttribute('aria-selected', String(name === mode));
      tab.tabIndex = name === mode ? 0 : -1;
    }
    if (focusTab) tabs[mode].focus();
    $('auth-fields').setAttribute('aria-labelledby', tabs[mode].id);
    $('auth-signup-only').hidden = mode !== 'signup';
    $('auth-submit').textContent = mode === 'signup' ? 'Sign up' : 'Log in';
    $('auth-password').autocomplete = mode === 'signup' ? 'new-password' : 'current-password';
    $('auth-hint-login').hidden = mode !== 'login';
    $('auth-hint-signup').hidden = mode !== 'signup';
    say('');
  };
  tabs.login.addEventListener('click', () => setMode('login'));
  tabs.signup.addEventListener('click', () => setMode('signup'));
  for (const tab of Object.values(tabs)) {
    tab.addEventListener('keydown', (ev) => {  // the tab pattern: arrows move between tabs
      if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
        ev.preventDefault();
        setMode(mode === 'login' ? 'signup' : 'login', true);
      }
    });
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const field = $('auth-username');
    const username = normalUsername(field.value);
    const password = $('auth-password').value;
    const display = $('auth-display').value.trim();
    if (!username || !password) { say('Enter a username and a password.'); return; }
    field.value = username;  // show the name as it will be known
    const buttons = form.querySelectorAll('button');
    for (const b of buttons) b.disabled = true;
    say('');
    try {
      await logIn(mode, username, password, mode === 'signup' ? display : '');
    } catch (e) {
      say(e.message || 'Something went wrong.');
      for (const b of buttons) b.disabled = false;
      field.focus();
    }
  });
  setTimeout(() => $('auth-username') && $('auth-username').focus(), 0);
}
