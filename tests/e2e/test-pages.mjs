// test-pages.mjs — the landing page's "try it" (tribud --dev only), the
// language switch, keyboard use and narrow screens, and the call page
// rejoining by itself after the server comes back; headless Chromium
// against a real tribud.
//
// Run inside a network namespace that holds only loopback (meson test
// --suite e2e does):
//
//   unshare -n sh -c 'ip link set lo up && exec node --test test-pages.mjs'
//
// Environment as test-call.mjs: TRIBUD, CHROMIUM, TRIBU_E2E_SCREENSHOTS=DIR
// (a screenshot of every open page when a test fails), TRIBU_E2E_VERBOSE=1.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  closePage, contrastFailures, joined, launch, noHorizontalScroll, openPage, shot, skipReason, videoPlaying,
  waitIn, withShots,
} from './lib/browser.mjs';
import { startTribud } from './lib/tribud.mjs';

const SKIP = skipReason('test-pages.mjs');
const ONLY_HERE = { skip: SKIP };
const MEDIA = { media: { addresses: '127.0.0.1' } };

describe('web pages in Chromium', () => {
  let server; // started without --dev
  let devServer; // started with --dev
  let browser;

  before(async () => {
    if (SKIP) return;
    [server, devServer] = await Promise.all([
      startTribud({ config: MEDIA }),
      startTribud({ config: MEDIA, dev: true }),
    ]);
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    for (const s of [server, devServer]) {
      if (!s) continue;
      const code = await s.cleanup();
      assert.equal(code, 0, `tribud exited ${code}:\n${s.stderr.slice(-4000)}`);
    }
  });

  test('with --dev, "try it" mints links and both join one call', ONLY_HERE, withShots(async () => {
    const home = await openPage(browser, 'home-dev', `${devServer.url}/`);
    await waitIn(home, 'the try-it section', () => !document.getElementById('try').hidden);
    await home.click('#try-call');
    await waitIn(home, 'two demo links', () => document.querySelectorAll('#try-links a').length === 2);
    const links = await home.$$eval('#try-links a', (as) => as.map((a) => a.href));
    assert.match(links[0], /\/call\.html#token=/);
    assert.match(links[1], /\/call\.html#token=/);
    await shot(home, 'home-try-it');

    const mentor = await openPage(browser, 'demo-mentor', links[0]);
    const student = await openPage(browser, 'demo-student', links[1]);
    await waitIn(mentor, 'mentor joined', joined);
    await waitIn(student, 'student joined', joined);
    const mentorYou = await mentor.evaluate(() => window.tribu.you);
    const studentYou = await student.evaluate(() => window.tribu.you);
    assert.equal(mentorYou.role, 'mentor');
    assert.equal(studentYou.role, 'student');
    const roomId = await mentor.evaluate(() => document.getElementById('room-label').title);
    assert.match(roomId, /^demo-[0-9a-f]{8}$/);
    await waitIn(mentor, 'student video playing', videoPlaying, studentYou.participant_id);
    await waitIn(student, 'mentor video playing', videoPlaying, mentorYou.participant_id);
    // On loopback the quality indicator (from getStats) says good.
    await waitIn(student, 'good connection shown', () => {
      const q = document.getElementById('quality');
      return !q.hidden && q.dataset.level === 'good' && q.textContent.includes('Bonne connexion');
    });
    await shot(student, 'demo-student');
    for (const page of [home, mentor, student]) await closePage(page);
  }));

  test('without --dev there is no "try it", and /api/dev is 404', ONLY_HERE, withShots(async () => {
    const home = await openPage(browser, 'home', `${server.url}/`);
    await waitIn(home, 'landing page ready', () => document.body.dataset.ready === 'true');
    assert.equal(await home.isVisible('#try'), false);
    assert.equal(await home.isVisible('#try-call'), false);
    const demo = await fetch(`${server.url}/api/dev/demo`, { method: 'POST' });
    assert.equal(demo.status, 404);
    assert.equal((await demo.json()).error.code, 'not-found');
    assert.equal((await fetch(`${server.url}/api/dev`)).status, 404);
    // ... and with --dev the same routes answer.
    assert.equal((await fetch(`${devServer.url}/api/dev`)).status, 200);
    await closePage(home);
  }));

  test('POST /api/dev/demo: workshop links, and clear errors for bad input', ONLY_HERE, async () => {
    const post = (body) => fetch(`${devServer.url}/api/dev/demo`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body,
    });
    const ws = await post(JSON.stringify({ kind: 'workshop', students: 3 }));
    assert.equal(ws.status, 201);
    const demo = await ws.json();
    assert.equal(demo.kind, 'workshop');
    assert.equal(demo.student_urls.length, 3);
    assert.equal(new Set(demo.student_urls).size, 3, 'one token per student');
    for (const url of [demo.mentor_url, ...demo.student_urls]) assert.match(url, /^\/workshop\.html#token=[\w-]+\.[\w-]+$/);
    assert.ok(demo.expires_at_ms > Date.now() && demo.expires_at_ms <= Date.now() + 31 * 60000);
    const cases = [
      ['[1,2', 400, 'bad-json'],
      ['"text"', 400, 'bad-json'],
      [JSON.stringify({ kind: 'party' }), 400, 'bad-field'],
      [JSON.stringify({ kind: 'workshop', students: 9 }), 400, 'bad-field'],
      [JSON.stringify({ students: 2 }), 400, 'bad-field'],
      [JSON.stringify({ students: '1' }), 400, 'bad-field'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body);
      assert.equal(res.status, status, body);
      assert.equal((await res.json()).error.code, code, body);
    }
    const get = await fetch(`${devServer.url}/api/dev/demo`);
    assert.equal(get.status, 405);
  });

  test('the language switch changes the text and is remembered', ONLY_HERE, withShots(async () => {
    const page = await openPage(browser, 'lang', `${server.url}/`);
    await waitIn(page, 'French first', () => document.documentElement.lang === 'fr' &&
      document.querySelector('h1').textContent.includes('dans le navigateur') &&
      document.getElementById('status').textContent.startsWith('En ligne'));
    await page.click('.lang-switch');
    await waitIn(page, 'English after the switch', () => document.documentElement.lang === 'en' &&
      document.querySelector('h1').textContent === 'Coaching and writing workshops, in the browser' &&
      document.getElementById('status').textContent.startsWith('Online') &&
      document.querySelector('.lang-switch').textContent === 'Français');
    await page.reload();
    await waitIn(page, 'still English after a reload', () => document.documentElement.lang === 'en' &&
      document.querySelector('h1').textContent.includes('in the browser'));
    // Every page follows: the call page's form, then back to French there.
    await page.goto(`${server.url}/call.html`);
    await waitIn(page, 'call page in English', () => document.documentElement.lang === 'en' &&
      document.getElementById('join-title').textContent === 'Join the call' &&
      document.querySelector('label[for=join-token]').textContent === 'Access link or token');
    await page.click('.lang-switch');
    await waitIn(page, 'call page back in French', () => document.documentElement.lang === 'fr' &&
      document.getElementById('join-title').textContent === 'Rejoindre l’appel');
    assert.equal(await page.evaluate(() => localStorage.getItem('tribu.lang')), 'fr');
    await closePage(page);
  }));

  test('keyboard: Tab reaches every control of the call page, in order, with a visible focus', ONLY_HERE,
    withShots(async () => {
      // A booked slot that ends in 20 minutes: the top bar counts down.
      const ends = Math.floor(Date.now() / 1000) + 20 * 60;
      const token = server.token({ user: 'kim', name: 'Kim', role: 'student', room: 'c-keyboard', ends });
      const page = await openPage(browser, 'keyboard', `${server.url}/call.html#token=${token}`);
      await waitIn(page, 'joined with the camera on', () => window.tribu?.state === 'joined' &&
        !document.getElementById('mic-button').disabled && !document.getElementById('camera-button').disabled);
      await waitIn(page, 'time left in the slot', () => {
        const el = document.getElementById('slot-timer');
        return !el.hidden && /^Temps restant\u00a0: (19:[0-5]\d|20:00)$/.test(el.textContent);
      });
      await page.evaluate(() => document.activeElement?.blur());
      const expected = ['brand', 'lang-switch', 'mic-button', 'camera-button', 'leave-button', 'chat-input', 'chat-send'];
      const reached = [];
      for (let i = 0; i < expected.length; i++) {
        await page.keyboard.press('Tab');
        reached.push(await page.evaluate(() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          const name = (el.getAttribute('aria-label') || el.textContent || el.labels?.[0]?.textContent || '').trim();
          return {
            id: el.id || el.className,
            ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
            named: name.length > 0,
          };
        }));
      }
      assert.deepEqual(reached.map((r) => r.id), expected);
      for (const r of reached) {
        assert.ok(r.ring, `${r.id} shows no focus ring`);
        assert.ok(r.named, `${r.id} has no accessible name`);
      }
      // The controls work from the keyboard: Space on the focused mic button.
      await page.focus('#mic-button');
      await page.keyboard.press('Space');
      assert.equal(await page.getAttribute('#mic-button', 'aria-pressed'), 'true');
      await page.keyboard.press('Enter');
      assert.equal(await page.getAttribute('#mic-button', 'aria-pressed'), 'false');
      // What the page wrote itself follows a language switch during the call.
      await page.click('.lang-switch');
      await waitIn(page, 'the call in English', () =>
        document.querySelector('#mic-button .label').textContent === 'Mute mic' &&
        document.getElementById('status').textContent === 'In the call' &&
        /^Time left: /.test(document.getElementById('slot-timer').textContent) &&
        document.getElementById('room-label').textContent === 'Coaching call');
      await closePage(page);
    }));

  test('360 px wide: no horizontal scroll on the landing, call and workshop pages', ONLY_HERE,
    withShots(async () => {
      const narrow = { viewport: { width: 360, height: 740 } };
      const home = await openPage(browser, 'home-360', `${devServer.url}/`, narrow);
      await waitIn(home, 'ready', () => document.body.dataset.ready === 'true');
      await home.click('#try-call');
      await waitIn(home, 'links shown', () => document.querySelectorAll('#try-links a').length === 2);
      assert.ok(await home.evaluate(noHorizontalScroll), 'the landing page scrolls sideways');
      await shot(home, 'home-360');

      const room = 'c-narrow';
      const a = await openPage(browser, 'call-360', `${server.url}/call.html#token=${
        server.token({ user: 'ana', name: 'Ana Narrow', role: 'mentor', room })}`, narrow);
      const b = await openPage(browser, 'call-360-other', `${server.url}/call.html#token=${
        server.token({ user: 'bo', name: 'Bo', role: 'student', room })}`);
      await waitIn(a, 'joined', joined);
      await waitIn(a, 'the other one there', () => window.tribu.participants.length === 1);
      await a.fill('#chat-input', 'Un message assez long pour voir si la discussion tient dans 360 pixels de large.');
      await a.press('#chat-input', 'Enter');
      await waitIn(a, 'chat shown', () => document.querySelectorAll('#chat-log li.mine').length === 1);
      assert.ok(await a.evaluate(noHorizontalScroll), 'the call page scrolls sideways');
      await shot(a, 'call-360');

      const ws = 'w-narrow';
      const w = await openPage(browser, 'workshop-360', `${server.url}/workshop.html#token=${
        server.token({ user: 'wen', name: 'Wen Facilitatrice', role: 'mentor', room: ws, kind: 'workshop' })}`, narrow);
      await waitIn(w, 'joined with the facilitator panel', () => window.tribu?.state === 'joined' &&
        !document.getElementById('facilitator').hidden);
      assert.ok(await w.evaluate(noHorizontalScroll), 'the workshop page scrolls sideways');
      await w.click('#layout-button');
      assert.ok(await w.evaluate(noHorizontalScroll), 'the spotlight layout scrolls sideways');
      await shot(w, 'workshop-360');
      for (const page of [home, a, b, w]) await closePage(page);
    }));

  test('contrast: every text is WCAG AA on the landing, call and workshop pages, light and dark', ONLY_HERE,
    withShots(async () => {
      const home = await openPage(browser, 'home-contrast', `${devServer.url}/`);
      await waitIn(home, 'ready', () => document.body.dataset.ready === 'true');
      await home.click('#try-call');
      await waitIn(home, 'links shown', () => document.querySelectorAll('#try-links a').length === 2);
      const call = await openPage(browser, 'call-contrast', `${server.url}/call.html#token=${
        server.token({ user: 'cy', name: 'Cy', role: 'student', room: 'c-contrast' })}`);
      await waitIn(call, 'joined', joined);
      await call.fill('#chat-input', 'Bonjour');
      await call.press('#chat-input', 'Enter');
      await waitIn(call, 'chat shown', () => document.querySelectorAll('#chat-log li.mine').length === 1);
      const ws = await openPage(browser, 'workshop-contrast', `${server.url}/workshop.html#token=${
        server.token({ user: 'wu', name: 'Wu', role: 'mentor', room: 'w-contrast', kind: 'workshop' })}`);
      await waitIn(ws, 'joined', joined);
      await ws.evaluate(() => window.tribu.send('no-such-request', {})); // the warning banner
      await waitIn(ws, 'banner', () => !document.getElementById('notice').hidden);
      for (const scheme of ['light', 'dark']) {
        for (const [name, page] of [['landing', home], ['call', call], ['workshop', ws]]) {
          await page.emulateMedia({ colorScheme: scheme });
          const failures = await page.evaluate(contrastFailures);
          assert.deepEqual(failures, [], `${name} page, ${scheme}: ${JSON.stringify(failures, null, 1)}`);
        }
      }
      for (const page of [home, call, ws]) await closePage(page);
    }));

  test('the call rejoins by itself when the server comes back on the same port', ONLY_HERE,
    withShots(async () => {
      const own = await startTribud({ config: MEDIA });
      try {
        const room = 'c-reconnect';
        const mentor = await openPage(browser, 'reconnect-mentor', `${own.url}/call.html#token=${
          own.token({ user: 'maya', name: 'Maya', role: 'mentor', room })}`);
        const student = await openPage(browser, 'reconnect-student', `${own.url}/call.html#token=${
          own.token({ user: 'sam', name: 'Sam', role: 'student', room })}`);
        await waitIn(mentor, 'joined', joined);
        await waitIn(student, 'joined', joined);
        const before = {
          mentor: await mentor.evaluate(() => window.tribu.you.participant_id),
          student: await student.evaluate(() => window.tribu.you.participant_id),
        };
        await waitIn(mentor, 'student video playing', videoPlaying, before.student);

        own.child.kill('SIGKILL');
        await own.exited;
        for (const page of [mentor, student])
          await waitIn(page, 'reconnecting, and saying so', () => window.tribu.state === 'reconnecting' &&
            document.getElementById('notice').dataset.code === 'reconnecting' &&
            document.getElementById('notice').textContent.includes('reconnexion'));
        await shot(mentor, 'reconnecting');
        await own.restart();

        for (const page of [mentor, student])
          await waitIn(page, 'joined again by itself', () => window.tribu.state === 'joined' &&
            window.tribu.reconnects >= 1 && window.tribu.participants.length === 1, undefined,
          { timeout: 30000 });
        const mentorId = await mentor.evaluate(() => window.tribu.you.participant_id);
        const studentId = await student.evaluate(() => window.tribu.you.participant_id);
        assert.notEqual(mentorId, before.mentor, 'a new participant after the restart');
        await waitIn(mentor, 'student video playing again', videoPlaying, studentId, { timeout: 30000 });
        await waitIn(student, 'mentor video playing again', videoPlaying, mentorId, { timeout: 30000 });
        await shot(student, 'reconnected');
        for (const page of [mentor, student]) await closePage(page);
      } finally {
        await own.cleanup();
      }
    }));
});
