// Shared by the media tests: where the WebRTC test client, the recording
// probe and the link impairer are, the check that the test runs in a network
// namespace holding only loopback (media must never leave the machine), a
// tribu-client process driver (ClientPeer, joinPeer) with what its stats
// lines tell, and the waits the tests share on it (sees, untilMoreFrom,
// withPeers).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The tribu-client binary: $TRIBU_CLIENT (meson sets it), else the default build dir. */
export const TRIBU_CLIENT = process.env.TRIBU_CLIENT
  ? resolve(process.env.TRIBU_CLIENT)
  : resolve(here, '..', '..', '..', 'build', 'tests', 'integration', 'webrtc-client', 'tribu-client');

/** The rec-probe tool (tools/rec-probe.c): $REC_PROBE (meson sets it), else the default build dir. */
export const REC_PROBE = process.env.REC_PROBE
  ? resolve(process.env.REC_PROBE)
  : resolve(here, '..', '..', '..', 'build', 'tests', 'integration', 'tools', 'rec-probe');

/** The impair tool (tools/impair.c): $IMPAIR (meson sets it), else the default build dir. */
export const IMPAIR = process.env.IMPAIR
  ? resolve(process.env.IMPAIR)
  : resolve(here, '..', '..', '..', 'build', 'tests', 'integration', 'tools', 'impair');

/** Fails unless this process sees no network interface but `lo` (up). */
export function assertLoopbackOnly() {
  let names;
  try {
    // `ip -br link` lists interfaces with or without addresses.
    names = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(/\s+/)[0].replace(/@.*$/, ''));
  } catch {
    names = Object.keys(os.networkInterfaces());
  }
  const others = names.filter((n) => n !== 'lo');
  assert.deepEqual(
    others,
    [],
    `the media tests send real RTP and must run in a network namespace holding only loopback; ` +
      `this one also has ${others.join(', ')}. Run them under ` +
      `\`unshare -n sh -c 'ip link set lo up && node --test ...'\` (meson test does)`,
  );
  const lo = os.networkInterfaces().lo ?? [];
  assert.ok(
    lo.some((a) => a.address === '127.0.0.1'),
    'loopback is down in this namespace: run `ip link set lo up` first (unshare -n sh -c ...)',
  );
}

/* ---- tribu-client processes ---- */

const VERBOSE = !!process.env.TRIBU_ITEST_VERBOSE;

/* Clients still running when the test process exits are killed. */
const runningClients = new Set();
process.on('exit', () => {
  for (const child of runningClients) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/**
 * One tribu-client process joined with TOKEN to the server at URL (its
 * /ws), with --stats and a long --duration: stop it with stop().
 *
 * Options: user (a label for messages), url, token, args (more options),
 * wrap (a command that runs the client, e.g. ['nsenter', '--net=/proc/N/ns/net']),
 * duration (s, default 110), timeoutMs (SIGKILL after, default duration + 10 s).
 *
 * `stats` holds every stats line, each given `at` (Date.now() on arrival);
 * `latest` is the newest; `spawnedAt` and `stoppedAt` (set by stop()) are
 * Date.now() values; `done` resolves at exit with {code, signal, result,
 * stats, stdout, stderr}, result being the client's last JSON line.
 */
export class ClientPeer {
  constructor({ user, url, token, args = [], wrap = [], duration = 110, timeoutMs = (duration + 10) * 1000 }) {
    this.user = user;
    const argv = ['--url', url, '--token', token, '--name', user, '--stats', '--duration', String(duration), ...args];
    const [cmd, ...cmdArgs] = [...wrap, TRIBU_CLIENT, ...argv];
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    runningClients.add(child);
    this.child = child;
    this.spawnedAt = Date.now();
    this.stats = [];
    this.latest = undefined;
    this.stderr = '';
    this.exited = false;
    this.waiters = [];
    let stdout = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      pending += d;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.type === 'stats') this._onStats({ ...msg, at: Date.now() });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      this.stderr += d;
      if (VERBOSE) process.stderr.write(`[${user}] ${d}`);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    this.done = new Promise((resolveDone, reject) => {
      child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        runningClients.delete(child);
        this.exited = true;
        const lines = stdout.trim().split('\n');
        let result;
        try {
          result = JSON.parse(lines[lines.length - 1]);
        } catch {
          result = undefined;
        }
        const run = { code, signal, result, stats: this.stats, stdout, stderr: this.stderr };
        this.run = run;
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(
            new Error(
              `${user} exited (${code ?? signal}) while waiting for ${w.what}: ` +
                `${result?.reason}\n${this.stderr.slice(-3000)}`,
            ),
          );
        }
        resolveDone(run);
      });
    });
  }

  /** This client's participant id, once joined. */
  get pid() {
    return this.latest?.participant_id || undefined;
  }

  _onStats(msg) {
    this.stats.push(msg);
    this.latest = msg;
    for (const w of [...this.waiters]) {
      if (w.match(msg)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(msg);
      }
    }
  }

  /** Resolves with the first stats line (the latest included) for which
   * MATCH(line) is true; rejects on timeout or exit. */
  until(match, what, timeout = 60000) {
    if (this.latest && match(this.latest)) return Promise.resolve(this.latest);
    if (this.exited)
      return Promise.reject(
        new Error(
          `${this.user} already exited (${this.run?.result?.reason}); no ${what}\n` +
            this.stderr.slice(-3000),
        ),
      );
    return new Promise((resolveWait, reject) => {
      const w = { match, resolve: resolveWait, reject, what };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(
          new Error(
            `${this.user}: timed out after ${timeout} ms waiting for ${what}; latest stats: ` +
              `${JSON.stringify(this.latest)}\n${this.stderr.slice(-3000)}`,
          ),
        );
      }, timeout);
      this.waiters.push(w);
    });
  }

  /** Resolves with the first stats line that arrives at or after Date.now()
   * value T. */
  untilTime(t, timeout = 10000) {
    return this.until((s) => s.at >= t, `a stats line after ${new Date(t).toISOString()}`, Math.max(0, t - Date.now()) + timeout);
  }

  /** Resolves once this client has decoded at least FRAMES video frames and
   * AUDIO audio buffers from participant PID (both cumulative). */
  untilReceived(pid, { frames = 20, audio = 50 } = {}, timeout = 60000) {
    return this.until(
      (s) => s.received?.[pid]?.video_frames >= frames && s.received?.[pid]?.audio_buffers >= audio,
      `${this.user} to receive ${frames} frames and ${audio} audio buffers from ${pid}`,
      timeout,
    );
  }

  /** Resolves when this client has decoded ≥ FRAMES more frames and ≥ AUDIO
   * more audio buffers from PID than now. */
  untilMore(pid, { frames = 20, audio = 50 } = {}, timeout = 30000) {
    const r = this.latest?.received?.[pid] ?? {};
    return this.untilReceived(
      pid,
      { frames: (r.video_frames ?? 0) + frames, audio: (r.audio_buffers ?? 0) + audio },
      timeout,
    );
  }

  /** Resolves with the last of the next N stats lines (by the client's
   * clock, t_ms), each awaited for up to 10 s. */
  async lines(n) {
    let last;
    for (let i = 0; i < n; i++) {
      const t = this.latest?.t_ms ?? -1;
      last = await this.until((s) => s.t_ms > t, `stats line ${i + 1}/${n}`, 10000);
    }
    return last;
  }

  /** When this client started publishing, as well as its 1 s stats show it:
   * halfway between the last stats line whose publish DTLS was not yet
   * connected (or the spawn) and the first where it was (media flows from
   * then on). Not the RTP counters: they come from get-stats, which lags up
   * to a second. Undefined before that. */
  get publishedFrom() {
    const i = this.stats.findIndex((s) => s.publish?.dtls === 'connected');
    if (i < 0) return undefined;
    const before = i > 0 ? this.stats[i - 1].at : this.spawnedAt;
    return (before + this.stats[i].at) / 2;
  }

  /** SIGTERM (the client then prints its verdict); resolves with done. */
  stop() {
    if (!this.exited) {
      this.stoppedAt = Date.now();
      this.child.kill('SIGTERM');
    }
    return this.done;
  }

  /** SIGKILL (no verdict); resolves with done. */
  kill() {
    if (!this.exited) this.child.kill('SIGKILL');
    return this.done;
  }
}

