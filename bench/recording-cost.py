#!/usr/bin/env python3
"""recording-cost.py — what recording costs tribud, per recorded stream.

For each N (default 1,4,8) it starts two tribuds side by side, the same
build and configuration but for one line: [recording] enabled = false in
the second. Each gets the same load: N publishers, each alone in its own
room, sending VP8 + Opus (by default tribu-load's synthetic publisher at
--publish-kbps 1000, i.e. ~1 Mbit/s of video plus 64 kbit/s of Opus, what
the issue asks to measure; or tribu-client's webrtcbin with --publisher
tribu-client). Nobody subscribes: the only work besides receiving (ICE,
DTLS, SRTP, the router) is the recording, and the receiving is the same in
both. After --settle seconds (every recording has started) it measures one
window of --window seconds, the same for both processes:

  - CPU: utime + stime of each tribud (/proc/PID/stat, every thread,
    GStreamer's streaming threads included) across the window;
  - packets received (tribu_rtp_received_total from GET /metrics), so the
    two carried the same load;
  - bytes written under the recording tribud's <data>/recordings (and
    none under the other's).

It prints per N: each tribud's CPU in ms per second, the difference (the
recording's cost) per recorded stream in ms per second and in % of one
core, and the ratio of the two. Then it stops both tribuds (SIGTERM), and
checks the catalog of the recording one: N rows `complete`, each file as
long as the row says. The two run at the same time so that whatever else
the machine does (it is shared) weighs on both alike; before each N it
waits (up to --quiet-wait s) until the machine is below --quiet % busy.

Everything runs in a new network namespace that has only loopback
(unshare -n: root), as bench/fanout.py does, whose helpers it uses.

Usage:
  bench/recording-cost.py [--build DIR] [--ns 1,4,8] [--settle 8]
                          [--window 20] [--publisher synthetic|tribu-client]
                          [--publish-kbps 1000] [--quiet 30] [--json OUT]
                          [--perf FILE]
"""

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing fanout.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fanout import (CLK_TCK, LISTENING, Lines, cpu_stat, machine, metrics,  # noqa: E402
                    proc_cpu_ticks, stop, wait_for, wait_quiet)


def die(msg):
    print(f'recording-cost: {msg}', file=sys.stderr)
    sys.exit(1)


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


class Server:
    """One tribud on a temporary data dir, RECORD or not, with its publishers."""

    def __init__(self, args, tmp, name, record):
        self.args = args
        self.name = name
        self.record = record
        self.dir = os.path.join(tmp, name)
        self.data = os.path.join(self.dir, 'data')
        os.makedirs(self.data)
        self.conf = os.path.join(self.dir, 'tribud.conf')
        with open(self.conf, 'w') as f:
            f.write('[media]\naddresses = 127.0.0.1\n\n'
                    f'[recording]\nenabled = {"true" if record else "false"}\n')
        self.tribud = os.path.join(args.build, 'server', 'tribud')
        self.procs = []
        self.err = open(os.path.join(self.dir, 'tribud.err'), 'w')
        self.proc = subprocess.Popen([self.tribud, '--config', self.conf, '--data-dir', self.data,
                                      '--listen', '127.0.0.1:0'], stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        out = Lines(self.proc.stdout)
        self.port = None
        deadline = time.monotonic() + 60
        while self.port is None and time.monotonic() < deadline:
            line = out.q.get(timeout=60)
            if line is None:
                raise RuntimeError(f'{name}: tribud exited before listening')
            m = LISTENING.search(line)
            self.port = int(m.group(1)) if m else None
        if self.port is None:
            raise RuntimeError(f'{name}: tribud did not print its listening line')
        self.url = f'ws://127.0.0.1:{self.port}/ws'

    def publish(self, i, run_s):
        """Starts publisher I, alone in room rec-I."""
        room = f'rec-{i}'
        err = open(os.path.join(self.dir, f'pub-{i}.err'), 'w')
        if self.args.publisher == 'synthetic':
            argv = [os.path.join(self.args.build, 'bench', 'tribu-load'), '--url', self.url,
                    '--secret-file', os.path.join(self.data, 'secret'), '--room', room,
                    '--kind', 'coaching', '--subscribers', '0',
                    '--publish-kbps', str(self.args.publish_kbps), '--name-prefix', f'pub{i}-']
        else:
            token = subprocess.run([self.tribud, 'token', '--data-dir', self.data, '--user',
                                    f'pub{i}', '--role', 'mentor', '--room', room, '--kind',
                                    'coaching', '--ttl', '2h'], check=True, capture_output=True,
                                   text=True).stdout.strip()
            argv = [self.args.publisher_client, '--url', self.url, '--token', token,
                    '--publish', 'audio,video', '--width', '640', '--height', '360',
                    '--fps', '30', '--duration', str(int(run_s))]
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err))

    def sample(self):
        m = metrics(self.port)
        return {'ticks': proc_cpu_ticks(self.proc.pid), 'rx': m.get('tribu_rtp_received_total', 0),
                'bytes': dir_bytes(os.path.join(self.data, 'recordings'))}

    def alive(self):
        return self.proc.poll() is None and all(p.poll() is None for p in self.procs)

    def stop(self):
        for p in self.procs:
            stop(p, signal.SIGTERM, timeout=10)
        rc = stop(self.proc, signal.SIGTERM, timeout=90)
        self.err.close()
        return rc

    def kill(self):
        for p in self.procs + [self.proc]:
            if p.poll() is None:
                p.kill()
                p.wait()

    def catalog(self):
        db = os.path.join(self.data, 'tribu.db')
        if not os.path.exists(db):
            return []
        con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute('SELECT * FROM recordings ORDER BY id')]
        finally:
            con.close()


