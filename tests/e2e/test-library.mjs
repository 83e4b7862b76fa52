// test-library.mjs — the library page (web/library.html) in headless
// Chromium against a real tribud, on recordings made during the test: two
// coaching calls between Chromium pages (call.html), then
//   - a curator tags one through the page, finds it by its new keyword,
//     plays it and seeks to its middle (ranged requests to the media route);
//   - curation through the page writes audit rows; a bad value shows the
//     API's error naming the field, and nothing is written;
//   - a student never sees another student's confidential session, with or
//     without a search, but sees the reference one; no curation for them;
//   - the token form, keyboard use, 360 px, contrast and English.
//
// Run inside a network namespace that holds only loopback (meson test
// --suite e2e does):
//
//   unshare -n sh -c 'ip link set lo up && exec node --test test-library.mjs'
//
// Environment as test-call.mjs: TRIBUD, CHROMIUM, TRIBU_E2E_SCREENSHOTS=DIR,
// TRIBU_E2E_FAILURES=DIR (screenshots of every open page when a test fails),
// TRIBU_E2E_VERBOSE=1.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  closePage, contrastFailures, joined, launch, noHorizontalScroll, openPage, shootAll, shot, skipReason,
  videoPlaying, waitIn, withShots,
} from './lib/browser.mjs';
import { startTribud, withTimeout } from './lib/tribud.mjs';

const SKIP = skipReason('test-library.mjs');
const ONLY_HERE = { skip: SKIP };
const MEDIA = { media: { addresses: '127.0.0.1' } };
// Seconds of the other's video each call page plays before both leave: the
// recordings last a little longer (from the join).
const CALL_SECONDS = 8;

