// library.js — the library page (library.html): search the recorded
// sessions, open one, watch its recordings, and for curators and admins tag
// and curate it and read its audit trail.
//
// library.html#token=TOKEN opens at once (a fragment never reaches the
// server, so the token stays out of its logs); without one a form asks for
// it. Every answer comes from the library API (docs/protocol.md, "The
// library"), which decides what each token sees: the page lists what it is
// given and never more. The token's role claim only decides whether the
// curation panel is tried at all; the API's 403 still hides it.
//
// A <video> cannot send an Authorization header, so recordings play from
// media_url?token=... (the one route that takes it in the URL); the server
// answers Range requests, so the player seeks.
//
// For tests, window.tribu = {state, role, user, total, page, results,
// session, canCurate, error, saved}.
//
// Not here: vocabulary editing (POST /api/vocabulary/KIND), the attendance
// detail of each join, and a synchronised view of several recordings.

import { STRINGS } from './strings.js';
import { initI18n, lang, locale, onLangChange, t } from './i18n.js';
import { $, clearNotice, clock, notify, readFragment, setStatus, tokenFromInput } from './ui.js';

initI18n();

const PER_PAGE = 20;
const TAG_KINDS = ['stage', 'sector', 'problem'];
const CURATED = ['title', 'notes', 'keywords', 'stage', 'sector', 'problem', 'visibility'];

/* ---- state ---- */

let state = 'idle'; // idle | form | loading | ready | error
let token = null;
let claims = null; // {sub, name, role} read from the token, unverified
let vocabulary = { stage: [], sector: [], problem: [] };
let results = null; // the last GET /api/library answer
let page = 1;
let searchSeq = 0;
let current = null; // the open session (GET /api/sessions/ID)
let related = [];
let audit = null; // entries, or null when this token may not read them
let canCurate = false;
let lastError = null; // {status, code, field, message}
let saved = 0; // successful PATCHes, for tests
let openSeq = 0;
let returnTo = null; // the session whose result opened the view: focus goes back to it

function setState(next) {
  state = next;
  document.body.dataset.state = next;
}

/* ---- the API ---- */

class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** METHOD PATH with the token; the JSON answer, or an ApiError (status 0
 * when the server could not be reached). */
async function api(path, { method = 'GET', body } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      cache: 'no-store',
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, 'connection-failed', err.message);
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    /* not JSON: reported by status */
  }
  if (!res.ok) {
    const e = json?.error ?? {};
    throw new ApiError(res.status, e.code ?? `http-${res.status}`, e.message ?? res.statusText, e.field);
  }
  return json;
}

/** The claims of TOKEN (its first part, base64url JSON), or null. Only to
 * choose what to try: the server checks the signature. */
function readClaims(text) {
  try {
    const part = text.split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const c = JSON.parse(new TextDecoder().decode(bytes));
    return typeof c === 'object' && c ? c : null;
  } catch {
    return null;
  }
}

/** Shows what ERR means in the banner; a token at fault sends the page
 * back to its form. */
function report(err, context = 'lib.loadFailed') {
  lastError = { status: err.status, code: err.code, field: err.field ?? null, message: err.message };
  if (err.status === 401) {
    setState('form');
    notify(/expired/i.test(err.message) ? 'err.expired' : 'lib.invalidToken', {}, { code: 'unauthorized' });
    show('join-view');
    $('join-token').focus();
    return;
  }
  if (err.status === 0) notify('err.unreachable', {}, { code: err.code });
  else if (err.status === 403) notify('lib.forbidden', {}, { code: err.code });
  else if (err.status === 404) notify('lib.notFound', {}, { code: err.code });
  else if (err.status === 503) notify('lib.unavailable', {}, { code: err.code });
  else notify(context, { code: err.code, message: err.message }, { code: err.code });
}

function show(view) {
  for (const id of ['join-view', 'library-view']) $(id).hidden = id !== view;
}

/* ---- words ---- */

/** The label of a tag VALUE of KIND: our translation of a seed value, else
 * the vocabulary's own label, else the value. */
function tagLabel(kind, value) {
  if (value === null || value === undefined) return '';
  const key = `vocab.${kind}.${value}`;
  const ours = STRINGS[lang()]?.[key]; // English: the vocabulary's own labels
  if (ours) return ours;
  return vocabulary[kind]?.find((v) => v.value === value)?.label ?? value;
}

function fieldLabel(field) {
  const key = `tag.${field}`;
  return STRINGS.fr[key] ? t(key) : field;
}

