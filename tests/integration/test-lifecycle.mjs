// tribud as a program: command line, configuration file, tokens from the
// CLI, clean stop on SIGTERM and what the catalog says afterwards.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

import {
  makeTempDirs,
  runTribud,
  startTribud,
  tokenArgs,
  waitFor,
  withTimeout,
  writeConfig,
} from './lib/tribud.mjs';

const execFileP = promisify(execFile);

/** Runs QUERY on the catalog with the sqlite3 tool; returns the rows. */
async function sql(db, query) {
  let stdout;
  try {
    ({ stdout } = await execFileP('sqlite3', ['-json', '-readonly', db, query], { timeout: 10000 }));
  } catch (err) {
    if (err.code === 'ENOENT') throw new Error('the sqlite3 command-line tool is needed (apt-get install sqlite3)');
    throw err;
  }
  return stdout.trim() ? JSON.parse(stdout) : [];
}

/** A TCP connection to the server, once connected. */
function openSocket(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  });
}

/** A temporary directory removed when the test ends. */
function tempDirs(t) {
  const dirs = makeTempDirs('tribu-life-');
  t.after(() => rmSync(dirs.base, { recursive: true, force: true }));
  return dirs;
}

describe('command line', () => {
  it('--version prints the version and exits 0', async () => {
    const r = await runTribud(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tribud 0\.1\.0\s*$/);
  });

  it('--help describes the options and exits 0', async () => {
    const r = await runTribud(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const opt of ['--listen', '--data-dir', '--config', '--version'])
      assert.ok(r.stdout.includes(opt), `--help does not mention ${opt}`);
    const t = await runTribud(['token', '--help']);
    assert.equal(t.code, 0, t.stderr);
    for (const opt of ['--user', '--role', '--room', '--ttl', '--ends'])
      assert.ok(t.stdout.includes(opt), `token --help does not mention ${opt}`);
  });

  it('a bad option exits non-zero with a message', async () => {
    const r = await runTribud(['--no-such-option']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-such-option/);
    assert.equal(r.stdout.includes('listening'), false);

    const l = await runTribud(['--listen', 'nonsense', '--data-dir', '/nonexistent/never']);
    assert.notEqual(l.code, 0);
    assert.match(l.stderr, /nonsense/, 'the message names the bad value');

    const extra = await runTribud(['serve-please']);
    assert.notEqual(extra.code, 0);
    assert.match(extra.stderr, /serve-please/);

    const tok = await runTribud(['token', '--user', 'u', '--role', 'wizard', '--room', 'r', '--data-dir', '/nonexistent/never']);
    assert.notEqual(tok.code, 0);
    assert.match(tok.stderr, /role/);
    assert.equal(tok.stdout, '', 'no token printed on error');
  });

  it('an address already in use is a start-up error, not a hang', async (t) => {
    const first = await startTribud();
    t.after(() => first.cleanup());
    const { dataDir } = tempDirs(t);
    const r = await runTribud(['--listen', `127.0.0.1:${first.port}`, '--data-dir', dataDir]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.length > 0, 'says why');
  });
});

