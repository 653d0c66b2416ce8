#!/usr/bin/env python3
"""bench/metrics_scrape.py — does scraping /metrics slow the data path? (issue 14)

A backlog of --events simulated events (2 % faults) in a fresh 3-partition topic is drained by
`smarttech silver --once --metrics 127.0.0.1:PORT`, alternately without a scraper and with one
that GETs /metrics ten times a second for the whole drain, --rounds times each (fresh tables and
group each time). The drain rate is events / (last batch committed - partitions assigned), from
silver's own progress lines. Prints one JSON line: the median rate of each mode, their ratio
(target: with scraper >= 0.97 x without), the scrapes done and their worst latency.

  bench/metrics_scrape.py [--events N] [--rounds R] [--scrape-hz H]
Env: SMARTTECH_BIN (default build/smarttech), BROKERS (default localhost:9092).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg: str) -> None:
    print(f"bench/metrics_scrape: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scraper(threading.Thread):
    def __init__(self, url: str, hz: float):
        super().__init__(daemon=True)
        self.url, self.period, self.stop, self.n, self.worst = url, 1 / hz, threading.Event(), 0, 0.0

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    r.read()
                self.n += 1
                self.worst = max(self.worst, time.monotonic() - t0)
            except OSError:
                pass  # not up yet, or gone
            nxt += self.period
            self.stop.wait(max(0.0, nxt - time.monotonic()))


def drain(a, topic: str, work: str, scrape: bool, i: int) -> dict:
    out = os.path.join(work, f"{'scrape' if scrape else 'plain'}{i}")
    port = free_port()
    cmd = [a.bin, "silver", "--brokers", a.brokers, "--topic", topic, "--group", f"{topic}-{os.path.basename(out)}",
           "--output", f"{out}/silver", "--bronze", f"{out}/bronze_kafka", "--quarantine", f"{out}/quarantine",
           "--checkpoint", f"{out}/ck", "--once", "--metrics", f"127.0.0.1:{port}"]
    sc = Scraper(f"http://127.0.0.1:{port}/metrics", a.scrape_hz) if scrape else None
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    t_assigned = t_last = None
    for line in p.stderr:
        now = time.monotonic()
        if "metrics on http" in line and sc:
            sc.start()
        elif "assigned" in line and t_assigned is None:
            t_assigned = now
        elif line.startswith("silver: batch "):
            t_last = now
    p.wait()
    if sc:
        sc.stop.set()
        sc.join()
    if p.returncode != 0 or t_assigned is None or t_last is None:
        raise RuntimeError(f"silver exited {p.returncode}")
    shutil.rmtree(out, ignore_errors=True)
    r = {"events_per_s": a.events / (t_last - t_assigned), "seconds": t_last - t_assigned}
    if sc:
        r.update(scrapes=sc.n, worst_scrape_s=sc.worst)
    log(f"{'with' if scrape else 'without'} scraper: {r['events_per_s']:,.0f} events/s"
        + (f", {sc.n} scrapes, worst {sc.worst * 1000:.1f} ms" if sc else ""))
    return r


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=int(os.environ.get("BENCH_SCRAPE_EVENTS", 300_000)))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scrape-hz", type=float, default=10)
    a = ap.parse_args()
    a.bin = os.environ.get("SMARTTECH_BIN", os.path.join(ROOT, "build", "smarttech"))
    a.brokers = os.environ.get("BROKERS", "localhost:9092")
    topic = f"bench_scrape_{time.strftime('%H%M%S')}_{os.getpid()}"
    subprocess.run([a.bin, "topic", "create", "--brokers", a.brokers, "--topic", topic, "--partitions", "3"],
                   check=True, capture_output=True)
    log(f"producing {a.events} events to {topic}")
    subprocess.run([a.bin, "simulate", "--brokers", a.brokers, "--topic", topic, "--count", str(a.events),
                    "--faults", "0.02", "--seed", "3", "--quiet"], check=True, capture_output=True)
    work = tempfile.mkdtemp(prefix="st-bench-scrape-")
    plain, scraped = [], []
    try:
        for i in range(a.rounds):  # alternate, so that a change in the machine's load hits both alike
            plain.append(drain(a, topic, work, False, i))
            scraped.append(drain(a, topic, work, True, i))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        try:
            from confluent_kafka.admin import AdminClient
            admin = AdminClient({"bootstrap.servers": a.brokers})  # kept alive until the futures are done
            for f in admin.delete_topics([topic]).values():
                f.result(timeout=30)
        except Exception as e:  # a leftover topic is harmless
            log(f"could not delete {topic}: {e}")
    mp = statistics.median(r["events_per_s"] for r in plain)
    ms = statistics.median(r["events_per_s"] for r in scraped)
    res = {"bench": "metrics_scrape", "events": a.events, "rounds": a.rounds, "scrape_hz": a.scrape_hz,
           "without_eps": mp, "with_eps": ms, "ratio": ms / mp, "target": 0.97, "meets_target": ms / mp >= 0.97,
           "scrapes": sum(r["scrapes"] for r in scraped),
           "worst_scrape_ms": 1000 * max(r["worst_scrape_s"] for r in scraped),
           "runs": {"without": plain, "with": scraped}, "loadavg": open("/proc/loadavg").read().split()[:3]}
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
