"""`smarttech simulate`: determinism, fault rates, the data contract, and --files.

Every event is checked by Python's own json module against the data contract
(README, "Data contract": event v1), independently of the C parser; the simulator's
manifest (its own record of what it sent) is checked against what Python sees in the
bytes. Event ids ("<sensor_id>:<boot>:<seq>") are unique across runs (issue 11).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import event_id_parts

START = "2026-11-26T08:00:00Z"
SENSOR_RE = re.compile(r"^(b\d{2})-f(\d+)-(r\d{2})-(temperature|humidity|co2|pressure)-1$")
REQUIRED = {"event_id": str, "sensor_id": str, "building_id": str, "floor": int, "room_id": str,
            "sensor_type": str, "value": (int, float), "unit": str, "event_time": (str, int), "seq": int}
UNITS = {"temperature": {"C", "F"}, "humidity": {"%"}, "co2": {"ppm"}, "pressure": {"hPa", "kPa"}}
RANGES = {"temperature": (-40, 85), "humidity": (0, 100), "co2": (0, 20000), "pressure": (870, 1085)}
FAULTS = ["malformed_json", "missing_field", "wrong_type", "impossible_value", "fahrenheit", "duplicate",
          "late", "out_of_order", "future_timestamp"]


def simulate(bin_path, *args, check=True, timeout=120):
    cp = subprocess.run([str(bin_path), "simulate", *map(str, args)], capture_output=True, timeout=timeout)
    if check and cp.returncode != 0:
        pytest.fail(f"simulate {args} exited {cp.returncode}\nstderr:\n{cp.stderr.decode()}")
    return cp


def summary_counts(stderr: bytes) -> dict:
    """Parses 'simulate: faults: a=1 b=2 ...' and the totals line of the run summary."""
    text = stderr.decode()
    m = re.search(r"simulate: (\d+) events \((\d+) valid, (\d+) invalid\)", text)
    assert m, text
    out = {"events": int(m[1]), "valid": int(m[2]), "invalid": int(m[3])}
    m = re.search(r"simulate: faults:(.*)", text)
    assert m, text
    for kv in m[1].split():
        k, v = kv.split("=")
        out[k] = int(v)
    return out


def read_manifest(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["valid"] = r["valid"] == "1"
        r["event_time_us"] = int(r["event_time_us"])
        r["seq"] = int(r["seq"])
    return rows


def event_time_us(v) -> int:
    """Independent reading of event_time: epoch ms, or ISO-8601 with Z or an offset."""
    if isinstance(v, int):
        return v * 1000
    assert re.search(r"(Z|[+-]\d\d:\d\d)$", v), v
    t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def check_contract(obj: dict) -> float:
    """Asserts a valid event follows the data contract; returns its normalized value."""
    assert isinstance(obj, dict)
    assert obj.get("schema_version", 1) == 1
    for k, t in REQUIRED.items():
        assert k in obj, f"missing {k}: {obj}"
        assert isinstance(obj[k], t) and not isinstance(obj[k], bool), f"{k} has type {type(obj[k])}: {obj}"
    m = SENSOR_RE.match(obj["sensor_id"])
    assert m, obj["sensor_id"]
    assert obj["building_id"] == m[1] and obj["floor"] == int(m[2]) and obj["room_id"] == m[3]
    assert obj["sensor_type"] == m[4]
    sensor_id, _, seq = event_id_parts(obj["event_id"])
    assert sensor_id == obj["sensor_id"] and seq == obj["seq"]
    assert obj["unit"] in UNITS[obj["sensor_type"]], obj
    v = float(obj["value"])
    if obj["unit"] == "F":
        v = (v - 32.0) * 5.0 / 9.0
    elif obj["unit"] == "kPa":
        v = v * 10.0
    lo, hi = RANGES[obj["sensor_type"]]
    assert lo <= v <= hi, obj
    if "battery_pct" in obj:
        assert isinstance(obj["battery_pct"], (int, float)) and 0 <= obj["battery_pct"] <= 100
    return v


def test_same_seed_same_bytes(smarttech_bin):
    args = ["--seed", 7, "--count", 1000, "--faults", 0.1, "--start-time", START]
    a = simulate(smarttech_bin, *args)
    b = simulate(smarttech_bin, *args)
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 1000
    c = simulate(smarttech_bin, "--seed", 8, "--count", 1000, "--faults", 0.1, "--start-time", START)
    assert c.stdout != a.stdout
    # The literal command (no --start-time, unpaced): repeatable within a UTC day.
    day = dt.datetime.now(dt.timezone.utc).date()
    d1 = simulate(smarttech_bin, "--seed", 7, "--count", 1000)
    d2 = simulate(smarttech_bin, "--seed", 7, "--count", 1000)
    if dt.datetime.now(dt.timezone.utc).date() == day:
        assert d1.stdout == d2.stdout


def test_event_ids_unique_across_runs(smarttech_bin, tmp_path):
    """A run is one boot of every sensor: seq restarts at 1 but the boot id in event_id changes with the seed
    (and the start time), so a second run's readings are never taken for re-sends of the first's."""
    def run(seed, start=START):
        man = tmp_path / f"m-{seed}-{start}.csv"
        simulate(smarttech_bin, "--seed", seed, "--count", 3000, "--faults", 0.1, "--start-time", start,
                 "--manifest", man)
        rows = read_manifest(man)  # every event's id, malformed ones included
        boots = {}
        for r in rows:
            sensor_id, boot, seq = event_id_parts(r["event_id"])
            assert sensor_id == r["sensor_id"] and seq == r["seq"]
            assert boots.setdefault(sensor_id, boot) == boot  # one boot per sensor and run
        assert len(set(boots.values())) == len(boots) == 72
        return {r["event_id"] for r in rows}

    a = run(7)
    assert len(a) > 2900  # duplicates repeat an id, nothing else does
    assert run(7) == a
    assert not a & run(8)
    assert not a & run(7, "2026-11-27T08:00:00Z")


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5])
def test_fault_counts_match_rate(smarttech_bin, tmp_path, rate):
    n = 20000
    man = tmp_path / "m.csv"
    cp = simulate(smarttech_bin, "--seed", 11, "--count", n, "--faults", rate, "--start-time", START,
                  "--manifest", man)
    counts = summary_counts(cp.stderr)
    assert counts["events"] == n == len(cp.stdout.splitlines())
    faulted = sum(counts[k] for k in FAULTS)
    # Binomial(n, rate) within 6 sigma (plus 1.5% for out-of-order events, which add a
    # clean event when held back): cannot pass by accident if --faults is ignored.
    sigma = math.sqrt(n * rate * (1 - rate))
    assert abs(faulted - n * rate) <= 6 * sigma + 0.015 * n * rate, (faulted, n * rate)
    if rate > 0:
        # Each kind gets its share: 1/9 on temperature sensors, 1/8 on the others
        # (fahrenheit only applies to temperature): within +-40 % of it.
        for k in FAULTS:
            share = 1 / 27 if k == "fahrenheit" else (1 / 27 + 2 / 24)
            exp = faulted * share
            assert 0.6 * exp <= counts[k] <= 1.4 * exp, (k, counts[k], exp)
    # The summary agrees with the manifest line by line.
    rows = read_manifest(man)
    assert len(rows) == n
    for k in FAULTS:
        assert sum(r["fault"] == k for r in rows) == counts[k]
    assert sum(r["valid"] for r in rows) == counts["valid"]


def test_every_event_checked_independently(smarttech_bin, tmp_path):
    n = 6000
    man = tmp_path / "m.csv"
    cp = simulate(smarttech_bin, "--seed", 3, "--count", n, "--faults", 0.3, "--start-time", START,
                  "--manifest", man)
    lines = cp.stdout.split(b"\n")
    assert lines[-1] == b"" and len(lines) == n + 1
    lines = lines[:-1]
    rows = read_manifest(man)
    assert len(rows) == n
    start_us = event_time_us(START)
    seen: dict[str, bytes] = {}
    max_time = 0
    for line, r in zip(lines, rows):
        fault, reason = r["fault"], r["reason"]
        line.decode("utf-8")  # all of it is UTF-8
        if fault == "malformed_json":
            with pytest.raises(ValueError):
                json.loads(line)
            assert not r["valid"] and reason == "malformed_json"
            continue
        obj = json.loads(line)
        assert obj.get("event_id", r["event_id"]) == r["event_id"]
        if isinstance(obj.get("sensor_id"), str):
            assert obj["sensor_id"] == r["sensor_id"]
        if r["valid"]:
            assert reason == "ok" and fault in ("none", "fahrenheit", "duplicate", "late", "out_of_order")
            v = check_contract(obj)
            assert v == float(r["value"]), (obj, r["value"])  # exact: same IEEE operations
            t = event_time_us(obj["event_time"])
            assert t == r["event_time_us"]
            assert (obj["unit"] == "F") == (fault == "fahrenheit") or fault == "duplicate"
            if fault == "duplicate":
                assert seen[obj["event_id"]] == line  # re-sent byte for byte
            else:
                assert obj["event_id"] not in seen
                seen[obj["event_id"]] = line
            if fault == "late":
                assert max_time - t >= 55_000_000  # minutes behind the stream
            if fault == "out_of_order":
                assert t < max_time
            if fault in ("none", "fahrenheit"):
                max_time = max(max_time, t)
            assert t >= start_us - 10 * 60_000_000
            continue
        # invalid: Python sees the same defect the manifest names
        kind, _, field = reason.partition(":")
        assert fault == kind or (fault == "impossible_value" and kind == "impossible_value"), (fault, reason)
        if kind == "missing_field":
            assert field not in obj and field in REQUIRED
        elif kind == "wrong_type":
            want = REQUIRED.get(field, (int, float))
            assert not isinstance(obj[field], want) or isinstance(obj[field], bool), (field, obj[field])
        elif kind == "impossible_value":
            lo, hi = RANGES[field]
            assert field == obj["sensor_type"] and not lo <= obj["value"] <= hi
        elif kind == "future_timestamp":
            assert event_time_us(obj["event_time"]) > max_time + 3600 * 1_000_000 - 1
        else:
            pytest.fail(f"unexpected reason {reason}")
    # every kind occurred
    assert {r["fault"] for r in rows} == set(FAULTS) | {"none"}


def _files(d: Path):
    return sorted(p.name for p in d.iterdir())


def test_files_complete_and_numbered(smarttech_bin, tmp_path):
    out = tmp_path / "in"
    args = ["--seed", 5, "--count", 1050, "--faults", 0.05, "--start-time", START]
    cp = simulate(smarttech_bin, *args, "--files", out, "--events-per-file", 100)
    names = _files(out)
    assert names == [f"events-{i:06d}.json" for i in range(1, 12)]
    data = b"".join((out / n).read_bytes() for n in names)
    assert data == simulate(smarttech_bin, *args).stdout  # same events as stdout, split in files
    for n in names:
        b = (out / n).read_bytes()
        assert b.endswith(b"\n") and b.count(b"\n") == (50 if n.endswith("11.json") else 100)
    assert "11 files" in cp.stderr.decode()
    # A second run continues the numbering and never overwrites.
    simulate(smarttech_bin, *args, "--files", out, "--events-per-file", 500)
    assert _files(out)[-3:] == ["events-000012.json", "events-000013.json", "events-000014.json"]
    assert (out / "events-000001.json").read_bytes() == data[: len((out / "events-000001.json").read_bytes())]


def test_files_never_seen_partial(smarttech_bin, tmp_path):
    """Watches the directory while a paced run writes: any visible events-*.json is whole."""
    out = tmp_path / "in"
    per = 200
    p = subprocess.Popen([str(smarttech_bin), "simulate", *map(str, ["--seed", 9, "--rate", 4000, "--count", 4000,
                          "--files", out, "--events-per-file", per, "--quiet"])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    looks = 0
    tmp_seen = False
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        if out.exists():
            for name in os.listdir(out):
                if name.startswith("."):
                    tmp_seen = True
                    continue
                b = (out / name).read_bytes()
                assert b.count(b"\n") == per and b.endswith(b"\n"), name
                looks += 1
        time.sleep(0.01)
    assert p.wait(timeout=30) == 0, p.stderr.read().decode()
    assert looks > 0 and tmp_seen  # we did look at files while others were being written
    assert len(_files(out)) == 4000 // per


def test_sigint_finishes_current_file(smarttech_bin, tmp_path):
    out = tmp_path / "in"
    man = tmp_path / "m.csv"
    p = subprocess.Popen([str(smarttech_bin), "simulate", *map(str, ["--rate", 2000, "--files", out,
                          "--events-per-file", 300, "--manifest", man, "--quiet"])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.2)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=30)[1].decode()
    assert p.returncode == 0, err
    assert "stopped by signal" in err
    names = _files(out)
    assert names and not [n for n in names if n.startswith(".")]
    total = sum((out / n).read_bytes().count(b"\n") for n in names)
    assert total == summary_counts(err.encode())["events"] == len(read_manifest(man))


@pytest.mark.parametrize("args", [["--faults", "1.5"], ["--count", "-3"], ["--rooms", "0"], ["--bogus"],
                                  ["--start-time", "yesterday"], ["extra"],
                                  ["--files", "x", "--brokers", "localhost:9092"]])
def test_bad_arguments(smarttech_bin, args):
    cp = simulate(smarttech_bin, *args, check=False)
    assert cp.returncode == 2 and cp.stdout == b"" and cp.stderr


def test_layout_and_sensors(smarttech_bin):
    cp = simulate(smarttech_bin, "--buildings", 3, "--floors", 2, "--rooms", 5, "--count", 3 * 2 * 5 * 3 * 2,
                  "--start-time", START)
    ids = {json.loads(l)["sensor_id"] for l in cp.stdout.splitlines()}
    assert len(ids) == 90 and "b03-f2-r05-co2-1" in ids
    cp = simulate(smarttech_bin, "--sensors", 7, "--count", 70, "--start-time", START)
    objs = [json.loads(l) for l in cp.stdout.splitlines()]
    assert len({o["sensor_id"] for o in objs}) == 7
    # each sensor's seq counts 1..10 in order (no faults)
    for sid in {o["sensor_id"] for o in objs}:
        assert [o["seq"] for o in objs if o["sensor_id"] == sid] == list(range(1, 11))


def test_sample_files_match_their_manifest():
    """data/source_json/: complete JSON Lines files, consistent with manifest.csv."""
    src = Path(__file__).resolve().parents[2] / "data" / "source_json"
    files = sorted(src.glob("events-*.json"))
    assert len(files) >= 3
    lines = [l for f in files for l in f.read_bytes().split(b"\n")[:-1]]
    assert all(f.read_bytes().endswith(b"\n") for f in files)
    rows = read_manifest(src / "manifest.csv")
    assert len(rows) == len(lines)
    assert {r["fault"] for r in rows} >= set(FAULTS) - {"none"}
    for line, r in zip(lines, rows):
        if r["valid"]:
            assert check_contract(json.loads(line)) == float(r["value"])
        elif r["fault"] == "future_timestamp":
            assert r["event_time_us"] > time.time() * 1e6 + 86400e6  # stays in the future for a while
