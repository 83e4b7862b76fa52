// Hostile and broken clients: malformed frames, floods, vanishing sockets,
// connection churn and path tricks. The server must answer or close as the
// protocol says, and keep serving everyone else.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';

import { RawWs, SANITIZED, encodeFrame, startTribud, waitFor, withTimeout } from './lib/tribud.mjs';

let srv;

before(async () => {
  srv = await startTribud();
});

afterEach(async () => {
  await Promise.all([...srv.clients].map((c) => c.close().catch(() => c.terminate())));
});

after(async () => {
  const code = await srv.cleanup();
  assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr}`);
});

function assertError(res, code, what) {
  assert.equal(res.ok, false, `${what} should fail with ${code}: ${JSON.stringify(res)}`);
  assert.equal(res.error?.code, code, `${what}: ${JSON.stringify(res)}`);
  assert.equal(typeof res.error.message, 'string');
}

/** Sends TEXT as a raw frame and returns the unmatched response it causes. */
async function sendRaw(client, text, opts) {
  client.send(text, opts);
  return client.nextStray();
}

/** A pair in their own room that must keep working whatever else happens. */
async function quietPair(room) {
  const [a, ra] = await srv.connectAndJoin({ user: `${room}-a`, room });
  const [b, rb] = await srv.connectAndJoin({ user: `${room}-b`, room });
  assert.equal(ra.ok, true, JSON.stringify(ra));
  assert.equal(rb.ok, true, JSON.stringify(rb));
  await a.nextEvent('participant-joined');
  let n = 0;
  /** One chat from A (or B), seen by both. */
  const check = async () => {
    const [from, to] = n % 2 ? [b, a] : [a, b];
    const text = `still here ${n++}`;
    const res = await from.request('chat', { text });
    assert.equal(res.ok, true, `chat in the quiet room failed: ${JSON.stringify(res)}`);
    const filter = (d) => d.text === text;
    await Promise.all([from.nextEvent('chat', { filter }), to.nextEvent('chat', { filter })]);
  };
  await check();
  return { a, b, check };
}

describe('malformed requests', () => {
  it('malformed JSON gets bad-json with id null', async () => {
    const c = await srv.connect();
    // The last one: the parser's error quotes the bytes near the fault and
    // cuts inside the two-byte "é"; the response must still be valid JSON.
    for (const text of ['{"type": "ping", "id": 1', 'not json at all', '{"type":"ping","id":1}}', '',
                        '{"type": "ping", "id": 1, "x": "\\\u00e9"}']) {
      const res = await sendRaw(c, text);
      assert.equal(res.id, null, `id must be null for ${JSON.stringify(text)}`);
      assertError(res, 'bad-json', JSON.stringify(text));
    }
    assert.equal((await c.request('ping')).ok, true, 'the connection survives');
  });

  it('a JSON array or scalar is bad-json', async () => {
    const c = await srv.connect();
    for (const text of ['[{"type":"ping","id":1}]', '42', '"ping"', 'null']) {
      const res = await sendRaw(c, text);
      assert.ok('id' in res, 'the response carries an id member');
      assert.equal(res.id, null);
      assertError(res, 'bad-json', text);
    }
  });

  it('wrong field types get bad-field', async () => {
    const c = await srv.connect();
    assertError(await c.request('join', { token: 42 }), 'bad-field', 'numeric token');
    assertError(await c.request('join', { token: ['x'] }), 'bad-field', 'array token');
    assertError(await c.request('join', { token: 'x', room: 7 }), 'bad-field', 'numeric room');
    assertError(await c.request('join', { token: 'x', name: { first: 'a' } }), 'bad-field', 'object name');
    assertError(await c.request('join', { token: '' }), 'bad-field', 'empty token');
    const t = await sendRaw(c, JSON.stringify({ type: 5, id: 'x1' }));
    assertError(t, 'bad-field', 'numeric type');
    assert.equal(t.id, 'x1', 'a readable id is echoed');
    const badId = await sendRaw(c, JSON.stringify({ type: 'ping', id: { n: 1 } }));
    assertError(badId, 'bad-field', 'object id');
    assert.equal(badId.id, null);
    assertError(await c.request('join', {}), 'missing-field', 'join without token');
  });

  it('string ids are echoed as they are', async () => {
    const c = await srv.connect();
    const res = await c.request('ping', {}, { id: 'abc-é' });
    assert.equal(res.id, 'abc-é');
    assert.equal(res.ok, true);
    assert.equal(typeof res.data.server_time_ms, 'number');
  });

  it('a request without id gets a response with id null', async () => {
    const c = await srv.connect();
    const res = await sendRaw(c, JSON.stringify({ type: 'ping' }));
    assert.ok('id' in res, 'the response has an id member');
    assert.equal(res.id, null);
    assert.equal(res.ok, false);
    const res2 = await sendRaw(c, JSON.stringify({ type: 'chat', text: 'hi' }));
    assert.equal(res2.id, null);
    assert.equal(res2.ok, false);
  });

  it('an unknown type gets unknown-type, before and after join', async () => {
    const c = await srv.connect();
    assertError(await c.request('dance', {}), 'unknown-type', 'before join');
    assertError(await c.request('publish-everything'), 'unknown-type', 'before join');
    const token = srv.sign({ user: 'u1', room: 'unknown-type-room' });
    assert.equal((await c.request('join', { token })).ok, true);
    assertError(await c.request('dance', {}), 'unknown-type', 'after join');
    // Type names are case sensitive.
    assertError(await c.request('PING'), 'unknown-type', 'PING');
  });

  it('room requests before join get not-in-room', async () => {
    const c = await srv.connect();
    assertError(await c.request('chat', { text: 'hello?' }), 'not-in-room', 'chat before join');
    assertError(await c.request('leave'), 'not-in-room', 'leave before join');
    assert.equal((await c.request('ping')).ok, true, 'ping is allowed before join');
  });
});

describe('frames', () => {
  it('a message of exactly 64 KiB is accepted', async () => {
    const c = await srv.connect();
    const base = JSON.stringify({ type: 'ping', id: 'big', pad: '' });
    const text = JSON.stringify({ type: 'ping', id: 'big', pad: 'x'.repeat(65536 - base.length) });
    assert.equal(Buffer.byteLength(text), 65536);
    const res = await sendRaw(c, text).catch((e) => e);
    // The ping is answered like any other (the fixture sees id 'big' as stray).
    assert.equal(res.ok, true, `64 KiB ping refused: ${JSON.stringify(res)}`);
    assert.equal(res.id, 'big');
  });

  it('a frame over 64 KiB gets too-large, then a close 1009', async () => {
    const c = await srv.connect();
    const text = JSON.stringify({ type: 'chat', id: 'huge', text: 'y'.repeat(70000) });
    c.send(text);
    const res = await c.nextStray();
    assertError(res, 'too-large', 'oversized frame');
    const { code } = await withTimeout(c.closed, 5000, 'close after too-large');
    assert.equal(code, 1009);
  });

  it('a binary frame gets an error and the connection goes on', async () => {
    const c = await srv.connect();
    const res = await sendRaw(c, Buffer.from(JSON.stringify({ type: 'ping', id: 9 })), { binary: true });
    assert.equal(res.ok, false, JSON.stringify(res));
    assert.equal(res.id, null);
    assert.equal(typeof res.error.code, 'string');
    assert.equal((await c.request('ping')).ok, true);
  });

  it('invalid UTF-8 in a text frame closes with 1007; others are still served', async () => {
    const other = await srv.connect();
    const c = await srv.connect();
    const bytes = Buffer.concat([
      Buffer.from('{"type":"chat","id":1,"text":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}'),
    ]);
    c.send(bytes, { binary: false });
    const { code } = await withTimeout(c.closed, 5000, 'close after invalid UTF-8');
    assert.equal(code, 1007);
    assert.equal((await other.request('ping')).ok, true);
    const fresh = await srv.connect();
    assert.equal((await fresh.request('ping')).ok, true);
  });

  it('fragmented messages are reassembled', async () => {
    const raw = await RawWs.open(srv.port);
    try {
      const msg = JSON.stringify({ type: 'ping', id: 'frag' });
      raw.write(encodeFrame(msg.slice(0, 5), { opcode: 1, fin: false }));
      raw.write(encodeFrame(msg.slice(5, 12), { opcode: 0, fin: false }));
      raw.write(encodeFrame(msg.slice(12), { opcode: 0, fin: true }));
      const res = await raw.next((m) => m.id === 'frag');
      assert.equal(res.ok, true);
    } finally {
      raw.destroy();
    }
  });
});

describe('floods and vanishing clients', () => {
  it('500 pings at once: some rate-limited, one response each, the connection survives', async () => {
    const c = await srv.connect();
    const requests = [];
    for (let i = 0; i < 500; i++) requests.push(c.request('ping', {}, { timeout: 10000 }));
    const responses = await Promise.all(requests);
    const ok = responses.filter((r) => r.ok).length;
    const limited = responses.filter((r) => !r.ok && r.error.code === 'rate-limited').length;
    assert.equal(ok + limited, 500, 'every answer is ok or rate-limited');
    assert.ok(limited > 0, 'a flood must be rate-limited');
    assert.ok(ok >= 20, `the burst allowance should pass some pings (only ${ok} did)`);
    assert.ok(c.isOpen, 'the connection survives the flood');

    // Once the bucket refills, requests go through again (pace: 50 ms per
    // token at the default 20/s).
    let res;
    for (let i = 0; i < 40; i++) {
      res = await c.request('ping');
      if (res.ok) break;
      assert.equal(res.error.code, 'rate-limited');
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.equal(res.ok, true, 'the connection serves again after the flood');
    // Nothing unmatched, nothing twice: received = 500 + the retries.
    assert.equal(c.strays.length, 0, `unexpected extra frames: ${JSON.stringify(c.strays.slice(0, 3))}`);
    const ids = c.received.filter((m) => 'id' in m).map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, 'no request answered twice');
  });

  it('a client that vanishes mid-frame after joining is reported disconnected', async () => {
    const room = 'vanish';
    const [watcher] = await srv.connectAndJoin({ user: 'watcher', room });
    const raw = await RawWs.open(srv.port);
    const join = await raw.request('join', { token: srv.sign({ user: 'ghost', room }) });
    assert.equal(join.ok, true, JSON.stringify(join));
    const joined = await watcher.nextEvent('participant-joined');
    assert.equal(joined.data.participant.user, 'ghost');

    const frame = encodeFrame(JSON.stringify({ type: 'chat', id: 77, text: 'z'.repeat(1000) }));
    raw.write(frame.subarray(0, Math.floor(frame.length / 2)));
    raw.destroy();
    const left = await watcher.nextEvent('participant-left', { timeout: 10000 });
    assert.deepEqual(left.data, { participant_id: join.data.you.participant_id, reason: 'disconnected' });
    assert.equal(watcher.queued('chat').length, 0, 'half a chat must not be delivered');
  });

  it('a client that vanishes mid-handshake does not hurt', async () => {
    const sock = await new Promise((resolve, reject) => {
      import('node:net').then(({ default: net }) => {
        const s = net.connect(srv.port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      });
    });
    sock.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConn');
    sock.destroy();
    const c = await srv.connect();
    assert.equal((await c.request('ping')).ok, true);
  });

  it('10 000 connect/disconnect cycles leak nothing and disturb no room', async (t) => {
    const CYCLES = 10000;
    const BATCH = 50;
    const churnRoom = 'churn';
    const pair = await quietPair('quiet');

    // An observer in the churn room sees every joiner come and go.
    const admin = srv.sign({ user: 'mentor', role: 'mentor', room: '*' });
    const created = await srv.fetch('/api/rooms', {
      method: 'POST',
      token: admin,
      body: { id: churnRoom, kind: 'workshop', capacity: 200 },
    });
    assert.equal(created.status, 201, created.text);
    const [observer, ro] = await srv.connectAndJoin({ user: 'observer', role: 'mentor', room: churnRoom });
    assert.equal(ro.ok, true, JSON.stringify(ro));

    // Warm up (allocator arenas, lws pools) before taking the baseline.
    let cycles = 0;
    const cycle = async (i) => {
      let c;
      try {
        c = await srv.connect({ timeout: 10000 });
      } catch (err) {
        throw new Error(`WebSocket refused after ${cycles} completed cycles: ${err.message}`);
      }
      if (i % 20 === 0) {
        const res = await c.request('join', { token: srv.sign({ user: `churn-${i}`, room: churnRoom }) });
        assert.equal(res.ok, true, `join ${i}: ${JSON.stringify(res)}`);
      }
      if (i % 3 === 0) await c.terminate();
      else await c.close();
      cycles++;
    };
    for (let i = 0; i < 200; i += BATCH) {
      await Promise.all(Array.from({ length: BATCH }, (_, k) => cycle(-1 - i - k)));
    }
    const rssBefore = srv.rss();

    // The quiet pair keeps chatting the whole time, at a pace well inside
    // the rate limit.
    let chatting = true;
    let chats = 0;
    const chatLoop = (async () => {
      while (chatting) {
        await pair.check();
        chats++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    chatLoop.catch(() => {}); // awaited below; this only avoids an unhandled rejection if churn fails first

    let joins = 0;
    try {
      for (let i = 0; i < CYCLES; i += BATCH) {
        const batch = [];
        for (let k = i; k < Math.min(i + BATCH, CYCLES); k++) {
          if (k % 20 === 0) joins++;
          batch.push(cycle(k));
        }
        await Promise.all(batch);
      }
    } finally {
      chatting = false;
    }
    await chatLoop;
    assert.ok(chats >= 5, `the quiet pair chatted only ${chats} times`);

    // Every churn joiner (warm-up included) left, and the observer saw it.
    const warmJoins = 10;
    const expected = joins + warmJoins;
    // (The observer's events travel on its own socket: wait for them.)
    await waitFor(() => observer.queued('participant-joined').length >= expected, {
      timeout: 10000,
      what: 'participant-joined for every churn joiner',
    });
    assert.equal(observer.queued('participant-joined').length, expected, 'one participant-joined per churn join');
    await waitFor(() => observer.queued('participant-left').length >= expected, {
      timeout: 10000,
      what: 'participant-left for every churn joiner',
    });
    assert.equal(observer.queued('participant-left').length, expected, 'one participant-left per churn join');
    assert.ok(
      observer.queued('participant-left').every((e) => e.data.reason === 'disconnected'),
      'churn joiners leave as disconnected',
    );

    // Only the observer and the quiet pair are left, and no socket leaks.
    const h = await srv.healthz();
    assert.equal(h.participants, 3, JSON.stringify(h));
    await waitFor(async () => (await srv.metric('tribu_ws_connections')) === 3, {
      timeout: 10000,
      what: 'tribu_ws_connections back to 3',
    });
    for (const c of [observer, pair.a, pair.b]) assert.equal((await c.request('leave')).ok, true);
    const h2 = await srv.healthz();
    assert.equal(h2.participants, 0, JSON.stringify(h2));
    assert.equal(h2.rooms, 0, JSON.stringify(h2));

    const grown = srv.rss() - rssBefore;
    t.diagnostic(`RSS grew by ${(grown / 1048576).toFixed(1)} MB; the quiet pair chatted ${chats} times`);
    // Under AddressSanitizer freed memory sits in quarantine: LSan checks
    // leaks at exit instead (the after hook asserts exit status 0).
    if (!SANITIZED)
      assert.ok(grown < 30 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MB over ${CYCLES} cycles`);

    // Still responsive: new connections and a room work.
    const [x, rx] = await srv.connectAndJoin({ user: 'after', room: 'after-churn' });
    assert.equal(rx.ok, true, JSON.stringify(rx));
    assert.equal((await x.request('chat', { text: 'done' })).ok, true);
  });
});

