// tribud.mjs — test fixture: a real tribud on an ephemeral port, plus small
// HTTP and WebSocket clients for talking to it.
//
// Every wait here is for an event (a line on stdout, a frame, a close, an
// exit), bounded by a timeout so that a hung server fails a test instead of
// hanging the suite. Nothing sleeps for luck.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const integrationDir = resolve(here, '..');

let WebSocket;
try {
  ({ default: WebSocket } = await import('ws'));
} catch (err) {
  throw new Error(
    `the integration tests need the 'ws' package in ${join(integrationDir, 'node_modules')}: ` +
      `run 'npm ci' in ${integrationDir} first (${err.code ?? err.message})`,
  );
}
export { WebSocket };

/** Path of the tribud under test: $TRIBUD, else <repo>/build/server/tribud. */
export const TRIBUD = process.env.TRIBUD
  ? resolve(process.env.TRIBUD)
  : resolve(integrationDir, '..', '..', 'build', 'server', 'tribud');

/** True when the tribud under test is built with AddressSanitizer (its
 * quarantine makes RSS meaningless as a leak measure; LSan checks at exit). */
export const SANITIZED = (() => {
  try {
    return readFileSync(TRIBUD).includes('__asan_init');
  } catch {
    return false;
  }
})();

const LISTENING = /^Tribu \S+ listening on (https?):\/\/([^/\s]+):(\d+)\/\s*$/m;
const VERBOSE = !!process.env.TRIBU_ITEST_VERBOSE;

/* Children still running when the test process exits are killed, so that a
 * failed or interrupted run never leaves a tribud behind. */
const children = new Set();
process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Rejects with an Error named after WHAT if PROMISE does not settle in MS. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls CHECK (sync or async) until it returns a truthy value, for a state
 * that has no event of its own (e.g. a gauge going back to 0). */
