// Bad input on tribud's media path: garbage UDP datagrams at its ICE ports
// while a real call runs, malformed publish offers, stale subscriber
// answers, garbage candidates, and an offer whose DTLS fingerprint nothing
// will ever match. tribud must answer with the documented errors, keep the
// call going, stay healthy and exit 0.
//
// Like test-media.mjs this sends UDP, so it must run in a network namespace
// that holds only loopback (`meson test` runs it under `unshare -n`):
//   unshare -n sh -c 'ip link set lo up && TRIBUD=... TRIBU_CLIENT=... \
//     node --test --test-reporter=spec tests/integration/test-media-bad-input.mjs'
//
// The signaling side here is a plain WebSocket client (lib/tribud.mjs) that
// publishes offers written by hand: syntactically valid, with a random
// fingerprint and ICE credentials, so tribud answers them, gathers and
// announces its candidates. IceProbe then does the client's side of ICE
// (STUN checks with the offer's credentials) from a UDP socket, so that
// tribud selects that socket's address: what it sends next gets past
// libnice (which drops datagrams from unknown addresses) into tribud's own
// demultiplexer, DTLS and SRTP code. No DTLS handshake is ever done.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';

import { startTribud, waitFor, withTimeout } from './lib/tribud.mjs';
import { TRIBU_CLIENT, assertLoopbackOnly, joinPeer } from './lib/media.mjs';

const here = dirname(fileURLToPath(import.meta.url));

let srv;
let roomSeq = 0;
const freshRoom = (prefix = 'bad') => `${prefix}-${++roomSeq}`;

before(async () => {
  assertLoopbackOnly();
  assert.ok(existsSync(TRIBU_CLIENT), `no tribu-client at ${TRIBU_CLIENT}: build it or set TRIBU_CLIENT`);
  srv = await startTribud({ config: { media: { addresses: '127.0.0.1' }, rooms: { workshop_capacity: 10 } } });
});

afterEach(async () => {
  if (!srv) return;
  await Promise.all([...srv.clients].map((c) => c.close().catch(() => c.terminate())));
});

