#!/usr/bin/env python3
"""compare.py — tribud and Janus side by side, same machine, same run, same load.

One command measures both servers under identical media: the load client is
bench/tribu-load for both (one process of K subscribers, and one synthetic
publisher sending ~1 Mbit/s of VP8 + Opus shaped like a browser's), speaking
tribud's signaling to tribud and Janus's VideoRoom API (WebSocket,
"janus-protocol") to Janus. Subscribers count packets, sequence gaps and the
time from their first signaling request to the first packet of a VP8 key
frame, in the same code for both servers.

For each K (default 1 10 25 50 100) the two servers run one after the other
(tribud then Janus at each K, so both see the same machine), each fresh:

  tribud: temporary data dir, [media] addresses = 127.0.0.1, room capacity
          K+1, [recording] enabled = false (Janus records nothing either);
  Janus:  Debian's janus (scripts/setup installs it), with a configuration
          written here into a temporary directory: only the VideoRoom plugin
          and the WebSocket transport (symlinked into private plugin and
          transport folders), WebSocket on 127.0.0.1, no admin API, one room
          of VP8 + Opus with record off; started with LD_PRELOAD of
          bench/janus/ifaddrs-shim.c (build/bench/libifaddrs-shim.so) so that
          it gathers a candidate on lo, the only interface here.

and a window is measured after the joins settle. Per server and K:

  - CPU us per forwarded packet: the server's utime+stime (/proc/PID/stat)
    over the window / packets the subscribers received in it (the same
    count for both servers; tribud's own forwarded counter is kept as a
    check in --json);
  - forwarded packets/s, subscriber loss (sequence gaps / expected) in the
    window, join time p50 / p95 / max over the K subscribers, subscribers
    that never got a key frame;
  - peak RSS (VmHWM of the server process at the window's end);
  - "others": how busy the machine was with other work during the window.

The window starts once every subscriber has its key frame (or the joins
time out), plus --settle seconds. Capacity: the largest K run with under
1 % window loss, every subscriber joined and at least 99 % of what the
publisher sent delivered to each ("deliv"). The headline is the
tribud / Janus ratio of each figure (below 1 is tribud cheaper or faster,
except packets/s).

Recording cost (--rec-publishers P, default 4; 0 skips it): P synthetic
publishers, each in a room of its own, no subscriber; the window's server
CPU with recording off, then on (tribud: [recording] enabled; Janus: the
rooms' record option); the difference per recorded publisher (audio +
video) as % of a CPU and as us per recorded packet. tribud writes WebM
files; Janus writes its raw RTP dumps (.mjr), to be converted later.

Everything runs in a new network namespace with loopback only (unshare -n;
the script re-executes itself there, root needed), so no packet leaves the
machine.

Usage:
  sudo bench/compare.py [--build DIR] [--ks 1,10,25,50,100] [--settle 8]
                        [--window 15] [--rec-publishers 4] [--servers tribud,janus]
                        [--quiet 30] [--quiet-wait 60] [--json OUT.json]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fanout  # noqa: E402  (its /proc readers, process helpers, machine())

CLK_TCK = os.sysconf('SC_CLK_TCK')
JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus'
PUBLISH_KBPS = 1000
FEED = 1  # the fan-out publisher's Janus feed id
FANOUT_ROOM = 1234
REC_ROOM0 = 2001  # recording: rooms REC_ROOM0 .. + P - 1


def die(msg):
    print(f'compare: {msg}', file=sys.stderr)
    sys.exit(1)


def vm_hwm_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def percentile(values, p):
    """Nearest-rank percentile of VALUES (sorted), P in 0..100."""
    if not values:
        return None
    rank = max(1, -(-len(values) * p // 100))
    return values[int(rank) - 1]


def versions():
    janus = subprocess.run(['janus', '--version'], capture_output=True, text=True).stdout
    janus = next((l.split('(')[-1].rstrip(')') for l in janus.splitlines()
                  if l.startswith('Janus version')), '?')
    pkg = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', 'janus'],
                         capture_output=True, text=True).stdout.strip()
    return janus, pkg


# ---- servers ----

class Server:
    """One server process and how to point tribu-load at it."""

    def __init__(self, name, tmp):
        self.name, self.tmp, self.proc, self.url = name, tmp, None, None
        self.err = open(os.path.join(tmp, name + '.log'), 'w')

    def stop(self):
        if self.proc:
            rc = fanout.stop(self.proc, signal.SIGTERM, timeout=30)
            self.err.close()
            return rc
        return None


class Tribud(Server):
    def __init__(self, args, tmp, capacity, record):
        super().__init__('tribud', tmp)
        data = os.path.join(tmp, 'data')
        os.mkdir(data)
        conf = os.path.join(tmp, 'tribud.conf')
        with open(conf, 'w') as f:
            f.write('[media]\naddresses = 127.0.0.1\n\n'
                    f'[rooms]\ncoaching_capacity = {capacity}\nworkshop_capacity = {capacity}\n'
                    # everyone receives everyone's video, as Janus's subscribers do
                    # (tribud's default forwards the last 9 speakers' video)
                    f'last_n = {max(capacity, 1)}\n\n'
                    f'[recording]\nenabled = {"true" if record else "false"}\n')
        self.secret = os.path.join(data, 'secret')
        self.proc = subprocess.Popen([os.path.join(args.build, 'server', 'tribud'), '--config',
                                      conf, '--data-dir', data, '--listen', '127.0.0.1:0'],
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        out = fanout.Lines(self.proc.stdout)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = out.q.get(timeout=1)
            except Exception:
                continue
            if line is None:
                raise RuntimeError('tribud exited before listening')
            m = fanout.LISTENING.search(line)
            if m:
                self.url = f'ws://127.0.0.1:{m.group(1)}/ws'
                return
        raise RuntimeError('tribud did not print its listening line')

    def load_args(self, room):
        return ['--url', self.url, '--secret-file', self.secret, '--room', f'room{room}']


class Janus(Server):
    def __init__(self, args, tmp, capacity, record, rooms):
        super().__init__('janus', tmp)
        conf = os.path.join(tmp, 'conf')
        folders = {}
        for kind, keep in (('plugins', 'libjanus_videoroom.so'),
                           ('transports', 'libjanus_websockets.so'),
                           ('events', None), ('loggers', None)):
            folders[kind] = os.path.join(tmp, kind)
            os.makedirs(folders[kind])
            if keep:
                os.symlink(os.path.join(JANUS_LIB, kind, keep), os.path.join(folders[kind], keep))
        os.makedirs(conf)
        port = free_port()
        rec_dir = os.path.join(tmp, 'recordings')
        os.makedirs(rec_dir)
        with open(os.path.join(conf, 'janus.jcfg'), 'w') as f:
            f.write('general: {\n'
                    f'\tconfigs_folder = "{conf}"\n'
                    + ''.join(f'\t{k}_folder = "{v}"\n' for k, v in folders.items()) +
                    '\tdebug_level = 4\n\tsession_timeout = 60\n}\n'
                    'media: {\n\trtp_port_range = "20000-40000"\n}\n'
                    'nat: {\n\tnice_debug = false\n\tice_enforce_list = "lo"\n}\n'
                    'events: {\n\tbroadcast = false\n}\n')
        with open(os.path.join(conf, 'janus.transport.websockets.jcfg'), 'w') as f:
            f.write('general: {\n\tjson = "compact"\n\tws = true\n'
                    f'\tws_port = {port}\n\tws_ip = "127.0.0.1"\n\twss = false\n}}\n'
                    'admin: {\n\tadmin_ws = false\n\tadmin_wss = false\n}\n')
        with open(os.path.join(conf, 'janus.plugin.videoroom.jcfg'), 'w') as f:
            f.write('general: {\n}\n')
            for room in rooms:
                f.write(f'room-{room}: {{\n\tdescription = "bench {room}"\n'
                        f'\tpublishers = {max(capacity, 2)}\n\tbitrate = 4000000\n'
                        '\tfir_freq = 0\n\taudiocodec = "opus"\n\tvideocodec = "vp8"\n'
                        f'\trecord = {"true" if record else "false"}\n'
                        f'\trec_dir = "{rec_dir}"\n}}\n')
        shim = os.path.join(args.build, 'bench', 'libifaddrs-shim.so')
        env = dict(os.environ, LD_PRELOAD=shim)
        self.proc = subprocess.Popen(['janus', '--configs-folder', conf, '--config',
                                      os.path.join(conf, 'janus.jcfg')],
                                     stdout=self.err, stderr=subprocess.STDOUT, env=env)

        def accepting():
            if self.proc.poll() is not None:
                raise RuntimeError(f'janus exited ({self.proc.returncode})')
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                return True
            except OSError:
                return False
        fanout.wait_for(accepting, 30, 'Janus\'s WebSocket port', interval=0.1)
        self.url = f'ws://127.0.0.1:{port}/'

    def load_args(self, room):
        return ['--server', 'janus', '--url', self.url, '--janus-room', str(room)]


def start_server(name, args, tmp, capacity, record=False, rooms=(FANOUT_ROOM,)):
    if name == 'tribud':
        return Tribud(args, tmp, capacity, record)
    return Janus(args, tmp, capacity, record, rooms)


# ---- the load ----

def spawn_load(args, tmp, label, argv):
    err = open(os.path.join(tmp, label + '.err'), 'w')
    p = subprocess.Popen([os.path.join(args.build, 'bench', 'tribu-load')] + argv,
                         stdout=subprocess.PIPE, stderr=err, text=True)
    p.lines = fanout.Lines(p.stdout)
    return p


def start_publisher(args, tmp, server, room, label='publisher', feed=FEED):
    argv = server.load_args(room) + ['--subscribers', '0', '--publish-kbps',
                                     str(PUBLISH_KBPS), '--name-prefix', 'pub-',
                                     '--keyframe-min-ms', str(args.keyframe_min_ms)]
    if server.name == 'janus':
        argv += ['--janus-feed', str(feed)]
    p = spawn_load(args, tmp, label, argv)
    if not p.lines.next_json('publishing', 30):
        raise RuntimeError(f'{label} did not connect (see {tmp}/{label}.err)')
    return p


def snapshot(procs):
    """SIGUSR1 to each tribu-load; their "snapshot" lines."""
    for p in procs:
        p.send_signal(signal.SIGUSR1)
    return [p.lines.next_json('snapshot', 10) or {} for p in procs]


def mark(server, loads):
    s = {'t': time.monotonic(), 'stat': fanout.cpu_stat(),
         'ticks': fanout.proc_cpu_ticks(server.proc.pid),
         'load_ticks': sum(fanout.proc_cpu_ticks(p.pid) for p in loads),
         'udp': fanout.udp_counters()}
    s['snap'] = snapshot(loads)
    return s


def window_figures(server, a, b, loads):
    dt = b['t'] - a['t']
    total = max(1, b['stat'][1] - a['stat'][1])
    busy = 100 * (b['stat'][0] - a['stat'][0]) / total
    ours = 100 * (b['ticks'] - a['ticks'] + b['load_ticks'] - a['load_ticks']) / total
    cpu_s = (b['ticks'] - a['ticks']) / CLK_TCK
    return {'window_s': round(dt, 3), 'cpu_s': round(cpu_s, 3),
            'cpu_percent': round(100 * cpu_s / dt, 1),
            'machine_busy_percent': round(busy, 1), 'others_percent': round(busy - ours, 1),
            'load_cpu_percent': round(100 * (b['load_ticks'] - a['load_ticks'])
                                      / CLK_TCK / dt, 1),
            'udp_rcvbuf_errors': b['udp'].get('RcvbufErrors', 0) - a['udp'].get('RcvbufErrors', 0),
            'peak_rss_kib': vm_hwm_kib(server.proc.pid)}


def run_fanout(args, name, k):
    tmp = tempfile.mkdtemp(prefix=f'tribu-compare-{name}-k{k}-')
    row = {'server': name, 'k': k, 'tmp': tmp}
    server, procs = None, []
    quiet = fanout.wait_quiet(args.quiet, args.quiet_wait) if args.quiet < 100 else None
    try:
        server = start_server(name, args, tmp, k + 1)
        pub = start_publisher(args, tmp, server, FANOUT_ROOM)
        procs.append(pub)
        time.sleep(1)
        sub = spawn_load(args, tmp, 'load', server.load_args(FANOUT_ROOM) + [
            '--subscribers', str(k), '--join-interval-ms', str(args.join_interval_ms)])
        procs.append(sub)
        # the window starts once every subscriber has its key frame (or the
        # joins time out: then the row says how many did), and settled
        deadline = time.monotonic() + 30 + k * args.join_interval_ms / 1000 * 4
        while time.monotonic() < deadline:
            time.sleep(1)
            if snapshot([sub])[0].get('keyframe', 0) >= k:
                break
        row['all_joined_after_s'] = round(time.monotonic() - deadline + 30
                                          + k * args.join_interval_ms / 1000 * 4, 1)
        time.sleep(args.settle)
        a = mark(server, [sub, pub])
        time.sleep(args.window)
        b = mark(server, [sub, pub])
        for p, what in ((server.proc, name), (pub, 'publisher'), (sub, 'tribu-load')):
            if p.poll() is not None:
                raise RuntimeError(f'{what} exited during the window ({p.returncode})')
        row.update(window_figures(server, a, b, [sub, pub]))
        la, lb = a['snap'][0], b['snap'][0]
        pkts = lb.get('packets', 0) - la.get('packets', 0)
        exp = lb.get('expected', 0) - la.get('expected', 0)
        lost = lb.get('lost', 0) - la.get('lost', 0)
        pub_sent = b['snap'][1].get('pub_packets', 0) - a['snap'][1].get('pub_packets', 0)
        row.update({
            'quiet_before': quiet,
            'publisher_pps': round(pub_sent / row['window_s'], 1),
            'forwarded': pkts,
            'forwarded_pps': round(pkts / row['window_s'], 1),
            # what the subscribers received of what the publisher sent
            'delivered_percent': round(100 * pkts / (k * pub_sent), 1) if pub_sent else None,
            'cpu_us_per_packet': round(row['cpu_s'] * 1e6 / pkts, 2) if pkts else None,
            'window_expected': exp, 'window_lost': lost,
            'loss_percent': round(100 * lost / exp, 3) if exp else None,
        })
        fanout.stop(sub, signal.SIGTERM)
        final = sub.lines.next_json('final', 15)
        if final:
            subs = final['per_subscriber']
            joins = sorted(s['join_ms'] for s in subs if s['join_ms'] >= 0)
            row.update({
                'joined': len(joins),
                'join_ms': {'p50': round(percentile(joins, 50), 1),
                            'p95': round(percentile(joins, 95), 1),
                            'max': round(joins[-1], 1)} if joins else None,
                'joins_over_300ms': sum(1 for j in joins if j > 300),
                # where a join's time goes: medians of each step from the
                # first request (offer received, DTLS up, first RTP, key frame)
                'join_steps_p50_ms': {
                    key: round(statistics.median(v), 1) for key in
                    ('offer_ms', 'connected_ms', 'first_rtp_ms', 'join_ms')
                    if (v := [s[key] for s in subs if s[key] >= 0])},
                'srtp_profiles': sorted({s['srtp_profile'] for s in subs
                                         if s.get('srtp_profile')}),
                'subscriber_errors': [f"{s['user']}: {s['error']}" for s in subs
                                      if s['error']][:5],
            })
        fanout.stop(pub, signal.SIGTERM)
        row['server_exit'] = server.stop()
    except Exception as e:  # keep going; the row says what happened
        row['error'] = str(e)
    finally:
        for p in procs:
            fanout.stop(p, signal.SIGKILL)
        if server:
            server.stop()
    return row


def run_workshop(args, name, m):
    """M participants, each publishing and receiving every other one."""
    tmp = tempfile.mkdtemp(prefix=f'tribu-compare-{name}-m{m}-')
    row = {'server': name, 'm': m, 'tmp': tmp}
    server, procs = None, []
    quiet = fanout.wait_quiet(args.quiet, args.quiet_wait) if args.quiet < 100 else None
    try:
        server = start_server(name, args, tmp, m + 1)
        for i in range(1, m + 1):
            argv = server.load_args(FANOUT_ROOM) + [
                '--participant', '--subscribe-on-usr2', '--publish-kbps', str(PUBLISH_KBPS),
                '--name-prefix', f'p{i}-']
            if name == 'janus':
                argv += ['--janus-feed', str(i), '--janus-feeds', str(m)]
            p = spawn_load(args, tmp, f'participant{i}', argv)
            procs.append(p)
            if not p.lines.next_json('publishing', 30):
                raise RuntimeError(f'participant {i} did not connect (see {tmp})')
        time.sleep(1)
        for p in procs:  # Janus: subscribe once every feed exists
            p.send_signal(signal.SIGUSR2)
        time.sleep(args.settle + 2)
        a = mark(server, procs)
        time.sleep(args.window)
        b = mark(server, procs)
        for p in [server.proc] + procs:
            if p.poll() is not None:
                raise RuntimeError(f'a process exited during the window ({p.returncode})')
        row.update(window_figures(server, a, b, procs))

        def total(key):
            return sum(y.get(key, 0) - x.get(key, 0) for x, y in zip(a['snap'], b['snap']))
        pkts, exp, lost = total('packets'), total('expected'), total('lost')
        pub_pps = total('pub_packets') / row['window_s']
        row.update({
            'quiet_before': quiet,
            'publisher_pps': round(pub_pps, 1),
            'forwarded': pkts, 'forwarded_pps': round(pkts / row['window_s'], 1),
            'expected_pps': round((m - 1) * pub_pps, 1),
            'cpu_us_per_packet': round(row['cpu_s'] * 1e6 / pkts, 2) if pkts else None,
            'window_expected': exp, 'window_lost': lost,
            'loss_percent': round(100 * lost / exp, 3) if exp else None,
        })
        errors = []
        for p in procs:
            fanout.stop(p, signal.SIGTERM)
            final = p.lines.next_json('final', 15) or {}
            errors += [f"{s['user']}: {s['error']}" for s in final.get('per_subscriber', [])
                       if s['error']]
            if (final.get('publisher') or {}).get('error'):
                errors.append(f"publisher: {final['publisher']['error']}")
        row['errors'] = errors[:5]
        row['server_exit'] = server.stop()
    except Exception as e:
        row['error'] = str(e)
    finally:
        for p in procs:
            fanout.stop(p, signal.SIGKILL)
        if server:
            server.stop()
    return row


def run_recording(args, name, record):
    """P publishers, one per room, no subscriber; the window's server CPU."""
    n = args.rec_publishers
    tmp = tempfile.mkdtemp(prefix=f'tribu-compare-{name}-rec{int(record)}-')
    row = {'server': name, 'record': record, 'publishers': n, 'tmp': tmp}
    rooms = [REC_ROOM0 + i for i in range(n)]
    server, procs = None, []
    quiet = fanout.wait_quiet(args.quiet, args.quiet_wait) if args.quiet < 100 else None
    try:
        server = start_server(name, args, tmp, 2, record=record, rooms=rooms)
        for i, room in enumerate(rooms):
            procs.append(start_publisher(args, tmp, server, room, label=f'publisher{i}'))
        time.sleep(args.settle)
        a = mark(server, procs)
        time.sleep(args.window)
        b = mark(server, procs)
        row.update(window_figures(server, a, b, procs))
        sent = sum(y.get('pub_packets', 0) - x.get('pub_packets', 0)
                   for x, y in zip(a['snap'], b['snap']))
        row.update({'quiet_before': quiet, 'publisher_packets': sent,
                    'publisher_pps': round(sent / row['window_s'], 1)})
        for p in procs:
            fanout.stop(p, signal.SIGTERM)
        row['server_exit'] = server.stop()
        size = 0
        for root, _, files in os.walk(tmp):
            if 'recordings' in root:
                size += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        row['recorded_bytes'] = size
    except Exception as e:
        row['error'] = str(e)
    finally:
        for p in procs:
            fanout.stop(p, signal.SIGKILL)
        if server:
            server.stop()
    return row


