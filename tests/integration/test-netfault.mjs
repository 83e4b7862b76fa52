// Network faults with real peers (issue 9): loss with jitter and reordering,
// a loss burst, a path cut for 10 s and for good, replayed SRTP, and consent
// checks lost on their own, between a real tribud and
// tribu-client processes (GStreamer webrtcbin).
//
// The machine's kernel has no netem qdisc, so the faults are made in user
// space by tools/impair.c: the test runs in a loopback-only namespace (A,
// `meson test` makes it with `unshare -n`), makes a second one (B, an
// `unshare -n sleep`), and impair joins them with a TUN device in each
// (10.9.0.1/30 in A, 10.9.0.2/30 in B, set up by impair itself), moving
// every packet between the two in user space. tribud listens and gathers on
// 10.9.0.1; the two peers whose path is impaired run in B (nsenter) and
// gather on 10.9.0.2; two more peers run in A on 10.9.0.1, where their
// packets never cross impair: they are "the others", who must not notice.
// Only UDP is impaired: the signaling WebSocket (TCP) crosses untouched.
// Nothing can leave the two namespaces.
//
// By hand:
//   unshare -n sh -c 'ip link set lo up && TRIBUD=... TRIBU_CLIENT=... IMPAIR=... \
//     node --test --test-reporter=spec tests/integration/test-netfault.mjs'
// Each scenario prints its figures as test diagnostics.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import {
  ClientPeer,
  IMPAIR,
  TRIBU_CLIENT,
  assertLoopbackOnly,
  receiveWindows,
} from './lib/media.mjs';
import { Client, startTribud, waitFor, withTimeout } from './lib/tribud.mjs';

const ADDR_A = '10.9.0.1';
const ADDR_B = '10.9.0.2';
const FPS = 15;
const VIDEO = ['--width', '160', '--height', '120', '--fps', String(FPS)];
const pause = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/* ---- namespace B and the impaired link ---- */

/** A network namespace held by an `unshare -n` process: {pid, path, stop()}. */
async function makeNamespace() {
  const child = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec sleep infinity'], {
    stdio: 'ignore',
  });
  const path = `/proc/${child.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  let exited = false;
  child.on('exit', () => (exited = true));
  // unshare(2) runs in the child after spawn returns: no event to await.
  await waitFor(
    () => {
      if (exited) throw new Error('unshare -n exited: cannot make namespace B (not root?)');
      try {
        return readlinkSync(path) !== ours;
      } catch {
        return false;
      }
    },
    { timeout: 5000, what: 'namespace B' },
  );
  return {
    pid: child.pid,
    path,
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}

/** The impair process between A and B (see tools/impair.c). */
class Link {
  static async start(peerNetns) {
    const link = new Link();
    link.child = spawn(IMPAIR, ['--peer-netns', peerNetns, '--seed', '9'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    link.stderr = '';
    link.lines = [];
    link.waiters = [];
    link.exited = new Promise((r) => link.child.on('close', (code) => r(code)));
    link.child.stderr.setEncoding('utf8').on('data', (d) => (link.stderr += d));
    let pending = '';
    link.child.stdout.setEncoding('utf8').on('data', (d) => {
      pending += d;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const w = link.waiters.shift();
        if (w) w(line);
        else link.lines.push(line);
      }
    });
    const first = await withTimeout(
      Promise.race([
        link._next(),
        link.exited.then((code) => `exited ${code}: ${link.stderr}`),
      ]),
      5000,
      'impair to print ready',
    );
    assert.equal(first, 'ready', `impair did not start: ${first}`);
    return link;
  }

  _next() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((r) => this.waiters.push(r));
  }

  /** Sends one command line; resolves with its one-line answer. */
  command(line) {
    this.child.stdin.write(`${line}\n`);
    return withTimeout(this._next(), 5000, `impair to answer "${line}"`);
  }

  /** Applies settings (e.g. "loss 5 delay 60 jitter 50"); resolves once in force. */
  async set(line) {
    assert.equal(await this.command(line), 'ok', `impair refused "${line}"`);
  }

  async stats() {
    return JSON.parse(await this.command('stats'));
  }

  async stop() {
    this.child.stdin.end();
    return withTimeout(this.exited, 5000, 'impair to exit');
  }
}

/* ---- fixture ---- */

let srv;
let nsB;
let link;
let wsUrl;
let roomSeq = 0;
const peers = new Set();

before(async () => {
  assertLoopbackOnly();
  for (const [what, path] of [['tribu-client', TRIBU_CLIENT], ['impair', IMPAIR]])
    assert.ok(existsSync(path), `no ${what} at ${path}: build it or set its variable`);
  nsB = await makeNamespace();
  link = await Link.start(nsB.path);
  // B holds loopback and the TUN to A, nothing else.
  const linksB = execFileSync('nsenter', [`--net=${nsB.path}`, 'ip', '-br', 'link'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .sort();
  assert.deepEqual(linksB, ['lo', 'tnf0'], 'namespace B must hold only lo and the TUN');
  srv = await startTribud({
    listen: `${ADDR_A}:0`,
    config: { media: { addresses: ADDR_A }, rooms: { coaching_capacity: 6 } },
  });
  srv.url = `http://${ADDR_A}:${srv.port}`;
  wsUrl = `ws://${ADDR_A}:${srv.port}/ws`;
});

