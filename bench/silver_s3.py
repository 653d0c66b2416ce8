"""silver_s3 — issue 15: Kafka -> Silver with the tables and the checkpoint on the local S3 server
(scripts/s3-local: s3proxy, filesystem backend) against the same drain on local disk, in one run.

    .venv/bin/python bench/silver_s3.py [--events N] [--rounds R]

Steps: start the local S3 server when none runs (and stop it again at the end); load one backlog of N
events (fixed seed, 2 % faults); then, R times, drain it with `smarttech silver --once` into a fresh
local folder, then into a fresh prefix of the bucket (a new consumer group each time), each timed as a
process (wall, CPU seconds, peak RSS: bench/procmon.py). Both Silver tables must hold the simulator's
valid unique events (checked with `smarttech table info`). The best round of each side is reported;
ratio = S3 events/s / local events/s (target: >= 0.7).
Prints progress on stderr and one JSON line on stdout.
Env: SMARTTECH_BIN, BROKERS, BENCH_S3_EVENTS, BENCH_S3_ROUNDS, BENCH_KEEP=1 (keep the tables).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procmon  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S3_LOCAL = os.path.join(ROOT, "scripts", "s3-local")


def log(msg: str) -> None:
    print(f"bench/silver_s3: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {r.returncode}: {r.stderr[-2000:]}")
    return r


def s3_env() -> dict:
    out = sh([S3_LOCAL, "env"]).stdout
    return dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))


def expected_rows(manifest: str) -> int:
    with open(manifest, newline="") as f:
        return len({r["event_id"] for r in csv.DictReader(f) if r["valid"] == "1"})


def drain(a, where: str, root: str, group: str, env: dict) -> dict:
    """One `silver --once` of the backlog into root/output/* and root/checkpoints/silver_kafka."""
    cmd = [a.bin, "silver", "--brokers", a.brokers, "--topic", a.topic, "--group", group,
           "--output", f"{root}/output/silver_delta", "--bronze", f"{root}/output/bronze_kafka",
           "--quarantine", f"{root}/output/quarantine_delta", "--checkpoint", f"{root}/checkpoints/silver_kafka",
           "--from", "earliest", "--once", "--quiet"]
    log(f"{where}: draining {a.events} events into {root}")
    os.makedirs(a.workdir, exist_ok=True)
    with open(os.path.join(a.workdir, f"{group}.log"), "w") as se:
        m = procmon.run(cmd, stdout=subprocess.DEVNULL, stderr=se, cwd=ROOT, env=env)
    if m["exit"] != 0:
        raise RuntimeError(f"{where} drain exited {m['exit']}; see {a.workdir}/{group}.log")
    info = json.loads(sh([a.bin, "table", "info", f"{root}/output/silver_delta", "--json"], env=env).stdout)
    r = {**m, "silver_rows": info["num_rows"], "silver_version": info["version"], "path": root,
         "events_per_s": round(a.events / m["wall_s"])}
    log(f"{where}: {m['wall_s']} s wall, {r['events_per_s']} events/s, {m['cpu_s']} CPU s, "
        f"peak RSS {m['peak_rss_bytes'] / 2**20:.0f} MiB, {r['silver_rows']} Silver rows")
    return r


def main() -> int:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=int(env("BENCH_S3_EVENTS", env("BENCH_EVENTS", "5000000"))))
    ap.add_argument("--rounds", type=int, default=int(env("BENCH_S3_ROUNDS", "1")))
    ap.add_argument("--seed", type=int, default=43)
    ap.add_argument("--faults", type=float, default=0.02)
    ap.add_argument("--bin", default=env("SMARTTECH_BIN", os.path.join(ROOT, "build", "smarttech")))
    ap.add_argument("--brokers", default=env("BROKERS", "localhost:9092"))
    ap.add_argument("--keep", action="store_true", default=env("BENCH_KEEP", "") == "1")
    a = ap.parse_args()
    stamp = time.strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}"
    a.workdir = os.path.join(ROOT, "bench", "results", "tmp", f"s3_{stamp}")
    a.topic = f"bench_s3_{stamp}"
    started = subprocess.run([S3_LOCAL, "status"], capture_output=True).returncode != 0
    if started:
        log("starting the local S3 server")
        sh([S3_LOCAL, "start"])
    jenv = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **s3_env()}
    bucket_root = f"s3://smarttech/bench-{stamp}"
    res = {"bench": "silver_s3", "events": a.events, "seed": a.seed, "faults": a.faults, "rounds": a.rounds,
           "server": "s3proxy 4.0.0, filesystem backend, on this machine (virtual-hosted addressing, *.localhost)"}
    try:
        sh([a.bin, "topic", "create", "--brokers", a.brokers, "--topic", a.topic], env=jenv)
        manifest = os.path.join(a.workdir, "manifest.csv")
        os.makedirs(a.workdir, exist_ok=True)
        t0 = time.monotonic()
        sh([a.bin, "simulate", "--brokers", a.brokers, "--topic", a.topic, "--count", a.events, "--seed", a.seed,
            "--faults", a.faults, "--manifest", manifest], env=jenv)
        res["load_s"] = round(time.monotonic() - t0, 3)
        res["expected_silver_rows"] = expected_rows(manifest)
        rounds = {"local": [], "s3": []}
        for i in range(a.rounds):
            rounds["local"].append(drain(a, "local", os.path.join(a.workdir, f"local{i}"), f"bench-s3-local{i}-{stamp}",
                                         jenv))
            rounds["s3"].append(drain(a, "s3", f"{bucket_root}/r{i}", f"bench-s3-s3{i}-{stamp}", jenv))
        for k, v in rounds.items():
            res[k] = max(v, key=lambda r: r["events_per_s"])
            res[k]["all_events_per_s"] = [r["events_per_s"] for r in v]
        res["ratio"] = round(res["s3"]["events_per_s"] / res["local"]["events_per_s"], 3)
        res["meets_target"] = res["ratio"] >= 0.7
        res["rows_match"] = all(r["silver_rows"] == res["expected_silver_rows"] for v in rounds.values() for r in v)
        log(f"S3 / local = {res['ratio']} (target >= 0.7); Silver = manifest in every drain: {res['rows_match']}")
    finally:
        try:
            from confluent_kafka.admin import AdminClient
            adm = AdminClient({"bootstrap.servers": a.brokers})
            for f in adm.delete_topics([a.topic], operation_timeout=30).values():
                f.result(timeout=60)
        except Exception as e:  # cleanup only
            log(f"could not delete topic {a.topic}: {e}")
        if not a.keep:
            for i in range(a.rounds):
                subprocess.run([a.bin, "reset", "--yes", "--data", f"{bucket_root}/r{i}"], env=jenv,
                               capture_output=True)
            shutil.rmtree(a.workdir, ignore_errors=True)
        if started:
            log("stopping the local S3 server we started")
            subprocess.run([S3_LOCAL, "stop"], capture_output=True)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
