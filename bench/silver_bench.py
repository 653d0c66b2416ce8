"""silver_bench — issue 5 + 7 measurements: Kafka -> Silver, ours against the PySpark baseline and the
raw Kafka consume limit, on the same backlog and the same steady stream, in one run.

    .venv/bin/python bench/silver_bench.py [--events N] [--steady-seconds S] [--skip-spark]

Steps (each pipeline writes into fresh tables under --workdir):
  1. load a backlog of N events (fixed --seed, 2 % faults) with `smarttech simulate`;
  2. raw limit: bench/raw_consume.sh on that topic;
  3. ours: `smarttech silver --once` drains it (wall, CPU seconds, peak RSS of the process tree);
  4. peer: bench/deltars_baseline/silver_from_kafka.py (confluent-kafka + delta-rs) drains it --once;
     baseline: bench/pyspark_baseline/silver_from_kafka.py with trigger availableNow drains it;
  5. the Silver tables (and the simulator's manifest) are compared: row count and a checksum over
     (event_id, value) computed by DuckDB over delta-rs reads of each table;
  6. steady state: for each pipeline in turn, a fresh topic, the pipeline started, a warm-up of
     1,000 clean events waited for, then the simulator at --steady-rate for --steady-seconds; the
     latency of every measured row = the time its Delta commit file appeared (mtime of
     _delta_log/N.json) minus its Kafka timestamp (read back from the topic with kcat): one method
     for both tables, which both carry source_partition / source_offset.
Prints progress on stderr and one JSON line on stdout.
Env: SMARTTECH_BIN (default build/smarttech), RAW_CONSUME_BIN, BROKERS, BENCH_EVENTS,
BENCH_STEADY_SECONDS, BENCH_STEADY_RATE, BENCH_CATCHUP_SECONDS, BENCH_SKIP_SPARK=1, BENCH_SKIP_DELTARS=1, BENCH_SPARK_DRIVER_MEMORY, BENCH_KEEP=1.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procmon  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
SPARK_JOB = os.path.join(ROOT, "bench", "pyspark_baseline", "silver_from_kafka.py")
WARMUP = 1000


def log(msg: str) -> None:
    print(f"bench/silver: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {r.returncode}: {r.stderr[-2000:]}")
    return r


# ----------------------------------------------------------------------------- Kafka helpers

def topic_create(a, topic: str) -> None:
    sh([a.bin, "topic", "create", "--brokers", a.brokers, "--topic", topic])


def topics_delete(a, topics) -> None:
    try:
        from confluent_kafka.admin import AdminClient
        adm = AdminClient({"bootstrap.servers": a.brokers})
        for f in adm.delete_topics(list(topics), operation_timeout=30).values():
            try:
                f.result(timeout=60)
            except Exception:
                pass
    except Exception as e:  # cleanup only
        log(f"could not delete topics {topics}: {e}")


def end_offsets(a, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": "smarttech-bench-offsets"})
    try:
        md = c.list_topics(topic, timeout=10)
        out = {}
        for p in md.topics[topic].partitions:
            out[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        return out
    finally:
        c.close()


def simulate(a, topic: str, count: int, seed: int, faults: float, rate: float = 0, manifest: str | None = None):
    cmd = [a.bin, "simulate", "--brokers", a.brokers, "--topic", topic, "--count", str(count), "--seed", str(seed),
           "--faults", str(faults)]
    if rate:
        cmd += ["--rate", str(rate)]
    if manifest:
        cmd += ["--manifest", manifest]
    t0 = time.monotonic()
    sh(cmd)
    return time.monotonic() - t0


def expected_silver(*manifests: str) -> int:
    """Distinct event_ids the simulator marked valid: what Silver must hold."""
    ids = set()
    for m in manifests:
        with open(m, newline="") as f:
            for row in csv.DictReader(f):
                if row["valid"] == "1":
                    ids.add(row["event_id"])
    return len(ids)


def kafka_timestamps(a, topic: str, path: str) -> None:
    """partition,offset,timestamp_ms of every record of topic -> CSV at path (kcat)."""
    with open(path, "w") as f:
        f.write("p,o,ts\n")
        f.flush()
        subprocess.run(["kcat", "-b", a.brokers, "-C", "-t", topic, "-e", "-o", "beginning", "-q",
                        "-f", "%p,%o,%T\n"], stdout=f, check=True)


# ----------------------------------------------------------------------------- Delta helpers

def delta_versions(table: str) -> list[dict]:
    """Every commit of a table: version, commit file mtime (s), commitInfo timestamp (ms), the files it
    added with new rows (dataChange) and their numRecords. Reads the JSON commits directly (no library in the timing path)."""
    out = []
    for p in sorted(glob.glob(os.path.join(table, "_delta_log", "*.json"))):
        name = os.path.basename(p)[:-5]
        if not name.isdigit():
            continue
        try:
            mtime = os.stat(p).st_mtime_ns / 1e9
            with open(p) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        files, rows, cts = [], 0, None
        for ln in lines:
            if not ln.strip():
                continue
            act = json.loads(ln)
            if "add" in act:
                add = act["add"]
                if add.get("dataChange") is False:
                    # a compaction's rewrite (OPTIMIZE, maintenance on by default): not new rows,
                    # and not when they became visible
                    continue
                files.append(urllib.parse.unquote(add["path"]))
                st = add.get("stats")
                if st:
                    rows += json.loads(st).get("numRecords", 0)
            elif "commitInfo" in act:
                cts = act["commitInfo"].get("timestamp")
        out.append({"version": int(name), "mtime": mtime, "commit_ts_ms": cts, "files": files, "rows": rows})
    return out


def table_rows(table: str) -> int:
    return sum(v["rows"] for v in delta_versions(table))


def dir_files_bytes(path: str) -> tuple[int, int]:
    n = b = 0
    for dp, _dn, fn in os.walk(path):
        for f in fn:
            if f.endswith(".parquet") and "_delta_log" not in dp:
                n += 1
                b += os.path.getsize(os.path.join(dp, f))
    return n, b


def latency(table: str, ts_csv: str, start_offsets: dict[int, int]) -> dict:
    """Event -> visible latency of every row with offset >= start_offsets[partition]: mtime of the
    commit file that added its data file minus the record's Kafka timestamp."""
    import duckdb
    con = duckdb.connect()
    vmap = [(os.path.join(table, f), v["version"], v["mtime"]) for v in delta_versions(table) for f in v["files"]]
    if not vmap:
        return {"count": 0}
    con.execute("CREATE TABLE vf(file VARCHAR, version BIGINT, visible DOUBLE)")
    con.executemany("INSERT INTO vf VALUES (?, ?, ?)", vmap)
    con.execute("CREATE TABLE so(p INTEGER, o BIGINT)")
    con.executemany("INSERT INTO so VALUES (?, ?)", list(start_offsets.items()))
    files = [f for f, _v, _m in vmap]
    con.execute("CREATE TABLE rows AS SELECT source_partition AS p, source_offset AS o, filename AS file "
                "FROM read_parquet(?, filename = true)", [files])
    con.execute(f"CREATE TABLE ts AS SELECT * FROM read_csv('{ts_csv}', header = true, "
                "columns = {'p': 'INTEGER', 'o': 'BIGINT', 'ts': 'BIGINT'})")
    r = con.execute("""
        WITH l AS (SELECT (vf.visible * 1000 - ts.ts) AS ms FROM rows
                   JOIN vf USING (file) JOIN ts USING (p, o) JOIN so USING (p) WHERE rows.o >= so.o)
        SELECT count(*), quantile_cont(ms, 0.5), quantile_cont(ms, 0.99), max(ms), avg(ms) FROM l""").fetchone()
    unmatched = con.execute("SELECT count(*) FROM rows LEFT JOIN ts USING (p, o) WHERE ts.ts IS NULL").fetchone()[0]
    return {"count": r[0], "p50_ms": round(r[1], 1) if r[1] is not None else None,
            "p99_ms": round(r[2], 1) if r[2] is not None else None,
            "max_ms": round(r[3], 1) if r[3] is not None else None,
            "mean_ms": round(r[4], 1) if r[4] is not None else None, "rows_without_kafka_ts": unmatched}


