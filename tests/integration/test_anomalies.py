"""Issue 18: anomaly detection per sensor in `smarttech gold`, measured against the simulator's ground truth.

Two simulated hours of a 2-building layout (3 floors x 4 rooms, 3 sensors of each of the 4 kinds
per room: 288 sensors reporting every 10 s), time-compressed (the simulator runs as fast as it can,
its event time 2 hours long), go simulator -> Kafka (own topic, 3 partitions) -> silver --once ->
gold --once --flush, twice: with `--anomalies` (stuck, drift, spike and silent episodes injected,
recorded in <manifest>.episodes.csv) and without (same seed and length).

- Quality, per kind, against the episodes: recall = share of episodes that an anomaly of the same
  kind and sensor overlaps; precision = share of anomalies that overlap an episode of their kind and
  sensor. Targets: >= 0.9 / >= 0.8 for stuck, spike, silent; >= 0.7 / >= 0.7 for drift.
- The clean run has no anomaly at all (and no anomaly:* alert).
- Every anomaly has exactly one open and one close row, and the same in alerts_delta
  (rule anomaly:<kind>, alert_id anomaly:<anomaly_id>); DuckDB reads the table as delta-rs does.
- kill -9 of gold 5 times while Silver grows (the Silver commits replayed one by one into a second
  table): the anomalies table and the anomaly alerts equal those of the uninterrupted run.
- Memory: bytes per sensor of the model printed per batch; flat once every sensor is known.
Silver drains the backlog partition after partition (hours apart in event time inside one Silver
commit): the detector's per-partition watermarks and its room steps are what keep that harmless.
"""
from __future__ import annotations

import csv
import datetime
import json
import os
import pathlib
import random
import re
import shutil
import threading
import time

import pytest

deltalake = pytest.importorskip("deltalake")

from test_gold_stream import duck_connect, kill_runs  # noqa: E402

KINDS = "temperature,humidity,co2,pressure"
SENSORS = 2 * 3 * 4 * 3 * 4          # buildings x floors x rooms x per-room x kinds
INTERVAL_S = 10                      # every sensor every 10 s of event time
HOURS = 2
EVENTS = SENSORS * HOURS * 3600 // INTERVAL_S
RATE = 0.4                           # anomaly episodes per sensor per simulated hour
START = "2026-01-05T06:30:00Z"       # a Monday morning: occupancy ramps, CO2 rises
TARGETS = {"stuck": (0.9, 0.8), "spike": (0.9, 0.8), "silent": (0.9, 0.8), "drift": (0.7, 0.7)}


def us(ts) -> int | None:
    if ts is None:
        return None
    return (ts - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)


def read_rows(path) -> list[dict]:
    return deltalake.DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def gold_args(d: pathlib.Path, silver: pathlib.Path, *extra):
    return ["gold", "--silver", silver, "--output", d / "gold", "--alerts", d / "alerts", "--quarantine", d / "gq",
            "--anomalies", d / "anomalies", "--checkpoint", d / "gck", *extra]


def pipeline(d: pathlib.Path, topic: str, broker: str, run_smarttech, rate: float):
    """simulate -> Kafka -> silver --once -> gold --once --flush into folder d; returns gold's stderr."""
    d.mkdir()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    run_smarttech("topic", "create", "--brokers", broker, "--topic", topic, "--partitions", 3)
    sim = ["simulate", "--brokers", broker, "--topic", topic, "--kinds", KINDS, "--buildings", 2, "--floors", 3,
           "--rooms", 4, "--per-room", 3, "--sim-rate", SENSORS / INTERVAL_S, "--count", EVENTS,
           "--start-time", START, "--future-after", now, "--seed", 18, "--faults", 0.02,
           "--manifest", d / "manifest.csv", "--quiet"]
    if rate:
        sim += ["--anomalies", rate]
    run_smarttech(*sim)
    run_smarttech("silver", "--brokers", broker, "--topic", topic, "--group", f"g_{topic}", "--output",
                  d / "silver", "--bronze", d / "bronze_kafka", "--quarantine", d / "quarantine", "--checkpoint",
                  d / "ck_silver", "--max-events-per-batch", 5000, "--once", "--quiet")
    cp = run_smarttech(*gold_args(d, d / "silver", "--once", "--flush", "--max-versions", 4, "--summary-json",
                                  d / "summary.json"))
    return cp.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory, kafka_broker, unique_topic, run_smarttech):
    root = tmp_path_factory.mktemp("anomalies")
    t0 = time.monotonic()
    logs = {name: pipeline(root / name, unique_topic(f"anom_{name}"), kafka_broker, run_smarttech, rate)
            for name, rate in (("injected", RATE), ("clean", 0))}
    print(f"\n2 x ({EVENTS} events -> Kafka -> silver -> gold): {time.monotonic() - t0:.1f} s")
    return root, logs


