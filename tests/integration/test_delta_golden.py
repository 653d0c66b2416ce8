"""`smarttech table info` on Delta's golden tables, against delta-rs (issue 8, "What must be shown" 3).

Every table of $SMARTTECH_TESTDATA/delta-golden (any folder holding a _delta_log, nested ones too):
  - when delta-rs loads it and we do: same version, same number of active files, same total size,
    and the same row count (ours comes from the `add` stats; delta-rs's from reading the data, or
    from its add actions' num_records when it cannot read the data) -- at every version (time
    travel with --version N);
  - REFUSED: we refuse (exit 1) with a message naming the unsupported feature;
  - DELTA_RS_FAILS: delta-rs itself cannot load the table (the test says why); we must exit 0 or 1
    with a message, no crash, no sanitizer report (also through the ASan binary when present).
Plus scenarios on private copies: checkpoint reading with the JSON commits before it deleted (so
the checkpoint must be used), multi-part checkpoints, missing / corrupt / stale _last_checkpoint
(fall back to listing), and a gap in the versions (clear error).
The corpus is read in place (conftest.corpus_dir: default ../shared/testdata next to the repository; this module
is skipped, saying so, when it is absent).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO, corpus_dir

GOLDEN = corpus_dir("delta-golden")  # skips this module when the corpus is absent (conftest.corpus_dir)

# Tables we refuse: table -> the feature the message must name.
REFUSED = {
    "basic-with-vacuum-protocol-check-feature": "vacuumProtocolCheck",
    "data-reader-timestamp_ntz": "timestampNtz",
    "data-reader-timestamp_ntz-id-mode": "timestampNtz",
    "data-reader-timestamp_ntz-name-mode": "timestampNtz",
    "data-skipping-basic-stats-all-types-columnmapping-id": "columnMapping",
    "data-skipping-basic-stats-all-types-columnmapping-name": "columnMapping",
    "dv-with-columnmapping": "deletionVectors",
    "log-replay-dv-key-cases": "deletionVectors",
    "parquet-all-types": "timestampNtz",
    "parquet-all-types-legacy-format": "timestampNtz",
    "table-with-columnmapping-mode-id": "columnMapping",
    "table-with-icebegCompatV2Enabled": "columnMapping",
    "type-widening": "timestampNtz",
    "type-widening-nested": "typeWidening",
    "spark-variant-checkpoint": "variantType",
}
# Tables delta-rs cannot load: table -> why (its error). We only check that we do not crash.
DELTA_RS_FAILS = {
    "canonicalized-paths-normal-a": "metaData without schemaString (a log-store test fixture)",
    "canonicalized-paths-normal-b": "metaData without schemaString (a log-store test fixture)",
    "canonicalized-paths-special-b": "metaData without schemaString (a log-store test fixture)",
    "deltalog-commit-info": "metaData without schemaString",
    "data-reader-absolute-paths-escaped-chars": "no metaData in the log",
    "deltalog-state-reconstruction-from-checkpoint-missing-metadata": "checkpoint without metaData",
    "deltalog-state-reconstruction-from-checkpoint-missing-protocol": "checkpoint metaData without schemaString",
    "deltalog-state-reconstruction-without-metadata": "no metaData in the log",
    "deltalog-state-reconstruction-without-protocol": "no protocol in the log",
    "update-deleted-directory": "checkpoint metaData without schemaString",
}
# Folders of the corpus that are not tables (no _delta_log): we must say so.
NOT_TABLES = ["hive", "log-store-listFrom", "log-store-read", "no-delta-log-folder",
              "data-reader-date-types-America", "data-reader-date-types-Asia", "data-reader-date-types-Etc"]


def golden_tables():
    if not GOLDEN.is_dir():
        return []
    return sorted(p.parent.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("_delta_log") if p.is_dir())


def asan_bin() -> Path | None:
    env = os.environ.get("SMARTTECH_ASAN_BIN")
    p = Path(env) if env else REPO / "build-asan" / "smarttech"
    return p if os.access(p, os.X_OK) else None


def info(binary, path, *extra):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:exitcode=99", UBSAN_OPTIONS="halt_on_error=1:exitcode=98")
    cp = subprocess.run([str(binary), "table", "info", str(path), "--json", *map(str, extra)], capture_output=True,
                        text=True, timeout=300, env=env)
    assert "Sanitizer" not in cp.stderr and "runtime error" not in cp.stderr, cp.stderr
    assert cp.returncode in (0, 1), f"table info {path} exited {cp.returncode}: {cp.stderr[-3000:]}"
    if cp.returncode:
        assert cp.stderr.strip(), f"table info {path}: exit 1 without a message"
        return None, cp.stderr
    return json.loads(cp.stdout), cp.stderr


def delta_rs(path, version=None):
    """(version, files, bytes, rows) as delta-rs sees the table; rows from the data when delta-rs can
    read it, else the sum of the add actions' num_records (None when some add has no stats)."""
    from deltalake import DeltaTable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dt = DeltaTable(str(path), version=version)
        adds = dt.get_add_actions(flatten=True)
        adds = adds.to_pyarrow() if hasattr(adds, "to_pyarrow") else adds
        sizes = adds.column("size_bytes").to_pylist() if adds.num_rows else []
        recs = adds.column("num_records").to_pylist() if "num_records" in adds.column_names else []
        try:
            rows = dt.to_pyarrow_dataset().count_rows()
        except Exception:
            rows = None if None in recs else sum(recs)
        return dt.version(), adds.num_rows, sum(sizes), rows, (None in recs or not adds.num_rows)


