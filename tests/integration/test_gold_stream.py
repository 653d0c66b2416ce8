"""`smarttech gold`: Gold windows vs an independent DuckDB reference, late events, kill -9 recovery.

Silver tables are written by tools/silver_fixture (the deterministic simulator, no Kafka), next
to the smarttech binary under test. Outputs are read back with delta-rs (deltalake), DuckDB's
delta extension and pyarrow; the Silver row order is rebuilt from the _delta_log JSON directly.
"""
from __future__ import annotations

import glob
import json
import os
import pathlib
import random
import signal
import subprocess
import time

import pytest

duckdb = pytest.importorskip("duckdb")
deltalake = pytest.importorskip("deltalake")
import pyarrow.parquet as pq  # noqa: E402

MIN_US = 60_000_000


# ----------------------------------------------------------------------------- helpers

def fixture_bin(smarttech_bin) -> pathlib.Path:
    p = pathlib.Path(smarttech_bin).parent / "silver_fixture"
    if not os.access(p, os.X_OK):
        pytest.fail(f"{p} not built (cmake --build <dir> --target silver_fixture)")
    return p


def make_silver(smarttech_bin, table, **opts):
    args = [str(fixture_bin(smarttech_bin)), "--table", str(table)]
    for k, v in opts.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    cp = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp.stderr
    return cp


def gold_args(d: pathlib.Path, *extra):
    return ["gold", "--silver", d / "silver", "--output", d / "gold", "--alerts", d / "alerts",
            "--quarantine", d / "quarantine", "--anomalies", d / "anomalies", "--checkpoint", d / "ckpt", "--quiet",
            *extra]


def out_dirs(d: pathlib.Path, name: str) -> pathlib.Path:
    """A second set of outputs reading the same Silver table (via a symlink)."""
    o = d / name
    o.mkdir()
    (o / "silver").symlink_to(d / "silver")
    return o


def duck_connect():
    import duckdb_ext  # ships the extension file (duckdb-ext-delta wheel); LOAD it by path, offline
    ext = glob.glob(str(pathlib.Path(list(duckdb_ext.__path__)[0]) / "extensions/*/*/delta.duckdb_extension"))
    assert ext, "duckdb-ext-delta wheel has no delta.duckdb_extension"
    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false",
                                 "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{ext[0]}'")
    return con


def us(ts) -> int:
    """pyarrow/python timestamp -> epoch microseconds."""
    import datetime
    return (ts - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)


def read_rows(path) -> list[dict]:
    return deltalake.DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def gold_rows(path) -> list[tuple]:
    rows = []
    for r in read_rows(path):
        rows.append((us(r["window_start"]), r["building_id"], r["floor"], r["room_id"], r["sensor_type"],
                     r["count"], r["avg"], r["min"], r["max"], us(r["first_event_time"]), us(r["last_event_time"]),
                     us(r["window_end"]), str(r["window_date"])))
    return sorted(rows)


def silver_in_order(table) -> list[dict]:
    """Silver rows in stream order: versions ascending, adds in commit order, rows in file order."""
    from urllib.parse import unquote
    logs = sorted(pathlib.Path(table, "_delta_log").glob("*.json"))
    rows = []
    for lf in logs:
        version = int(lf.stem)
        for line in lf.read_text().splitlines():
            a = json.loads(line).get("add")
            if a and a.get("dataChange", True):
                t = pq.read_table(pathlib.Path(table, unquote(a["path"])),
                                  columns=["event_id", "sensor_id", "building_id", "floor", "room_id",
                                           "sensor_type", "value", "event_time"])
                rows.extend(dict(r, version=version) for r in t.to_pylist())
    return rows


