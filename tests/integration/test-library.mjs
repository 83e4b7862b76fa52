// The curator library through a real tribud (issue 5): three coaching calls
// are recorded with tribu-client peers, tagged and curated through the HTTP
// API, then searched, related, played with byte ranges, and read by each
// role. Files are compared byte for byte with what is on disk; the catalog
// is read with the sqlite3 tool where the API does not show a thing (file
// paths, audit rows).
//
// Sends real RTP: runs in a network namespace holding only loopback
// (`meson test` runs it under `unshare -n`); by hand:
//   unshare -n sh -c 'ip link set lo up && TRIBUD=... TRIBU_CLIENT=... \
//     node --test --test-reporter=spec tests/integration/test-library.mjs'
//
// The calls:
//   room-a: alice (mentor) + bob (student)    -> reference, idea/food/pricing
//   room-b: alice (mentor) + carol (student)  -> confidential, idea/food/pricing
//   room-c: dave (mentor) + bob (student)     -> reference, launching/food/pricing
// so bob must never see room-b's session anywhere, and room-b, although its
// tags are closest to room-a's, is never among anyone's related sessions.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startTribud, waitFor, withTimeout } from './lib/tribud.mjs';
import { TRIBU_CLIENT, assertLoopbackOnly, joinPeer } from './lib/media.mjs';

const CONFIG = { media: { addresses: '127.0.0.1' } };

/* ---- peers ---- */

