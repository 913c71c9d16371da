// A message's menu: a button on each bubble (shown on hover and focus), the context menu
// (right click) and a long press open it. Copy text, Copy link (the first link in the
// text), Info (when it was sent, delivered and read, as far as this page knows). Keyboard:
// the button opens it on its first item, arrows move, Home / End, Escape and Tab close it
// (Escape gives focus back to the button).
//
// More items come as the server learns more of conversations (replies, reactions, ...).
import { $, h } from '../lib/dom.js';
import { idGt, idMax } from '../lib/ids.js';
import { fmtTime } from '../lib/format.js';
import { myId, openCid, conversation, marksOf } from '../state.js';
import { nameOf } from './names.js';

const LONG_PRESS_MS = 500;

// ---------- receipt times heard on this page (a receipt frame carries its `ts`) ----------
function receiptTimes() {
  const app = $('app');
  if (!app._receiptTimes) app._receiptTimes = new Map(); // `cid uid status` -> [{mid, ts}]
  return app._receiptTimes;
}
export function noteReceipt(f) {
  if (!$('app') || !f.ts) return;
  const key = `${f.conversation_id} ${f.user_id} ${f.status}`;
  const all = receiptTimes();
  const list = all.get(key) || [];
  if (!list.length || idGt(f.message_id, list[list.length - 1].mid)) list.push({ mid: f.message_id, ts: f.ts });
  all.set(key, list);
}
// When `uid` first had `mid` (`status`), if heard here.
function timeOf(cid, uid, status, mid) {
  const list = receiptTimes().get(`${cid} ${uid} ${status}`) || [];
  const hit = list.find((x) => !idGt(mid, x.mid));
  return hit ? hit.ts : null;
}

// ---------- the bubble's button ----------
export function addMenuButton(li, m) {
  li._msg = m;
  li.append(h('button', {
    // not a Tab stop of its own: the log is one stop (msg-access.js), and Enter, the
    // context-menu key or Shift+F10 on a message opens this menu
    type: 'button', class: 'msg-more', tabindex: '-1', 'aria-label': 'Message options', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    onclick: (ev) => openMenu(li, ev.currentTarget, null),
  }, h('span', { 'aria-hidden': 'true' }, '⌄')));
}

// ---------- the menu ----------
function menuEl() { return $('msg-menu'); }

export function wireMessageMenu() {
  const menu = h('div', { id: 'msg-menu', class: 'msg-menu', role: 'menu', 'aria-label': 'Message actions', hidden: true });
  const note = h('p', { id: 'msg-note', class: 'msg-note', role: 'status', 'aria-live': 'polite' });
  $('chat-view').append(menu, note);
  menu.addEventListener('keydown', onMenuKey);
  menu.addEventListener('focusout', (ev) => { if (!menu.contains(ev.relatedTarget)) closeMenu(false); });
  document.addEventListener('pointerdown', (ev) => { if (!menu.hidden && !menu.contains(ev.target)) closeMenu(false); });
  const list = $('messages');
  list.addEventListener('contextmenu', (ev) => {
    const li = ev.target.closest('.msg');
    if (!li || ev.target.closest('a, video, audio')) return; // a link's own menu stays
    ev.preventDefault();
    openMenu(li, li.querySelector('.msg-more'), { x: ev.clientX, y: ev.clientY });
  });
  let press = null; // a touch held down: the timer that opens the menu
  const cancel = () => { if (press) clearTimeout(press); press = null; };
  list.addEventListener('pointerdown', (ev) => {
    const li = ev.pointerType === 'touch' && ev.target.closest('.msg');
    if (!li) return;
    cancel();
    press = setTimeout(() => { press = null; openMenu(li, li.querySelector('.msg-more'), { x: ev.clientX, y: ev.clientY }); }, LONG_PRESS_MS);
  });
  for (const type of ['pointerup', 'pointercancel', 'pointermove']) list.addEventListener(type, cancel);
  $('scroller').addEventListener('scroll', () => { cancel(); closeMenu(false); }, { passive: true });
}

function items(li) {
  const m = li._msg;
  const out = [];
  if (m.body) out.push(['Copy text', () => copy(m.body, 'Text copied')]);
  const link = li.querySelector('.body a[href]');
  if (link) out.push(['Copy link', () => copy(link.href, 'Link copied')]);
  out.push(['Info', () => showInfo(li)]);
  return out;
}