function roleLabel(role) {
  const key = `role.${role}`;
  return STRINGS.fr[key] ? t(key) : role;
}

function dateText(ms) {
  if (ms === null || ms === undefined) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

function durationText(ms) {
  return ms === null || ms === undefined ? t('lib.ongoing') : clock(ms);
}

function titleOf(s) {
  return s.title ? s.title : t('lib.untitled', { date: dateText(s.started_ms) });
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/* ---- vocabulary selects ---- */

/** Fills SELECT with the vocabulary of its data-kind after an EMPTY
 * option, keeping its value (kept as an option even when unknown). */
function fillSelect(select, emptyKey) {
  const kind = select.dataset.kind;
  const value = select.value;
  const options = [el('option', { value: '' }, t(emptyKey))];
  for (const v of vocabulary[kind] ?? []) options.push(el('option', { value: v.value }, tagLabel(kind, v.value)));
  if (value && !(vocabulary[kind] ?? []).some((v) => v.value === value))
    options.push(el('option', { value }, tagLabel(kind, value)));
  select.replaceChildren(...options);
  select.value = value;
}

function fillSelects() {
  for (const kind of TAG_KINDS) {
    fillSelect($(`f-${kind}`), 'lib.any');
    fillSelect($(`c-${kind}`), 'lib.none');
  }
}

/* ---- search ---- */

function query() {
  const params = new URLSearchParams();
  const q = $('q').value.trim();
  if (q) params.set('q', q);
  for (const kind of TAG_KINDS) if ($(`f-${kind}`).value) params.set(kind, $(`f-${kind}`).value);
  if ($('f-visibility').value) params.set('visibility', $('f-visibility').value);
  if ($('f-sort').value) params.set('sort', $('f-sort').value);
  params.set('page', String(page));
  params.set('per_page', String(PER_PAGE));
  return params;
}

/** Runs the search of the form at page P; a later search wins over an
 * earlier one still under way. */
async function search(p = 1, { focus = false } = {}) {
  page = p;
  const seq = ++searchSeq;
  setState('loading');
  setStatus('lib.searching');
  $('results').setAttribute('aria-busy', 'true');
  try {
    const answer = await api(`/api/library?${query()}`);
    if (seq !== searchSeq) return;
    results = answer;
    clearNotice();
    renderResults();
    setState('ready');
    setStatus(null);
    if (focus) $('results-title').focus();
  } catch (err) {
    if (seq !== searchSeq) return;
    setState('error');
    setStatus(null);
    report(err, 'lib.searchFailed');
  } finally {
    if (seq === searchSeq) $('results').removeAttribute('aria-busy');
  }
}

function tagList(s) {
  const items = [];
  for (const kind of TAG_KINDS)
    if (s[kind]) items.push(el('li', { class: `tag ${kind}`, title: fieldLabel(kind) }, tagLabel(kind, s[kind])));
  for (const k of s.keywords ?? []) items.push(el('li', { class: 'tag keyword' }, k));
  return items.length ? el('ul', { class: 'tags', 'aria-label': t('lib.tags') }, ...items) : null;
}

function visibilityBadge(s) {
  return el('span', { class: `vis ${s.visibility}` }, t(`vis.${s.visibility}`));
}

function renderResults() {
  const list = $('results');
  if (!results) {
    list.replaceChildren();
    return;
  }
  const { total, results: rows } = results;
  $('results-title').textContent =
    total === 0 ? t('lib.total0') : total === 1 ? t('lib.total1') : t('lib.totalN', { n: total });
  list.replaceChildren(
    ...rows.map((s) => {
      const open = el('button', { type: 'button', class: 'open', dataset: { session: s.session_id } }, titleOf(s));
      open.addEventListener('click', () => openSession(s.session_id, true));
      const meta = el('p', { class: 'meta' },
        el('time', { dateTime: new Date(s.started_ms).toISOString() }, dateText(s.started_ms)),
        ' · ', s.mentor ? t('lib.withMentor', { name: s.mentor.name || s.mentor.user }) : t('lib.noMentor'),
        ' · ', el('span', { 'aria-label': t('lib.durationOf', { time: durationText(s.duration_ms) }) },
          durationText(s.duration_ms)),
        ' ', visibilityBadge(s));
      return el('li', { class: 'result', dataset: { session: s.session_id },
        'aria-current': current?.session_id === s.session_id ? 'true' : 'false' },
      el('h3', {}, open), meta, tagList(s));
    }),
  );
  const pages = Math.max(1, Math.ceil(total / results.per_page));
  $('pager').hidden = pages <= 1;
  $('page-label').textContent = t('lib.pageOf', { page: results.page, pages });
  $('prev-page').disabled = results.page <= 1;
  $('next-page').disabled = results.page >= pages;
}

/* ---- one session ---- */

/** Opens session ID; FROM_RESULTS when its result was clicked (focus goes
 * back there on close). */
async function openSession(id, fromResults = false) {
  const seq = ++openSeq;
  if (fromResults) returnTo = id;
  setStatus('lib.opening');
  let s;
  try {
    s = await api(`/api/sessions/${encodeURIComponent(id)}`);
  } catch (err) {
    if (seq === openSeq) {
      setStatus(null);
      report(err, 'lib.openFailed');
    }
    return;
  }
  if (seq !== openSeq) return;
  current = s;
  related = [];
  audit = null;
  canCurate = false;
  clearNotice();
  clearFieldErrors();
  $('save-status').textContent = '';
  renderSession();
  setupPlayer();
  fillCuration();
  $('session-view').hidden = false;
  document.body.dataset.session = 'open';
  renderResults();
  $('session-title').focus();
  setStatus(null);
  await Promise.all([loadRelated(seq), loadAudit(seq)]);
}

function closeSession() {
  openSeq++;
  current = null;
  $('player').removeAttribute('src');
  $('player').load();
  $('session-view').hidden = true;
  delete document.body.dataset.session;
  renderResults();
  const back = [...document.querySelectorAll('#results button.open')].find((b) => b.dataset.session === returnTo) ??
    document.querySelector('#results button.open') ?? $('q');
  back.focus();
}

function renderSession() {
  const s = current;
  if (!s) return;
  $('session-title').textContent = titleOf(s);
  const facts = [
    ['lib.date', el('time', { dateTime: new Date(s.started_ms).toISOString() }, dateText(s.started_ms))],
    ['lib.duration', durationText(s.duration_ms)],
    ['lib.mentor', s.mentor ? s.mentor.name || s.mentor.user : t('lib.noMentorShort')],
    ['tag.visibility', visibilityBadge(s)],
  ];
  for (const kind of TAG_KINDS) if (s[kind]) facts.push([`tag.${kind}`, tagLabel(kind, s[kind])]);
  if (s.keywords?.length) facts.push(['tag.keywords', s.keywords.join(', ')]);
  $('session-facts').replaceChildren(...facts.flatMap(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value)]));
  $('session-notes').textContent = s.notes || '';
  $('session-notes').hidden = !s.notes;
  $('people').replaceChildren(
    ...(s.participants ?? []).map((p) =>
      el('li', {}, el('span', { class: 'person' }, p.name || p.user), ' — ',
        t('lib.presence', { role: roleLabel(p.role), time: clock(p.present_ms ?? 0) }))),
  );
  renderRecordingChoice();
  renderRelated();
  renderAudit();
}

