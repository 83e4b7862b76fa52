// test-call.mjs — the coaching call page (web/call.html) in headless
// Chromium against a real tribud, and Chromium against the C webrtcbin
// client (tribu-client).
//
// Run inside a network namespace that holds only loopback, so that no
// packet leaves the machine and ICE can only pair 127.0.0.1:
//
//   unshare -n sh -c 'ip link set lo up && exec node --test test-call.mjs'
//
// (meson test --suite e2e does exactly that.) Outside such a namespace the
// tests skip. Environment: TRIBUD (the server, default build/server/tribud),
// TRIBU_CLIENT (tribu-client; without it the interop test skips), CHROMIUM
// (default /usr/bin/chromium), TRIBU_E2E_SCREENSHOTS=DIR (save screenshots),
// TRIBU_E2E_VERBOSE=1 (server logs and page consoles on stderr),
// TRIBU_E2E_KEEP=1 (keep the server's temporary directory).
//
// Every wait is for a condition in the page (page.waitForFunction, or an
// async check such as getStats re-evaluated every 100 ms) or a process
// event, each with a deadline; nothing sleeps for luck.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startTribud, withTimeout } from './lib/tribud.mjs';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  throw new Error(
    `the e2e tests need playwright-core in ${new URL('node_modules', import.meta.url).pathname}: ` +
      `run 'npm ci' in tests/e2e first (${err.code ?? err.message})`,
  );
}

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TRIBU_CLIENT = process.env.TRIBU_CLIENT || '';
const SHOTS = process.env.TRIBU_E2E_SCREENSHOTS || '';
const VERBOSE = !!process.env.TRIBU_E2E_VERBOSE;

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** Why the suite cannot run here, or false. */
function skipReason() {
  let addrs;
  try {
    addrs = execFileSync('ip', ['-br', 'addr'], { encoding: 'utf8' });
  } catch (err) {
    return `cannot list interfaces ('ip -br addr': ${err.message})`;
  }
  const others = addrs
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .filter((name) => name && name !== 'lo');
  if (others.length > 0)
    return (
      `interfaces other than lo are present (${others.join(', ')}): run under ` +
      `"unshare -n sh -c 'ip link set lo up && exec node --test test-call.mjs'" ` +
      '(meson test --suite e2e does)'
    );
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (set CHROMIUM)`;
  return false;
}

const SKIP = skipReason();

/* ---- helpers ---- */

const pages = []; // {page, name, logs}

/** Opens the call page for TOKEN in a context of its own (its own fake
 * camera and microphone). */
async function openCall(browser, server, name, token) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 }, locale: 'fr-FR' });
  const page = await context.newPage();
  const entry = { page, name, logs: [] };
  pages.push(entry);
  const log = (line) => {
    entry.logs.push(line);
    if (VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
  };
  page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (err) => log(`pageerror: ${err.stack || err.message}`));
  const t0 = Date.now();
  await page.goto(`${server.url}/call.html#token=${encodeURIComponent(token)}`);
  if (VERBOSE) process.stderr.write(`[${name}] loaded in ${Date.now() - t0} ms\n`);
  return page;
}

/** Re-evaluates the async FN(ARG) in PAGE until it resolves truthy: the
 * asynchronous twin of page.waitForFunction, which takes a returned
 * Promise itself as a truthy value instead of awaiting it. */
