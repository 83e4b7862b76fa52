#!/usr/bin/env python3
"""fanout.py — tribud fan-out benchmark: one publisher, K subscribers, loopback only.

For each K (default 1 10 25 50) it starts a fresh tribud (temporary data dir,
media on 127.0.0.1, a workshop room of capacity K+1), one publisher
(tribu-client, or tribu-load's synthetic publisher with --publisher synthetic)
and tribu-load with K subscribers; lets them settle; then measures a window:

  - tribud CPU: utime+stime of the process (/proc/PID/stat) across the window,
    and the busiest thread's share (the room's media worker);
  - tribu_rtp_forwarded_total from GET /metrics at both ends of the window.
    The routers publish their counters once a second, so each end of the
    window is taken right after the counter moves (polled every 20 ms);
  - subscriber packets, gaps (loss) over the window and the whole run, and
    join times (join request -> first packet starting a VP8 key frame), from
    tribu-load's JSON lines;
  - UDP receive-buffer drops of the network namespace (/proc/net/snmp) and,
    with the synthetic publisher, the publisher leg (sent, received by tribud,
    lost on the way), so a loss can be placed;
  - how busy the machine was with other work during the window ("others"):
    the figures move with it, so before each K the script waits (up to
    --quiet-wait s) until the machine is below --quiet % busy.

It prints one row per K, the marginal cost (least squares over K) and the
machine. Everything runs in a new network
namespace that has only loopback (unshare -n; the script re-executes itself
there and refuses to run if another interface shows up), so no packet leaves
the machine. Root is needed for unshare -n.

Usage:
  bench/fanout.py [--build DIR] [--ks 1,10,25,50] [--settle 10] [--window 20]
                  [--publisher tribu-client|synthetic] [--publish-kbps 1000]
                  [--json OUT.json] [--quiet 15] [--perf FILE]
                  [--wrap 'valgrind --tool=callgrind ...']

With --wrap containing callgrind, the counters are zeroed at the window's
start and dumped at its end (callgrind_control), so the profile is the
steady state only. --perf samples tribud (kernel included) in the window.

Environment: TRIBU_CLIENT (the publisher client, or --publisher-client).
"""

import argparse
import json
import os
import platform
import queue
import re
import signal
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf('SC_CLK_TCK')
LISTENING = re.compile(r'listening on https?://[^:]+:(\d+)/')


def die(msg):
    print(f'fanout: {msg}', file=sys.stderr)
    sys.exit(1)


# ---- /proc readers ----

