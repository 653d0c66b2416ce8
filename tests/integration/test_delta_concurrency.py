"""Two processes append to one Delta table at the same time (issue 2, shown 4).

Each process commits 100 versions (put-if-absent on the next _delta_log JSON, re-read and
retry on conflict). Afterwards: version 200 (create is 0), every committed file exists, no
commit is lost (each writer's 100 commits and rows are there), readers agree.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import smarttech_path

deltalake = pytest.importorskip("deltalake")


def tool(name):
    p = smarttech_path().parent / name
    if not os.access(p, os.X_OK):
        pytest.fail(f"{p} not built: build the tools target (make build)")
    return str(p)


def test_two_writers_append_100_commits_each(tmp_path):
    path = tmp_path / "t"
    subprocess.run([tool("delta_testwriter"), "create", str(path)], check=True, capture_output=True)
    emits = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    procs = [
        subprocess.Popen([tool("delta_testwriter"), "append", str(path), "--commits", "100", "--rows", "3",
                          "--app", app, "--start-id", str(start), "--emit", str(emit)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for app, start, emit in (("writer-a", 0, emits[0]), ("writer-b", 500000, emits[1]))
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    # each process ends at some version <= 200; one of them made the last commit
    assert max(int(o.strip()) for o, _ in outs) == 200

    log = path / "_delta_log"
    commits = sorted(f for f in os.listdir(log) if f.endswith(".json"))
    assert commits == [f"{v:020d}.json" for v in range(201)]
    per_app = {"writer-a": [], "writer-b": []}
    added = []
    for v in range(1, 201):
        actions = [json.loads(line) for line in (log / f"{v:020d}.json").read_text().splitlines() if line]
        txns = [a["txn"] for a in actions if "txn" in a]
        assert len(txns) == 1
        per_app[txns[0]["appId"]].append(txns[0]["version"])
        assert actions[0]["commitInfo"]["readVersion"] == v - 1
        added += [a["add"]["path"] for a in actions if "add" in a]
    # no commit lost: each writer's batches 1..100 appear exactly once, in order
    assert per_app["writer-a"] == list(range(1, 101))
    assert per_app["writer-b"] == list(range(1, 101))
    assert len(added) == len(set(added)) == 200 * 3  # 3 rows per commit, one date each
    for p in added:
        assert (path / p).is_file(), p

    info = json.loads(subprocess.run([str(smarttech_path()), "table", "info", str(path), "--json"],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["version"] == 200
    assert info["num_files"] == 600 and info["num_rows"] == 600
    assert info["txns"] == {"writer-a": 100, "writer-b": 100}

    t = deltalake.DeltaTable(str(path))
    assert t.version() == 200
    ids = sorted(t.to_pyarrow_table(columns=["event_id"]).column("event_id").to_pylist())
    want = sorted(json.loads(line)["event_id"] for e in emits for line in e.read_text().splitlines())
    assert ids == want and len(ids) == 600