describe('stop', () => {
  it('SIGTERM during a call: going-away close, exit 0, catalog closed', async () => {
    const srv = await startTribud();
    try {
      const room = 'call';
      const [alice, ra] = await srv.connectAndJoin({ user: 'alice', role: 'mentor', room });
      const [bob, rb] = await srv.connectAndJoin({ user: 'bob', room });
      assert.equal(ra.ok, true);
      assert.equal(rb.ok, true);
      const idler = await srv.connect(); // connected, in no room
      // An idle keep-alive HTTP connection and a half-done handshake must not
      // hold the stop up.
      const keepAlive = await openSocket(srv.port);
      keepAlive.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await new Promise((resolve) => keepAlive.once('data', resolve));
      const halfOpen = await openSocket(srv.port);
      halfOpen.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      await alice.nextEvent('participant-joined');
      const sessionId = rb.data.room.session_id;
      const db = join(srv.dataDir, 'tribu.db');

      const t0 = Date.now();
      const exit = srv.stop();
      const closes = await withTimeout(
        Promise.all([alice.closed, bob.closed, idler.closed]),
        5000,
        'clients to be closed',
      );
      for (const { code } of closes) assert.equal(code, 1001, 'close code is 1001 (going away)');
      const code = await exit;
      const took = Date.now() - t0;
      assert.equal(code, 0, `exit status after SIGTERM:\n${srv.stderr}`);
      assert.ok(took < 3000, `tribud took ${took} ms to stop`);
      keepAlive.destroy();
      halfOpen.destroy();

      for (const c of [alice, bob]) {
        const removed = c.received.find((m) => m.event === 'removed');
        if (removed) assert.equal(removed.data.reason, 'shutdown');
      }

      const sessions = await sql(db, `select id, room_id, kind, started_ms, ended_ms, end_reason from sessions`);
      assert.equal(sessions.length, 1, JSON.stringify(sessions));
      const s = sessions[0];
      assert.equal(s.id, sessionId);
      assert.equal(s.room_id, room);
      assert.equal(s.kind, 'coaching');
      assert.notEqual(s.ended_ms, null, 'the session has ended_ms');
      assert.ok(s.ended_ms >= s.started_ms);
      assert.ok(s.ended_ms <= Date.now() + 1000);

      const rows = await sql(db, `select user, role, joined_ms, left_ms, leave_reason from attendance where session_id = '${sessionId}' order by user`);
      assert.deepEqual(rows.map((r) => [r.user, r.role]), [['alice', 'mentor'], ['bob', 'student']]);
      for (const r of rows) {
        assert.notEqual(r.left_ms, null, `${r.user} has left_ms`);
        assert.ok(r.left_ms >= r.joined_ms);
        assert.equal(r.leave_reason, 'shutdown');
      }
    } finally {
      await srv.cleanup();
    }
  });

  it('the catalog keeps past sessions with their leave reasons', async () => {
    const srv = await startTribud();
    try {
      const [a, ra] = await srv.connectAndJoin({ user: 'a', room: 'hist' });
      const [b] = await srv.connectAndJoin({ user: 'b', room: 'hist' });
      await a.nextEvent('participant-joined');
      assert.equal((await b.request('leave')).ok, true);
      await a.terminate();
      await waitFor(async () => (await srv.healthz()).participants === 0, {
        what: 'the disconnect to be processed',
      });
      assert.equal(await srv.stop(), 0);
      const db = join(srv.dataDir, 'tribu.db');
      const rows = await sql(db, `select user, leave_reason, left_ms from attendance where session_id = '${ra.data.room.session_id}' order by user`);
      assert.deepEqual(rows.map((r) => [r.user, r.leave_reason]), [['a', 'disconnected'], ['b', 'left']]);
      const [s] = await sql(db, `select ended_ms from sessions where id = '${ra.data.room.session_id}'`);
      assert.notEqual(s.ended_ms, null);
    } finally {
      await srv.cleanup();
    }
  });

  it('after a crash (SIGKILL) the next start closes what was left open', async () => {
    const srv = await startTribud();
    try {
      const [, r] = await srv.connectAndJoin({ user: 'crashy', room: 'boom' });
      assert.equal(r.ok, true);
      const db = join(srv.dataDir, 'tribu.db');
      const sid = r.data.room.session_id;
      // The catalog writes on its own thread: wait until the rows are there.
      await waitFor(async () => (await sql(db, `select 1 from attendance where session_id = '${sid}'`)).length === 1, {
        what: 'the attendance row to be written',
      });
      assert.equal(String(await srv.stop({ signal: 'SIGKILL' })), 'signal SIGKILL');

      const again = await startTribud({ dataDir: srv.dataDir });
      try {
        const [s] = await sql(db, `select ended_ms, end_reason from sessions where id = '${sid}'`);
        assert.notEqual(s.ended_ms, null, 'the crashed session is closed at the next start');
        const [a] = await sql(db, `select left_ms from attendance where session_id = '${sid}'`);
        assert.notEqual(a.left_ms, null);
      } finally {
        assert.equal(await again.cleanup(), 0);
      }
    } finally {
      await srv.cleanup().catch(() => {});
    }
  });
});

