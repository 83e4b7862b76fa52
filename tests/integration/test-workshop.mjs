// Workshop facilitation through a real tribud: the test is the facilitator
// (a mentor over WebSocket) and tribu-client processes (GStreamer webrtcbin,
// webrtc-client/) are the participants, publishing a tone. What a user would
// check: a muted participant is no longer heard by the others (the audio
// buffers each client decodes from it stop growing), a late joiner gets the
// countdown, pens down brings the voices back, the reading order lets only
// the current reader speak, a student may not run the tools, and the active
// speaker follows whichever client plays the louder tone.
//
// These tests send real RTP, so they run in a network namespace that holds
// nothing but loopback (`meson test` runs them under `unshare -n`); by hand:
//   unshare -n sh -c 'ip link set lo up && TRIBUD=... TRIBU_CLIENT=... \
//     node --test --test-reporter=spec tests/integration/test-workshop.mjs'
//
// Short exercises: the public unit of exercise-start is minutes; the request
// also takes `seconds` (docs/protocol.md), which these tests use.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { startTribud } from './lib/tribud.mjs';
import { TRIBU_CLIENT, assertLoopbackOnly, joinPeer, withPeers } from './lib/media.mjs';

const MEDIA_CONFIG = { media: { addresses: '127.0.0.1' }, rooms: { workshop_capacity: 10 } };

let srv;
let roomSeq = 0;
const freshRoom = () => `ws-${++roomSeq}`;

before(async () => {
  assertLoopbackOnly();
  assert.ok(existsSync(TRIBU_CLIENT), `no tribu-client at ${TRIBU_CLIENT}: build it or set TRIBU_CLIENT`);
  // TRIBUD_WRAPPER (e.g. valgrind) makes start-up slow.
  srv = await startTribud({ config: MEDIA_CONFIG, timeout: process.env.TRIBUD_WRAPPER ? 120000 : 10000 });
});

after(async () => {
  if (!srv) return;
  const code = await srv.cleanup();
  assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, srv.stderr);
});

/**
 * One tribu-client (a ClientPeer) joined as a student of workshop ROOM,
 * publishing a tone and a small test pattern, with --stats: `latest` is its
 * newest stats line (once a second); until() waits for a line that matches.
 */
function peer({ user, room, args = [] }) {
  // A small camera beside the tone: what a participant sends, cheaply.
  const small = ['--width', '160', '--height', '120', '--fps', '5'];
  return joinPeer(srv, { user, room, kind: 'workshop', role: 'student', args: [...small, ...args], timeoutMs: 150000 });
}

/** Audio buffers OBSERVER decoded from FROM so far. */
const heard = (observer, from) => observer.latest?.received?.[from.pid]?.audio_buffers ?? 0;

/** Waits until OBSERVER decoded at least MORE new audio buffers from FROM. */
async function untilHears(observer, from, more = 50) {
  const base = heard(observer, from);
  await observer.until((s) => (s.received?.[from.pid]?.audio_buffers ?? 0) >= base + more,
    `${observer.user} to hear ${from.user} (${more} more buffers)`, 30000);
}

/**
 * Asserts that OBSERVER hears nothing more from each of SILENT over three
 * seconds, after one second for what was already in flight, while (when
 * given) it does hear each of AUDIBLE. An Opus stream is 50 buffers a second.
 */
async function assertSilence(observer, silent, audible = []) {
  await observer.lines(2);
  const before = new Map([...silent, ...audible].map((p) => [p, heard(observer, p)]));
  await observer.lines(3);
  for (const p of silent) {
    const grew = heard(observer, p) - before.get(p);
    assert.ok(grew < 10, `${observer.user} still heard ${p.user}: ${grew} buffers in 3 s`);
  }
  for (const p of audible) {
    const grew = heard(observer, p) - before.get(p);
    assert.ok(grew >= 50, `${observer.user} heard ${p.user} only ${grew} buffers in 3 s`);
  }
}

