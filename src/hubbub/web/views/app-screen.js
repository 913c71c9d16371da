// The app's screen once logged in (index.html's tpl-app): mounted, wired, drawn.
import { mountTemplate } from '../lib/dom.js';
import { wireNotifications, renderNotifyState } from '../features/notifications.js';
import { wireAlerts } from './alerts.js';
import { wirePanels } from './panels.js';
import { wireChat } from './chat.js';
import { wireGroupInfo } from './group-info.js';
import { wireMute } from './mute.js';
import { wireComposer } from './composer.js';
import { wireViewer } from './viewer.js';
import { renderMe } from './list.js';
import { wireListFilter } from './list-filter.js';
import { wireProfilePicture } from './profile-picture.js';

export function mountAppScreen() {
  mountTemplate('tpl-app');
  wireAlerts();
  wirePanels();
  wireListFilter();
  wireProfilePicture();
  wireNotifications();
  wireChat();
  wireGroupInfo();
  wireMute();
  wireComposer();
  wireViewer();
  renderNotifyState();
  renderMe();
}
