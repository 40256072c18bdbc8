// Strings and formats in the console's two languages. Every string lives
// in ../i18n.json (one dictionary per language, the same keys in both).

const LANG_KEY = 'sesame.console.lang';
const LANGS = ['en', 'zh'];

let dict = { en: {}, zh: {} };
let lang = 'en';

// loadStrings fetches the dictionary; it must run before anything is shown.
export async function loadStrings() {
  const res = await fetch('/admin/assets/i18n.json', { credentials: 'omit' });
  if (!res.ok) throw new Error('i18n.json: ' + res.status);
  dict = await res.json();
}

// initialLang is the language chosen before, else the browser's first
// preference among those the console has.
export function initialLang() {
  const saved = localStorage.getItem(LANG_KEY);
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

export function setLang(l) {
  lang = LANGS.includes(l) ? l : 'en';
  // Only the language preference is kept across visits; never a token.
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

export function getLang() { return lang; }

// has tells whether the dictionary has key.
export function has(key) { return key in (dict.en || {}); }

// t returns the string for key in the current language, with {name}
// placeholders replaced by vars.name.
export function t(key, vars) {
  let s = dict[lang]?.[key] ?? dict.en?.[key];
  if (s === undefined) {
    console.warn('missing string', key);
    s = key;
  }
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }
  return s;
}

// translateStatic fills the elements of the static page marked data-i18n.
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}

function locale() { return lang === 'zh' ? 'zh-CN' : 'en-GB'; }

// fmtTime formats an RFC 3339 time (or Date) for people; '' for none.
export function fmtTime(v) {
  if (!v) return '';
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

// fmtShortTime formats a time compactly, for tables of many rows.
export function fmtShortTime(v) {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'short', timeStyle: 'medium' }).format(d);
}

// fmtClock formats the time of day, hours and minutes.
export function fmtClock(d) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(d);
}

export function fmtNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

// fmtDuration says a number of seconds in the largest whole units, e.g.
// "7 days" or "1 h 30 min".
export function fmtDuration(seconds) {
  let s = Number(seconds);
  if (!Number.isFinite(s) || s < 0) return '';
  if (s === 0) return t('duration.zero');
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  const parts = [];
  for (const [name, size] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(t('duration.' + name, { n }));
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