function openMenu(li, opener, at) {
  const menu = menuEl();
  closeMenu(false);
  menu._opener = opener;
  menu.replaceChildren(...items(li).map(([label, run]) => h('button', {
    type: 'button', role: 'menuitem', tabindex: '-1', class: 'ghost',
    onclick: () => { closeMenu(true); run(); },
  }, label)));
  menu.hidden = false;
  if (opener) opener.setAttribute('aria-expanded', 'true');
  // next to the pointer, or under the button; kept inside the chat
  const view = $('chat-view').getBoundingClientRect();
  const r = at || (() => { const b = opener.getBoundingClientRect(); return { x: b.left, y: b.bottom }; })();
  const w = menu.offsetWidth;
  const hgt = menu.offsetHeight;
  menu.style.left = `${Math.max(4, Math.min(r.x - view.left, view.width - w - 4))}px`;
  menu.style.top = `${Math.max(4, Math.min(r.y - view.top, view.height - hgt - 4))}px`;
  menu.firstChild.focus();
}

export function closeMenu(focusBack) {
  const menu = menuEl();
  if (!menu || menu.hidden) return;
  menu.hidden = true;
  const opener = menu._opener;
  if (opener) opener.setAttribute('aria-expanded', 'false');
  if (focusBack && opener && opener.isConnected) opener.focus();
}

function onMenuKey(ev) {
  const all = [...menuEl().querySelectorAll('[role="menuitem"]')];
  const i = all.indexOf(document.activeElement);
  const go = (j) => { ev.preventDefault(); all[(j + all.length) % all.length].focus(); };
  if (ev.key === 'ArrowDown') go(i + 1);
  else if (ev.key === 'ArrowUp') go(i - 1);
  else if (ev.key === 'Home') go(0);
  else if (ev.key === 'End') go(all.length - 1);
  else if (ev.key === 'Escape') { ev.preventDefault(); closeMenu(true); }
  else if (ev.key === 'Tab') closeMenu(false);
}

// ---------- copying ----------
function say(text) {
  const note = $('msg-note');
  note.textContent = text;
  clearTimeout(note._timer);
  note._timer = setTimeout(() => { note.textContent = ''; }, 2500);
}

function copyByHand(text) {
  const ta = h('textarea', { class: 'copy-area', readonly: true, 'aria-hidden': 'true' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

async function copy(text, done) {
  const opener = menuEl()._opener;
  try {
    await navigator.clipboard.writeText(text);
    say(done);
  } catch {
    say(copyByHand(text) ? done : 'Could not copy: select the text and copy it yourself.');
  }
  if (opener && opener.isConnected) opener.focus();
}

// ---------- Info ----------
function infoRows(c, m) {
  const rows = [['Sent', m.ts ? fmtTime(m.ts) : m.failed ? 'Not sent' : 'Sending…']];
  if (m.sender_id !== myId()) return rows.concat([['From', nameOf(m.sender_id)]]);
  if (!m.message_id) return rows;
  const others = c.kind === 'direct' ? (c.peer_id === myId() ? [] : [c.peer_id]) : (c.members || []).filter((u) => u !== myId());
  const marks = marksOf(c.conversation_id);
  for (const uid of others) {
    const mk = marks[uid] || {};
    const has = (w) => !!w && !idGt(m.message_id, w);
    const read = has(mk.r);
    const delivered = read || has(idMax(mk.d, mk.r));
    const when = (status) => { const t = timeOf(c.conversation_id, uid, status, m.message_id); return t ? ` ${fmtTime(t)}` : ''; };
    const who = c.kind === 'group' ? `${nameOf(uid)}: ` : '';
    rows.push([`${who}Delivered`, delivered ? `Yes${when('delivered') || when('read')}` : 'Not yet']);
    rows.push([`${who}Read`, read ? `Yes${when('read')}` : 'Not yet']);
  }
  return rows;
}

function showInfo(li) {
  const c = conversation(openCid);
  if (!c) return;
  const opener = li.querySelector('.msg-more');
  const dl = h('dl', { class: 'msg-info-rows' });
  for (const [k, v] of infoRows(c, li._msg)) dl.append(h('dt', { text: k }), h('dd', { text: v }));
  const close = h('button', { type: 'button' }, 'Close');
  const dlg = h('dialog', { class: 'confirm msg-info', 'aria-labelledby': 'msg-info-title' },
    h('h2', { id: 'msg-info-title', text: 'Message info' }), dl, h('div', { class: 'row' }, close));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => { dlg.remove(); if (opener && opener.isConnected) opener.focus(); });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
}