/* ---- the player ---- */

function recordingLabel(r) {
  const who = current.participants?.find((p) => p.user === r.user);
  const kinds = (r.kinds ?? '').split(',');
  const what = kinds.includes('video') ? (kinds.includes('audio') ? t('lib.av') : t('lib.videoOnly')) : t('lib.audioOnly');
  const base = t('lib.recordingOf', { name: who?.name || r.user || '?', role: roleLabel(r.role), what,
    time: clock(r.duration_ms ?? 0) });
  if (r.media_url) return r.state === 'truncated' ? `${base} ${t('lib.truncated')}` : base;
  return `${base} ${t(r.state === 'recording' ? 'lib.stillRecording' : 'lib.failedRecording')}`;
}

function renderRecordingChoice() {
  const select = $('recording-choice');
  const value = select.value;
  const recs = current.recordings ?? [];
  select.replaceChildren(...recs.map((r) =>
    el('option', { value: String(r.id), disabled: !r.media_url }, recordingLabel(r))));
  if (value) select.value = value;
  const playable = recs.some((r) => r.media_url);
  $('player-box').hidden = !playable;
  $('no-recording').hidden = playable;
  $('no-recording').textContent = recs.length ? t('lib.noPlayable') : t('lib.noRecording');
}

/** Loads the chosen recording in the player (the first playable one when
 * the session opens). */
function setupPlayer() {
  const recs = current.recordings ?? [];
  const first = recs.find((r) => r.media_url);
  const select = $('recording-choice');
  if (first) select.value = String(first.id);
  playChosen(false);
}