/** The facilitator: a mentor over WebSocket in ROOM. */
async function facilitator(room, user = 'mentor') {
  const [m, res] = await srv.connectAndJoin({ user, room, kind: 'workshop', role: 'mentor' });
  assert.equal(res.ok, true, JSON.stringify(res));
  return m;
}

/** Waits until the facilitator saw P join (participant-joined) and P knows its id. */
async function joined(peers) {
  await Promise.all(peers.map((p) => p.until((s) => !!s.participant_id, `${p.user} to join`, 30000)));
}

/** Forgets the queued events NAME of CLIENT, so that waits see only new ones. */
function drain(client, name) {
  client.events = client.events.filter((e) => e.event !== name);
}

/** Waits for participant-updated events at M until PEER's forced audio mute is MUTED. */
function untilForced(m, peer, muted) {
  return m.nextEvent('participant-updated', {
    timeout: 10000,
    filter: (d) => d.participant.participant_id === peer.pid && d.participant.forced_muted.audio === muted,
  });
}

describe('timed exercise', () => {
  it('mutes every participant at the subscribers, reaches a late joiner, and pens down restores audio', async () => {
    const room = freshRoom();
    const m = await facilitator(room);
    await withPeers([peer({ user: 'ana', room }), peer({ user: 'ben', room })], async ([a, b]) => {
      await joined([a, b]);
      await Promise.all([untilHears(a, b), untilHears(b, a)]);

      drain(m, 'participant-updated');
      const started = Date.now();
      const res = await m.request('exercise-start', { seconds: 60, title: 'Ten minutes, everyone writes' });
      assert.equal(res.ok, true, JSON.stringify(res));
      const ex = res.data.exercise;
      assert.equal(ex.active, true);
      assert.equal(ex.title, 'Ten minutes, everyone writes');
      assert.ok(Math.abs(ex.ends_at_ms - ex.started_at_ms - 60000) < 5, JSON.stringify(ex));
      assert.ok(Math.abs(ex.started_at_ms - started) < 5000, 'server time near ours');
      const ev = await m.nextEvent('exercise');
      assert.equal(ev.data.active, true);
      assert.equal(ev.data.ends_at_ms, ex.ends_at_ms);
      await Promise.all([untilForced(m, a, true), untilForced(m, b, true)]);
      // A second exercise while one runs: conflict.
      const again = await m.request('exercise-start', { minutes: 1 });
      assert.equal(again.error?.code, 'conflict');

      // Nobody hears the students any more.
      await Promise.all([assertSilence(a, [b]), assertSilence(b, [a])]);

      // A late joiner gets the countdown in its join state, and is muted.
      const [late, joinRes] = await srv.connectAndJoin({ user: 'cleo', room, kind: 'workshop', role: 'student' });
      assert.equal(joinRes.ok, true, JSON.stringify(joinRes));
      const ws = joinRes.data.workshop;
      assert.equal(ws.exercise.active, true);
      assert.equal(ws.exercise.ends_at_ms, ex.ends_at_ms);
      assert.equal(ws.exercise.title, ex.title);
      assert.equal(typeof ws.exercise.server_time_ms, 'number');
      assert.equal(joinRes.data.you.forced_muted.audio, true);
      assert.equal(joinRes.data.you.forced_muted.video, false);
      const others = joinRes.data.participants.filter((p) => p.role === 'student');
      assert.ok(others.length === 2 && others.every((p) => p.forced_muted.audio), JSON.stringify(others));
      // ...and a student may not end it.
      const forbidden = await late.request('exercise-end');
      assert.equal(forbidden.error?.code, 'forbidden');
      await late.close();

      // Pens down: audio comes back.
      drain(m, 'participant-updated');
      const end = await m.request('exercise-end');
      assert.equal(end.ok, true, JSON.stringify(end));
      const endEv = await m.nextEvent('exercise', { filter: (d) => !d.active });
      assert.equal(endEv.data.reason, 'ended');
      await Promise.all([untilForced(m, a, false), untilForced(m, b, false)]);
      await Promise.all([untilHears(a, b), untilHears(b, a)]);
      assert.equal((await m.request('exercise-end')).error?.code, 'conflict');

      // Expiry ends a short exercise on its own, and audio comes back.
      drain(m, 'participant-updated');
      const short = await m.request('exercise-start', { seconds: 2 });
      assert.equal(short.ok, true, JSON.stringify(short));
      await untilForced(m, a, true);
      const expired = await m.nextEvent('exercise', { timeout: 8000, filter: (d) => !d.active });
      assert.equal(expired.data.reason, 'expired');
      await untilForced(m, a, false);
      await untilHears(b, a);
    });
    await m.close();
  });
});

