// The user's devices (logged-in sessions) in Settings: each with when it was last used,
// and "Log out" for every one but this, which closes that device's socket at once.
import { $, h } from '../lib/dom.js';
import { fmtTime } from '../lib/format.js';
import { api } from '../net/rest.js';

export async function renderDevices() {
  const list = $('device-list');
  if (!list) return;
  let devices;
  try {
    devices = (await api('GET', '/sessions')).devices;
  } catch (e) {
    list.replaceChildren(h('li', { class: 'muted', text: `Could not load your devices: ${e.message}` }));
    return;
  }
  list.replaceChildren(...devices.map((d) => h('li', { class: 'device' },
    h('span', { class: 'device-name', dir: 'auto', text: d.name }),
    h('span', { class: 'muted small', text: d.current ? 'This device' : `Last used ${fmtTime(d.last_used_at)}` }),
    d.current ? null : h('button', {
      type: 'button',
      class: 'ghost',
      'aria-label': `Log out ${d.name}`,
      onclick: () => logOutDevice(d),
      text: 'Log out',
    }),
  )));
}

async function logOutDevice(device) {
  if (!window.confirm(`Log out “${device.name}”? It will need the password to log in again.`)) return;
  try {
    await api('DELETE', `/sessions/${device.device_id}`);
    $('settings-status').textContent = `${device.name} is logged out.`;
  } catch (e) {
    $('settings-status').textContent = e.message;
  }
  await renderDevices();
  const first = $('device-list').querySelector('button');
  (first || $('set-display')).focus();
}
