"""report — the last step of bench/run: merges the JSON lines of the benchmarks with a description of the
machine, saves bench/results/<timestamp>.json and latest.json, prints one table and writes the same
figures as README-ready markdown to bench/results/latest.md.

    python bench/report.py --stamp STAMP --out bench/results [--params JSON] LINES.jsonl
    python bench/report.py --stamp STAMP --render-only bench/results/STAMP.json   (table + latest.md again)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cmd_out(cmd) -> str | None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def pkg_version(name: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def machine() -> dict:
    m = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/meminfo") as f:
            m["memory_bytes"] = int(re.search(r"MemTotal:\s+(\d+) kB", f.read()).group(1)) * 1024
        with open("/proc/cpuinfo") as f:
            mm = re.search(r"model name\s*:\s*(.*)", f.read())
            m["cpu_model"] = mm.group(1).strip() if mm else platform.processor()
        with open("/proc/loadavg") as f:
            m["loadavg_at_report"] = f.read().split()[:3]
    except OSError:
        pass
    libs = sorted(os.listdir(os.path.join(ROOT, "kafka", "lib"))) if os.path.isdir(os.path.join(ROOT, "kafka", "lib")) else []
    kafka = [x for x in libs if re.match(r"kafka_2\.\d+-.*\.jar$", x)]
    v = {
        "git_commit": cmd_out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "cc": (cmd_out(["cc", "--version"]) or "").splitlines()[0] if cmd_out(["cc", "--version"]) else None,
        "librdkafka": cmd_out(["pkg-config", "--modversion", "rdkafka"]),
        "kafka_broker": kafka[0][len("kafka_2.13-"):-4] if kafka else None,
        "java": (cmd_out(["java", "-version"]) or "").splitlines()[0] if cmd_out(["java", "-version"]) else None,
        "kcat": (cmd_out(["kcat", "-V"]) or "").splitlines()[0] if cmd_out(["kcat", "-V"]) else None,
        "pyspark": pkg_version("pyspark"), "delta_spark": pkg_version("delta-spark"),
        "pyarrow": pkg_version("pyarrow"), "duckdb": pkg_version("duckdb"), "deltalake": pkg_version("deltalake"),
        "confluent_kafka": pkg_version("confluent-kafka"),
    }
    m["versions"] = v
    return m


def mib(b) -> str:
    if b is None:
        return ""
    return f"{b / 2**20:.1f} MiB" if b < 10 * 2**20 else f"{b / 2**20:,.0f} MiB"


def num(x, d=0) -> str:
    if x is None:
        return ""
    return f"{x:,.{d}f}"


def ratio(x) -> str:
    if x is None:
        return ""
    return f"{x:.3f}" if abs(x) < 0.1 else f"{x:.2f}"


def silver_rows(s: dict) -> list[list[str]]:
    """Rows of the Kafka -> Silver table."""
    rows = []
    raw = s.get("raw", {})
    limit = raw.get("limit_eps")
    ours, spark, deltars = s.get("ours"), s.get("spark"), s.get("deltars")

    def out(r, key="total"):
        o = (r or {}).get("output", {})
        if key == "silver":
            o = o.get("silver_delta", {})
            return num(o.get("files")), mib(o.get("bytes"))
        return num(o.get("total_files")), mib(o.get("total_bytes"))

    rows.append(["raw consume, librdkafka (tools/raw_consume)", num(raw.get("tool_eps")),
                 ratio(raw["tool_eps"] / limit) if limit else "", "", "", "", "", "", "", "", ""])
    rows.append(["raw consume, kcat -C (process)", num(raw.get("kcat_eps")),
                 ratio(raw["kcat_eps"] / limit) if limit else "", "", "", "", "", "", "", "", ""])

    def drain_row(label, r, vs_ours):
        f, b = out(r)
        busy = r.get("cores_busy") or (round(r["cpu_s"] / r["wall_s"], 2) if r.get("wall_s") else None)
        return [label, num(r["events_per_s"]), ratio(r.get("ratio_to_limit")), vs_ours, num(r["cpu_s"], 1),
                num(busy, 2), mib(r["peak_rss_bytes"]), "", "", f, b]

    if ours:
        rows.append(drain_row("ours: smarttech silver --once (drain, 3 tables)", ours, "1.00"))
    if deltars:
        rows.append(drain_row("delta-rs peer: confluent-kafka + write_deltalake (drain, Silver only)", deltars,
                              ratio(s.get("ratio_ours_deltars"))))
    if spark:
        rows.append(drain_row("PySpark availableNow (drain, Silver only, wall)", spark, ratio(s.get("ratio_ours_spark"))))
        if spark.get("query_events_per_s"):
            rows.append(["PySpark, query time only (no JVM start)", num(spark["query_events_per_s"]),
                         ratio(spark["query_events_per_s"] / limit) if limit else "",
                         ratio(s.get("ratio_ours_spark_query")), "", "", "", "", "", "", ""])
    for who, label in (("steady_ours", "ours: steady (trigger 500 ms)"),
                       ("steady_ours_trigger_100ms", "ours: steady, --trigger 100ms"),
                       ("steady_spark", "PySpark: steady (trigger 1 s)")):
        st = s.get(who)
        if not st:
            continue
        lat = st.get("latency", {})
        f, b = out(st)
        rate = f"{num(st.get('producer_eps'))} in" + ("" if st.get("caught_up") else " (fell behind)")
        rows.append([f"{label}, {num(st.get('rate'))}/s x {num(st.get('seconds'))} s", rate, "", "",
                     num(st.get("cpu_s_measured"), 1), num(st.get("cpu_per_wall"), 2), mib(st.get("peak_rss_bytes")),
                     f"{num(lat.get('p50_ms'))} ms" if lat.get("p50_ms") is not None else "",
                     f"{num(lat.get('p99_ms'))} ms" if lat.get("p99_ms") is not None else "", f, b])
    return rows


HEAD = ["Kafka -> Silver", "events/s", "x limit", "ours/this", "CPU s", "cores busy", "peak RSS", "p50", "p99",
        "files", "bytes"]


def text_table(head, rows) -> str:
    w = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(head), "  ".join("-" * x for x in w)] + [line(r) for r in rows])


def md_table(head, rows) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def other_rows(res: dict) -> list[list[str]]:
    rows = []
    p = res.get("producer")
    if p and "error" not in p:
        rows.append(["simulate -> Kafka (issue 4)", f"{num(p['simulator_eps'])} events/s",
                     f"kcat -P {num(p['kcat_eps'])} events/s", ratio(p["ratio"]),
                     ">= 200,000/s and >= 0.8", "yes" if p.get("meets_target") else "no"])
    w = res.get("parquet_write")
    if w and "error" not in w:
        rows.append([f"Parquet write, {num(w['rows'])} Silver rows, snappy (issue 2)",
                     f"{num(w['ours']['rows_per_s'])} rows/s, {num(w['ours']['file_bytes'] / 2**20, 1)} MiB",
                     f"pyarrow {num(w['pyarrow']['rows_per_s'])} rows/s, {num(w['pyarrow']['file_bytes'] / 2**20, 1)} MiB",
                     f"speed {ratio(w['ratio_speed'])}, size {ratio(w['ratio_size'])}",
                     "speed >= 1.0, size within 10 %", "yes" if w.get("target_met") else "no"])
    q = res.get("mqtt_bridge")
    if q and "error" not in q:
        rows.append([f"MQTT -> Kafka, {num(q['events'])} QoS 1 events (issue 16)",
                     f"mqtt-bridge {num(q['bridge_eps'])} events/s, {mib(q['bridge_peak_rss_bytes'])}",
                     f"mosquitto_sub {num(q['mosquitto_sub_eps'])} events/s", ratio(q["ratio"]),
                     ">= 0.8, RSS <= 32 MiB", "yes" if q.get("meets_target") else "no"])
    m = res.get("metrics_scrape")
    if m and "error" not in m:
        rows.append([f"silver drain, {num(m['events'])} events, scraper on /metrics {num(m['scrape_hz'])}x/s (issue 14)",
                     f"{num(m['with_eps'])} events/s", f"no scraper {num(m['without_eps'])} events/s",
                     ratio(m["ratio"]), ">= 0.97", "yes" if m.get("meets_target") else "no"])
    s3 = res.get("silver_s3")
    if s3 and "error" not in s3:
        rows.append([f"Kafka -> Silver drain, {num(s3['events'])} events, tables on local S3 (issue 15)",
                     f"S3 {num(s3['s3']['events_per_s'])} events/s, {mib(s3['s3']['peak_rss_bytes'])}",
                     f"local disk {num(s3['local']['events_per_s'])} events/s", ratio(s3["ratio"]),
                     ">= 0.7" + ("" if s3.get("rows_match") else " (Silver != manifest!)"),
                     "yes" if s3.get("meets_target") and s3.get("rows_match") else "no"])
    for name, v in res.items():
        if isinstance(v, dict) and "error" in v:
            rows.append([name, "failed", v["error"][:80], "", "", ""])
    return rows


OTHER_HEAD = ["benchmark", "ours", "reference", "ratio", "target", "met"]


def targets(s: dict) -> list[str]:
    t = []
    ours, spark = s.get("ours"), s.get("spark")
    if ours:
        t.append(f"ours >= 0.5 of the raw consume limit: {ratio(ours.get('ratio_to_limit'))} "
                 f"({'met' if (ours.get('ratio_to_limit') or 0) >= 0.5 else 'not met'})")
        t.append(f"ours peak RSS <= 64 MiB (drain): {mib(ours['peak_rss_bytes'])} "
                 f"({'met' if ours['peak_rss_bytes'] <= 64 * 2**20 else 'not met'})")
    if spark and ours:
        r = s.get("ratio_ours_spark") or 0
        t.append(f"ours >= 20x PySpark throughput: {ratio(r)}x wall, {ratio(s.get('ratio_ours_spark_query'))}x "
                 f"query-only ({'met' if r >= 20 else 'not met'})")
        rr = spark["peak_rss_bytes"] / ours["peak_rss_bytes"] if ours["peak_rss_bytes"] else 0
        t.append(f"ours RSS <= 1/20 of Spark's: Spark/ours = {rr:.1f} ({'met' if rr >= 20 else 'not met'})")
    deltars = s.get("deltars")
    if deltars and ours:
        r = s.get("ratio_ours_deltars") or 0
        t.append(f"ours >= 10x the delta-rs peer's drain: {ratio(r)}x ({'met' if r >= 10 else 'not met'})")
    if ours and ours.get("summary", {}).get("dedup"):
        dd = ours["summary"]["dedup"]
        t.append(f"dedup state at its largest: {num(dd.get('peak_ids'))} live ids in {mib(dd.get('peak_bytes'))}, "
                 f"{num(dd.get('bytes_per_live_id'), 1)} bytes per live id")
    st = s.get("steady_ours")
    if st and st.get("latency", {}).get("p99_ms") is not None:
        p99 = st["latency"]["p99_ms"]
        t.append(f"ours p99 event -> visible <= 1 s at {num(st.get('rate'))}/s: {num(p99)} ms "
                 f"({'met' if p99 <= 1000 else 'not met'})")
    st = s.get("steady_ours_trigger_100ms")
    if st and st.get("latency", {}).get("p99_ms") is not None:
        p50, p99 = st["latency"]["p50_ms"], st["latency"]["p99_ms"]
        t.append(f"ours with --trigger 100ms, p99 <= 250 ms and p50 <= 120 ms at {num(st.get('rate'))}/s: "
                 f"{num(p99)} / {num(p50)} ms ({'met' if p99 <= 250 and p50 <= 120 else 'not met'})")
    for who, label in (("steady_ours", "ours"), ("steady_spark", "PySpark")):
        st = s.get(who)
        if st and st.get("caught_up"):
            when = (f"{num(st.get('catch_up_s'), 1)} s after" if st.get("catch_up_method") == "commit_mtime"
                    else f"at most {num(st.get('catch_up_s'), 1)} s (polled) after")
            t.append(f"{label} steady state: every row visible {when} the producer stopped; "
                     f"{num(st.get('cpu_per_wall'), 2)} cores busy on average; {num(st.get('versions'))} "
                     f"Silver versions")
        if st and not st.get("caught_up", True):
            t.append(f"{label} steady state fell behind: {num(st.get('silver_rows'))} of {num(st.get('expected_rows'))} "
                     f"rows visible {num(st.get('catch_up_s'))} s after the producer stopped; its latency is over "
                     f"the visible rows only")
    c = s.get("compare", {})
    if "same_rows" in c:
        t.append(f"same Silver rows in both drained tables: {'yes' if c['same_rows'] else 'NO'} "
                 f"(ours {num(c['ours']['rows'])} rows, PySpark {num(c['spark']['rows'])}; checksum over "
                 f"(event_id, value) {'equal' if c['ours']['checksum'] == c['spark']['checksum'] else 'different'}; "
                 f"rows only in ours {num(c.get('only_in_ours'))}, only in PySpark {num(c.get('only_in_spark'))})")
    dr = c.get("deltars")
    if dr:
        t.append(f"same Silver rows, row for row, in ours and the delta-rs peer: {'yes' if dr['same_rows'] else 'NO'} "
                 f"(ours {num(c['ours']['rows'])} rows, peer {num(dr['rows'])}; compared over {dr['columns']}; "
                 f"rows only in ours {num(dr.get('only_in_ours'))}, only in the peer {num(dr.get('only_in_deltars'))})")
    if "ours_matches_manifest" in c:
        t.append(f"ours' Silver = the simulator's valid unique events: {'yes' if c['ours_matches_manifest'] else 'NO'}")
    return t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stamp", required=True)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--params", default="{}", help="JSON of the run's parameters")
    ap.add_argument("--loadavg-start", default=None)
    ap.add_argument("--render-only", action="store_true",
                    help="LINES is a saved result JSON: print its table and rewrite latest.md only")
    ap.add_argument("lines")
    a = ap.parse_args()
    if a.render_only:
        with open(a.lines) as f:
            res = json.load(f)
    else:
        res = {"timestamp": a.stamp, "params": json.loads(a.params), "machine": machine()}
        if a.loadavg_start:
            res["machine"]["loadavg_at_start"] = a.loadavg_start.split()[:3]
        with open(a.lines) as f:
            for ln in f:
                ln = ln.strip()
                if ln.startswith("{"):
                    d = json.loads(ln)
                    res[d.get("bench", "unknown")] = d
    os.makedirs(a.out, exist_ok=True)
    for name in (() if a.render_only else (f"{a.stamp}.json", "latest.json")):
        with open(os.path.join(a.out, name), "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")

    s = res.get("silver", {})
    m = res["machine"]
    desc = (f"{m.get('nproc')} cores ({m.get('cpu_model')}), {m.get('memory_bytes', 0) / 2**30:.0f} GiB, "
            f"Linux {m.get('kernel')}, Kafka {m['versions'].get('kafka_broker')}, librdkafka "
            f"{m['versions'].get('librdkafka')}, PySpark {m['versions'].get('pyspark')} + delta-spark "
            f"{m['versions'].get('delta_spark')}; load average at start {' '.join(m.get('loadavg_at_start', []))}")
    size = (f"backlog {num(s.get('events'))} events (seed {s.get('seed')}, {num((s.get('faults') or 0) * 100)} % faults); "
            f"steady {num(s.get('steady_rate'))} events/s for {num(s.get('steady_seconds'))} s")
    srows = silver_rows(s) if s and "error" not in s else []
    orows = other_rows(res)
    tl = targets(s) if s and "error" not in s else []

    print()
    print(f"make bench {a.stamp}: {desc}")
    if srows:
        print(size)
        print(text_table(HEAD, srows))
    if orows:
        print()
        print(text_table(OTHER_HEAD, orows))
    for t in tl:
        print("  - " + t)
    if not a.render_only:
        print(f"\nsaved {os.path.join(a.out, a.stamp + '.json')} and latest.json; markdown in latest.md")

    md = [f"### Benchmark ({a.stamp}, `make bench`)", "", desc + ".", ""]
    if srows:
        md += [size + ".", "", md_table(HEAD, srows), ""]
        md += ["events/s of a drain = backlog events / wall time of the process (start-up included); "
               "x limit = ratio to the faster raw librdkafka consume of the same backlog; latency = time the "
               "Delta commit file of a row appeared minus the row's Kafka timestamp, same method for both "
               "tables; CPU s of the steady state = the measured phase only; files/bytes = Parquet data files "
               "written (ours: bronze_kafka + silver + quarantine; PySpark: Silver only, as the original design).", ""]
    if orows:
        md += [md_table(OTHER_HEAD, orows), ""]
    md += ["- " + t for t in tl]
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
