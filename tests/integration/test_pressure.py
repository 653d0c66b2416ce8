"""`pressure` end to end (issue 12, sensor kinds as data): `simulate --kinds ...,pressure` -> Kafka ->
`silver --once` -> `gold --once --flush`, every table read back with delta-rs and DuckDB.

- Every raw record's verdict is recomputed from its bytes by bronze_rules.py (the Silver rules
  written again in Python, pressure included): Silver and quarantine hold exactly that.
- Pressure rows are in hPa; readings the simulator sent in kPa are converted (x 10); impossible
  pressures are quarantined as impossible_value:pressure. The simulator's manifest agrees.
- Gold's 1-minute pressure windows per room equal a DuckDB computation over Silver.
"""
from __future__ import annotations

import csv
import json
from collections import Counter

from bronze_rules import Bad, classify_bytes, ts_us
from test_gold_stream import MIN_US, assert_gold_matches, duck_connect, gold_rows, read_rows
from test_kafka_simulate import check_contract as check_kafka_contract
from test_simulate import check_contract

KINDS = "temperature,humidity,co2,pressure"
SENSORS = 1 * 2 * 3 * 4  # 1 building x 2 floors x 3 rooms x 4 kinds
EVENTS = SENSORS * 12 * 30  # every sensor every 5 s for 30 simulated minutes