function playChosen(autoplay) {
  const player = $('player');
  const rec = (current?.recordings ?? []).find((r) => String(r.id) === $('recording-choice').value);
  if (!rec?.media_url) {
    player.removeAttribute('src');
    player.load();
    return;
  }
  const sep = rec.media_url.includes('?') ? '&' : '?';
  player.src = `${rec.media_url}${sep}token=${encodeURIComponent(token)}`;
  player.dataset.recording = String(rec.id);
  if (autoplay) player.play().catch(() => {});
}

$('recording-choice').addEventListener('change', () => playChosen(true));
$('player').addEventListener('error', () => {
  if (!$('player').getAttribute('src')) return;
  notify('lib.playFailed', {}, { code: 'media', level: 'warning' });
});

/* ---- related sessions ---- */

async function loadRelated(seq) {
  try {
    const answer = await api(`/api/sessions/${encodeURIComponent(current.session_id)}/related`);
    if (seq !== openSeq) return;
    related = answer.results ?? [];
  } catch (err) {
    if (seq !== openSeq) return;
    related = [];
    if (err.status === 401 || err.status === 0) report(err);
  }
  renderRelated();
}

function renderRelated() {
  $('related').replaceChildren(
    ...related.map((s) => {
      const open = el('button', { type: 'button', class: 'link-button' }, titleOf(s));
      open.addEventListener('click', () => openSession(s.session_id));
      return el('li', {}, open, ' ', el('span', { class: 'meta' }, dateText(s.started_ms)), tagList(s));
    }),
  );
  $('related-none').hidden = related.length > 0;
}

/* ---- curation (curators and admins) ---- */

async function loadAudit(seq) {
  if (!['curator', 'admin'].includes(claims?.role)) {
    renderAudit();
    return;
  }
  try {
    const answer = await api(`/api/sessions/${encodeURIComponent(current.session_id)}/audit`);
    if (seq !== openSeq) return;
    audit = answer.entries ?? [];
    canCurate = true;
  } catch (err) {
    if (seq !== openSeq) return;
    audit = null;
    canCurate = false; // the API said no: the panel stays hidden
    if (err.status !== 403) report(err);
  }
  renderAudit();
}

function auditValue(field, value) {
  if (value === null || value === undefined || value === '') return t('lib.empty');
  if (TAG_KINDS.includes(field)) return tagLabel(field, value);
  if (field === 'visibility') return t(`vis.${value}`);
  return value;
}

function renderAudit() {
  $('curation').hidden = !canCurate;
  if (!canCurate || !audit) return;
  const body = $('audit').querySelector('tbody');
  body.replaceChildren(...audit.map((e) => el('tr', {},
    el('td', {}, el('time', { dateTime: new Date(e.at_ms).toISOString() }, dateText(e.at_ms))),
    el('td', {}, `${e.user} (${roleLabel(e.role)})`),
    el('td', {}, fieldLabel(e.field)),
    el('td', {}, auditValue(e.field, e.old)),
    el('td', {}, auditValue(e.field, e.new)))));
  $('audit').hidden = audit.length === 0;
  $('audit-none').hidden = audit.length > 0;
}

function fillCuration() {
  const s = current;
  $('c-title').value = s.title ?? '';
  $('c-notes').value = s.notes ?? '';
  $('c-keywords').value = (s.keywords ?? []).join(', ');
  for (const kind of TAG_KINDS) {
    const select = $(`c-${kind}`);
    select.value = s[kind] ?? '';
    if (select.value !== (s[kind] ?? '')) {
      select.append(el('option', { value: s[kind] }, tagLabel(kind, s[kind])));
      select.value = s[kind];
    }
  }
  $('c-visibility').value = s.visibility;
}

function keywordsOf(text) {
  return text.split(',').map((k) => k.trim()).filter(Boolean);
}

/** The fields of the form that differ from the open session. */
function changes() {
  const s = current;
  const out = {};
  const title = $('c-title').value.trim();
  if (title !== (s.title ?? '')) out.title = title;
  const notes = $('c-notes').value.trim();
  if (notes !== (s.notes ?? '')) out.notes = notes;
  const keywords = keywordsOf($('c-keywords').value);
  const lower = keywords.map((k) => k.toLowerCase());
  if (lower.join('\n') !== (s.keywords ?? []).join('\n')) out.keywords = keywords;
  for (const kind of TAG_KINDS) {
    const value = $(`c-${kind}`).value || null;
    if (value !== (s[kind] ?? null)) out[kind] = value;
  }
  if ($('c-visibility').value !== s.visibility) out.visibility = $('c-visibility').value;
  return out;
}