def replay(rows, width=MIN_US, lateness=2 * MIN_US):
    """The documented window/watermark rule, independently: returns (windows, late event ids).
    The watermark (max event time - lateness) moves at the end of each Silver version."""
    max_t, pending, version = None, None, None
    windows, late = {}, []
    for r in rows:
        if r["version"] != version:
            if pending is not None:
                max_t = pending if max_t is None else max(max_t, pending)
            version = r["version"]
        t = us(r["event_time"])
        s = (t // width) * width
        if max_t is not None and s + width <= max_t - lateness:
            late.append(r["event_id"])
            continue
        k = (s, r["building_id"], r["floor"], r["room_id"], r["sensor_type"])
        w = windows.setdefault(k, [0, 0.0, float("inf"), float("-inf"), t, t])
        w[0] += 1
        w[1] += r["value"]
        w[2] = min(w[2], r["value"])
        w[3] = max(w[3], r["value"])
        w[4] = min(w[4], t)
        w[5] = max(w[5], t)
        pending = t if pending is None else max(pending, t)
    return windows, late


def assert_gold_matches(got, ref):
    assert len(got) == len(ref), f"{len(got)} Gold rows, reference has {len(ref)}"
    for g, r in zip(got, ref):
        assert g[:6] == r[:6], (g, r)
        for i in (6, 7, 8):
            assert abs(g[i] - r[i]) <= 1e-9, (g, r)
        assert g[9:11] == r[9:11], (g, r)
        assert g[11] == g[0] + MIN_US


# ----------------------------------------------------------------------------- test 1

def test_gold_equals_duckdb_reference(tmp_path, run_smarttech, smarttech_bin):
    """Deterministic simulator run: every Gold row equals DuckDB SQL over Silver (1e-9), all closed."""
    make_silver(smarttech_bin, tmp_path / "silver", seed=11, buildings=2, floors=2, rooms=3, rate=36,
                events=36 * 600, versions=12)
    summary = tmp_path / "summary.json"
    run_smarttech(*gold_args(tmp_path, "--once", "--flush", "--summary-json", summary))
    s = json.loads(summary.read_text())

    con = duck_connect()
    ref = con.execute(f"""
        SELECT (epoch_us(event_time) // {MIN_US}) * {MIN_US} AS ws, building_id, floor, room_id, sensor_type,
               count(*), avg(value), min(value), max(value), epoch_us(min(event_time)), epoch_us(max(event_time))
        FROM delta_scan('{tmp_path / "silver"}')
        GROUP BY ALL ORDER BY ALL""").fetchall()
    nsilver = con.execute(f"SELECT count(*) FROM delta_scan('{tmp_path / 'silver'}')").fetchone()[0]
    got = gold_rows(tmp_path / "gold")
    assert len(ref) == 36 * 10  # 36 sensors (one per room and type) x 10 minutes
    assert_gold_matches(got, ref)
    # the same table through DuckDB too (second independent reader of our Gold output)
    assert con.execute(f"SELECT count(*), sum(count) FROM delta_scan('{tmp_path / 'gold'}')").fetchone() == \
        (len(ref), nsilver)
    assert s["rows_in"] == nsilver and s["rows_late"] == 0 and s["windows_open"] == 0 and s["flushed"]
    assert s["windows_emitted"] == len(ref)
    # nothing late, so nothing in quarantine; every output table records Silver's version
    assert read_rows(tmp_path / "quarantine") == []
    silver_id = deltalake.DeltaTable(str(tmp_path / "silver")).metadata().id
    for t in ("gold", "alerts", "quarantine"):
        txns = [json.loads(line)["txn"] for f in sorted((tmp_path / t / "_delta_log").glob("*.json"))
                for line in f.read_text().splitlines() if '"txn"' in line]
        assert {"appId": f"gold/{silver_id}", "version": 12} in [{k: x[k] for k in ("appId", "version")}
                                                                 for x in txns]

    # a second --once on the same checkpoint finds nothing new and changes nothing
    v_before = deltalake.DeltaTable(str(tmp_path / "gold")).version()
    run_smarttech(*gold_args(tmp_path, "--once", "--flush"))
    assert deltalake.DeltaTable(str(tmp_path / "gold")).version() == v_before


def test_gold_without_flush_keeps_open_windows(tmp_path, run_smarttech, smarttech_bin):
    """Without --flush only windows the watermark closed are written; later input closes the rest."""
    make_silver(smarttech_bin, tmp_path / "silver", seed=5, rate=12, events=12 * 300, versions=3)
    summary = tmp_path / "s.json"
    run_smarttech(*gold_args(tmp_path, "--once", "--summary-json", summary))
    s = json.loads(summary.read_text())
    got = gold_rows(tmp_path / "gold")
    max_t = max(us(r["event_time"]) for r in silver_in_order(tmp_path / "silver"))
    wm = max_t - 2 * MIN_US
    assert got and all(g[11] <= wm for g in got)
    assert s["windows_open"] > 0
    # more Silver data (the next 5 simulated minutes), then flush: same result as one flushed run
    make_silver(smarttech_bin, tmp_path / "silver", seed=5, rate=12, from_event=12 * 300, events=12 * 300,
                versions=2)
    run_smarttech(*gold_args(tmp_path, "--once", "--flush"))
    windows, late = replay(silver_in_order(tmp_path / "silver"))
    ref = sorted((k[0], *k[1:], v[0], v[1] / v[0], v[2], v[3], v[4], v[5]) for k, v in windows.items())
    assert late == []
    assert_gold_matches(gold_rows(tmp_path / "gold"), ref)


# ----------------------------------------------------------------------------- test 3

def test_late_events_go_to_quarantine_not_gold(tmp_path, run_smarttech, smarttech_bin):
    """Late simulator faults past the watermark: counted, quarantined with reason late, never in Gold."""
    make_silver(smarttech_bin, tmp_path / "silver", seed=3, rate=12, events=12 * 900, versions=9,
                fault_rate=0.08)
    summary = tmp_path / "s.json"
    run_smarttech(*gold_args(tmp_path, "--once", "--flush", "--summary-json", summary))
    s = json.loads(summary.read_text())

    windows, late = replay(silver_in_order(tmp_path / "silver"))
    assert len(late) > 10, "the fixture should contain late events"
    q = read_rows(tmp_path / "quarantine")
    assert all(r["reason"] == "late" for r in q)
    q_ids = sorted(json.loads(r["raw"])["event_id"] for r in q)
    assert q_ids == sorted(late)
    assert s["rows_late"] == len(late)
    for r in q:
        assert "already closed by the watermark" in r["detail"]
        assert r["source"].startswith("file:") and r["file"].endswith(".parquet") and r["line"] >= 1
    # Gold = reference over the accepted rows only: late rows contributed to no window
    ref = sorted((k[0], *k[1:], v[0], v[1] / v[0], v[2], v[3], v[4], v[5]) for k, v in windows.items())
    assert_gold_matches(gold_rows(tmp_path / "gold"), ref)
    assert sum(g[5] for g in gold_rows(tmp_path / "gold")) + len(late) == s["rows_in"]


# ----------------------------------------------------------------------------- test 2

def comparable(d: pathlib.Path):
    """Outputs minus wall-clock columns; quarantine sources relative to the output folder."""
    alerts = sorted(tuple((k, v) for k, v in r.items() if k != "detection_time") for r in read_rows(d / "alerts"))
    quar = sorted(tuple((k, v.replace(str(d), "<d>") if isinstance(v, str) else v) for k, v in r.items()
                        if k != "ingest_time") for r in read_rows(d / "quarantine"))
    return gold_rows(d / "gold"), alerts, quar


def kill_runs(cmd, rng, n: int, lo: float, hi: float) -> int:
    """Starts cmd n times, each killed with SIGKILL after rng.uniform(lo, hi) seconds; returns how many
    of those runs said they redid a batch left half-committed by the previous kill."""
    recovered = 0
    for _ in range(n):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(lo, hi))
        p.send_signal(signal.SIGKILL)
        err = p.communicate()[1]
        assert p.returncode == -signal.SIGKILL, err
        recovered += "redoing batch" in err
    return recovered