# ---- report ----

def fmt(v, spec=''):
    return '-' if v is None else format(v, spec)


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def print_fanout(rows, servers, ks):
    print('\nFan-out: one 1 Mbit/s VP8 + Opus publisher, K subscribers '
          '(deliv: received / K x sent)')
    print('server    K   fwd pps deliv %  CPU us/pkt  CPU %   loss %  join p50    p95    max (ms)'
          '  >300ms  no-kf  peak RSS MiB  others %')
    for k in ks:
        for name in servers:
            r = rows.get((name, k))
            if not r:
                continue
            if 'error' in r and 'cpu_s' not in r:
                print(f'{name:<7} {k:>3}  ERROR: {r["error"]}')
                continue
            j = r.get('join_ms') or {}
            print(f'{name:<7} {k:>3} {fmt(r.get("forwarded_pps")):>9} '
                  f'{fmt(r.get("delivered_percent")):>7} '
                  f'{fmt(r.get("cpu_us_per_packet")):>11} {fmt(r.get("cpu_percent")):>6} '
                  f'{fmt(r.get("loss_percent")):>8} {fmt(j.get("p50")):>9} '
                  f'{fmt(j.get("p95")):>6} {fmt(j.get("max")):>6} '
                  f'{fmt(r.get("joins_over_300ms")):>9} {k - r.get("joined", 0):>6} '
                  f'{r.get("peak_rss_kib", 0) / 1024:>13.1f} {fmt(r.get("others_percent")):>9}')
            if r.get('subscriber_errors') or r.get('error'):
                print(f'            notes: {r.get("error") or ""} {r.get("subscriber_errors")}')


