#!/usr/bin/env python3
"""workshop50.py — a workshop of N participants (default 50) on one tribud, loopback only.

Every participant publishes audio and simulcast video (tribu-load's synthetic
publishers: Opus + VP8 in three layers, a=ssrc-group:SIM; two of them talk, the
others send Opus DTX as a silent browser does) and receives the room as the
workshop policy sends it (audio of everyone, camera video of the last-N =
`--last-n` most recent speakers, the low layer for tiles). tribu-load runs the
two halves of each participant as two sessions: N publish-only participants,
then N subscribe-only ones (so the room holds 2N participants and tribud does a
workshop of N's forwarding: each subscriber gets N audio tracks and last-N
videos, as each of N real participants would get N-1 and last-N).

After the joins and --settle seconds it measures a --window:
  - tribud CPU (utime+stime, /proc/PID/stat) as a share of one core;
  - packets received from publishers and forwarded per second (GET /metrics);
  - subscriber loss: sequence gaps over the window (tribu-load snapshots;
    the forwarder keeps each subscriber stream contiguous, so a gap is a
    packet that never arrived), and UDP receive-buffer drops;
  - what the publishers sent per second (tribud's counters reach /metrics
    once a second, so received vs sent over a window differs by up to a
    second's worth: compare rates, not totals);
  - tribud memory: VmRSS and VmHWM (/proc/PID/status);
  - how busy the machine was otherwise (the figures move with it).

Runs in a new network namespace with loopback only (unshare -n: root).
Usage: bench/workshop50.py [--build DIR] [--participants 50] [--last-n 9]
                           [--publish-kbps 600] [--speakers 2] [--settle 10]
                           [--window 20] [--json OUT]
"""

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CLK_TCK = os.sysconf('SC_CLK_TCK')
LISTENING = re.compile(r'listening on https?://[^:]+:(\d+)/')


def die(msg):
    print(f'workshop50: {msg}', file=sys.stderr)
    sys.exit(1)


def proc_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def proc_mem_kib(pid):
    out = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                out[key] = int(value.split()[0])
    return out


def cpu_stat():
    with open('/proc/stat') as f:
        v = list(map(int, f.readline().split()[1:9]))
    return sum(v) - v[3] - v[4], sum(v)


def udp_counters():
    with open('/proc/net/snmp') as f:
        lines = [l.split() for l in f if l.startswith('Udp:')]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def metrics(port):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            name, _, value = line.rpartition(' ')
            out[name] = float(value)
    return out


class Lines:
    """A process's stdout lines on a queue (read by a thread)."""

    def __init__(self, stream):
        self.q = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.q.put(line)
        self.q.put(None)

    def next_json(self, kind, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                return None
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get('type') == kind:
                return obj
        return None


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f'timed out after {timeout} s waiting for {what}')


