// i18n.js — French by default, English available, on every page.
//
// t(key, params) looks KEY up in the current language's dictionary
// (strings.js) and fills its {placeholders} from PARAMS; a key missing in
// English falls back to French, a key missing everywhere shows itself (so a
// typo is visible, not blank). In the HTML, data-i18n="key" sets an
// element's text and data-i18n-attr="aria-label:key; placeholder:key2" its
// attributes; applyI18n() fills them, and again after every switch.
//
// The choice is remembered in localStorage ('tribu.lang') and set as the
// lang attribute of <html>, so that screen readers pronounce the page
// right. Buttons with the class "lang-switch" toggle between the two.
//
// Not here: plural rules beyond what the dictionaries spell out, and
// formatting of dates (locale() gives the BCP 47 tag for Intl).

import { STRINGS } from './strings.js';

export const LANGS = ['fr', 'en'];
const STORAGE_KEY = 'tribu.lang';
const listeners = new Set();

function stored() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(value) ? value : null;
  } catch {
    return null; // storage disabled: French, not remembered
  }
}

let current = stored() ?? 'fr';

/** The current language: 'fr' or 'en'. */
export function lang() {
  return current;
}

/** The BCP 47 locale for Intl and toLocaleTimeString. */
export function locale() {
  return current === 'fr' ? 'fr-FR' : 'en-GB';
}

/** The text of KEY in the current language with {name} replaced by
 * PARAMS.name (left as is when PARAMS has no such field). */
export function t(key, params = {}) {
  const text = STRINGS[current]?.[key] ?? STRINGS.fr[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Fills data-i18n and data-i18n-attr under ROOT (default: the document). */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

function renderSwitches() {
  const other = current === 'fr' ? 'en' : 'fr';
  for (const button of document.querySelectorAll('.lang-switch')) {
    button.textContent = other === 'en' ? 'English' : 'Français';
    button.lang = other; // the button's text is in the other language
    button.dataset.target = other;
  }
}

/** Switches to LANG ('fr' | 'en'), remembers it, refills the page and calls
 * every onLangChange listener. */
export function setLang(next) {
  if (!LANGS.includes(next)) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* not remembered */
  }
  document.documentElement.lang = next;
  applyI18n();
  renderSwitches();
  for (const fn of listeners) fn(next);
}

/** Calls FN(lang) after every switch; returns a function that stops it. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Sets up the page in the current language: <html lang>, data-i18n
 * elements and the .lang-switch buttons. Call once at start. */
export function initI18n() {
  document.documentElement.lang = current;
  applyI18n();
  renderSwitches();
  for (const button of document.querySelectorAll('.lang-switch'))
    button.addEventListener('click', () => setLang(button.dataset.target));
}