describe('reading order', () => {
  it('spotlights and unmutes only the current reader; next and skip move along', async () => {
    const room = freshRoom();
    const m = await facilitator(room);
    const peers = ['dana', 'eli', 'fay'].map((user) => peer({ user, room }));
    await withPeers(peers, async ([d, e, f]) => {
      await joined([d, e, f]);
      await Promise.all([untilHears(f, d), untilHears(f, e), untilHears(d, e), untilHears(d, f)]);

      drain(m, 'participant-updated');
      const res = await m.request('reading-order-set', { order: [d.pid, e.pid, f.pid] });
      assert.equal(res.ok, true, JSON.stringify(res));
      let reading = await m.nextEvent('reading');
      assert.deepEqual(reading.data, { order: [d.pid, e.pid, f.pid], current: d.pid, index: 0, done: false });
      assert.equal((await m.nextEvent('spotlight')).data.participant_id, d.pid);
      await Promise.all([untilForced(m, e, true), untilForced(m, f, true)]);
      // Only the reader is heard.
      await assertSilence(f, [e], [d]);

      // A late joiner sees the reading and the spotlight.
      const [late, joinRes] = await srv.connectAndJoin({ user: 'gus', room, kind: 'workshop', role: 'student' });
      assert.equal(joinRes.data.workshop.reading.current, d.pid);
      assert.equal(joinRes.data.workshop.spotlight, d.pid);
      assert.equal(joinRes.data.you.forced_muted.audio, true);
      assert.equal((await late.request('reading-next')).error?.code, 'forbidden');
      await late.close();

      // Dana finished: Eli reads.
      drain(m, 'participant-updated');
      assert.equal((await m.request('reading-next')).ok, true);
      reading = await m.nextEvent('reading', { filter: (r) => r.index === 1 });
      assert.equal(reading.data.current, e.pid);
      assert.equal((await m.nextEvent('spotlight')).data.participant_id, e.pid);
      await Promise.all([untilForced(m, e, false), untilForced(m, d, true)]);
      await assertSilence(f, [d], [e]);

      // Eli is skipped: Fay reads.
      drain(m, 'participant-updated');
      assert.equal((await m.request('reading-skip')).ok, true);
      reading = await m.nextEvent('reading', { filter: (r) => r.index === 2 });
      assert.equal(reading.data.current, f.pid);
      await Promise.all([untilForced(m, f, false), untilForced(m, e, true)]);
      await assertSilence(d, [e], [f]);

      // Fay finished: the reading is done, everyone is heard again.
      drain(m, 'participant-updated');
      assert.equal((await m.request('reading-next')).ok, true);
      reading = await m.nextEvent('reading', { filter: (r) => r.done });
      assert.equal(reading.data.current, null);
      assert.equal((await m.nextEvent('spotlight', { filter: (s) => s.participant_id === null })).data.participant_id, null);
      await Promise.all([untilForced(m, d, false), untilForced(m, e, false)]);
      await Promise.all([untilHears(d, e), untilHears(d, f), untilHears(f, d)]);
      assert.equal((await m.request('reading-next')).error?.code, 'conflict');

      // Shuffle: everyone present but the facilitator.
      const shuffled = await m.request('reading-order-set', { shuffle: true });
      assert.equal(shuffled.ok, true, JSON.stringify(shuffled));
      reading = await m.nextEvent('reading', { filter: (r) => r.index === 0 && !r.done });
      assert.deepEqual([...reading.data.order].sort(), [d.pid, e.pid, f.pid].sort());
    });
    await m.close();
  });
});

