// index.js — the landing page: the server's state from /healthz and, on a
// server started with --dev only (GET /api/dev answers 200), the "try it"
// buttons that mint a demo room's links (POST /api/dev/demo).

import { initI18n, onLangChange, t } from './js/i18n.js';

initI18n();

const $ = (id) => document.getElementById(id);
let health = null; // the /healthz answer, or false when the server did not answer
let demo = null; // the last /api/dev/demo answer

function renderStatus() {
  if (health === null) $('status').textContent = t('index.checking');
  else if (health === false) $('status').textContent = t('index.down');
  else $('status').textContent = t('index.up', { version: health.version, rooms: health.rooms });
}

function renderDemo() {
  const list = $('try-links');
  list.replaceChildren();
  if (!demo) return;
  const links = [[t('index.linkMentor'), demo.mentor_url]];
  demo.student_urls.forEach((url, i) =>
    links.push([demo.student_urls.length > 1 ? t('index.linkStudentN', { n: i + 1 }) : t('index.linkStudent'), url]));
  for (const [label, url] of links) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = label;
    a.className = 'demo-link';
    li.append(a);
    list.append(li);
  }
  $('try-result').hidden = false;
}

async function tryIt(kind) {
  $('try-error').hidden = true;
  for (const b of document.querySelectorAll('.try-buttons button')) b.disabled = true;
  try {
    const res = await fetch('/api/dev/demo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(kind === 'workshop' ? { kind, students: 2 } : { kind }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    demo = await res.json();
    renderDemo();
    $('try-links').querySelector('a')?.focus();
  } catch (err) {
    $('try-error').textContent = t('index.tryFailed', { why: err.message });
    $('try-error').hidden = false;
  } finally {
    for (const b of document.querySelectorAll('.try-buttons button')) b.disabled = false;
  }
}

$('try-call').addEventListener('click', () => tryIt('coaching'));
$('try-workshop').addEventListener('click', () => tryIt('workshop'));
onLangChange(() => {
  renderStatus();
  renderDemo();
});

renderStatus();
try {
  const res = await fetch('/healthz', { cache: 'no-store' });
  health = await res.json();
} catch {
  health = false;
}
renderStatus();

// The "try it" section exists only on a --dev server.
try {
  const res = await fetch('/api/dev', { cache: 'no-store' });
  $('try').hidden = !res.ok;
} catch {
  $('try').hidden = true;
}
document.body.dataset.ready = 'true';