/** Records one call: both peers decode 60 frames of each other, then leave. */
async function recordCall(srv, room, mentor, student) {
  const peers = [
    joinPeer(srv, { user: mentor, room, role: 'mentor', duration: 120 }),
    joinPeer(srv, { user: student, room, role: 'student', duration: 120 }),
  ];
  try {
    await Promise.all(peers.map((p) => p.until((s) => !!s.participant_id, 'join', 30000)));
    await Promise.all(
      peers.map((p) => {
        const other = peers.find((o) => o !== p);
        return p.until((s) => (s.received?.[other.pid]?.video_frames ?? 0) >= 60,
          `${p.user} to decode 60 frames of ${other.user}`, 90000);
      }),
    );
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
}

/* ---- HTTP ---- */

let srv;
const tokens = {};

function token(user, role) {
  const key = `${user}/${role}`;
  tokens[key] ??= srv.sign({ user, role, room: '*' });
  return tokens[key];
}

const as = {
  cora: () => token('cora', 'curator'),
  root: () => token('root', 'admin'),
  alice: () => token('alice', 'mentor'),
  dave: () => token('dave', 'mentor'),
  bob: () => token('bob', 'student'),
  carol: () => token('carol', 'student'),
  erin: () => token('erin', 'student'),
};

function api(path, who, opts = {}) {
  return srv.fetch(path, { token: who ? as[who]() : undefined, ...opts });
}

/** GET with headers; the body as bytes. */
async function getBytes(path, who, headers = {}, method = 'GET') {
  const res = await withTimeout(
    fetch(`${srv.url}${path}`, { method, headers: { authorization: `Bearer ${as[who]()}`, ...headers } }),
    10000,
    `${method} ${path}`,
  );
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

function sql(query) {
  const out = execFileSync('sqlite3', ['-cmd', '.timeout 5000', '-json', join(srv.dataDir, 'tribu.db'), query], {
    encoding: 'utf8',
  }).trim();
  return out ? JSON.parse(out) : [];
}

const ids = (res) => res.json.results.map((r) => r.session_id);

/* ---- the catalog under test ---- */

const session = {}; // room -> session id
let mediaA; // {id, path (absolute), size} of one of room-a's recordings
let mediaB; // the same for room-b (confidential)

before(async () => {
  assertLoopbackOnly();
  assert.ok(existsSync(TRIBU_CLIENT), `no tribu-client at ${TRIBU_CLIENT}`);
  srv = await startTribud({ config: CONFIG });
  // One after the other: the tests rely on the sessions' start order (a, b, c).
  await recordCall(srv, 'room-a', 'alice', 'bob');
  await recordCall(srv, 'room-b', 'alice', 'carol');
  await recordCall(srv, 'room-c', 'dave', 'bob');
  // Sessions end when their rooms empty; files are finalised just after.
  const sessions = await waitFor(async () => {
    const res = await api('/api/library?sort=date', 'cora');
    if (res.status !== 200 || res.json.total !== 3) return false;
    for (const row of res.json.results) {
      if (row.ended_ms === null) return false;
      const s = await api(`/api/sessions/${row.session_id}`, 'cora');
      if (s.json.recordings.length < 2 || s.json.recordings.some((r) => r.state !== 'complete')) return false;
    }
    return res.json.results;
  }, { timeout: 60000, interval: 250, what: 'three ended sessions with complete recordings' });
  for (const row of sessions) session[row.room_id] = row.session_id;
  assert.deepEqual(Object.keys(session).sort(), ['room-a', 'room-b', 'room-c']);
  const media = async (room) => {
    const s = await api(`/api/sessions/${session[room]}`, 'cora');
    const rec = s.json.recordings[0];
    const [row] = sql(`SELECT path, bytes FROM recordings WHERE id = ${Number(rec.id)}`);
    const path = join(srv.dataDir, row.path);
    return { id: rec.id, url: rec.media_url, path, size: readFileSync(path).length };
  };
  mediaA = await media('room-a');
  mediaB = await media('room-b');
}, { timeout: 240000 });

after(async () => {
  if (srv) {
    const code = await srv.cleanup();
    assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr.slice(-4000)}`);
  }
});

describe('curation', () => {
  it('curators tag sessions; the answer is the session with its tags', async () => {
    let res = await api(`/api/sessions/${session['room-a']}`, 'cora', {
      method: 'PATCH',
      body: {
        title: 'Pricing a food truck menu',
        notes: 'Cost plus margin, then test the price on the first clients.',
        keywords: ['pricing', 'Menu'],
        stage: 'idea', sector: 'food', problem: 'pricing', visibility: 'reference',
      },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.visibility, 'reference');
    assert.deepEqual(res.json.keywords, ['pricing', 'menu']);
    assert.equal(res.json.updated_by, 'cora');
    res = await api(`/api/sessions/${session['room-b']}`, 'cora', {
      method: 'PATCH',
      body: { title: 'Carol and her bakery prices', keywords: ['bakery'], stage: 'idea', sector: 'food', problem: 'pricing' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.visibility, 'confidential', 'confidential by default');
    res = await api(`/api/sessions/${session['room-c']}`, 'root', {
      method: 'PATCH',
      body: { title: 'Pricing street food', keywords: ['pricing'], stage: 'launching', sector: 'food', problem: 'pricing', visibility: 'reference' },
    });
    assert.equal(res.status, 200, res.text);
  });

  it('only curators and admins curate; bad values are 400 naming the field', async () => {
    const id = session['room-b'];
    for (const who of ['alice', 'bob', 'carol']) {
      const res = await api(`/api/sessions/${id}`, who, { method: 'PATCH', body: { visibility: 'reference' } });
      assert.equal(res.status, who === 'bob' ? 403 : 403, `${who}: ${res.text}`);
    }
    for (const [body, field] of [
      [{ stage: 'dreaming' }, 'stage'],
      [{ sector: 'space' }, 'sector'],
      [{ problem: 'world-peace' }, 'problem'],
      [{ visibility: 'public' }, 'visibility'],
      [{ keywords: 'a, b' }, 'keywords'],
      [{ colour: 'red' }, 'colour'],
    ]) {
      const res = await api(`/api/sessions/${id}`, 'cora', { method: 'PATCH', body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.field, field, res.text);
      assert.match(res.json.error.message, new RegExp(field));
    }
    const bad = await api(`/api/sessions/${id}`, 'cora', { method: 'PATCH', body: '{"title": ' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'bad-json');
    assert.equal((await api(`/api/sessions/${id}`, 'cora')).json.visibility, 'confidential');
  });

  it('the vocabulary is extended through the API and usable at once', async () => {
    let res = await api('/api/vocabulary', 'bob');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.stage.map((v) => v.value),
      ['idea', 'launching', 'first-clients', 'revenue', 'self-funded', 'scaling']);
    res = await api('/api/vocabulary/sector', 'bob', { method: 'POST', body: { value: 'music', label: 'Music' } });
    assert.equal(res.status, 403);
    res = await api('/api/vocabulary/sector', 'cora', { method: 'POST', body: { value: 'Music!', label: 'Music' } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.field, 'value');
    res = await api('/api/vocabulary/sector', 'cora', { method: 'POST', body: { value: 'music', label: 'Music' } });
    assert.equal(res.status, 201, res.text);
    res = await api('/api/vocabulary/sector', 'cora', { method: 'POST', body: { value: 'music', label: 'Music' } });
    assert.equal(res.status, 409);
    res = await api('/api/vocabulary/mood', 'cora', { method: 'POST', body: { value: 'calm', label: 'Calm' } });
    assert.equal(res.status, 404);
    res = await api('/api/vocabulary', 'carol');
    assert.ok(res.json.sector.some((v) => v.value === 'music'));
  });

  it('every curation change is an audit row: who, role, when, field, old, new', async () => {
    const res = await api(`/api/sessions/${session['room-a']}/audit`, 'cora');
    assert.equal(res.status, 200, res.text);
    const fields = res.json.entries.map((e) => e.field).sort();
    assert.deepEqual(fields, ['keywords', 'notes', 'problem', 'sector', 'stage', 'title', 'visibility']);
    const vis = res.json.entries.find((e) => e.field === 'visibility');
    assert.equal(vis.user, 'cora');
    assert.equal(vis.role, 'curator');
    assert.equal(vis.old, 'confidential');
    assert.equal(vis.new, 'reference');
    assert.ok(Math.abs(vis.at_ms - Date.now()) < 600000);
    const c = await api(`/api/sessions/${session['room-c']}/audit`, 'root');
    assert.ok(c.json.entries.every((e) => e.user === 'root' && e.role === 'admin'));
    // The table itself, as an operator reads it.
    const rows = sql(`SELECT user, role, field FROM audit WHERE session_id = '${session['room-a']}'`);
    assert.equal(rows.length, 7);
    const voc = sql("SELECT user, field, new_value FROM audit WHERE session_id IS NULL");
    assert.deepEqual(voc, [{ user: 'cora', field: 'vocabulary.sector', new_value: 'music' }]);
    for (const who of ['alice', 'bob']) {
      assert.equal((await api(`/api/sessions/${session['room-a']}/audit`, who)).status, 403);
    }
  });
});

describe('search', () => {
  it('finds by text in titles, notes and keywords', async () => {
    let res = await api('/api/library?q=truck', 'cora');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(ids(res), [session['room-a']]);
    assert.equal(res.json.total, 1);
    const row = res.json.results[0];
    assert.equal(row.title, 'Pricing a food truck menu');
    assert.deepEqual(row.mentor, { user: 'alice', name: 'alice' });
    assert.ok(row.duration_ms > 0);
    res = await api(`/api/library?q=${encodeURIComponent('margin first clients')}`, 'cora');
    assert.deepEqual(ids(res), [session['room-a']]);
    res = await api('/api/library?q=pricing&sort=date', 'cora');
    assert.deepEqual(ids(res), [session['room-a'], session['room-c']]);
    res = await api('/api/library?q=pric&sort=-date', 'cora');
    assert.deepEqual(ids(res), [session['room-c'], session['room-b'], session['room-a']]);
    res = await api(`/api/library?q=${encodeURIComponent('"pricing" OR (')}`, 'cora');
    assert.equal(res.status, 200, 'FTS syntax from outside is only text');
  });

  it('combines filters', async () => {
    let res = await api('/api/library?stage=idea&sector=food&sort=date', 'cora');
    assert.deepEqual(ids(res), [session['room-a'], session['room-b']]);
    res = await api('/api/library?q=pricing&stage=launching&sector=food', 'cora');
    assert.deepEqual(ids(res), [session['room-c']]);
    res = await api('/api/library?visibility=reference&mentor=dave', 'cora');
    assert.deepEqual(ids(res), [session['room-c']]);
    res = await api('/api/library?mentor=alice&problem=pricing&sort=date', 'cora');
    assert.deepEqual(ids(res), [session['room-a'], session['room-b']]);
    // from: Unix ms; to: an ISO 8601 time with its zone.
    const hourAgo = Date.now() - 3600000;
    const inAnHour = new Date(Date.now() + 3600000).toISOString();
    res = await api(`/api/library?from=${hourAgo}&to=${encodeURIComponent(inAnHour)}`, 'cora');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.total, 3);
    res = await api(`/api/library?from=${Date.now() + 60000}`, 'cora');
    assert.equal(res.json.total, 0);
    res = await api(`/api/library?to=2000-01-01`, 'cora');
    assert.equal(res.json.total, 0);
  });

  it('pages with a total count', async () => {
    const seen = [];
    for (let page = 1; page <= 3; page++) {
      const res = await api(`/api/library?sort=date&per_page=1&page=${page}`, 'cora');
      assert.equal(res.status, 200);
      assert.equal(res.json.total, 3);
      assert.equal(res.json.page, page);
      assert.equal(res.json.per_page, 1);
      assert.equal(res.json.results.length, 1);
      seen.push(...ids(res));
    }
    assert.deepEqual(seen, [session['room-a'], session['room-b'], session['room-c']]);
    const past = await api('/api/library?sort=date&per_page=2&page=2', 'cora');
    assert.deepEqual(ids(past), [session['room-c']]);
    const empty = await api('/api/library?per_page=2&page=3', 'cora');
    assert.deepEqual(empty.json.results, []);
    assert.equal(empty.json.total, 3);
  });

  it('malformed queries are 400 naming the parameter', async () => {
    for (const [qs, field] of [
      ['stage=dreaming', 'stage'],
      ['sector=x', 'sector'],
      ['problem=nope', 'problem'],
      ['visibility=public', 'visibility'],
      ['sort=best', 'sort'],
      ['page=0', 'page'],
      ['page=abc', 'page'],
      ['per_page=101', 'per_page'],
      ['per_page=-1', 'per_page'],
      ['from=yesterday', 'from'],
      ['to=2024-13-45', 'to'],
      ['stage=idea&stage=scaling', 'stage'],
      [`q=${'a'.repeat(300)}`, 'q'],
    ]) {
      const res = await api(`/api/library?${qs}`, 'cora');
      assert.equal(res.status, 400, `${qs}: ${res.text}`);
      assert.equal(res.json.error.field, field, `${qs}: ${res.text}`);
    }
    const res = await api('/api/library?colour=red', 'cora');
    assert.equal(res.status, 400);
    assert.match(res.json.error.message, /colour/);
  });

  it('related: reference sessions closest first, never a confidential one', async () => {
    for (const who of ['cora', 'bob', 'carol', 'erin']) {
      const res = await api(`/api/sessions/${session['room-a']}/related`, who);
      assert.equal(res.status, 200, `${who}: ${res.text}`);
      // room-b matches all three tags but is confidential.
      assert.deepEqual(ids(res), [session['room-c']], who);
      assert.deepEqual(res.json.results[0].score, { tags: 6, keywords: 1 });
    }
    const fromB = await api(`/api/sessions/${session['room-b']}/related`, 'carol');
    assert.deepEqual(ids(fromB), [session['room-a'], session['room-c']]);
    assert.equal((await api(`/api/sessions/${session['room-b']}/related`, 'bob')).status, 403);
    assert.equal((await api(`/api/sessions/${session['room-a']}/related?limit=0`, 'bob')).status, 400);
  });
});

describe('access', () => {
  const all = () => [session['room-a'], session['room-b'], session['room-c']];

  async function visible(who) {
    const res = await api('/api/library?sort=date', who);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.total, res.json.results.length);
    return ids(res);
  }

  it('curators and admins see everything', async () => {
    assert.deepEqual(await visible('cora'), all());
    assert.deepEqual(await visible('root'), all());
  });

  it('a mentor sees the sessions they took part in and every reference one', async () => {
    assert.deepEqual(await visible('alice'), all());
    assert.deepEqual(await visible('dave'), [session['room-a'], session['room-c']]);
    assert.equal((await api(`/api/sessions/${session['room-b']}`, 'dave')).status, 403);
  });

  it("a student never sees another student's confidential session, in any endpoint", async () => {
    const hidden = session['room-b'];
    assert.deepEqual(await visible('bob'), [session['room-a'], session['room-c']]);
    assert.deepEqual(await visible('erin'), [session['room-a'], session['room-c']]);
    assert.deepEqual(await visible('carol'), all());
    for (const who of ['bob', 'erin']) {
      for (const qs of ['q=bakery', 'q=carol', 'visibility=confidential', 'stage=idea', 'mentor=alice', 'problem=pricing']) {
        const res = await api(`/api/library?${qs}`, who);
        assert.equal(res.status, 200);
        assert.ok(!ids(res).includes(hidden), `${who} ${qs}: ${res.text}`);
      }
      for (const id of [session['room-a'], session['room-c']]) {
        const rel = await api(`/api/sessions/${id}/related?limit=50`, who);
        assert.ok(!ids(rel).includes(hidden), `${who} related ${id}`);
      }
      for (const path of [`/api/sessions/${hidden}`, `/api/sessions/${hidden}/related`, mediaB.url]) {
        const res = await api(path, who);
        assert.equal(res.status, 403, `${who} ${path}: ${res.text}`);
        assert.doesNotMatch(res.text, /bakery|carol/i, 'a 403 says nothing of the session');
      }
      assert.equal((await api(`/api/sessions/${hidden}`, who, { method: 'PATCH', body: {} })).status, 403);
    }
    // Carol's own session is hers to read and play.
    const own = await api(`/api/sessions/${hidden}`, 'carol');
    assert.equal(own.status, 200);
    assert.deepEqual(own.json.participants.map((p) => p.user).sort(), ['alice', 'carol']);
    assert.equal((await getBytes(mediaB.url, 'carol', { range: 'bytes=0-3' })).status, 206);
  });

  it('a session shows its recordings, participants and attendance', async () => {
    const res = await api(`/api/sessions/${session['room-a']}`, 'bob');
    assert.equal(res.status, 200);
    assert.equal(res.json.room_id, 'room-a');
    assert.equal(res.json.stage, 'idea');
    assert.equal(res.json.visibility, 'reference');
    assert.deepEqual(res.json.participants.map((p) => [p.user, p.role]).sort(), [['alice', 'mentor'], ['bob', 'student']]);
    assert.equal(res.json.attendance.length, 2);
    assert.ok(res.json.attendance.every((a) => a.left_ms >= a.joined_ms));
    assert.equal(res.json.recordings.length, 2);
    for (const r of res.json.recordings) {
      assert.equal(r.state, 'complete');
      assert.equal(r.media_url, `/api/recordings/${r.id}/media`);
      assert.deepEqual(r.kinds.split(',').sort(), ['audio', 'video']);
    }
  });

  it('every endpoint checks the token', async () => {
    const paths = [
      ['GET', '/api/library'], ['GET', `/api/sessions/${session['room-a']}`],
      ['PATCH', `/api/sessions/${session['room-a']}`], ['GET', `/api/sessions/${session['room-a']}/related`],
      ['GET', `/api/sessions/${session['room-a']}/audit`], ['GET', '/api/vocabulary'],
      ['POST', '/api/vocabulary/stage'], ['GET', mediaA.url], ['GET', '/api/sessions/nope'],
    ];
    for (const [method, path] of paths) {
      let res = await srv.fetch(path, { method, body: method === 'GET' ? undefined : {} });
      assert.equal(res.status, 401, `${method} ${path}`);
      res = await srv.fetch(path, { method, token: `${as.cora()}x`, body: method === 'GET' ? undefined : {} });
      assert.equal(res.status, 401, `${method} ${path} with a forged token`);
    }
  });

  it('ids that do not exist are 404; paths never reach the disk', async () => {
    assert.equal((await api('/api/sessions/0123456789abcdef', 'cora')).status, 404);
    assert.equal((await api('/api/sessions/0123456789abcdef/related', 'cora')).status, 404);
    assert.equal((await api('/api/recordings/999999/media', 'cora')).status, 404);
    assert.equal((await api('/api/recordings/abc/media', 'cora')).status, 404);
    assert.equal((await api(`/api/recordings/${mediaA.id}/file`, 'cora')).status, 404);
    for (const path of [
      '/api/recordings/..%2f..%2fsecret/media',
      `/api/recordings/${mediaA.id}/../../../../etc/passwd`,
      '/api/sessions/..%2f..%2fetc%2fpasswd',
    ]) {
      const raw = await srv.raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${as.cora()}\r\nConnection: close\r\n\r\n`);
      assert.ok([400, 403, 404].includes(raw.status), `${path}: ${raw.text.slice(0, 300)}`);
      assert.doesNotMatch(raw.text, /root:|webm/i);
    }
  });
});

