"""Issue 6 test 5: `make demo` (scripts/demo) with DURATION=30 exits 0 and its summary matches the tables."""
from __future__ import annotations

import json
import os
import subprocess

import deltalake
from conftest import REPO, smarttech_path


def test_demo_summary_matches_tables(tmp_path, kafka_broker, unique_topic):
    # its own topic: the broker may hold older iot_smartech events that a fresh output would also ingest
    env = dict(os.environ, DURATION="30", RATE="1500", DATA=str(tmp_path / "data"), SMARTTECH_BIN=str(smarttech_path()),
               TOPIC=unique_topic("demo"))
    cp = subprocess.run([str(REPO / "scripts" / "demo")], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    assert "== Summary" in cp.stdout
    [summary_file] = (tmp_path / "data" / "logs").glob("demo-*/summary.json")
    s = json.loads(summary_file.read_text())
    out = tmp_path / "data" / "output"

    def count(name):
        return deltalake.DeltaTable(str(out / name)).to_pyarrow_table(columns=[]).num_rows

    assert s["events_produced"] > 30 * 1500 * 0.8
    assert count("bronze_kafka") == s["bronze_kafka_rows"] == s["events_produced"]
    assert count("silver_delta") == s["silver_rows"]
    assert count("gold_room_1m") == s["gold_windows"] > 0
    reasons = s["quarantined_by_reason"]
    q = deltalake.DeltaTable(str(out / "quarantine_delta")).to_pyarrow_table(columns=["reason"]).column("reason").to_pylist()
    assert len(q) == sum(reasons.values())
    # every produced event is in Silver, quarantined by Silver, or a dropped duplicate ("late" rows come from Gold)
    silver_rejects = sum(v for k, v in reasons.items() if k != "late")
    assert s["silver_rows"] + silver_rejects + s["duplicates_dropped_this_run"] == s["events_produced"]
    versions = s["table_versions"]
    for name, v in versions.items():
        assert deltalake.DeltaTable(str(out / name)).version() == v
    assert s["latency_ms_p99"] > 0