# the columns that must be equal row for row between ours and the delta-rs peer (ingest_time aside)
ROW_COLUMNS = ("event_id, sensor_id, building_id, floor, room_id, sensor_type, value, unit, event_time, event_date, "
               "seq, battery_pct, converted_from_f, source_partition, source_offset")


def compare(tables: dict[str, str]) -> dict:
    """Row count, distinct ids and a checksum over (event_id, value) of each Silver table, and for
    each other table the rows it and ours lack from each other: over (event_id, value) for PySpark,
    over every column but ingest_time (ROW_COLUMNS) for the delta-rs peer."""
    import duckdb
    from deltalake import DeltaTable
    con = duckdb.connect()
    out = {}
    for name, path in tables.items():
        con.register(name, DeltaTable(path).to_pyarrow_dataset())
        n, d, h = con.execute(f"SELECT count(*), count(DISTINCT event_id), "
                              f"sum(hash(event_id, value))::HUGEINT FROM {name}").fetchone()
        out[name] = {"rows": n, "distinct_event_ids": d, "checksum": str(h)}
    for y in (n for n in tables if n != "ours"):
        cols = ROW_COLUMNS if y == "deltars" else "event_id, value"
        x = "ours"
        ox = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {x} EXCEPT ALL SELECT {cols} FROM {y})").fetchone()[0]
        oy = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {y} EXCEPT ALL SELECT {cols} FROM {x})").fetchone()[0]
        same = out[x]["rows"] == out[y]["rows"] and out[x]["checksum"] == out[y]["checksum"] and ox == 0 and oy == 0
        if y == "spark":  # the keys report.py has always read
            out.update({"only_in_ours": ox, "only_in_spark": oy, "same_rows": same})
        else:
            out[y].update({"columns": cols, "only_in_ours": ox, f"only_in_{y}": oy, "same_rows": same})
    return out


