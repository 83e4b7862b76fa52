// Recordings through a real tribud: tribu-client processes (see
// test-media.mjs) publish a 320x240 test pattern and a tone; tribud records
// each participant to <data>/recordings/<yyyy>/<mm>/<session>/<pid>-<n>.webm
// and keeps a `recordings` row per file in <data>/tribu.db (issue 4).
//
// Like test-media.mjs these send real RTP and must run in a network
// namespace that holds only loopback (`meson test` runs them under
// `unshare -n`); by hand:
//   unshare -n sh -c 'ip link set lo up && TRIBUD=... TRIBU_CLIENT=... \
//     node --test --test-reporter=spec tests/integration/test-recording.mjs'
//
// Each test runs its own tribud on its own data dir (a clean stop, a kill -9
// and an unwritable recordings dir each need one). The files are checked
// with GStreamer's command-line tool, as a player would read them:
//   gst-launch-1.0 filesrc ! matroskademux ! {vp8dec,opusdec} ! fakesink
// must exit 0 and decode both streams, nearly every frame (basesink's debug
// log gives each decoded buffer's timestamps, so the playable duration);
// the duration the file states (Segment > Info > Duration), its tracks and
// its blocks are read by a small EBML reader below. What players report is
// asked of the players' own probes, ffprobe and gst-discoverer-1.0 (codecs,
// duration). What a viewer sees and hears is measured by rec-probe
// (tools/rec-probe.c, $REC_PROBE): it decodes the file and gives the first
// video frame's keyframe flag, the mean colour of frames, and the instants
// of the flashes and beeps that `tribu-client --pattern sync` sends at the
// same moments (A/V sync). The catalog is read with the sqlite3
// command-line tool. Needs gst-launch-1.0, gst-discoverer-1.0 (Debian's
// gstreamer1.0-plugins-base-apps), ffprobe (ffmpeg), the
// vp8dec/opusdec/matroskademux plugins (the same that tribud's recorder and
// tribu-client use) and sqlite3 (scripts/setup installs them all).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { makeTempDirs, startTribud, waitFor, withTimeout } from './lib/tribud.mjs';
import { REC_PROBE, TRIBU_CLIENT, assertLoopbackOnly, joinPeer, sees, stopAll, untilMoreFrom } from './lib/media.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const CONFIG = { media: { addresses: '127.0.0.1' } };
/* rooms/room-recording.c: a participant's file opens ~0.5 s after its
 * first packet (so that its audio and video share one file). */
const START_DELAY_MS = 500;


function which(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/* Every tribud a test started, and extra directories, for after(). */
const servers = new Set();
const extraDirs = new Set();

before(() => {
  assertLoopbackOnly();
  assert.ok(
    existsSync(TRIBU_CLIENT),
    `no tribu-client at ${TRIBU_CLIENT}: build it (tests/integration/webrtc-client) or set TRIBU_CLIENT`,
  );
  for (const tool of ['gst-launch-1.0', 'gst-discoverer-1.0', 'ffprobe', 'sqlite3'])
    assert.ok(which(tool), `${tool} is needed to check the recordings and is not installed (scripts/setup)`);
  assert.ok(existsSync(REC_PROBE), `no rec-probe at ${REC_PROBE}: build it (tests/integration/tools) or set REC_PROBE`);
});

after(async () => {
  for (const srv of servers) await srv.cleanup().catch(() => {});
  if (!process.env.TRIBU_ITEST_KEEP) for (const dir of extraDirs) rmSync(dir, { recursive: true, force: true });
});

/* Every tribud started so far, in order (for the logs of a failed test). */
const started = [];

async function start(opts = {}) {
  const srv = await startTribud({ config: CONFIG, ...opts });
  servers.add(srv);
  started.push(srv);
  return srv;
}

/** it() whose failure also shows the log of every tribud it started. */
function itLogged(name, opts, fn) {
  return it(name, opts, async (t) => {
    const first = started.length;
    try {
      await fn(t);
    } catch (err) {
      for (const srv of started.slice(first))
        t.diagnostic(`tribud log (${srv.dataDir}):\n${srv.stderr.slice(-8000)}`);
      throw err;
    }
  });
}

/** Stops SRV with SIGTERM and asserts a clean exit (0, no sanitizer report).
 * Clean stop waits for the recordings to be finalised (up to ~15 s). */
async function stopCleanly(srv) {
  const code = await srv.stop({ timeout: 40000 });
  assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr.slice(-6000)}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, srv.stderr);
  assert.doesNotMatch(srv.stderr, /recording\(s\) did not finish in time/, srv.stderr.slice(-6000));
}

/** Deletes SRV's temporary files (after it stopped). */
async function discard(srv) {
  servers.delete(srv);
  await srv.cleanup();
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/* ---- tribu-client peers ---- */

/** A ClientPeer (lib/media.mjs) joined to SRV: OPTS as joinPeer's, with a
 * 140 s --duration (SIGKILL after 150 s). */
const peer = (srv, opts) => joinPeer(srv, { duration: 140, ...opts });

/** Waits until every peer decodes every other one (EXPECT: as sees()). */
async function untilAllSeeEachOther(peers, timeout = 60000, expect = {}) {
  await Promise.all(peers.map((p) => p.until((s) => !!s.participant_id, 'join', 30000)));
  await Promise.all(
    peers.map((p) => {
      const others = peers.filter((o) => o !== p);
      return p.until((s) => others.every((o) => sees(s, o.pid, expect)),
        `${p.user} to receive ${others.map((o) => o.user).join(', ')}`, timeout);
    }),
  );
}

function assertOk(run, who) {
  assert.equal(run.code, 0,
    `${who} failed (exit ${run.code ?? run.signal}): ${run.result?.reason}\n` +
      `${JSON.stringify(run.result)}\n--- stderr ---\n${run.stderr.slice(-6000)}`);
  assert.equal(run.result?.type, 'result');
  assert.equal(run.result.result, 'ok', run.result.reason);
  assert.deepEqual(run.result.server_errors, [], `${who}: the server refused a request`);
  return run.result;
}

const EXPECT_ARGS = ['--expect-video-from', '1', '--expect-audio-from', '1', '--expect-width', '320',
  '--expect-height', '240', '--timeout', '90'];

/** A coaching call: alice (mentor) and bob (student) in ROOM. */
function coachingPair(srv, room) {
  return [
    peer(srv, { user: 'alice', room, role: 'mentor', args: EXPECT_ARGS }),
    peer(srv, { user: 'bob', room, role: 'student', args: EXPECT_ARGS }),
  ];
}

/* ---- the catalog ---- */

/** Runs SQL on DATA_DIR/tribu.db with the sqlite3 tool; rows as objects. */
function sql(dataDir, query) {
  const out = execFileSync('sqlite3', ['-cmd', '.timeout 5000', '-json', join(dataDir, 'tribu.db'), query], {
    encoding: 'utf8',
    timeout: 20000,
  }).trim();
  return out ? JSON.parse(out) : [];
}

const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

function recordingRows(dataDir, where = '1') {
  return sql(dataDir, `SELECT * FROM recordings WHERE ${where} ORDER BY id`);
}

/** Polls the catalog until CHECK(rows) is truthy (the catalog commits its
 * queued writes in batches, on its own thread). */
async function untilRows(dataDir, where, check, what, timeout = 30000) {
  let rows = [];
  try {
    return await waitFor(() => {
      rows = recordingRows(dataDir, where);
      return check(rows) ? rows : false;
    }, { timeout, interval: 250, what });
  } catch (err) {
    assert.fail(`${err.message}; recordings rows: ${JSON.stringify(rows, null, 1)}`);
  }
}

/* ---- the files ---- */

/** Every file (not directory) under DIR, as paths relative to DIR. */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isDirectory()) out.push(relative(dir, join(e.parentPath ?? e.path, e.name)));
  }
  return out.sort();
}