async function pollAsync(page, fn, arg, { timeout, interval = 100 }) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timeout ${timeout}ms exceeded.`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits for FN(ARG) to be truthy in PAGE (FN may be async); on timeout the
 * error names WHAT and carries the page's state and console. */
async function waitIn(page, what, fn, arg, { timeout = 20000 } = {}) {
  try {
    if (fn.constructor.name === 'AsyncFunction') return await pollAsync(page, fn, arg, { timeout });
    return await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (err) {
    const entry = pages.find((p) => p.page === page);
    const state = await page
      .evaluate(async () => ({
        state: window.tribu?.state,
        error: window.tribu?.error,
        participants: window.tribu?.participants?.map((p) => p.participant_id),
        stats: await window.tribu?.stats?.(),
        notice: document.getElementById('notice')?.textContent?.trim(),
      }))
      .catch((e) => `(page not readable: ${e.message})`);
    await shot(page, `failed-${entry?.name ?? 'page'}`);
    throw new Error(
      `${entry?.name ?? 'page'}: ${what}: ${err.message.split('\n')[0]}\n` +
        `page state: ${JSON.stringify(state)}\nconsole:\n${entry?.logs.slice(-40).join('\n')}`,
    );
  }
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `tribu-e2e-${name}.png`) }).catch(() => {});
}

const joined = () => window.tribu?.state === 'joined';

/** Remote video of participant ID (or the only one) decoding and playing. */
async function remoteVideoPlaying(id) {
  const rows = await window.tribu.stats();
  const row = id ? rows.find((r) => r.participant_id === id) : rows[0];
  const video = window.tribu
    .remoteVideos()
    .find((v) => !id || v.closest('[data-participant]')?.dataset.participant === id);
  return !!row && !!video && row.framesDecoded > 0 && row.frameWidth > 0 &&
    video.videoWidth > 0 && video.currentTime > 0 && !video.paused;
}

/** The first remote video's currentTime (to see it advance). */
const remoteTime = () => window.tribu.remoteVideos()[0]?.currentTime ?? 0;

/** Runs tribu-client with ARGS; resolves {code, signal, stdout, stderr}. */
function runClient(args, { timeout = 60000 } = {}) {
  return withTimeout(
    new Promise((resolveRun, reject) => {
      const child = spawn(TRIBU_CLIENT, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => {
        stderr += d;
        if (VERBOSE) process.stderr.write(`[tribu-client] ${d}`);
      });
      child.on('error', reject);
      child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
      runClient.child = child;
    }),
    timeout,
    `tribu-client ${args.join(' ')}`,
  ).catch((err) => {
    runClient.child?.kill('SIGKILL');
    throw err;
  });
}

/* ---- the suite ---- */

// Each test carries the skip (not the suite), so that the TAP output names
// every skipped test with the reason.
const ONLY_HERE = { skip: SKIP };

describe('web call page in Chromium', () => {
  let server;
  let browser;

  before(async () => {
    if (SKIP) return;
    server = await startTribud({ config: { media: { addresses: '127.0.0.1' } } });
    // launch() gives the browser a fresh temporary profile (user-data-dir)
    // and removes it on close; each participant gets its own context.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    });
  });

  after(async () => {
    await browser?.close();
    if (server) {
      const code = await server.cleanup();
      assert.equal(code, 0, `tribud exited ${code}:\n${server.stderr.slice(-4000)}`);
    }
  });

  describe('coaching room', () => {
    let mentor;
    let student;

    test('two pages join and each plays the other one’s video', ONLY_HERE, async () => {
      const room = 'c-e2e';
      mentor = await openCall(browser, server, 'mentor',
        server.token({ user: 'maya', name: 'Maya Mentor', role: 'mentor', room }));
      student = await openCall(browser, server, 'student',
        server.token({ user: 'sam', name: 'Sam Élève', role: 'student', room }));
      await waitIn(mentor, 'joined', joined);
      await waitIn(student, 'joined', joined);
      const mentorId = await mentor.evaluate(() => window.tribu.you.participant_id);
      const studentId = await student.evaluate(() => window.tribu.you.participant_id);

      await waitIn(mentor, 'student video decoded and playing', remoteVideoPlaying, studentId);
      await waitIn(student, 'mentor video decoded and playing', remoteVideoPlaying, mentorId);

      // Playing means time goes on, not one frame: currentTime must advance.
      for (const page of [mentor, student]) {
        const t0 = await page.evaluate(remoteTime);
        await waitIn(page, 'remote video time advancing', (t) => {
          const v = window.tribu.remoteVideos()[0];
          return v && v.currentTime > t + 0.5;
        }, t0);
      }
      const [stats] = await student.evaluate(() => window.tribu.stats());
      assert.ok(stats.framesDecoded > 0, `framesDecoded ${stats.framesDecoded}`);
      assert.ok(stats.frameWidth > 0, `frameWidth ${stats.frameWidth}`);
      await shot(mentor, 'mentor');
      await shot(student, 'student');
    });

    test('a third page is told the room is full', ONLY_HERE, async () => {
      const third = await openCall(browser, server, 'third',
        server.token({ user: 'tom', name: 'Tom', role: 'student', room: 'c-e2e' }));
      await waitIn(third, 'room-full message', () => {
        const notice = document.getElementById('notice');
        return window.tribu?.state === 'error' && window.tribu.error?.code === 'room-full' &&
          !notice.hidden && notice.textContent.includes('La salle est complète');
      });
      await shot(third, 'room-full');
      // The two in the call are not disturbed.
      for (const page of [mentor, student])
        assert.equal(await page.evaluate(() => window.tribu.participants.length), 1);
      await third.context().close();
    });

    test('muting the microphone shows in the other page', ONLY_HERE, async () => {
      const mentorId = await mentor.evaluate(() => window.tribu.you.participant_id);
      const badge = (id) => {
        const tile = document.querySelector(`[data-participant="${id}"]`);
        return tile && { muted: tile.dataset.audioMuted, badge: !tile.querySelector('.badge.mic-off').hidden };
      };
      assert.deepEqual(await student.evaluate(badge, mentorId), { muted: 'false', badge: false });

      await mentor.click('#mic-button');
      assert.equal(await mentor.getAttribute('#mic-button', 'aria-pressed'), 'true');
      assert.equal(
        await mentor.evaluate(() => window.tribu.participants.length), 1);
      await waitIn(student, 'mentor shown muted', (id) => {
        const tile = document.querySelector(`[data-participant="${id}"]`);
        const p = window.tribu.participants.find((x) => x.participant_id === id);
        return tile?.dataset.audioMuted === 'true' && !tile.querySelector('.badge.mic-off').hidden &&
          p?.audio_muted === true;
      }, mentorId);
      await shot(student, 'student-sees-muted');

      await mentor.click('#mic-button');
      await waitIn(student, 'mentor shown unmuted', (id) => {
        const tile = document.querySelector(`[data-participant="${id}"]`);
        return tile?.dataset.audioMuted === 'false' && tile.querySelector('.badge.mic-off').hidden;
      }, mentorId);
    });

    test('a chat message reaches the other page', ONLY_HERE, async () => {
      await student.fill('#chat-input', 'Bonjour, on commence ?');
      await student.press('#chat-input', 'Enter');
      await waitIn(mentor, 'chat message shown', () =>
        [...document.querySelectorAll('#chat-log li.theirs')].some((li) =>
          li.textContent.includes('Bonjour, on commence ?')));
      await shot(mentor, 'chat');
    });

    test('leaving shows the end screen and the other page waits alone', ONLY_HERE, async () => {
      await student.click('#leave-button');
      await waitIn(student, 'left', () => window.tribu.state === 'left' &&
        !document.getElementById('ended-view').hidden);
      await waitIn(mentor, 'student gone', () => window.tribu.participants.length === 0 &&
        window.tribu.remoteVideos().length === 0 && !document.getElementById('waiting').hidden);
    });

    test('joining again renegotiates: both see each other once more', ONLY_HERE, async () => {
      await student.click('#rejoin-button');
      await waitIn(student, 'joined again', joined);
      // A new participant id; the mentor's subscribe connection is
      // renegotiated (the server may reuse the idle section's mid).
      const studentId = await student.evaluate(() => window.tribu.you.participant_id);
      const mentorId = await mentor.evaluate(() => window.tribu.you.participant_id);
      await waitIn(mentor, 'new student video playing', remoteVideoPlaying, studentId);
      await waitIn(student, 'mentor video playing again', remoteVideoPlaying, mentorId);
      await mentor.context().close();
      await student.context().close();
    });
  });

  test('a forged or expired token is refused in French, with the form to paste another', ONLY_HERE, async () => {
    const good = server.token({ user: 'eve', role: 'student', room: 'c-tokens' });
    const forged = `${good.slice(0, -4)}AAAA`;
    const expired = server.token({ user: 'eve', role: 'student', room: 'c-tokens', ttl: -60 });
    const cases = [
      [forged, 'n’est pas valide'],
      [expired, 'a expiré'],
    ];
    for (const [token, text] of cases) {
      const page = await openCall(browser, server, 'bad-token', token);
      await waitIn(page, `"${text}" and the join form`, (t) =>
        window.tribu?.error?.code === 'unauthorized' &&
        document.getElementById('notice').textContent.includes(t) &&
        !document.getElementById('join-view').hidden, text);
      await shot(page, `token-${text.includes('expir') ? 'expired' : 'invalid'}`);
      await page.context().close();
    }
  });

  test('a refused camera is told in French, and the call goes on', ONLY_HERE, async () => {
    // --use-fake-ui-for-media-stream always grants: refuse from the page.
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    await context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    const page = await context.newPage();
    pages.push({ page, name: 'no-camera', logs: [] });
    const token = server.token({ user: 'nico', role: 'student', room: 'c-nocam' });
    await page.goto(`${server.url}/call.html#token=${token}`);
    await waitIn(page, 'camera refused message', () =>
      window.tribu?.state === 'joined' &&
      document.getElementById('notice').dataset.code === 'camera' &&
      document.getElementById('notice').textContent.includes('refusé') &&
      document.getElementById('mic-button').disabled);
    await shot(page, 'camera-refused');
    await context.close();
  });

  test('a lost connection to the server is told in French', ONLY_HERE, async () => {
    const own = await startTribud({ config: { media: { addresses: '127.0.0.1' } } });
    try {
      const page = await openCall(browser, own, 'lost',
        own.token({ user: 'lea', role: 'student', room: 'c-lost' }));
      await waitIn(page, 'joined', joined);
      own.child.kill('SIGKILL'); // no "removed" event: the socket just drops
      // The page tries to rejoin for about 15 s (web/js/room.js), then says so.
      await waitIn(page, 'connection-lost message', () =>
        window.tribu.error?.code === 'connection-lost' &&
        document.getElementById('notice').textContent.includes('connexion au serveur a été perdue'),
      undefined, { timeout: 40000 });
      await shot(page, 'connection-lost');
      await page.context().close();
    } finally {
      await own.cleanup();
    }
  });

  test('Chromium and tribu-client decode each other', {
    skip: SKIP || (TRIBU_CLIENT ? false : 'set TRIBU_CLIENT to the tribu-client binary'),
  }, async () => {
    const room = 'c-interop';
    const page = await openCall(browser, server, 'interop',
      server.token({ user: 'maya', name: 'Maya', role: 'mentor', room }));
    await waitIn(page, 'joined', joined);
    const client = runClient([
      '--url', server.wsUrl,
      '--token', server.token({ user: 'cli', name: 'Client C', role: 'student', room }),
      '--expect-video-from', '1',
      '--expect-audio-from', '1',
      '--duration', '8',
      '--timeout', '30',
    ]);
    client.catch(() => {}); // awaited below; a failure before that must not go unhandled
    let stats;
    try {
      await waitIn(page, 'tribu-client video decoded and playing', remoteVideoPlaying, null,
        { timeout: 30000 });
      [stats] = await page.evaluate(() => window.tribu.stats());
    } catch (err) {
      runClient.child?.kill('SIGKILL');
      throw err;
    }
    await shot(page, 'interop');
    const { code, signal, stdout, stderr } = await client;
    assert.equal(code, 0,
      `tribu-client exited ${code ?? signal}\nstdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-3000)}`);
    assert.ok(stats.framesDecoded > 0, `framesDecoded ${stats.framesDecoded}`);
    assert.ok(stats.frameWidth > 0, `frameWidth ${stats.frameWidth}`);
    await page.context().close();
  });
});