describe('facilitator tools without media', () => {
  it('refuses students and coaching rooms, and moderates', async () => {
    const room = freshRoom();
    const m = await facilitator(room);
    const [s, sRes] = await srv.connectAndJoin({ user: 'sam', room, kind: 'workshop', role: 'student' });
    const [t, tRes] = await srv.connectAndJoin({ user: 'tia', room, kind: 'workshop', role: 'student' });
    const sid = sRes.data.you.participant_id;
    const tid = tRes.data.you.participant_id;
    assert.deepEqual(sRes.data.workshop, { exercise: null, reading: null, hands: [], spotlight: null, active_speaker: null });

    // A participant's exercise-start gets forbidden, and so do the other tools.
    for (const [type, fields] of [
      ['exercise-start', { minutes: 10 }],
      ['reading-order-set', { shuffle: true }],
      ['reading-skip', {}],
      ['lock', { locked: true }],
      ['remove', { participant_id: tid }],
      ['mute', { participant_id: tid, kind: 'audio', muted: true }],
      ['lower-hand', { participant_id: tid }],
    ]) {
      const res = await s.request(type, fields);
      assert.equal(res.error?.code, 'forbidden', `${type}: ${JSON.stringify(res)}`);
    }
    // Bad fields.
    assert.equal((await m.request('exercise-start', {})).error?.code, 'missing-field');
    assert.equal((await m.request('exercise-start', { minutes: 0 })).error?.code, 'bad-field');
    assert.equal((await m.request('exercise-start', { minutes: 181 })).error?.code, 'bad-field');
    assert.equal((await m.request('exercise-start', { minutes: 2, seconds: 3 })).error?.code, 'bad-field');
    assert.equal((await m.request('exercise-start', { minutes: 2, title: 'x'.repeat(201) })).error?.code, 'bad-field');
    assert.equal((await m.request('reading-order-set', { order: [sid, 'nobody'] })).error?.code, 'not-found');
    assert.equal((await m.request('reading-order-set', { order: [sid, sid] })).error?.code, 'bad-field');
    assert.equal((await m.request('reading-order-set', { order: [7] })).error?.code, 'bad-field');
    assert.equal((await m.request('mute', { participant_id: 'nobody', kind: 'audio', muted: true })).error?.code, 'not-found');

    // Hands: the queue in raising order; the facilitator lowers anyone's.
    assert.equal((await s.request('raise-hand')).ok, true);
    let hands = await m.nextEvent('hands');
    assert.deepEqual(hands.data.queue.map((h) => h.participant_id), [sid]);
    assert.equal((await t.request('raise-hand')).ok, true);
    hands = await m.nextEvent('hands');
    assert.deepEqual(hands.data.queue.map((h) => h.participant_id), [sid, tid]);
    // t may still get the event of its own raise (another socket than m's):
    // wait for the one that follows the lowering.
    drain(t, 'hands');
    assert.equal((await m.request('lower-hand', { participant_id: sid })).ok, true);
    hands = await t.nextEvent('hands', { filter: (h) => h.queue.length === 1 });
    assert.deepEqual(hands.data.queue.map((h) => h.participant_id), [tid]);
    assert.equal((await t.request('lower-hand')).ok, true);
    await m.nextEvent('hands', { filter: (h) => h.queue.length === 0 });

    // A facilitator's mute: the target and everyone see forced_muted; the
    // target's own unmute does not lift it.
    drain(t, 'participant-updated');
    drain(s, 'participant-updated');
    assert.equal((await m.request('mute', { participant_id: sid, kind: 'audio', muted: true })).ok, true);
    let upd = await t.nextEvent('participant-updated', { filter: (d) => d.participant.participant_id === sid });
    assert.deepEqual(upd.data.participant.forced_muted, { audio: true, video: false });
    await s.nextEvent('participant-updated', { filter: (d) => d.participant.forced_muted.audio });
    await s.request('mute', { kind: 'audio', muted: true });
    await s.request('mute', { kind: 'audio', muted: false });
    upd = await t.nextEvent('participant-updated', { filter: (d) => d.participant.participant_id === sid && !d.participant.audio_muted });
    assert.equal(upd.data.participant.forced_muted.audio, true);
    assert.equal((await m.request('mute', { participant_id: sid, kind: 'audio', muted: false })).ok, true);
    await t.nextEvent('participant-updated', { filter: (d) => d.participant.participant_id === sid && !d.participant.forced_muted.audio });

    // Lock: everyone sees it; a new student cannot join.
    assert.equal((await m.request('lock', { locked: true })).ok, true);
    assert.equal((await t.nextEvent('room-updated')).data.room.locked, true);
    const [, refused] = await srv.connectAndJoin({ user: 'uma', room, kind: 'workshop', role: 'student' });
    assert.equal(refused.error?.code, 'room-locked');

    // Remove: the target is told and out of the room; its connection stays.
    assert.equal((await m.request('remove', { participant_id: tid })).ok, true);
    assert.equal((await t.nextEvent('removed')).data.reason, 'removed');
    assert.equal((await s.nextEvent('participant-left', { filter: (d) => d.participant_id === tid })).data.reason, 'removed');
    assert.equal((await t.request('chat', { text: 'still here?' })).error?.code, 'not-in-room');
    assert.equal((await m.request('remove', { participant_id: tid })).error?.code, 'not-found');

    // In a coaching room the mentor has no exercise, but may lock.
    const croom = freshRoom();
    const [c] = await srv.connectAndJoin({ user: 'coach', room: croom, kind: 'coaching', role: 'mentor' });
    const cres = await c.request('exercise-start', { minutes: 5 });
    assert.equal(cres.error?.code, 'forbidden');
    assert.match(cres.error.message, /workshop/);
    assert.equal((await c.request('lock', { locked: true })).ok, true);
    for (const client of [m, s, t, c]) await client.close();
  });
});

