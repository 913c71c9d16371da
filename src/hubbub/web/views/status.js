// The state of one of our own messages (README: a clock while sending, one check when
// stored, two when delivered, two blue when read), from the receipt watermarks.
import { svgIcon } from '../lib/dom.js';
import { idGt, idMax } from '../lib/ids.js';
import { myId, marksOf, everyoneOf } from '../state.js';

export const STATUS_ICONS = {
  sending: () => svgIcon(['M9 3.2V6l2 1.4'], { circle: true }),
  sent: () => svgIcon(['M3 6.5l3 3 7-7']),
  delivered: () => svgIcon(['M1 6.5l3 3 7-7', 'M7.5 8.5l1 1 7-7']),
  read: () => svgIcon(['M1 6.5l3 3 7-7', 'M7.5 8.5l1 1 7-7']),
  failed: () => svgIcon(['M9 2.5v4.5', 'M9 9v.5'], { circle: true }),
};

export function statusOf(c, m) {
  if (m.failed) return 'failed';
  if (!m.message_id) return 'sending';
  const cm = marksOf(c.conversation_id);
  let others;
  if (c.kind === 'direct') others = c.peer_id === myId() ? [] : [c.peer_id];
  else others = (c.members || []).filter((u) => u !== myId());
  const upto = (w) => !!w && !idGt(m.message_id, w);
  // a group's "everyone had it" marks (state.js): what members who left or joined since
  // do not take back
  const all = c.kind === 'group' ? everyoneOf(c.conversation_id) : {};
  if (upto(all.r)) return 'read';
  if (!others.length) return upto(all.d) ? 'delivered' : 'sent';
  const mk = (u) => cm[u] || {};
  if (others.every((u) => upto(mk(u).r))) return 'read';
  if (upto(all.d) || others.every((u) => upto(idMax(mk(u).d, mk(u).r)))) return 'delivered';
  return 'sent';
}
