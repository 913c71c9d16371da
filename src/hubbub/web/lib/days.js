// Calendar days as a chat's date separators name them, in the user's locale (Intl):
// "Today", "Yesterday", a weekday within the week, else the date (with its year when it
// is not this year's). Pure functions of their arguments.

const startOfDay = (ms) => { const d = new Date(ms); d.setHours(0, 0, 0, 0); return d; };

// The local calendar day of `ms`, as a key ("2025-3-14").
export function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

const capital = (s) => s.charAt(0).toLocaleUpperCase() + s.slice(1);

export function dayLabel(ms, now = Date.now(), locale = undefined) {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / 864e5); // DST days are 23 or 25 h
  if (days >= -1 && days <= 1) {
    return capital(new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(-days, 'day'));
  }
  const d = new Date(ms);
  if (days > 1 && days < 7) return capital(d.toLocaleDateString(locale, { weekday: 'long' }));
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString(locale, { day: 'numeric', month: 'long', year: sameYear ? undefined : 'numeric' });
}
