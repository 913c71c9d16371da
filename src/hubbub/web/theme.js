// The colour theme, set before the first paint. index.html loads this classic script in
// <head>, ahead of the stylesheets: a module runs only after the page is parsed, so the
// wrong theme could flash first (and the CSP forbids inline script).
//
// <html data-appearance> is the choice ('system', 'light' or 'dark'); this script turns it
// into <html data-theme> ('light' or 'dark'), which the stylesheets' one dark palette
// keys on, and the browser bar's colour. The choice is read here from localStorage as
// state.js keeps it (APPEARANCE_KEY, JSON); the Settings view changes the attribute and
// this script follows, as it follows the system's setting and another tab's choice.
(() => {
  const KEY = 'hubbub.appearance';
  const BAR = { light: '#0f766e', dark: '#202c33' }; // <meta name="theme-color"> per theme
  const root = document.documentElement;
  const systemDark = matchMedia('(prefers-color-scheme: dark)');

  function stored() {
    try {
      const v = JSON.parse(localStorage.getItem(KEY));
      return v === 'light' || v === 'dark' ? v : 'system';
    } catch { return 'system'; }
  }

  function apply() {
    const choice = root.dataset.appearance;
    const theme = choice === 'dark' || (choice !== 'light' && systemDark.matches) ? 'dark' : 'light';
    if (root.dataset.theme !== theme) root.dataset.theme = theme;
    const bar = document.querySelector('meta[name="theme-color"]');
    if (bar) bar.content = BAR[theme];
  }

  root.dataset.appearance = stored();
  apply();
  systemDark.addEventListener('change', apply);
  new MutationObserver(apply).observe(root, { attributes: true, attributeFilter: ['data-appearance'] });
  window.addEventListener('storage', (ev) => { if (ev.key === KEY || ev.key === null) root.dataset.appearance = stored(); });
})();