describe('library page in Chromium', () => {
  let server;
  let browser;
  const session = {}; // 'a' (mila + lea), 'b' (mila + noe) -> session id
  const tokens = {};

  const tokenOf = (user, role, name = user[0].toUpperCase() + user.slice(1)) =>
    (tokens[`${user}/${role}`] ??= server.token({ user, name, role, room: '*' }));
  const libraryUrl = (user, role) => `${server.url}/library.html#token=${tokenOf(user, role)}`;

  /** The library API as USER/ROLE: {status, json}. */
  async function api(path, user, role, { method = 'GET', body } = {}) {
    const res = await withTimeout(fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokenOf(user, role)}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }), 10000, `${method} ${path}`);
    return { status: res.status, json: await res.json().catch(() => null) };
  }

  /** A coaching call in ROOM between two Chromium pages, each playing the
   * other's video for CALL_SECONDS, then both leave. */
  async function recordCall(room, mentor, student) {
    const open = (user, role) => openPage(browser, `call-${user}`, `${server.url}/call.html#token=${
      server.token({ user, name: user[0].toUpperCase() + user.slice(1), role, room })}`);
    const m = await open(mentor, 'mentor');
    const s = await open(student, 'student');
    await waitIn(m, 'mentor joined', joined);
    await waitIn(s, 'student joined', joined);
    const mid = await m.evaluate(() => window.tribu.you.participant_id);
    const sid = await s.evaluate(() => window.tribu.you.participant_id);
    await waitIn(m, 'student video playing', videoPlaying, sid, { timeout: 30000 });
    await waitIn(s, 'mentor video playing', videoPlaying, mid, { timeout: 30000 });
    for (const [page, id] of [[m, sid], [s, mid]])
      await waitIn(page, `${CALL_SECONDS} s of the other's video`, ([pid, secs]) => window.tribu.remoteVideos()
        .some((v) => v.closest('[data-participant]')?.dataset.participant === pid && v.currentTime >= secs),
      [id, CALL_SECONDS], { timeout: 30000 });
    for (const page of [m, s]) {
      await page.click('#leave-button');
      await waitIn(page, 'left', () => window.tribu.state === 'left');
      await closePage(page);
    }
  }

  /** Resolves when FN() is truthy, polling every 250 ms up to TIMEOUT. */
  async function until(what, fn, timeout = 60000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await fn();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  before(async () => {
    if (SKIP) return;
    server = await startTribud({ config: MEDIA });
    browser = await launch();
    try {
      await recordCall('c-lib-a', 'mila', 'lea');
      await recordCall('c-lib-b', 'mila', 'noe');
    } catch (err) {
      await shootAll('recording the calls');
      throw err;
    }
    // A session ends when its room empties; its files are finalised just after.
    const rows = await until('two ended sessions with complete recordings', async () => {
      const res = await api('/api/library?sort=date', 'cora', 'curator');
      if (res.status !== 200 || res.json.total !== 2) return false;
      for (const row of res.json.results) {
        if (row.ended_ms === null) return false;
        const s = await api(`/api/sessions/${row.session_id}`, 'cora', 'curator');
        if (s.json.recordings.length < 2 || s.json.recordings.some((r) => r.state !== 'complete')) return false;
      }
      return res.json.results;
    });
    session.a = rows.find((r) => r.room_id === 'c-lib-a').session_id;
    session.b = rows.find((r) => r.room_id === 'c-lib-b').session_id;
  }, { timeout: 180000 });

  after(async () => {
    await browser?.close();
    if (server) {
      const code = await server.cleanup();
      assert.equal(code, 0, `tribud exited ${code}:\n${server.stderr.slice(-4000)}`);
    }
  });

  /** Opens the library as USER/ROLE and waits for its first results. */
  async function openLibrary(name, user, role, opts) {
    const page = await openPage(browser, name, libraryUrl(user, role), opts);
    await waitIn(page, 'the first results', () => window.tribu?.state === 'ready' && window.tribu.total !== null);
    return page;
  }

  const shown = () => window.tribu.results;

  /** Types TEXT in the search box and submits it with Enter. */
  async function searchFor(page, text, expected) {
    await page.fill('#q', text);
    await page.press('#q', 'Enter');
    await waitIn(page, `results for "${text}"`, (ids) => window.tribu.state === 'ready' &&
      JSON.stringify(window.tribu.results) === JSON.stringify(ids), expected);
  }

  async function openResult(page, id) {
    await page.click(`#results button.open[data-session="${id}"]`);
    await waitIn(page, `session ${id} open`, (sid) => window.tribu.session === sid &&
      !document.getElementById('session-view').hidden, id);
  }

  test('a curator tags a session through the page and finds it by its keyword', ONLY_HERE,
    withShots(async () => {
      const page = await openLibrary('curator', 'cora', 'curator');
      assert.deepEqual((await page.evaluate(shown)).sort(), [session.a, session.b].sort());
      assert.equal(await page.textContent('#results-title'), '2 séances');
      assert.equal(await page.evaluate(() => window.tribu.role), 'curator');

      await openResult(page, session.a);
      await waitIn(page, 'the curation panel', () => window.tribu.canCurate &&
        !document.getElementById('curation').hidden && document.getElementById('audit-none').hidden === false);
      await page.fill('#c-title', 'Fixer le prix d’un menu de food truck');
      await page.fill('#c-keywords', 'Tarification, menu');
      await page.selectOption('#c-stage', 'idea');
      await page.selectOption('#c-sector', 'food');
      await page.selectOption('#c-problem', 'pricing');
      await page.selectOption('#c-visibility', 'reference');
      await page.click('#save-button');
      await waitIn(page, 'saved', () => window.tribu.saved === 1 &&
        document.getElementById('save-status').textContent === 'Modifications enregistrées.' &&
        document.querySelectorAll('#audit tbody tr').length === 6);
      assert.equal(await page.textContent('#session-title'), 'Fixer le prix d’un menu de food truck');

      // The API holds what the page wrote, and an audit row per field.
      const s = await api(`/api/sessions/${session.a}`, 'cora', 'curator');
      assert.equal(s.json.title, 'Fixer le prix d’un menu de food truck');
      assert.deepEqual(s.json.keywords, ['tarification', 'menu']);
      assert.equal(s.json.visibility, 'reference');
      assert.deepEqual([s.json.stage, s.json.sector, s.json.problem], ['idea', 'food', 'pricing']);
      const audit = await api(`/api/sessions/${session.a}/audit`, 'cora', 'curator');
      assert.deepEqual(audit.json.entries.map((e) => e.field).sort(),
        ['keywords', 'problem', 'sector', 'stage', 'title', 'visibility']);
      for (const e of audit.json.entries) assert.deepEqual([e.user, e.role], ['cora', 'curator']);
      assert.deepEqual(audit.json.entries.find((e) => e.field === 'visibility').new, 'reference');

      // Found by its new keyword (a prefix of it, too); the result says what it is.
      await page.click('#close-session');
      await searchFor(page, 'tarification', [session.a]);
      assert.equal(await page.textContent('#results-title'), '1 séance');
      await searchFor(page, 'tarif', [session.a]);
      const row = await page.textContent(`#results li[data-session="${session.a}"]`);
      for (const part of ['Fixer le prix', 'Idée', 'Alimentation', 'Fixer ses prix', 'tarification', 'avec Mila',
        'Référence'])
        assert.ok(row.includes(part), `the result shows "${part}": ${row}`);
      assert.match(row, /\b0:(0[5-9]|[1-5]\d)\b/, `the result shows the duration: ${row}`);
      assert.match(row, /\d{4}/, `the result shows the date: ${row}`);
      await shot(page, 'library-curator');
      await closePage(page);
    }));

  test('the player plays a recording and seeks to its middle with ranged requests', ONLY_HERE,
    withShots(async () => {
      // A fresh page (Chromium keeps in memory what a page fetched), found by
      // the keyword the curator gave.
      await api(`/api/sessions/${session.a}`, 'cora', 'curator',
        { method: 'PATCH', body: { keywords: ['tarification', 'menu'] } });
      const page = await openLibrary('player', 'cora', 'curator');
      const media = []; // what the player asks of the media route
      page.on('response', (res) => {
        if (/\/api\/recordings\/\d+\/media/.test(res.url()))
          media.push({ status: res.status(), range: res.request().headers().range ?? null,
            contentRange: res.headers()['content-range'] ?? null, url: res.url() });
      });
      await searchFor(page, 'tarification', [session.a]);
      const s = (await api(`/api/sessions/${session.a}`, 'cora', 'curator')).json;
      const rec = s.recordings.find((r) => r.media_url);
      // A slow network, so that the middle is not downloaded yet when the
      // player seeks there: the seek then needs requests that start past 0.
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      const throttle = (bytesPerSecond) => cdp.send('Network.emulateNetworkConditions',
        { offline: false, latency: 0, downloadThroughput: bytesPerSecond, uploadThroughput: -1 });
      await throttle(50000);
      await openResult(page, session.a);
      assert.equal(await page.inputValue('#recording-choice'), String(rec.id));
      assert.equal(await page.locator('#recording-choice option').count(), s.recordings.length,
        'one choice per participant file');
      await waitIn(page, 'the metadata, and the whole length seekable', () => {
        const v = document.getElementById('player');
        return v.readyState >= 1 && v.seekable.length === 1 && v.seekable.end(0) >= v.duration - 0.5;
      }, undefined, { timeout: 30000 });
      const middle = rec.duration_ms / 2000;
      const fetched = media.length;
      await page.evaluate((t) => {
        document.getElementById('player').currentTime = t;
      }, middle);
      await waitIn(page, 'seeked to the middle', (t) => {
        const v = document.getElementById('player');
        if (v.error) throw new Error(`media error ${v.error.code}: ${v.error.message}`);
        return !v.seeking && Math.abs(v.currentTime - t) < 1 && v.readyState >= 2;
      }, middle, { timeout: 60000 });
      const ranged = media.slice(fetched).filter((m) => /^bytes=[1-9]\d*-/.test(m.range ?? ''));
      assert.ok(ranged.length > 0, `the seek asked for bytes past 0: ${JSON.stringify(media)}`);
      await throttle(-1);
      const at = await page.evaluate(() => {
        const v = document.getElementById('player');
        v.muted = true; // autoplay policy: a muted video may play without a gesture
        v.play();
        return v.currentTime;
      });
      await waitIn(page, 'playing on from the middle', (t) => {
        const v = document.getElementById('player');
        if (v.error) throw new Error(`media error ${v.error.code}: ${v.error.message}`);
        return !v.paused && v.currentTime > t + 0.5 && v.videoWidth > 0;
      }, at);
      // Back to the start (what "replay" does): it plays again from 0 with
      // no error shown. Every track of a recording starts at the first video
      // keyframe (recorder/pipeline.c), so Chromium can seek there.
      await page.evaluate(() => {
        document.getElementById('player').currentTime = 0;
      });
      await waitIn(page, 'playing again from the start', () => {
        const v = document.getElementById('player');
        return !v.paused && v.currentTime > 0.2 && v.currentTime < 4 && v.videoWidth > 0 && !v.error &&
          document.getElementById('notice').hidden;
      });
      if (process.env.TRIBU_E2E_VERBOSE) process.stderr.write(`media requests: ${JSON.stringify(media)}\n`);
      for (const m of media) {
        assert.match(m.url, /[?&]token=/, 'a <video> carries its token in the URL');
        assert.equal(m.status, 206, `ranged answers: ${JSON.stringify(media)}`);
        assert.match(m.range ?? '', /^bytes=\d+-/, JSON.stringify(m));
        const start = /^bytes=(\d+)-/.exec(m.range)[1];
        assert.match(m.contentRange ?? '', new RegExp(`^bytes ${start}-${rec.bytes - 1}/${rec.bytes}$`), JSON.stringify(m));
      }
      await shot(page, 'library-player');
      await closePage(page);
    }));

  test('a bad value shows the API\'s error naming the field; nothing is written', ONLY_HERE,
    withShots(async () => {
      const page = await openLibrary('curator-errors', 'cora', 'curator');
      await openResult(page, session.b);
      await waitIn(page, 'the curation panel', () => window.tribu.canCurate);
      // A tag the vocabulary does not have (a stale page would offer it).
      await page.evaluate(() => {
        const select = document.getElementById('c-stage');
        select.append(new Option('Rêverie', 'dreaming'));
        select.value = 'dreaming';
      });
      await page.click('#save-button');
      await waitIn(page, 'the error shown', () => {
        const notice = document.getElementById('notice');
        return !notice.hidden && notice.textContent.includes('«\u00a0Étape\u00a0»') &&
          notice.textContent.includes("stage: unknown value 'dreaming'") &&
          document.getElementById('c-stage').getAttribute('aria-invalid') === 'true' &&
          !document.getElementById('c-stage-error').hidden && document.activeElement.id === 'c-stage';
      });
      assert.equal(await page.evaluate(() => window.tribu.error.field), 'stage');
      await shot(page, 'library-bad-tag');
      // A keyword longer than 64 bytes, typed by hand.
      await page.selectOption('#c-stage', '');
      await page.fill('#c-keywords', `boulangerie, ${'x'.repeat(65)}`);
      await page.click('#save-button');
      await waitIn(page, 'the keywords error shown', () =>
        document.getElementById('notice').textContent.includes('«\u00a0Mots-clés\u00a0»') &&
        document.getElementById('c-keywords').getAttribute('aria-invalid') === 'true' &&
        document.getElementById('c-stage').getAttribute('aria-invalid') === null);
      let s = await api(`/api/sessions/${session.b}`, 'cora', 'curator');
      assert.deepEqual([s.json.stage, s.json.keywords, s.json.visibility], [null, [], 'confidential']);
      assert.deepEqual((await api(`/api/sessions/${session.b}/audit`, 'cora', 'curator')).json.entries, []);

      // Corrected: saved, the error gone, one audit row.
      await page.fill('#c-keywords', 'boulangerie');
      await page.click('#save-button');
      await waitIn(page, 'saved', () => window.tribu.saved === 1 && document.getElementById('notice').hidden &&
        document.getElementById('c-keywords').getAttribute('aria-invalid') === null &&
        document.querySelectorAll('#audit tbody tr').length === 1);
      s = await api(`/api/sessions/${session.b}`, 'cora', 'curator');
      assert.deepEqual([s.json.keywords, s.json.visibility], [['boulangerie'], 'confidential']);
      const audit = (await api(`/api/sessions/${session.b}/audit`, 'cora', 'curator')).json.entries;
      assert.deepEqual(audit.map((e) => [e.field, e.user, e.role, e.new]), [['keywords', 'cora', 'curator', 'boulangerie']]);
      await closePage(page);
    }));

  test('a student never lists another student\'s confidential session, but lists the reference one; mentors',
    ONLY_HERE, withShots(async () => {
      // Set by the tests above; made sure of here so this test stands alone.
      await api(`/api/sessions/${session.a}`, 'cora', 'curator',
        { method: 'PATCH', body: { visibility: 'reference', keywords: ['tarification', 'menu'] } });
      await api(`/api/sessions/${session.b}`, 'cora', 'curator', { method: 'PATCH', body: { keywords: ['boulangerie'] } });
      assert.equal((await api(`/api/sessions/${session.b}`, 'cora', 'curator')).json.visibility, 'confidential');

      // zoe attended neither call; lea attended the reference one.
      for (const user of ['zoe', 'lea']) {
        const page = await openLibrary(`student-${user}`, user, 'student');
        assert.deepEqual(await page.evaluate(shown), [session.a], `${user}, no filter`);
        assert.equal(await page.evaluate(() => window.tribu.total), 1);
        await searchFor(page, 'boulangerie', []);
        assert.equal(await page.textContent('#results-title'), 'Aucune séance ne correspond à la recherche.');
        await searchFor(page, 'tarification', [session.a]);
        await page.fill('#q', '');
        await page.selectOption('#f-visibility', 'confidential');
        await waitIn(page, 'no confidential session', () => window.tribu.state === 'ready' &&
          window.tribu.total === 0);
        await page.selectOption('#f-visibility', '');
        await waitIn(page, 'back to one', () => window.tribu.state === 'ready' && window.tribu.total === 1);
        assert.ok(!(await page.content()).includes(session.b), 'the confidential session appears nowhere');
        // The reference session opens and plays, without the curation panel.
        await openResult(page, session.a);
        await waitIn(page, 'the recording loaded', () => document.getElementById('player').readyState >= 2);
        assert.equal(await page.isVisible('#curation'), false);
        assert.equal(await page.evaluate(() => window.tribu.canCurate), false);
        await closePage(page);
      }
      // The confidential session's own student sees it; the page lists what the API gives.
      const noe = await openLibrary('student-noe', 'noe', 'student');
      assert.deepEqual((await noe.evaluate(shown)).sort(), [session.a, session.b].sort());
      await closePage(noe);
      // The mentor of both calls sees both, and curates neither.
      const mila = await openLibrary('mentor-mila', 'mila', 'mentor');
      assert.deepEqual((await mila.evaluate(shown)).sort(), [session.a, session.b].sort());
      await openResult(mila, session.b);
      await waitIn(mila, 'the recording loaded', () => document.getElementById('player').readyState >= 1);
      assert.equal(await mila.isVisible('#curation'), false);
      await closePage(mila);
      assert.equal((await api(`/api/sessions/${session.b}`, 'zoe', 'student')).status, 403);
    }));

  test('the token form, keyboard, 360 px, contrast and English', ONLY_HERE, withShots(async () => {
    // Without a token: the form; a forged one is refused there.
    const page = await openPage(browser, 'library-form', `${server.url}/library.html`);
    await waitIn(page, 'the form', () => window.tribu?.state === 'form' &&
      !document.getElementById('join-view').hidden);
    await page.fill('#join-token', 'eyJzdWIiOiJ4In0.forged');
    await page.click('#join-view button[type=submit]');
    await waitIn(page, 'refused', () => window.tribu.state === 'form' &&
      document.getElementById('notice').textContent.includes('n’est pas valide'));
    await page.fill('#join-token', libraryUrl('cora', 'curator'));
    await page.click('#join-view button[type=submit]');
    await waitIn(page, 'opened from the form', () => window.tribu.state === 'ready' && window.tribu.total === 2 &&
      document.getElementById('notice').hidden);

    // Keyboard: from the search box to a result, Enter opens it, Escape goes back.
    await page.focus('#q');
    let reached = null;
    for (let i = 0; i < 15 && reached !== 'open'; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement.className);
    }
    assert.equal(reached, 'open', 'Tab reaches the first result');
    const id = await page.evaluate(() => document.activeElement.dataset.session);
    await page.keyboard.press('Enter');
    await waitIn(page, 'opened, focus on its title', (sid) => window.tribu.session === sid &&
      document.activeElement.id === 'session-title', id);
    await page.keyboard.press('Escape');
    await waitIn(page, 'closed, focus back on its result', (sid) => window.tribu.session === null &&
      document.activeElement.dataset.session === sid, id);

    // English: our words, the vocabulary's labels.
    await page.click('.lang-switch');
    await waitIn(page, 'English', () => document.documentElement.lang === 'en' &&
      document.getElementById('results-title').textContent === '2 sessions' &&
      [...document.querySelectorAll('#f-sector option')].some((o) => o.textContent === 'Food'));
    await page.click('.lang-switch');
    await closePage(page);

    // 360 px with a session open, and contrast in both schemes.
    const narrow = await openLibrary('library-360', 'cora', 'curator', { viewport: { width: 360, height: 740 } });
    await openResult(narrow, session.a);
    await waitIn(narrow, 'curation and audit shown', () => window.tribu.canCurate &&
      document.querySelectorAll('#audit tbody tr').length > 0);
    assert.ok(await narrow.evaluate(noHorizontalScroll), 'the library page scrolls sideways at 360 px');
    await shot(narrow, 'library-360');
    for (const scheme of ['light', 'dark']) {
      await narrow.emulateMedia({ colorScheme: scheme });
      const failures = await narrow.evaluate(contrastFailures);
      assert.deepEqual(failures, [], `library page, ${scheme}: ${JSON.stringify(failures, null, 1)}`);
    }
    await closePage(narrow);
  }));
});
