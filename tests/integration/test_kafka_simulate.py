"""`smarttech simulate --brokers` against the real broker, checked by an independent consumer
(confluent-kafka): exact counts, key -> partition stability, the data contract (README's event v1),
Ctrl+C, an unreachable broker, and a 20 s broker outage in the middle of a run (idempotent producer:
every event exactly once)."""
import csv
import json
import re
import signal
import subprocess
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone

import pytest

from conftest import REPO, event_id_parts, kafka_local, other_broker_users

UNITS = {"temperature": {"C", "F"}, "humidity": {"%"}, "co2": {"ppm"}, "pressure": {"hPa", "kPa"}}
FIELDS = {"schema_version", "event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "value",
          "unit", "event_time", "seq"}  # battery_pct is optional
RANGES = {"C": (-40, 85), "%": (0, 100), "ppm": (0, 20000), "hPa": (870, 1085)}


def iso_to_us(s) -> int:
    """event_time as UTC microseconds: ISO-8601 with Z or an offset, or epoch milliseconds."""
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        return int(s) * 1000
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert dt.tzinfo is not None, f"event_time without offset: {s}"
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def check_contract(key: bytes, raw: bytes) -> dict:
    """Asserts that one Kafka message is a valid event v1 whose key is its sensor_id; returns it."""
    ev = json.loads(raw)
    assert isinstance(ev, dict)
    assert FIELDS <= ev.keys(), f"missing {FIELDS - ev.keys()}"
    assert ev["schema_version"] == 1
    for f in ("event_id", "sensor_id", "building_id", "room_id", "sensor_type", "unit"):
        assert isinstance(ev[f], str) and ev[f], f
    for f in ("floor", "seq"):
        assert isinstance(ev[f], int) and not isinstance(ev[f], bool), f
    assert isinstance(ev["value"], (int, float)) and not isinstance(ev["value"], bool)
    assert ev["unit"] in UNITS[ev["sensor_type"]]
    v = (ev["value"] - 32) * 5 / 9 if ev["unit"] == "F" else ev["value"] * 10 if ev["unit"] == "kPa" else ev["value"]
    lo, hi = RANGES[{"F": "C", "kPa": "hPa"}.get(ev["unit"], ev["unit"])]
    assert lo <= v <= hi, f"impossible value {ev['value']} {ev['unit']}"
    assert ev["seq"] >= 0
    sensor_id, _, seq = event_id_parts(ev["event_id"])
    assert (sensor_id, seq) == (ev["sensor_id"], ev["seq"])
    assert ev["sensor_id"].startswith(f"{ev['building_id']}-f{ev['floor']}-{ev['room_id']}-{ev['sensor_type']}-")
    if ev.get("battery_pct") is not None:
        b = ev["battery_pct"]
        assert isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b <= 100
    assert key.decode() == ev["sensor_id"]
    iso_to_us(ev["event_time"])
    return ev


def by_key(records):
    """{key: [records in offset order]} and checks each key stayed in one partition."""
    out = defaultdict(list)
    parts = defaultdict(set)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        out[r.key].append(r)
        parts[r.key].add(r.partition)
    moved = {k: p for k, p in parts.items() if len(p) != 1}
    assert not moved, f"keys in several partitions: {dict(list(moved.items())[:5])}"
    return out


def test_simulate_100k_exactly_once_keyed_and_valid(run_smarttech, kafka_broker, unique_topic, kafka_consume):
    topic = unique_topic("sim100k")
    cp = run_smarttech("simulate", "--brokers", kafka_broker, "--topic", topic, "--count", "100000", "--seed", "1",
                       "--quiet")
    assert "100000 delivered, 0 failed" in cp.stderr
    recs = kafka_consume(topic)
    assert len(recs) == 100000
    keys = by_key(recs)
    assert len({r.partition for r in recs}) == 3  # 72 sensors spread over the 3 partitions
    ids = Counter()
    for k, rs in keys.items():
        seqs = []
        for r in rs:
            ev = check_contract(r.key, r.value)
            ids[ev["event_id"]] += 1
            seqs.append(ev["seq"])
        assert seqs == sorted(seqs), f"{k}: events out of order within the key"
    assert len(ids) == 100000 and max(ids.values()) == 1


