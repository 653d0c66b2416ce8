"""bench/soak — `make soak`: the pipeline at 20,000 events/s for SOAK_MINUTES (default 30) with chaos,
recording every minute whether anything grows. Not part of `make test`.

What runs, on a broker of its own (scripts/kafka-local with KAFKA_LOCAL_HOME/PORT: localhost:29092,
data under data/soak/broker; the shared broker at localhost:9092 is never touched):
  smarttech simulate --rate SOAK_RATE (20,000/s, 2 % faults) -> topic soak (3 partitions)
  smarttech silver   -> bronze_kafka, silver_delta, quarantine_delta   (maintenance on, as by default)
  smarttech gold     -> gold_room_1m, alerts_delta                      (maintenance on)
Chaos: silver is killed with SIGKILL every ~3 minutes (150-210 s) and started again at once (with
static group membership, -X group.instance.id: it takes its partitions back without waiting out the
dead member's session); the broker is stopped for 20 s once, at minute 11 (after the baseline minutes;
a third of a run under 15 minutes).
Retentions: SOAK_RETENTION (default 3m) for the log and deleted files (--allow-short-retention), and
Silver's --dedup-window SOAK_DEDUP_WINDOW (default 3m), so that the steady state is reached within
the run: with the defaults (30 and 7 days, 10 minutes) the log, the tombstones and the dedup state
grow for that long before they are flat, which no 30-minute run can show before its minutes 5-10.
For the same reason --compact-after is SOAK_COMPACT_AFTER (default 1m): Gold writes a file or two a
minute, so its files reach the count trigger (32) only after the age trigger, and with the default
10 minutes its file count is a saw-tooth of a 10-minute period, which two 5-minute windows cannot
compare.

Every minute, per table (the mean of samples taken every 10 s): active files and small files (under
64 MiB, what compaction still merges; the full files grow with the data, one per 64-128 MiB, and are
not judged), _delta_log files and bytes, the last checkpoint's bytes; per job: RSS (mean and peak of
the 10-s samples); Silver's batch p99 and end-to-end p99 (Kafka timestamp -> committed, from its
progress lines) over the minute, judged on the minutes without a kill or the broker stop (each kill's
cost is reported as the seconds from the restart to its first committed batch); bytes of each
checkpoint folder. At the end: Silver must hold exactly the
valid unique events of the simulator's manifest (DuckDB over delta_scan and the manifest CSV), and
every series must be flat: the mean of the last 5 minutes at most 20 % above minutes 5-10 (shorter
runs compare their last third with their middle third; the report also says which stayed within
+-20 %: a file count that fell once compaction caught up is not growth). Results: bench/results/soak-<stamp>.json and .md.
Exit 0 when nothing was lost and every series is flat, 1 otherwise.
"""
from __future__ import annotations

import glob
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SMARTTECH_BIN", ROOT / "build" / "smarttech"))
MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
RATE = int(os.environ.get("SOAK_RATE", "20000"))
RETENTION = os.environ.get("SOAK_RETENTION", "3m")
DEDUP_WINDOW = os.environ.get("SOAK_DEDUP_WINDOW", "3m")
COMPACT_AFTER = os.environ.get("SOAK_COMPACT_AFTER", "1m")
PORT = int(os.environ.get("SOAK_PORT", "29092"))
WORK = Path(os.environ.get("SOAK_DIR", ROOT / "data" / "soak"))
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results"))
BROKERS = f"localhost:{PORT}"
TOPIC = "soak"
BROKER_ENV = dict(os.environ, KAFKA_LOCAL_HOME=str(WORK / "broker"), KAFKA_LOCAL_PORT=str(PORT))
MAINT = ["--log-retention", RETENTION, "--deleted-file-retention", RETENTION, "--allow-short-retention",
         "--compact-after", COMPACT_AFTER]
OUT = WORK / "out"
CK = WORK / "checkpoints"
TABLES = {"bronze_kafka": OUT / "bronze_kafka", "silver": OUT / "silver_delta", "quarantine": OUT / "quarantine_delta",
          "gold": OUT / "gold_room_1m", "alerts": OUT / "alerts_delta"}


def say(*a):
    print("soak:", *a, file=sys.stderr, flush=True)


def kafka_local(action):
    subprocess.run([str(ROOT / "scripts" / "kafka-local"), action], env=BROKER_ENV, check=True,
                   stdout=sys.stderr, stderr=sys.stderr, timeout=600)