def test_kill9_restart_gives_identical_outputs(tmp_path, smarttech_bin, run_smarttech):
    """kill -9 at 5 random moments while Silver grows, restart each time: same Gold/alerts/quarantine."""
    seed = int(os.environ.get("GOLD_KILL_SEED", time.time()))
    print(f"kill moments from GOLD_KILL_SEED={seed}")  # shown on failure, to replay the same run
    rng = random.Random(seed)
    silver = tmp_path / "silver"
    make_silver(smarttech_bin, silver, seed=21, rate=36, buildings=2, floors=2, rooms=3, events=36 * 60,
                versions=2, fault_rate=0.03)
    grower = subprocess.Popen([str(fixture_bin(smarttech_bin)), "--table", str(silver), "--seed", "21",
                               "--rate", "36", "--buildings", "2", "--floors", "2", "--rooms", "3",
                               "--fault-rate", "0.03", "--from-event", str(36 * 60), "--events", str(36 * 840),
                               "--versions", "70", "--interval-ms", "70"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cmd = [str(smarttech_bin), *map(str, gold_args(tmp_path, "--trigger", "50ms", "--max-versions", "2"))]
    recovered = 0
    try:
        recovered = kill_runs(cmd, rng, 5, 0.15, 1.0)
    finally:
        grower.wait(timeout=120)
    assert grower.returncode == 0, grower.stderr.read()
    cp = run_smarttech(*gold_args(tmp_path, "--once", "--flush"))
    recovered += "redoing batch" in cp.stderr

    ref = out_dirs(tmp_path, "ref")
    run_smarttech(*gold_args(ref, "--once", "--flush"))
    got_g, got_a, got_q = comparable(tmp_path)
    ref_g, ref_a, ref_q = comparable(ref)
    assert len(ref_g) > 100 and len(ref_q) > 0
    assert len({g[:5] for g in got_g}) == len(got_g), "a window was written twice"
    assert got_g == ref_g
    assert got_a == ref_a
    assert got_q == ref_q
    # the checkpoint keeps only the last two states
    assert len(list((tmp_path / "ckpt").glob("state-*.bin"))) <= 2
    print(f"batches redone after a crash between commits: {recovered}")


def test_checkpoint_and_outputs_must_agree(tmp_path, run_smarttech, smarttech_bin):
    """Losing the checkpoint while the outputs have data is a clear error, not a silent replay."""
    make_silver(smarttech_bin, tmp_path / "silver", seed=2, rate=12, events=1200, versions=2)
    run_smarttech(*gold_args(tmp_path, "--once"))
    for f in (tmp_path / "ckpt").glob("state-*"):
        f.unlink()
    cp = run_smarttech(*gold_args(tmp_path, "--once"), check=False)
    assert cp.returncode == 1 and "checkpoint and outputs disagree" in cp.stderr
    # another window width under the same checkpoint is refused too
    cp = run_smarttech(*gold_args(tmp_path, "--once", "--window", "2m"), check=False)
    assert cp.returncode == 1


def test_silver_delete_is_refused(tmp_path, run_smarttech, smarttech_bin):
    """A Silver version that removes data (dataChange=true) stops the stream with a clear error."""
    make_silver(smarttech_bin, tmp_path / "silver", seed=2, rate=12, events=600, versions=1)
    run_smarttech(*gold_args(tmp_path, "--once"))
    log = tmp_path / "silver" / "_delta_log"
    add = next(json.loads(line)["add"] for line in (log / f"{1:020d}.json").read_text().splitlines()
               if '"add"' in line)
    rm = {"remove": {"path": add["path"], "deletionTimestamp": 1, "dataChange": True}}
    ci = {"commitInfo": {"timestamp": 1, "operation": "DELETE"}}
    (log / f"{2:020d}.json").write_text(json.dumps(ci) + "\n" + json.dumps(rm) + "\n")
    cp = run_smarttech(*gold_args(tmp_path, "--once"), check=False)
    assert cp.returncode == 1 and "appends only" in cp.stderr and "version 2" in cp.stderr


def test_flush_only_batch_and_later_input(tmp_path, run_smarttech, smarttech_bin):
    """--once --flush with no new Silver version commits a flush-only batch (txn appId .../flush);
    running it again changes nothing; input arriving later for a flushed window is late."""
    # 3.5 simulated minutes: the flush closes the half-filled window [3 min, 4 min)
    make_silver(smarttech_bin, tmp_path / "silver", seed=8, rate=12, events=12 * 210, versions=2)
    run_smarttech(*gold_args(tmp_path, "--once"))
    n_before = len(gold_rows(tmp_path / "gold"))
    summary = tmp_path / "s.json"
    run_smarttech(*gold_args(tmp_path, "--once", "--flush", "--summary-json", summary))
    s = json.loads(summary.read_text())
    assert s["flushed"] and s["windows_open"] == 0 and s["batches"] == 1
    windows, late = replay(silver_in_order(tmp_path / "silver"))
    assert len(gold_rows(tmp_path / "gold")) == len(windows) > n_before
    silver_id = deltalake.DeltaTable(str(tmp_path / "silver")).metadata().id
    last = sorted((tmp_path / "gold" / "_delta_log").glob("*.json"))[-1].read_text()
    assert f'"appId":"gold/{silver_id}/flush"' in last.replace(" ", "")
    v = deltalake.DeltaTable(str(tmp_path / "gold")).version()
    run_smarttech(*gold_args(tmp_path, "--once", "--flush"))
    assert deltalake.DeltaTable(str(tmp_path / "gold")).version() == v
    # the next simulated minute: its readings before 4 min fall in the flushed window: late
    flushed_end = max(g[11] for g in gold_rows(tmp_path / "gold"))
    make_silver(smarttech_bin, tmp_path / "silver", seed=8, rate=12, from_event=12 * 210, events=12 * 60,
                versions=1)
    run_smarttech(*gold_args(tmp_path, "--once", "--flush", "--summary-json", summary))
    s = json.loads(summary.read_text())
    new_rows = [r for r in silver_in_order(tmp_path / "silver") if r["version"] == 3]
    expect_late = [r["event_id"] for r in new_rows if (us(r["event_time"]) // MIN_US + 1) * MIN_US <= flushed_end]
    assert len(expect_late) == 12 * 30
    assert s["rows_late"] == len(expect_late)
    assert sorted(json.loads(r["raw"])["event_id"] for r in read_rows(tmp_path / "quarantine")) == sorted(expect_late)