def test_simulate_with_faults_matches_manifest(run_smarttech, kafka_broker, unique_topic, kafka_consume, tmp_path):
    """Every event the simulator calls valid arrives, in order per sensor, and matches the contract
    (event time and value equal to the simulator's own record)."""
    topic = unique_topic("simfault")
    manifest = tmp_path / "manifest.csv"
    run_smarttech("simulate", "--brokers", kafka_broker, "--topic", topic, "--count", "20000", "--seed", "3",
                  "--faults", "0.2", "--manifest", manifest, "--quiet")
    rows = list(csv.DictReader(open(manifest)))
    assert len(rows) == 20000
    recs = kafka_consume(topic)
    assert len(recs) == 20000
    keys = by_key(recs)
    want = defaultdict(list)
    for row in rows:
        want[row["sensor_id"].encode()].append(row)
    assert {k: len(v) for k, v in keys.items()} == {k: len(v) for k, v in want.items()}
    valid = 0
    for k, rs in keys.items():
        for r, row in zip(rs, want[k]):
            if row["valid"] != "1":
                continue
            valid += 1
            ev = check_contract(r.key, r.value)
            assert ev["event_id"] == row["event_id"]
            assert iso_to_us(ev["event_time"]) == int(row["event_time_us"])
            v = (ev["value"] - 32) * 5 / 9 if ev["unit"] == "F" else ev["value"]
            assert v == pytest.approx(float(row["value"]), abs=0.01)
    assert 0 < valid < 20000
    assert valid == sum(row["valid"] == "1" for row in rows)


def test_unreachable_broker_gives_up_clearly(run_smarttech):
    cp = run_smarttech("simulate", "--brokers", "127.0.0.1:1", "--topic", "x", "--count", "10",
                       "-X", "message.timeout.ms=3000", check=False, timeout=120)
    assert cp.returncode == 1
    assert "127.0.0.1:1 not reachable" in cp.stderr
    assert "gave up" in cp.stderr


def test_sigint_flushes_and_summarises(smarttech_bin, kafka_broker, unique_topic, kafka_consume):
    topic = unique_topic("simint")
    p = subprocess.Popen([str(smarttech_bin), "simulate", "--brokers", kafka_broker, "--topic", topic, "--rate",
                          "5000", "--seed", "5"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    try:
        deadline = time.monotonic() + 60
        for line in p.stderr:  # wait for the first progress line: events are flowing
            err += line
            if "delivered" in line and "queue depth" in line or time.monotonic() > deadline:
                break
        p.send_signal(signal.SIGINT)
        out, rest = p.communicate(timeout=120)
        err += rest
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "stopped by signal" in err
    m = re.search(r"simulate: (\d+) events .*\n(?:.*\n)*?simulate: output: kafka .*?: (\d+) delivered, 0 failed, "
                  r"0 never queued", err)
    assert m, err
    events, delivered = int(m.group(1)), int(m.group(2))
    assert events == delivered > 0
    assert len(kafka_consume(topic)) == delivered


def test_broker_outage_of_20s_loses_and_duplicates_nothing(smarttech_bin, kafka_broker, unique_topic,
                                                           kafka_consume, run_smarttech):
    if kafka_local("status").returncode != 0:
        pytest.skip("the broker was not started by scripts/kafka-local; cannot stop and restart it")
    if other_broker_users():
        pytest.skip(f"other test sessions use the broker (pids {other_broker_users()}); not stopping it under them")
    topic = unique_topic("outage")
    n = 60000  # 30 s at 2000 events/s; the broker is away for ~25 s of it
    p = subprocess.Popen([str(smarttech_bin), "simulate", "--brokers", kafka_broker, "--topic", topic, "--rate",
                          "2000", "--count", str(n), "--seed", "9"], cwd=REPO, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
        assert p.poll() is None
        kafka_local("stop")
        time.sleep(20)
        kafka_local("start")
        _, err = p.communicate(timeout=400)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "not reachable" in err and "reachable again" in err, err
    assert f"{n} delivered, 0 failed" in err
    recs = kafka_consume(topic)
    ids = Counter()
    for r in recs:
        ev = check_contract(r.key, r.value)
        ids[(ev["event_id"], ev["seq"])] += 1
    dups = {k: c for k, c in ids.items() if c > 1}
    assert not dups, f"{len(dups)} duplicated events, e.g. {list(dups.items())[:3]}"
    assert len(recs) == n
    by_key(recs)