after(async () => {
  for (const p of peers) p.child.kill('SIGKILL');
  if (link) await link.stop();
  if (nsB) nsB.stop();
  if (!srv) return;
  const code = await srv.cleanup();
  assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, srv.stderr);
});

/** A tribu-client in ROOM: in namespace B (gathering on 10.9.0.2, its path
 * through impair) or in A (on 10.9.0.1, never through impair). */
function client(room, user, { inB, role = 'student', publish = true }) {
  const args = [...VIDEO, '--ice-address', inB ? ADDR_B : ADDR_A];
  if (!publish) args.push('--publish', 'none');
  const p = new ClientPeer({
    user,
    url: wsUrl,
    token: srv.sign({ user, room, kind: 'coaching', role }),
    args,
    wrap: inB ? ['nsenter', `--net=${nsB.path}`] : [],
  });
  peers.add(p);
  p.done.then(
    () => peers.delete(p),
    () => peers.delete(p),
  );
  return p;
}

/**
 * A coaching call of four: in B a publishing student (pubB) and a student
 * who only watches (subB); in A the mentor (pubA, publishing) and an
 * observer (subA, only watching). Resolves once each watcher decodes both
 * publishers and each publisher the other.
 */
async function startCall(prefix) {
  const room = `${prefix}-${++roomSeq}`;
  const call = {
    room,
    pubB: client(room, 'pub-b', { inB: true }),
    subB: client(room, 'sub-b', { inB: true, publish: false }),
    pubA: client(room, 'mentor-a', { inB: false, role: 'mentor' }),
    subA: client(room, 'sub-a', { inB: false, publish: false }),
  };
  const all = [call.pubB, call.subB, call.pubA, call.subA];
  try {
    await Promise.all(all.map((p) => p.until((s) => !!s.participant_id, `${p.user} to join`, 30000)));
    await Promise.all([
      call.subB.untilReceived(call.pubB.pid),
      call.subB.untilReceived(call.pubA.pid),
      call.subA.untilReceived(call.pubA.pid),
      call.subA.untilReceived(call.pubB.pid),
      call.pubA.untilReceived(call.pubB.pid),
      call.pubB.untilReceived(call.pubA.pid),
    ]);
  } catch (err) {
    await Promise.all(all.map((p) => p.stop()));
    throw err;
  }
  call.all = all;
  return call;
}

/** tribud's log lines about CALL's media failing (for the diagnostics). */
function mediaFailures(call) {
  return srv.stderr
    .split('\n')
    .filter((l) => l.includes(`[${call.room}/`) && /failed|removing/.test(l));
}