def rss_bytes(p: subprocess.Popen | None) -> int:
    if not p or p.poll() is not None:
        return 0
    try:
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def dir_bytes(d: Path) -> int:
    n = 0
    for root, _, files in os.walk(d):
        for f in files:
            try:
                n += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return n


def table_sample(t: Path) -> dict:
    s = {"active_files": None, "small_files": None, "log_files": 0, "log_bytes": 0, "checkpoint_bytes": 0}
    log = t / "_delta_log"
    if not log.is_dir():
        return s
    for e in os.scandir(log):
        try:
            s["log_files"] += 1
            s["log_bytes"] += e.stat().st_size
        except OSError:
            pass
    try:
        lc = json.loads((log / "_last_checkpoint").read_text())
        s["checkpoint_bytes"] = lc.get("sizeInBytes", 0)
    except (OSError, ValueError):
        pass
    cp = subprocess.run([str(BIN), "table", "info", str(t), "--json"], capture_output=True, text=True, timeout=120)
    if cp.returncode == 0:
        try:
            info = json.loads(cp.stdout)
            s["active_files"] = info["num_files"]
            # what compaction still has to merge: files under half the 128 MiB target (a file of
            # 64-128 MiB is done, and there is one per 64-128 MiB of data: that count grows with the data)
            by = info["files_by_size"]
            s["small_files"] = by["under_1MiB"] + by["1MiB_to_16MiB"] + by["16MiB_to_64MiB"]
        except (ValueError, KeyError):
            pass
    return s


class Silver:
    """The silver process, restarted after each kill; its progress lines are parsed on a thread."""

    BATCH = re.compile(r" ([0-9.]+)ms \| totals .* e2e_p99=(-?\d+)ms")

    def __init__(self, log: Path):
        self.log = open(log, "a")
        self.p = None
        self.batch_ms, self.e2e_ms = [], []
        self.lock = threading.Lock()
        self.kills = 0
        self.recovery_s = []  # per restart after a kill: seconds to its first committed batch

    def cmd(self):
        # static group membership: the restarted process takes its partitions back at once instead of
        # waiting out the killed member's session (measured: first batch 0.6 s after the restart, 10 s without)
        return [str(BIN), "silver", "--brokers", BROKERS, "--topic", TOPIC, "--output", TABLES["silver"],
                "--bronze", TABLES["bronze_kafka"], "--quarantine", TABLES["quarantine"],
                "--checkpoint", CK / "silver_kafka", "--dedup-window", DEDUP_WINDOW, *MAINT,
                "-X", "group.instance.id=soak-silver-1"]

    def start(self):
        self.p = subprocess.Popen([str(a) for a in self.cmd()], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, args=(self.p, time.monotonic(), self.kills > 0), daemon=True).start()

    def _read(self, p, started, after_kill):
        first = after_kill
        for line in p.stderr:
            m = self.BATCH.search(line)
            if m:
                with self.lock:
                    if first:
                        self.recovery_s.append(round(time.monotonic() - started, 2))
                        first = False
                    self.batch_ms.append(float(m.group(1)))
                    if int(m.group(2)) >= 0:
                        self.e2e_ms.append(int(m.group(2)))
            else:
                self.log.write(line)
                self.log.flush()

    def take(self):
        with self.lock:
            b, e = self.batch_ms, self.e2e_ms
            self.batch_ms, self.e2e_ms = [], []
        return b, e

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self.kills += 1


def mean(v):
    v = [x for x in v if x is not None]
    return sum(v) / len(v) if v else None


def p99(v):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * 0.99))]


def windows(n: int):
    """(baseline minutes, last minutes) as index ranges for the flatness check."""
    if n >= 15:
        return range(5, 10), range(n - 5, n)
    a = n // 3
    return range(a, 2 * a), range(n - a, n)


def flatness(series: list, n: int):
    base_r, last_r = windows(n)
    base = [series[i] for i in base_r if i < len(series) and series[i] is not None]
    last = [series[i] for i in last_r if i < len(series) and series[i] is not None]
    if not base or not last:
        return None, None, None
    b, l = sum(base) / len(base), sum(last) / len(last)
    if b == 0:
        return b, l, l == 0
    # flat = grew by 20 % at most; a series that shrank (fewer small files once compaction caught
    # up) is not growth. The report also says whether it stayed within +-20 %.
    return b, l, l <= 1.2 * b