function clearFieldErrors() {
  for (const field of CURATED) {
    const box = document.querySelector(`.field[data-field="${field}"]`);
    box.querySelector('input, textarea, select').removeAttribute('aria-invalid');
    const msg = $(`c-${field}-error`);
    msg.textContent = '';
    msg.hidden = true;
  }
}

/** Marks FIELD of the form invalid with the API's MESSAGE and focuses it;
 * false when the form has no such field. */
function showFieldError(field, message) {
  if (!CURATED.includes(field)) return false;
  const input = $(`c-${field}`);
  input.setAttribute('aria-invalid', 'true');
  const msg = $(`c-${field}-error`);
  msg.textContent = t('lib.fieldError', { message });
  msg.hidden = false;
  input.focus();
  return true;
}

let saving = false;

async function save(ev) {
  ev.preventDefault();
  if (!current || saving) return;
  clearFieldErrors();
  const body = changes();
  if (Object.keys(body).length === 0) {
    $('save-status').textContent = t('lib.nothingToSave');
    return;
  }
  saving = true;
  $('save-button').disabled = true;
  $('save-status').textContent = t('lib.saving');
  const seq = openSeq;
  try {
    const s = await api(`/api/sessions/${encodeURIComponent(current.session_id)}`, { method: 'PATCH', body });
    if (seq !== openSeq) return;
    current = s;
    saved++;
    clearNotice();
    renderSession();
    fillCuration();
    $('save-status').textContent = t('lib.saved');
    await loadAudit(seq);
    search(page);
  } catch (err) {
    $('save-status').textContent = '';
    lastError = { status: err.status, code: err.code, field: err.field ?? null, message: err.message };
    if (err.status === 400 && err.field) {
      notify('lib.fieldRefused', { field: fieldLabel(err.field), message: err.message }, { code: err.code });
      showFieldError(err.field, err.message);
    } else {
      report(err, 'lib.saveFailed');
    }
  } finally {
    saving = false;
    $('save-button').disabled = false;
  }
}

/* ---- start ---- */

async function open(text) {
  token = text;
  claims = readClaims(text);
  setState('loading');
  setStatus('lib.loading');
  show('library-view');
  try {
    vocabulary = await api('/api/vocabulary');
  } catch (err) {
    setStatus(null);
    setState('error');
    report(err);
    return;
  }
  clearNotice();
  fillSelects();
  renderWho();
  await search(1);
}

function renderWho() {
  const who = $('who');
  if (!claims?.sub) {
    who.hidden = true;
    return;
  }
  who.textContent = t('lib.who', { name: claims.name || claims.sub, role: roleLabel(claims.role) });
  who.hidden = false;
}

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = tokenFromInput($('join-token').value);
  if (text) open(text);
});
$('search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  search(1, { focus: true });
});
for (const id of ['f-stage', 'f-sector', 'f-problem', 'f-visibility', 'f-sort'])
  $(id).addEventListener('change', () => search(1));
$('reset-button').addEventListener('click', () => {
  $('q').value = '';
  for (const id of ['f-stage', 'f-sector', 'f-problem', 'f-visibility', 'f-sort']) $(id).value = '';
  search(1);
});
$('prev-page').addEventListener('click', () => search(page - 1, { focus: true }));
$('next-page').addEventListener('click', () => search(page + 1, { focus: true }));
$('close-session').addEventListener('click', closeSession);
$('curation-form').addEventListener('submit', save);
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && current && $('session-view').contains(document.activeElement)) closeSession();
});

onLangChange(() => {
  fillSelects();
  renderWho();
  renderResults();
  if (current) renderSession();
});

window.tribu = {
  get state() {
    return state;
  },
  get role() {
    return claims?.role ?? null;
  },
  get user() {
    return claims?.sub ?? null;
  },
  get total() {
    return results?.total ?? null;
  },
  get page() {
    return results?.page ?? null;
  },
  /** Session ids of the results shown. */
  get results() {
    return (results?.results ?? []).map((r) => r.session_id);
  },
  /** The open session's id, or null. */
  get session() {
    return current?.session_id ?? null;
  },
  get canCurate() {
    return canCurate;
  },
  get error() {
    return lastError;
  },
  get saved() {
    return saved;
  },
};

const fromFragment = readFragment();
if (fromFragment) {
  open(fromFragment.token);
} else {
  setState('form');
  show('join-view');
}
