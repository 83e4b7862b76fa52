// tribud.mjs — the end-to-end fixture: a real tribud on a free loopback port
// with a temporary data dir and config file, and tokens signed with its
// secret. (The same idea as tests/integration/lib/tribud.mjs, without the
// WebSocket client, so these tests need nothing but playwright-core.)
//
// Waits are for events (the "listening" line, the exit), each bounded.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Path of the tribud under test: $TRIBUD, else <repo>/build/server/tribud. */
export const TRIBUD = process.env.TRIBUD
  ? resolve(process.env.TRIBUD)
  : resolve(here, '..', '..', '..', 'build', 'server', 'tribud');

const LISTENING = /^Tribu \S+ listening on (https?):\/\/([^/\s]+):(\d+)\/\s*$/m;
const VERBOSE = !!process.env.TRIBU_E2E_VERBOSE;

/** Rejects with an Error naming WHAT if PROMISE does not settle in MS. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function writeConfig(path, groups) {
  let text = '';
  for (const [group, keys] of Object.entries(groups)) {
    text += `[${group}]\n`;
    for (const [key, value] of Object.entries(keys)) text += `${key} = ${value}\n`;
    text += '\n';
  }
  writeFileSync(path, text);
}

/** Starts tribud --listen 127.0.0.1:0 --data-dir TMP --config TMP/tribud.conf
 * (CONFIG: {group: {key: value}}; DEV adds --dev) and resolves once it
 * listens. */
export async function startTribud({ config = {}, dev = false, timeout = 10000 } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'tribu-e2e-'));
  const dataDir = join(base, 'data');
  mkdirSync(dataDir);
  const configFile = join(base, 'tribud.conf');
  writeConfig(configFile, config);
  const server = new Tribud(base, dataDir);
  server.argv = ['--data-dir', dataDir, '--config', configFile, ...(dev ? ['--dev'] : [])];
  await server._start(['--listen', '127.0.0.1:0', ...server.argv], timeout);
  return server;
}

class Tribud {
  constructor(base, dataDir) {
    this.base = base;
    this.dataDir = dataDir;
    this.stdout = '';
    this.stderr = '';
    this.exitCode = undefined;
  }

  async _start(argv, timeout) {
    this.stdout = '';
    this.port = undefined;
    this.exitCode = undefined;
    const child = spawn(TRIBUD, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolveExit) =>
      child.on('close', (code, signal) => {
        this.exitCode = code ?? `signal ${signal}`;
        resolveExit(this.exitCode);
      }),
    );
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

  /** A token signed with this server's secret (DATA_DIR/secret, as text):
   * base64url(claims) "." base64url(HMAC-SHA256). */
  token({ user, name = user, role = 'student', room, kind = 'coaching', ttl = 3600, ends }) {
    const secret = readFileSync(join(this.dataDir, 'secret'), 'utf8').trim();
    const claims = { sub: user, name, role, room, kind, exp: Math.floor(Date.now() / 1000) + ttl };
    if (ends) claims.ends = ends; // end of the booked slot, Unix seconds
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const sig = createHmac('sha256', Buffer.from(secret, 'utf8')).update(payload).digest('base64url');
    return `${payload}.${sig}`;
  }

  /** SIGTERM, then the exit code (SIGKILL after TIMEOUT). */
  async stop({ timeout = 10000 } = {}) {
    if (this.exitCode === undefined) this.child.kill('SIGTERM');
    try {
      return await withTimeout(this.exited, timeout, 'tribud to exit after SIGTERM');
    } catch (err) {
      this.child.kill('SIGKILL');
      throw err;
    }
  }

  /** After the server exited (stop() or a kill), starts it again on the
   * same port with the same data dir (so the same token secret). */
  async restart({ timeout = 10000 } = {}) {
    if (this.exitCode === undefined) throw new Error('tribud is still running');
    const port = this.port;
    await this._start(['--listen', `127.0.0.1:${port}`, ...this.argv], timeout);
    if (this.port !== port) throw new Error(`tribud came back on port ${this.port}, not ${port}`);
  }

  async cleanup() {
    try {
      return await this.stop();
    } finally {
      if (!process.env.TRIBU_E2E_KEEP) rmSync(this.base, { recursive: true, force: true });
    }
  }
}