def check_manifest(manifest: Path) -> dict:
    import duckdb
    import duckdb_ext
    ext = glob.glob(str(Path(list(duckdb_ext.__path__)[0]) / "extensions/*/*/delta.duckdb_extension"))[0]
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{ext}'")
    # a re-sent reading repeats its event_id: the expectation is the set of valid ids
    con.execute(f"CREATE TABLE m AS SELECT DISTINCT event_id FROM read_csv('{manifest}', header=true, "
                f"all_varchar=true) WHERE valid = '1'")
    con.execute(f"CREATE TABLE s AS SELECT event_id FROM delta_scan('{TABLES['silver']}')")
    r = {"manifest_valid": con.execute("SELECT count(*) FROM m").fetchone()[0],
         "silver_rows": con.execute("SELECT count(*) FROM s").fetchone()[0],
         "silver_distinct": con.execute("SELECT count(DISTINCT event_id) FROM s").fetchone()[0],
         "missing": con.execute("SELECT count(*) FROM (SELECT event_id FROM m EXCEPT SELECT event_id FROM s)").fetchone()[0],
         "unexpected": con.execute("SELECT count(*) FROM (SELECT event_id FROM s EXCEPT SELECT event_id FROM m)").fetchone()[0]}
    r["exact"] = r["missing"] == 0 and r["unexpected"] == 0 and r["silver_rows"] == r["silver_distinct"] == r["manifest_valid"]
    return r