/**
 * What a player reads in the WebM/Matroska file PATH: the EBML header's
 * DocType, Segment > Info's TimecodeScale and Duration (the duration
 * gst-discoverer and ffprobe report), whether it has Cues, and per track
 * (Tracks > TrackEntry) its codec and blocks (SimpleBlock, BlockGroup >
 * Block, in Clusters). Returns {docType, durationMs (null when absent),
 * cues, clusters, tracks: [{number, type ('video'|'audio'|...), codec,
 * blocks, firstMs, lastMs, keyframesMs: [...]}]}. A file cut short (kill -9)
 * is read up to its last whole element.
 */
function readMatroska(path) {
  const b = readFileSync(path);
  const vint = (pos, keepMarker) => {
    const first = b[pos];
    if (first === undefined) return null;
    let len = 1;
    while (len <= 8 && !(first & (0x80 >> (len - 1)))) len++;
    if (len > 8 || pos + len > b.length) return null;
    let value = keepMarker ? first : first & (0xff >> len);
    let allOnes = (first & (0xff >> len)) === 0xff >> len;
    for (let i = 1; i < len; i++) {
      value = value * 256 + b[pos + i];
      if (b[pos + i] !== 0xff) allOnes = false;
    }
    return { value, len, unknown: !keepMarker && allOnes };
  };
  const element = (pos, limit = b.length) => {
    const id = vint(pos, true);
    if (!id) return null;
    const size = vint(pos + id.len, false);
    if (!size) return null;
    const start = pos + id.len + size.len;
    const end = size.unknown ? limit : start + size.value;
    return { id: id.value, start, end: Math.min(end, limit), cut: end > limit, unknown: size.unknown };
  };
  const children = function* (e) {
    for (let p = e.start; p < e.end;) {
      const c = element(p, e.end);
      if (!c || c.end <= p) return;
      yield c;
      p = c.end;
    }
  };
  const uint = (e) => {
    let v = 0;
    for (let i = e.start; i < e.end; i++) v = v * 256 + b[i];
    return v;
  };
  const text = (e) => b.subarray(e.start, e.end).toString('latin1').replace(/\0+$/, '');
  const TYPES = { 1: 'video', 2: 'audio' };
  const info = { docType: null, durationMs: null, cues: false, clusters: 0, tracks: [] };
  const byNumber = new Map();
  const track = (n) => {
    if (!byNumber.has(n)) {
      const t = { number: n, type: null, codec: null, blocks: 0, firstMs: null, lastMs: null, keyframesMs: [] };
      byNumber.set(n, t);
      info.tracks.push(t);
    }
    return byNumber.get(n);
  };
  let scale = 1000000;
  let durationTicks = null;
  const block = (e, clusterTc, simple) => {
    const tn = vint(e.start, false);
    if (!tn || e.start + tn.len + 3 > e.end || e.cut) return;
    const tc = clusterTc + b.readInt16BE(e.start + tn.len);
    const t = track(tn.value);
    const ms = (tc * scale) / 1e6;
    t.blocks++;
    t.firstMs = t.firstMs === null ? ms : Math.min(t.firstMs, ms);
    t.lastMs = t.lastMs === null ? ms : Math.max(t.lastMs, ms);
    if (simple && b[e.start + tn.len + 2] & 0x80) t.keyframesMs.push(ms);
  };
  for (let pos = 0; pos < b.length;) {
    const e = element(pos);
    if (!e || e.end <= pos) break;
    if (e.id === 0x1a45dfa3) {
      for (const c of children(e)) if (c.id === 0x4282) info.docType = text(c);
    } else if (e.id === 0x18538067) {
      for (const c of children(e)) {
        if (c.id === 0x1549a966) {
          for (const d of children(c)) {
            if (d.id === 0x2ad7b1) scale = uint(d);
            if (d.id === 0x4489)
              durationTicks = d.end - d.start === 4 ? b.readFloatBE(d.start) : b.readDoubleBE(d.start);
          }
        } else if (c.id === 0x1654ae6b) {
          for (const entry of children(c)) {
            if (entry.id !== 0xae) continue;
            let n = null;
            let type = null;
            let codec = null;
            for (const f of children(entry)) {
              if (f.id === 0xd7) n = uint(f);
              if (f.id === 0x83) type = TYPES[uint(f)] ?? String(uint(f));
              if (f.id === 0x86) codec = text(f);
            }
            if (n !== null) Object.assign(track(n), { type, codec });
          }
        } else if (c.id === 0x1c53bb6b) {
          info.cues = true;
        } else if (c.id === 0x1f43b675) {
          info.clusters++;
          let tc = 0;
          for (const d of children(c)) {
            if (d.id === 0xe7) tc = uint(d);
            else if (d.id === 0xa3) block(d, tc, true);
            else if (d.id === 0xa0) for (const g of children(d)) if (g.id === 0xa1) block(g, tc, false);
          }
        }
      }
    }
    pos = e.end;
  }
  if (durationTicks !== null) info.durationMs = (durationTicks * scale) / 1e6;
  return info;
}

/** One line on the tracks of readMatroska(PATH)'s INFO, for messages. */
function describeTracks(info) {
  return info.tracks
    .map((t) => `${t.type} ${t.codec}: ${t.blocks} blocks ${t.firstMs}-${t.lastMs} ms, keyframes at ` +
      `${t.keyframesMs.slice(0, 5).join(',')}${t.keyframesMs.length > 5 ? ',...' : ''}`)
    .join('; ');
}

/** Asserts that INFO (readMatroska) holds one VP8 video and one Opus audio
 * track, the video starting with a keyframe; returns {video, audio}. */
function assertTracks(info, who) {
  const video = info.tracks.filter((t) => t.type === 'video');
  const audio = info.tracks.filter((t) => t.type === 'audio');
  assert.deepEqual([video.map((t) => t.codec), audio.map((t) => t.codec)], [['V_VP8'], ['A_OPUS']],
    `${who}: tracks ${describeTracks(info)}`);
  assert.ok(video[0].blocks > 0 && audio[0].blocks > 0, `${who}: ${describeTracks(info)}`);
  assert.equal(video[0].keyframesMs[0], video[0].firstMs, `${who}: the first video frame is not a keyframe: ` +
    describeTracks(info));
  return { video: video[0], audio: audio[0] };
}

/**
 * Decodes the WebM file PATH with gst-launch-1.0 (matroskademux, vp8dec,
 * opusdec, a fakesink each). Returns {code, out, video, audio}; video and
 * audio are {buffers, rendered, firstMs, endMs} (endMs: the end of the last
 * decoded buffer, or its start when it has no duration), or null when that
 * stream decoded nothing. They come from basesink's debug log
 * (GST_DEBUG=basesink:5): one "got times start: T, end: T" line per buffer
 * and "rendered: N" at the end; not from `gst-launch -v` and fakesink's
 * last-message, whose notifications gst-launch coalesces.
 *
 * The queues are unbounded: with queue's default 1 s limit, a file whose
 * video starts more than a second after its audio (video waits for a
 * keyframe) deadlocks the preroll (the audio sink has prerolled and blocks,
 * the audio queue fills, the demuxer stops before any video reaches its
 * sink), where a player's multiqueue would grow. The files are small.
 */
