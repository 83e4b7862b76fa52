// The catalog locked by another process while a recorded call ends and
// library requests come in, against a real tribud: a python3 process (its
// sqlite3 module) holds BEGIN EXCLUSIVE on tribud's catalog for 5 s. The
// library's requests either wait or fail with a clear 503 "catalog busy";
// the session, attendance and recording rows of the call that ended under
// the lock are all written once it is released (nothing lost); tribud keeps
// serving throughout and exits 0.
//
// Sends real RTP (tribu-client peers): runs in a network namespace holding
// only loopback (`meson test` runs it under `unshare -n`); by hand:
//   unshare -n sh -c 'ip link set lo up && TRIBUD=... TRIBU_CLIENT=... \
//     node --test --test-reporter=spec tests/integration/test-catalog-lock.mjs'
// Needs python3 and the sqlite3 command-line tool (scripts/setup).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startTribud, waitFor, withTimeout } from './lib/tribud.mjs';
import { TRIBU_CLIENT, assertLoopbackOnly, joinPeer } from './lib/media.mjs';

const CONFIG = { media: { addresses: '127.0.0.1' } };
const LOCK_MS = 5000;
/* recorder/library.c: LIB_BUSY_TIMEOUT_MS, how long a library request waits. */
const LIBRARY_WAIT_MS = 2000;

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/**
 * python3 holding BEGIN EXCLUSIVE on DB for MS milliseconds. `locked`
 * resolves once it holds the lock, `released` (with the time) once it
 * committed, `done` at exit with {code, stderr}.
 */
function holdLock(db, ms) {
  const script = [
    'import sqlite3, sys, time',
    'c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)',
    "c.execute('BEGIN EXCLUSIVE')",
    "print('locked', flush=True)",
    'time.sleep(float(sys.argv[2]) / 1000)',
    "c.execute('COMMIT')",
    "print('released', flush=True)",
  ].join('\n');
  const child = spawn('python3', ['-c', script, db, String(ms)], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let stderr = '';
  const waiters = [];
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    for (const w of [...waiters]) {
      if (out.includes(w.word)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(Date.now());
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const done = new Promise((r) =>
    child.on('close', (code) => {
      running.delete(child);
      for (const w of waiters.splice(0)) w.reject(new Error(`python3 exited (${code}) before "${w.word}": ${stderr}`));
      r({ code, stderr });
    }),
  );
  const when = (word) => new Promise((resolve, reject) => waiters.push({ word, resolve, reject }));
  return { locked: when('locked'), released: when('released'), done };
}

let srv;

function sql(query) {
  const out = execFileSync('sqlite3', ['-cmd', '.timeout 10000', '-json', join(srv.dataDir, 'tribu.db'), query], {
    encoding: 'utf8',
  }).trim();
  return out ? JSON.parse(out) : [];
}

const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

before(async () => {
  assertLoopbackOnly();
  assert.ok(existsSync(TRIBU_CLIENT), `no tribu-client at ${TRIBU_CLIENT}`);
  for (const tool of ['python3', 'sqlite3']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      assert.fail(`${tool} is needed and is not installed (scripts/setup)`);
    }
  }
  srv = await startTribud({ config: CONFIG });
});

after(async () => {
  for (const child of running) child.kill('SIGKILL');
  if (!srv) return;
  const code = await srv.cleanup();
  assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr.slice(-6000)}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, srv.stderr);
});

