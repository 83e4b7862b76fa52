#!/usr/bin/env python3
"""library-bench — latency of a library search through tribud's HTTP API.

Builds a catalog of N sessions (default 100 000) through tribud's own schema:
tribud starts once on an empty data dir so that it creates tribu.db and runs
its migrations, then this script bulk-inserts sessions, attendance (a mentor
and a student each) and curation (title, notes, 3 to 5 keywords, stage,
sector, problem, 30 % reference) with Python's sqlite3 module; the catalog's
own triggers fill curation rows and the full-text index. Then tribud starts
on it again and the script measures, over one keep-alive HTTP connection,
the latency of GET /api/library?q=<keyword>&stage=<s>&sector=<s> (a keyword
query with two filters), for a curator (sees everything) and a student (the
access rule applies), and prints p50, p90, p99 and max.

Python 3 standard library only. Usage:
  bench/library-bench.py [--tribud build/server/tribud] [--sessions 100000]
                         [--queries 2000] [--keep DIR]
--keep DIR builds the catalog in DIR and keeps it; a later run with the same
DIR and --sessions reuses it (the keyword list depends on --seed only).
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

STAGES = ["idea", "launching", "first-clients", "revenue", "self-funded", "scaling"]
SECTORS = ["marketing", "fashion", "wellbeing", "arts", "food", "crafts", "education", "tech"]
PROBLEMS = ["find-first-clients", "define-persona", "grow-association", "promote-art",
            "e-commerce-site", "get-known", "pricing", "social-media", "copywriting"]


def words(n, rng):
    """N distinct pronounceable words: the keyword vocabulary."""
    out = set()
    syll = ["ba", "ce", "di", "fo", "gu", "ka", "le", "mi", "no", "pu", "ra", "se", "ti",
            "vo", "za", "bri", "cla", "dre", "fli", "gro", "pla", "tri", "sto"]
    while len(out) < n:
        out.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def start_tribud(tribud, data_dir):
    proc = subprocess.Popen([tribud, "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                             "--log-level", "warn"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening on https?://[^:]+:(\d+)/", line)
    if not m:
        proc.kill()
        sys.exit(f"tribud did not start: {line!r}")
    return proc, int(m.group(1))


def stop_tribud(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def token(tribud, data_dir, user, role):
    out = subprocess.run([tribud, "token", "--user", user, "--role", role, "--room", "*",
                          "--data-dir", data_dir], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def fill(db_path, n, rng, vocab):
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA synchronous = OFF")
    version = db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    if version < 3:
        sys.exit(f"tribu.db has schema {version}; this tribud has no library")
    t0 = time.monotonic()
    base_ms = 1700000000000
    with db:
        for i in range(n):
            sid = f"{i:016x}"
            start = base_ms + i * 600000
            mentor = f"mentor{rng.randrange(200)}"
            student = f"student{rng.randrange(20000)}"
            db.execute("INSERT INTO sessions(id, room_id, kind, started_ms, ended_ms, end_reason)"
                       " VALUES (?, ?, 'coaching', ?, ?, 'ended')",
                       (sid, f"room{i % 5000}", start, start + 1800000))
            db.executemany("INSERT INTO attendance(session_id, participant_id, user, name, role,"
                           " joined_ms, left_ms, leave_reason) VALUES (?, ?, ?, ?, ?, ?, ?, 'left')",
                           [(sid, sid + "m", mentor, mentor.title(), "mentor", start, start + 1800000),
                            (sid, sid + "s", student, student.title(), "student", start + 5000,
                             start + 1790000)])
            kw = rng.sample(vocab, rng.randint(3, 5))
            stage, sector, problem = rng.choice(STAGES), rng.choice(SECTORS), rng.choice(PROBLEMS)
            title = f"{problem.replace('-', ' ').capitalize()} for a {sector} project: {kw[0]}"
            notes = f"Session {i}: {' '.join(rng.sample(vocab, 8))}."
            db.execute("UPDATE curation SET title = ?, notes = ?, keywords = ?, stage = ?,"
                       " sector = ?, problem = ?, visibility = ? WHERE session_id = ?",
                       (title, notes, ", ".join(kw), stage, sector, problem,
                        "reference" if rng.random() < 0.3 else "confidential", sid))
    db.execute("ANALYZE")
    db.execute("INSERT INTO curation_fts(curation_fts) VALUES ('optimize')")
    db.close()
    return time.monotonic() - t0


def existing_sessions(db_path):
    """Sessions in a catalog kept by an earlier --keep run (0: none)."""
    if not os.path.exists(db_path):
        return 0
    try:
        db = sqlite3.connect(db_path)
        n = db.execute("SELECT count(*) FROM curation WHERE title != ''").fetchone()[0]
        db.close()
        return n
    except sqlite3.Error:
        return 0


def percentile(sorted_ms, p):
    k = min(len(sorted_ms) - 1, max(0, round(p / 100 * (len(sorted_ms) - 1))))
    return sorted_ms[k]


def measure(port, tok, n, rng, vocab):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {tok}"}
    lat, totals = [], []
    for i in range(n + 100):
        path = (f"/api/library?q={rng.choice(vocab)}&stage={rng.choice(STAGES)}"
                f"&sector={rng.choice(SECTORS)}")
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        body = res.read()
        dt = (time.perf_counter() - t0) * 1000
        if res.status != 200:
            sys.exit(f"{path}: HTTP {res.status} {body[:200]!r}")
        if i >= 100:  # the first 100 warm the caches
            lat.append(dt)
            totals.append(json.loads(body)["total"])
    conn.close()
    lat.sort()
    return {"p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99),
            "max": lat[-1], "mean_total": sum(totals) / len(totals)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--tribud", default=os.path.join(here, "..", "build", "server", "tribud"))
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="build the catalog in DIR and keep it")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    vocab = words(300, rng)
    base = args.keep or tempfile.mkdtemp(prefix="tribu-library-bench-")
    data_dir = os.path.join(base, "data")
    os.makedirs(data_dir, exist_ok=True)
    db_path = os.path.join(data_dir, "tribu.db")
    try:
        if args.keep and existing_sessions(db_path) == args.sessions:
            print(f"catalog: reusing {db_path} ({args.sessions} sessions)")
        else:
            proc, _ = start_tribud(args.tribud, data_dir)  # creates tribu.db, migrations
            stop_tribud(proc)
            secs = fill(db_path, args.sessions, rng, vocab)
            size = os.path.getsize(db_path)
            print(f"catalog: {args.sessions} sessions, {2 * args.sessions} attendance rows, "
                  f"{len(vocab)} keywords; built in {secs:.1f} s; tribu.db {size / 1e6:.1f} MB")
        curator = token(args.tribud, data_dir, "cora", "curator")
        student = token(args.tribud, data_dir, "student42", "student")
        proc, port = start_tribud(args.tribud, data_dir)
        try:
            for who, tok in (("curator", curator), ("student", student)):
                r = measure(port, tok, args.queries, rng, vocab)
                print(f"{who:8} q=<keyword>&stage=&sector= ({args.queries} queries, "
                      f"{r['mean_total']:.1f} matches on average): p50 {r['p50']:.2f} ms, "
                      f"p90 {r['p90']:.2f} ms, p99 {r['p99']:.2f} ms, max {r['max']:.2f} ms")
        finally:
            stop_tribud(proc)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