describe('playback', () => {
  it('GET streams the whole file with its validators', async () => {
    const file = readFileSync(mediaA.path);
    const res = await getBytes(mediaA.url, 'bob');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/webm');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal(Number(res.headers.get('content-length')), file.length);
    assert.match(res.headers.get('etag'), /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(!Number.isNaN(Date.parse(res.headers.get('last-modified'))));
    assert.ok(file.length > 20000, `a few seconds of video: ${file.length} bytes`);
    assert.ok(res.body.equals(file), 'the body is the file');
    const head = await getBytes(mediaA.url, 'bob', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), file.length);
    assert.equal(head.body.length, 0);
    const again = await getBytes(mediaA.url, 'bob', { 'if-none-match': res.headers.get('etag') });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
  });

  it('Range: first bytes, middle, open end, suffix', async () => {
    const file = readFileSync(mediaA.path);
    const n = file.length;
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      ['bytes=0-0', 0, 0],
      [`bytes=${Math.floor(n / 4)}-${Math.floor(n / 4) + Math.floor(n / 2)}`, Math.floor(n / 4), Math.floor(n / 4) + Math.floor(n / 2)],
      [`bytes=${n - 10}-`, n - 10, n - 1],
      ['bytes=-500', n - 500, n - 1],
      [`bytes=${n - 5}-${n + 1000}`, n - 5, n - 1],
      [`bytes=-${n + 10}`, 0, n - 1],
    ]) {
      const res = await getBytes(mediaA.url, 'carol', { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${n}`, range);
      assert.equal(Number(res.headers.get('content-length')), end - start + 1, range);
      assert.ok(res.body.equals(file.subarray(start, end + 1)), `${range}: bytes differ`);
    }
  });

  it('a <video> element, which cannot send a header, plays with ?token=', async () => {
    const file = readFileSync(mediaA.path);
    const url = (t) => `${srv.url}${mediaA.url}?token=${encodeURIComponent(t)}`;
    let res = await fetch(url(as.erin()), { headers: { range: 'bytes=100-199' } });
    assert.equal(res.status, 206);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(file.subarray(100, 200)));
    res = await fetch(url(`${as.erin()}x`));
    assert.equal(res.status, 401);
    await res.arrayBuffer();
    res = await fetch(`${srv.url}${mediaB.url}?token=${encodeURIComponent(as.erin())}`);
    assert.equal(res.status, 403, "still someone else's confidential session");
    await res.arrayBuffer();
    // Only the media route reads a token from the URL.
    res = await fetch(`${srv.url}/api/library?token=${encodeURIComponent(as.cora())}`);
    assert.equal(res.status, 401);
    await res.arrayBuffer();
  });

  it('an invalid or unsatisfiable Range is 416 with the size', async () => {
    const n = readFileSync(mediaA.path).length;
    for (const range of [`bytes=${n}-`, `bytes=${n + 5}-${n + 10}`, 'bytes=10-5', 'bytes=abc', 'bytes=-0',
      'items=0-5', 'bytes=0-1,5-6', 'bytes=--3', 'bytes=']) {
      const res = await getBytes(mediaA.url, 'bob', { range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get('content-range'), `bytes */${n}`, range);
    }
  });

  it('a client that goes away mid-request or mid-file leaves the server well', async () => {
    const request = (path, extra = '') =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${as.cora()}\r\n${extra}\r\n`;
    // Gone before the library answers: many at once, so that answers land
    // on closed connections.
    await Promise.all(Array.from({ length: 40 }, (_, i) => new Promise((resolveGone) => {
      const sock = net.connect(srv.port, '127.0.0.1', () => {
        sock.write(request(i % 2 ? '/api/library?q=pricing' : mediaA.url));
        setImmediate(() => sock.destroy());
      });
      sock.on('close', resolveGone);
      sock.on('error', () => {});
    })));
    // Gone after the first bytes of a file.
    await new Promise((resolveGone) => {
      const sock = net.connect(srv.port, '127.0.0.1', () => sock.write(request(mediaA.url)));
      sock.once('data', () => sock.destroy());
      sock.on('close', resolveGone);
      sock.on('error', () => {});
    });
    assert.ok(srv.running);
    assert.equal((await srv.healthz()).status, 'ok');
    const res = await getBytes(mediaA.url, 'bob', { range: 'bytes=0-9' });
    assert.equal(res.status, 206);
  });
});
