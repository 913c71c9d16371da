// A group's events as lines in its chat: "Ann added Ben", "Ben left", "Ann removed Cat",
// "Ann renamed the group to “X”", "You were removed". They are told by the server's
// `group` frames (docs/protocol.md §6.3: the new members, the name, and who acted) and by
// what this page sees change in a group's members (its own adds and removals, a list or
// group refresh), compared with the members last seen. The server keeps no such events:
// they are this session's, kept on the app's element (they go with it at log out).
import { $, h } from '../lib/dom.js';
import { myId, conversation } from '../state.js';
import { nameOf } from './names.js';

// cid -> {members: [uids] last seen, name, owner, lines: [{ts, kind, uid, actor, name}]}
function store() {
  const app = $('app');
  if (!app._groupEvents) app._groupEvents = new Map();
  return app._groupEvents;
}
function entryOf(cid, c) {
  const all = store();
  if (!all.has(cid)) all.set(cid, { members: c && c.members ? [...c.members] : null, name: c && c.name, owner: c && c.owner_id, lines: [], acts: new Map() });
  return all.get(cid);
}

// This page itself added or removed `uid` (the frame may come after the REST answer, or
// not name the actor on an older server): the line says "You".
export function noteOwnAction(cid, uid) { entryOf(cid, conversation(cid)).acts.set(uid, myId()); }

function compare(cid, e, members, name, owner, actor) {
  const ts = Date.now();
  const who = (uid) => actor || e.acts.get(uid) || null;
  if (e.members && members) {
    const before = new Set(e.members);
    const after = new Set(members);
    for (const uid of members) if (!before.has(uid)) e.lines.push({ ts, kind: 'added', uid, actor: who(uid) });
    for (const uid of e.members) if (!after.has(uid)) e.lines.push({ ts, kind: 'removed', uid, actor: who(uid) });
    for (const uid of [...before, ...after]) e.acts.delete(uid);
  }
  if (name && e.name && name !== e.name) e.lines.push({ ts, kind: 'renamed', name, actor });
  if (owner && e.owner && owner !== e.owner && members && members.includes(owner)) e.lines.push({ ts, kind: 'owner', uid: owner });
  if (members) e.members = [...members];
  if (name) e.name = name;
  if (owner !== undefined) e.owner = owner;
}

// A `group` frame, before state takes it in.
export function noteGroupFrame(cid, f) {
  const c = conversation(cid);
  if (!c) return;
  const e = entryOf(cid, c);
  compare(cid, e, Array.isArray(f.members) ? f.members : null, f.name, f.owner_id === undefined ? undefined : f.owner_id, f.actor_id || null);
}

// What the page has for the group now (its chat is drawn): changes seen since are lines.
export function observeGroup(c) {
  if (!c || c.kind !== 'group' || c.departed) return;
  compare(c.conversation_id, entryOf(c.conversation_id, c), c.members || null, c.name, c.owner_id, null);
}

// This user is out of the group (left, or removed): a line, unless one says so already;
// 'left' or 'removed', as that line says.
export function noteDeparture(cid) {
  const e = entryOf(cid, conversation(cid));
  if (!e.members || e.members.includes(myId())) {
    const left = e.acts.get(myId()) === myId();
    e.lines.push({ ts: Date.now(), kind: 'removed', uid: myId(), actor: left ? myId() : null });
    if (e.members) e.members = e.members.filter((u) => u !== myId());
    e.acts.delete(myId());
  }
  const last = [...e.lines].reverse().find((l) => l.kind === 'removed' && l.uid === myId());
  return last && last.actor === myId() ? 'left' : 'removed';
}

const you = (uid, start) => (uid === myId() ? (start ? 'You' : 'you') : nameOf(uid));

function textOf(l) {
  if (l.kind === 'renamed') return `${l.actor ? you(l.actor, true) : 'Someone'} renamed the group to “${l.name}”`;
  if (l.kind === 'owner') return `${you(l.uid, true)} ${l.uid === myId() ? 'are' : 'is'} now the group's owner`;
  const target = you(l.uid, !l.actor);
  if (l.kind === 'added') {
    if (!l.actor) return `${target} ${l.uid === myId() ? 'were' : 'was'} added`;
    return l.actor === l.uid ? `${target} joined` : `${you(l.actor, true)} added ${you(l.uid)}`;
  }
  if (l.actor === l.uid) return `${you(l.uid, true)} left`;
  if (l.actor) return `${you(l.actor, true)} removed ${you(l.uid)}`;
  return l.uid === myId() ? 'You were removed' : `${target} is no longer in the group`;
}

// The lines of `cid` in time order: [{ts, el}], their elements kept in `items` (the
// messages list's render cache).
export function eventLines(cid, items) {
  const e = cid && store().get(cid);
  if (!e) return [];
  return e.lines.map((l, i) => {
    const key = `g:${i}`;
    let el = items.get(key);
    if (!el) { el = h('li', { class: 'sys' }, h('span')); items.set(key, el); }
    const text = textOf(l);
    if (el.firstChild.textContent !== text) el.firstChild.textContent = text;
    return { ts: l.ts, el };
  });
}