describe('active speaker', () => {
  it('follows whichever client plays the louder tone', async () => {
    const room = freshRoom();
    const m = await facilitator(room);
    // Ivy is loud for the first 16 s, then quiet; Jon the other way round.
    const SWAP_MS = 16000;
    const spawned = Date.now();
    const peers = [
      peer({ user: 'ivy', room, args: ['--tone-volume', `0.5,${SWAP_MS / 1000}:0.02`] }),
      peer({ user: 'jon', room, args: ['--tone-volume', `0.02,${SWAP_MS / 1000}:0.5`] }),
    ];
    await withPeers(peers, async ([i, j]) => {
      await joined([i, j]);
      const first = await m.nextEvent('active-speaker', { timeout: SWAP_MS, filter: (d) => d.participant_id === i.pid });
      assert.equal(typeof first.data.server_time_ms, 'number');
      // No flapping while Ivy stays louder (checked when the swap is far
      // enough ahead: a slow machine may have taken most of the time).
      if (Date.now() - spawned < SWAP_MS - 5000) {
        await i.lines(3);
        assert.equal(m.queued('active-speaker').length, 0, JSON.stringify(m.queued('active-speaker')));
      }
      const second = await m.nextEvent('active-speaker', { timeout: 20000, filter: (d) => d.participant_id === j.pid });
      assert.ok(second.data.server_time_ms > first.data.server_time_ms);
      // A late joiner learns who speaks.
      const [late, joinRes] = await srv.connectAndJoin({ user: 'kim', room, kind: 'workshop', role: 'student' });
      assert.equal(joinRes.data.workshop.active_speaker, j.pid);
      await late.close();
    });
    await m.close();
  });
});