def report(result: dict) -> int:
    """Judges a run (result: what main() measured, or a saved soak-*.json) and writes its .json and
    .md to RESULTS; 0 when nothing was lost and every judged series is flat."""
    minutes, stamp, exact = result["per_minute"], result["stamp"], result["manifest_check"]
    n = len(minutes)
    series = {}
    for name in TABLES:
        for k in ("active_files", "small_files", "log_files", "log_bytes", "checkpoint_bytes"):
            series[f"{name}.{k}"] = [r["tables"][name].get(k) for r in minutes]
    for k in ("batch_p99_ms", "e2e_p99_ms", "rss_silver", "rss_silver_peak", "rss_gold", "rss_gold_peak"):
        series[k] = [r.get(k) for r in minutes]
    for d in sorted({d for r in minutes for d in r["checkpoint_folder_bytes"]}):
        series[f"checkpoint_folder.{d}"] = [r["checkpoint_folder_bytes"].get(d) for r in minutes]
    flat = {k: dict(zip(("baseline_mean", "last_mean", "flat"), flatness(v, n))) for k, v in series.items()}
    for k, f in flat.items():
        b, l = f["baseline_mean"], f["last_mean"]
        f["within_20pct"] = None if b is None else (l == 0 if b == 0 else abs(l - b) <= 0.2 * b)
        if k.endswith("_files") and b is not None and f["flat"] is False and l <= b + 1:
            # a count of files moves by whole files: at a mean of 1-2 files, one more file is not
            # growth (+20 % of 2 is less than the count's own step)
            f["flat"] = True
        # the active files also count the done files, one per 64-128 MiB of data: they grow with
        # the table's data, as any table's do; small_files is the series maintenance bounds
        f["judged"] = not k.endswith(".active_files")
    all_flat = all(f["flat"] is not False for f in flat.values() if f["judged"])
    # not judged (chaos included), reported: the all-minutes p99 and the cost of each kill
    info = {f"{k}_all_minutes": dict(zip(("baseline_mean", "last_mean", "flat"),
                                         flatness([r.get(f"{k}_all") for r in minutes], n)))
            for k in ("batch_p99_ms", "e2e_p99_ms")}
    rec = result.get("recovery_s") or result.get("not_judged", {}).get("recovery_s") or []
    info["recovery_s"] = rec
    if len(rec) >= 2:
        h = len(rec) // 2
        info["recovery_s_first_half_mean"], info["recovery_s_second_half_mean"] = mean(rec[:h]), mean(rec[h:])
    result = dict(result, flatness=flat, all_flat=all_flat, not_judged=info)
    (RESULTS / f"soak-{stamp}.json").write_text(json.dumps(result, indent=1))
    fmt = (lambda x: "-" if x is None else f"{x:,.0f}")
    md = [f"# soak {stamp}: {result['minutes']:g} min at {result['rate']}/s, retention {result['retention']}, "
          f"compact-after {result.get('compact_after', '10m')}, {result['silver_kills']} silver kills, "
          f"{result['broker_restarts']} broker restart; load {' '.join(result['loadavg_start'])} -> "
          f"{' '.join(result['loadavg_end'])}",
          "", f"Silver vs manifest: {exact}", "",
          "| series | minutes 5-10 (or middle third) | last 5 (or last third) | flat (<= +20 %) | within +-20 % |",
          "|---|---:|---:|---|---|"]
    for k, f in flat.items():
        judged = "" if f["judged"] else " (not judged: grows with the data)"
        md.append(f"| {k}{judged} | {fmt(f['baseline_mean'])} | {fmt(f['last_mean'])} | {f['flat']} | "
                  f"{f['within_20pct']} |")
    md += ["", "File counts are flat when at most 20 % or one file above. The latency series leave out the "
           "minutes with a kill or the broker stop (their p99 is the outage's; each kill's cost is measured "
           "below); rss_* are the means of 10-s samples over each minute, rss_*_peak their maximum.", "",
           "Not judged (chaos included): batch p99 over all minutes "
           f"{fmt(info['batch_p99_ms_all_minutes']['baseline_mean'])} -> "
           f"{fmt(info['batch_p99_ms_all_minutes']['last_mean'])} ms, e2e p99 "
           f"{fmt(info['e2e_p99_ms_all_minutes']['baseline_mean'])} -> "
           f"{fmt(info['e2e_p99_ms_all_minutes']['last_mean'])} ms; seconds from each restart after a kill -9 "
           f"to its first committed batch: {rec}"
           + (f" (first half mean {info['recovery_s_first_half_mean']:.2f}, second half "
              f"{info['recovery_s_second_half_mean']:.2f})" if len(rec) >= 2 else "")]
    (RESULTS / f"soak-{stamp}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if exact["exact"] and all_flat and not result.get("silver_stuck_on_stop") else 1


def main() -> int:
    if not os.access(BIN, os.X_OK):
        say(f"missing {BIN} (make build)")
        return 1
    if WORK.exists():
        kafka_local("stop")  # a broker left running by an interrupted run must not see its data go
        subprocess.run(["rm", "-rf", str(OUT), str(CK), str(WORK / "broker" / "data")], check=True)
        for f in WORK.glob("*.log"):
            f.unlink()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    load0 = open("/proc/loadavg").read().split()[:3]
    kafka_local("start")
    procs = []
    rc = 1
    try:
        subprocess.run([str(BIN), "topic", "create", "--brokers", BROKERS, "--topic", TOPIC, "--partitions", "3"],
                       check=True, timeout=120, capture_output=True)
        manifest = WORK / "manifest.csv"
        sim = subprocess.Popen([str(BIN), "simulate", "--brokers", BROKERS, "--topic", TOPIC, "--rate", str(RATE),
                                "--duration", f"{int(MINUTES * 60)}s", "--faults", "0.02", "--seed", "1313",
                                "--manifest", str(manifest)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=open(WORK / "simulate.log", "w"))
        procs.append(sim)
        silver = Silver(WORK / "silver.log")
        silver.start()
        gold = subprocess.Popen([str(BIN), "gold", "--silver", TABLES["silver"], "--output", TABLES["gold"],
                                 "--alerts", TABLES["alerts"], "--quarantine", TABLES["quarantine"],
                                 "--checkpoint", CK / "gold", "--quiet", *MAINT], cwd=ROOT,
                                stderr=open(WORK / "gold.log", "w"))
        procs.append(gold)
        rnd = random.Random(13)
        t0 = time.monotonic()
        next_kill = t0 + rnd.uniform(150, 210)
        # after the baseline minutes 5-10 (its 20 s without commits thin the log for a log
        # retention's time), so neither compared window holds it; a third of a shorter run
        broker_at = t0 + (11 * 60 if MINUTES >= 15 else MINUTES * 60 / 3)
        broker_done = False
        minutes = []
        m = 0
        while m < MINUTES:
            end = t0 + (m + 1) * 60
            samples, rss, next_sample, chaos = [], {"silver": [], "gold": []}, time.monotonic(), False
            while time.monotonic() < end:
                if time.monotonic() >= next_sample:
                    # every 10 s: compaction makes the file counts a saw-tooth; a minute is their mean
                    samples.append({n: table_sample(p) for n, p in TABLES.items()})
                    next_sample += 10
                    # RSS climbs and falls with each compaction and restart: a minute's mean and peak
                    rss["silver"].append(rss_bytes(silver.p))
                    rss["gold"].append(rss_bytes(gold))
                now = time.monotonic()
                if now >= next_kill and now < t0 + MINUTES * 60 - 30:
                    chaos = True
                    silver.kill()
                    say(f"minute {m}: silver killed (kill {silver.kills}), started again")
                    silver.start()
                    next_kill = now + rnd.uniform(150, 210)
                if not broker_done and now >= broker_at:
                    chaos = True
                    say(f"minute {m}: broker stopped for 20 s")
                    kafka_local("stop")
                    time.sleep(20)
                    kafka_local("start")
                    broker_done = True
                assert gold.poll() is None, "gold stopped: " + (WORK / "gold.log").read_text()[-2000:]
                time.sleep(0.5)
            b, e2e = silver.take()
            if not b and sim.poll() is None and silver.p.poll() is None:
                # a minute without a batch while events arrive: keep the threads' stacks to see why
                with open(WORK / f"idle-silver-minute-{m + 1}.txt", "w") as f:
                    subprocess.run(["gdb", "-p", str(silver.p.pid), "-batch", "-ex", "thread apply all bt"],
                                   stdout=f, stderr=subprocess.STDOUT, timeout=120)
            # a minute with a kill or the broker stop: its p99 is the outage's, measured per kill instead
            # (recovery_s); the latency series are judged on the calm minutes
            row = {"minute": m + 1, "chaos": chaos, "batches": len(b), "batch_p99_ms_all": p99(b),
                   "batch_p99_ms": None if chaos else p99(b),
                   "e2e_p99_ms_all": p99(e2e), "e2e_p99_ms": None if chaos else p99(e2e),
                   "rss_silver": mean([x for x in rss["silver"] if x]), "rss_silver_peak": max(rss["silver"] or [0]),
                   "rss_gold": mean([x for x in rss["gold"] if x]), "rss_gold_peak": max(rss["gold"] or [0]),
                   "checkpoint_folder_bytes": {d.name: dir_bytes(d) for d in CK.iterdir()} if CK.is_dir() else {},
                   "tables": {n: {k: mean([x[n][k] for x in samples]) for k in samples[0][n]} for n in TABLES}}
            minutes.append(row)
            say(f"minute {m + 1}: {len(b)} batches, batch p99 {row['batch_p99_ms_all']} ms, e2e p99 {row['e2e_p99_ms_all']} ms"
                f"{' (chaos)' if chaos else ''}, rss silver {int(row['rss_silver'] or 0) >> 20} MiB gold "
                f"{int(row['rss_gold'] or 0) >> 20} MiB; "
                + ", ".join(f"{n} {s['active_files'] or 0:.0f} files/{s['log_files'] or 0:.0f} log"
                            for n, s in row["tables"].items()))
            m += 1
        sim.wait(timeout=600)
        # drain: a last silver --once takes whatever the running one had not committed when stopped
        silver.p.send_signal(signal.SIGTERM)
        stuck = False
        try:
            silver.p.wait(timeout=300)
        except subprocess.TimeoutExpired:
            stuck = True  # recorded in the result; its threads' stacks go to the work folder first
            say("silver did not stop within 300 s of SIGTERM; stacks in stuck-silver.txt, killing it")
            with open(WORK / "stuck-silver.txt", "w") as f:
                subprocess.run(["gdb", "-p", str(silver.p.pid), "-batch", "-ex", "thread apply all bt"],
                               stdout=f, stderr=subprocess.STDOUT, timeout=120)
            silver.kill()
        subprocess.run([str(a) for a in silver.cmd() + ["--once", "--quiet"]], cwd=ROOT, check=True, timeout=1800,
                       stderr=silver.log)
        gold.send_signal(signal.SIGTERM)
        gold.wait(timeout=300)
        exact = check_manifest(manifest)
        result = {"stamp": stamp, "minutes": MINUTES, "rate": RATE, "retention": RETENTION,
                  "compact_after": COMPACT_AFTER, "silver_kills": silver.kills, "silver_stuck_on_stop": stuck,
                  "broker_restarts": 1 if broker_done else 0, "loadavg_start": load0,
                  "loadavg_end": open("/proc/loadavg").read().split()[:3], "machine": platform.platform(),
                  "cpus": os.cpu_count(), "manifest_check": exact, "recovery_s": silver.recovery_s,
                  "per_minute": minutes}
        rc = report(result)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        try:
            if silver.p and silver.p.poll() is None:
                silver.p.kill()
        except NameError:
            pass
        kafka_local("stop")
    return rc


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--report":
        # judge a saved run again (after a change of the rules): rewrites its .json and .md
        sys.exit(report(json.loads(Path(sys.argv[2]).read_text())))
    sys.exit(main())
