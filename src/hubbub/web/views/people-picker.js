// Finding people as you type (GET /users/search): a field that takes a username becomes
// a combobox (the WAI-ARIA pattern: role=combobox, aria-expanded, aria-activedescendant)
// with a listbox of the people found under it, picked by mouse or keys (Down and Up move,
// Enter picks, Escape closes the list). With no option chosen, Enter submits the form as
// before: a username typed in full still works.
//
// A search goes 250 ms after the last keystroke, for 2 characters or more. One request at
// a time: a newer term cancels the older one's, and an answer for a term no longer in the
// field is dropped. A 429 pauses every field's searches for its Retry-After (state.js
// keeps until when), with a calm note, and the term then in the field is searched once.
// The people shown are the DOM's options; what is known of them is in state's name cache.
import { h, setAvatar } from '../lib/dom.js';
import { createTimer } from '../lib/timer.js';
import { searchesRefusedUntil, refuseSearches } from '../state.js';
import { searchPeople } from '../net/users.js';

const DEBOUNCE_MS = 250;
const MIN_CHARS = 2; // the server finds nobody for less
const MAX_CHARS = 64; // nor takes more
const RETRY_S = 2; // a 429 without Retry-After

// Make `input` find people. Options:
//   label      the list's accessible name
//   pick(u)    someone was picked: u is {user_id, username, display_name}
//   offer(u)   true to list u, false to leave u out, or a note (string) to list u marked
//              with it and not pickable ("already in the group")
//   termOf(v)  the part of the field's value to search for (default: all of it)
//   after      the element the list goes after (default: the field)
// Returns {reset}: forget the search and close the list (the form was sent or closed).
export function attachPeoplePicker(input, { label, pick, offer = () => true, termOf = (v) => v, after = input }) {
  const list = h('ul', { class: 'people', id: `${input.id}-people`, role: 'listbox', 'aria-label': label, hidden: true });
  const note = h('p', { class: 'people-note muted small', id: `${input.id}-people-note`, role: 'status' });
  after.after(list, note);
  list.addEventListener('mousedown', (ev) => ev.preventDefault()); // a click in the list keeps the field focused
  for (const [k, v] of Object.entries({ role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': list.id })) input.setAttribute(k, v);
  const wait = createTimer(); // the debounce, or the end of a 429's pause
  let inFlight = null; // the AbortController of the request out

  const termNow = () => termOf(input.value).trim().replace(/^@/, '').slice(0, MAX_CHARS);
  const options = () => [...list.children];
  const pickable = () => options().filter((li) => li.getAttribute('aria-disabled') !== 'true');
  const active = () => list.querySelector('[aria-selected="true"]');

  function say(text, quiet) { note.textContent = text; note.classList.toggle('sr-only', !!quiet); }
  function expand(on) {
    list.hidden = !on;
    input.setAttribute('aria-expanded', String(on));
    if (!on) setActive(null);
  }
  function setActive(li) {
    for (const o of list.querySelectorAll('[aria-selected="true"]')) o.setAttribute('aria-selected', 'false');
    if (li) { li.setAttribute('aria-selected', 'true'); input.setAttribute('aria-activedescendant', li.id); li.scrollIntoView({ block: 'nearest' }); }
    else input.removeAttribute('aria-activedescendant');
  }
  function cancel() {
    wait.clear();
    if (inFlight) { inFlight.abort(); inFlight = null; }
  }
  function reset() { cancel(); list.replaceChildren(); expand(false); say(''); }

  function option(u, mark) {
    const name = u.display_name || u.username;
    const li = h('li', { role: 'option', id: `${list.id}-${u.user_id}`, 'aria-selected': 'false', 'aria-disabled': mark ? 'true' : null },
      h('span', { class: 'avatar small', 'aria-hidden': 'true' }),
      h('span', { class: 'pname' }, h('strong', { text: name, dir: 'auto' }), ' ',
        h('span', { class: 'muted small', text: `@${u.username}${mark ? ` · ${mark}` : ''}` })));
    setAvatar(li.firstChild, u.user_id, name);
    li.addEventListener('click', () => choose(li));
    li._user = u;
    return li;
  }
  function show(found) {
    const items = [];
    for (const u of found) {
      const o = offer(u);
      if (o !== false) items.push(option(u, typeof o === 'string' ? o : null));
    }
    list.replaceChildren(...items);
    expand(items.length > 0 && document.activeElement === input);
    if (!items.length) say('No one found');
    else say(items.length === 1 ? '1 person found' : `${items.length} people found`, true);
  }
  function choose(li) {
    if (!li || li.getAttribute('aria-disabled') === 'true') return;
    const u = li._user;
    reset();
    pick(u);
  }

  async function search() {
    const term = termNow();
    if (term.length < MIN_CHARS || !input.isConnected) return;
    const paused = searchesRefusedUntil - Date.now();
    if (paused > 0) {
      say(`Too many searches just now. Trying again in ${Math.ceil(paused / 1000)} s…`);
      wait.after(paused, search);
      return;
    }
    cancel();
    const ctl = new AbortController();
    inFlight = ctl;
    let found;
    try {
      found = await searchPeople(term, ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted) return; // a newer term took over
      inFlight = null;
      if (e.status === 429) { refuseSearches(Date.now() + (e.retryAfter || RETRY_S) * 1000); search(); return; }
      expand(false);
      say(`Could not search: ${e.message}`);
      return;
    }
    if (ctl.signal.aborted || termNow() !== term) return; // stale: the field says something else now
    inFlight = null;
    show(found);
  }

  input.addEventListener('input', () => {
    cancel();
    if (termNow().length < MIN_CHARS) { list.replaceChildren(); expand(false); say(''); return; }
    wait.after(DEBOUNCE_MS, search);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      const all = pickable();
      if (!all.length) return;
      ev.preventDefault();
      if (list.hidden) expand(true);
      const at = all.indexOf(active());
      const by = ev.key === 'ArrowDown' ? 1 : -1;
      setActive(all[at < 0 ? (by > 0 ? 0 : all.length - 1) : (at + by + all.length) % all.length]);
    } else if (ev.key === 'Enter' && !list.hidden && active()) {
      ev.preventDefault();
      choose(active());
    } else if (ev.key === 'Escape' && !list.hidden) {
      ev.preventDefault(); // the list closes, not the panel (views/panels.js onEscape)
      expand(false);
    }
  });
  input.addEventListener('blur', () => expand(false));
  return { reset };
}