describe('attendance and engagement', () => {
  it('records who spoke, who raised a hand and who stayed silent, for mentors and curators only', async () => {
    const room = freshRoom();
    const [m, mres] = await srv.connectAndJoin({ user: 'mara', room, kind: 'workshop', role: 'mentor' });
    assert.equal(mres.ok, true, JSON.stringify(mres));
    const sessionId = mres.data.room.session_id;
    assert.match(sessionId, /^[0-9a-f]+$/);
    const peers = [
      peer({ user: 'lou', room, args: ['--tone-volume', '0.5'] }), // speaks all along
      peer({ user: 'max', room, args: ['--tone-volume', '0.001'] }), // a ghost: there, never heard
    ];
    await withPeers(peers, async ([lou]) => {
      await joined(peers);
      // Nina joins without media and raises her hand (twice, lowered between).
      const [nina, nres] = await srv.connectAndJoin({ user: 'nina', room, kind: 'workshop', role: 'student' });
      assert.equal(nres.ok, true);
      for (let k = 0; k < 2; k++) {
        assert.equal((await nina.request('raise-hand')).ok, true);
        assert.equal((await nina.request('lower-hand')).ok, true);
      }
      await m.nextEvent('active-speaker', { timeout: 20000, filter: (d) => d.participant_id === lou.pid });
      // Three more seconds of Lou as the active speaker.
      await lou.lines(3);
      await nina.close();
    });
    await m.close();
    // Everyone has left: the session is over and its rows are written.
    const curator = srv.sign({ user: 'cora', role: 'curator', room: '*' });
    let res;
    for (let tries = 0; tries < 50; tries++) {
      res = await srv.fetch(`/api/sessions/${sessionId}/attendance`, { token: curator });
      const lou = res.json?.participants?.find((p) => p.user === 'lou');
      if (res.status === 200 && lou && lou.speaking_ms > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(res.status, 200, res.text);
    const by = Object.fromEntries(res.json.participants.map((p) => [p.user, p]));
    assert.deepEqual(Object.keys(by).sort(), ['lou', 'mara', 'max', 'nina']);
    assert.ok(by.lou.speaking_ms >= 3000, `lou heard ${by.lou.speaking_ms} ms`);
    assert.equal(by.lou.silent, false);
    assert.ok(by.lou.speaking_share > 0 && by.lou.speaking_share <= 1, String(by.lou.speaking_share));
    assert.ok(by.max.speaking_ms < 1000, `max heard ${by.max.speaking_ms} ms`);
    assert.equal(by.max.silent, true);
    assert.ok(by.max.present_ms > 1000, `max present ${by.max.present_ms} ms`);
    assert.equal(by.nina.hands_raised, 2);
    assert.equal(by.nina.silent, true);
    assert.equal(by.lou.hands_raised, 0);
    assert.ok(res.json.attendance.every((a) => typeof a.left_ms === 'number'), JSON.stringify(res.json.attendance));

    // The session's mentor reads it; a student, or another mentor, may not.
    const own = await srv.fetch(`/api/sessions/${sessionId}/attendance`, { token: srv.sign({ user: 'mara', role: 'mentor', room: '*' }) });
    assert.equal(own.status, 200, own.text);
    const student = await srv.fetch(`/api/sessions/${sessionId}/attendance`, { token: srv.sign({ user: 'max', role: 'student', room: '*' }) });
    assert.equal(student.status, 403, student.text);
    // Another mentor did not take part and the session is not a reference
    // one: it is confidential to him, as on every direct access.
    const other = await srv.fetch(`/api/sessions/${sessionId}/attendance`, { token: srv.sign({ user: 'otto', role: 'mentor', room: '*' }) });
    assert.equal(other.status, 403, other.text);
    assert.equal(other.json.error.code, 'forbidden', other.text);
    const missing = await srv.fetch('/api/sessions/0123456789abcdef/attendance', { token: curator });
    assert.equal(missing.status, 404, missing.text);
  });
});