function decode(path, { timeout = 60000 } = {}) {
  const queue = ['queue', 'max-size-buffers=0', 'max-size-bytes=0', 'max-size-time=0'];
  const args = ['filesrc', `location=${path}`, '!', 'matroskademux', 'name=d',
    'd.video_0', '!', ...queue, '!', 'vp8dec', '!', 'fakesink', 'name=vsink',
    'd.audio_0', '!', ...queue, '!', 'opusdec', '!', 'fakesink', 'name=asink'];
  const env = { ...process.env, GST_DEBUG: 'basesink:5', GST_DEBUG_NO_COLOR: '1' };
  return new Promise((resolveRun) => {
    execFile('gst-launch-1.0', args, { timeout, env, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`;
        const streams = { vsink: null, asink: null };
        const ms = (h, m, sec) => (Number(h) * 3600 + Number(m) * 60 + Number(sec)) * 1000;
        const T = '(\\d+):(\\d{2}):(\\d{2}\\.\\d+)';
        const times = new RegExp(`gst_base_sink_chain_unlocked:<([av]sink)> got times start: ${T}, end: ${T}`, 'g');
        for (const m of out.matchAll(times)) {
          const start = ms(m[2], m[3], m[4]);
          const end = m[5] === '99' ? start : ms(m[5], m[6], m[7]);
          const st = (streams[m[1]] ??= { buffers: 0, rendered: 0, firstMs: start, endMs: 0 });
          st.buffers++;
          st.firstMs = Math.min(st.firstMs, start);
          st.endMs = Math.max(st.endMs, end);
        }
        for (const m of out.matchAll(/<([av]sink)> rendered: (\d+), dropped: \d+/g))
          if (streams[m[1]]) streams[m[1]].rendered = Number(m[2]);
        const code = err ? (typeof err.code === 'number' ? err.code : `${err.signal ?? err.code}`) : 0;
        resolveRun({ code, out, video: streams.vsink, audio: streams.asink });
      });
  });
}

/** Asserts that PATH decodes, audio and video, and returns
 * {durationMs: the end of the last decoded buffer, ...decode()}. */
async function assertDecodes(path, who) {
  const d = await decode(path);
  const tail = d.out.split('\n').filter((l) => !/ (DEBUG|LOG) /.test(l)).slice(-25).join('\n');
  const info = readMatroska(path);
  const what = () => `in the file: ${describeTracks(info)}\n${tail}`;
  assert.equal(d.code, 0, `${who}: gst-launch-1.0 could not decode ${path} (exit ${d.code}); ${what()}`);
  assert.ok(d.video?.buffers > 0, `${who}: no video decoded from ${path}; ${what()}`);
  assert.ok(d.audio?.buffers > 0, `${who}: no audio decoded from ${path}; ${what()}`);
  // Nearly every frame in the file decodes (vp8dec drops what it cannot).
  for (const [kind, got] of [['video', d.video], ['audio', d.audio]]) {
    const blocks = info.tracks.filter((t) => t.type === kind).reduce((n, t) => n + t.blocks, 0);
    assert.ok(got.rendered >= 0.9 * blocks,
      `${who}: ${got.rendered} ${kind} buffers decoded of ${blocks} blocks in ${path}; ${what()}`);
  }
  return { ...d, durationMs: Math.max(d.video.endMs, d.audio.endMs) };
}

/** The UTC year and month (tribud's file layout) of Unix time MS. */
function yearMonth(ms) {
  const d = new Date(ms);
  return [String(d.getUTCFullYear()), String(d.getUTCMonth() + 1).padStart(2, '0')];
}

/** The recordings tribud logged for ROOM so far: [{pid, path, at}] where
 * `at` is when this process first saw the line (see watchLog). */
function watchLog(srv, room) {
  const seen = new Map();
  const keyed = new Map(); // file name -> when its first video keyframe was in
  const re = new RegExp(`\\[${room}/([0-9a-zA-Z_-]+)\\] recording (recordings/\\S+) \\(`, 'g');
  const reKey = /\[[0-9a-f]+\/([0-9a-zA-Z_-]+\.(?:webm|mkv))\] starts at the first video keyframe/g;
  const timer = setInterval(() => {
    for (const m of srv.stderr.matchAll(re)) {
      if (!seen.has(m[2])) seen.set(m[2], { pid: m[1], path: m[2], at: Date.now() });
    }
    for (const m of srv.stderr.matchAll(reKey)) {
      if (!keyed.has(m[1])) keyed.set(m[1], Date.now());
    }
  }, 20);
  return { seen, keyed, stop: () => clearInterval(timer) };
}


/* ---- what players and viewers get from a file ---- */

/** Runs CMD ARGS; resolves with {code, stdout, stderr} (never rejects). */
function run(cmd, args, { timeout = 60000 } = {}) {
  return new Promise((resolveRun) => {
    execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : `${err.signal ?? err.code}`) : 0;
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** What ffprobe reads in PATH: {codecs: ['audio:opus', 'video:vp8'] (sorted),
 * durationMs (the container's), raw}. */
async function ffprobe(path) {
  const r = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name',
    '-of', 'json', path]);
  assert.equal(r.code, 0, `ffprobe cannot read ${path} (exit ${r.code}): ${r.stderr}`);
  const j = JSON.parse(r.stdout);
  return {
    codecs: (j.streams ?? []).map((st) => `${st.codec_type}:${st.codec_name}`).sort(),
    durationMs: j.format?.duration === undefined ? NaN : Number(j.format.duration) * 1000,
    raw: `${r.stdout}${r.stderr}`,
  };
}

/** What gst-discoverer-1.0 reads in PATH: {codecs: ['audio:Opus',
 * 'video:VP8'] (sorted), durationMs, raw}. */
async function discover(path) {
  const r = await run('gst-discoverer-1.0', [path]);
  const raw = `${r.stdout}${r.stderr}`;
  assert.equal(r.code, 0, `gst-discoverer-1.0 cannot read ${path} (exit ${r.code}): ${raw}`);
  const d = raw.match(/Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/);
  return {
    codecs: [...raw.matchAll(/^\s+(video|audio) #\d+: (.+)$/gm)].map((m) => `${m[1]}:${m[2].trim()}`).sort(),
    durationMs: d ? (Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3])) * 1000 : NaN,
    raw,
  };
}

/** Asserts that ffprobe and gst-discoverer both read PATH as VP8 + Opus
 * lasting EXPECTED_MS ± TOL_MS; returns {ff, gd}. */
async function assertPlayersRead(path, who, expectedMs, tolMs = 1000) {
  const [ff, gd] = await Promise.all([ffprobe(path), discover(path)]);
  assert.deepEqual(ff.codecs, ['audio:opus', 'video:vp8'], `${who}: ffprobe's streams\n${ff.raw}`);
  assert.deepEqual(gd.codecs, ['audio:Opus', 'video:VP8'], `${who}: gst-discoverer's streams\n${gd.raw}`);
  for (const [tool, v] of [['ffprobe', ff], ['gst-discoverer', gd]]) {
    assert.ok(Math.abs(v.durationMs - expectedMs) <= tolMs,
      `${who}: ${tool} reports ${v.durationMs} ms, expected ${expectedMs.toFixed(0)} ± ${tolMs}\n${v.raw}`);
  }
  return { ff, gd };
}

/**
 * What rec-probe (tools/rec-probe.c) sees when it decodes PATH, with the
 * colour of the frames shown at AT (ms): its JSON plus `video` and `audio`
 * (the stream entries). Asserts that it decoded the whole file, one VP8
 * and one Opus stream, nearly every video frame.
 */
async function recProbe(path, who, at = []) {
  const r = await run(REC_PROBE, [path, ...at.flatMap((ms) => ['--at', String(ms)])], { timeout: 120000 });
  let j;
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    assert.fail(`${who}: rec-probe ${path} exited ${r.code} without its JSON:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  }
  assert.equal(r.code, 0, `${who}: rec-probe could not decode ${path}: ${j.error}\n${r.stderr.slice(-3000)}`);
  j.video = j.streams.find((st) => st.type === 'video');
  j.audio = j.streams.find((st) => st.type === 'audio');
  const text = JSON.stringify({ ...j, frames_at: undefined });
  assert.deepEqual(j.streams.map((st) => `${st.type}:${st.codec}`).sort(), ['audio:Opus', 'video:VP8'],
    `${who}: rec-probe's streams: ${text}`);
  assert.ok(j.video.decoded >= 0.9 * j.video.buffers && j.video.decoded > 0,
    `${who}: ${j.video.decoded} of ${j.video.buffers} video frames decode: ${text}`);
  assert.ok(j.audio.decoded > 0, `${who}: no audio decodes: ${text}`);
  return j;
}

/** Asserts that colour GOT ([r, g, b], 0..255) is WANT within TOL per channel. */
function assertColour(got, want, what, tol = 24) {
  assert.ok(Array.isArray(got) && got.every((c, i) => Math.abs(c - want[i]) <= tol),
    `${what}: colour ${JSON.stringify(got)}, sent ${JSON.stringify(want)} (± ${tol} per channel)`);
}

/**
 * Lets P publish until its file has been recording for MS (as tribud's
 * log shows it starting: LOG is watchLog()'s), then stops P. Resolves with
 * {path, at, recordedMs}: the file, when its recording started here, and
 * how long it recorded until P's stop. Timed from tribud's log, not from
 * P's stats: on a loaded machine media can start seconds after DTLS does.
 */
async function publishFor(srv, log, p, ms) {
  const start = await waitFor(() => [...log.seen.values()].find((x) => x.pid === p.pid) ?? false, {
    timeout: 40000,
    interval: 50,
    what: `tribud to log ${p.user}'s recording`,
  }).catch((err) => assert.fail(`${err.message}\n${srv.stderr.slice(-4000)}`));
  // A file with video starts at its first keyframe (the audio before it is
  // left out): time the recording from there.
  const name = start.path.split('/').pop();
  const keyedAt = await waitFor(() => log.keyed.get(name) ?? false, {
    timeout: 20000,
    interval: 50,
    what: `tribud to log ${p.user}'s first keyframe`,
  }).catch((err) => assert.fail(`${err.message}\n${srv.stderr.slice(-4000)}`));
  start.at = keyedAt;
  await pause(start.at + ms - Date.now());
  assert.ok(!p.exited, `${p.user} is still in the call`);
  await p.stop();
  return { ...start, recordedMs: p.stoppedAt - start.at };
}

let roomSeq = 0;
const freshRoom = (prefix) => `${prefix}-${process.pid}-${++roomSeq}`;

describe('recording', () => {
  itLogged('a coaching call gives two complete WebM files and catalog rows that match them', { timeout: 150000 }, async (t) => {
    const srv = await start();
    const room = freshRoom('rec');
    const peers = coachingPair(srv, room);
    const [alice, bob] = peers;
    let pids;
    try {
      await untilAllSeeEachOther(peers);
      pids = { alice: alice.pid, bob: bob.pid };
      // ~6 s of publishing each, timed by their own stats lines.
      await Promise.all(peers.map((p) => p.until((s) => s.at >= p.publishedFrom + 6000, `${p.user}: 6 s of publishing`, 30000)));
    } finally {
      await stopAll(peers);
    }
    for (const p of peers) assertOk(await p.done, p.user);
    await stopCleanly(srv);

    // The files: recordings/<yyyy>/<mm>/<session>/<pid>-0.webm, nothing else.
    const sessions = sql(srv.dataDir, `SELECT * FROM sessions WHERE room_id = ${quote(room)}`);
    assert.equal(sessions.length, 1, `one session for ${room}: ${JSON.stringify(sessions)}`);
    const session = sessions[0];
    assert.ok(session.ended_ms >= session.started_ms, `the session ended: ${JSON.stringify(session)}`);
    const [yyyy, mm] = yearMonth(session.started_ms);
    const files = filesUnder(join(srv.dataDir, 'recordings'));
    assert.deepEqual(files, [`${yyyy}/${mm}/${session.id}/${pids.alice}-0.webm`,
      `${yyyy}/${mm}/${session.id}/${pids.bob}-0.webm`].sort(), `files under recordings/ (session ${session.id})`);

    const rows = recordingRows(srv.dataDir);
    assert.equal(rows.length, 2, `two recordings rows: ${JSON.stringify(rows, null, 1)}`);
    for (const p of peers) {
      const row = rows.find((r) => r.participant_id === pids[p.user]);
      const who = `${p.user}'s recording`;
      assert.ok(row, `no row for ${p.user} (${pids[p.user]}): ${JSON.stringify(rows)}`);
      const abs = join(srv.dataDir, row.path);
      assert.equal(row.path, `recordings/${yyyy}/${mm}/${session.id}/${pids[p.user]}-0.webm`, `${who}: path`);
      assert.equal(row.session_id, session.id, `${who}: session`);
      assert.equal(row.user, p.user, `${who}: user`);
      assert.equal(row.role, p.user === 'alice' ? 'mentor' : 'student', `${who}: role`);
      assert.equal(row.state, 'complete', `${who}: ${JSON.stringify(row)}`);
      assert.equal(row.error, null, `${who}: error`);
      assert.equal(row.bytes, statSync(abs).size, `${who}: bytes = the file's size`);
      assert.deepEqual(row.kinds.split(',').sort(), ['audio', 'video'], `${who}: kinds ${row.kinds}`);
      const codecs = row.codecs.toUpperCase().split(',').sort();
      assert.deepEqual(codecs, ['OPUS', 'VP8'], `${who}: codecs ${row.codecs}`);
      assert.equal(row.width, 320, `${who}: width`);
      assert.equal(row.height, 240, `${who}: height`);
      assert.ok(row.offset_ms >= 0, `${who}: offset_ms ${row.offset_ms}`);
      assert.ok(row.started_ms >= session.started_ms && row.ended_ms >= row.started_ms &&
        row.ended_ms <= session.ended_ms + 1000, `${who}: started/ended within the session: ${JSON.stringify(row)}`);

      // What a player sees: WebM, the stated duration, both streams decode.
      const mkv = readMatroska(abs);
      const dec = await assertDecodes(abs, who);
      const published = p.stoppedAt - p.publishedFrom;
      const expected = published - START_DELAY_MS;
      t.diagnostic(`${p.user}: published ${published} ms (expected file ~${expected} ms); file states ` +
        `${mkv.durationMs?.toFixed(0)} ms, decodes to ${dec.durationMs.toFixed(0)} ms (video ` +
        `${dec.video.firstMs}-${dec.video.endMs.toFixed(0)}, audio ${dec.audio.firstMs}-${dec.audio.endMs.toFixed(0)}), ` +
        `catalog ${row.duration_ms} ms, ${row.bytes} bytes, offset ${row.offset_ms} ms, cues ${mkv.cues}; ` +
        describeTracks(mkv));
      assert.equal(mkv.docType, 'webm', `${who}: EBML DocType`);
      assertTracks(mkv, who);
      assert.ok(mkv.cues, `${who}: a cleanly finished file has Cues`);
      assert.ok(mkv.durationMs !== null, `${who}: the file states no duration`);
      for (const [what, ms] of [['stated', mkv.durationMs], ['decoded', dec.durationMs],
        ['decoded video', dec.video.endMs], ['decoded audio', dec.audio.endMs]]) {
        assert.ok(Math.abs(ms - expected) <= 1500,
          `${who}: ${what} duration ${ms} ms, but ${p.user} published for ${published} ms ` +
            `(file expected ~${expected} ms, ±1500); ${describeTracks(mkv)}`);
      }
      assert.ok(Math.abs(row.duration_ms - mkv.durationMs) <= 500,
        `${who}: catalog duration_ms ${row.duration_ms} vs the file's ${mkv.durationMs}`);
    }
    const attendance = sql(srv.dataDir, `SELECT participant_id FROM attendance WHERE session_id = ${quote(session.id)}`);
    assert.deepEqual(attendance.map((a) => a.participant_id).sort(), [pids.alice, pids.bob].sort(), 'attendance');
    await discard(srv);
  });

  itLogged('kill -9 mid-call: the files play; after a restart the rows are truncated with the real duration', { timeout: 150000 }, async (t) => {
    const srv = await start();
    const room = freshRoom('crash');
    const peers = coachingPair(srv, room);
    const log = watchLog(srv, room);
    let pids;
    let killedAt;
    let starts;
    try {
      await untilAllSeeEachOther(peers);
      pids = peers.map((p) => p.pid);
      starts = await waitFor(() => (log.seen.size >= 2 ? [...log.seen.values()] : false), {
        timeout: 20000,
        what: `tribud to log two recordings for ${room}`,
      }).catch((err) => assert.fail(`${err.message}\n${srv.stderr.slice(-4000)}`));
      const recStart = Math.max(...starts.map((s) => s.at));
      // The call goes on for ~5 s of recording, then tribud dies.
      await pause(recStart + 5000 - Date.now());
      assert.ok(peers.every((p) => !p.exited), 'both clients are still in the call');
      await untilRows(srv.dataDir, '1', (r) => r.length === 2 && r.every((x) => x.state === 'recording'),
        'two rows in state recording before the kill', 5000);
      killedAt = Date.now();
      const code = await srv.stop({ signal: 'SIGKILL' });
      assert.equal(code, 'signal SIGKILL');
    } finally {
      log.stop();
      await Promise.all(peers.map((p) => p.kill()));
    }
    assert.deepEqual(starts.map((s) => s.pid).sort(), [...pids].sort(), 'a recording for each participant');

    // The files as the kill left them already play.
    const truth = new Map();
    for (const s of starts) {
      const abs = join(srv.dataDir, s.path);
      const who = `${s.path} (killed)`;
      assert.ok(existsSync(abs), `${who}: no file`);
      truth.set(s.path, killedAt - s.at);
      const mkv = readMatroska(abs);
      const dec = await assertDecodes(abs, who);
      t.diagnostic(`${s.path} at the kill: recorded ${killedAt - s.at} ms; ${statSync(abs).size} bytes, ` +
        `states ${mkv.durationMs?.toFixed(0)} ms, decodes to ${dec.durationMs.toFixed(0)} ms (video ` +
        `${dec.video.firstMs}-${dec.video.endMs.toFixed(0)}, audio ${dec.audio.firstMs}-${dec.audio.endMs.toFixed(0)}), ` +
        `cues ${mkv.cues}; ${describeTracks(mkv)}`);
      assert.equal(mkv.docType, 'webm', `${who}: EBML DocType`);
      assertTracks(mkv, who);
      for (const [what, ms] of [['decodes to', dec.durationMs], ['decodes video to', dec.video.endMs],
        ['decodes audio to', dec.audio.endMs]]) {
        assert.ok(Math.abs(ms - truth.get(s.path)) <= 3000,
          `${who}: ${what} ${ms} ms, recorded for ${truth.get(s.path)} ms (±3000); ${describeTracks(mkv)}`);
      }
      assert.ok(mkv.durationMs !== null && Math.abs(mkv.durationMs - truth.get(s.path)) <= 3000,
        `${who}: states ${mkv.durationMs} ms, recorded for ${truth.get(s.path)} ms (±3000)`);
    }

    // The next start repairs them and ends their rows 'truncated'.
    const again = await start({ dataDir: srv.dataDir, timeout: 60000 });
    const rows = await untilRows(again.dataDir, '1', (r) => r.length === 2 && r.every((x) => x.state !== 'recording'),
      'the rows left in recording to be repaired');
    for (const row of rows) {
      const who = `${row.path} (repaired)`;
      const abs = join(again.dataDir, row.path);
      assert.ok(truth.has(row.path), `${who}: a row for a file tribud did not log: ${JSON.stringify(row)}`);
      assert.equal(row.state, 'truncated', `${who}: ${JSON.stringify(row)}\n${again.stderr.slice(-3000)}`);
      assert.ok(row.duration_ms > 0, `${who}: duration_ms ${row.duration_ms}`);
      assert.ok(Math.abs(row.duration_ms - truth.get(row.path)) <= 3000,
        `${who}: duration_ms ${row.duration_ms}, recorded for ${truth.get(row.path)} ms (±3000)`);
      assert.equal(row.bytes, statSync(abs).size, `${who}: bytes = the file's size`);
      assert.ok(row.ended_ms >= row.started_ms, `${who}: ended_ms ${row.ended_ms}`);
      const mkv = readMatroska(abs);
      const dec = await assertDecodes(abs, who);
      t.diagnostic(`${row.path} repaired: row ${row.duration_ms} ms, ${row.bytes} bytes (${row.error}); ` +
        `states ${mkv.durationMs?.toFixed(0)} ms, decodes to ${dec.durationMs.toFixed(0)} ms, cues ${mkv.cues}`);
      assertTracks(mkv, who);
      assert.ok(Math.abs(dec.durationMs - row.duration_ms) <= 1000,
        `${who}: decodes to ${dec.durationMs} ms, the row says ${row.duration_ms}`);
    }
    assert.match(again.stderr, /repaired recordings\//, 'tribud logged the repair');
    const [session] = sql(again.dataDir, `SELECT * FROM sessions WHERE room_id = ${quote(room)}`);
    assert.equal(session?.end_reason, 'crash', `the session: ${JSON.stringify(session)}`);
    await stopCleanly(again);
    await discard(again);
    await discard(srv);
  });

  itLogged('a room created with "recording": false records nothing', { timeout: 120000 }, async () => {
    const srv = await start();
    const room = freshRoom('norec');
    const created = await srv.fetch('/api/rooms', {
      method: 'POST',
      token: srv.sign({ user: 'm', role: 'mentor', room: '*' }),
      body: { id: room, kind: 'coaching', recording: false },
    });
    assert.equal(created.status, 201, created.text);
    const peers = coachingPair(srv, room);
    try {
      await untilAllSeeEachOther(peers);
      // Long past the moment a recording would start (0.5 s after the
      // first packet): 3 s more of call.
      await Promise.all(peers.map((p) => p.until((s) => s.at >= p.publishedFrom + 4000, `${p.user}: 4 s of publishing`, 30000)));
    } finally {
      await stopAll(peers);
    }
    for (const p of peers) assertOk(await p.done, p.user);
    await stopCleanly(srv);
    const sessions = sql(srv.dataDir, `SELECT * FROM sessions WHERE room_id = ${quote(room)}`);
    assert.equal(sessions.length, 1, `the session is in the catalog: ${JSON.stringify(sessions)}`);
    assert.deepEqual(recordingRows(srv.dataDir), [], 'no recordings row');
    assert.deepEqual(filesUnder(join(srv.dataDir, 'recordings')), [], 'no file under recordings/');
    assert.doesNotMatch(srv.stderr, /\] recording recordings\//, 'tribud logged no recording');
    await discard(srv);
  });

  itLogged('an unwritable recordings dir: the call goes on, the rows end failed with an error', { timeout: 120000 }, async () => {
    // tribud runs as root here, so permissions would not stop it, and it
    // creates <data>/recordings at start (refusing to start when it cannot):
    // a FILE where this year's directory should be makes every new
    // recordings/<yyyy>/<mm>/<session>/ impossible to create.
    const dirs = makeTempDirs('tribu-itest-rec-');
    extraDirs.add(dirs.base);
    const [yyyy] = yearMonth(Date.now());
    mkdirSync(join(dirs.dataDir, 'recordings'));
    writeFileSync(join(dirs.dataDir, 'recordings', yyyy), 'not a directory\n');
    const srv = await start({ dataDir: dirs.dataDir });
    const room = freshRoom('unwritable');
    const peers = coachingPair(srv, room);
    let pids;
    let rows;
    try {
      await untilAllSeeEachOther(peers);
      pids = peers.map((p) => p.pid);
      rows = await untilRows(srv.dataDir, '1',
        (r) => pids.every((pid) => r.some((x) => x.participant_id === pid && x.state !== 'recording')),
        'a finished recordings row for each participant');
      // The call itself goes on after the recordings failed.
      const marks = peers.map((p) => p.latest);
      await Promise.all(peers.map((p, i) => untilMoreFrom(p, marks[i], pids[1 - i])));
    } finally {
      await stopAll(peers);
    }
    for (const p of peers) assertOk(await p.done, p.user);
    await stopCleanly(srv);
    rows = recordingRows(srv.dataDir);
    for (const pid of pids) {
      const mine = rows.filter((r) => r.participant_id === pid);
      assert.ok(mine.length >= 1, `no row for ${pid}: ${JSON.stringify(rows)}`);
      for (const row of mine) {
        assert.equal(row.state, 'failed', `${row.path}: ${JSON.stringify(row)}`);
        assert.ok(typeof row.error === 'string' && row.error.length > 0, `${row.path}: no error: ${JSON.stringify(row)}`);
        assert.ok(!existsSync(join(srv.dataDir, row.path)), `${row.path} exists`);
        // ...and the log says so too.
        assert.ok(srv.stderr.includes(`${row.path} failed`) || srv.stderr.includes(row.error),
          `the log does not mention ${row.path}'s failure (${row.error}):\n${srv.stderr.slice(-4000)}`);
      }
    }
    assert.ok(readFileSync(join(srv.dataDir, 'recordings', yyyy), 'utf8').startsWith('not a directory'),
      'the file in the way was left alone');
    await discard(srv);
  });

  /* The disk fills during a recorded call: a 2 MiB tmpfs is the recordings
   * dir, and once both files are being written a filler takes what is
   * left. tribud runs in a mount namespace of its own (TRIBUD_WRAPPER:
   * `unshare -m` and a script that mounts the tmpfs, then execs tribud), so
   * the mount is seen by tribud alone and goes with it, whatever happens to
   * the test; the filler is written from inside (nsenter). Needs root. */
  itLogged('the disk fills during a recorded call: the call goes on, the rows end failed "No space left", nothing else is lost', { timeout: 150000 }, async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('mounting a tmpfs needs root');
      return;
    }
    const dirs = makeTempDirs('tribu-itest-full-');
    extraDirs.add(dirs.base);
    const recDir = join(dirs.dataDir, 'recordings');
    mkdirSync(recDir);
    const script = join(dirs.base, 'with-small-disk.sh');
    writeFileSync(script, `#!/bin/sh\nmount -t tmpfs -o size=2m,mode=0755 tribu-itest-full '${recDir}' || exit 97\nexec "$@"\n`,
      { mode: 0o755 });
    const inside = (cmd) => execFileSync('nsenter', ['-t', String(srv.pid), '-m', 'sh', '-c', cmd], { encoding: 'utf8' });
    const saved = process.env.TRIBUD_WRAPPER;
    process.env.TRIBUD_WRAPPER = `unshare -m ${script}`;
    let srv;
    try {
      srv = await start({ dataDir: dirs.dataDir });
    } finally {
      if (saved === undefined) delete process.env.TRIBUD_WRAPPER;
      else process.env.TRIBUD_WRAPPER = saved;
    }
    assert.match(inside(`grep ' ${recDir} ' /proc/self/mounts`), /tmpfs/, 'tribud sees the tmpfs');
    assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(recDir), 'the test does not: the mount is tribud\u2019s');
    const room = freshRoom('diskfull');
    const peers = coachingPair(srv, room);
    let pids;
    try {
      await untilAllSeeEachOther(peers);
      pids = peers.map((p) => p.pid);
      await untilRows(srv.dataDir, '1', (r) => pids.every((pid) => r.some((x) => x.participant_id === pid)),
        'a recordings row for each participant');
      // Both files are being written: now the disk fills up.
      const df = inside(`cat /dev/zero 2>&1 >'${recDir}/filler'; df -k '${recDir}' | tail -1`);
      t.diagnostic(`after the filler: ${df.trim()}`);
      assert.match(df, /No space left/, df);
      // Each participant's recording fails with the reason...
      const failed = await untilRows(srv.dataDir, '1',
        (r) => pids.every((pid) => r.some((x) => x.participant_id === pid && x.state === 'failed')),
        'a failed recordings row for each participant', 60000);
      for (const pid of pids) {
        const row = failed.find((x) => x.participant_id === pid && x.state === 'failed');
        assert.match(row.error ?? '', /No space left/, JSON.stringify(row));
      }
      // ...and the call goes on: media keeps reaching the other peer.
      const marks = peers.map((p) => p.latest);
      await Promise.all(peers.map((p, i) => untilMoreFrom(p, marks[i], pids[1 - i])));
      assert.equal((await srv.healthz()).status, 'ok');
      assert.equal((await srv.healthz()).participants, 2);
    } finally {
      await stopAll(peers);
    }
    for (const p of peers) assertOk(await p.done, p.user);
    // tribud keeps serving: another room opens.
    const [c, jr] = await srv.connectAndJoin({ user: 'later', room: freshRoom('after-full') });
    assert.equal(jr.ok, true, JSON.stringify(jr));
    await c.close();
    await stopCleanly(srv);
    // Every recordings row is finished: failed with its reason, none left
    // "recording" (a retry on the full disk fails too).
    const rows = recordingRows(srv.dataDir);
    assert.ok(rows.length >= 2, JSON.stringify(rows));
    for (const row of rows) {
      assert.equal(row.state, 'failed', JSON.stringify(row));
      assert.match(row.error ?? '', /No space left|no media reached the file/, JSON.stringify(row));
    }
    // Nothing else is lost: the session and both attendance rows are complete.
    const [session] = sql(srv.dataDir, `SELECT * FROM sessions WHERE room_id = ${quote(room)}`);
    assert.ok(session, 'the session row');
    assert.ok(session.ended_ms >= session.started_ms, JSON.stringify(session));
    const attendance = sql(srv.dataDir, `SELECT * FROM attendance WHERE session_id = ${quote(session.id)}`);
    assert.deepEqual(attendance.map((a) => a.participant_id).sort(), [...pids].sort(), JSON.stringify(attendance));
    for (const a of attendance) {
      assert.ok(a.left_ms >= a.joined_ms, JSON.stringify(a));
      assert.ok(a.leave_reason, JSON.stringify(a));
    }
    assert.ok(srv.stderr.includes('No space left'), `tribud logged the failure:\n${srv.stderr.slice(-4000)}`);
    // The mount went with tribud: what is left is the empty mount point.
    assert.deepEqual(readdirSync(recDir), []);
    await discard(srv);
  });

  /* A 10 s call: alice sends one colour, bob the sync pattern (a white
   * flash and a 1 kHz beep at the same instants every 2 s: sources.c).
   * The first test checks both files as players read them; the second
   * checks bob's for A/V sync. */
  const ALICE_RGB = [40, 160, 220];
  const SYNC_PERIOD_MS = 2000;
  let tenSecondCall;

  itLogged('a 10 s coaching call: ffprobe and gst-discoverer read VP8 + Opus for 10 s, a keyframe first, the colour sent', { timeout: 180000 }, async (t) => {
    const srv = await start();
    const room = freshRoom('tensec');
    const log = watchLog(srv, room);
    const recorded = {};
    const peers = [
      peer(srv, { user: 'alice', room, role: 'mentor', args: [...EXPECT_ARGS, '--pattern', ALICE_RGB.join(',')] }),
      peer(srv, { user: 'bob', room, role: 'student', args: [...EXPECT_ARGS, '--pattern', 'sync'] }),
    ];
    try {
      await untilAllSeeEachOther(peers);
      // Each leaves when its file has recorded for 10 s.
      await Promise.all(peers.map(async (p) => {
        recorded[p.user] = await publishFor(srv, log, p, 10000);
      }));
    } finally {
      log.stop();
      await stopAll(peers);
    }
    for (const p of peers) assertOk(await p.done, p.user);
    await stopCleanly(srv);

    const rows = recordingRows(srv.dataDir);
    assert.equal(rows.length, 2, `two recordings rows: ${JSON.stringify(rows, null, 1)}`);
    const files = {};
    for (const p of peers) {
      const who = `${p.user}'s recording`;
      const row = rows.find((r) => r.participant_id === p.pid);
      assert.ok(row, `no row for ${p.user} (${p.pid}): ${JSON.stringify(rows)}`);
      assert.equal(row.state, 'complete', `${who}: ${JSON.stringify(row)}`);
      const abs = join(srv.dataDir, row.path);
      assert.equal(row.path, recorded[p.user].path, `${who}: the file tribud logged`);
      const expected = recorded[p.user].recordedMs;
      const { ff, gd } = await assertPlayersRead(abs, who, 10000, 1000);
      const probe = await recProbe(abs, who, [2500, 5000, 7500]);
      t.diagnostic(`${p.user}: recorded ${expected.toFixed(0)} ms (${(recorded[p.user].at - p.publishedFrom).toFixed(0)} ms ` +
        `after its DTLS); ffprobe ${ff.durationMs} ms, gst-discoverer ${gd.durationMs} ms, catalog ${row.duration_ms} ms; rec-probe ${JSON.stringify({ ...probe, frames_at: undefined })}`);
      for (const [tool, v] of [['ffprobe', ff], ['gst-discoverer', gd]]) {
        assert.ok(Math.abs(v.durationMs - expected) <= 1000,
          `${who}: ${tool} reports ${v.durationMs} ms, but it recorded for ${expected.toFixed(0)} ms`);
      }
      assert.equal(probe.video.first_keyframe, true, `${who}: the first video frame is not a keyframe`);
      assert.ok(probe.video.first_ms <= 1000, `${who}: video starts at ${probe.video.first_ms} ms`);
      assert.ok(probe.audio.first_ms <= 1000, `${who}: audio starts at ${probe.audio.first_ms} ms`);
      assert.deepEqual([probe.video.width, probe.video.height], [320, 240], `${who}: decoded size`);
      files[p.user] = { abs, row, probe, expected };
    }
    // What alice sent is what a viewer sees, at any instant.
    const alice = files.alice.probe;
    for (const f of alice.frames_at) assertColour(f.rgb, ALICE_RGB, `alice's frame at ${f.at_ms} ms (pts ${f.pts_ms})`);
    assertColour(alice.mean_rgb, ALICE_RGB, "the mean of alice's frames");
    assert.deepEqual(alice.flashes_ms, [], "alice's solid colour has no flash");
    // bob's frames are black or a white flash, never alice's colour.
    for (const f of files.bob.probe.frames_at) {
      assert.ok(f.rgb.every((c) => c <= 24) || f.rgb.every((c) => c >= 231),
        `bob's frame at ${f.at_ms} ms is neither black nor white: ${JSON.stringify(f.rgb)}`);
    }
    tenSecondCall = { srv, files };
  });

  itLogged('A/V sync: in the file, every flash and its beep start within 50 ms of each other', { timeout: 60000 }, async (t) => {
    assert.ok(tenSecondCall, 'the 10 s call (the test above) recorded nothing to check');
    const { probe } = tenSecondCall.files.bob;
    const { flashes_ms: flashes, beeps_ms: beeps } = probe;
    t.diagnostic(`flashes at ${flashes.join(', ')} ms; beeps at ${beeps.join(', ')} ms; video ` +
      `${probe.video.first_ms}-${probe.video.end_ms}, audio ${probe.audio.first_ms}-${probe.audio.end_ms}; ` +
      `timeline jumps ${JSON.stringify(probe.jumps_ms)}, gaps ${JSON.stringify(probe.gaps_ms)}`);
    // Only pulses that both streams fully cover count (a stream may begin
    // or end in the middle of one).
    const from = Math.max(probe.video.first_ms, probe.audio.first_ms) + 250;
    const to = Math.min(probe.video.end_ms, probe.audio.end_ms) - 250;
    const inside = (ms) => ms >= from && ms <= to;
    const f = flashes.filter(inside);
    const b = beeps.filter(inside);
    assert.ok(f.length >= 3, `at least 3 flashes in ~10 s of file (one every ${SYNC_PERIOD_MS} ms): ${flashes}`);
    for (let i = 1; i < f.length; i++) {
      assert.ok(Math.abs(f[i] - f[i - 1] - SYNC_PERIOD_MS) <= 100,
        `flashes ${f[i - 1]} and ${f[i]} ms are not ${SYNC_PERIOD_MS} ms apart: ${flashes}`);
    }
    assert.equal(b.length, f.length, `as many beeps as flashes between ${from} and ${to} ms: flashes ${f}, beeps ${b}`);
    const offsets = f.map((ms, i) => b[i] - ms);
    t.diagnostic(`beep - flash: ${offsets.map((o) => o.toFixed(1)).join(', ')} ms`);
    for (const [i, o] of offsets.entries()) {
      assert.ok(Math.abs(o) <= 50, `flash at ${f[i]} ms, its beep at ${b[i]} ms: ${o.toFixed(1)} ms apart (> 50)`);
    }
    await discard(tenSecondCall.srv);
  });

  itLogged('a workshop with 4 publishers: 4 files, each VP8 + Opus for as long as it published, rows that match', { timeout: 240000 }, async (t) => {
    const srv = await start();
    const room = freshRoom('workshop');
    const log = watchLog(srv, room);
    const recorded = {};
    const size = { width: 160, height: 120 };
    const args = ['--width', '160', '--height', '120', '--expect-video-from', '3', '--expect-audio-from', '3',
      '--expect-width', '160', '--expect-height', '120', '--min-frames', '20', '--timeout', '120'];
    const peers = ['ann', 'ben', 'cat', 'dan'].map((user, i) =>
      peer(srv, { user, room, kind: 'workshop', role: i === 0 ? 'mentor' : 'student', args }));
    try {
      await untilAllSeeEachOther(peers, 120000, { frames: 20, audio: 50, ...size });
      // Each leaves when its file has recorded for 6 s.
      await Promise.all(peers.map(async (p) => {
        recorded[p.user] = await publishFor(srv, log, p, 6000);
      }));
    } finally {
      log.stop();
      await stopAll(peers);
    }
    for (const p of peers) assertOk(await p.done, p.user);
    await stopCleanly(srv);

    const [session] = sql(srv.dataDir, `SELECT * FROM sessions WHERE room_id = ${quote(room)}`);
    assert.ok(session, `no session for ${room}`);
    const [yyyy, mm] = yearMonth(session.started_ms);
    const rows = recordingRows(srv.dataDir);
    assert.deepEqual(filesUnder(join(srv.dataDir, 'recordings')),
      peers.map((p) => `${yyyy}/${mm}/${session.id}/${p.pid}-0.webm`).sort(), 'one file per publisher');
    assert.equal(rows.length, 4, `four rows: ${JSON.stringify(rows, null, 1)}`);
    for (const p of peers) {
      const who = `${p.user}'s recording`;
      const row = rows.find((r) => r.participant_id === p.pid);
      assert.ok(row, `no row for ${p.user}`);
      const abs = join(srv.dataDir, row.path);
      const expected = recorded[p.user].recordedMs;
      assert.equal(row.path, recorded[p.user].path, `${who}: the file tribud logged`);
      assert.equal(row.state, 'complete', `${who}: ${JSON.stringify(row)}`);
      assert.equal(row.session_id, session.id, `${who}: session`);
      assert.equal(row.role, p.user === 'ann' ? 'mentor' : 'student', `${who}: role`);
      assert.equal(row.bytes, statSync(abs).size, `${who}: bytes = the file's size`);
      assert.deepEqual(row.codecs.toUpperCase().split(',').sort(), ['OPUS', 'VP8'], `${who}: codecs ${row.codecs}`);
      assert.deepEqual([row.width, row.height], [160, 120], `${who}: resolution`);
      const { ff, gd } = await assertPlayersRead(abs, who, expected, 1000);
      const probe = await recProbe(abs, who);
      t.diagnostic(`${p.user}: recorded ${expected.toFixed(0)} ms; ffprobe ${ff.durationMs}, gst-discoverer ` +
        `${gd.durationMs}, catalog ${row.duration_ms} ms, ${row.bytes} bytes, offset ${row.offset_ms} ms`);
      assert.ok(Math.abs(row.duration_ms - ff.durationMs) <= 500,
        `${who}: catalog duration_ms ${row.duration_ms}, the file lasts ${ff.durationMs} ms`);
      assert.equal(probe.video.first_keyframe, true, `${who}: the first video frame is not a keyframe`);
      assert.deepEqual([probe.video.width, probe.video.height], [160, 120], `${who}: decoded size`);
    }
    await discard(srv);
  });

  itLogged('mute for 3 s mid-call: the file plays, covers the whole call with a gap, and its row is complete', { timeout: 150000 }, async (t) => {
    const srv = await start();
    const room = freshRoom('mute');
    const log = watchLog(srv, room);
    let recorded;
    let muted;
    const peers = [
      // 4 s after its sources start, alice mutes audio and video for 3 s.
      peer(srv, { user: 'alice', room, role: 'mentor', args: [...EXPECT_ARGS, '--mute-after', '4:3'] }),
      peer(srv, { user: 'bob', room, role: 'student', args: EXPECT_ARGS }),
    ];
    const [alice] = peers;
    /* When alice logs (un)muting (she sends the requests then), watched
     * from now on. */
    const logged = (re, what) => waitFor(() => re.test(alice.stderr) && Date.now(), {
      timeout: 60000,
      interval: 20,
      what: `alice to log ${what}`,
    });
    const muting = logged(/tribu-client: muting audio/, 'muting');
    const unmuting = logged(/tribu-client: unmuting audio/, 'unmuting');
    muting.catch(() => {});
    unmuting.catch(() => {});
    try {
      await untilAllSeeEachOther(peers);
      const [mutedAt, unmutedAt] = await Promise.all([muting, unmuting])
        .catch((err) => assert.fail(`${err.message}\n${alice.stderr.slice(-3000)}`));
      const [start] = [...log.seen.values()].filter((x) => x.pid === alice.pid);
      assert.ok(start && mutedAt > start.at + 500,
        `alice muted (${mutedAt}) before her recording started (${start?.at}): the machine is too slow for this test`);
      muted = { from: mutedAt - start.at, to: unmutedAt - start.at };
      // Then the call goes on for at least 3 s, and 10 s of recording.
      recorded = await publishFor(srv, log, alice, Math.max(10000, unmutedAt + 3000 - start.at));
    } finally {
      log.stop();
      await stopAll(peers);
    }
    for (const p of peers) assertOk(await p.done, p.user);
    await stopCleanly(srv);

    const rows = recordingRows(srv.dataDir);
    const row = rows.find((r) => r.participant_id === alice.pid);
    assert.ok(row, `no row for alice: ${JSON.stringify(rows)}`);
    const who = "alice's recording (muted 3 s)";
    assert.equal(row.state, 'complete', `${who}: ${JSON.stringify(row)}`);
    const abs = join(srv.dataDir, row.path);
    assert.equal(row.bytes, statSync(abs).size, `${who}: bytes = the file's size`);
    assert.equal(row.path, recorded.path, `${who}: the file tribud logged`);
    const expected = recorded.recordedMs;
    const { ff } = await assertPlayersRead(abs, who, expected, 1000);
    const probe = await recProbe(abs, who);
    t.diagnostic(`${who}: recorded ${expected.toFixed(0)} ms, muted from ${muted.from} to ${muted.to} ms; ffprobe ${ff.durationMs} ms, catalog ` +
      `${row.duration_ms} ms; rec-probe ${JSON.stringify({ ...probe, frames_at: undefined })}`);
    assert.ok(Math.abs(row.duration_ms - ff.durationMs) <= 500,
      `${who}: catalog duration_ms ${row.duration_ms}, the file lasts ${ff.durationMs} ms`);
    // The video plays to the end of the call, with a hole where it was muted.
    assert.ok(Math.abs(probe.video.end_ms - expected) <= 1000, `${who}: video ends at ${probe.video.end_ms} ms`);
    // (within a second: the file's timeline starts at its first packet, the
    // requests take a moment, and the recorder waits for a keyframe after
    // the unmute).
    const holes = probe.gaps_ms.video.filter(([a, b]) => Math.abs(a - muted.from) <= 1000 &&
      Math.abs(b - muted.to) <= 1000);
    assert.equal(holes.length, 1, `${who}: one hole in the video from ~${muted.from} to ~${muted.to} ms ` +
      `(when alice was muted), got ${JSON.stringify(probe.gaps_ms.video)}`);
    await discard(srv);
  });
});