# ----------------------------------------------------------------------------- pipelines

def ours_cmd(a, topic: str, out: str, group: str, once: bool, extra=()) -> list[str]:
    cmd = [a.bin, "silver", "--brokers", a.brokers, "--topic", topic, "--group", group, *a.silver_args, *extra,
           "--output", f"{out}/silver_delta", "--bronze", f"{out}/bronze_kafka",
           "--quarantine", f"{out}/quarantine_delta", "--checkpoint", f"{out}/checkpoint",
           "--from", "earliest", "--summary-json", f"{out}/summary.json", "--quiet"]
    return cmd + ["--once"] if once else cmd


def spark_cmd(a, topic: str, out: str, trigger: str, max_offsets: int) -> list[str]:
    return [PY, SPARK_JOB, "--brokers", a.brokers, "--topic", topic, "--output", f"{out}/silver_delta",
            "--checkpoint", f"{out}/checkpoint", "--trigger", trigger, "--max-offsets-per-trigger", str(max_offsets),
            "--driver-memory", a.spark_driver_memory, "--summary-json", f"{out}/summary.json",
            "--stop-file", f"{out}/STOP", "--ready-file", f"{out}/READY"]


DELTARS_JOB = os.path.join(ROOT, "bench", "deltars_baseline", "silver_from_kafka.py")


def deltars_cmd(a, topic: str, out: str, group: str) -> list[str]:
    return [PY, DELTARS_JOB, "--brokers", a.brokers, "--topic", topic, "--group", group,
            "--output", f"{out}/silver_delta", "--once", "--summary-json", f"{out}/summary.json"]


def read_json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def tables_out(out: str) -> dict:
    r = {}
    for t in ("silver_delta", "bronze_kafka", "quarantine_delta"):
        if os.path.isdir(f"{out}/{t}"):
            n, b = dir_files_bytes(f"{out}/{t}")
            r[t] = {"files": n, "bytes": b}
    r["total_files"] = sum(v["files"] for v in r.values())
    r["total_bytes"] = sum(v["bytes"] for k, v in r.items() if isinstance(v, dict))
    return r


