// Shared by the media tests: where the WebRTC test client and the recording
// probe are, and the check that the test runs in a network namespace holding
// only loopback (media must never leave the machine).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
