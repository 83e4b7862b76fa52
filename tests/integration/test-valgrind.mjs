// tribud under valgrind's memcheck through a real call: two tribu-clients
// (see test-media.mjs) exchange audio and video for ~5 s while tribud
// records them, then tribud stops on SIGTERM. Valgrind must report no error
// (invalid reads/writes, uninitialised values, bad frees...) and no
// definitely lost block: it runs with
//   valgrind --leak-check=full --errors-for-leak-kinds=definite
//            --error-exitcode=99 --suppressions=tests/valgrind.supp
//            --num-callers=40
// so tribud's exit status is 0 only when both hold. tests/valgrind.supp
// suppresses one-time allocations of third-party libraries only (each entry
// says why); a leak in Tribu's own code is a bug to fix, not to suppress.
// G_SLICE=always-malloc makes GLib 2.74's slice allocator use malloc, so
// valgrind sees every GSlice block (leaks of them included).
//
// Skipped (with the reason) when valgrind is not installed, or when the
// tribud under test is an AddressSanitizer build: scripts/test sets
// TRIBU_SANITIZED=1 for its ASan build (and the fixture's SANITIZED, which
// looks for __asan_init in the binary, catches one built by hand); ASan and
// valgrind cannot run together, and LeakSanitizer covers that build.
//
// Sends real RTP: it runs in a network namespace holding only loopback
// (`meson test` runs it under `unshare -n`); by hand:
//   unshare -n sh -c 'ip link set lo up && TRIBUD=... TRIBU_CLIENT=... \
//     node --test --test-reporter=spec tests/integration/test-valgrind.mjs'
// Valgrind makes tribud 20-50 times slower: small video (160x120 at 10 fps),
// long timeouts; the whole test takes about a minute.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';

import { SANITIZED, startTribud, waitFor } from './lib/tribud.mjs';
import { TRIBU_CLIENT, assertLoopbackOnly, joinPeer } from './lib/media.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SUPPRESSIONS = resolve(here, '..', 'valgrind.supp');

const VALGRIND = [
  'valgrind',
  '--leak-check=full',
  '--errors-for-leak-kinds=definite',
  '--error-exitcode=99',
  `--suppressions=${SUPPRESSIONS}`,
  '--num-callers=40',
];

