"""Smoke test of `make bench` (bench/run): tiny sizes, Spark skipped, results in a temporary folder.

Checks that one run produces the JSON (machine description, every benchmark's figures), the markdown
table, and that the Silver table of the drain holds exactly the simulator's valid unique events. No
figure is asserted (no timing assertions): only that they exist and are consistent.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import REPO, smarttech_path


def test_bench_run_tiny(kafka_broker, tmp_path):
    bin_ = smarttech_path()
    raw = bin_.parent / "raw_consume"
    if not os.access(bin_, os.X_OK) or not os.access(raw, os.X_OK):
        pytest.fail(f"need {bin_} and {raw} (make build, or set SMARTTECH_BIN)")
    results = tmp_path / "results"
    env = {**os.environ, "SMARTTECH_BIN": str(bin_), "BROKERS": kafka_broker, "BENCH_RESULTS": str(results),
           "BENCH_EVENTS": "20000", "BENCH_STEADY_SECONDS": "5", "BENCH_SKIP_SPARK": "1",
           "BENCH_PARQUET_ROWS": "50000", "BENCH_PRODUCER_EVENTS": "20000", "SMARTTECH_BUILD_DIR": str(bin_.parent),
           "BENCH_MQTT_EVENTS": "3000", "BENCH_MQTT_ROUNDS": "1", "BENCH_SKIP_S3": "1"}
    cp = subprocess.run([str(REPO / "bench" / "run")], cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=600)
    assert cp.returncode == 0, f"bench/run exited {cp.returncode}\n{cp.stdout[-4000:]}\n{cp.stderr[-6000:]}"
    assert "Kafka -> Silver" in cp.stdout and "events/s" in cp.stdout

    latest = json.loads((results / "latest.json").read_text())
    stamped = [p for p in results.glob("*.json") if p.name != "latest.json"]
    assert len(stamped) == 1 and json.loads(stamped[0].read_text()) == latest
    m = latest["machine"]
    assert m["nproc"] >= 1 and m["memory_bytes"] > 0 and m["cpu_model"] and m["kernel"]
    assert m["versions"]["pyspark"] and m["versions"]["librdkafka"]

    s = latest["silver"]
    assert s["events"] == 20000 and s["spark_skipped"] and "spark" not in s
    assert s["raw"]["complete"] and s["raw"]["limit_eps"] > 0
    ours = s["ours"]
    assert ours["exit"] == 0 and ours["events_per_s"] > 0 and ours["peak_rss_bytes"] > 0 and ours["cpu_s"] > 0
    assert ours["summary"]["events_in"] == 20000
    # the drain's Silver holds exactly the valid unique events the simulator recorded
    assert s["compare"]["ours"]["rows"] == s["load"]["expected_silver_rows"] > 19000
    assert s["compare"]["ours_matches_manifest"]
    # the delta-rs peer drained the same backlog into the same Silver, row for row
    peer = s["deltars"]
    assert peer["exit"] == 0 and peer["events_per_s"] > 0 and peer["summary"]["events_in"] == 20000
    assert s["compare"]["deltars"]["same_rows"], s["compare"]["deltars"]
    assert ours["summary"]["dedup"]["bytes_per_live_id"] > 0
    st = s["steady_ours"]
    assert st["caught_up"] and st["silver_rows"] == st["expected_rows"]
    assert st["latency"]["count"] > 0 and 0 < st["latency"]["p50_ms"] <= st["latency"]["p99_ms"]
    assert st["latency"]["rows_without_kafka_ts"] == 0
    st = s["steady_ours_trigger_100ms"]  # the same stream with --trigger 100ms
    assert st["caught_up"] and st["silver_rows"] == st["expected_rows"] and st["latency"]["count"] > 0

    assert latest["producer"]["events"] == 20000 and latest["producer"]["simulator_eps"] > 0
    assert latest["parquet_write"]["rows"] == 50000

    md = (results / "latest.md").read_text()
    assert "| Kafka -> Silver |" in md and "ours: smarttech silver --once" in md and "delta-rs peer" in md


def test_mqtt_bridge_bench_tiny(kafka_broker):
    """bench/mqtt_bridge.py on a tiny backlog: both drains run and the figures are there and consistent
    (every event reached Kafka once per round); no figure is judged."""
    env = {**os.environ, "SMARTTECH_BIN": str(smarttech_path()), "BROKERS": kafka_broker}
    cp = subprocess.run([str(REPO / ".venv" / "bin" / "python"), str(REPO / "bench" / "mqtt_bridge.py"), "--events",
                         "3000", "--rounds", "2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp.stderr[-4000:]
    r = json.loads(cp.stdout.strip().splitlines()[-1])
    assert r["bench"] == "mqtt_bridge" and r["events"] == 3000 and r["kafka_records"] == 6000
    assert len(r["mosquitto_sub_s"]) == len(r["bridge_s"]) == 2
    assert r["mosquitto_sub_eps"] > 0 and r["bridge_eps"] > 0 and r["bridge_peak_rss_bytes"] > 0
    assert r["bridge_exit"] == 0 and "received 3000, forwarded 3000" in r["bridge_summary"]


def test_silver_s3_bench_tiny(kafka_broker, s3_local, tmp_path):
    """bench/silver_s3.py on a tiny backlog: one drain with the tables on local disk and one on the local S3
    server, both holding the simulator's valid unique events; the report renders the row. No figure judged."""
    env = {**os.environ, "SMARTTECH_BIN": str(smarttech_path()), "BROKERS": kafka_broker}
    py = str(REPO / ".venv" / "bin" / "python")
    cp = subprocess.run([py, str(REPO / "bench" / "silver_s3.py"), "--events", "20000"], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp.stderr[-4000:]
    r = json.loads(cp.stdout.strip().splitlines()[-1])
    assert r["bench"] == "silver_s3" and r["events"] == 20000 and r["rows_match"]
    assert r["local"]["silver_rows"] == r["s3"]["silver_rows"] == r["expected_silver_rows"] > 19000
    assert r["local"]["path"].startswith("/") and r["s3"]["path"].startswith("s3://")
    assert r["local"]["events_per_s"] > 0 and r["s3"]["events_per_s"] > 0 and r["ratio"] > 0
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps(r) + "\n")
    out = tmp_path / "results"
    cp = subprocess.run([py, str(REPO / "bench" / "report.py"), "--stamp", "T", "--out", str(out), str(lines)],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr[-3000:]
    assert "tables on local S3" in (out / "latest.md").read_text()
