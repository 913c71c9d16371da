// A person's round avatar: their profile picture's thumbnail over their initials. The
// initials show at once, and stay when there is no picture, while it loads, and when it
// cannot be had (removed meanwhile, offline): the <img> goes on error. The picture is
// fetched once it is near the screen (a list of 500 rows fetches the ones scrolled to),
// once per media id for all that show it (net/media.js avatarUrl). Its alt is empty: the
// name is next to every avatar, which is itself hidden from assistive technology.
import { h, setAvatar } from '../lib/dom.js';
import { avatarUrl, knownAvatarUrl } from '../net/media.js';

const NEAR = '200px'; // how far off screen a picture starts to load

// `colorId` picks the initials' colour (the user's or conversation's id), `mediaId` is
// the picture (null: initials only). Drawing the same again touches nothing.
export function showAvatar(el, colorId, name, mediaId) {
  const key = `${colorId}\u0000${name}\u0000${mediaId || ''}`;
  if (el._avatarKey === key) return;
  el._avatarKey = key;
  if (el._avatarWatch) { el._avatarWatch.disconnect(); el._avatarWatch = null; }
  setAvatar(el, colorId, name); // (replaces what the element held, a former picture too)
  el.classList.remove('has-picture');
  if (!mediaId) return;
  const img = h('img', { alt: '', decoding: 'async', loading: 'lazy', draggable: 'false' });
  img.addEventListener('load', () => el.classList.add('has-picture'));
  img.addEventListener('error', () => { img.remove(); el.classList.remove('has-picture'); });
  const put = (url) => { if (el._avatarKey === key) { img.src = url; el.append(img); } };
  const known = knownAvatarUrl(mediaId);
  if (known) { put(known); return; }
  const load = () => avatarUrl(mediaId).then(put).catch(() => { /* the initials stay */ });
  if (typeof IntersectionObserver === 'undefined') { load(); return; }
  const watch = new IntersectionObserver((seen) => {
    if (!seen.some((e) => e.isIntersecting)) return;
    watch.disconnect();
    el._avatarWatch = null;
    load();
  }, { rootMargin: NEAR });
  el._avatarWatch = watch;
  watch.observe(el);
}