function hasValgrind() {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = process.env.TRIBU_SANITIZED === '1' || SANITIZED
  ? `tribud is an AddressSanitizer build (${process.env.TRIBU_SANITIZED === '1' ? 'TRIBU_SANITIZED=1' : 'its binary has __asan_init'}): ` +
    'valgrind cannot run it; LeakSanitizer checks that build'
  : !hasValgrind()
    ? 'valgrind is not installed'
    : false;

let srv;
after(async () => {
  if (srv?.running) srv.child.kill('SIGKILL');
  await srv?.cleanup().catch(() => {});
});

/** Valgrind's own lines (==PID== ...) from tribud's stderr. */
function valgrindReport(stderr) {
  return stderr.split('\n').filter((l) => /^==\d+==/.test(l)).join('\n');
}

/** What of REPORT a failure should show: every error and definite leak
 * record with its stack, and the summaries, without the "possibly lost"
 * records (not errors here; GLib and GStreamer have many). */
function reportForFailure(report) {
  const blocks = report.split(/\n==\d+== ?\n/);
  return blocks.filter((b) => !/are possibly lost in loss record/.test(b)).join('\n==\n');
}

describe('valgrind', () => {
  it('a recorded two-client call: no memory error and no definite leak in tribud', { skip, timeout: 240000 }, async (t) => {
    assertLoopbackOnly();
    assert.ok(existsSync(TRIBU_CLIENT), `no tribu-client at ${TRIBU_CLIENT}: build it or set TRIBU_CLIENT`);
    assert.ok(existsSync(SUPPRESSIONS), `no suppressions file at ${SUPPRESSIONS}`);
    const saved = process.env.TRIBUD_WRAPPER;
    process.env.TRIBUD_WRAPPER = VALGRIND.join(' ');
    const startedAt = Date.now();
    try {
      srv = await startTribud({
        config: { media: { addresses: '127.0.0.1' } },
        env: { G_SLICE: 'always-malloc' },
        timeout: 90000,
      });
    } finally {
      if (saved === undefined) delete process.env.TRIBUD_WRAPPER;
      else process.env.TRIBUD_WRAPPER = saved;
    }
    t.diagnostic(`tribud up under valgrind after ${Date.now() - startedAt} ms`);
    assert.match(srv.stderr, /Memcheck, a memory error detector/, 'tribud runs under valgrind');

    const room = 'valgrind';
    const args = ['--width', '160', '--height', '120', '--fps', '10', '--expect-video-from', '1',
      '--expect-audio-from', '1', '--expect-width', '160', '--expect-height', '120', '--min-frames', '10',
      '--min-audio-buffers', '20', '--timeout', '150'];
    const peers = [
      joinPeer(srv, { user: 'alice', room, role: 'mentor', args, duration: 170 }),
      joinPeer(srv, { user: 'bob', room, role: 'student', args, duration: 170 }),
    ];
    const sees = (s, pid) => {
      const r = pid && s?.received?.[pid];
      return !!r && r.video_frames >= 10 && r.width === 160 && r.height === 120 && r.audio_buffers >= 20;
    };
    const [alice, bob] = peers;
    let stopAt;
    let code;
    const recorded = new RegExp(`\\[${room}/[0-9a-f]+\\] recording (recordings/\\S+)`, 'g');
    try {
      await Promise.all(peers.map((p) => p.until((s) => !!s.participant_id, 'join', 90000)));
      await Promise.all(peers.map((p, i) =>
        p.until((s) => sees(s, peers[1 - i].pid), `${p.user} to receive ${peers[1 - i].user}`, 120000)));
      t.diagnostic(`media both ways after ${Date.now() - startedAt} ms`);
      // Both recordings running, then ~5 s of recorded call.
      await waitFor(() => [...srv.stderr.matchAll(recorded)].length >= 2, {
        timeout: 30000,
        interval: 100,
        what: 'tribud to start recording both participants',
      }).catch((err) => assert.fail(`${err.message}\n${srv.stderr.slice(-4000)}`));
      const from = Date.now();
      await Promise.all(peers.map((p) => p.until((s) => s.at >= from + 5000, `${p.user}: 5 s more`, 60000)));
      // Both ways out are checked: alice leaves (her recording ends on her
      // leave), then tribud stops with bob still in the call (his room,
      // transports and recording end with the server).
      const aliceRun = await alice.stop();
      assert.equal(aliceRun.code, 0, `alice failed (${aliceRun.code ?? aliceRun.signal}): ` +
        `${aliceRun.result?.reason}\n${aliceRun.stderr.slice(-4000)}`);
      await waitFor(() => /\] recordings\/\S+ complete: /.test(srv.stderr), {
        timeout: 30000,
        interval: 100,
        what: "alice's recording to complete after her leave",
      }).catch((err) => assert.fail(`${err.message}\n${srv.stderr.slice(-4000)}`));
      assert.ok(!bob.exited, 'bob is still in the call');
      stopAt = Date.now();
      code = await srv.stop({ timeout: 150000 });
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
    const report = valgrindReport(srv.stderr);
    t.diagnostic(`tribud exited ${code} ${Date.now() - stopAt} ms after SIGTERM; ` +
      `${(report.match(/ERROR SUMMARY: .*/) ?? ['no error summary'])[0]}; ` +
      `${(report.match(/definitely lost: .*/) ?? ['no leak summary'])[0]}`);
    const shown = reportForFailure(report);
    assert.match(report, /ERROR SUMMARY: 0 errors/, `valgrind found errors in tribud:\n${shown}`);
    assert.match(report, /(definitely lost: 0 bytes in 0 blocks|All heap blocks were freed)/,
      `valgrind found definite leaks in tribud:\n${shown}`);
    assert.equal(code, 0, `tribud under valgrind exited ${code}:\n${shown}\n${srv.stderr.slice(-4000)}`);
    // The recording path ran (and so was checked): both files complete,
    // bob's finalised during the stop.
    const complete = srv.stderr.match(/\] recordings\/\S+ complete: /g) ?? [];
    assert.equal(complete.length, 2, `two recordings completed:\n${srv.stderr.slice(-4000)}`);
  });
});