def run(args):
    tmp = tempfile.mkdtemp(prefix='tribu-workshop50-')
    data = os.path.join(tmp, 'data')
    os.mkdir(data)
    conf = os.path.join(tmp, 'tribud.conf')
    n = args.participants
    with open(conf, 'w') as f:
        f.write('[media]\naddresses = 127.0.0.1\n\n'
                f'[rooms]\nworkshop_capacity = {2 * n + 2}\nlast_n = {args.last_n}\n\n'
                f'[server]\nmax_connections_per_address = {2 * n + 50}\n')
    tribud = os.path.join(args.build, 'server', 'tribud')
    load = os.path.join(args.build, 'bench', 'tribu-load')
    procs = []
    try:
        server = subprocess.Popen([tribud, '--config', conf, '--data-dir', data, '--listen',
                                   '127.0.0.1:0'], stdout=subprocess.PIPE,
                                  stderr=open(os.path.join(tmp, 'tribud.err'), 'w'), text=True)
        procs.append(server)
        out = Lines(server.stdout)
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = out.q.get(timeout=60)
            if line is None:
                raise RuntimeError('tribud exited before listening')
            m = LISTENING.search(line)
            port = int(m.group(1)) if m else None
        busy0 = cpu_stat()
        lp = subprocess.Popen([load, '--url', f'ws://127.0.0.1:{port}/ws', '--secret-file',
                               os.path.join(data, 'secret'), '--room', 'workshop50',
                               '--publishers', str(n), '--simulcast', '--speakers',
                               str(args.speakers), '--publish-kbps', str(args.publish_kbps),
                               '--subscribers', str(n), '--join-interval-ms', '50'],
                              stdout=subprocess.PIPE,
                              stderr=open(os.path.join(tmp, 'load.err'), 'w'), text=True)
        procs.append(lp)
        lines = Lines(lp.stdout)

        def snapshot():
            lp.send_signal(signal.SIGUSR1)
            return lines.next_json('snapshot', 20) or {}

        # Every subscriber has its key frame, then settle.
        # (SIGUSR1 before tribu-load set its handler would end it.)
        wait_for(lambda: metrics(port).get('tribu_rtp_received_total', 0) > 0, 60,
                 "the publishers' first packets at tribud")
        last = {}

        def all_receiving():
            last.update(snapshot())
            return last.get('keyframe', 0) >= n

        try:
            wait_for(all_receiving, 60 + 2 * n, f'{n} subscribers receiving video')
        except RuntimeError as err:
            raise RuntimeError(f'{err}; last snapshot {json.dumps(last)}; logs in {tmp}') from None
        time.sleep(args.settle)

        def mark():
            m = metrics(port)
            return {'t': time.monotonic(), 'ticks': proc_ticks(server.pid), 'stat': cpu_stat(),
                    'load_ticks': proc_ticks(lp.pid), 'fwd': m['tribu_rtp_forwarded_total'],
                    'rx': m['tribu_rtp_received_total'], 'udp': udp_counters(),
                    'snap': snapshot()}

        a = mark()
        time.sleep(args.window)
        b = mark()
        mem = proc_mem_kib(server.pid)
        dt = b['t'] - a['t']
        all_busy = b['stat'][0] - a['stat'][0]
        total = max(1, b['stat'][1] - a['stat'][1])
        tribud_ticks = b['ticks'] - a['ticks']
        load_ticks = b['load_ticks'] - a['load_ticks']
        sa, sb = a['snap'], b['snap']
        expected = sb['expected'] - sa['expected']
        lost = sb['lost'] - sa['lost']
        pub_sent = sb.get('pub_packets', 0) - sa.get('pub_packets', 0)
        rx = b['rx'] - a['rx']
        row = {
            'participants': n, 'last_n': args.last_n, 'publish_kbps': args.publish_kbps,
            'speakers': args.speakers, 'window_s': round(dt, 1),
            'tribud_cpu_pct_of_one_core': round(100 * tribud_ticks / CLK_TCK / dt, 1),
            'forwarded_pps': round((b['fwd'] - a['fwd']) / dt),
            'received_pps': round(rx / dt),
            'subscriber_packets': expected, 'subscriber_lost': lost,
            'subscriber_loss_pct': round(100 * lost / max(1, expected), 3),
            'publisher_sent_pps': round(pub_sent / dt),
            'udp_rcvbuf_drops': b['udp'].get('RcvbufErrors', 0) - a['udp'].get('RcvbufErrors', 0),
            'subscriber_mbps': round((sb['bytes'] - sa['bytes']) * 8 / dt / 1e6, 1),
            'tribud_rss_mib': round(mem.get('VmRSS', 0) / 1024, 1),
            'tribud_peak_rss_mib': round(mem.get('VmHWM', 0) / 1024, 1),
            'load_client_cpu_pct': round(100 * load_ticks / CLK_TCK / dt, 1),
            'machine_busy_pct': round(100 * all_busy / total, 1),
            'others_busy_pct': round(100 * (all_busy - tribud_ticks - load_ticks) / total, 1),
        }
        return row
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not os.environ.get('TRIBU_BENCH_KEEP'):
            subprocess.run(['rm', '-rf', tmp])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.environ.get('TRIBU_BUILD', 'build'))
    ap.add_argument('--participants', type=int, default=50)
    ap.add_argument('--last-n', type=int, default=9)
    ap.add_argument('--publish-kbps', type=int, default=600,
                    help='each publisher, audio + all layers (default 600)')
    ap.add_argument('--speakers', type=int, default=2)
    ap.add_argument('--settle', type=float, default=10.0)
    ap.add_argument('--window', type=float, default=20.0)
    ap.add_argument('--json', help='write the row to this file')
    ap.add_argument('--inside', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_args()

    if not args.inside:
        inner = [sys.executable, os.path.abspath(__file__), '--inside'] + sys.argv[1:]
        os.execvp('unshare', ['unshare', '-n', 'sh', '-c', 'ip link set lo up && exec "$@"',
                              'sh'] + inner)
    with open('/proc/net/dev') as f:
        links = sorted(l.split(':')[0].strip() for l in f if ':' in l)
    if links != ['lo']:
        die(f'expected loopback only in the namespace, found {links}')
    for path in (os.path.join(args.build, 'server', 'tribud'),
                 os.path.join(args.build, 'bench', 'tribu-load')):
        if not os.access(path, os.X_OK):
            die(f'{path} missing: meson configure {args.build} -Dbench=true && ninja -C {args.build}')
    row = run(args)
    for key, value in row.items():
        print(f'{key:28} {value}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'row': row, 'nproc': os.cpu_count()}, f, indent=1)


if __name__ == '__main__':
    main()