def capacity(rows, name, ks):
    best = None
    for k in ks:
        r = rows.get((name, k))
        if r and r.get('loss_percent') is not None and r['loss_percent'] < 1 \
                and r.get('joined') == k and (r.get('delivered_percent') or 0) >= 99:
            best = k
    return best


def print_ratios(rows, ks):
    print('\nHeadline: tribud / Janus (CPU, loss, join, RSS: below 1 is tribud better)')
    print('   K  CPU us/pkt  fwd pps  join p50  join p95  join max  peak RSS')
    out = []
    for k in ks:
        t, j = rows.get(('tribud', k)), rows.get(('janus', k))
        if not t or not j or 'cpu_s' not in t or 'cpu_s' not in j:
            continue
        tj, jj = t.get('join_ms') or {}, j.get('join_ms') or {}
        r = {'k': k,
             'cpu_us_per_packet': ratio(t.get('cpu_us_per_packet'), j.get('cpu_us_per_packet')),
             'forwarded_pps': ratio(t.get('forwarded_pps'), j.get('forwarded_pps')),
             'join_p50': ratio(tj.get('p50'), jj.get('p50')),
             'join_p95': ratio(tj.get('p95'), jj.get('p95')),
             'join_max': ratio(tj.get('max'), jj.get('max')),
             'peak_rss': ratio(t.get('peak_rss_kib'), j.get('peak_rss_kib'))}
        out.append(r)
        print(f'{k:>4} {fmt(r["cpu_us_per_packet"]):>11} {fmt(r["forwarded_pps"]):>8} '
              f'{fmt(r["join_p50"]):>9} {fmt(r["join_p95"]):>9} {fmt(r["join_max"]):>9} '
              f'{fmt(r["peak_rss"]):>9}')
    return out