def episodes(d: pathlib.Path) -> list[dict]:
    with open(d / "manifest.episodes.csv", newline="") as f:
        return [{"sensor": r["sensor_id"], "kind": r["kind"], "start": int(r["start_us"]), "end": int(r["end_us"])}
                for r in csv.DictReader(f)]


def detections(rows: list[dict]) -> list[dict]:
    """One entry per anomaly_id: its span (the close row's end when closed; still open: no end)."""
    out: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: r["state"] != "open"):
        x = out.setdefault(r["anomaly_id"], {"kind": r["kind"], "sensor": r["sensor_id"],
                                              "start": us(r["start_time"]), "end": us(r["end_time"]),
                                              "reason": r["reason"]})
        if r["state"] == "close":
            x["end"], x["reason"] = us(r["end_time"]), r["reason"]
    return list(out.values())


def overlaps(d: dict, e: dict) -> bool:
    end = d["end"] if d["end"] is not None else 2**62
    return d["kind"] == e["kind"] and d["sensor"] == e["sensor"] and d["start"] <= e["end"] and end >= e["start"]


def test_precision_and_recall_per_kind(runs):
    root, _ = runs
    eps = episodes(root / "injected")
    rows = read_rows(root / "injected" / "anomalies")
    dets = detections(rows)
    report, failures = [], []
    for kind, (p_min, r_min) in TARGETS.items():
        E = [e for e in eps if e["kind"] == kind]
        D = [d for d in dets if d["kind"] == kind]
        found = sum(any(overlaps(d, e) for d in D) for e in E)
        true = sum(any(overlaps(d, e) for e in E) for d in D)
        recall = found / len(E) if E else 0.0
        precision = true / len(D) if D else 0.0
        report.append(f"{kind:7s} episodes {len(E):3d}  found {found:3d}  recall {recall:.2f} | "
                      f"anomalies {len(D):3d}  true {true:3d}  precision {precision:.2f}  "
                      f"(targets {p_min} / {r_min})")
        assert len(E) >= 15, f"only {len(E)} {kind} episodes were injected: too few to measure"
        if precision < p_min or recall < r_min:
            failures.append(kind)
        for d in D:
            if not any(overlaps(d, e) for e in E):
                report.append(f"   false: {d}")
        for e in E:
            if not any(overlaps(d, e) for d in D):
                report.append(f"   missed: {e}")
    print("\n" + "\n".join(report))
    assert not failures, "below target: " + ", ".join(failures)


def test_clean_run_has_no_anomaly(runs):
    root, _ = runs
    rows = read_rows(root / "clean" / "anomalies")
    assert rows == [], f"{len(rows)} anomaly rows on a clean run, first: {rows[:3]}"
    assert not [a for a in read_rows(root / "clean" / "alerts") if a["rule"].startswith("anomaly:")]
    s = json.loads((root / "clean" / "summary.json").read_text())
    assert s["anomalies"]["opened"] == 0 and s["anomalies"]["sensors"] == SENSORS
    # the manifest of a run without --anomalies has no anomaly column (the format of before)
    with open(root / "clean" / "manifest.csv") as f:
        assert f.readline().strip() == "event_id,sensor_id,valid,fault,reason,value,event_time_us,seq"


