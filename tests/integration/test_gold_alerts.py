"""`smarttech gold` alerts: a simulated CO2 episode gives exactly one open and one close alert,
in alerts_delta (read with delta-rs) and as JSON messages on the Kafka alerts topic (read with
confluent-kafka, no consumer group). The broker comes from conftest's kafka_broker fixture.
The episode holds the sensor at one value, which the anomaly step rightly calls `stuck` (and alerts
on, rule anomaly:stuck): the tests that count alerts run with --no-anomalies (test_anomalies.py
covers those)."""
from __future__ import annotations

import datetime
import json
import pathlib

import pytest

deltalake = pytest.importorskip("deltalake")

from test_gold_stream import gold_args, make_silver, read_rows, us  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
START = "2026-01-05T00:00:00Z"   # night: CO2 near the outdoor level everywhere
SENSOR = "b01-f1-r01-co2-1"
START_US = 1767571200000000


def co2_rules(tmp_path) -> pathlib.Path:
    """Only the co2_high line of the shipped config/alerts.conf (so temperature/humidity rules
    cannot add alerts of their own to the count)."""
    lines = [ln for ln in (REPO / "config" / "alerts.conf").read_text().splitlines() if ln.startswith("co2_high")]
    assert len(lines) == 1
    p = tmp_path / "co2.conf"
    p.write_text(lines[0] + "\n")
    return p


def episode_silver(tmp_path, smarttech_bin):
    # 12 sensors reporting once a second for 10 minutes; SENSOR reads 1500 ppm from 150 s to 330 s
    make_silver(smarttech_bin, tmp_path / "silver", seed=9, rate=12, events=12 * 600, versions=10, start=START,
                co2_episode=f"{SENSOR},150,330,1500")


def check_delta_alerts(rows):
    assert len(rows) == 2, rows
    op, cl = sorted(rows, key=lambda r: r["state"] != "open")
    assert op["state"] == "open" and cl["state"] == "close"
    assert op["alert_id"] == cl["alert_id"]
    for r in rows:
        assert r["rule"] == "co2_high" and r["sensor_id"] == SENSOR and r["sensor_type"] == "co2"
        assert (r["building_id"], r["floor"], r["room_id"]) == ("b01", 1, "r01")
        assert r["threshold"] == 1000.0
    # window [180 s, 240 s) is the first whose average fails (the one at 120 s is half normal);
    # [300 s, 360 s) is still above 950 (hysteresis), [360 s, 420 s) recovers
    assert us(op["event_time"]) == START_US + 180_000_000 and op["value"] == 1500.0
    assert us(cl["event_time"]) == START_US + 360_000_000 and cl["value"] <= 950.0
    return op, cl


def test_co2_episode_one_open_one_close_delta_and_kafka(tmp_path, run_smarttech, smarttech_bin, kafka_broker,
                                                        unique_topic, kafka_consume):
    episode_silver(tmp_path, smarttech_bin)
    topic = unique_topic("alerts")
    run_smarttech(*gold_args(tmp_path, "--rules", co2_rules(tmp_path), "--no-anomalies", "--brokers", kafka_broker,
                             "--alerts-topic", topic, "--once", "--flush"))
    op, cl = check_delta_alerts(read_rows(tmp_path / "alerts"))

    msgs = kafka_consume(topic)
    assert len(msgs) == 2, msgs
    got = [json.loads(m.value) for m in msgs]
    assert [m.key.decode() for m in msgs] == [SENSOR, SENSOR]
    assert [g["state"] for g in got] == ["open", "close"]  # one partition, keyed: in order
    for g, d in zip(got, (op, cl)):
        assert set(g) == {"alert_id", "state", "rule", "sensor_id", "building_id", "floor", "room_id",
                          "sensor_type", "value", "threshold", "event_time", "detection_time"}
        assert g["alert_id"] == d["alert_id"] and g["rule"] == "co2_high" and g["sensor_id"] == SENSOR
        assert g["value"] == d["value"] and g["threshold"] == 1000.0 and g["room_id"] == "r01"
        t = datetime.datetime.fromisoformat(g["event_time"].replace("Z", "+00:00"))
        assert t == d["event_time"]
        det = datetime.datetime.fromisoformat(g["detection_time"].replace("Z", "+00:00"))
        assert det == d["detection_time"]

    # a restart with nothing new sends nothing again (the delivered position is checkpointed)
    run_smarttech(*gold_args(tmp_path, "--rules", co2_rules(tmp_path), "--no-anomalies", "--brokers", kafka_broker,
                             "--alerts-topic", topic, "--once", "--flush"))
    assert len(kafka_consume(topic)) == 2
    assert len(read_rows(tmp_path / "alerts")) == 2


def test_co2_episode_delta_only_with_default_rules(tmp_path, run_smarttech, smarttech_bin):
    """No brokers: alerts go to Delta only; with the built-in rules the episode still gives one
    co2_high open/close pair (other rules may fire on the simulated night temperatures)."""
    episode_silver(tmp_path, smarttech_bin)
    run_smarttech(*gold_args(tmp_path, "--once", "--flush"))
    co2 = [r for r in read_rows(tmp_path / "alerts") if r["rule"] == "co2_high"]
    check_delta_alerts(co2)
    # no alert storm: every alert id appears at most once per state
    rows = read_rows(tmp_path / "alerts")
    assert len({(r["alert_id"], r["state"]) for r in rows}) == len(rows)


def test_kafka_alerts_are_not_lost_while_the_broker_is_unreachable(tmp_path, run_smarttech, smarttech_bin,
                                                                    kafka_broker, unique_topic, kafka_consume):
    """At least once: alerts committed to Delta while Kafka is unreachable stay in the checkpoint's
    outbox and are delivered by the next run that reaches the broker."""
    episode_silver(tmp_path, smarttech_bin)
    topic = unique_topic("alerts")
    summary = tmp_path / "s.json"
    cp = run_smarttech(*gold_args(tmp_path, "--rules", co2_rules(tmp_path), "--no-anomalies", "--brokers", "localhost:1",
                                  "--alerts-topic", topic, "--once", "--flush", "--summary-json", summary))
    s = json.loads(summary.read_text())
    assert s["kafka"]["pending"] == 2 and s["kafka"]["delivered"] == 0, cp.stderr
    assert "not yet delivered" in cp.stderr
    check_delta_alerts(read_rows(tmp_path / "alerts"))
    # next run: no new Silver data, but the outbox is delivered
    run_smarttech(*gold_args(tmp_path, "--rules", co2_rules(tmp_path), "--no-anomalies", "--brokers", kafka_broker,
                             "--alerts-topic", topic, "--once", "--flush", "--summary-json", summary))
    s = json.loads(summary.read_text())
    assert s["kafka"]["pending"] == 0 and s["kafka"]["delivered"] == 2
    msgs = [json.loads(m.value) for m in kafka_consume(topic)]
    assert [m["state"] for m in msgs] == ["open", "close"]
    assert len(read_rows(tmp_path / "alerts")) == 2  # Delta untouched by the resend
