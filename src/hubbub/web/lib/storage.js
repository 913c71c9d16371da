// localStorage as JSON, never throwing (private mode, quota). Only state.js uses it.
export const storage = {
  get(key, dflt) {
    try { const v = localStorage.getItem(key); return v == null ? dflt : JSON.parse(v); } catch { return dflt; }
  },
  set(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* quota */ } },
  del(key) { try { localStorage.removeItem(key); } catch { /* ignore */ } },
};