def test_rows_alerts_and_readers_agree(runs):
    root, _ = runs
    d = root / "injected"
    rows = read_rows(d / "anomalies")
    by_id: dict[str, list[str]] = {}
    for r in rows:
        by_id.setdefault(r["anomaly_id"], []).append(r["state"])
        assert r["anomaly_id"].startswith(f"{r['kind']}/{r['sensor_id']}/")
        assert r["score"] >= r["threshold"] > 0 and r["reason"] and r["unit"] in ("C", "%", "ppm", "hPa")
        assert r["sensor_id"].startswith(f"{r['building_id']}-f{r['floor']}-{r['room_id']}-{r['sensor_type']}-")
        assert (r["expected"] is None) == (r["kind"] in ("stuck", "silent"))
        if r["state"] == "close":
            assert us(r["end_time"]) >= us(r["start_time"])
    assert all(sorted(s) == ["close", "open"] for s in by_id.values()), "each anomaly: one open, one close"
    alerts = [a for a in read_rows(d / "alerts") if a["rule"].startswith("anomaly:")]
    assert sorted((a["alert_id"], a["state"]) for a in alerts) == \
        sorted((f"anomaly:{r['anomaly_id']}", r["state"]) for r in rows)
    assert all(a["rule"] == "anomaly:" + a["alert_id"].split(":", 1)[1].split("/")[0] for a in alerts)
    con = duck_connect()
    assert con.execute(f"SELECT count(*), count(DISTINCT anomaly_id) FROM delta_scan('{d / 'anomalies'}')"
                       ).fetchone() == (len(rows), len(by_id))
    for kind in TARGETS:  # one reason of each kind, as the dashboard will show it
        r = next(r for r in rows if r["kind"] == kind and r["state"] == "close")
        print(f"{kind}: {r['reason']}")


def test_memory_per_sensor_is_flat(runs):
    root, logs = runs
    series = [(int(n), int(b)) for n, b in re.findall(r"(\d+) sensors, (\d+) B/sensor", logs["injected"])]
    assert len(series) >= 5, logs["injected"][-2000:]
    print("\nanomaly model, per batch (sensors, bytes per sensor):", series)
    full = [b for n, b in series if n == SENSORS]
    assert full and max(full) == min(full), "bytes per sensor changed once every sensor was known"
    assert full[-1] < 2048
    state = max((root / "injected" / "gck").glob("state-*.bin"), key=lambda p: p.stat().st_mtime)
    print(f"state file {state.stat().st_size} bytes for {SENSORS} sensors "
          f"({state.stat().st_size // SENSORS} per sensor, windows and alerts included)")


def grow_silver(src: pathlib.Path, dst: pathlib.Path, stop: threading.Event, pause: float):
    """Replays src's commits into dst one by one (data files first, then each commit file), as a
    writer committing every `pause` seconds would."""
    for p in src.rglob("*.parquet"):
        if "_delta_log" not in p.parts:
            q = dst / p.relative_to(src)
            q.parent.mkdir(parents=True, exist_ok=True)
            os.link(p, q)
    (dst / "_delta_log").mkdir(parents=True, exist_ok=True)
    for c in sorted((src / "_delta_log").glob("*.json")):
        if stop.is_set():
            break
        shutil.copyfile(c, dst / "_delta_log" / (c.name + ".tmp"))
        os.rename(dst / "_delta_log" / (c.name + ".tmp"), dst / "_delta_log" / c.name)
        time.sleep(pause)


def comparable(d: pathlib.Path):
    anomalies = sorted(tuple((k, v) for k, v in r.items() if k != "detection_time")
                       for r in read_rows(d / "anomalies"))
    alerts = sorted(tuple((k, v) for k, v in r.items() if k != "detection_time")
                    for r in read_rows(d / "alerts") if r["rule"].startswith("anomaly:"))
    return anomalies, alerts


def test_kill9_gives_identical_anomalies(runs, smarttech_bin, run_smarttech, tmp_path):
    root, _ = runs
    seed = int(os.environ.get("ANOMALY_KILL_SEED", time.time()))
    print(f"kill moments from ANOMALY_KILL_SEED={seed}")
    rng = random.Random(seed)
    silver = tmp_path / "silver"
    stop = threading.Event()
    grower = threading.Thread(target=grow_silver, args=(root / "injected" / "silver", silver, stop, 0.12))
    grower.start()
    cmd = [str(smarttech_bin), *map(str, gold_args(tmp_path, silver, "--trigger", "50ms", "--max-versions", 2,
                                                   "--quiet"))]
    recovered = 0
    try:
        while not (silver / "_delta_log").is_dir():
            time.sleep(0.05)
        recovered = kill_runs(cmd, rng, 5, 0.3, 1.2)
    finally:
        grower.join(timeout=120)
        stop.set()
    cp = run_smarttech(*gold_args(tmp_path, silver, "--once", "--flush", "--quiet"))
    recovered += "redoing batch" in cp.stderr
    got, ref = comparable(tmp_path), comparable(root / "injected")
    assert len(ref[0]) > 100
    assert got[0] == ref[0], "anomalies differ from the uninterrupted run"
    assert got[1] == ref[1], "anomaly alerts differ from the uninterrupted run"
    print(f"5 kills, {recovered} restarts redid a half-committed batch; {len(got[0])} anomaly rows identical")