describe('catalog locked by another process', () => {
  it('for 5 s while a call ends and library requests come in: clear 503 or a wait, nothing lost', { timeout: 150000 }, async (t) => {
    const curator = srv.sign({ user: 'cora', role: 'curator', room: '*' });
    const room = 'locked-call';
    const peers = [
      joinPeer(srv, { user: 'alice', room, role: 'mentor', duration: 120 }),
      joinPeer(srv, { user: 'bob', room, role: 'student', duration: 120 }),
    ];
    let pids;
    let sessionId;
    let lock;
    try {
      await Promise.all(peers.map((p) => p.until((s) => !!s.participant_id, 'join', 30000)));
      pids = peers.map((p) => p.pid);
      await Promise.all(
        peers.map((p, i) =>
          p.until((s) => (s.received?.[pids[1 - i]]?.video_frames ?? 0) >= 30, `30 frames of ${peers[1 - i].user}`, 90000)),
      );
      // The call is in the catalog and being recorded.
      const open = await waitFor(() => {
        const rows = sql(`SELECT participant_id, state FROM recordings WHERE session_id =
          (SELECT id FROM sessions WHERE room_id = ${quote(room)})`);
        return pids.every((pid) => rows.some((r) => r.participant_id === pid && r.state === 'recording')) && rows;
      }, { timeout: 20000, interval: 250, what: 'a recordings row for each participant' });
      t.diagnostic(`recording: ${JSON.stringify(open)}`);
      [{ id: sessionId }] = sql(`SELECT id FROM sessions WHERE room_id = ${quote(room)}`);

      // Another process takes the catalog...
      lock = holdLock(join(srv.dataDir, 'tribu.db'), LOCK_MS);
      const lockedAt = await withTimeout(lock.locked, 10000, 'python3 to lock the catalog');
      // ...and the call ends under the lock.
      await Promise.all(peers.map((p) => p.stop()));
      // Library requests meanwhile: each waits or gets the clear 503.
      const requests = [
        ['GET', '/api/library?q=anything'],
        ['GET', `/api/sessions/${sessionId}`],
        ['PATCH', `/api/sessions/${sessionId}`, { title: 'Written under the lock' }],
        ['GET', '/api/vocabulary'],
      ];
      const answers = await Promise.all(
        requests.map(async ([method, path, body]) => {
          const sent = Date.now();
          const res = await srv.fetch(path, { method, token: curator, body });
          return { method, path, status: res.status, json: res.json, text: res.text, sent, ms: Date.now() - sent };
        }),
      );
      // tribud keeps serving what does not need the catalog.
      assert.equal((await srv.healthz()).status, 'ok');
      const [c, jr] = await srv.connectAndJoin({ user: 'carol', room: 'other-room' });
      assert.equal(jr.ok, true, JSON.stringify(jr));
      await c.close();
      const releasedAt = await withTimeout(lock.released, LOCK_MS + 10000, 'python3 to release the lock');
      assert.equal((await lock.done).code, 0);
      t.diagnostic(`lock held ${releasedAt - lockedAt} ms; answers: ${JSON.stringify(answers.map((a) =>
        ({ req: `${a.method} ${a.path}`, status: a.status, ms: a.ms, error: a.json?.error })))}`);
      for (const a of answers) {
        const what = `${a.method} ${a.path}`;
        if (a.status === 503) {
          assert.equal(a.json?.error?.code, 'unavailable', `${what}: ${a.text}`);
          assert.match(a.json.error.message, /catalog is busy/, `${what}: ${a.text}`);
          assert.ok(a.ms >= LIBRARY_WAIT_MS - 100, `${what}: waited ${a.ms} ms before the 503`);
        } else {
          assert.equal(a.status, 200, `${what}: ${a.status} ${a.text}`);
        }
      }
      // The write could not get past the lock within the library's wait.
      const patch = answers.find((a) => a.method === 'PATCH');
      assert.equal(patch.status, 503, `PATCH under a ${LOCK_MS} ms lock: ${patch.status} ${patch.text}`);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
      if (lock) await lock.done;
    }

    // Once released, everything of the call is written: nothing lost.
    const done = await waitFor(() => {
      const [session] = sql(`SELECT * FROM sessions WHERE id = ${quote(sessionId)}`);
      const attendance = sql(`SELECT * FROM attendance WHERE session_id = ${quote(sessionId)}`);
      const recordings = sql(`SELECT * FROM recordings WHERE session_id = ${quote(sessionId)}`);
      const ok = session?.ended_ms != null &&
        pids.every((pid) => attendance.some((a) => a.participant_id === pid && a.left_ms != null)) &&
        pids.every((pid) => recordings.some((r) => r.participant_id === pid)) &&
        recordings.every((r) => r.state !== 'recording');
      return ok && { session, attendance, recordings };
    }, { timeout: 30000, interval: 250, what: 'the session, attendance and recording rows of the call' });
    t.diagnostic(`after the lock: ${JSON.stringify(done.recordings.map((r) => [r.participant_id, r.state, r.error]))}`);
    const dbLog = srv.stderr.split('\n').filter((l) => /\[db\]|catalog/.test(l));
    t.diagnostic(`tribud's catalog log: ${dbLog.slice(-10).join(' | ') || '(nothing)'}`);
    assert.equal(done.attendance.length, 2, JSON.stringify(done.attendance));
    for (const a of done.attendance) assert.ok(a.left_ms >= a.joined_ms && a.leave_reason, JSON.stringify(a));
    for (const r of done.recordings) assert.equal(r.state, 'complete', JSON.stringify(r));
    // The library answers again, the refused write goes through now, and
    // the session reads whole.
    const patched = await srv.fetch(`/api/sessions/${sessionId}`, {
      method: 'PATCH', token: curator, body: { title: 'Written after the lock' },
    });
    assert.equal(patched.status, 200, patched.text);
    const got = await srv.fetch(`/api/sessions/${sessionId}`, { token: curator });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.title, 'Written after the lock');
    assert.ok(got.json.ended_ms, JSON.stringify(got.json));
    assert.deepEqual(got.json.attendance.map((a) => a.participant_id).sort(), [...pids].sort());
    assert.equal(got.json.recordings.filter((r) => r.state === 'complete').length, done.recordings.length);
    for (const r of got.json.recordings) {
      const media = await fetch(`${srv.url}${r.media_url}`, { headers: { authorization: `Bearer ${curator}`, range: 'bytes=0-3' } });
      assert.equal(media.status, 206, `${r.media_url}: ${media.status}`);
      assert.deepEqual([...Buffer.from(await media.arrayBuffer())], [0x1a, 0x45, 0xdf, 0xa3], 'a WebM (EBML) file');
    }
    const search = await srv.fetch('/api/library?q=written', { token: curator });
    assert.equal(search.status, 200, search.text);
    assert.ok(search.json.results.some((r) => r.session_id === sessionId), search.text);
    assert.equal((await srv.healthz()).status, 'ok');
  });
});