after(async () => {
  if (!srv) return;
  const code = await srv.cleanup();
  assert.equal(code, 0, `tribud did not exit cleanly:\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, srv.stderr);
});

/* ---- hand-made SDP ---- */

const hex = (n) => randomBytes(n).toString('hex');
const fingerprint = () =>
  randomBytes(32)
    .toString('hex')
    .toUpperCase()
    .match(/../g)
    .join(':');
const iceChars = () => randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, 'x');

/** A publish offer (audio opus + video VP8 with RTX) that tribud can answer;
 * nothing behind it will ever do ICE or DTLS. */
function makeOffer({ ufrag = iceChars().slice(0, 8), pwd = iceChars(), fp = fingerprint(), version = 1 } = {}) {
  const cname = hex(8);
  const [a, v, r] = [1, 2, 3].map(() => randomBytes(4).readUInt32BE(0) || 1);
  const common = [
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${ufrag}`,
    `a=ice-pwd:${pwd}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fp}`,
    'a=setup:actpass',
  ];
  const lines = [
    'v=0',
    `o=- ${BigInt('0x' + hex(7))} ${version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    ...common,
    'a=mid:0',
    'a=sendonly',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    `a=ssrc:${a} cname:${cname}`,
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
    ...common,
    'a=mid:1',
    'a=sendonly',
    'a=rtcp-mux',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 nack',
    'a=rtcp-fb:96 nack pli',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    `a=ssrc-group:FID ${v} ${r}`,
    `a=ssrc:${v} cname:${cname}`,
    `a=ssrc:${r} cname:${cname}`,
  ];
  return { sdp: lines.join('\r\n') + '\r\n', ufrag, pwd, fp };
}

/** ICE credentials and a fingerprint for makeAnswer() (keep them across
 * renegotiations: tribud refuses a changed fingerprint). */
const answerCreds = () => ({ ufrag: iceChars().slice(0, 8), pwd: iceChars(), fp: fingerprint() });

/** An answer to a subscriber offer: every section recvonly (inactive where
 * the offer's is), its first payload type, one BUNDLE group. */
function makeAnswer(offerSdp, { ufrag, pwd, fp } = answerCreds()) {
  const sections = offerSdp.split(/\r?\n(?=m=)/).slice(1);
  const mids = [];
  const out = [];
  for (const sec of sections) {
    const lines = sec.split(/\r?\n/).filter(Boolean);
    const [, kind, , proto, pt] = /^m=(\w+) (\d+) (\S+) (\d+)/.exec(lines[0]);
    const mid = /^a=mid:(.*)$/m.exec(sec)[1];
    mids.push(mid);
    out.push(
      `m=${kind} 9 ${proto} ${pt}`,
      'c=IN IP4 0.0.0.0',
      `a=ice-ufrag:${ufrag}`,
      `a=ice-pwd:${pwd}`,
      `a=fingerprint:sha-256 ${fp}`,
      'a=setup:active',
      `a=mid:${mid}`,
      /^a=inactive$/m.test(sec) ? 'a=inactive' : 'a=recvonly',
      'a=rtcp-mux',
      ...lines.filter((l) => l.startsWith(`a=rtpmap:${pt} `) || l.startsWith(`a=fmtp:${pt} `)),
    );
  }
  const head = ['v=0', `o=- ${BigInt('0x' + hex(7))} 1 IN IP4 127.0.0.1`, 's=-', 't=0 0',
    `a=group:BUNDLE ${mids.join(' ')}`];
  return [...head, ...out].join('\r\n') + '\r\n';
}

/** The server's candidates for PC from the events CLIENT has received, until
 * end-of-candidates: [{host, port}]. */
async function serverCandidates(client, pc, timeout = 10000) {
  const found = [];
  for (;;) {
    const ev = await client.nextEvent('candidate', { timeout, filter: (d) => d.pc === pc });
    if (ev.data.candidate === null) return found;
    const m = /^candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ /i.exec(ev.data.candidate.candidate);
    assert.ok(m, `unexpected candidate line: ${ev.data.candidate.candidate}`);
    found.push({ host: m[1], port: Number(m[2]) });
  }
}

function assertOkRes(res, what) {
  assert.equal(res.ok, true, `${what} failed: ${JSON.stringify(res)}`);
  return res.data;
}

function assertError(res, code, what) {
  assert.equal(res.ok, false, `${what} should fail with ${code}: ${JSON.stringify(res).slice(0, 500)}`);
  assert.equal(res.error?.code, code, `${what}: ${JSON.stringify(res).slice(0, 500)}`);
  assert.equal(typeof res.error.message, 'string');
  assert.ok(res.error.message.length > 0, 'empty error message');
}

/** tribud's UDP sockets (local ports), from `ss`, or undefined without ss. */
function tribudUdpPorts() {
  let out;
  try {
    out = execFileSync('ss', ['-H', '-uanp'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const ports = [];
  for (const line of out.split('\n')) {
    if (!line.includes(`pid=${srv.pid},`)) continue;
    const m = /\s\S+:(\d+)\s+\S+:\S+\s/.exec(line);
    if (m) ports.push(Number(m[1]));
  }
  return ports.sort((x, y) => x - y);
}

/* ---- just enough ICE to pass tribud's connectivity checks ---- */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const STUN_COOKIE = 0x2112a442;

function stunAttr(type, value) {
  const a = Buffer.alloc(4 + value.length + ((4 - (value.length % 4)) % 4));
  a.writeUInt16BE(type, 0);
  a.writeUInt16BE(value.length, 2);
  value.copy(a, 4);
  return a;
}

/** A STUN message (RFC 5389) with MESSAGE-INTEGRITY (short-term
 * credential KEY) and FINGERPRINT. */
function stunMessage(type, tid, attrs, key) {
  const header = (len) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(STUN_COOKIE, 4);
    tid.copy(h, 8);
    return h;
  };
  let body = Buffer.concat(attrs.map(([t, v]) => stunAttr(t, v)));
  const mi = createHmac('sha1', key).update(Buffer.concat([header(body.length + 24), body])).digest();
  body = Buffer.concat([body, stunAttr(0x0008, mi)]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(Buffer.concat([header(body.length + 8), body])) ^ 0x5354554e) >>> 0);
  body = Buffer.concat([body, stunAttr(0x8028, fp)]);
  return Buffer.concat([header(body.length), body]);
}

function xorMappedAddress(address, port) {
  const v = Buffer.alloc(8);
  v[1] = 0x01;
  v.writeUInt16BE(port ^ (STUN_COOKIE >>> 16), 2);
  const ip = address.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  v.writeUInt32BE((ip ^ STUN_COOKIE) >>> 0, 4);
  return v;
}

/**
 * A UDP socket that does the ICE controlling side's part (RFC 8445) with
 * tribud's publish transport: it answers tribud's checks and sends its own
 * with USE-CANDIDATE until one succeeds, so that tribud selects this
 * socket's address. No DTLS follows; whatever else is sent from this socket
 * then reaches tribud's own demultiplexer (libnice drops datagrams from
 * addresses that are not a remote candidate).
 */
class IceProbe {
  static async open() {
    const probe = new IceProbe();
    await new Promise((r) => probe.sock.bind(0, '127.0.0.1', r));
    probe.port = probe.sock.address().port;
    return probe;
  }

  constructor() {
    this.sock = dgram.createSocket('udp4');
    this.ufrag = iceChars().slice(0, 8);
    this.pwd = iceChars();
    this.checksAnswered = 0;
    this.succeeded = false;
    this.sock.on('message', (msg, rinfo) => this._onMessage(msg, rinfo));
  }

  _onMessage(msg, rinfo) {
    if (msg.length < 20 || msg.readUInt32BE(4) !== STUN_COOKIE) return;
    const type = msg.readUInt16BE(0);
    const tid = msg.subarray(8, 20);
    if (type === 0x0001) {
      // tribud's check (or consent freshness): success, keyed with our pwd.
      const res = stunMessage(0x0101, tid, [[0x0020, xorMappedAddress(rinfo.address, rinfo.port)]], this.pwd);
      this.sock.send(res, rinfo.port, rinfo.address);
      this.checksAnswered++;
    } else if (type === 0x0101 && this.tid && tid.equals(this.tid)) {
      this.succeeded = true;
    }
  }

  /** Sends nominating checks to PORT until one succeeds and tribud answered
   * one of ours... both ways, within TIMEOUT ms. */
  async connect(port, serverUfrag, serverPwd, timeout = 10000) {
    const deadline = Date.now() + timeout;
    const tiebreaker = randomBytes(8);
    while (!(this.succeeded && this.checksAnswered > 0)) {
      if (Date.now() > deadline)
        throw new Error(`ICE with tribud: no success in ${timeout} ms (answered ${this.checksAnswered} checks)`);
      this.tid = randomBytes(12);
      const prio = Buffer.alloc(4);
      prio.writeUInt32BE(0x6e0001ff);
      const req = stunMessage(
        0x0001,
        this.tid,
        [
          [0x0006, Buffer.from(`${serverUfrag}:${this.ufrag}`)], // USERNAME
          [0x0024, prio], // PRIORITY
          [0x802a, tiebreaker], // ICE-CONTROLLING
          [0x0025, Buffer.alloc(0)], // USE-CANDIDATE
        ],
        serverPwd,
      );
      this.sock.send(req, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  send(buf, port) {
    return new Promise((r) => this.sock.send(buf, port, '127.0.0.1', () => r()));
  }

  close() {
    this.sock.close();
  }
}

/** Publishes a hand-made offer whose ICE credentials are PROBE's on CLIENT,
 * and makes tribud's publish transport select PROBE's address. Returns
 * {answer, serverPort, serverUfrag}. */
async function publishAndConnect(client, probe) {
  const offer = makeOffer({ ufrag: probe.ufrag, pwd: probe.pwd });
  const answer = assertOkRes(await client.request('publish', { sdp: offer.sdp }), 'publish').sdp;
  const serverUfrag = /^a=ice-ufrag:(.*)$/m.exec(answer)[1].trim();
  const serverPwd = /^a=ice-pwd:(.*)$/m.exec(answer)[1].trim();
  const cands = await serverCandidates(client, 'publish');
  assert.ok(cands.length > 0, 'tribud announced no publish candidate');
  for (const c of cands) assert.equal(c.host, '127.0.0.1', 'candidates on the [media] addresses only');
  assertOkRes(
    await client.request('candidate', {
      pc: 'publish',
      candidate: { candidate: `candidate:1 1 UDP 2130706431 127.0.0.1 ${probe.port} typ host`, sdpMid: '0' },
    }),
    'candidate',
  );
  assertOkRes(await client.request('candidate', { pc: 'publish', candidate: null }), 'end-of-candidates');
  await probe.connect(cands[0].port, serverUfrag, serverPwd);
  // tribud's view: this pair is selected; DTLS has not happened.
  const st = await waitFor(
    async () => {
      const s = assertOkRes(await client.request('stats'), 'stats').publish;
      return s?.remote_candidate?.startsWith(`127.0.0.1:${probe.port} `) ? s : false;
    },
    { timeout: 10000, interval: 100, what: 'tribud to select the probe\u2019s address' },
  );
  assert.equal(st.srtp_profile, null);
  return { answer, serverPort: cands[0].port, serverUfrag, ports: cands.map((c) => c.port) };
}

/* ---- a real call, with tribu-client ---- */

/** A tribu-client (a ClientPeer) with --stats and --verbose (its stderr
 * then shows the server's candidates) joined as USER to ROOM of KIND. */
const peer = ({ user, room, kind = 'coaching', args = [] }) =>
  joinPeer(srv, { user, room, kind, args: ['--verbose', ...args] });

/** The server's candidate ports client P was given (both PCs), from its
 * --verbose stderr. */
function serverPorts(p) {
  const ports = new Set();
  for (const m of p.stderr.matchAll(/remote candidate \(m-line \d+\) candidate:\S+ \d+ UDP \d+ (\S+) (\d+) typ/gi))
    ports.add(Number(m[2]));
  return [...ports];
}

function assertRunOk(run, who) {
  assert.equal(
    run.code,
    0,
    `${who} failed (exit ${run.code ?? run.signal}): ${run.result?.reason}\n${JSON.stringify(run.result)}\n` +
      `--- stderr (tail) ---\n${run.stderr.slice(-4000)}`,
  );
  assert.equal(run.result?.result, 'ok');
  return run.result;
}

/* ---- garbage datagrams ---- */

/** A small seeded PRNG (mulberry32), so that a failing spray can be replayed. */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Datagrams of every kind tribud's demultiplexer tells apart (RFC 7983:
 * STUN 0-3, DTLS 20-63, RTP/RTCP 128-191), malformed in many ways. UFRAG
 * (the server's, when known) makes STUN requests that reach the
 * credential check. Without DTLS, no datagram starts with 20..63. */
function garbage(rand, ufrag = 'abcd', { dtls = true } = {}) {
  const int = (n) => Math.floor(rand() * n);
  const bytes = (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const out = [];
  const isDtls = (d) => d.length > 0 && d[0] >= 20 && d[0] <= 63;
  // Random bytes, and one datagram per possible first byte.
  for (let i = 0; i < 20; i++) out.push(bytes(int(1400)));
  out.push(Buffer.alloc(0));
  for (let first = 0; first < 256; first += 1 + int(8)) out.push(Buffer.concat([Buffer.from([first]), bytes(int(40))]));
  // Fake RTP: unknown SSRCs, our payload types, broken headers.
  for (let i = 0; i < 20; i++) {
    const h = Buffer.alloc(12);
    h[0] = 0x80 | (i % 3 === 0 ? 0x10 : 0) | (i % 5 === 0 ? 0x20 : 0) | (i % 4 === 0 ? int(16) : 0);
    h[1] = (i % 2 ? 0x80 : 0) | [96, 97, 111, 98, 102, int(128)][i % 6];
    h.writeUInt16BE(int(65536), 2);
    h.writeUInt32BE(int(2 ** 32), 4);
    h.writeUInt32BE(int(2 ** 32), 8);
    const body = bytes(int(1200));
    if (h[0] & 0x20 && body.length) body[body.length - 1] = 255; // padding longer than the payload
    out.push(Buffer.concat([h, body]).subarray(0, i % 7 === 0 ? 1 + int(12) : undefined));
  }
  // Fake and truncated RTCP (SR, RR, SDES, BYE, APP, RTPFB, PSFB).
  for (let i = 0; i < 20; i++) {
    const pt = 200 + (i % 7);
    const h = Buffer.alloc(8);
    h[0] = 0x80 | int(32);
    h[1] = pt;
    h.writeUInt16BE(i % 2 ? 0xffff : int(64), 2);
    h.writeUInt32BE(int(2 ** 32), 4);
    const len = [1, 3, 4, 7, 8][i % 5];
    out.push(i % 3 === 0 ? h.subarray(0, len) : Buffer.concat([h, bytes(int(64))]));
  }
  // Fake DTLS records: handshake (ClientHello-ish), alert, application
  // data, change cipher spec; lengths that lie; epochs that do not exist.
  for (let i = 0; i < 20; i++) {
    const ct = [22, 21, 23, 20, 25, 63][i % 6];
    const body = i % 6 === 0 ? Buffer.concat([Buffer.from([1]), bytes(3 + int(300))]) : bytes(int(200));
    const rec = Buffer.alloc(13);
    rec[0] = ct;
    rec.writeUInt16BE([0xfefd, 0xfeff, 0x0303, int(65536)][i % 4], 1);
    rec.writeUInt16BE(i % 5 === 0 ? int(65536) : 0, 3); // epoch
    rec.writeUIntBE(int(2 ** 48), 5, 6); // sequence number
    rec.writeUInt16BE(i % 2 ? body.length : int(65536), 11);
    if (dtls) out.push(Buffer.concat([rec, body]).subarray(0, i % 4 === 3 ? int(13) : undefined));
  }
  // STUN-looking junk: binding requests with a lying length, broken
  // attributes, a USERNAME with the server's ufrag and a bogus
  // MESSAGE-INTEGRITY, unsolicited responses.
  for (let i = 0; i < 20; i++) {
    const type = [0x0001, 0x0101, 0x0111, 0x0011, int(0x4000)][i % 5];
    const user = Buffer.from(`${ufrag}:${iceChars().slice(0, 4)}`);
    const attrs = [];
    const attr = (t, v) => {
      const a = Buffer.alloc(4 + v.length + ((4 - (v.length % 4)) % 4));
      a.writeUInt16BE(t, 0);
      a.writeUInt16BE(i % 4 === 1 ? int(65536) : v.length, 2);
      v.copy(a, 4);
      attrs.push(a);
    };
    attr(0x0006, user); // USERNAME
    attr(0x0024, bytes(4)); // PRIORITY
    if (i % 2) attr(0x8029, bytes(8)); // ICE-CONTROLLING
    if (i % 3) attr(0x0025, Buffer.alloc(0)); // USE-CANDIDATE
    attr(0x0008, bytes(20)); // MESSAGE-INTEGRITY (wrong)
    if (i % 2 === 0) attr(0x8028, bytes(4)); // FINGERPRINT (wrong)
    const body = Buffer.concat(attrs);
    const h = Buffer.alloc(20);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(i % 3 === 2 ? int(65536) : body.length, 2);
    h.writeUInt32BE(0x2112a442, 4);
    bytes(12).copy(h, 8);
    out.push(Buffer.concat([h, body]).subarray(0, i % 6 === 5 ? int(24) : undefined));
  }
  return dtls ? out : out.filter((d) => !isDtls(d));
}

/** Sends ROUNDS rounds of garbage() from PROBE to each of PORTS on
 * 127.0.0.1, 50 ms apart; returns the number of datagrams sent. */
async function spray(probe, ports, { seed, rounds = 10, ufrag, dtls = true } = {}) {
  const rand = prng(seed);
  let sent = 0;
  for (let round = 0; round < rounds; round++) {
    for (const port of ports) {
      for (const d of garbage(rand, ufrag, { dtls })) {
        await probe.send(d, port);
        sent++;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return sent;
}

describe('media bad input', () => {
  it('garbage datagrams at every media port do not disturb a call', { timeout: 150000 }, async (t) => {
    // A prober in another room publishes a hand-made offer and does ICE
    // with tribud, so that its datagrams get past libnice into tribud's
    // own demultiplexer, DTLS and SRTP code.
    const [prober, jr] = await srv.connectAndJoin({ user: 'prober', room: freshRoom('probe'), kind: 'workshop' });
    assertOkRes(jr, 'prober join');
    const probe = await IceProbe.open();
    try {
      const { serverUfrag, serverPort, ports: probePorts } = await publishAndConnect(prober, probe);
      const seed = Number(process.env.TRIBU_SPRAY_SEED ?? Date.now() % 100000);
      t.diagnostic(`spray seed ${seed} (set TRIBU_SPRAY_SEED to replay)`);
      // First everything but DTLS-looking datagrams, at the prober's own
      // transport: tribud counts and drops them, the transport lives on.
      const st0 = assertOkRes(await prober.request('stats'), 'stats').publish;
      const sent0 = await spray(probe, [serverPort], { seed, rounds: 5, ufrag: serverUfrag, dtls: false });
      assert.equal((await srv.healthz()).status, 'ok');
      const st1 = await waitFor(
        async () => {
          const st = assertOkRes(await prober.request('stats'), 'stats').publish;
          return st.dropped_in >= st0.dropped_in + sent0 / 4 ? st : false;
        },
        { timeout: 5000, interval: 100, what: `tribud to count the ${sent0} junk datagrams in dropped_in` },
      ).catch(async (err) => {
        throw new Error(`${err.message}: ${JSON.stringify((await prober.request('stats')).data?.publish)}`);
      });
      t.diagnostic(`${sent0} non-DTLS datagrams: dropped_in ${st0.dropped_in} -> ${st1.dropped_in}`);
      assert.equal(st1.state, 'connecting', 'the junk did not fail the transport');
      assert.equal(st1.packets_in, 0, 'no junk was taken for SRTP');
      assert.deepEqual(prober.queued('removed'), []);

      // The call.
      const room = freshRoom('call');
      const common = ['--expect-video-from', '1', '--expect-audio-from', '1', '--timeout', '90'];
      const alice = peer({ user: 'alice', room, args: common });
      const bob = peer({ user: 'bob', room, args: common });
      const seen = (p, other) => p.latest?.received?.[other.latest?.participant_id];
      const framesFrom = (p, other) => seen(p, other)?.video_frames ?? 0;
      let before;
      try {
        await Promise.all([
          alice.until(() => framesFrom(alice, bob) >= 30 && seen(alice, bob).audio_buffers >= 50, 'video from bob'),
          bob.until(() => framesFrom(bob, alice) >= 30 && seen(bob, alice).audio_buffers >= 50, 'video from alice'),
        ]);
        // Every port the call uses (two PCs each), the prober's, and any
        // other UDP socket tribud has open.
        const ports = new Set([...serverPorts(alice), ...serverPorts(bob), ...probePorts]);
        assert.ok(ports.size >= 5, `server ports: ${[...ports]}`);
        for (const p of tribudUdpPorts() ?? []) ports.add(p);
        before = { a: framesFrom(alice, bob), b: framesFrom(bob, alice) };
        const sent = await spray(probe, [...ports], { seed: seed + 1, rounds: 10, ufrag: serverUfrag });
        t.diagnostic(`${sent} datagrams, DTLS-looking ones included, at ports ${[...ports].join(' ')}`);
        // tribud stays up and answers; the call goes on.
        assert.equal((await srv.healthz()).status, 'ok');
        assertOkRes(await prober.request('ping'), 'ping');
        const during = { a: framesFrom(alice, bob), b: framesFrom(bob, alice) };
        await Promise.all([
          alice.until(() => framesFrom(alice, bob) >= during.a + 30, '30 more frames from bob after the spray'),
          bob.until(() => framesFrom(bob, alice) >= during.b + 30, '30 more frames from alice after the spray'),
        ]);
      } finally {
        await Promise.all([alice.stop(), bob.stop()]);
      }
      const [ra, rb] = [assertRunOk(await alice.done, 'alice'), assertRunOk(await bob.done, 'bob')];
      for (const [r, who] of [[ra, 'alice'], [rb, 'bob']]) {
        for (const pc of ['publish', 'subscribe']) {
          assert.ok(['connected', 'completed'].includes(r[pc].ice), `${who} ${pc} ICE ${r[pc].ice}`);
          assert.equal(r[pc].dtls, 'connected', `${who} ${pc} DTLS`);
        }
      }
      assert.ok(ra.received[rb.participant_id].video_frames >= before.a + 30);
      assert.ok(rb.received[ra.participant_id].video_frames >= before.b + 30);
      // Fake DTLS records from the address ICE selected may end the
      // prober's handshake (OpenSSL takes a cleartext alert): then the
      // prober, and only it, is removed with media-failed.
      const removed = prober.queued('removed');
      const media = prober.queued('media-state').map((e) => e.data);
      t.diagnostic(`prober media-state events: ${JSON.stringify(media)}; removed: ${JSON.stringify(removed)}`);
      if (removed.length === 0) {
        const st = assertOkRes(await prober.request('stats'), 'stats').publish;
        assert.notEqual(st.state, 'connected', 'no one did DTLS with the prober transport');
      } else {
        assert.equal(removed[0].data.reason, 'media-failed', JSON.stringify(removed));
        assert.match(media.at(-1)?.reason ?? '', /^DTLS/, JSON.stringify(media));
      }
    } finally {
      probe.close();
    }
    assert.equal((await srv.healthz()).status, 'ok');
  });

  it('a malformed publish offer gets bad-field; the connection stays usable', { timeout: 60000 }, async (t) => {
    const [c, jr] = await srv.connectAndJoin({ user: 'sdp', room: freshRoom('sdp'), kind: 'workshop' });
    assertOkRes(jr, 'join');
    const good = makeOffer();
    const without = (re) => good.sdp.split('\r\n').filter((l) => !re.test(l)).join('\r\n');
    // [what, sdp, what the message must say]
    const cases = [
      ['not SDP', 'hello world', /v=0/],
      ['only v=0', 'v=0\r\n', /o= line/],
      ['no o= line', without(/^o=/), /o= line/],
      ['no ICE credentials', without(/^a=ice-(ufrag|pwd):/), /ice-ufrag/],
      ['no fingerprint', without(/^a=fingerprint:/), /fingerprint/],
      ['a malformed fingerprint', good.sdp.replace(/a=fingerprint:sha-256 \S+/g, 'a=fingerprint:sha-256 ZZ:TOP'),
        /fingerprint/],
      ['a malformed m= line', good.sdp.replace('m=video 9 UDP/TLS/RTP/SAVPF 96 97', 'm=video nine UDP/TLS/RTP/SAVPF x'),
        /section 1/],
      ['a malformed rtpmap', good.sdp.replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:96'), /rtpmap/],
      ['an unsupported a=setup', good.sdp.replace(/a=setup:actpass/g, 'a=setup:sideways'), /setup/],
      ['a control character', good.sdp.replace('s=-', 's=\u0001'), /control/],
      ['an empty string', '', /empty/],
      ['a number', 42, /string/],
      ['an object', { sdp: good.sdp }, /string/],
      ['too long', good.sdp + 'a=x-pad:' + 'x'.repeat(61440) + '\r\n', /61440/],
      ['too many sections', good.sdp + Array.from({ length: 70 }, (_, i) =>
        `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x${i}\r\na=rtpmap:111 opus/48000/2\r\n`).join(''), /64/],
    ];
    const messages = [];
    for (const [what, sdp, says] of cases) {
      const res = await c.request('publish', { sdp });
      assertError(res, 'bad-field', `publish with ${what}`);
      assert.match(res.error.message, says, `publish with ${what}`);
      messages.push(`${what}: ${res.error.message}`);
    }
    t.diagnostic(messages.join('; '));
    assertError(await c.request('publish', { sdp: good.sdp, tracks: [{ mid: '0', source: 'radio' }] }), 'bad-field',
      'a bad tracks entry');
    assertError(await c.request('publish', {}), 'missing-field', 'publish without sdp');
    // Nothing of that stuck: the same connection publishes a good offer...
    const answer = assertOkRes(await c.request('publish', { sdp: good.sdp }), 'a good publish');
    assert.match(answer.sdp, /^a=setup:passive$/m);
    const updated = await c.nextEvent('participant-updated', { timeout: 10000 });
    assert.equal(updated.data.participant.tracks.length, 2, JSON.stringify(updated.data));
    // ...but may not change its DTLS fingerprint when it renegotiates.
    const other = makeOffer({ ufrag: good.ufrag, pwd: good.pwd, version: 2 });
    assertError(await c.request('publish', { sdp: other.sdp }), 'bad-field', 'a changed fingerprint');
    assertOkRes(await c.request('ping'), 'ping');
    assert.equal((await srv.healthz()).status, 'ok');
  });

  it('a subscriber-answer with a stale or unknown version gets conflict', { timeout: 60000 }, async () => {
    const room = freshRoom('stale');
    const [pub, r1] = await srv.connectAndJoin({ user: 'pub', room, kind: 'workshop' });
    assertOkRes(r1, 'pub join');
    const [sub, r2] = await srv.connectAndJoin({ user: 'sub', room, kind: 'workshop' });
    assertOkRes(r2, 'sub join');
    // Before any offer: nothing to answer.
    assertError(await sub.request('subscriber-answer', { version: 1, sdp: 'v=0\r\n' }), 'conflict', 'answer before any offer');
    const pubOffer = makeOffer();
    assertOkRes(await pub.request('publish', { sdp: pubOffer.sdp }), 'publish');
    const tm = await sub.nextEvent('track-map', { timeout: 10000 });
    assert.equal(tm.data.tracks.length, 2, JSON.stringify(tm.data));
    const o1 = await sub.nextEvent('subscriber-offer', { timeout: 10000 });
    assert.equal(o1.data.version, 1);
    const creds = answerCreds();
    const a1 = makeAnswer(o1.data.sdp, creds);
    assertError(await sub.request('subscriber-answer', { version: 0, sdp: a1 }), 'conflict', 'version 0');
    assertError(await sub.request('subscriber-answer', { version: 2, sdp: a1 }), 'conflict', 'a future version');
    assertOkRes(await sub.request('subscriber-answer', { version: 1, sdp: a1 }), 'the answer to version 1');
    assertError(await sub.request('subscriber-answer', { version: 1, sdp: a1 }), 'conflict', 'version 1 again');
    // A change: the next offer (version 2) pauses both sections.
    assertOkRes(await pub.request('unpublish'), 'unpublish');
    const o2 = await sub.nextEvent('subscriber-offer', { timeout: 10000 });
    assert.equal(o2.data.version, 2);
    assert.equal(o2.data.sdp.match(/^a=inactive/gm)?.length, 2, o2.data.sdp);
    const a2 = makeAnswer(o2.data.sdp, creds);
    assertError(await sub.request('subscriber-answer', { version: 1, sdp: a2 }), 'conflict', 'the stale version 1');
    assertOkRes(await sub.request('subscriber-answer', { version: 2, sdp: a2 }), 'the answer to version 2');
    // An answer with the right version that tribud cannot use: bad-field,
    // and that offer is spent: a fresh one (version 4) follows.
    assertOkRes(await pub.request('publish', { sdp: pubOffer.sdp }), 'publish again');
    const o3 = await sub.nextEvent('subscriber-offer', { timeout: 10000 });
    assert.equal(o3.data.version, 3);
    const broken = makeAnswer(o3.data.sdp, creds).replace(/^m=video .*$/m, (m) => m.replace(' 96', ' 100'));
    const res3 = await sub.request('subscriber-answer', { version: 3, sdp: broken });
    assertError(res3, 'bad-field', 'an answer without the offered payload type');
    assert.match(res3.error.message, /payload type 96/);
    assertError(await sub.request('subscriber-answer', { version: 3, sdp: 'not sdp' }), 'conflict', 'version 3 again');
    const o4 = await sub.nextEvent('subscriber-offer', { timeout: 10000 });
    assert.equal(o4.data.version, 4);
    assertError(await sub.request('subscriber-answer', { version: 4, sdp: 'v=0\r\n' }), 'bad-field', 'an SDP that does not parse');
    const o5 = await sub.nextEvent('subscriber-offer', { timeout: 10000 });
    assert.equal(o5.data.version, 5);
    assertOkRes(await sub.request('subscriber-answer', { version: 5, sdp: makeAnswer(o5.data.sdp, creds) }), 'version 5');
    assertOkRes(await sub.request('ping'), 'ping');
    assert.equal((await srv.healthz()).participants >= 2, true);
  });

  it('garbage candidates are ignored or refused with bad-field', { timeout: 60000 }, async () => {
    const [c, jr] = await srv.connectAndJoin({ user: 'cand', room: freshRoom('cand'), kind: 'workshop' });
    assertOkRes(jr, 'join');
    const lines = [
      'garbage',
      'candidate:',
      'candidate:1 1 UDP',
      'candidate:1 1 UDP 99999999999999999999999 999.1.1.1 99999 typ host',
      'candidate:1 1 UDP 2015363327 127.0.0.1 -1 typ host',
      'candidate:1 1 UDP 2015363327 127.0.0.1 0 typ host',
      'candidate:1 1 UDP 2015363327 127.0.0.1 5000 typ nonsense raddr x rport y',
      'candidate:1 1 TCP 2015363327 127.0.0.1 9 typ host tcptype active',
      'candidate:1 1 UDP 2015363327 abcd-1234.local 5000 typ host',
      'candidate:1 1 UDP 2015363327 ::1 5000 typ host',
      'candidate:1 1 UDP 2015363327 [::1] 5000 typ host',
      'a=candidate:1 1 UDP 2015363327 127.0.0.1 5000 typ srflx raddr 0.0.0.0 rport 0',
      'candidate:\u00e9\u00e9 1 UDP 1 1.2.3.4 1 typ host',
      'candidate:' + 'x '.repeat(500),
      'end-of-candidates',
    ];
    // Before and after a publish (queued, then applied), and for subscribe
    // (no offer yet).
    const send = async (pc) => {
      for (const line of lines) {
        const res = await c.request('candidate', { pc, candidate: { candidate: line, sdpMid: '0', sdpMLineIndex: 0 } });
        if (!res.ok) assertError(res, 'bad-field', `candidate ${JSON.stringify(line).slice(0, 60)}`);
        // The rate limit is 20 a second (burst 40).
        await new Promise((r) => setTimeout(r, 60));
      }
    };
    await send('publish');
    await send('subscribe');
    assertOkRes(await c.request('publish', { sdp: makeOffer().sdp }), 'publish after garbage candidates');
    await send('publish');
    assertError(await c.request('candidate', { pc: 'publish', candidate: { candidate: 'c'.repeat(1025) } }),
      'bad-field', 'a candidate over 1024 bytes');
    assertError(await c.request('candidate', { pc: 'publish', candidate: 'candidate:1 1 UDP 1 1.2.3.4 1 typ host' }),
      'bad-field', 'candidate not an object');
    assertError(await c.request('candidate', { pc: 'publish', candidate: { candidate: 7 } }), 'bad-field',
      'candidate.candidate a number');
    assertError(await c.request('candidate', { pc: 'sideways', candidate: null }), 'bad-field', 'pc sideways');
    assertError(await c.request('candidate', { candidate: null }), 'missing-field', 'no pc');
    assertOkRes(await c.request('ping'), 'ping');
    const st = assertOkRes(await c.request('stats'), 'stats');
    assert.ok(st.publish, 'the publish transport exists');
    assert.equal((await srv.healthz()).status, 'ok');
  });

  it('a peer whose fingerprint never shows: ICE connects, DTLS never does; all cleaned up on disconnect', { timeout: 60000 }, async () => {
    // Everything of the earlier tests is gone.
    await waitFor(async () => (await srv.healthz()).participants === 0, { timeout: 10000, what: 'participants 0' });
    const udpBefore = tribudUdpPorts();
    const room = freshRoom('fp');
    const [c, jr] = await srv.connectAndJoin({ user: 'ghost', room, kind: 'coaching' });
    assertOkRes(jr, 'join');
    const probe = await IceProbe.open();
    let ports;
    try {
      // The offer's fingerprint is random: no certificate has it, and no
      // ClientHello ever comes.
      ({ ports } = await publishAndConnect(c, probe));
      assert.equal((await srv.healthz()).participants, 1);
      await new Promise((r) => setTimeout(r, 1000));
      const st = assertOkRes(await c.request('stats'), 'stats').publish;
      assert.equal(st.state, 'connecting', JSON.stringify(st));
      assert.equal(st.srtp_profile, null);
      assert.deepEqual(c.queued('removed'), []);
      if (udpBefore) {
        const during = tribudUdpPorts();
        for (const port of ports) assert.ok(during.includes(port), `tribud listens on ${port}: ${during}`);
      }
      // The client vanishes without a word.
      await c.terminate();
    } finally {
      probe.close();
    }
    await waitFor(async () => (await srv.healthz()).participants === 0, { timeout: 10000, what: 'participants 0' });
    const h = await srv.healthz();
    assert.equal(h.rooms, 0, `the empty room is closed: ${JSON.stringify(h)}`);
    if (udpBefore) {
      // Its ICE socket is closed too.
      await waitFor(() => ports.every((port) => !tribudUdpPorts().includes(port)), {
        timeout: 10000,
        what: `tribud to close its UDP sockets ${ports}`,
      });
    }
    await waitFor(async () => (await srv.metric('tribu_participants')) === 0, { what: 'tribu_participants 0' });
  });
  it('a real peer whose fingerprint does not match: ICE connects, DTLS is refused, counted, nothing forwarded, all cleaned up', { timeout: 120000 }, async (t) => {
    await waitFor(async () => (await srv.healthz()).participants === 0, { timeout: 10000, what: 'participants 0' });
    const metric = () => srv.metric('tribu_dtls_failures_total{reason="fingerprint-mismatch"}');
    const mismatches0 = await metric();
    assert.equal(typeof mismatches0, 'number', 'tribu_dtls_failures_total{reason="fingerprint-mismatch"} in /metrics');
    const room = freshRoom('badfp');
    const common = ['--expect-video-from', '1', '--expect-audio-from', '1', '--timeout', '90'];
    const alice = peer({ user: 'alice', room, kind: 'workshop', args: common });
    const bob = peer({ user: 'bob', room, kind: 'workshop', args: common });
    const seen = (p, pid) => p.latest?.received?.[pid];
    const framesFrom = (p, other) => seen(p, other.latest?.participant_id)?.video_frames ?? 0;
    let mallory;
    let malloryPid;
    try {
      await Promise.all([
        alice.until(() => framesFrom(alice, bob) >= 30, 'video from bob'),
        bob.until(() => framesFrom(bob, alice) >= 30, 'video from alice'),
      ]);
      // Mallory's SDP carries another fingerprint than her certificate's.
      mallory = peer({ user: 'mallory', room, kind: 'workshop', args: ['--bad-fingerprint', '--timeout', '60'] });
      const run = await mallory.done;
      assert.notEqual(run.code, 0, 'mallory should fail');
      malloryPid = run.result?.participant_id;
      assert.ok(malloryPid, JSON.stringify(run.result));
      assert.equal(run.result.reason, 'removed from the room (media-failed)', JSON.stringify(run.result));
      // Her ICE got connected: the refusal is DTLS's. Whichever of her two
      // PeerConnections connects first fails DTLS and removes her, so the
      // other may never get that far.
      assert.match(mallory.stderr, /(publish|subscribe): ice-connection-state -> (connected|completed)/,
        mallory.stderr.slice(-3000));
      // The client is told why before it is removed.
      assert.match(mallory.stderr, /<- \{"event": ?"media-state".*"state": ?"failed".*"reason": ?"DTLS: fingerprint mismatch"/,
        mallory.stderr.slice(-3000));
      assert.match(mallory.stderr, /<- \{"event": ?"removed".*"media-failed"/);
      // tribud counted and logged it: a few lines, never one a datagram.
      assert.ok((await metric()) >= mismatches0 + 1, `fingerprint mismatches ${mismatches0} -> ${await metric()}`);
      const logged = srv.stderr.split('\n').filter((l) => l.includes(`${room}/${malloryPid}`) && /fingerprint mismatch/.test(l));
      t.diagnostic(`tribud log: ${logged.join(' | ')}`);
      // At most three lines a PeerConnection (the DTLS failure, the
      // transport's, the removal), both of hers if both got that far.
      assert.ok(logged.length >= 1 && logged.length <= 6, logged.join('\n'));
      // The others: told she left, nothing of her forwarded, their call
      // goes on.
      const during = { a: framesFrom(alice, bob), b: framesFrom(bob, alice) };
      await Promise.all([
        alice.until(() => framesFrom(alice, bob) >= during.a + 30, '30 more frames from bob'),
        bob.until(() => framesFrom(bob, alice) >= during.b + 30, '30 more frames from alice'),
      ]);
      for (const p of [alice, bob]) {
        const got = seen(p, malloryPid);
        assert.ok(!got || (got.video_frames === 0 && got.audio_buffers === 0), `${p.user} got media of mallory: ${JSON.stringify(got)}`);
      }
      assert.equal((await srv.healthz()).participants, 2);
      // Her server sockets are closed.
      const ports = serverPorts(mallory);
      assert.ok(ports.length > 0, 'mallory was given server candidates');
      if (tribudUdpPorts()) {
        await waitFor(() => ports.every((port) => !tribudUdpPorts().includes(port)), {
          timeout: 10000,
          what: `tribud to close mallory's UDP sockets ${ports}`,
        });
      }
    } finally {
      await Promise.all([alice.stop(), bob.stop(), mallory?.stop()]);
    }
    const [ra, rb] = [assertRunOk(await alice.done, 'alice'), assertRunOk(await bob.done, 'bob')];
    for (const r of [ra, rb]) {
      const got = r.received[malloryPid];
      assert.ok(!got || (got.video_frames === 0 && got.audio_buffers === 0), JSON.stringify(r.received));
    }
    await waitFor(async () => (await srv.healthz()).participants === 0, { timeout: 10000, what: 'participants 0' });
    assert.equal((await srv.healthz()).rooms, 0);
  });
  it('an SDP of 1 MiB, 1 000 candidates in an offer and 100 trickled: refused clearly; a real call in the room goes on', { timeout: 120000 }, async (t) => {
    const room = freshRoom('bigsdp');
    const common = ['--expect-video-from', '1', '--expect-audio-from', '1', '--timeout', '90'];
    const alice = peer({ user: 'alice', room, kind: 'workshop', args: common });
    const bob = peer({ user: 'bob', room, kind: 'workshop', args: common });
    const seen = (p, other) => p.latest?.received?.[other.latest?.participant_id];
    const framesFrom = (p, other) => seen(p, other)?.video_frames ?? 0;
    try {
      await Promise.all([
        alice.until(() => framesFrom(alice, bob) >= 30, 'video from bob'),
        bob.until(() => framesFrom(bob, alice) >= 30, 'video from alice'),
      ]);
      const before = { a: framesFrom(alice, bob), b: framesFrom(bob, alice) };

      // 1 MiB in one publish: past the 64 KiB frame limit.
      const [big, jb] = await srv.connectAndJoin({ user: 'big', room, kind: 'workshop' });
      assertOkRes(jb, 'join');
      const huge = makeOffer().sdp + 'a=x-pad:' + 'x'.repeat(1 << 20) + '\r\n';
      big.send(JSON.stringify({ type: 'publish', id: 'mib', sdp: huge }));
      const tooLarge = await big.nextStray({ timeout: 10000 });
      assertError(tooLarge, 'too-large', 'a 1 MiB publish');
      const { code } = await withTimeout(big.closed, 10000, 'close after too-large');
      assert.equal(code, 1009);

      // 1 000 a=candidate lines (short ones: the offer fits the frame).
      const [c, jr] = await srv.connectAndJoin({ user: 'cands', room, kind: 'workshop' });
      assertOkRes(jr, 'join');
      const offer = makeOffer();
      const lines = Array.from({ length: 1000 }, (_, i) => `a=candidate:${i} 1 udp 1 127.0.0.1 ${20000 + i} typ host`);
      const many = offer.sdp.replace('a=mid:0\r\n', `a=mid:0\r\n${lines.join('\r\n')}\r\n`);
      assert.ok(many.length < 61440, `the offer is ${many.length} bytes`);
      const res = await c.request('publish', { sdp: many });
      assertError(res, 'bad-field', 'an offer with 1 000 candidates');
      assert.match(res.error.message, /more than 64 a=candidate/);
      t.diagnostic(`1 000 candidates (${many.length} bytes): ${res.error.message}`);
      // The same connection publishes a good offer, then trickles 100
      // candidates: 64 are taken, the rest refused, each with a clear error.
      assertOkRes(await c.request('publish', { sdp: offer.sdp }), 'a good publish');
      const refused = [];
      for (let i = 0; i < 100; i++) {
        const r = await c.request('candidate', {
          pc: 'publish',
          candidate: { candidate: `candidate:${i} 1 UDP 1 127.0.0.1 ${30000 + i} typ host`, sdpMid: '0' },
        });
        if (i < 64) assertOkRes(r, `trickled candidate ${i}`);
        else {
          assertError(r, 'bad-field', `trickled candidate ${i}`);
          assert.match(r.error.message, /too many candidates for this PeerConnection \(64 at most\)/);
          refused.push(i);
        }
        // The rate limit is 20 a second (burst 40).
        await new Promise((r2) => setTimeout(r2, 55));
      }
      assert.equal(refused.length, 36);
      assertOkRes(await c.request('candidate', { pc: 'publish', candidate: null }), 'end-of-candidates after the cap');
      assertOkRes(await c.request('ping'), 'ping');
      const pid = jr.data.you.participant_id;
      const logged = srv.stderr.split('\n').filter((l) => l.includes(`[${room}/${pid}] more than 64 candidates`));
      assert.equal(logged.length, 1, `one log line for 36 refusals:\n${logged.join('\n')}`);

      // The call was not disturbed.
      await Promise.all([
        alice.until(() => framesFrom(alice, bob) >= before.a + 30, '30 more frames from bob'),
        bob.until(() => framesFrom(bob, alice) >= before.b + 30, '30 more frames from alice'),
      ]);
      assert.equal((await srv.healthz()).status, 'ok');
    } finally {
      await Promise.all([alice.stop(), bob.stop()]);
    }
    const [ra, rb] = [assertRunOk(await alice.done, 'alice'), assertRunOk(await bob.done, 'bob')];
    for (const [r, who] of [[ra, 'alice'], [rb, 'bob']]) {
      for (const pc of ['publish', 'subscribe']) assert.equal(r[pc].dtls, 'connected', `${who} ${pc} DTLS`);
    }
  });
});