describe('configuration file', () => {
  it('sets the capacity; --listen on the command line overrides its listen', async (t) => {
    const srv = await startTribud({
      // 192.0.2.1 (TEST-NET-1) is never a local address: if the file's listen
      // won, tribud could not start.
      config: { server: { listen: '192.0.2.1:8080' }, rooms: { coaching_capacity: 3 } },
    });
    t.after(async () => assert.equal(await srv.cleanup(), 0));
    assert.equal(srv.host, '127.0.0.1');

    const room = 'three';
    for (const user of ['a', 'b', 'c']) {
      const [, r] = await srv.connectAndJoin({ user, room });
      assert.equal(r.ok, true, `${user}: ${JSON.stringify(r)}`);
      assert.equal(r.data.room.capacity, 3);
    }
    const [, r4] = await srv.connectAndJoin({ user: 'd', room });
    assert.equal(r4.ok, false);
    assert.equal(r4.error.code, 'room-full');
  });

  it("the file's listen is used when the command line has none", async (t) => {
    const srv = await startTribud({ listen: null, config: { server: { listen: '127.0.0.1:0' } } });
    t.after(() => srv.cleanup());
    assert.ok(srv.port > 0);
    assert.equal((await srv.healthz()).status, 'ok');
  });

  it('an unknown key stops tribud with a message naming it', async (t) => {
    const { base, dataDir } = tempDirs(t);
    const file = writeConfig(join(base, 'bad.conf'), { rooms: { coaching_capacity: 2, coaching_capacty: 3 } });
    const r = await runTribud(['--config', file, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.notEqual(r.code, 0, 'tribud must not start with an unknown key');
    assert.match(r.stderr, /coaching_capacty/);
    assert.equal(r.stdout.includes('listening'), false);

    const g = writeConfig(join(base, 'badgroup.conf'), { romos: { coaching_capacity: 2 } });
    const rg = await runTribud(['--config', g, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.notEqual(rg.code, 0);
    assert.match(rg.stderr, /romos/);
  });

  it('a bad value or a missing file stops tribud with a message', async (t) => {
    const { base, dataDir } = tempDirs(t);
    const file = writeConfig(join(base, 'v.conf'), { rooms: { coaching_capacity: 'many' } });
    const r = await runTribud(['--config', file, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /coaching_capacity/);

    const zero = writeConfig(join(base, 'z.conf'), { rooms: { coaching_capacity: 0 } });
    const rz = await runTribud(['--config', zero, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.notEqual(rz.code, 0);
    assert.match(rz.stderr, /coaching_capacity/);

    const missing = join(base, 'missing.conf');
    const rm = await runTribud(['--config', missing, '--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    assert.notEqual(rm.code, 0);
    assert.ok(rm.stderr.includes('missing.conf'), rm.stderr);
  });
});

describe('tribud token', () => {
  it('tokens from the same --data-dir are accepted; another dir’s are refused', async (t) => {
    const srv = await startTribud();
    t.after(async () => assert.equal(await srv.cleanup(), 0));
    const other = tempDirs(t);

    const good = await srv.token({ user: 'ann', name: 'Ann Example', role: 'student', room: 'tok' });
    assert.match(good, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'base64url "." base64url');
    const claims = JSON.parse(Buffer.from(good.split('.')[0], 'base64url').toString());
    assert.equal(claims.sub, 'ann');
    assert.equal(claims.name, 'Ann Example');
    assert.equal(claims.room, 'tok');
    assert.equal(claims.role, 'student');
    const now = Date.now() / 1000;
    assert.ok(Math.abs(claims.exp - (now + 7200)) < 60, `default ttl is 2h (exp ${claims.exp})`);

    const c = await srv.connect();
    const ok = await c.request('join', { token: good });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal(ok.data.you.name, 'Ann Example');

    const bad = await srv.token({ user: 'mallory', room: 'tok' }, { dataDir: other.dataDir });
    const c2 = await srv.connect();
    const refused = await c2.request('join', { token: bad });
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, 'unauthorized');
  });

  it('--ttl and --ends set exp and ends', async (t) => {
    const { dataDir } = tempDirs(t);
    const r = await runTribud(tokenArgs({ user: 'u', role: 'mentor', room: 'x', kind: 'workshop', ttl: '90m', ends: '+30m' }, dataDir));
    assert.equal(r.code, 0, r.stderr);
    const claims = JSON.parse(Buffer.from(r.stdout.trim().split('.')[0], 'base64url').toString());
    const now = Date.now() / 1000;
    assert.ok(Math.abs(claims.exp - (now + 5400)) < 60, `exp ${claims.exp}`);
    assert.ok(Math.abs(claims.ends - (now + 1800)) < 60, `ends ${claims.ends}`);
    assert.equal(claims.kind, 'workshop');
  });

  it('the secret file is created private and survives restarts', async (t) => {
    const srv = await startTribud();
    const token = await srv.token({ user: 'keep', room: 'persist' });
    const secretPath = join(srv.dataDir, 'secret');
    const mode = statSync(secretPath).mode & 0o777;
    assert.equal(mode & 0o077, 0, `secret file mode is ${mode.toString(8)}`);
    const secret = srv.secret();
    assert.equal(await srv.stop(), 0);

    const again = await startTribud({ dataDir: srv.dataDir });
    t.after(async () => {
      await again.cleanup();
      await srv.cleanup();
    });
    assert.equal(again.secret(), secret, 'the secret is not replaced at restart');
    const c = await again.connect();
    const res = await c.request('join', { token });
    assert.equal(res.ok, true, `a token from before the restart: ${JSON.stringify(res)}`);
  });

  it('a secret given in the config is used by the server and by tribud token', async (t) => {
    const { base, dataDir } = tempDirs(t);
    const secret = 'correct horse battery staple 42';
    const conf = writeConfig(join(base, 's.conf'), { auth: { secret } });
    const srv = await startTribud({ args: ['--config', conf] });
    t.after(() => srv.cleanup());
    const r = await runTribud(['token', '--user', 'cfg', '--role', 'student', '--room', 'cfg', '--config', conf, '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const c = await srv.connect();
    const res = await c.request('join', { token: r.stdout.trim() });
    assert.equal(res.ok, true, JSON.stringify(res));
  });
});