/** Cleans the link and stops CALL's clients; tells T (diagnostics) what
 * tribud logged about media failing and how each client ended, if badly. */
async function endCall(call, t) {
  await link.set('clean');
  await link.set('scope udp');
  if (!call) return;
  const runs = await Promise.all(call.all.map((p) => p.stop()));
  const bad = runs
    .map((r, i) => [call.all[i].user, r.result?.reason])
    .filter(([, reason]) => !/^(interrupted|duration elapsed)/.test(reason ?? ''));
  const failures = mediaFailures(call);
  if (bad.length || failures.length)
    t.diagnostic(`clients that ended otherwise: ${JSON.stringify(bad)}; tribud: ${failures.join(' | ')}`);
}

async function metrics() {
  const names = [
    'tribu_nacks_received_total',
    'tribu_retransmissions_total',
    'tribu_plis_sent_total',
    'tribu_rtp_received_total',
    'tribu_rtp_forwarded_total',
    'tribu_srtp_replayed_total',
  ];
  const res = await srv.fetch('/metrics');
  assert.equal(res.status, 200);
  const out = {};
  for (const name of names) {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(res.text);
    assert.ok(m, `/metrics has no ${name}`);
    out[name.replace(/^tribu_|_total$/g, '')] = Number(m[1]);
  }
  return out;
}

/** N + 1 samples of metrics(), each taken just after the media worker
 * added its last second to /metrics (seen as tribu_rtp_forwarded_total
 * moving: a call is running); polled, as the flush has no event. */
async function flushes(n) {
  const samples = [];
  let last = (await metrics()).rtp_forwarded;
  while (samples.length <= n) {
    const m = await waitFor(
      async () => {
        const m = await metrics();
        return m.rtp_forwarded !== last && m;
      },
      { timeout: 3000, interval: 25, what: 'the media counters to move' },
    );
    last = m.rtp_forwarded;
    samples.push(m);
  }
  return samples;
}

const delta = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));

function summary(windows) {
  const fps = windows.map((w) => w.fps);
  return {
    windows: windows.length,
    minFps: Math.round(Math.min(...fps) * 10) / 10,
    meanFps: Math.round((fps.reduce((a, b) => a + b, 0) / fps.length) * 10) / 10,
    minAudio: Math.min(...windows.map((w) => w.audio)),
  };
}

/** Asserts that every window in WINDOWS brought video frames and audio;
 * returns summary(). */
function assertNoGap(windows, what) {
  assert.ok(windows.length >= 3, `${what}: only ${windows.length} stats windows`);
  for (const w of windows)
    assert.ok(
      w.frames > 0 && w.audio > 0,
      `${what}: a ${w.ms} ms window with ${w.frames} frames and ${w.audio} audio buffers ` +
        `(at +${w.start - windows[0].start} ms); frames, audio buffers per window: ` +
        JSON.stringify(windows.map((x) => [x.frames, x.audio])),
    );
  return summary(windows);
}

/**
 * As assertNoGap() for stream S of a subscriber, with stream C of the same
 * subscriber (same stats lines, so the same windows) as the control: a
 * window where S brought under a third of the sent rate is forgiven only
 * when C dipped under half of it too, i.e. the subscriber or the machine
 * stalled (on this 2-core machine shared with other jobs, every client
 * stalls now and then, impaired or not), and never twice in a row.
 * Returns summary() plus `stalls`, the windows forgiven.
 */
function assertFlowing(s, c, what) {
  assert.ok(s.length >= 3 && s.length === c.length, `${what}: ${s.length} stats windows`);
  const rows = () => JSON.stringify(s.map((w, i) => [w.frames, w.audio, c[i].frames]));
  let stalls = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i].fps >= FPS / 3 && s[i].audio > 0) continue;
    const stalled = c[i].fps < FPS / 2 && (i === 0 || s[i - 1].fps >= FPS / 3);
    assert.ok(
      stalled,
      `${what}: ${s[i].frames} frames and ${s[i].audio} audio buffers in ${s[i].ms} ms ` +
        `(at +${s[i].start - s[0].start} ms), while the control stream brought ${c[i].frames} frames; ` +
        `[frames, audio, control frames] per window: ${rows()}`,
    );
    stalls++;
  }
  return { ...summary(s), stalls };
}

