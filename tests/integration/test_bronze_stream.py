"""`smarttech bronze` (issue 3, tests 2, 4, 6): the JSON-file stream into Delta Bronze,
read back by delta-rs and DuckDB and compared with an independent Python expectation
(bronze_rules.py)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bronze_rules import (check_tables, duckdb_count, processed_names, read_table, table_version, wait_for)
from conftest import REPO

SOURCE = REPO / "data" / "source_json"


def dirs(tmp: Path):
    d = {"input": tmp / "data" / "input", "output": tmp / "data" / "output" / "bronze_output",
         "quarantine": tmp / "data" / "output" / "quarantine_delta",
         "checkpoint": tmp / "data" / "checkpoints" / "bronze_checkpoints"}
    d["input"].mkdir(parents=True, exist_ok=True)
    return d


def args(d, *extra):
    return ["bronze", "--input", d["input"], "--output", d["output"], "--quarantine", d["quarantine"],
            "--checkpoint", d["checkpoint"], *extra]


def start(smarttech_bin, d, *extra, log: Path):
    f = open(log, "wb")
    p = subprocess.Popen([str(smarttech_bin), *map(str, args(d, *extra))], stdout=f, stderr=subprocess.STDOUT)
    f.close()
    return p


def stop(p, timeout=30):
    p.send_signal(signal.SIGINT)
    return p.wait(timeout=timeout)


def odd_files(d: Path) -> list[Path]:
    """Files that must not crash the job: an array, an empty file, binary garbage, invalid
    UTF-8, a line over 1 MiB, blank lines and CRLF."""
    ev = {"schema_version": 1, "event_id": "x-1:1", "sensor_id": "x-1", "building_id": "b09", "floor": 0,
          "room_id": "r01", "sensor_type": "humidity", "value": 40.5, "unit": "%",
          "event_time": "2026-01-05T10:00:00Z", "seq": 1}
    out = []
    arr = [dict(ev, event_id=f"arr:{i}", seq=i) for i in range(5)] + [42, dict(ev, value=140.0)]
    (d / "array.json").write_text(json.dumps(arr, indent=1))
    (d / "empty.json").write_bytes(b"")
    (d / "garbage.json").write_bytes(bytes(range(256)) * 40)
    (d / "latin1.json").write_bytes(json.dumps(dict(ev, room_id="salle-\u00e9t\u00e9")).encode("latin-1") + b"\n"
                                    + json.dumps(dict(ev, event_id="ok-after-latin1")).encode() + b"\n")
    long = json.dumps(dict(ev, pad="x" * (1 << 20))).encode()
    (d / "long.json").write_bytes(json.dumps(ev).encode() + b"\n" + long + b"\n"
                                  + json.dumps(dict(ev, event_id="after-long")).encode() + b"\n")
    (d / "crlf.json").write_bytes(b"\r\n\r\n" + json.dumps(ev).encode() + b"\r\n   \r\n"
                                  + json.dumps(dict(ev, event_id="f", sensor_type="temperature", value=212,
                                                    unit="F")).encode())
    for n in ["array.json", "empty.json", "garbage.json", "latin1.json", "long.json", "crlf.json"]:
        out.append(d / n)
    return out


def test_sample_files_copied_while_running(smarttech_bin, tmp_path):
    """Test 2: copy the sample files (and odd ones) into the input directory while the job
    runs: Bronze = the valid records, quarantine = the invalid ones with reasons."""
    d = dirs(tmp_path)
    samples = sorted(SOURCE.glob("*.json"))
    assert samples, f"no sample files in {SOURCE}"
    staging = tmp_path / "staging"
    staging.mkdir()
    extra = odd_files(staging)
    p = start(smarttech_bin, d, "--trigger", "300ms", "--settle", "300ms", log=tmp_path / "bronze.log")
    try:
        wait_for(lambda: (d["output"] / "_delta_log").exists(), 30, "the bronze table", p)
        copied = []
        for f in samples + extra:  # one by one, like the walkthrough's `cp`
            shutil.copyfile(f, d["input"] / f.name)
            copied.append(d["input"] / f.name)
            time.sleep(0.15)
        # names the job must ignore, even when complete
        shutil.copyfile(samples[0], d["input"] / ".hidden.json")
        shutil.copyfile(samples[0], d["input"] / "partial.json.part")
        shutil.copyfile(samples[0], d["input"] / "download.json.tmp")
        wait_for(lambda: len(processed_names(d["checkpoint"])) >= len(copied), 60, "all files processed", p)
        time.sleep(1.0)  # the ignored names settle too: give them the chance to be (wrongly) read
    finally:
        rc = stop(p)
    log = (tmp_path / "bronze.log").read_text()
    assert rc == 0, log
    assert "stopped" in log
    assert sorted(processed_names(d["checkpoint"])) == sorted(f.name for f in copied)
    bronze, quarantine = read_table(d["output"]), read_table(d["quarantine"])
    check_tables(copied, bronze, quarantine)
    assert len(bronze) > 0 and len(quarantine) > 0
    reasons = {r["reason"] for r in quarantine}
    assert {"line_too_long", "invalid_utf8", "not_an_object", "impossible_value:humidity"} <= reasons, reasons
    # the row holding a line over 1 MiB keeps a sample, not the whole line
    longq = [r for r in quarantine if r["reason"] == "line_too_long"]
    assert len(longq) == 1 and len(longq[0]["raw"]) <= 1024
    # binary garbage is kept base64 in raw_base64
    assert any(r["raw"] is None and r["raw_base64"] for r in quarantine if r["file"] == "garbage.json")
    # a second reader agrees on the counts
    assert duckdb_count(d["output"]) == len(bronze)
    assert duckdb_count(d["quarantine"]) == len(quarantine)
    # one progress line per batch: files, rows, quarantined, commit version, duration
    lines = [ln for ln in log.splitlines() if ln.startswith("bronze: batch ")]
    assert lines and all(", rows " in ln and "quarantined" in ln and "bronze v" in ln and " s" in ln for ln in lines)


def test_restart_without_new_files_commits_nothing(smarttech_bin, run_smarttech, tmp_path):
    """Test 6: restart with no new files -> no new commit; renamed, touched or re-copied
    files (same content) are not ingested again; new content under an old name is."""
    d = dirs(tmp_path)
    for f in sorted(SOURCE.glob("*.json"))[:3]:
        shutil.copyfile(f, d["input"] / f.name)
    run_smarttech(*args(d, "--once", "--settle", "200ms"))
    v_b, v_q = table_version(d["output"]), table_version(d["quarantine"])
    n_b = len(read_table(d["output"]))
    cp = run_smarttech(*args(d, "--once", "--settle", "200ms"))
    assert "0 batches" in cp.stdout, cp.stdout
    assert (table_version(d["output"]), table_version(d["quarantine"])) == (v_b, v_q)
    first = sorted(d["input"].iterdir())[0]
    first.rename(d["input"] / ("renamed-" + first.name))
    second = sorted(d["input"].iterdir())[1]
    os.utime(second, None)
    shutil.copyfile(second, d["input"] / "copy-of-second.json")
    cp = run_smarttech(*args(d, "--once", "--settle", "200ms"))
    assert "0 batches" in cp.stdout and "(4 skipped" in cp.stdout, cp.stdout  # all 4 names present
    assert (table_version(d["output"]), table_version(d["quarantine"])) == (v_b, v_q)
    # new bytes under an old name: a new file
    with open(second, "ab") as f:
        f.write(b'{"schema_version":1,"event_id":"new:1","sensor_id":"new","building_id":"b01","floor":1,'
                b'"room_id":"r01","sensor_type":"co2","value":500,"unit":"ppm",'
                b'"event_time":"2026-01-05T10:00:00Z","seq":1}\n')
    cp = run_smarttech(*args(d, "--once", "--settle", "200ms"))
    assert "1 batches" in cp.stdout, cp.stdout
    assert table_version(d["output"]) == v_b + 1
    rows = read_table(d["output"])
    assert [r for r in rows if r["event_id"] == "new:1"][0]["source_file"] == second.name
    assert len(rows) > n_b


def test_big_file_copied_slowly(smarttech_bin, tmp_path):
    """Test 4: a 50 MB file written slowly in place (plain writes, no rename) is ingested
    once, whole: never half-way, in a single batch."""
    d = dirs(tmp_path)
    ev = ('{"schema_version":1,"event_id":"big-%d","sensor_id":"b01-f1-r01-co2-1","building_id":"b01",'
          '"floor":1,"room_id":"r01","sensor_type":"co2","value":%d.5,"unit":"ppm",'
          '"event_time":"2026-01-05T10:00:00.123Z","seq":%d,"battery_pct":80.0,"note":"%s"}\n')
    pad = "p" * 60
    parts, size, n = [], 0, 0
    while size < 50 * 1000 * 1000:
        s = ev % (n, 400 + n % 1000, n, pad)
        parts.append(s)
        size += len(s)
        n += 1
    data = "".join(parts).encode()
    p = start(smarttech_bin, d, "--trigger", "200ms", "--settle", "1s", log=tmp_path / "bronze.log")
    try:
        wait_for(lambda: (d["output"] / "_delta_log").exists(), 30, "the bronze table", p)
        chunk = 1 << 20  # 1 MiB every 0.1 s: about 5 s of copying, pauses well under the settle time
        with open(d["input"] / "big.json", "wb") as f:
            for off in range(0, len(data), chunk):
                f.write(data[off:off + chunk])
                f.flush()
                time.sleep(0.1)
        wait_for(lambda: processed_names(d["checkpoint"]) == ["big.json"], 120, "big.json processed", p)
    finally:
        rc = stop(p, timeout=120)
    log = (tmp_path / "bronze.log").read_text()
    assert rc == 0, log
    batches = [ln for ln in log.splitlines() if ln.startswith("bronze: batch ")]
    assert len(batches) == 1 and f"rows {n}," in batches[0], log
    assert table_version(d["output"]) == 1
    assert duckdb_count(d["output"]) == n
    assert duckdb_count(d["output"], "source_file = 'big.json'") == n
    import duckdb  # noqa: F401
    from deltalake import DeltaTable
    t = DeltaTable(str(d["output"])).to_pyarrow_table(columns=["source_line", "event_id"])
    lines = t.column("source_line").to_pylist()
    assert sorted(lines) == list(range(1, n + 1))
    assert len(set(t.column("event_id").to_pylist())) == n


def test_sigterm_lock_and_usage(smarttech_bin, run_smarttech, tmp_path):
    """SIGTERM stops the job cleanly (exit 0); a second job on the same checkpoint is refused
    while the first runs; bad options are usage errors (exit 2)."""
    d = dirs(tmp_path)
    p = start(smarttech_bin, d, "--trigger", "200ms", log=tmp_path / "bronze.log")
    try:
        wait_for(lambda: (d["output"] / "_delta_log").exists(), 30, "the bronze table", p)
        cp = run_smarttech(*args(d, "--once"), check=False)
        assert cp.returncode == 1 and "in use" in cp.stderr, cp.stderr
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
    assert rc == 0, (tmp_path / "bronze.log").read_text()
    assert "stopped" in (tmp_path / "bronze.log").read_text()
    for bad in (["--trigger", "soon"], ["--max-files-per-batch", "-3"], ["--what"], ["extra-arg"]):
        cp = run_smarttech(*args(d, *bad), check=False)
        assert cp.returncode == 2, (bad, cp.stderr)
    cp = run_smarttech("bronze", "--help")
    assert "--settle" in cp.stdout and "--max-files-per-batch" in cp.stdout