export async function waitFor(check, { timeout = 5000, interval = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Runs tribud with ARGS to completion: {code, signal, stdout, stderr}. */
export function runTribud(args, { timeout = 10000, env } = {}) {
  return withTimeout(
    new Promise((resolvePromise, reject) => {
      const child = spawn(TRIBUD, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      });
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      child.on('error', (err) => {
        children.delete(child);
        reject(new Error(`cannot run ${TRIBUD}: ${err.message} (set TRIBUD or build first)`));
      });
      child.on('close', (code, signal) => {
        children.delete(child);
        resolvePromise({ code, signal, stdout, stderr });
      });
    }),
    timeout,
    `tribud ${args.join(' ')}`,
  );
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/** Signs CLAIMS as tribud does: base64url(JSON) "." base64url(HMAC-SHA256),
 * the key being the secret's text bytes (common/token.c). */
export function signToken(claims, secret) {
  const payload = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', Buffer.from(secret, 'utf8')).update(payload).digest();
  return `${payload}.${b64url(sig)}`;
}

/** Claims with defaults: an hour of validity, name = user. */
export function claims({ user, name, role = 'student', room, kind, exp, ends } = {}) {
  const c = {
    sub: user,
    name: name ?? user,
    role,
    room,
    exp: exp ?? Math.floor(Date.now() / 1000) + 3600,
  };
  if (kind) c.kind = kind;
  if (ends) c.ends = ends;
  return c;
}

/** Writes an INI file from {group: {key: value}}. */
export function writeConfig(path, groups) {
  let text = '';
  for (const [group, keys] of Object.entries(groups)) {
    text += `[${group}]\n`;
    for (const [key, value] of Object.entries(keys)) text += `${key}=${value}\n`;
    text += '\n';
  }
  writeFileSync(path, text);
  return path;
}

/** Makes a fresh temporary directory for one tribud: {base, dataDir}. */
export function makeTempDirs(prefix = 'tribu-itest-') {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const dataDir = join(base, 'data');
  mkdirSync(dataDir, { recursive: true });
  return { base, dataDir };
}

/**
 * Starts tribud on 127.0.0.1:0 with a fresh data dir and waits for its
 * "listening" line.
 *
 * Options: args (extra arguments), config ({group: {key: value}}, written to
 * a file passed with --config), listen (default 127.0.0.1:0; null leaves it
 * to the config file), dataDir (default a new temporary dir), env.
 *
 * Returns a Tribud: {port, url, wsUrl, dataDir, base, pid, stderr, secret(),
 * token(), sign(), connect(), fetch(), healthz(), rss(), stop(), cleanup()}.
 */
export async function startTribud({
  args = [],
  config,
  listen = '127.0.0.1:0',
  dataDir,
  env,
  timeout = 10000,
} = {}) {
  const dirs = makeTempDirs();
  const server = new Tribud(dirs.base, dataDir ?? dirs.dataDir);
  const argv = ['--data-dir', server.dataDir];
  if (listen !== null) argv.push('--listen', listen);
  if (config) {
    server.configFile = writeConfig(join(dirs.base, 'tribud.conf'), config);
    argv.push('--config', server.configFile);
  }
  argv.push(...args);
  await server._start(argv, env, timeout);
  return server;
}

export class Tribud {
  constructor(base, dataDir) {
    this.base = base;
    this.dataDir = dataDir;
    this.stdout = '';
    this.stderr = '';
    this.exitCode = undefined;
    this.exitSignal = undefined;
    this.clients = new Set();
  }

  async _start(argv, env, timeout) {
    // TRIBUD_WRAPPER runs the server under a tool, e.g. "valgrind -q".
    const wrapper = (process.env.TRIBUD_WRAPPER ?? '').split(/\s+/).filter(Boolean);
    const [cmd, ...cmdArgs] = [...wrapper, TRIBUD, ...argv];
    const child = spawn(cmd, cmdArgs, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    children.add(child);
    this.child = child;
    this.pid = child.pid;
    this.exited = new Promise((resolveExit) => {
      child.on('close', (code, signal) => {
        children.delete(child);
        this.exitCode = code;
        this.exitSignal = signal;
        resolveExit(code ?? `signal ${signal}`);
      });
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      this.stderr += d;
      if (VERBOSE) process.stderr.write(d);
    });
    const ready = new Promise((resolveReady, reject) => {
      child.on('error', (err) =>
        reject(new Error(`cannot run ${TRIBUD}: ${err.message} (set TRIBUD or build first)`)),
      );
      child.stdout.setEncoding('utf8').on('data', (d) => {
        this.stdout += d;
        if (VERBOSE) process.stderr.write(d);
        const m = LISTENING.exec(this.stdout);
        if (m && !this.port) {
          this.scheme = m[1];
          this.host = m[2];
          this.port = Number(m[3]);
          resolveReady();
        }
      });
      this.exited.then((code) =>
        reject(new Error(`tribud exited (${code}) before listening:\n${this.stderr}`)),
      );
    });
    await withTimeout(ready, timeout, `tribud to print its listening line\n${this.stderr}`);
    this.url = `http://127.0.0.1:${this.port}`;
    this.wsUrl = `ws://127.0.0.1:${this.port}/ws`;
  }

  get running() {
    return this.exitCode === undefined && this.exitSignal === undefined;
  }

  /** The token secret tribud uses (DIR/secret, trimmed). */
  secret() {
    return readFileSync(join(this.dataDir, 'secret'), 'utf8').trim();
  }

  /** Signs claims in-process with this server's secret (see claims()). */
  sign(opts, secret = this.secret()) {
    return signToken(claims(opts), secret);
  }

  /** Gets a token from `tribud token ... --data-dir DIR`. OPTS: {user, name,
   * role (default student), room, kind, ttl, ends} or an array of raw
   * arguments. */
  async token(opts, { dataDir = this.dataDir } = {}) {
    const { code, stdout, stderr } = await runTribud(tokenArgs(opts, dataDir));
    if (code !== 0) throw new Error(`tribud token failed (${code}): ${stderr}`);
    return stdout.trim();
  }

  /** Opens a WebSocket to /ws (or PATH) and waits until it is open. */
  /** Opens a WebSocket; LOCALADDRESS (e.g. '127.0.0.2') is the source
   * address to connect from. */
  async connect({ path = '/ws', timeout = 5000, localAddress } = {}) {
    const client = await Client.open(`ws://127.0.0.1:${this.port}${path}`, { timeout, localAddress });
    this.clients.add(client);
    client.closed.then(() => this.clients.delete(client));
    return client;
  }

  /** Connects and joins with a token made from OPTS (signed in-process);
   * returns [client, joinResponse] and asserts nothing. */
  async connectAndJoin(opts, fields = {}) {
    const client = await this.connect();
    const response = await client.request('join', { token: this.sign(opts), ...fields });
    return [client, response];
  }

  /** fetch() against this server: {status, headers, text, json}. */
  async fetch(path, { method = 'GET', token, body, headers = {} } = {}) {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined && typeof body !== 'string') {
      body = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await withTimeout(
      fetch(`${this.url}${path}`, { method, headers: h, body }),
      5000,
      `${method} ${path}`,
    );
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** GET /healthz, parsed. */
  async healthz() {
    const res = await this.fetch('/healthz');
    if (res.status !== 200) throw new Error(`/healthz answered ${res.status}: ${res.text}`);
    return res.json;
  }

  /** A gauge or counter from /metrics (the first sample whose name and
   * labels start with NAME), or undefined. */
  async metric(name) {
    const res = await this.fetch('/metrics');
    for (const line of res.text.split('\n')) {
      if (line.startsWith('#')) continue;
      const sp = line.lastIndexOf(' ');
      if (sp > 0 && line.slice(0, sp) === name) return Number(line.slice(sp + 1));
    }
    return undefined;
  }

  /** Sends REQUEST as is on a new TCP connection and returns everything the
   * server sent until it closed (for paths a client library would clean). */
  raw(request, { timeout = 5000 } = {}) {
    return rawRequest(this.port, request, { timeout });
  }

  /** Resident memory of the tribud process, in bytes (/proc/PID/status). */
  rss() {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (!m) throw new Error('no VmRSS in /proc/PID/status');
    return Number(m[1]) * 1024;
  }

  /** Sends SIGNAL (default SIGTERM) and resolves with the exit code (or
   * "signal X" when it died of a signal). Idempotent. */
  async stop({ signal = 'SIGTERM', timeout = 10000 } = {}) {
    if (this.running) this.child.kill(signal);
    try {
      return await withTimeout(this.exited, timeout, `tribud to exit after ${signal}`);
    } catch (err) {
      this.child.kill('SIGKILL');
      throw err;
    }
  }

  /** Stops the server (if running), closes clients, deletes its files.
   * Returns the exit code. */
  async cleanup() {
    for (const client of this.clients) client.terminate();
    let code;
    try {
      code = await this.stop();
    } finally {
      if (!process.env.TRIBU_ITEST_KEEP) rmSync(this.base, { recursive: true, force: true });
    }
    return code;
  }
}

export function tokenArgs(opts, dataDir) {
  if (Array.isArray(opts)) return ['token', ...opts, ...(dataDir ? ['--data-dir', dataDir] : [])];
  const args = ['token'];
  opts = { role: 'student', ...opts };
  for (const key of ['user', 'name', 'role', 'room', 'kind', 'ttl', 'ends']) {
    if (opts[key] !== undefined) args.push(`--${key}`, String(opts[key]));
  }
  if (dataDir) args.push('--data-dir', dataDir);
  return args;
}

/* ---- WebSocket client ---- */

let nextId = 1;

/**
 * A signaling client. Every frame received is kept in `received` (parsed
 * JSON, or {raw} when not JSON). Responses are matched to requests by id;
 * events and unmatched responses are queued until a test takes them, so a
 * test never misses something that arrived before it started waiting.
 */
export class Client {
  static open(url, { timeout = 5000, localAddress } = {}) {
    return withTimeout(
      new Promise((resolveOpen, reject) => {
        const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
        const client = new Client(ws);
        ws.once('open', () => resolveOpen(client));
        ws.once('unexpected-response', (req, res) => {
          reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`));
          req.destroy();
        });
        ws.once('error', reject);
      }),
      timeout,
      `WebSocket open ${url}`,
    );
  }

  constructor(ws) {
    this.ws = ws;
    this.received = [];
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.events = []; // queued events not yet taken
    this.strays = []; // responses whose id matched no pending request
    this.waiters = []; // {match, resolve, reject, timer}
    this.errors = [];
    this.closed = new Promise((resolveClosed) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`connection closed (${code}) before the response`));
        }
        this.pending.clear();
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`connection closed (${code}) while waiting for ${w.what}`));
        }
        resolveClosed(this.closeInfo);
      });
    });
    ws.on('error', (err) => this.errors.push(err));
    ws.on('message', (data, isBinary) => this._onMessage(data, isBinary));
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  _onMessage(data, isBinary) {
    let msg;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      msg = { raw: data.toString('utf8'), binary: isBinary };
    }
    this.received.push(msg);
    if (msg && typeof msg === 'object' && 'event' in msg) {
      this._deliver(msg, 'event');
      return;
    }
    if (msg && typeof msg === 'object' && 'id' in msg && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      p.resolve(msg);
      return;
    }
    this._deliver(msg, 'stray');
  }

  _deliver(msg, kind) {
    const i = this.waiters.findIndex((w) => w.kind === kind && w.match(msg));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(msg);
      return;
    }
    (kind === 'event' ? this.events : this.strays).push(msg);
  }

  _wait(kind, match, timeout, what) {
    const queue = kind === 'event' ? this.events : this.strays;
    const i = queue.findIndex(match);
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
    if (!this.isOpen && this.closeInfo)
      return Promise.reject(new Error(`connection closed (${this.closeInfo.code}); no ${what}`));
    return new Promise((resolveWait, reject) => {
      const w = { kind, match, resolve: resolveWait, reject, what };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(
          new Error(
            `timed out after ${timeout} ms waiting for ${what}; received so far: ` +
              JSON.stringify(this.received.slice(-5)),
          ),
        );
      }, timeout);
      this.waiters.push(w);
    });
  }

  /** Sends {type, id, ...fields} and resolves with the response carrying
   * that id. */
  request(type, fields = {}, { timeout = 5000, id = nextId++ } = {}) {
    return new Promise((resolveReq, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`timed out after ${timeout} ms waiting for the response to ${type} #${id}`));
      }, timeout);
      this.pending.set(id, { resolve: resolveReq, reject, timer });
      this.ws.send(JSON.stringify({ type, id, ...fields }), (err) => {
        if (err && this.pending.has(id)) {
          this.pending.delete(id);
          clearTimeout(timer);
          reject(err);
        }
      });
    });
  }

  /** Sends DATA as one frame, untouched (string/Buffer; binary if asked). */
  send(data, { binary = false } = {}) {
    this.ws.send(data, { binary });
  }

  /** Resolves with the next event called NAME (optionally also matching
   * FILTER(data)), taking it from the queue. */
  nextEvent(name, { timeout = 5000, filter = () => true } = {}) {
    return this._wait('event', (m) => m.event === name && filter(m.data), timeout, `event '${name}'`);
  }

  /** Resolves with the next response that matched no request (e.g. id null). */
  nextStray({ timeout = 5000 } = {}) {
    return this._wait('stray', () => true, timeout, 'an unmatched response');
  }

  /** Events named NAME received so far and not yet taken (not consumed). */
  queued(name) {
    return this.events.filter((m) => m.event === name);
  }

  /** Clean close; resolves with {code, reason}. */
  close(code = 1000) {
    if (this.isOpen || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return withTimeout(this.closed, 5000, 'WebSocket close');
  }

  /** Drops the TCP connection without a close frame. */
  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

/* ---- raw TCP helpers ---- */

/** Sends TEXT and collects the reply until the server closes (or TIMEOUT). */
export function rawRequest(port, text, { timeout = 5000 } = {}) {
  return withTimeout(
    new Promise((resolveRaw, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      const chunks = [];
      sock.on('connect', () => sock.write(text));
      sock.on('data', (d) => chunks.push(d));
      sock.on('error', reject);
      sock.on('close', () => {
        const all = Buffer.concat(chunks).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
        resolveRaw({ status: m ? Number(m[1]) : 0, text: all });
      });
    }),
    timeout,
    'raw HTTP exchange',
  );
}

/** Encodes one client frame (masked, as RFC 6455 requires of clients). */
export function encodeFrame(payload, { opcode = 1, fin = true } = {}) {
  const data = Buffer.from(payload);
  const mask = randomBytes(4);
  let header;
  if (data.length < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | data.length]);
  } else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}

/**
 * A WebSocket spoken by hand over net.Socket, for what a library will not
 * do (vanishing mid-frame). open() does the upgrade; frames() yields the
 * server's text frames as parsed JSON.
 */
export class RawWs {
  static async open(port, { timeout = 5000 } = {}) {
    const raw = new RawWs();
    await withTimeout(raw._open(port), timeout, 'raw WebSocket upgrade');
    return raw;
  }

  _open(port) {
    return new Promise((resolveOpen, reject) => {
      const key = randomBytes(16).toString('base64');
      this.sock = net.connect(port, '127.0.0.1');
      this.buf = Buffer.alloc(0);
      this.messages = [];
      this.waiters = [];
      this.upgraded = false;
      this.sock.on('error', (err) => {
        if (!this.upgraded) reject(err);
      });
      this.sock.on('connect', () =>
        this.sock.write(
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
      this.sock.on('data', (d) => {
        this.buf = Buffer.concat([this.buf, d]);
        if (!this.upgraded) {
          const end = this.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = this.buf.subarray(0, end).toString('latin1');
          this.buf = this.buf.subarray(end + 4);
          if (!/^HTTP\/1\.1 101/.test(head)) {
            reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
            return;
          }
          this.upgraded = true;
          resolveOpen();
        }
        this._parse();
      });
    });
  }

  _parse() {
    for (;;) {
      if (this.buf.length < 2) return;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const opcode = this.buf[0] & 0x0f;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 1) {
        const msg = JSON.parse(payload.toString('utf8'));
        const i = this.waiters.findIndex((w) => w.match(msg));
        if (i >= 0) this.waiters.splice(i, 1)[0].resolve(msg);
        else this.messages.push(msg);
      }
    }
  }

  /** Resolves with the next text frame matching MATCH. */
  next(match, { timeout = 5000 } = {}) {
    const i = this.messages.findIndex(match);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]);
    return withTimeout(
      new Promise((r) => this.waiters.push({ match, resolve: r })),
      timeout,
      'a frame on the raw WebSocket',
    );
  }

  /** Sends a request and resolves with its response. */
  request(type, fields = {}) {
    const id = nextId++;
    this.sock.write(encodeFrame(JSON.stringify({ type, id, ...fields })));
    return this.next((m) => m.id === id);
  }

  write(bytes) {
    this.sock.write(bytes);
  }

  destroy() {
    this.sock.destroy();
  }
}