def run_one(args, n):
    tmp = tempfile.mkdtemp(prefix=f'tribu-reccost-n{n}-')
    row = {'n': n, 'tmp': tmp}
    quiet = wait_quiet(args.quiet, args.quiet_wait) if args.quiet < 100 else None
    servers = []
    try:
        on = Server(args, tmp, 'on', True)
        servers.append(on)
        off = Server(args, tmp, 'off', False)
        servers.append(off)
        run_s = args.settle + args.window + n * 0.2 + 60
        for i in range(n):  # interleaved, so both see the same ramp
            on.publish(i, run_s)
            off.publish(i, run_s)
            time.sleep(0.1)
        wait_for(lambda: on.sample()['bytes'] > 0 and off.sample()['rx'] > 0, 60,
                 'media at both tribuds and a first recording on disk')
        time.sleep(args.settle)

        def mark():
            return {'t': time.monotonic(), 'stat': cpu_stat(),
                    'on': on.sample(), 'off': off.sample()}

        a = mark()
        profilers = []
        if args.perf:  # both tribuds, so the profiles can be compared
            for srv in servers:
                profilers.append(subprocess.Popen(
                    ['perf', 'record', '-q', '-F', '997', '-e', 'cpu-clock', '-g', '-p',
                     str(srv.proc.pid), '-o', f'{args.perf}.n{n}.{srv.name}'],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(args.window)
        b = mark()
        for prof in profilers:
            prof.send_signal(signal.SIGINT)
            prof.wait(60)
        for s in servers:
            if not s.alive():
                raise RuntimeError(f'{s.name}: tribud or a publisher exited during the window')
        dt = b['t'] - a['t']
        busy = 100 * (b['stat'][0] - a['stat'][0]) / max(1, b['stat'][1] - a['stat'][1])

        def per_s(key, side):
            return (b[side][key] - a[side][key]) / dt

        cpu_on = 1000 * per_s('ticks', 'on') / CLK_TCK    # ms of CPU per second
        cpu_off = 1000 * per_s('ticks', 'off') / CLK_TCK
        cost = (cpu_on - cpu_off) / n                      # ms/s per recorded stream
        row.update({
            'window_s': round(dt, 2),
            'quiet_before': quiet,
            'machine_busy_percent': round(busy, 1),
            'cpu_on_ms_per_s': round(cpu_on, 1),
            'cpu_off_ms_per_s': round(cpu_off, 1),
            'cost_ms_per_s_per_stream': round(cost, 2),
            'cost_core_percent_per_stream': round(cost / 10, 3),
            'ratio_on_off': round(cpu_on / cpu_off, 2) if cpu_off else None,
            'rx_pps_on': round(per_s('rx', 'on'), 1),
            'rx_pps_off': round(per_s('rx', 'off'), 1),
            'recorded_kbps_per_stream': round(8 * per_s('bytes', 'on') / 1000 / n, 1),
            'off_bytes': b['off']['bytes'],
        })
        # A publisher that dropped out (consent lost on a starved machine)
        # makes the two loads differ: the row then means nothing. The
        # received counters move once a second, so they only catch gross
        # differences; tribud's log names every publisher that left.
        rx_on, rx_off = row['rx_pps_on'], row['rx_pps_off']
        left = {}
        for srv in servers:
            with open(os.path.join(srv.dir, 'tribud.err')) as f:
                left[srv.name] = len(re.findall(r'\] \S+ left \(', f.read()))
        if abs(rx_on - rx_off) > 0.15 * max(rx_on, rx_off, 1) or any(left.values()):
            row['unequal_load'] = {'publishers_lost': left}
        for s in servers:
            row[f'tribud_exit_{s.name}'] = s.stop()
        rows = on.catalog()
        bad = [r for r in rows if r['state'] != 'complete' or not r['bytes'] or
               r['bytes'] != os.path.getsize(os.path.join(on.data, r['path']))]
        row['rows_complete'] = len(rows) - len(bad)
        row['rows_bad'] = [{k: r[k] for k in ('path', 'state', 'bytes', 'error')} for r in bad][:5]
        row['rows_off'] = len(off.catalog())
        with open(os.path.join(on.dir, 'tribud.err')) as f:
            row['tribud_warnings_on'] = [line for line in f.read().splitlines()
                                         if re.search(r'\b(WARN|ERROR|warn|error)\b', line)][:5]
    except Exception as e:  # report, keep the logs
        row['error'] = str(e)
        for s in servers:
            s.kill()
    return row


HEADER = (' N | tribud CPU ms/s: rec on | rec off | recording, per stream: ms/s | % core'
          ' | on/off | rx pkt/s on, off | rec kbit/s each | machine busy')


def fmt_row(r):
    if r.get('error'):
        return f"{r['n']:>2} | error: {r['error']} (logs in {r['tmp']})"
    return (f"{r['n']:>2} | {r['cpu_on_ms_per_s']:>23.1f} | {r['cpu_off_ms_per_s']:>7.1f} | "
            f"{r['cost_ms_per_s_per_stream']:>27.2f} | {r['cost_core_percent_per_stream']:>6.3f}"
            f" | {r['ratio_on_off']:>6} | {r['rx_pps_on']:>7.0f}, {r['rx_pps_off']:<7.0f} | "
            f"{r['recorded_kbps_per_stream']:>15.1f} | {r['machine_busy_percent']:>5.1f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.environ.get('TRIBU_BUILD', 'build'),
                    help='meson build dir configured with -Dbench=true (default ./build)')
    ap.add_argument('--ns', default='1,4,8', help='publishers per tribud (default 1,4,8)')
    ap.add_argument('--settle', type=float, default=8.0,
                    help='seconds after the first file appears before the window (default 8)')
    ap.add_argument('--window', type=float, default=20.0, help='measured seconds (default 20)')
    ap.add_argument('--publisher', choices=('synthetic', 'tribu-client'), default='synthetic')
    ap.add_argument('--publisher-client', default=os.environ.get(
        'TRIBU_CLIENT', 'build/tests/integration/webrtc-client/tribu-client'))
    ap.add_argument('--publish-kbps', type=int, default=1000,
                    help='synthetic publisher: VP8 + Opus kbit/s (default 1000)')
    ap.add_argument('--quiet', type=float, default=30,
                    help='before each N, wait until the machine is below this %% busy '
                         '(default 30; 100: do not wait)')
    ap.add_argument('--quiet-wait', type=float, default=300)
    ap.add_argument('--json', help='write the rows and the machine to this file')
    ap.add_argument('--perf', metavar='FILE',
                    help='perf record (cpu-clock, 997 Hz) each tribud during the window into '
                         'FILE.nN.on / FILE.nN.off')
    ap.add_argument('--inside', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.publisher_client = os.path.abspath(args.publisher_client)

    if not args.inside:
        inner = [sys.executable, os.path.abspath(__file__), '--inside'] + sys.argv[1:]
        os.execvp('unshare', ['unshare', '-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh']
                  + inner)
    with open('/proc/net/dev') as f:
        links = sorted(line.split(':')[0].strip() for line in f if ':' in line)
    if links != ['lo']:
        die(f'expected loopback only in the namespace, found {links}')
    need = [os.path.join(args.build, 'server', 'tribud')]
    need.append(os.path.join(args.build, 'bench', 'tribu-load') if args.publisher == 'synthetic'
                else args.publisher_client)
    for path in need:
        if not os.access(path, os.X_OK):
            die(f'{path} missing: meson setup {args.build} -Dbench=true && ninja -C {args.build}')

    info = machine()
    print(f"machine: {info['nproc']} CPU, {info['cpu']}, kernel {info['kernel']}, "
          f"{info['mem_gib']} GiB{', virtualised' if info['hypervisor'] else ''}")
    print(f"publishers: {args.publisher}"
          + (f" at {args.publish_kbps} kbit/s VP8 + 64 kbit/s Opus" if args.publisher == 'synthetic'
             else ' (webrtcbin, 640x360@30 VP8 + Opus)')
          + f"; each alone in a room; window {args.window:g} s after {args.settle:g} s; "
          "two tribuds side by side (recording on / off); loopback only")
    print(HEADER)
    rows = []
    for n in [int(x) for x in args.ns.split(',')]:
        r = run_one(args, n)
        rows.append(r)
        print(fmt_row(r), flush=True)
        notes = {k: r[k] for k in ('unequal_load', 'rows_bad', 'off_bytes', 'rows_off', 'tribud_exit_on',
                                   'tribud_exit_off', 'tribud_warnings_on') if r.get(k)}
        if not r.get('error') and r.get('rows_complete') != n:
            notes['rows_complete'] = r.get('rows_complete')
        if notes:
            print(f'     notes: {json.dumps(notes)}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'machine': info, 'args': vars(args), 'rows': rows}, f, indent=1)


if __name__ == '__main__':
    main()