def assert_agrees(ours, path, version=None):
    v, nfiles, nbytes, rows, stats_missing = delta_rs(path, version)
    where = f"{path.name}@{version if version is not None else 'latest'}"
    assert ours["version"] == v, f"{where}: version ours {ours['version']}, delta-rs {v}"
    assert ours["num_files"] == nfiles, f"{where}: files ours {ours['num_files']}, delta-rs {nfiles}"
    assert ours["size_bytes"] == nbytes, f"{where}: bytes ours {ours['size_bytes']}, delta-rs {nbytes}"
    if ours["num_rows"] is None:
        # we count rows from stats only: unknown when an add has none
        assert stats_missing, f"{where}: we report no row count though every add has stats"
    else:
        assert rows is not None and ours["num_rows"] == rows, f"{where}: rows ours {ours['num_rows']}, delta-rs {rows}"


def versions_of(path: Path):
    return sorted(int(p.name.split(".")[0]) for p in (path / "_delta_log").glob("*.json")
                  if p.name.split(".")[0].isdigit())


# ----------------------------------------------------------------------------- the corpus

def test_corpus_present_and_lists_current():
    tables = golden_tables()
    assert len(tables) > 60, f"delta-golden corpus missing at {GOLDEN}"
    stale = [t for t in list(REFUSED) + list(DELTA_RS_FAILS) if t not in tables]
    assert not stale, f"lists name tables that are not in the corpus: {stale}"


@pytest.mark.parametrize("table", [t for t in golden_tables() if t not in REFUSED and t not in DELTA_RS_FAILS])
def test_table_info_agrees_with_delta_rs_at_every_version(smarttech_bin, table):
    path = GOLDEN / table
    ours, err = info(smarttech_bin, path)
    assert ours is not None, f"{table}: we refused a table delta-rs reads: {err}"
    assert_agrees(ours, path)
    versions = versions_of(path)
    for v in versions[:-1]:
        try:
            delta_rs(path, v)
        except Exception:
            continue  # delta-rs cannot go back there either (commits before a checkpoint removed)
        past, err = info(smarttech_bin, path, "--version", v)
        assert past is not None, f"{table} --version {v}: {err}"
        assert_agrees(past, path, v)


@pytest.mark.parametrize("table", sorted(REFUSED))
def test_unsupported_feature_is_refused_by_name(smarttech_bin, table):
    ours, err = info(smarttech_bin, GOLDEN / table)
    assert ours is None, f"{table}: we read a table whose feature {REFUSED[table]} we do not implement"
    assert REFUSED[table] in err and "supported" in err, f"{table}: message does not name the feature: {err}"


@pytest.mark.parametrize("table", sorted(DELTA_RS_FAILS))
def test_tables_delta_rs_rejects_do_not_crash_us(smarttech_bin, table):
    path = GOLDEN / table
    with pytest.raises(Exception):
        delta_rs(path)  # if delta-rs learns to read it, move the table to the agreement test
    ours, err = info(smarttech_bin, path)
    if ours is None:
        assert table.split("/")[-1] in err or "_delta_log" in err, err
    binary = asan_bin()
    if binary:
        info(binary, path)


@pytest.mark.parametrize("folder", NOT_TABLES)
def test_folders_without_a_log_are_not_tables(smarttech_bin, folder):
    ours, err = info(smarttech_bin, GOLDEN / folder)
    assert ours is None and "not a Delta table" in err, err


