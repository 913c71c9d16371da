// Settings › Profile picture (index.html's #profile-picture block): choose an image (the
// file input, keyboard operable, with its label), upload it as any attachment is
// (net/media.js), make it the picture (PATCH /me), see it; "Remove picture" goes back to
// the initials. The server decides what is an image; its refusal is said as it gives it.
import { $ } from '../lib/dom.js';
import { me } from '../state.js';
import { uploadFile } from '../net/media.js';
import { saveAvatar } from '../net/users.js';
import { showAvatar } from './avatar.js';
import { showError, clearError } from './alerts.js';
import { renderMe } from './list.js';
import { redrawUser } from './render.js';
import { refreshGroupInfo } from './group-info.js';

// The preview, and Remove only when there is something to remove (renderMe calls this).
export function renderMyPicture() {
  const preview = $('pp-preview');
  if (!preview || !me) return;
  showAvatar(preview, me.user_id, me.display_name, me.avatar);
  $('pp-remove').hidden = !me.avatar;
}

export function wireProfilePicture() {
  const input = $('pp-file');
  input.addEventListener('change', () => {
    const file = input.files && input.files[0];
    if (file) choose(file, input);
  });
  $('pp-remove').addEventListener('click', remove);
}

const say = (text) => { $('pp-status').textContent = text; };

// My picture shows in the header, the preview, my note-to-self row, the open chat and
// the group members: all drawn again.
function changed() {
  renderMe();
  redrawUser(me.user_id);
  refreshGroupInfo();
}

async function choose(file, input) {
  if (input.getAttribute('aria-busy') === 'true') return;
  input.setAttribute('aria-busy', 'true');
  say('Uploading your picture…');
  try {
    const media = await uploadFile(file).promise;
    await saveAvatar(media.media_id);
    changed();
    say('Profile picture saved.');
    clearError();
  } catch (e) {
    say('');
    showError(e.code === 'unsupported_media'
      ? `That file cannot be a profile picture: ${e.message}`
      : `The picture was not saved: ${e.message}`);
  } finally {
    input.value = '';
    input.removeAttribute('aria-busy');
  }
}

async function remove() {
  try {
    await saveAvatar(null);
    $('pp-file').focus(); // the button goes: focus stays in the block, never on <body>
    changed();
    say('Profile picture removed.');
    clearError();
  } catch (e) { showError(`The picture was not removed: ${e.message}`); }
}
