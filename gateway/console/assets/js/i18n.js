// The message catalogs: one JSON file per language under /console/i18n/.
// Every user-visible string of the console is a key of both.

export const LANGUAGES = ['pt-BR', 'en'];
const STORE = 'chave.lang'; // the only thing the console keeps in localStorage

let messages = {};
let current = 'pt-BR';

// preferred returns the remembered language, else the first of the
// browser's languages the console has, else pt-BR.
export function preferred() {
  const saved = localStorage.getItem(STORE);
  if (LANGUAGES.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language]) {
    const tag = String(l).toLowerCase();
    if (tag.startsWith('pt')) return 'pt-BR';
    if (tag.startsWith('en')) return 'en';
  }
  return 'pt-BR';
}

export async function load(lang, remember = false) {
  if (!LANGUAGES.includes(lang)) lang = 'pt-BR';
  const r = await fetch(`/console/i18n/${lang}.json`);
  messages = await r.json();
  current = lang;
  document.documentElement.lang = lang;
  if (remember) localStorage.setItem(STORE, lang);
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

export function lang() {
  return current;
}

// t returns the message for key with {name} placeholders filled in.
export function t(key, vars) {
  let s = messages[key];
  if (s === undefined) {
    console.warn('missing message', key);
    s = key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return s;
}

// formatDate writes a timestamp in the chosen language and the browser's
// time zone; empty for a missing time.
export function formatDate(iso, withTime = true) {
  if (!iso) return '';
  const opts = withTime ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium' };
  return new Intl.DateTimeFormat(current, opts).format(new Date(iso));
}

export function formatNumber(n) {
  return new Intl.NumberFormat(current).format(n);
}