// STUN crosses impair like the rest: consent checks and their answers are
// lost, delayed and reordered with the media. tribud takes consent as lost
// only after 30 s without a datagram from a peer it sends to (RFC 7675's
// 30 s; libnice's own checks, every 4-6 s, give up after 50 s without an
// answer): see media/ice.c. Before that, libnice 0.1.21's consent (10 s after
// the last answer, checks never retransmitted) removed a participant in about
// half of the 30 s runs at 5 % loss.
describe('network faults', () => {
  it('5 % loss with 50 ms jitter both ways for 30 s: video keeps decoding, audio keeps flowing, NACKs repair', async (t) => {
    let call;
    try {
      call = await startCall('loss');
      const { pubB, subB, pubA } = call;
      const m0 = await metrics();
      const l0 = await link.stats();
      await link.set('loss 5 delay 60 jitter 50'); // 10..110 ms: reorders
      const t0 = Date.now();
      await pause(30000); // the scenario itself
      const t1 = Date.now();
      const l1 = await link.stats();
      await subB.untilTime(t1);
      const m1 = await metrics();
      // The first seconds are the jitter buffers adjusting to the delay.
      const perWindow = (pid) =>
        receiveWindows(subB.stats, pid, { from: t0 + 3000, to: t1 }).map((w) => [w.frames, w.audio]);
      t.diagnostic(
        `sub-b per window [frames, audio] from pub-b ${JSON.stringify(perWindow(pubB.pid))}, ` +
          `from mentor-a ${JSON.stringify(perWindow(pubA.pid))}; mentor-a from pub-b ` +
          JSON.stringify(receiveWindows(pubA.stats, pubB.pid, { from: t0 + 3000, to: t1 }).map((w) => [w.frames, w.audio])),
      );
      const wB = receiveWindows(subB.stats, pubB.pid, { from: t0 + 3000, to: t1 });
      const wA = receiveWindows(subB.stats, pubA.pid, { from: t0 + 3000, to: t1 });
      const fromB = assertFlowing(wB, wA, 'sub-b from pub-b');
      const fromA = assertFlowing(wA, wB, 'sub-b from mentor-a');
      const d = delta(m0, m1);
      const link1 = { a2b: {}, b2a: {} };
      for (const dir of ['a2b', 'b2a'])
        for (const k of ['in', 'dropped', 'reordered']) link1[dir][k] = l1[dir][k] - l0[dir][k];
      const sub = subB.latest.subscribe?.rtp ?? {};
      t.diagnostic(
        `figures: ${JSON.stringify({ fromB, fromA, server: d, link: link1, subscriber: sub })}`,
      );
      assert.ok(link1.b2a.dropped > 0 && link1.a2b.dropped > 0, 'impair dropped nothing');
      assert.ok(link1.b2a.reordered > 0 && link1.a2b.reordered > 0, 'impair reordered nothing');
      assert.ok(d.nacks_received > 0, `no NACK reached tribud: ${JSON.stringify(d)}`);
      assert.ok(d.retransmissions > 0, `tribud retransmitted nothing: ${JSON.stringify(d)}`);
      // The call is still whole once the link is clean.
      await link.set('clean');
      await Promise.all([subB.untilMore(pubB.pid), subB.untilMore(pubA.pid), pubA.untilMore(pubB.pid)]);
    } finally {
      await endCall(call, t);
    }
  });

  it('a 3 s burst of 30 % loss: video is smooth again within 2 s', async (t) => {
    let call;
    try {
      call = await startCall('burst');
      const { pubB, subB } = call;
      const tb = Date.now();
      await subB.untilTime(tb + 3000);
      const before = receiveWindows(subB.stats, pubB.pid, { from: tb - 1, to: Date.now() });
      const m0 = await metrics();
      await link.set('loss 30');
      const t0 = Date.now();
      await pause(3000); // the burst
      await link.set('clean');
      const t1 = Date.now();
      await subB.untilTime(t1 + 8000);
      const during = receiveWindows(subB.stats, pubB.pid, { from: t0, to: t1 + 2000 });
      const afterBurst = receiveWindows(subB.stats, pubB.pid, { from: t1 + 2000, to: t1 + 8000 });
      // How long after the burst every later window was at the sent rate.
      const all = receiveWindows(subB.stats, pubB.pid, { from: t1, to: t1 + 8000 });
      let smoothFrom = t1;
      for (const w of all) if (w.fps < 0.8 * FPS) smoothFrom = w.end;
      const fps = (ws) => ws.map((w) => Math.round(w.fps * 10) / 10);
      t.diagnostic(
        `figures: ${JSON.stringify({
          sentFps: FPS,
          before: fps(before),
          during: fps(during),
          after: fps(afterBurst),
          smoothAfterMs: smoothFrom - t1,
          server: delta(m0, await metrics()),
        })}`,
      );
      assert.ok(afterBurst.length >= 4, `only ${afterBurst.length} stats windows after the burst`);
      for (const w of afterBurst)
        assert.ok(
          w.fps >= 0.8 * FPS && w.audio > 0,
          `sub-b: ${w.fps.toFixed(1)} fps, ${w.audio} audio buffers at +${w.start - t1} ms after the ` +
            `burst, want ${FPS} fps from 2 s on: ${JSON.stringify(fps(all))}`,
        );
      const mean = afterBurst.reduce((a, w) => a + w.fps, 0) / afterBurst.length;
      assert.ok(mean >= 0.9 * FPS, `mean ${mean.toFixed(1)} fps after the burst, sent ${FPS}`);
    } finally {
      await endCall(call, t);
    }
  });
  // A 10 s cut is shorter than the 30 s tribud allows without a word from a
  // peer (see the top): the two cut off keep their sessions, and media flows
  // again as soon as the path is back. A signaling-only participant (keeper)
  // watches the events: nobody leaves.
  it('the path cut for 10 s: the call resumes with the same participants; the others never notice', async (t) => {
    let call;
    let keeper;
    try {
      call = await startCall('cut');
      const { pubB, subB, pubA, subA } = call;
      keeper = await Client.open(wsUrl);
      const joined = await keeper.request('join', { token: srv.sign({ user: 'keeper', room: call.room, kind: 'coaching' }) });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      const pids = call.all.map((p) => p.pid);
      const participants0 = (await srv.healthz()).participants;
      await link.set('cut');
      const t0 = Date.now();
      await pause(10000); // the cut
      await link.set('clean');
      const t1 = Date.now();
      // Media again on every stream that crossed the cut, both ways.
      await Promise.all([
        subB.untilMore(pubB.pid),
        subB.untilMore(pubA.pid),
        subA.untilMore(pubB.pid),
        pubA.untilMore(pubB.pid),
        pubB.untilMore(pubA.pid),
      ]);
      const resumed = Date.now();
      // How long after the path came back sub-b decoded pub-b again.
      const firstFrames = receiveWindows(subB.stats, pubB.pid, { from: t1, to: resumed }).find((w) => w.frames > 0);
      // The same participants, nobody told of anyone leaving.
      for (const p of call.all) assert.ok(!p.exited, `${p.user} ended: ${p.run?.result?.reason}`);
      assert.deepEqual(call.all.map((p) => p.pid), pids, 'a participant id changed');
      assert.equal((await srv.healthz()).participants, participants0, 'participants on /healthz');
      const left = keeper.events.filter((e) => e.event === 'participant-left');
      assert.deepEqual(left, [], `participant-left during or after the cut: ${JSON.stringify(left)}`);
      assert.deepEqual(mediaFailures(call), [], 'tribud logged media failures');
      // The mentor and the observer in A never lost each other's media.
      await subA.untilTime(Date.now() + 1000);
      const windowsA = receiveWindows(subA.stats, pubA.pid, { from: t0 - 1000, to: Date.now() });
      const fromA = assertNoGap(windowsA, 'sub-a from mentor-a through the cut');
      t.diagnostic(
        `figures: ${JSON.stringify({
          cutMs: t1 - t0,
          subBFromPubBAgainMs: firstFrames ? firstFrames.end - t1 : null,
          allStreamsAgainMs: resumed - t1,
          observerFromMentor: fromA,
        })}`,
      );
    } finally {
      keeper?.terminate();
      await endCall(call, t);
    }
  });

  // A path cut for good (the two in B vanish for tribud): some 30 s after
  // their last datagram tribud takes consent as lost and removes them
  // (participant-left, reason media-failed; the clients get `removed`). The
  // others' media never stops.
  //
  // The rejoin is checked with fresh clients: webrtcbin 1.22 cannot take a
  // subscriber offer that makes an inactive section active again ("transceiver
  // direction changes are not implemented"), which is what tribud offers a
  // client that saw the removed publisher once the new one publishes (it
  // reuses the idle section, as JSEP allows and browsers accept). So the two
  // in A leave before the rejoin, and a signaling-only participant (keeper)
  // keeps the room open throughout and sees the events.
  it('the path cut for good: the two cut off are removed 30 s on, the others told; they rejoin; the others never notice', { timeout: 150000 }, async (t) => {
    let call;
    let keeper;
    try {
      call = await startCall('gone');
      const { pubB, subB, pubA, subA } = call;
      keeper = await Client.open(wsUrl);
      const joined = await keeper.request('join', { token: srv.sign({ user: 'keeper', room: call.room, kind: 'coaching' }) });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      const gone = [pubB.pid, subB.pid];
      const removedAt = Promise.all([pubB.done, subB.done]).then((runs) => ({ runs, at: Date.now() }));
      await link.set('cut');
      const t0 = Date.now();
      const removed = await withTimeout(removedAt, 45000, 'the participants cut off to be removed');
      await link.set('clean');
      for (const run of removed.runs)
        assert.match(run.result?.reason ?? '', /^removed from the room \(media-failed\)$/, run.stderr.slice(-2000));
      // The others are told, with the reason.
      const left = [];
      for (let i = 0; i < 2; i++)
        left.push((await keeper.nextEvent('participant-left', { filter: (d) => gone.includes(d.participant_id) })).data);
      assert.deepEqual(
        left.map((d) => [d.participant_id, d.reason]).sort(),
        gone.map((id) => [id, 'media-failed']).sort(),
      );
      // The mentor and the observer in A never lost each other's media.
      await subA.untilTime(Date.now() + 1000);
      const windowsA = receiveWindows(subA.stats, pubA.pid, { from: t0 - 1000, to: Date.now() });
      const fromA = assertNoGap(windowsA, 'sub-a from mentor-a through the cut');
      await Promise.all([pubA.stop(), subA.stop()]);
      // They join the same room again (new participants, new sessions).
      const room = call.room;
      const pubB2 = client(room, 'pub-b', { inB: true });
      const subB2 = client(room, 'sub-b', { inB: true, publish: false });
      const pubA2 = client(room, 'mentor-a', { inB: false, role: 'mentor' });
      call.all.push(pubB2, subB2, pubA2);
      const rejoinAt = Date.now();
      await Promise.all([pubB2, subB2, pubA2].map((p) => p.until((s) => !!s.participant_id, 'rejoin', 30000)));
      const back = await keeper.nextEvent('participant-joined', {
        filter: (d) => d.participant.user === 'pub-b',
      });
      assert.ok(!gone.includes(back.data.participant.participant_id), 'the rejoined pub-b is a new participant');
      await Promise.all([
        subB2.untilReceived(pubB2.pid),
        subB2.untilReceived(pubA2.pid),
        pubA2.untilReceived(pubB2.pid),
        pubB2.untilReceived(pubA2.pid),
      ]);
      t.diagnostic(
        `figures: ${JSON.stringify({
          removedAfterCutMs: removed.at - t0,
          rejoinToMediaMs: Date.now() - rejoinAt,
          observerFromMentor: fromA,
        })}`,
      );
      // Not before RFC 7675's 30 s (their last datagrams came at most a few
      // seconds before the cut), nor long after.
      assert.ok(removed.at - t0 >= 25000 && removed.at - t0 <= 36000, `removed ${removed.at - t0} ms into the cut`);
    } finally {
      keeper?.terminate();
      await endCall(call, t);
    }
  });

  it('SRTP replay: 200 packets sent again are dropped and counted, never forwarded; the call goes on', async (t) => {
    let call;
    try {
      call = await startCall('replay');
      const { pubB, subB, subA } = call;
      // The router adds its counters to /metrics once a second: samples
      // taken right after each of those flushes cover a second each.
      const base = await flushes(3);
      const replay = JSON.parse(await link.command('replay 200'));
      assert.equal(replay.type, 'replay');
      assert.equal(replay.replayed, 200);
      const srtp = replay.rtp + replay.rtcp;
      assert.ok(replay.rtp >= 100, `the replayed packets hold only ${replay.rtp} RTP: ${JSON.stringify(replay)}`);
      const next = await flushes(3);
      const perSecond = (samples, key) => samples.slice(1).map((m, i) => m[key] - samples[i][key]);
      const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const figures = {
        replay,
        replayedCounted: next[next.length - 1].srtp_replayed - base[base.length - 1].srtp_replayed,
        receivedPerSecond: { before: perSecond(base, 'rtp_received'), after: perSecond([base[base.length - 1], ...next], 'rtp_received') },
        forwardedPerSecond: { before: perSecond(base, 'rtp_forwarded'), after: perSecond([base[base.length - 1], ...next], 'rtp_forwarded') },
      };
      t.diagnostic(`figures: ${JSON.stringify(figures)}`);
      assert.equal(figures.replayedCounted, srtp, 'every replayed SRTP/SRTCP packet, and only those, counted as replayed');
      // None was taken as media: no second received or forwarded ~200 more
      // than usual (each of pub-b's RTP would go to three subscribers).
      const { receivedPerSecond: rx, forwardedPerSecond: fw } = figures;
      assert.ok(Math.max(...rx.after) < mean(rx.before) + replay.rtp / 2, `received jumped: ${JSON.stringify(rx)}`);
      assert.ok(Math.max(...fw.after) < mean(fw.before) + replay.rtp, `forwarded jumped: ${JSON.stringify(fw)}`);
      // The call goes on for the subscriber and the observer.
      await Promise.all([subB.untilMore(pubB.pid), subA.untilMore(pubB.pid)]);
    } finally {
      await endCall(call, t);
    }
  });

  it(
    'consent checks lost for 12 s while media flows: the call goes on (RFC 7675 allows 30 s)',
    async (t) => {
      let call;
      try {
        call = await startCall('consent');
        const { pubB, subB, pubA } = call;
        await link.set('scope stun');
        await link.set('loss 100');
        await pause(12000); // no STUN either way; RTP, RTCP flow
        await link.set('clean');
        const t1 = Date.now();
        await subB.untilTime(t1 + 2000);
        t.diagnostic(`tribud: ${mediaFailures(call).join(' | ')}`);
        for (const p of [pubB, subB])
          assert.ok(!p.exited, `${p.user} was removed: ${p.run?.result?.reason}`);
        await Promise.all([subB.untilMore(pubB.pid), subB.untilMore(pubA.pid), pubA.untilMore(pubB.pid)]);
      } finally {
        await endCall(call, t);
      }
    },
  );
});