def print_workshop(ws, servers, ms):
    print('\nWorkshop: M participants, each publishing 1 Mbit/s VP8 + Opus and receiving '
          'all the others')
    print('server    M   fwd pps (expected)  CPU us/pkt  CPU %   loss %  peak RSS MiB  others %')
    out = []
    for m in ms:
        for name in servers:
            r = ws.get((name, m))
            if not r:
                continue
            if 'cpu_s' not in r:
                print(f'{name:<7} {m:>3}  ERROR: {r.get("error")}')
                continue
            print(f'{name:<7} {m:>3} {r["forwarded_pps"]:>9} ({r["expected_pps"]:>8}) '
                  f'{fmt(r["cpu_us_per_packet"]):>10} {r["cpu_percent"]:>6} '
                  f'{fmt(r["loss_percent"]):>8} {r["peak_rss_kib"] / 1024:>13.1f} '
                  f'{r["others_percent"]:>9}')
            if r.get('errors') or r.get('error'):
                print(f'            notes: {r.get("error") or ""} {r.get("errors")}')
        t, j = ws.get(('tribud', m)), ws.get(('janus', m))
        if t and j and t.get('cpu_us_per_packet') and j.get('cpu_us_per_packet'):
            out.append({'m': m, 'cpu_us_per_packet': ratio(t['cpu_us_per_packet'],
                                                           j['cpu_us_per_packet']),
                        'peak_rss': ratio(t['peak_rss_kib'], j['peak_rss_kib'])})
            print(f'  tribud / Janus at M={m}: CPU us/pkt {out[-1]["cpu_us_per_packet"]}, '
                  f'peak RSS {out[-1]["peak_rss"]}')
    return out


