// Settings, Appearance: the same as the system, light or dark, applied at once. The choice
// is kept by state.js; <html data-appearance> tells theme.js, which sets the theme (and
// did so before the first paint at load).
import { $ } from '../lib/dom.js';
import { appearance, setAppearance } from '../state.js';

export function wireAppearance() {
  $('set-appearance').addEventListener('change', (ev) => {
    setAppearance(ev.target.value);
    document.documentElement.dataset.appearance = ev.target.value;
  });
}

// The choice as kept (another tab may have changed it).
export function fillAppearance() { $('set-appearance').value = appearance(); }
