// Rooms and presence over the signaling WebSocket, plus the rooms HTTP API,
// against a real tribud (see lib/tribud.mjs).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { signToken, claims, startTribud, waitFor } from './lib/tribud.mjs';

let srv;
let roomSeq = 0;
/** A room id no other test uses. */
const freshRoom = (prefix = 'room') => `${prefix}-${++roomSeq}`;

before(async () => {
  srv = await startTribud();
});

afterEach(async () => {
  // Each test's clients are closed so that the next one starts clean.
  await Promise.all([...srv.clients].map((c) => c.close().catch(() => c.terminate())));
});

after(async () => {
  const code = await srv.cleanup();
  assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr}`);
});

function assertOk(res, what) {
  assert.equal(res.ok, true, `${what} failed: ${JSON.stringify(res)}`);
  return res.data;
}

function assertError(res, code, what) {
  assert.equal(res.ok, false, `${what} should fail with ${code}: ${JSON.stringify(res)}`);
  assert.equal(res.error?.code, code, `${what}: ${JSON.stringify(res)}`);
  assert.equal(typeof res.error.message, 'string');
  assert.ok(res.error.message.length > 0, 'error message is empty');
}

/** Joins USER to ROOM on a new connection with a token from `tribud token`. */
async function joinWithCli({ user, name, role = 'student', room, kind, ends }, fields = {}) {
  const token = await srv.token({ user, name: name ?? `${user} Name`, role, room, kind, ends });
  const client = await srv.connect();
  const res = await client.request('join', { token, ...fields });
  return [client, res];
}

describe('presence in a coaching room', () => {
  it('two users see each other; a third gets room-full', async () => {
    const room = freshRoom('coach');
    const [alice, r1] = await joinWithCli({ user: 'alice', role: 'mentor', room });
    const a = assertOk(r1, 'alice join');
    assert.deepEqual(
      { id: a.room.id, kind: a.room.kind, capacity: a.room.capacity, locked: a.room.locked },
      { id: room, kind: 'coaching', capacity: 2, locked: false },
    );
    assert.equal(a.you.user, 'alice');
    assert.equal(a.you.name, 'alice Name');
    assert.equal(a.you.role, 'mentor');
    assert.equal(typeof a.you.participant_id, 'string');
    assert.ok(a.you.participant_id.length > 0);
    assert.deepEqual(a.participants, [], 'the first joiner sees nobody else');
    assert.equal(typeof a.server_time_ms, 'number');
    assert.ok(Math.abs(a.server_time_ms - Date.now()) < 60000, 'server_time_ms is wall time in ms');

    const [bob, r2] = await joinWithCli({ user: 'bob', room });
    const b = assertOk(r2, 'bob join');
    assert.equal(b.you.user, 'bob');
    assert.equal(b.you.role, 'student');
    assert.notEqual(b.you.participant_id, a.you.participant_id);
    assert.equal(b.participants.length, 1, 'bob sees alice only, not himself');
    const seen = b.participants[0];
    assert.equal(seen.participant_id, a.you.participant_id);
    assert.equal(seen.user, 'alice');
    assert.equal(seen.name, 'alice Name');
    assert.equal(seen.role, 'mentor');
    assert.deepEqual(seen.tracks, []);

    const joined = await alice.nextEvent('participant-joined');
    assert.equal(joined.data.participant.participant_id, b.you.participant_id);
    assert.equal(joined.data.participant.user, 'bob');
    assert.equal(joined.data.participant.name, 'bob Name');
    assert.equal(joined.data.participant.role, 'student');
    assert.deepEqual(joined.data.participant.tracks, []);
    assert.equal(bob.queued('participant-joined').length, 0, 'bob is not told about himself');

    const [carol, r3] = await joinWithCli({ user: 'carol', room });
    assertError(r3, 'room-full', 'third join in a coaching room');
    // carol's connection stays usable.
    assertOk(await carol.request('ping'), 'ping after room-full');
  });

  it('name in join overrides the token display name', async () => {
    const room = freshRoom();
    const [, res] = await joinWithCli({ user: 'dora', room }, { name: 'Dora the Explorer' });
    assert.equal(assertOk(res, 'join').you.name, 'Dora the Explorer');
  });

  it('a student token for room A cannot join room B', async () => {
    const roomA = freshRoom('a');
    const roomB = freshRoom('b');
    const token = await srv.token({ user: 'sam', role: 'student', room: roomA });
    const client = await srv.connect();
    assertError(await client.request('join', { token, room: roomB }), 'unauthorized', 'join B');
    // The same token with its own room (named or not) works.
    const ok = assertOk(await client.request('join', { token, room: roomA }), 'join A');
    assert.equal(ok.room.id, roomA);
  });

  it('a token for room * needs a room in join', async () => {
    const token = await srv.token({ user: 'any', role: 'mentor', room: '*' });
    const client = await srv.connect();
    assertError(await client.request('join', { token }), 'missing-field', 'join without room');
    const room = freshRoom('star');
    assert.equal(assertOk(await client.request('join', { token, room }), 'join').room.id, room);
  });

  it('a curator cannot join (library only)', async () => {
    const room = freshRoom();
    const [, res] = await joinWithCli({ user: 'cur', role: 'curator', room });
    assertError(res, 'forbidden', 'curator join');
    const h = await srv.fetch(`/api/rooms/${room}`, { token: srv.sign({ user: 'adm', role: 'admin', room: '*' }) });
    assert.equal(h.status, 404, 'a refused join must not leave a room behind');
  });

  it('chat reaches everyone, the sender included, in one order', async () => {
    const room = freshRoom('chat');
    const [alice, r1] = await joinWithCli({ user: 'alice', room });
    const [bob, r2] = await joinWithCli({ user: 'bob', room });
    const aliceId = assertOk(r1, 'join').you.participant_id;
    const bobId = assertOk(r2, 'join').you.participant_id;
    await alice.nextEvent('participant-joined');

    // Both send at once, without waiting for each other.
    const sends = [];
    for (let i = 0; i < 5; i++) {
      sends.push(alice.request('chat', { text: `from alice ${i}` }));
      sends.push(bob.request('chat', { text: `from bob ${i} — ünïcödé ✓` }));
    }
    for (const res of await Promise.all(sends)) assertOk(res, 'chat');

    const collect = async (client) => {
      const got = [];
      for (let i = 0; i < 10; i++) got.push((await client.nextEvent('chat')).data);
      return got;
    };
    const [atAlice, atBob] = await Promise.all([collect(alice), collect(bob)]);
    const key = (c) => `${c.participant_id}|${c.name}|${c.text}|${c.ts_ms}`;
    assert.deepEqual(atAlice.map(key), atBob.map(key), 'both see the same messages in the same order');
    const texts = atAlice.map((c) => c.text).sort();
    const expected = [];
    for (let i = 0; i < 5; i++) expected.push(`from alice ${i}`, `from bob ${i} — ünïcödé ✓`);
    assert.deepEqual(texts, expected.sort());
    for (const c of atAlice) {
      if (c.text.startsWith('from alice')) {
        assert.equal(c.participant_id, aliceId);
        assert.equal(c.name, 'alice Name');
      } else {
        assert.equal(c.participant_id, bobId);
        assert.equal(c.name, 'bob Name');
      }
      assert.equal(typeof c.ts_ms, 'number');
      assert.ok(Math.abs(c.ts_ms - Date.now()) < 60000);
    }
    // Each sender's own messages keep their order.
    const aliceOrder = atAlice.filter((c) => c.participant_id === aliceId).map((c) => c.text);
    assert.deepEqual(aliceOrder, [0, 1, 2, 3, 4].map((i) => `from alice ${i}`));
  });

  it('chat text over 2000 characters is refused', async () => {
    const room = freshRoom();
    const [alice] = await joinWithCli({ user: 'alice', room });
    assertError(await alice.request('chat', { text: 'é'.repeat(2001) }), 'bad-field', 'long chat');
    assertOk(await alice.request('chat', { text: 'é'.repeat(2000) }), '2000-character chat');
  });

  it('leave tells the other, and the leaver can join again', async () => {
    const room = freshRoom('leave');
    const [alice, r1] = await joinWithCli({ user: 'alice', room });
    const [bob, r2] = await joinWithCli({ user: 'bob', room });
    assertOk(r1, 'alice join');
    const bobId = assertOk(r2, 'bob join').you.participant_id;
    await alice.nextEvent('participant-joined');

    const left = assertOk(await bob.request('leave'), 'leave');
    assert.ok(left && typeof left === 'object', 'leave answers data {}');
    const ev = await alice.nextEvent('participant-left');
    assert.deepEqual(ev.data, { participant_id: bobId, reason: 'left' });
    assert.ok(bob.isOpen, 'the connection stays open after leave');
    assertError(await bob.request('chat', { text: 'hi' }), 'not-in-room', 'chat after leave');

    const again = assertOk(await bob.request('join', { token: await srv.token({ user: 'bob', room }) }), 'rejoin');
    assert.notEqual(again.you.participant_id, bobId, 'a new participant id for a new join');
    assert.deepEqual(again.participants.map((p) => p.user), ['alice']);
    const back = await alice.nextEvent('participant-joined');
    assert.equal(back.data.participant.participant_id, again.you.participant_id);
  });

  it('join while already in a room is a conflict', async () => {
    const room = freshRoom();
    const [alice] = await joinWithCli({ user: 'alice', room });
    const token = await srv.token({ user: 'alice', room });
    assertError(await alice.request('join', { token }), 'conflict', 'second join');
  });

  it('a disconnect is reported as participant-left "disconnected"', async () => {
    const room = freshRoom('disc');
    const [alice] = await joinWithCli({ user: 'alice', room });
    const [bob, r2] = await joinWithCli({ user: 'bob', room });
    const bobId = assertOk(r2, 'join').you.participant_id;
    await alice.nextEvent('participant-joined');
    bob.terminate(); // TCP gone, no close frame
    const ev = await alice.nextEvent('participant-left');
    assert.deepEqual(ev.data, { participant_id: bobId, reason: 'disconnected' });

    const [carol, r3] = await joinWithCli({ user: 'carol', room });
    const c = assertOk(r3, 'join after the disconnect');
    assert.deepEqual(c.participants.map((p) => p.user), ['alice'], 'bob is gone from the roster');
    await carol.close();
    const ev2 = await alice.nextEvent('participant-left');
    assert.equal(ev2.data.participant_id, c.you.participant_id);
    assert.equal(ev2.data.reason, 'disconnected', 'a clean close is a disconnect too');
  });

  it('the same user joining again replaces the old connection', async () => {
    const room = freshRoom('repl');
    const [alice, r1] = await joinWithCli({ user: 'alice', room });
    const [bob1, r2] = await joinWithCli({ user: 'bob', room });
    assertOk(r1, 'alice');
    const oldId = assertOk(r2, 'bob first join').you.participant_id;
    await alice.nextEvent('participant-joined');

    // The room is full (2/2), but bob's own second join must still succeed.
    const [bob2, r3] = await joinWithCli({ user: 'bob', room });
    const b2 = assertOk(r3, 'bob second join');
    assert.notEqual(b2.you.participant_id, oldId);
    assert.deepEqual(b2.participants.map((p) => p.user), ['alice'], 'no ghost of the old bob');

    const removed = await bob1.nextEvent('removed');
    assert.equal(removed.data.reason, 'replaced');
    assertError(await bob1.request('chat', { text: 'still here?' }), 'not-in-room', 'old connection chat');

    const leftEv = await alice.nextEvent('participant-left');
    assert.equal(leftEv.data.participant_id, oldId);
    assert.equal(leftEv.data.reason, 'replaced');
    const joinedEv = await alice.nextEvent('participant-joined');
    assert.equal(joinedEv.data.participant.participant_id, b2.you.participant_id);

    // Only the new connection speaks for bob now.
    assertOk(await bob2.request('chat', { text: 'new bob' }), 'chat');
    const chat = await alice.nextEvent('chat');
    assert.equal(chat.data.participant_id, b2.you.participant_id);
    assert.equal(bob1.queued('chat').length, 0, 'the replaced connection gets no room traffic');

    // The old connection closing later must not take the new bob out.
    await bob1.close();
    assertOk(await bob2.request('chat', { text: 'still in' }), 'chat after old closed');
    const h = await srv.fetch(`/api/rooms/${room}`, { token: srv.sign({ user: 'adm', role: 'admin', room: '*' }) });
    assert.equal(h.status, 200);
    assert.deepEqual(h.json.participants.map((p) => p.user).sort(), ['alice', 'bob']);
  });
});

describe('tokens', () => {
  it('an expired token is unauthorized', async () => {
    const client = await srv.connect();
    const token = srv.sign({ user: 'late', room: freshRoom(), exp: Math.floor(Date.now() / 1000) - 5 });
    assertError(await client.request('join', { token }), 'unauthorized', 'expired token');
  });

  it('a token replayed after its exp is refused, though it joined before', async () => {
    const room = freshRoom('replay');
    // exp 2 s from now: good for a first join, expired a few seconds later.
    const token = srv.sign({ user: 'again', room, exp: Math.floor(Date.now() / 1000) + 2 });
    const first = await srv.connect();
    assertOk(await first.request('join', { token }), 'join before exp');
    assertOk(await first.request('leave'), 'leave');
    await new Promise((r) => setTimeout(r, 3500));
    const replay = await srv.connect();
    const res = await replay.request('join', { token });
    assertError(res, 'unauthorized', 'the same token after exp');
    assert.match(res.error.message, /expired/);
  });

  it('a forged or tampered token is unauthorized', async () => {
    const room = freshRoom();
    const client = await srv.connect();
    // Signed with another secret.
    const other = signToken(claims({ user: 'eve', role: 'admin', room }), 'f'.repeat(64));
    assertError(await client.request('join', { token: other }), 'unauthorized', 'wrong secret');
    // Real signature, claims swapped for others.
    const real = await srv.token({ user: 'eve', role: 'student', room });
    const [, sig] = real.split('.');
    const payload = Buffer.from(JSON.stringify(claims({ user: 'eve', role: 'admin', room }))).toString('base64url');
    assertError(await client.request('join', { token: `${payload}.${sig}` }), 'unauthorized', 'tampered claims');
    // Garbage.
    assertError(await client.request('join', { token: 'not-a-token' }), 'unauthorized', 'garbage');
    assertError(await client.request('join', { token: `${real}x` }), 'unauthorized', 'extra byte');
    // The genuine token still works (the refusals were about the token).
    assertOk(await client.request('join', { token: real }), 'genuine token');
  });

  it('an in-process signed token is accepted (the fixture signs like tribud)', async () => {
    const room = freshRoom();
    const client = await srv.connect();
    assertOk(await client.request('join', { token: srv.sign({ user: 'x', room }) }), 'join');
  });
});

describe('removal by a facilitator', () => {
  /** A mentor, two students and a third user in a fresh workshop. */
  async function workshop(prefix) {
    const room = freshRoom(prefix);
    const [mentor, rm] = await srv.connectAndJoin({ user: 'coach', role: 'mentor', room, kind: 'workshop' });
    const [stu, rs] = await srv.connectAndJoin({ user: 'stu', room, kind: 'workshop' });
    const [other, ro] = await srv.connectAndJoin({ user: 'other', room, kind: 'workshop' });
    return {
      room,
      mentor,
      stu,
      other,
      ids: {
        mentor: assertOk(rm, 'mentor join').you.participant_id,
        stu: assertOk(rs, 'student join').you.participant_id,
        other: assertOk(ro, 'other join').you.participant_id,
      },
    };
  }

  it('sticks to the user for the room\u2019s life: a fresh token is refused with forbidden; others unaffected', async () => {
    const { room, mentor, stu, other, ids } = await workshop('removed');
    const refusedLines = () =>
      [...srv.stderr.matchAll(new RegExp(`\\[${room}\\] join of stu refused: removed by a facilitator`, 'g'))].length;
    assertOk(await mentor.request('remove', { participant_id: ids.stu }), 'remove');
    const removed = await stu.nextEvent('removed', { timeout: 5000 });
    assert.equal(removed.data.reason, 'removed');
    // The same connection, the same token again, a fresh token, a mentor
    // token of the same user: all refused.
    const attempts = [
      ['the same connection, a fresh token', stu, srv.sign({ user: 'stu', room, kind: 'workshop' })],
      ['a new connection', await srv.connect(), srv.sign({ user: 'stu', room, kind: 'workshop' })],
      ['a mentor token of the same user', await srv.connect(), srv.sign({ user: 'stu', role: 'mentor', room })],
      ['a room-* token', await srv.connect(), srv.sign({ user: 'stu', role: 'student', room: '*' })],
    ];
    for (const [what, client, token] of attempts) {
      const res = await client.request('join', { token, room });
      assertError(res, 'forbidden', what);
      assert.match(res.error.message, /removed from this room by a facilitator/, what);
    }
    // Logged once, not once per attempt.
    await waitFor(() => refusedLines() >= 1, { timeout: 3000, what: 'the refusal in the log' });
    assert.equal(refusedLines(), 1, srv.stderr.slice(-3000));
    // Nobody joined: the others saw no participant-joined of stu.
    assert.equal(other.queued('participant-joined').filter((e) => e.data.participant.user === 'stu').length, 0);
    const h = await srv.fetch(`/api/rooms/${room}`, { token: srv.sign({ user: 'adm', role: 'admin', room: '*' }) });
    assert.deepEqual(h.json.participants.map((p) => p.user).sort(), ['coach', 'other']);
    // Other users may still join and leave and come back; stu may join
    // another room.
    assertOk(await other.request('leave'), 'other leaves');
    assertOk(await other.request('join', { token: srv.sign({ user: 'other', room, kind: 'workshop' }) }), 'other rejoins');
    const [, rn] = await srv.connectAndJoin({ user: 'newcomer', room, kind: 'workshop' });
    assertOk(rn, 'a newcomer joins');
    const [, rx] = await srv.connectAndJoin({ user: 'stu', room: freshRoom('elsewhere'), kind: 'workshop' });
    assertOk(rx, 'stu joins another room');
    assert.ok(ids.mentor && ids.other);
  });

  it('a student cannot remove the mentor (nor lock anyone out)', async () => {
    const { room, mentor, stu, ids } = await workshop('nolock');
    const res = await stu.request('remove', { participant_id: ids.mentor });
    assertError(res, 'forbidden', 'a student removing the mentor');
    assertError(await stu.request('remove', { participant_id: ids.other }), 'forbidden', 'a student removing a student');
    assert.deepEqual(mentor.queued('removed'), []);
    // The mentor leaves and comes back: nothing stuck.
    assertOk(await mentor.request('leave'), 'mentor leaves');
    assertOk(await mentor.request('join', { token: srv.sign({ user: 'coach', role: 'mentor', room, kind: 'workshop' }) }),
      'the mentor joins again');
  });

  it('mute, remove and view naming a participant of another room get not-found', async () => {
    const roomA = freshRoom('cross-a');
    const roomB = freshRoom('cross-b');
    const [mentorA, ra] = await srv.connectAndJoin({ user: 'coach-a', role: 'mentor', room: roomA, kind: 'workshop' });
    assertOk(ra, 'mentor A join');
    const [stuB, rb] = await srv.connectAndJoin({ user: 'stu-b', room: roomB, kind: 'workshop' });
    const victim = assertOk(rb, 'student B join').you.participant_id;
    for (const [type, fields] of [
      ['mute', { participant_id: victim, kind: 'audio', muted: true }],
      ['mute', { participant_id: victim, kind: 'video', muted: true }],
      ['remove', { participant_id: victim }],
      ['view', { mode: 'spotlight', spotlight: victim }],
      ['lower-hand', { participant_id: victim }],
    ]) {
      const res = await mentorA.request(type, fields);
      assertError(res, 'not-found', `${type} ${JSON.stringify(fields)} across rooms`);
    }
    // B's student is untouched: not removed, not muted, still in its room.
    assertOk(await stuB.request('ping'), 'ping');
    assert.deepEqual(stuB.queued('removed'), []);
    for (const e of stuB.queued('participant-updated')) {
      assert.notEqual(e.data.participant.forced_muted?.audio, true, JSON.stringify(e.data));
    }
    const h = await srv.fetch(`/api/rooms/${roomB}`, { token: srv.sign({ user: 'adm', role: 'admin', room: '*' }) });
    assert.deepEqual(h.json.participants.map((p) => p.participant_id), [victim]);
    assert.notEqual(h.json.participants[0].forced_muted?.audio, true, JSON.stringify(h.json));
  });
});

describe('slot-ending', () => {
  it('warns five minutes before the booked end, and warns late joiners at once', async () => {
    const room = freshRoom('slot');
    // 5 minutes + ~1 s (Unix seconds, so between 1 and 2 s from now).
    const ends = Math.floor(Date.now() / 1000) + 300 + 2;
    const [mentor, r1] = await joinWithCli({ user: 'mentor', role: 'mentor', room, ends });
    assertOk(r1, 'join');
    const warn = await mentor.nextEvent('slot-ending', { timeout: 10000 });
    assert.equal(warn.data.ends_at_ms, ends * 1000);
    const early = Date.now() - (ends * 1000 - 300000);
    assert.ok(early > -1000, `the warning came ${-early} ms too early`);

    const [student] = await joinWithCli({ user: 'student', room, ends });
    // Right after the join response, before anything else.
    const idx = student.received.findIndex((m) => m.ok === true && m.data?.you);
    const late = await student.nextEvent('slot-ending', { timeout: 2000 });
    assert.equal(late.data.ends_at_ms, ends * 1000);
    assert.ok(idx >= 0);
    assert.equal(student.received[idx + 1]?.event, 'slot-ending', 'slot-ending follows the join response');
    assert.equal(mentor.queued('slot-ending').length, 0, 'the mentor is not warned twice');
  });
});

describe('HTTP', () => {
  it('GET /healthz reflects rooms and participants', async () => {
    // A server of its own so that other tests' rooms do not count.
    const own = await startTribud();
    try {
      let h = await own.healthz();
      assert.equal(h.status, 'ok');
      assert.equal(h.version, '0.1.0');
      assert.equal(typeof h.uptime_s, 'number');
      assert.deepEqual([h.rooms, h.participants], [0, 0]);

      const [a] = await own.connectAndJoin({ user: 'a', room: 'h1' });
      const [b] = await own.connectAndJoin({ user: 'b', room: 'h1' });
      const [c] = await own.connectAndJoin({ user: 'c', room: 'h2' });
      h = await own.healthz();
      assert.deepEqual([h.rooms, h.participants], [2, 3]);

      assertOk(await c.request('leave'), 'leave');
      h = await own.healthz();
      assert.deepEqual([h.rooms, h.participants], [1, 2], 'a room ends with its last participant');
      assertOk(await a.request('leave'), 'leave');
      assertOk(await b.request('leave'), 'leave');
      h = await own.healthz();
      assert.deepEqual([h.rooms, h.participants], [0, 0]);
    } finally {
      assert.equal(await own.cleanup(), 0);
    }
  });

  it('GET /metrics is Prometheus text', async () => {
    const res = await srv.fetch('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.match(res.text, /^# TYPE tribu_rooms gauge$/m);
    assert.match(res.text, /^tribu_participants \d+$/m);
  });

  it('POST /api/rooms: a mentor creates a workshop of 3; the 4th joiner gets room-full', async () => {
    const room = freshRoom('ws');
    const mentorToken = srv.sign({ user: 'm', role: 'mentor', room: '*' });
    const res = await srv.fetch('/api/rooms', {
      method: 'POST',
      token: mentorToken,
      body: { id: room, kind: 'workshop', capacity: 3 },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.id, room);
    assert.equal(res.json.kind, 'workshop');
    assert.equal(res.json.capacity, 3);
    assert.equal(res.json.locked, false);

    const got = await srv.fetch(`/api/rooms/${room}`, { token: mentorToken });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.room.capacity, 3);
    assert.equal(got.json.room.kind, 'workshop');

    const list = await srv.fetch('/api/rooms', { token: mentorToken });
    assert.equal(list.status, 200);
    assert.ok(list.json.rooms.some((r) => r.id === room), 'the new room is listed');

    // Students' tokens say nothing of the kind: the room's own settings win.
    for (const user of ['s1', 's2', 's3']) {
      const [, r] = await joinWithCli({ user, room });
      const d = assertOk(r, `${user} join`);
      assert.equal(d.room.kind, 'workshop');
      assert.equal(d.room.capacity, 3);
    }
    const [, r4] = await joinWithCli({ user: 's4', room });
    assertError(r4, 'room-full', '4th join');
  });

  it('POST /api/rooms: student 403, no token 401, bad JSON 400, duplicate 409', async () => {
    const room = freshRoom('api');
    const student = srv.sign({ user: 's', role: 'student', room });
    const mentor = srv.sign({ user: 'm', role: 'mentor', room: '*' });
    const body = { id: room, kind: 'workshop' };

    let res = await srv.fetch('/api/rooms', { method: 'POST', token: student, body });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json?.error?.code, 'forbidden');

    res = await srv.fetch('/api/rooms', { method: 'POST', body });
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json?.error?.code, 'unauthorized');

    res = await srv.fetch('/api/rooms', { method: 'POST', token: mentor, body: '{"id": "x",', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400, res.text);
    assert.equal(typeof res.json?.error?.code, 'string');

    res = await srv.fetch('/api/rooms', { method: 'POST', token: mentor, body: { id: room, kind: 'party' } });
    assert.equal(res.status, 400, res.text);

    res = await srv.fetch('/api/rooms', { method: 'POST', token: mentor, body });
    assert.equal(res.status, 201, res.text);
    res = await srv.fetch('/api/rooms', { method: 'POST', token: mentor, body });
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json?.error?.code, 'conflict');
  });

  it('a locked room refuses students but lets mentors in', async () => {
    const room = freshRoom('locked');
    const mentor = srv.sign({ user: 'boss', role: 'mentor', room: '*' });
    const res = await srv.fetch('/api/rooms', { method: 'POST', token: mentor, body: { id: room, kind: 'workshop', locked: true } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.locked, true);
    const [, rs] = await joinWithCli({ user: 'stu', room });
    assertError(rs, 'room-locked', 'student join of a locked room');
    const [, rm] = await joinWithCli({ user: 'boss', role: 'mentor', room });
    assert.equal(assertOk(rm, 'mentor join of a locked room').room.locked, true);
  });

  it('POST /api/rooms: a body over the limit is 413', async () => {
    const mentor = srv.sign({ user: 'm', role: 'mentor', room: '*' });
    const res = await srv.fetch('/api/rooms', {
      method: 'POST',
      token: mentor,
      body: { id: freshRoom(), kind: 'workshop', pad: 'p'.repeat(70000) },
    });
    assert.equal(res.status, 413, res.text);
    // The server still answers afterwards.
    assert.equal((await srv.healthz()).status, 'ok');
  });

  it('GET /api/rooms/ID: 401 without a token, 404 for an unknown room', async () => {
    let res = await srv.fetch('/api/rooms/nope');
    assert.equal(res.status, 401);
    res = await srv.fetch('/api/rooms/nope', { token: srv.sign({ user: 'a', role: 'admin', room: '*' }) });
    assert.equal(res.status, 404);
    assert.equal(res.json?.error?.code, 'not-found');
  });
});
