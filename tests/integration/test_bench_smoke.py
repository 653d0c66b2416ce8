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
           "BENCH_PARQUET_ROWS": "50000", "BENCH_PRODUCER_EVENTS": "20000", "SMARTTECH_BUILD_DIR": str(bin_.parent)}
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
    st = s["steady_ours"]
    assert st["caught_up"] and st["silver_rows"] == st["expected_rows"]
    assert st["latency"]["count"] > 0 and 0 < st["latency"]["p50_ms"] <= st["latency"]["p99_ms"]
    assert st["latency"]["rows_without_kafka_ts"] == 0

    assert latest["producer"]["events"] == 20000 and latest["producer"]["simulator_eps"] > 0
    assert latest["parquet_write"]["rows"] == 50000

    md = (results / "latest.md").read_text()
    assert "| Kafka -> Silver |" in md and "ours: smarttech silver --once" in md