def test_whole_corpus_under_asan():
    binary = asan_bin()
    if binary is None:
        pytest.skip("no ASan binary: build build-asan (make asan) or set SMARTTECH_ASAN_BIN")
    for table in golden_tables():
        info(binary, GOLDEN / table)   # asserts: exit 0/1, no sanitizer report


# ----------------------------------------------------------------------------- scenarios on copies

def copy_table(src: str, tmp_path: Path) -> Path:
    dst = tmp_path / src.replace("/", "_")
    shutil.copytree(GOLDEN / src, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def drop_commits_up_to(path: Path, version: int):
    for p in (path / "_delta_log").glob("*.json"):
        if p.name.split(".")[0].isdigit() and int(p.name.split(".")[0]) <= version and ".checkpoint." not in p.name:
            p.unlink()


@pytest.mark.parametrize("table,cp", [("125-iterator-bug", 10), ("basic-with-inserts-overwrite-restore", 3),
                                      ("corrupted-last-checkpoint-kernel", 10)])
def test_classic_checkpoint_is_read(smarttech_bin, tmp_path, table, cp):
    """The commits up to the checkpoint are deleted: only a correct checkpoint read gives the state."""
    path = copy_table(table, tmp_path)
    drop_commits_up_to(path, cp)
    ours, err = info(smarttech_bin, path)
    assert ours is not None, err
    assert ours["checkpoint_version"] == cp
    assert_agrees(ours, path)


def split_checkpoint(path: Path, version: int, parts: int):
    """Rewrites the classic checkpoint of `version` as a multi-part one (same rows, `parts` files)."""
    log = path / "_delta_log"
    single = log / f"{version:020d}.checkpoint.parquet"
    t = pq.read_table(single)
    single.unlink()
    step = -(-t.num_rows // parts)
    for i in range(parts):
        pq.write_table(t.slice(i * step, step), log / f"{version:020d}.checkpoint.{i + 1:010d}.{parts:010d}.parquet")
    (log / "_last_checkpoint").write_text(json.dumps({"version": version, "size": t.num_rows, "parts": parts}))


@pytest.mark.parametrize("table,cp", [("125-iterator-bug", 10), ("basic-with-inserts-overwrite-restore", 3)])
def test_multi_part_checkpoint(smarttech_bin, tmp_path, table, cp):
    path = copy_table(table, tmp_path)
    split_checkpoint(path, cp, 3)
    drop_commits_up_to(path, cp)
    ours, err = info(smarttech_bin, path)
    assert ours is not None, err
    assert ours["checkpoint_version"] == cp
    assert_agrees(ours, path)


def test_incomplete_multi_part_checkpoint_is_not_used(smarttech_bin, tmp_path):
    path = copy_table("125-iterator-bug", tmp_path)
    split_checkpoint(path, 10, 3)
    next((path / "_delta_log").glob("*.checkpoint.0000000002.0000000003.parquet")).unlink()
    ours, err = info(smarttech_bin, path)   # commits 0..11 are all there: replay them
    assert ours is not None, err
    assert ours["checkpoint_version"] is None
    assert_agrees(ours, GOLDEN / "125-iterator-bug")   # delta-rs refuses the copy (hint without checkpoint)


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "future-version", "truncated-json"])
def test_last_checkpoint_damage_falls_back_to_listing(smarttech_bin, tmp_path, damage):
    path = copy_table("125-iterator-bug", tmp_path)
    lc = path / "_delta_log" / "_last_checkpoint"
    if damage == "missing":
        lc.unlink()
    elif damage == "empty":
        lc.write_text("")
    elif damage == "garbage":
        lc.write_bytes(b"\x00\xffnot json at all")
    elif damage == "future-version":
        lc.write_text('{"version":99,"size":13}')
    else:
        lc.write_text('{"version":1')
    drop_commits_up_to(path, 9)   # the checkpoint at 10 is needed
    ours, err = info(smarttech_bin, path)
    assert ours is not None, f"{damage}: {err}"
    assert ours["checkpoint_version"] == 10
    # against the untouched table: delta-rs itself refuses a hint naming a missing checkpoint
    assert_agrees(ours, GOLDEN / "125-iterator-bug")


def test_gap_in_versions_is_a_clear_error(smarttech_bin, tmp_path):
    path = copy_table("snapshot-data3", tmp_path)
    (path / "_delta_log" / f"{2:020d}.json").unlink()
    ours, err = info(smarttech_bin, path)
    assert ours is None and "00000000000000000002.json" in err and "missing" in err, err
    past, err = info(smarttech_bin, path, "--version", 1)   # before the gap: fine
    assert past is not None and past["version"] == 1, err