def proc_cpu_ticks(pid):
    """utime + stime of PID in clock ticks (all threads, living and gone)."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def thread_cpu_ns(pid):
    """{tid: (name, ns on CPU, voluntary context switches)} of PID's threads,
    from /proc/PID/task/*: a voluntary switch is the thread going to sleep,
    so for a media worker it counts main-loop wake-ups."""
    out = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/schedstat') as f:
                ns = int(f.read().split()[0])
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                name = f.read().strip()
            with open(f'/proc/{pid}/task/{tid}/status') as f:
                vcs = next(int(l.split()[1]) for l in f
                           if l.startswith('voluntary_ctxt_switches'))
        except (OSError, StopIteration):
            continue
        out[tid] = (name, ns, vcs)
    return out


def cpu_stat():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open('/proc/stat') as f:
        v = list(map(int, f.readline().split()[1:9]))
    return sum(v) - v[3] - v[4], sum(v)


def wait_quiet(threshold, max_wait):
    """Waits until the machine's CPUs are below THRESHOLD % busy over 3 s
    (other people's builds and tests share this machine); returns the last
    figure and how long it waited."""
    t0 = time.monotonic()
    while True:
        a = cpu_stat()
        time.sleep(3)
        b = cpu_stat()
        busy = 100 * (b[0] - a[0]) / max(1, b[1] - a[1])
        if busy < threshold or time.monotonic() - t0 > max_wait:
            return round(busy, 1), round(time.monotonic() - t0)


def udp_counters():
    """Udp counters of this network namespace (/proc/net/snmp)."""
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


def machine():
    model = '?'
    flags = set()
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name') and model == '?':
                model = line.split(':', 1)[1].strip()
            if line.startswith('flags') and not flags:
                flags = set(line.split(':', 1)[1].split())
    mem_kb = 0
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                mem_kb = int(line.split()[1])
    return {
        'nproc': os.cpu_count(),
        'cpu': model,
        'aes': sorted(flags & {'aes', 'vaes', 'avx2', 'pclmulqdq', 'avx512f'}),
        'kernel': platform.release(),
        'mem_gib': round(mem_kb / 1048576, 1),
        'hypervisor': 'hypervisor' in flags,
    }


# ---- processes ----

class Lines:
    """Collects a child's stdout lines on a thread."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.all = []
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        for line in stream:
            self.all.append(line)
            self.q.put(line)
        self.q.put(None)

    def next_json(self, kind, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get('type') == kind:
                return obj


def wait_for(check, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f'timed out after {timeout} s waiting for {what}')


def stop(proc, sig=signal.SIGTERM, timeout=20):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# ---- one K ----

def run_one(args, k, publisher_client):
    tmp = tempfile.mkdtemp(prefix=f'tribu-fanout-k{k}-')
    data = os.path.join(tmp, 'data')
    os.mkdir(data)
    conf = os.path.join(tmp, 'tribud.conf')
    with open(conf, 'w') as f:
        f.write('[media]\naddresses = 127.0.0.1\n\n'
                f'[rooms]\ncoaching_capacity = {k + 1}\nworkshop_capacity = {k + 1}\n')
    tribud = os.path.join(args.build, 'server', 'tribud')
    load = os.path.join(args.build, 'bench', 'tribu-load')
    room = 'bench'
    row = {'k': k}
    procs = []
    err_paths = {name: os.path.join(tmp, name + '.err') for name in ('tribud', 'publisher', 'load')}

    def spawn(name, argv, **kw):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(err_paths[name], 'w'),
                             text=True, **kw)
        procs.append(p)
        return p

    quiet = wait_quiet(args.quiet, args.quiet_wait) if args.quiet < 100 else None
    try:
        argv = shlex.split(args.wrap) + [tribud, '--config', conf, '--data-dir', data,
                                         '--listen', '127.0.0.1:0']
        server = spawn('tribud', argv)
        server_out = Lines(server.stdout)
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            try:
                line = server_out.q.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError('tribud exited before listening')
            m = LISTENING.search(line)
            port = int(m.group(1)) if m else None
        if port is None:
            raise RuntimeError('tribud did not print its listening line')
        pid = server.pid  # a --wrap tool (valgrind) runs tribud in its own pid
        url = f'ws://127.0.0.1:{port}/ws'
        run_s = args.settle + args.window + k * args.join_interval_ms / 1000 + 30

        # The publisher joins first and creates the workshop room.
        if args.publisher == 'synthetic':
            pub = spawn('publisher', [load, '--url', url, '--secret-file',
                                      os.path.join(data, 'secret'), '--room', room,
                                      '--subscribers', '0', '--publish-kbps',
                                      str(args.publish_kbps), '--name-prefix', 'pub-'])
        else:
            token = subprocess.run([tribud, 'token', '--data-dir', data, '--user', 'pub',
                                    '--role', 'mentor', '--room', room, '--kind', 'workshop',
                                    '--ttl', '2h'], check=True, capture_output=True,
                                   text=True).stdout.strip()
            pub = spawn('publisher', [publisher_client, '--url', url, '--token', token,
                                      '--publish', 'audio,video', '--width', '640', '--height',
                                      '360', '--fps', '30', '--duration', str(int(run_s))])
        pub_out = Lines(pub.stdout)
        wait_for(lambda: metrics(port).get('tribu_rtp_received_total', 0) > 0, 60,
                 'the publisher\'s first RTP packets at tribud')

        sub = spawn('load', [load, '--url', url, '--secret-file', os.path.join(data, 'secret'),
                             '--room', room, '--subscribers', str(k), '--join-interval-ms',
                             str(args.join_interval_ms)])
        sub_out = Lines(sub.stdout)
        time.sleep(args.settle + k * args.join_interval_ms / 1000)

        def mark():
            """Waits for the forwarded counter to move, then samples everything."""
            first = metrics(port)['tribu_rtp_forwarded_total']
            t_end = time.monotonic() + 3
            while time.monotonic() < t_end:
                m = metrics(port)
                if m['tribu_rtp_forwarded_total'] != first:
                    break
                time.sleep(0.02)
            s = {
                't': time.monotonic(),
                'stat': cpu_stat(),
                'bench_ticks': sum(proc_cpu_ticks(p.pid) for p in (pub, sub)),
                'loadavg': open('/proc/loadavg').read().split()[0],
                'ticks': proc_cpu_ticks(pid),
                'threads': thread_cpu_ns(pid),
                'udp': udp_counters(),
                'fwd': m['tribu_rtp_forwarded_total'],
                'rx': m['tribu_rtp_received_total'],
                'dropped': m.get('tribu_rtp_dropped_total', 0),
                'nacks': m.get('tribu_nacks_received_total', 0),
                'plis': m.get('tribu_plis_sent_total', 0),
            }
            sub.send_signal(signal.SIGUSR1)
            if args.publisher == 'synthetic':
                pub.send_signal(signal.SIGUSR1)
                s['pub'] = pub_out.next_json('snapshot', 10) or {}
                s['pub_server'] = (pub_out.next_json('server-stats', 10) or {}).get('data') or {}
            s['load'] = sub_out.next_json('snapshot', 10)
            return s

        a = mark()
        profiler = None
        if args.perf:
            profiler = subprocess.Popen(['perf', 'record', '-q', '-F', '997', '-e', 'cpu-clock',
                                         '-g', '-p', str(pid), '-o', f'{args.perf}.k{k}'],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if 'callgrind' in args.wrap:  # count the window only
            subprocess.run(['callgrind_control', '--zero', str(pid)], capture_output=True)
        time.sleep(max(0.0, args.window - 0.5))
        if 'callgrind' in args.wrap:
            subprocess.run(['callgrind_control', f'--dump=window-k{k}', str(pid)],
                           capture_output=True)
        if profiler:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        b = mark()
        for p, name in ((server, 'tribud'), (pub, 'publisher'), (sub, 'tribu-load')):
            if p.poll() is not None:
                raise RuntimeError(f'{name} exited during the window ({p.returncode})')

        dt = b['t'] - a['t']
        dstat_total = max(1, b['stat'][1] - a['stat'][1])
        machine_busy = 100 * (b['stat'][0] - a['stat'][0]) / dstat_total
        ours = 100 * (b['ticks'] - a['ticks'] + b['bench_ticks'] - a['bench_ticks']) / dstat_total
        dfwd = b['fwd'] - a['fwd']
        dcpu_s = (b['ticks'] - a['ticks']) / CLK_TCK
        threads = []
        for tid, (name, ns, vcs) in b['threads'].items():
            if tid in a['threads']:
                threads.append((ns - a['threads'][tid][1], name, vcs - a['threads'][tid][2]))
        threads.sort(reverse=True)
        sched_s = sum(t[0] for t in threads) / 1e9
        la, lb = a['load'] or {}, b['load'] or {}
        exp = lb.get('expected', 0) - la.get('expected', 0)
        lost = lb.get('lost', 0) - la.get('lost', 0)
        row.update({
            'window_s': round(dt, 3),
            'quiet_before': quiet,
            'loadavg': [a['loadavg'], b['loadavg']],
            'machine_busy_percent': round(machine_busy, 1),  # of all CPUs
            'others_percent': round(machine_busy - ours, 1),  # not tribud, publisher, tribu-load
            'forwarded': int(dfwd),
            'forwarded_pps': round(dfwd / dt, 1),
            'publisher_pps': round((b['rx'] - a['rx']) / dt, 1),
            'cpu_s': round(dcpu_s, 3),
            'cpu_us_per_packet': round(dcpu_s * 1e6 / dfwd, 2) if dfwd else None,
            'cpu_percent': round(100 * dcpu_s / dt, 1),
            'schedstat_us_per_packet': round(sched_s * 1e6 / dfwd, 2) if dfwd else None,
            'busiest_thread': {'name': threads[0][1],
                               'percent': round(100 * threads[0][0] / 1e9 / dt, 1),
                               'wakeups_per_s': round(threads[0][2] / dt),
                               'forwarded_per_wakeup': round(dfwd / max(1, threads[0][2]), 1)}
            if threads else None,
            'subscriber_rx_pps': round((lb.get('packets', 0) - la.get('packets', 0)) / dt, 1),
            'subscriber_kbps_each': round(8 * (lb.get('bytes', 0) - la.get('bytes', 0)) / dt
                                          / 1000 / max(k, 1), 1),
            'window_expected': exp,
            'window_lost': lost,
            'window_loss_percent': round(100 * lost / exp, 4) if exp else None,
            'udp_rcvbuf_errors': b['udp'].get('RcvbufErrors', 0) - a['udp'].get('RcvbufErrors', 0),
            'udp_sndbuf_errors': b['udp'].get('SndbufErrors', 0) - a['udp'].get('SndbufErrors', 0),
            'udp': {key: b['udp'][key] - a['udp'].get(key, 0) for key in b['udp']},
            'rtp_dropped': int(b['dropped'] - a['dropped']),
            'nacks': int(b['nacks'] - a['nacks']),
            'plis': int(b['plis'] - a['plis']),
        })

        if args.publisher == 'synthetic':
            def pub_leg(m):
                pc = (m.get('pub_server') or {}).get('publish') or {}
                return {'sent': (m.get('pub') or {}).get('pub_packets', 0),
                        'tribud_in': pc.get('packets_in', 0),
                        'tribud_dropped_in': pc.get('dropped_in', 0),
                        'tribud_track_lost': sum(t.get('lost', 0) for t in pc.get('tracks', []))}
            pa, pb = pub_leg(a), pub_leg(b)
            row['publisher_leg'] = {key: pb[key] - pa[key] for key in pb}
        stop(sub, signal.SIGTERM)
        final = sub_out.next_json('final', 10)
        if final is None:
            # already printed before we looked
            for line in sub_out.all:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get('type') == 'final':
                    final = obj
        if final:
            joins = sorted(s['join_ms'] for s in final['per_subscriber'] if s['join_ms'] >= 0)
            profiles = sorted({s['srtp_profile'] for s in final['per_subscriber']
                               if s.get('srtp_profile')})
            errors = [f"{s['user']}: {s['error']}" for s in final['per_subscriber'] if s['error']]
            row.update({
                'subscribers_with_keyframe': final['keyframe'],
                'join_ms': {'min': round(joins[0], 1), 'median': round(statistics.median(joins), 1),
                            'max': round(joins[-1], 1)} if joins else None,
                'connected_ms_median': round(statistics.median(
                    s['connected_ms'] for s in final['per_subscriber']
                    if s['connected_ms'] >= 0), 1) if final['connected'] else None,
                'run_expected': final['expected'],
                'run_lost': final['lost'],
                'run_loss_percent': round(100 * final['lost'] / final['expected'], 4)
                if final['expected'] else None,
                'subscriber_srtp_profiles': profiles,
                'subscriber_errors': errors,
            })
        stop(pub, signal.SIGTERM)
        if args.publisher == 'synthetic':
            pub_out.t.join(5)
            for line in pub_out.all:
                if '"final"' in line:
                    row['publisher'] = json.loads(line).get('publisher')
        rc = stop(server, signal.SIGTERM, timeout=60)
        row['tribud_exit'] = rc
        with open(err_paths['tribud']) as f:
            log = f.read()
        row['tribud_srtp_profiles'] = sorted(set(re.findall(r'connected \((SRTP_\w+)\)', log)))
        row['tribud_warnings'] = [l for l in log.splitlines()
                                  if re.search(r'\b(WARN|ERROR|warn|error)\b', l)][:10]
    except Exception as e:  # report and keep the logs
        row['error'] = str(e)
        for name, path in err_paths.items():
            if os.path.exists(path):
                with open(path) as f:
                    tail = f.read()[-2000:]
                row.setdefault('logs', {})[name] = tail
    finally:
        for p in reversed(procs):
            stop(p, signal.SIGKILL if p.poll() is None and 'error' in row else signal.SIGTERM)
    row['tmp'] = tmp
    return row


def fmt_row(r):
    if 'error' in r and 'cpu_us_per_packet' not in r:
        return f"{r['k']:>3}  ERROR: {r['error']}"
    j = r.get('join_ms') or {}
    bt = r.get('busiest_thread') or {}
    return (f"{r['k']:>3} {r['publisher_pps']:>8} {r['forwarded_pps']:>9} "
            f"{r['cpu_us_per_packet']:>9} {r['schedstat_us_per_packet']:>9} "
            f"{r['cpu_percent']:>6}% {bt.get('percent', '?'):>6}% "
            f"{r['subscriber_kbps_each']:>7} "
            f"{r['window_loss_percent']!s:>8}% {r.get('run_loss_percent')!s:>8}% "
            f"{j.get('min', '?'):>7} {j.get('median', '?'):>7} {j.get('max', '?'):>7} "
            f"{r.get('others_percent', '?'):>6}%")


HEADER = ("  K  pub pps  fwd pps/s  CPU us/p  sched us/p   CPU% worker% kbps/sub "
          "  loss win  loss run  join min  median     max (ms) others")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.environ.get('TRIBU_BUILD', '/tmp/bench-build'))
    ap.add_argument('--ks', default='1,10,25,50')
    ap.add_argument('--settle', type=float, default=10.0,
                    help='seconds after the last join before the window (default 10)')
    ap.add_argument('--window', type=float, default=20.0, help='measured seconds (default 20)')
    ap.add_argument('--join-interval-ms', type=int, default=50)
    ap.add_argument('--publisher', choices=('tribu-client', 'synthetic'), default='tribu-client')
    ap.add_argument('--publisher-client', default=os.environ.get(
        'TRIBU_CLIENT', '/tmp/tribu-client/build/webrtc-client/tribu-client'))
    ap.add_argument('--publish-kbps', type=int, default=1000,
                    help='synthetic publisher: VP8 + Opus kbit/s (default 1000)')
    ap.add_argument('--quiet', type=float, default=15,
                    help='before each K, wait until the machine is below this %% busy '
                         '(default 15; 100: do not wait)')
    ap.add_argument('--quiet-wait', type=float, default=600,
                    help='but no longer than this many seconds (default 600)')
    ap.add_argument('--perf', metavar='FILE',
                    help='perf record (cpu-clock, 997 Hz) tribud during the window into FILE.kK')
    ap.add_argument('--wrap', default='', help='run tribud under this command (profilers)')
    ap.add_argument('--json', help='write the rows and the machine to this file')
    ap.add_argument('--inside', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_args()

    if not args.inside:
        # Re-run in a network namespace with loopback only.
        inner = [sys.executable, os.path.abspath(__file__), '--inside'] + sys.argv[1:]
        cmd = 'ip link set lo up && exec "$@"'
        os.execvp('unshare', ['unshare', '-n', 'sh', '-c', cmd, 'sh'] + inner)

    with open('/proc/net/dev') as f:  # per network namespace (/sys/class/net is not)
        links = sorted(l.split(':')[0].strip() for l in f if ':' in l)
    if links != ['lo']:
        die(f'expected loopback only in the namespace, found {links}')
    for path in (os.path.join(args.build, 'server', 'tribud'),
                 os.path.join(args.build, 'bench', 'tribu-load')):
        if not os.access(path, os.X_OK):
            die(f'{path} missing: meson setup {args.build} -Dbench=true && ninja -C {args.build}')
    if args.publisher == 'tribu-client' and not os.access(args.publisher_client, os.X_OK):
        die(f'publisher client {args.publisher_client} missing (--publisher-client or TRIBU_CLIENT)')

    info = machine()
    print(f"machine: {info['nproc']} CPU, {info['cpu']} ({' '.join(info['aes'])}), "
          f"kernel {info['kernel']}, {info['mem_gib']} GiB"
          f"{', virtualised' if info['hypervisor'] else ''}")
    print(f"publisher: {args.publisher}"
          + (f" ({args.publish_kbps} kbit/s)" if args.publisher == 'synthetic' else
             f" ({args.publisher_client}, 640x360@30 VP8 + Opus)"))
    print(f"window {args.window:g} s after {args.settle:g} s of settling; "
          f"joins {args.join_interval_ms} ms apart; loopback only (network namespace)")
    print(HEADER)
    rows = []
    for k in [int(x) for x in args.ks.split(',')]:
        r = run_one(args, k, args.publisher_client)
        rows.append(r)
        print(fmt_row(r), flush=True)
        if r.get('window_lost') or r.get('run_lost'):
            print(f"     loss: window {r.get('window_lost')} of {r.get('window_expected')} "
                  f"subscriber packets; UDP receive-buffer drops in the window "
                  f"{r.get('udp_rcvbuf_errors')}; publisher leg {r.get('publisher_leg', 'n/a')}")
        if r.get('error') or r.get('subscriber_errors') or r.get('tribud_exit') not in (0, None):
            print(f"     notes: {json.dumps({x: r.get(x) for x in ('error', 'subscriber_errors', 'tribud_exit', 'tribud_warnings', 'logs') if r.get(x)})}")
    ok = [r for r in rows if r.get('cpu_s') is not None]
    if len(ok) >= 2:
        # CPU-seconds per second against forwarded packets per second: the
        # slope is what one more forwarded packet costs, the intercept what
        # the room costs with nobody to forward to.
        xs = [r['forwarded_pps'] for r in ok]
        ys = [r['cpu_s'] / r['window_s'] for r in ok]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        print(f"marginal cost (least squares over K): {slope * 1e6:.2f} us of tribud CPU per "
              f"forwarded packet, plus {100 * (my - slope * mx):.2f}% of a CPU fixed")
    profiles = sorted({p for r in rows for p in r.get('tribud_srtp_profiles', [])})
    print(f"SRTP profiles negotiated (tribud log): {', '.join(profiles) or '?'}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'machine': info, 'args': vars(args), 'rows': rows}, f, indent=1)


if __name__ == '__main__':
    main()