def drain(a, who: str, topic: str, events: int) -> dict:
    out = os.path.join(a.workdir, f"drain_{who}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    if who == "ours":
        cmd = ours_cmd(a, topic, out, f"bench-drain-{a.stamp}", once=True)
    elif who == "deltars":
        cmd = deltars_cmd(a, topic, out, f"bench-drain-deltars-{a.stamp}")
    else:
        cmd = spark_cmd(a, topic, out, "availableNow", a.spark_max_offsets)
    log(f"{who}: draining {events} events from {topic}")
    with open(f"{out}/stdout.log", "w") as so, open(f"{out}/stderr.log", "w") as se:
        m = procmon.run(cmd, stdout=so, stderr=se, cwd=ROOT)
    summ = read_json(f"{out}/summary.json") or {}
    if m["exit"] != 0:
        raise RuntimeError(f"{who} drain exited {m['exit']}; see {out}/stderr.log")
    r = {**m, "events": events, "summary": summ, "output": tables_out(out), "path": out}
    r["events_per_s"] = round(events / m["wall_s"])
    r["cores_busy"] = round(m["cpu_s"] / m["wall_s"], 2) if m["wall_s"] else None
    r["events_per_cpu_s"] = round(events / m["cpu_s"]) if m["cpu_s"] else None
    if who == "spark" and summ.get("query_s"):
        # favourable to Spark: the query alone, without JVM start and jar resolution
        r["query_events_per_s"] = round(events / summ["query_s"])
    log(f"{who}: {m['wall_s']} s wall, {r['events_per_s']} events/s, {m['cpu_s']} CPU s, "
        f"peak RSS {m['peak_rss_bytes'] / 2**20:.0f} MiB")
    return r


def wait_rows(table: str, want: int, timeout: float, alive) -> tuple[bool, int]:
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline and alive():
        n = table_rows(table) if os.path.isdir(os.path.join(table, "_delta_log")) else 0
        if n >= want:
            return True, n
        time.sleep(0.25)
    return False, n


def steady(a, who: str, extra=()) -> dict:
    """who: "ours" (silver with a.silver_args and extra; label "ours" + the extra options) or "spark"."""
    label = who + "".join(x.replace("-", "_") for x in extra)
    topic = f"bench_steady_{label}_{a.stamp}"
    a.topics.append(topic)
    topic_create(a, topic)
    out = os.path.join(a.workdir, f"steady_{label}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    silver = f"{out}/silver_delta"
    if who == "ours":
        cmd = ours_cmd(a, topic, out, f"bench-steady-{label}-{a.stamp}", once=False, extra=extra)
    else:
        cmd = spark_cmd(a, topic, out, a.trigger, 0)
    log(f"{who}: steady state on {topic}: starting the pipeline")
    so, se = open(f"{out}/stdout.log", "w"), open(f"{out}/stderr.log", "w")
    m = procmon.Monitored(cmd, stdout=so, stderr=se, cwd=ROOT).start()
    alive = m.alive
    r = {"topic": topic, "rate": a.steady_rate, "seconds": a.steady_seconds, "path": out}
    try:
        # the warm-up's ids (sensor:seq) recur in the measured run: Silver keeps the first of each
        simulate(a, topic, WARMUP, 999, 0.0, rate=WARMUP, manifest=f"{out}/warmup.csv")
        ok, n = wait_rows(silver, WARMUP, 900, alive)
        if not ok:
            raise RuntimeError(f"{who}: warm-up rows not visible ({n}/{WARMUP}); see {out}/stderr.log")
        start = end_offsets(a, topic)
        log(f"{who}: warmed up; {a.steady_rate} events/s for {a.steady_seconds} s")
        cpu0, t0 = m.cpu_s(), time.monotonic()
        count = int(a.steady_rate * a.steady_seconds)
        manifest = f"{out}/manifest.csv"
        sim_s = simulate(a, topic, count, a.seed + 1, a.faults, rate=a.steady_rate, manifest=manifest)
        prod_end = time.time()
        want = expected_silver(f"{out}/warmup.csv", manifest)
        ok, n = wait_rows(silver, want, a.catchup_seconds, alive)
        t1 = time.monotonic()
        cpu1 = m.cpu_s()
        # when the last expected row became visible: the commit that brought the count to `want`
        acc, last_visible = 0, None
        for v in delta_versions(silver):
            acc += v["rows"]
            if acc >= want:
                last_visible = v["mtime"]
                break
        r.update({"producer_s": round(sim_s, 3), "producer_eps": round(count / sim_s), "events": count,
                  "caught_up": ok, "silver_rows": n, "expected_rows": want,
                  "catch_up_s": round(last_visible - prod_end, 3) if last_visible else None,
                  "catch_up_method": "commit_mtime", "cpu_s_measured": round(cpu1 - cpu0, 3),
                  "cpu_per_wall": round((cpu1 - cpu0) / (t1 - t0), 3)})
    finally:
        if who == "ours":
            if alive():
                os.kill(m.pid(), signal.SIGINT)
        else:
            open(f"{out}/STOP", "w").close()
        try:
            res = m.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.kill(m.pid(), signal.SIGKILL)
            res = m.wait()
        so.close()
        se.close()
    r.update({"wall_s": res["wall_s"], "cpu_s": res["cpu_s"], "peak_rss_bytes": res["peak_rss_bytes"],
              "exit": res["exit"], "summary": read_json(f"{out}/summary.json"), "output": tables_out(out)})
    ts_csv = f"{out}/kafka_ts.csv"
    kafka_timestamps(a, topic, ts_csv)
    r["latency"] = latency(silver, ts_csv, start)
    r["versions"] = len(delta_versions(silver))
    lat = r["latency"]
    log(f"{who}: steady: caught_up={r.get('caught_up')} rows={r.get('silver_rows')}/{r.get('expected_rows')} "
        f"latency p50={lat.get('p50_ms')} ms p99={lat.get('p99_ms')} ms, peak RSS "
        f"{res['peak_rss_bytes'] / 2**20:.0f} MiB, CPU {r.get('cpu_s_measured')} s in the measured phase")
    return r


# ----------------------------------------------------------------------------- main

def main() -> int:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=int(env("BENCH_EVENTS", "5000000")))
    ap.add_argument("--steady-seconds", type=float, default=float(env("BENCH_STEADY_SECONDS", "60")))
    ap.add_argument("--silver-args", default=env("BENCH_SILVER_ARGS", ""),
                    help="extra options of every `smarttech silver` run (e.g. \"--trigger 100ms\"), split on spaces")
    ap.add_argument("--steady-rate", type=float, default=float(env("BENCH_STEADY_RATE", "20000")))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--faults", type=float, default=0.02)
    ap.add_argument("--trigger", default=env("BENCH_SPARK_TRIGGER", "1 second"),
                    help="Spark processing-time trigger of the steady state (ours: its default, 1s)")
    ap.add_argument("--catchup-seconds", type=float, default=float(env("BENCH_CATCHUP_SECONDS", "0")),
                    help="steady state: how long to wait after the producer for every row (0: max(60, 5 x seconds))")
    ap.add_argument("--spark-max-offsets", type=int, default=int(env("BENCH_SPARK_MAX_OFFSETS", "1000000")))
    ap.add_argument("--spark-driver-memory", default=env("BENCH_SPARK_DRIVER_MEMORY", "2g"))
    ap.add_argument("--skip-spark", action="store_true", default=env("BENCH_SKIP_SPARK", "") == "1")
    ap.add_argument("--skip-deltars", action="store_true", default=env("BENCH_SKIP_DELTARS", "") == "1")
    ap.add_argument("--skip-steady", action="store_true", default=env("BENCH_SKIP_STEADY", "") == "1")
    ap.add_argument("--bin", default=env("SMARTTECH_BIN", os.path.join(ROOT, "build", "smarttech")))
    ap.add_argument("--brokers", default=env("BROKERS", "localhost:9092"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true", default=env("BENCH_KEEP", "") == "1")
    a = ap.parse_args()
    a.catchup_seconds = a.catchup_seconds or max(60.0, 5.0 * a.steady_seconds)
    a.silver_args = a.silver_args.split()
    a.stamp = time.strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}"
    a.workdir = a.workdir or os.path.join(ROOT, "bench", "results", "tmp", a.stamp)
    os.makedirs(a.workdir, exist_ok=True)
    a.topics = []
    res = {"bench": "silver", "events": a.events, "seed": a.seed, "faults": a.faults,
           "steady_rate": a.steady_rate, "steady_seconds": a.steady_seconds, "spark_skipped": a.skip_spark,
           "deltars_skipped": a.skip_deltars, "silver_args": a.silver_args}
    try:
        backlog = f"bench_backlog_{a.stamp}"
        a.topics.append(backlog)
        topic_create(a, backlog)
        log(f"loading {a.events} events (seed {a.seed}, faults {a.faults}) into {backlog}")
        manifest = os.path.join(a.workdir, "backlog_manifest.csv")
        load_s = simulate(a, backlog, a.events, a.seed, a.faults, manifest=manifest)
        res["load"] = {"seconds": round(load_s, 3), "events_per_s": round(a.events / load_s),
                       "expected_silver_rows": expected_silver(manifest)}
        os.remove(manifest)

        log("raw consume limit")
        raw = sh([os.path.join(ROOT, "bench", "raw_consume.sh"), backlog, str(a.events)],
                 env={**os.environ, "BROKERS": a.brokers}).stdout
        res["raw"] = json.loads(raw.strip().splitlines()[-1])
        limit = res["raw"]["limit_eps"]

        res["ours"] = drain(a, "ours", backlog, a.events)
        res["ours"]["ratio_to_limit"] = round(res["ours"]["events_per_s"] / limit, 3)
        tables = {"ours": res["ours"]["path"] + "/silver_delta"}
        if not a.skip_deltars:
            res["deltars"] = drain(a, "deltars", backlog, a.events)
            res["deltars"]["ratio_to_limit"] = round(res["deltars"]["events_per_s"] / limit, 3)
            res["ratio_ours_deltars"] = round(res["ours"]["events_per_s"] / res["deltars"]["events_per_s"], 2)
            tables["deltars"] = res["deltars"]["path"] + "/silver_delta"
        if not a.skip_spark:
            res["spark"] = drain(a, "spark", backlog, a.events)
            res["spark"]["ratio_to_limit"] = round(res["spark"]["events_per_s"] / limit, 3)
            res["ratio_ours_spark"] = round(res["ours"]["events_per_s"] / res["spark"]["events_per_s"], 2)
            if res["spark"].get("query_events_per_s"):
                res["ratio_ours_spark_query"] = round(res["ours"]["events_per_s"] / res["spark"]["query_events_per_s"], 2)
            tables["spark"] = res["spark"]["path"] + "/silver_delta"
        log("comparing the Silver tables")
        res["compare"] = compare(tables)
        res["compare"]["expected_rows"] = res["load"]["expected_silver_rows"]
        res["compare"]["ours_matches_manifest"] = res["compare"]["ours"]["rows"] == res["load"]["expected_silver_rows"]

        if not a.skip_steady:
            res["steady_ours"] = steady(a, "ours")
            # the same stream with a 100 ms trigger: the latency a short trigger buys, and its CPU
            res["steady_ours_trigger_100ms"] = steady(a, "ours", ("--trigger", "100ms"))
            if not a.skip_spark:
                res["steady_spark"] = steady(a, "spark")
    finally:
        topics_delete(a, a.topics)
        if not a.keep:
            shutil.rmtree(a.workdir, ignore_errors=True)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