def test_version_past_the_end_is_a_clear_error(smarttech_bin):
    ours, err = info(smarttech_bin, GOLDEN / "snapshot-data3", "--version", 99)
    assert ours is None and "99" in err and "does not exist" in err, err


def test_v2_checkpoint_json_is_read(smarttech_bin, tmp_path):
    """v2 checkpoint (JSON top level + Parquet sidecars) with the commits up to it deleted."""
    path = copy_table("v2-checkpoint-json", tmp_path)
    drop_commits_up_to(path, 2)
    ours, err = info(smarttech_bin, path)
    assert ours is not None, err
    assert ours["checkpoint_version"] == 2 and ours["version"] == 2
    assert_agrees(ours, GOLDEN / "v2-checkpoint-json")


def test_v2_checkpoint_parquet_is_read(smarttech_bin, tmp_path):
    """The same v2 checkpoint rewritten with a Parquet top-level file (the other v2 form)."""
    import pyarrow as pa
    path = copy_table("v2-checkpoint-json", tmp_path)
    log = path / "_delta_log"
    top = next(log.glob("*.checkpoint.*.json"))
    rows = [json.loads(l) for l in top.read_text().splitlines() if l.strip()]
    strmap = pa.map_(pa.string(), pa.string())
    schema = pa.schema([
        ("protocol", pa.struct([("minReaderVersion", pa.int32()), ("minWriterVersion", pa.int32()),
                                ("readerFeatures", pa.list_(pa.string())), ("writerFeatures", pa.list_(pa.string()))])),
        ("metaData", pa.struct([("id", pa.string()), ("format", pa.struct([("provider", pa.string()),
                                                                            ("options", strmap)])),
                                ("schemaString", pa.string()), ("partitionColumns", pa.list_(pa.string())),
                                ("configuration", strmap), ("createdTime", pa.int64())])),
        ("checkpointMetadata", pa.struct([("version", pa.int64())])),
        ("sidecar", pa.struct([("path", pa.string()), ("sizeInBytes", pa.int64()), ("modificationTime", pa.int64())])),
    ])
    cols = {f.name: [] for f in schema}
    for r in rows:
        for name in cols:
            v = r.get(name)
            if name == "metaData" and v:
                v = dict(v, configuration=list(v.get("configuration", {}).items()),
                         format=dict(v["format"], options=list(v["format"].get("options", {}).items())))
            cols[name].append(v)
    pq.write_table(pa.table(cols, schema=schema), top.with_suffix(".parquet"))
    top.unlink()
    lc = json.loads((log / "_last_checkpoint").read_text())
    lc.pop("v2Checkpoint", None)
    (log / "_last_checkpoint").write_text(json.dumps(lc))
    drop_commits_up_to(path, 2)
    ours, err = info(smarttech_bin, path)
    assert ours is not None, err
    assert ours["checkpoint_version"] == 2
    assert ours["protocol"]["minReaderVersion"] == 3
    assert_agrees(ours, GOLDEN / "v2-checkpoint-json")


def test_hostile_checkpoint_types_are_refused(smarttech_bin, tmp_path):
    """A checkpoint whose columns have the wrong physical types (add.path as int64) is a
    damaged file, never read as strings (this crashed the reader before)."""
    import pyarrow as pa
    log = tmp_path / "t" / "_delta_log"
    log.mkdir(parents=True)
    pq.write_table(pa.table({"add": pa.array([{"path": 12345, "size": "abc"}, None]),
                             "metaData": pa.array([None, {"id": 7}]),
                             "protocol": pa.array([None, {"minReaderVersion": "x"}])}),
                   log / f"{0:020d}.checkpoint.parquet")
    ours, err = info(smarttech_bin, tmp_path / "t")
    assert ours is None and "unexpected type" in err, err
    binary = asan_bin()
    if binary:
        info(binary, tmp_path / "t")


def test_reader_version_99_is_refused_by_name(smarttech_bin, tmp_path):
    """The corpus has no such table: a copy of snapshot-data0 whose next commit raises the
    protocol to reader version 99. Time travel to before it still works."""
    path = copy_table("snapshot-data0", tmp_path)
    (path / "_delta_log" / f"{1:020d}.json").write_text(
        json.dumps({"protocol": {"minReaderVersion": 99, "minWriterVersion": 99}}) + "\n")
    ours, err = info(smarttech_bin, path)
    assert ours is None and "reader version 99" in err and "not supported" in err, err
    past, err = info(smarttech_bin, path, "--version", 0)
    assert past is not None and past["version"] == 0, err