/** Stops every one of PEERS (ClientPeers) and resolves with their runs. */
export const stopAll = (peers) => Promise.all(peers.map((p) => p.stop()));

/** Runs FN(PEERS) and stops the peers whatever happens. */
export async function withPeers(peers, fn) {
  try {
    return await fn(peers);
  } finally {
    await stopAll(peers);
  }
}

/** True when stats line S shows, from participant PID, at least FRAMES video
 * frames of WIDTH×HEIGHT (FRAMES 0: no video wanted) and AUDIO audio buffers. */
export function sees(s, pid, { frames = 30, audio = 50, width = 320, height = 240 } = {}) {
  const r = pid && s?.received?.[pid];
  if (!r) return false;
  if (frames > 0 && (r.video_frames < frames || r.width !== width || r.height !== height)) return false;
  return r.audio_buffers >= audio;
}

/** Resolves when ClientPeer P has decoded ≥ 20 more frames and ≥ 50 more
 * audio buffers from PID than in its stats line FROM. */
export function untilMoreFrom(p, from, pid, timeout = 30000) {
  const f0 = from.received[pid]?.video_frames ?? 0;
  const a0 = from.received[pid]?.audio_buffers ?? 0;
  return p.until(
    (s) => s.received[pid]?.video_frames >= f0 + 20 && s.received[pid]?.audio_buffers >= a0 + 50,
    `${p.user} to keep decoding ${pid} (from ${f0} frames, ${a0} audio buffers)`,
    timeout,
  );
}

/**
 * A ClientPeer joined to SRV (a startTribud() server) as USER, with a token
 * it signs for ROOM, KIND (default coaching) and ROLE (default student);
 * the other OPTS (args, wrap, duration, timeoutMs) go to ClientPeer.
 */
export function joinPeer(srv, { user, room, kind = 'coaching', role, ...opts }) {
  return new ClientPeer({ user, url: srv.wsUrl, token: srv.sign({ user, room, kind, role }), ...opts });
}

/**
 * What a client decoded from participant PID in each stats window (from one
 * stats line to the next) among STATS lines, keeping the windows that start
 * at or after FROM and end at or before TO (Date.now() values): [{start,
 * end, ms, frames, audio, fps}], fps from the client's own clock (t_ms).
 */
export function receiveWindows(stats, pid, { from = 0, to = Infinity } = {}) {
  const out = [];
  for (let i = 1; i < stats.length; i++) {
    const a = stats[i - 1];
    const b = stats[i];
    if (a.at < from || b.at > to) continue;
    const ra = a.received?.[pid] ?? { video_frames: 0, audio_buffers: 0 };
    const rb = b.received?.[pid] ?? { video_frames: 0, audio_buffers: 0 };
    const ms = b.t_ms - a.t_ms;
    const frames = rb.video_frames - ra.video_frames;
    out.push({
      start: a.at,
      end: b.at,
      ms,
      frames,
      audio: rb.audio_buffers - ra.audio_buffers,
      fps: ms > 0 ? (frames * 1000) / ms : 0,
    });
  }
  return out;
}
