"""`make demo` (scripts/demo): it exits 0 and its summary matches the tables (issue 6 test 5); a silver that
starts slowly (empty log for the first ticks of the live line) does not end it; a second demo on the same
tables drops no more than its own injected duplicates (event ids are unique across simulator runs, issue 11)."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import deltalake
from conftest import REPO, smarttech_path


def run_demo(data: Path, topic: str, **env_extra) -> tuple[subprocess.CompletedProcess, dict, Path]:
    """Runs scripts/demo on its own DATA dir and TOPIC (the broker may hold older iot_smartech events that a
    fresh output would also ingest); returns the process, its summary.json and its log folder."""
    before = set(data.glob("logs/demo-*"))
    env = dict(os.environ, DATA=str(data), TOPIC=topic, SMARTTECH_BIN=str(smarttech_path()))
    env.update({k: str(v) for k, v in env_extra.items()})
    cp = subprocess.run([str(REPO / "scripts" / "demo")], cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=600)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    assert "== Summary" in cp.stdout
    [logs] = set(data.glob("logs/demo-*")) - before
    return cp, json.loads((logs / "summary.json").read_text()), logs


def simulated_duplicates(logs: Path) -> int:
    """The duplicates the simulator injected in that demo (its run summary: 'faults: ... duplicate=N')."""
    m = re.search(r"simulate: faults:.* duplicate=(\d+)", (logs / "simulate.log").read_text())
    assert m, (logs / "simulate.log").read_text()[-2000:]
    return int(m[1])


def test_demo_summary_matches_tables(tmp_path, kafka_broker, unique_topic):
    cp, s, logs = run_demo(tmp_path / "data", unique_topic("demo"), DURATION=30, RATE=1500)
    # it shows where to watch: the dashboard and both metrics endpoints, up while it ran
    assert re.search(r"== Watching it: dashboard http://127\.0\.0\.1:\d+/", cp.stdout), cp.stdout[-3000:]
    assert re.search(r"metrics: silver http://127\.0\.0\.1:\d+/metrics, gold http://127\.0\.0\.1:\d+/metrics",
                     cp.stdout), cp.stdout[-3000:]
    assert "dashboard: stopping" in (logs / "dashboard.log").read_text()
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


def test_demo_survives_a_slow_silver(tmp_path, kafka_broker, unique_topic):
    # A wrapper binary: `silver` starts 26 s late, so its log (and gold's) has no progress line for the first
    # ticks of the live line, as on a fresh machine where the group join and the broker's first start are slow.
    # (The demo waits up to 10 s for silver's metrics URL, and then for the dashboard, before it starts the
    # simulator: the delay is longer than both.)
    slow = tmp_path / "slow-smarttech"
    slow.write_text('#!/bin/sh\n[ "$1" = silver ] && sleep 26\nexec "$REAL_SMARTTECH" "$@"\n')
    slow.chmod(0o755)
    cp, s, _ = run_demo(tmp_path / "data", unique_topic("demo_slow"), DURATION=16, RATE=500,
                        SMARTTECH_BIN=slow, REAL_SMARTTECH=smarttech_path())
    ticks = cp.stdout.splitlines()  # text mode reads the live line's "\r" as line ends
    assert any("| silver - |" in t for t in ticks), "the live line never showed an empty silver log:\n" + cp.stdout
    assert any("| silver " in t and "| silver - |" not in t for t in ticks), cp.stdout  # and then silver's totals
    assert s["bronze_kafka_rows"] == s["events_produced"] > 0
    silver_rejects = sum(v for k, v in s["quarantined_by_reason"].items() if k != "late")
    assert s["silver_rows"] + silver_rejects + s["duplicates_dropped_this_run"] == s["events_produced"]


def test_second_demo_keeps_new_events(tmp_path, kafka_broker, unique_topic):
    # Same tables, same topic, a new seed: the second run's events are new readings, so Silver may drop only
    # the duplicates that run injected itself (with ids <sensor>:<seq> it dropped nearly every event).
    data, topic = tmp_path / "data", unique_topic("demo_twice")
    _, s1, logs1 = run_demo(data, topic, DURATION=10, RATE=1000, SEED=101)
    _, s2, logs2 = run_demo(data, topic, DURATION=10, RATE=1000, SEED=102)
    for s, logs in ((s1, logs1), (s2, logs2)):
        assert 0 < s["duplicates_dropped_this_run"] <= simulated_duplicates(logs)
    produced2 = s2["events_produced"]
    assert s2["bronze_kafka_rows"] == s1["bronze_kafka_rows"] + produced2
    rejects = {n: sum(v for k, v in s["quarantined_by_reason"].items() if k != "late") for n, s in (("1", s1), ("2", s2))}
    new_rows = s2["silver_rows"] - s1["silver_rows"]
    assert new_rows + (rejects["2"] - rejects["1"]) + s2["duplicates_dropped_this_run"] == produced2
