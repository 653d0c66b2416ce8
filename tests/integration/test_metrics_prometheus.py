"""--metrics scraped by a real Prometheus server (Debian's `prometheus`, started by
scripts/prometheus-local with a generated config): a `silver --once` run and a running `gold`,
checked through PromQL on Prometheus's HTTP API against the tables read by delta-rs.

- Silver's rows counter equals the Silver table's row count; bronze_kafka's equals the events sent;
- lag 0 on every partition at the end;
- the end-to-end latency histogram counts every Silver row;
- Gold read every Silver row, is ready, and its table versions are the tables' versions.
"""
from __future__ import annotations

import json
import re
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import REPO

deltalake = pytest.importorskip("deltalake")

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None,
                                reason="Debian's prometheus package is not installed (scripts/bootstrap installs it)")

EVENTS = 12_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one series in a Prometheus exposition: name{labels} as rendered (labels="" for
    an unlabelled series); fails when it is not exposed."""
    m = re.search(rf"^{re.escape(name)}{re.escape('{' + labels + '}') if labels else ''} (\S+)$", text, re.M)
    assert m, f"{name}{{{labels}}} not exposed:\n{text[:3000]}"
    return float(m.group(1))


def promql(port: int, q: str) -> list:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def scalar(port: int, q: str):
    """The single value of an instant vector query, None while Prometheus has no sample."""
    res = promql(port, q)
    return float(res[0]["value"][1]) if len(res) == 1 else None


def wait_value(port: int, q: str, want: float, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = scalar(port, q)
        if got == want:
            return got
        time.sleep(0.5)
    raise AssertionError(f"{q} = {got}, expected {want}")


def delta_rows(path) -> int:
    """Row count of a table as delta-rs reads it."""
    return deltalake.DeltaTable(str(path)).to_pyarrow_table().num_rows


def test_prometheus_scrapes_silver_and_gold(tmp_path, smarttech_bin, run_smarttech, kafka_broker, unique_topic):
    topic = unique_topic("prom")
    run_smarttech("topic", "create", "--brokers", kafka_broker, "--topic", topic, "--partitions", "3")
    run_smarttech("simulate", "--brokers", kafka_broker, "--topic", topic, "--count", EVENTS, "--faults", "0.05",
                  "--seed", "14", "--quiet")
    out = tmp_path / "out"
    silver_port, gold_port, prom_port = free_port(), free_port(), free_port()
    pdir = tmp_path / "prometheus"
    script = REPO / "scripts" / "prometheus-local"
    subprocess.run([script, "start", "--port", str(prom_port), "--dir", pdir, "--interval", "1s",
                    "--target", f"silver=127.0.0.1:{silver_port}", "--target", f"gold=127.0.0.1:{gold_port}"],
                   check=True, timeout=60)
    gold = None
    try:
        # gold follows Silver while silver drains the topic
        gold = subprocess.Popen([smarttech_bin, "gold", "--silver", out / "silver", "--output", out / "gold",
                                 "--alerts", out / "alerts", "--quarantine", out / "gold_quarantine",
                                 "--anomalies", out / "anomalies",
                                 "--checkpoint", tmp_path / "ck_gold", "--trigger", "300ms", "--quiet",
                                 "--metrics", f"127.0.0.1:{gold_port}"],
                                cwd=REPO, stderr=subprocess.PIPE, text=True)
        run_smarttech("silver", "--brokers", kafka_broker, "--topic", topic, "--group", f"{topic}_g",
                      "--output", out / "silver", "--bronze", out / "bronze_kafka", "--quarantine", out / "quarantine",
                      "--checkpoint", tmp_path / "ck_silver", "--trigger", "200ms", "--once", "--quiet",
                      "--metrics", f"127.0.0.1:{silver_port}", "--metrics-linger", "20s", timeout=180)
        silver_rows = delta_rows(out / "silver")
        assert 0 < silver_rows < EVENTS

        # Silver's last scrape (the process has exited since: last_over_time skips the staleness marker)
        last = lambda m: f'last_over_time({m}[10m])'  # noqa: E731
        assert wait_value(prom_port, last('smarttech_rows_written_total{job="silver",table="silver"}'),
                          silver_rows) == silver_rows
        assert scalar(prom_port, last('smarttech_rows_written_total{job="silver",table="bronze_kafka"}')) == EVENTS
        assert scalar(prom_port, last('smarttech_events_in_total{job="silver"}')) == EVENTS
        assert scalar(prom_port, last('smarttech_rows_written_total{job="silver",table="quarantine"}')) == \
            delta_rows(out / "quarantine")
        lags = promql(prom_port, last('smarttech_consumer_lag{job="silver"}'))
        assert len(lags) == 3 and all(float(r["value"][1]) == 0 for r in lags), lags
        assert scalar(prom_port, last('smarttech_end_to_end_latency_seconds_count{job="silver"}')) == silver_rows
        assert scalar(prom_port, last('smarttech_end_to_end_latency_seconds_bucket{job="silver",le="+Inf"}')) == \
            silver_rows
        p99 = scalar(prom_port, 'histogram_quantile(0.99, last_over_time('
                                'smarttech_end_to_end_latency_seconds_bucket{job="silver"}[10m]))')
        assert p99 is not None and 0 < p99 <= 300
        reasons = promql(prom_port, last('smarttech_quarantined_total{job="silver"}'))
        assert sum(float(r["value"][1]) for r in reasons) == delta_rows(out / "quarantine")
        assert {r["metric"]["reason"] for r in reasons} <= {"malformed_json", "missing_field", "wrong_type",
                                                           "impossible_value", "future_timestamp", "invalid_field"}
        silver_version = deltalake.DeltaTable(str(out / "silver")).version()
        assert scalar(prom_port, last('smarttech_table_version{job="silver",table="silver"}')) == silver_version
        assert scalar(prom_port, last('process_resident_memory_bytes{job="silver"}')) > 1 << 20
        # the maintenance beside the job: its series per table path, no failed pass
        for table in ("silver", "bronze_kafka", "quarantine"):
            sel = f'{{job="silver",path="{out / table}"}}'
            assert scalar(prom_port, last(f'smarttech_maintenance_errors_total{sel}')) == 0
            assert scalar(prom_port, last(f'smarttech_maintenance_passes_total{sel}')) >= 1

        # Gold, still running: it catches up with the Silver table
        wait_value(prom_port, 'smarttech_gold_silver_version{job="gold"}', silver_version, timeout=60)
        assert wait_value(prom_port, 'smarttech_events_in_total{job="gold"}', silver_rows) == silver_rows
        assert scalar(prom_port, 'up{job="gold"}') == 1
        assert scalar(prom_port, 'smarttech_ready{job="gold"}') == 1
        time.sleep(1.5)  # one more scrape after the last batch
        for table, path in (("gold_room_1m", out / "gold"), ("alerts", out / "alerts")):
            assert scalar(prom_port, f'smarttech_table_version{{job="gold",table="{table}"}}') == \
                deltalake.DeltaTable(str(path)).version()
        windows = scalar(prom_port, 'smarttech_gold_windows_emitted_total{job="gold"}')
        assert windows == delta_rows(out / "gold")
        assert scalar(prom_port, 'smarttech_rows_written_total{job="gold",table="gold_room_1m"}') == windows
    finally:
        if gold:
            gold.send_signal(signal.SIGTERM)
            try:
                gold.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                gold.kill()
                gold.communicate()
        subprocess.run([script, "stop", "--dir", pdir], timeout=30)
    assert gold.returncode == 0