def print_recording(rec, servers, n):
    print(f'\nRecording: {n} publishers (1 Mbit/s VP8 + Opus each), one room each, '
          'no subscriber')
    print('server   record  CPU %  others %  publisher pps  recorded MiB')
    out = {}
    for name in servers:
        for record in (False, True):
            r = rec.get((name, record))
            if not r:
                continue
            if 'cpu_s' not in r:
                print(f'{name:<7} {str(record):>6}  ERROR: {r.get("error")}')
                continue
            print(f'{name:<7} {str(record):>6} {r["cpu_percent"]:>6} {r["others_percent"]:>9} '
                  f'{r["publisher_pps"]:>14} {r.get("recorded_bytes", 0) / 1048576:>13.1f}')
        off, on = rec.get((name, False)), rec.get((name, True))
        if off and on and 'cpu_s' in off and 'cpu_s' in on:
            d = on['cpu_s'] / on['window_s'] - off['cpu_s'] / off['window_s']
            out[name] = {'percent_per_stream': round(100 * d / n, 2),
                         'us_per_recorded_packet': round(1e6 * d / on['publisher_pps'], 2)
                         if on['publisher_pps'] else None}
    for name, v in out.items():
        print(f'{name}: recording costs {v["percent_per_stream"]} % of a CPU per recorded '
              f'publisher ({v["us_per_recorded_packet"]} us per recorded packet)')
    if len(out) == 2 and out['janus']['percent_per_stream'] > 0:
        print(f'tribud / Janus: {ratio(out["tribud"]["percent_per_stream"], out["janus"]["percent_per_stream"])}')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.environ.get('TRIBU_BUILD', '/tmp/bench-build'),
                    help='a meson build dir with -Dbench=true (default /tmp/bench-build)')
    ap.add_argument('--ks', default='1,10,25,50,100')
    ap.add_argument('--servers', default='tribud,janus')
    ap.add_argument('--settle', type=float, default=8.0,
                    help='seconds after the last join before the window (default 8)')
    ap.add_argument('--window', type=float, default=15.0, help='measured seconds (default 15)')
    ap.add_argument('--join-interval-ms', type=int, default=50)
    ap.add_argument('--keyframe-min-ms', type=int, default=300,
                    help='fan-out publisher: key frame requests within this many ms of the '
                         'last one honoured are dropped (default 300, as libwebrtc)')
    ap.add_argument('--ms', default='4,8,12',
                    help='workshop sizes (participants; default 4,8,12; empty: skip)')
    ap.add_argument('--rec-publishers', type=int, default=4,
                    help='publishers of the recording comparison (default 4; 0: skip it)')
    ap.add_argument('--quiet', type=float, default=30,
                    help='before each run, wait until the machine is below this %% busy '
                         '(default 30; 100: do not wait)')
    ap.add_argument('--quiet-wait', type=float, default=60,
                    help='but no longer than this many seconds (default 60)')
    ap.add_argument('--json', help='write every figure to this file')
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
    servers = args.servers.split(',')
    if not set(servers) <= {'tribud', 'janus'}:
        die('--servers: tribud, janus or both')
    for path in ('server/tribud', 'bench/tribu-load', 'bench/libifaddrs-shim.so'):
        if not os.path.exists(os.path.join(args.build, path)):
            die(f'{args.build}/{path} missing: meson setup {args.build} -Dbench=true && '
                f'ninja -C {args.build}')
    if 'janus' in servers and not shutil.which('janus'):
        die('janus is not installed (scripts/setup installs it)')

    info = fanout.machine()
    janus_version, janus_pkg = versions()
    tribud_version = subprocess.run([os.path.join(args.build, 'server', 'tribud'), '--version'],
                                    capture_output=True, text=True).stdout.strip()
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {info['nproc']} CPU, {info['cpu']} ({' '.join(info['aes'])}), "
          f"kernel {info['kernel']}, {info['mem_gib']} GiB"
          f"{', virtualised' if info['hypervisor'] else ''}")
    print(f'servers: {tribud_version}; Janus {janus_version} (Debian package {janus_pkg})')
    print(f'load: tribu-load, synthetic publisher {PUBLISH_KBPS} kbit/s VP8 + Opus; '
          f'window {args.window:g} s after {args.settle:g} s; loopback only', flush=True)

    ks = [int(x) for x in args.ks.split(',') if x]
    rows, rec = {}, {}
    for k in ks:
        for name in servers:
            r = run_fanout(args, name, k)
            rows[(name, k)] = r
            j = r.get('join_ms') or {}
            print(f'  {name} K={k}: {r.get("cpu_us_per_packet")} us/pkt, '
                  f'{r.get("forwarded_pps")} pkt/s, loss {r.get("loss_percent")} %, '
                  f'join p50/p95/max {j.get("p50")}/{j.get("p95")}/{j.get("max")} ms, '
                  f'others {r.get("others_percent")} %'
                  + (f', ERROR {r["error"]}' if r.get('error') else ''), flush=True)
    ms = [int(x) for x in args.ms.split(',') if x]
    ws = {}
    for m in ms:
        for name in servers:
            r = run_workshop(args, name, m)
            ws[(name, m)] = r
            print(f'  {name} M={m}: {r.get("cpu_us_per_packet")} us/pkt, '
                  f'{r.get("forwarded_pps")} pkt/s of {r.get("expected_pps")}, '
                  f'loss {r.get("loss_percent")} %, others {r.get("others_percent")} %'
                  + (f', ERROR {r["error"]}' if r.get('error') else ''), flush=True)
    if args.rec_publishers > 0:
        for name in servers:
            for record in (False, True):
                r = run_recording(args, name, record)
                rec[(name, record)] = r
                print(f'  {name} recording={record}: CPU {r.get("cpu_percent")} %, '
                      f'others {r.get("others_percent")} %'
                      + (f', ERROR {r["error"]}' if r.get('error') else ''), flush=True)

    caps, ratios = {}, []
    if rows:
        print_fanout(rows, servers, ks)
        caps = {name: capacity(rows, name, ks) for name in servers}
        print('\nCapacity (largest K run with < 1 % loss, all joined, >= 99 % delivered): '
              + ', '.join(f'{n} {fmt(c)}' for n, c in caps.items()))
        ratios = print_ratios(rows, ks) if len(servers) == 2 else []
    workshop = print_workshop(ws, servers, ms) if ws else []
    recording = print_recording(rec, servers, args.rec_publishers) if rec else {}
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'machine': info, 'tribud': tribud_version, 'janus': janus_version,
                       'janus_package': janus_pkg, 'args': vars(args),
                       'fanout': list(rows.values()), 'capacity': caps, 'ratios': ratios,
                       'workshop': list(ws.values()), 'workshop_ratios': workshop,
                       'recording': list(rec.values()), 'recording_cost': recording},
                      f, indent=1)


if __name__ == '__main__':
    main()