def test_pressure_simulate_kafka_silver_gold(tmp_path, kafka_broker, unique_topic, run_smarttech):
    topic = unique_topic("pressure")
    run_smarttech("topic", "create", "--brokers", kafka_broker, "--topic", topic, "--partitions", "3")
    manifest = tmp_path / "manifest.csv"
    run_smarttech("simulate", "--brokers", kafka_broker, "--topic", topic, "--kinds", KINDS, "--buildings", 1,
                  "--floors", 2, "--rooms", 3, "--sim-rate", SENSORS / 5, "--count", EVENTS, "--seed", 12,
                  "--faults", 0.15, "--manifest", manifest, "--quiet")
    run_smarttech("silver", "--brokers", kafka_broker, "--topic", topic, "--group", f"g_{topic}",
                  "--output", tmp_path / "silver", "--bronze", tmp_path / "bronze_kafka",
                  "--quarantine", tmp_path / "quarantine", "--checkpoint", tmp_path / "ckpt_silver",
                  "--once", "--quiet")
    # lateness above the simulator's latest late event (8 min): Gold takes every Silver row
    run_smarttech("gold", "--silver", tmp_path / "silver", "--output", tmp_path / "gold",
                  "--alerts", tmp_path / "alerts", "--quarantine", tmp_path / "gold_quarantine",
                  "--anomalies", tmp_path / "anomalies", "--checkpoint", tmp_path / "ckpt_gold", "--lateness", "1h",
                  "--once", "--flush", "--quiet")

    with open(manifest, newline="") as f:
        sent = list(csv.DictReader(f))
    bronze = read_rows(tmp_path / "bronze_kafka")
    silver = read_rows(tmp_path / "silver")
    quarantine = read_rows(tmp_path / "quarantine")
    assert len(sent) == len(bronze) == EVENTS

    # 1. every raw record judged again from its bytes; a re-sent event_id is dropped by dedup
    want_valid, want_invalid, seen = {}, {}, set()
    raw_at = {}
    for r in sorted(bronze, key=lambda r: (r["partition"], r["offset"])):
        at = (r["partition"], r["offset"])
        assert r["value_base64"] is None
        raw_at[at] = r
        try:
            cols = classify_bytes(r["value"].encode(), ts_us(r["kafka_timestamp"]))
        except Bad as b:
            want_invalid[at] = b.reason
            continue
        if cols["event_id"] not in seen:
            seen.add(cols["event_id"])
            want_valid[at] = cols
    got_valid = {(r["source_partition"], r["source_offset"]): r for r in silver}
    assert set(got_valid) == set(want_valid), (f"Silver misses {len(set(want_valid) - set(got_valid))}, "
                                               f"has {len(set(got_valid) - set(want_valid))} unexpected rows")
    for at, want in want_valid.items():
        got = got_valid[at]
        for k in ("event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "unit", "seq",
                  "converted_from_f"):
            assert got[k] == want[k], (at, k, got[k], want[k])
        assert got["value"] == want["value"], (at, got["value"], want["value"])  # same IEEE operations
    assert {(r["partition"], r["offset"]): r["reason"] for r in quarantine} == want_invalid

    # 2. the simulator's own record agrees: reasons, and each valid reading's normalized value
    assert Counter(r["reason"] for r in quarantine) == Counter(r["reason"] for r in sent if r["valid"] != "1")
    by_id = {r["event_id"]: r for r in silver}
    valid_sent = {r["event_id"]: r for r in sent if r["valid"] == "1"}
    assert set(by_id) == set(valid_sent)
    for eid, r in valid_sent.items():
        assert by_id[eid]["value"] == float(r["value"]), (eid, by_id[eid]["value"], r["value"])

    # 3. pressure: hPa in Silver, within the physical range, on every sensor; kPa converted
    pressure = [r for r in silver if r["sensor_type"] == "pressure"]
    assert len({r["sensor_id"] for r in pressure}) == 6
    assert all(r["unit"] == "hPa" and 870 <= r["value"] <= 1085 for r in pressure)
    kpa = [r for r in sent if r["fault"] == "kpa"]
    assert len(kpa) >= 5, f"only {len(kpa)} kPa readings sent"
    for m in kpa:
        row = by_id[m["event_id"]]
        raw = json.loads(raw_at[(row["source_partition"], row["source_offset"])]["value"])
        assert raw["unit"] == "kPa" and raw["sensor_type"] == "pressure"
        assert row["unit"] == "hPa" and row["value"] == raw["value"] * 10 and not row["converted_from_f"]
    # and every valid pressure reading as sent follows the data contract (the simulator tests' checks)
    for p in pressure:
        rec = raw_at[(p["source_partition"], p["source_offset"])]
        assert check_contract(json.loads(rec["value"])) == p["value"]
        check_kafka_contract(rec["key"].encode(), rec["value"].encode())
    impossible = [q for q in quarantine if q["reason"] == "impossible_value:pressure"]
    assert len(impossible) >= 5 and len(impossible) == sum(r["reason"] == "impossible_value:pressure" for r in sent)
    for q in impossible:
        raw = json.loads(q["raw"])
        v = raw["value"] * (10 if raw["unit"] == "kPa" else 1)
        assert raw["sensor_type"] == "pressure" and not 870 <= v <= 1085
    assert not any(q["reason"] == "unit_mismatch:pressure" for q in quarantine)

    # 4. DuckDB reads the same Silver pressure rows, and Gold's windows equal its SQL over them
    con = duck_connect()
    silver_path, gold_path = tmp_path / "silver", tmp_path / "gold"
    n, units, lo, hi = con.execute(f"""
        SELECT count(*), list(DISTINCT unit), min(value), max(value) FROM delta_scan('{silver_path}')
        WHERE sensor_type = 'pressure'""").fetchone()
    assert (n, units) == (len(pressure), ["hPa"]) and 870 <= lo <= hi <= 1085
    ref = con.execute(f"""
        SELECT (epoch_us(event_time) // {MIN_US}) * {MIN_US} AS ws, building_id, floor, room_id, sensor_type,
               count(*), avg(value), min(value), max(value), epoch_us(min(event_time)), epoch_us(max(event_time))
        FROM delta_scan('{silver_path}') WHERE sensor_type = 'pressure'
        GROUP BY ALL ORDER BY ALL""").fetchall()
    gold = gold_rows(gold_path)
    assert len(ref) >= 6 * 30  # 6 rooms x 30 minutes (plus windows of late events)
    assert_gold_matches([g for g in gold if g[4] == "pressure"], ref)
    assert {g[4] for g in gold} == {"temperature", "humidity", "co2", "pressure"}
    assert sum(g[5] for g in gold) == len(silver)  # nothing late, nothing left out
    assert con.execute(f"SELECT sum(count) FROM delta_scan('{gold_path}') WHERE sensor_type = 'pressure'"
                       ).fetchone()[0] == len(pressure)
    assert read_rows(tmp_path / "gold_quarantine") == []