describe('connection limit', () => {
  it('closed WebSockets do not count against max_connections', async () => {
    const LIMIT = 20;
    const own = await startTribud({ config: { server: { max_connections: LIMIT } } });
    try {
      // Three times the limit, one at a time: never more than one open.
      for (let i = 0; i < 3 * LIMIT; i++) {
        let c;
        try {
          c = await own.connect();
        } catch (err) {
          assert.fail(`connection ${i + 1} refused with max_connections=${LIMIT} and none open: ${err.message}`);
        }
        assert.equal((await c.request('ping')).ok, true);
        if (i % 2) await c.close();
        else await c.terminate();
      }
      const res = await own.raw('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      assert.equal(res.status, 200, 'HTTP still served after many WebSockets');

      // The limit itself still holds for connections that are open.
      const open = [];
      for (let i = 0; i < LIMIT; i++) open.push(await own.connect());
      await assert.rejects(own.connect(), 'connection over the limit refused');
      await Promise.all(open.map((c) => c.close()));
      await waitFor(async () => {
        try {
          const c = await own.connect();
          await c.close();
          return true;
        } catch {
          return false;
        }
      }, { what: 'a connection to be accepted again once the others closed' });
    } finally {
      assert.equal(await own.cleanup(), 0);
    }
  });
});

describe('per-address limit', () => {
  it('one address cannot take every connection; others still get in', async () => {
    const PER_ADDRESS = 5;
    const own = await startTribud({ config: { server: { max_connections_per_address: PER_ADDRESS } } });
    try {
      const refusedBefore = await own.metric('tribu_ws_connections_total{result="refused"}');
      const mine = [];
      for (let i = 0; i < PER_ADDRESS; i++) mine.push(await own.connect({ localAddress: '127.0.0.2' }));
      // Many more from the same address: every one refused, the server fine.
      const attempts = await Promise.allSettled(
        Array.from({ length: 50 }, () => own.connect({ localAddress: '127.0.0.2' })));
      assert.equal(attempts.filter((a) => a.status === 'fulfilled').length, 0,
        'no connection over the per-address limit');
      for (const c of mine) assert.equal((await c.request('ping')).ok, true, 'the first ones still work');
      // Another address is not affected.
      const other = await own.connect({ localAddress: '127.0.0.3' });
      assert.equal((await other.request('ping')).ok, true);
      assert.equal(await own.metric('tribu_ws_connections_total{result="refused"}'), refusedBefore + 50);
      // A connection closed frees its place.
      await mine.pop().close();
      await waitFor(async () => {
        try {
          mine.push(await own.connect({ localAddress: '127.0.0.2' }));
          return true;
        } catch {
          return false;
        }
      }, { what: 'a place freed by a close' });
      assert.match(own.stderr, /refused \d+ WebSocket/, 'the refusals are logged');
    } finally {
      assert.equal(await own.cleanup(), 0);
    }
  });
});

describe('HTTP path tricks', () => {
  let own;
  let root;

  before(async () => {
    // web_dir and data_dir side by side, so ../data/secret from the web root
    // is the real secret.
    root = mkdtempSync(join(tmpdir(), 'tribu-paths-'));
    mkdirSync(join(root, 'web'));
    mkdirSync(join(root, 'data'));
    writeFileSync(join(root, 'web', 'index.html'), '<!doctype html><title>tribu test page</title>\n');
    writeFileSync(join(root, 'web', 'hello.txt'), 'hello from the web root\n');
    writeFileSync(join(root, 'web', '.hidden'), 'hidden file\n');
    own = await startTribud({ dataDir: join(root, 'data'), config: { server: { web_dir: join(root, 'web') } } });
  });

  after(async () => {
    assert.equal(await own.cleanup(), 0);
    rmSync(root, { recursive: true, force: true });
  });

  it('serves the web root (control)', async () => {
    const res = await own.fetch('/hello.txt');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello from the web root\n');
    const index = await own.fetch('/');
    assert.equal(index.status, 200);
    assert.match(index.text, /tribu test page/);
  });

  it('never serves files outside the web root', async () => {
    const secret = own.secret();
    assert.ok(secret.length >= 16);
    const paths = [
      '/../data/secret',
      '/../secret',
      '/%2e%2e/data/secret',
      '/%2e%2e/secret',
      '/%2E%2E%2Fdata%2Fsecret',
      '/..%2fdata%2fsecret',
      '/web/../../data/secret',
      '/hello.txt/../../data/secret',
      '/./../data/secret',
      '//../data/secret',
      '/..\\data\\secret',
      '/%252e%252e/data/secret',
      '/data/secret',
      '/.hidden',
      '/%2ehidden',
    ];
    for (const path of paths) {
      const res = await own.raw(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      assert.ok(res.status > 0, `no HTTP answer for ${path}: ${JSON.stringify(res.text.slice(0, 200))}`);
      assert.ok(!res.text.includes(secret), `${path} leaked the secret`);
      assert.ok(!res.text.includes('hidden file'), `${path} served a hidden file`);
      assert.notEqual(res.status, 200, `${path} answered 200: ${res.text.slice(0, 300)}`);
    }
  });

  it('/ws without an upgrade is 400', async () => {
    const res = await own.fetch('/ws');
    assert.equal(res.status, 400);
    const raw = await own.raw('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.equal(raw.status, 400);
  });

  it('a WebSocket upgrade on another path is refused', async () => {
    await assert.rejects(own.connect({ path: '/not-ws' }));
    const c = await own.connect();
    assert.equal((await c.request('ping')).ok, true);
  });
});
