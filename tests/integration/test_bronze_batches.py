"""`smarttech bronze` batching (issue 3, test 5): 2,000 small files are cut into batches of
--max-files-per-batch, one Delta commit per batch, each tied to its batch by a txn action."""
from __future__ import annotations

import json
import math
import os

from bronze_rules import duckdb_count, processed_names, read_table, table_version

FILES = 2000
PER_BATCH = 150


def test_2000_files_batched(smarttech_bin, run_smarttech, tmp_path):
    staging, inp = tmp_path / "staging", tmp_path / "input"
    inp.mkdir()
    run_smarttech("simulate", "--files", staging, "--count", FILES * 2, "--events-per-file", 2, "--seed", "5",
                  "--no-fsync", "--quiet", timeout=120)
    for f in staging.glob("events-*.json"):
        os.rename(f, inp / f.name)
    assert len(list(inp.iterdir())) == FILES
    out, quar, ck = tmp_path / "bronze_output", tmp_path / "quarantine_delta", tmp_path / "ck"
    base = ["bronze", "--input", inp, "--output", out, "--quarantine", quar, "--checkpoint", ck,
            "--settle", "200ms", "--max-files-per-batch", PER_BATCH]
    cp = run_smarttech(*base, "--once", timeout=170)
    want_batches = math.ceil(FILES / PER_BATCH)
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("bronze: batch ")]
    assert len(lines) == want_batches, cp.stdout
    assert all(f"files {PER_BATCH}," in ln for ln in lines[:-1]) and f"files {FILES % PER_BATCH}," in lines[-1]

    # one commit per batch after the CREATE TABLE (version 0); nothing quarantined, no commit there
    assert table_version(out) == want_batches
    assert table_version(quar) == 0
    txns, files_per_commit = [], []
    for v in range(1, want_batches + 1):
        actions = [json.loads(x) for x in (out / "_delta_log" / f"{v:020d}.json").read_text().splitlines()]
        txns += [a["txn"] for a in actions if "txn" in a]
        info = [a["commitInfo"] for a in actions if "commitInfo" in a][0]
        files_per_commit.append(len(info["bronzeFiles"]))
    assert [(t["appId"], t["version"]) for t in txns] == [("bronze-files", b) for b in range(want_batches)]
    assert sum(files_per_commit) == FILES and max(files_per_commit) == PER_BATCH
    # the checkpoint folder does not grow with history (issue 13): the processed-file index holds what the
    # committed batches' logs said, so batches/ keeps the newest log only
    assert sorted(p.name for p in (ck / "batches").iterdir()) == [f"{want_batches - 1}.json"]

    rows = read_table(out)
    assert len(rows) == FILES * 2 == duckdb_count(out)
    assert len({(r["source_file"], r["source_line"]) for r in rows}) == FILES * 2
    assert sorted(processed_names(ck)) == sorted(p.name for p in inp.iterdir())

    # test 6 again at this scale: a restart with nothing new commits nothing
    cp = run_smarttech(*base, "--once", timeout=120)
    assert "0 batches" in cp.stdout, cp.stdout
    assert table_version(out) == want_batches and table_version(quar) == 0
