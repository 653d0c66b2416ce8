"""Delta tables written by our C code, read by independent readers (issue 2, shown 2, 3, 5).

2. A date-partitioned table built in 50 commits by tools/delta_testwriter is read by delta-rs,
   DuckDB's delta extension and Spark + delta-spark: same rows, schema and version.
3. delta-rs's add actions carry numRecords / min / max / nullCount equal to the real data.
5. After 25 commits checkpoints 10 and 20 exist, delta-rs and Spark load the table (also with the
   JSON commits before the checkpoint deleted, so the checkpoint itself is what they read), and
   our snapshot from the checkpoint equals our snapshot from JSON replay.
"""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import pathlib
import shutil
import subprocess

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import smarttech_path

deltalake = pytest.importorskip("deltalake")
duckdb = pytest.importorskip("duckdb")

COLUMNS = ["event_id", "sensor_id", "value", "seq", "floor", "ok", "event_time", "event_date"]
# delta type -> (delta-rs type, duckdb type, spark simpleString)
TYPES = {
    "event_id": ("string", "VARCHAR", "string"),
    "sensor_id": ("string", "VARCHAR", "string"),
    "value": ("double", "DOUBLE", "double"),
    "seq": ("long", "BIGINT", "bigint"),
    "floor": ("integer", "INTEGER", "int"),
    "ok": ("boolean", "BOOLEAN", "boolean"),
    "event_time": ("timestamp", "TIMESTAMP WITH TIME ZONE", "timestamp"),
    "event_date": ("date", "DATE", "date"),
}
SPARK_DELTA_PACKAGE = os.environ.get("SMARTTECH_DELTA_SPARK_PACKAGE", "io.delta:delta-spark_4.2_2.13:4.4.0")


def tool(name: str) -> str:
    p = smarttech_path().parent / name
    if not os.access(p, os.X_OK):
        pytest.fail(f"{p} not built: build the tools target (make build)")
    return str(p)


def run_tool(*args, check=True):
    cp = subprocess.run([tool("delta_testwriter"), *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and cp.returncode != 0:
        pytest.fail(f"delta_testwriter {' '.join(map(str, args))} exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
    return cp


def build_table(path: pathlib.Path, commits: int, rows: int, emit: pathlib.Path):
    run_tool("create", path)
    cp = run_tool("append", path, "--commits", commits, "--rows", rows, "--app", "testwriter", "--emit", emit)
    assert cp.stdout.strip() == str(commits)


def expected_rows(emit: pathlib.Path):
    out = []
    for line in emit.read_text().splitlines():
        r = json.loads(line)
        out.append((r["event_id"], r["sensor_id"], r["value"], r["seq"], r["floor"], r["ok"], r["event_time_us"],
                    r["event_date"]))
    return sorted(out)


def arrow_rows(tab: pa.Table):
    cols = []
    for name in COLUMNS:
        c = tab.column(name)
        if name == "event_time":
            c = c.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        cols.append(c.to_pylist())
    rows = []
    for r in zip(*cols):
        r = list(r)
        r[7] = r[7].isoformat()
        rows.append(tuple(r))
    return sorted(rows)


def duck_connect():
    import duckdb_ext  # ships the extension file (duckdb-ext-delta wheel); LOAD it by path, offline
    ext = glob.glob(str(pathlib.Path(list(duckdb_ext.__path__)[0]) / "extensions/*/*/delta.duckdb_extension"))
    assert ext, "duckdb-ext-delta wheel has no delta.duckdb_extension"
    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false",
                                 "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{ext[0]}'")
    return con


DUCK_SELECT = ("SELECT event_id, sensor_id, value, seq, floor, ok, epoch_us(event_time), "
               "strftime(event_date, '%Y-%m-%d') FROM {src}")


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession
    b = (SparkSession.builder.master("local[2]").appName("smarttech-delta-readers")
         .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
         .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
         .config("spark.driver.memory", "768m").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.shuffle.partitions", "2").config("spark.sql.session.timeZone", "UTC")
         # delta-spark 4.4.1's jar is not on Maven Central; 4.4.0 is the same Delta line for Spark 4.2
         .config("spark.jars.packages", SPARK_DELTA_PACKAGE)
         # Spark ships these; a pom-only ~/.m2 entry would otherwise break Ivy's resolution
         .config("spark.jars.excludes", "org.apache.logging.log4j:log4j-api,org.apache.logging.log4j:log4j-core,"
                                        "org.apache.logging.log4j:log4j-slf4j2-impl,org.slf4j:slf4j-api"))
    s = b.getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def spark_rows(spark, path):
    df = spark.read.format("delta").load(str(path))
    df = df.selectExpr("event_id", "sensor_id", "value", "seq", "floor", "ok", "unix_micros(event_time) AS t",
                       "date_format(event_date, 'yyyy-MM-dd') AS d")
    return sorted(tuple(r) for r in df.collect()), df


def spark_version(spark, path):
    return spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0]["version"]


@pytest.fixture(scope="module")
def table50(tmp_path_factory):
    d = tmp_path_factory.mktemp("delta50")
    path, emit = d / "t", d / "rows.jsonl"
    build_table(path, 50, 40, emit)
    return path, expected_rows(emit)


@pytest.fixture(scope="module")
def table25(tmp_path_factory):
    d = tmp_path_factory.mktemp("delta25")
    path, emit = d / "t", d / "rows.jsonl"
    build_table(path, 25, 30, emit)
    return path, expected_rows(emit)


# ------------------------------------------------------------------------------ 2. readers agree

def test_deltars_reads_50_commit_table(table50):
    path, want = table50
    t = deltalake.DeltaTable(str(path))
    assert t.version() == 50
    assert t.metadata().partition_columns == ["event_date"]
    fields = {f.name: f.type.type for f in t.schema().fields}
    assert fields == {k: v[0] for k, v in TYPES.items()}
    got = arrow_rows(t.to_pyarrow_table())
    assert len(got) == 50 * 40
    assert got == want
    # a past version too
    assert deltalake.DeltaTable(str(path), version=10).to_pyarrow_table().num_rows == 10 * 40


def test_duckdb_reads_50_commit_table(table50):
    path, want = table50
    con = duck_connect()
    got = sorted(con.execute(DUCK_SELECT.format(src=f"delta_scan('{path}')")).fetchall())
    assert got == want
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM delta_scan('{path}')").fetchall()}
    assert types == {k: v[1] for k, v in TYPES.items()}
    con.execute(f"ATTACH '{path}' AS t50 (TYPE delta)")
    assert con.execute("SELECT count(*) FROM t50 AT (VERSION => 50)").fetchone()[0] == 50 * 40
    assert con.execute("SELECT count(*) FROM t50 AT (VERSION => 7)").fetchone()[0] == 7 * 40
    with pytest.raises(Exception):
        con.execute("SELECT count(*) FROM t50 AT (VERSION => 51)").fetchone()


def test_spark_reads_50_commit_table(spark, table50):
    path, want = table50
    got, df = spark_rows(spark, path)
    assert got == want
    types = {f.name: f.dataType.simpleString() for f in spark.read.format("delta").load(str(path)).schema.fields}
    assert types == {k: v[2] for k, v in TYPES.items()}
    assert spark_version(spark, path) == 50
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0]
    assert detail["partitionColumns"] == ["event_date"]
    info = json.loads(subprocess.run([str(smarttech_path()), "table", "info", str(path), "--json"],
                                     capture_output=True, text=True, check=True).stdout)
    assert detail["numFiles"] == info["num_files"]
    assert detail["sizeInBytes"] == info["size_bytes"]


def test_table_info_matches(table50):
    path, want = table50
    cp = subprocess.run([str(smarttech_path()), "table", "info", str(path), "--json"], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    info = json.loads(cp.stdout)
    t = deltalake.DeltaTable(str(path))
    assert info["version"] == 50 == t.version()
    assert info["num_rows"] == len(want)
    assert info["num_files"] == len(t.file_uris())
    assert info["partition_columns"] == ["event_date"]
    assert info["txns"] == {"testwriter": 50}
    assert [f["name"] for f in info["schema"]] == COLUMNS
    assert info["checkpoint_version"] == 50
    old = json.loads(subprocess.run([str(smarttech_path()), "table", "info", str(path), "--json", "--version", "5"],
                                    capture_output=True, text=True, check=True).stdout)
    assert old["version"] == 5 and old["num_rows"] == 5 * 40 and old["txns"] == {"testwriter": 5}
    text = subprocess.run([str(smarttech_path()), "table", "info", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert "version          50" in text and "event_date" in text


# ------------------------------------------------------------------------------ 3. stats

def _ts_us(v):
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return int((v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) / dt.timedelta(microseconds=1))
    return v


def test_add_action_stats_match_data(table50):
    path, _ = table50
    t = deltalake.DeltaTable(str(path))
    actions = pa.table(t.get_add_actions(flatten=True)).to_pylist()
    assert len(actions) == len(t.file_uris())
    checked = 0
    for a in actions:
        data = pq.read_table(os.path.join(str(path), a["path"]))
        assert a["num_records"] == data.num_rows
        assert a["partition.event_date"] is not None
        for col in COLUMNS[:-1]:
            c = data.column(col)
            assert a[f"null_count.{col}"] == c.null_count, (a["path"], col)
            if col == "ok":
                continue  # no min/max for booleans (as Spark)
            nonnull = pc.drop_null(c)
            if len(nonnull) == 0:
                continue
            lo, hi = pc.min(nonnull).as_py(), pc.max(nonnull).as_py()
            if col == "event_time":
                lo_us, hi_us = _ts_us(lo), _ts_us(hi)
                smin, smax = _ts_us(a[f"min.{col}"]), _ts_us(a[f"max.{col}"])
                # millisecond stats: min truncated down, max rounded up, so both stay bounds
                assert smin == lo_us - lo_us % 1000
                assert smax == hi_us + (-hi_us) % 1000
            else:
                assert a[f"min.{col}"] == lo, (a["path"], col)
                assert a[f"max.{col}"] == hi, (a["path"], col)
        checked += 1
    assert checked > 100


# ------------------------------------------------------------------------------ 5. checkpoints

def our_snapshot(path, *extra):
    return json.loads(run_tool("snapshot", path, *extra).stdout)


def test_checkpoints_written_and_equal_to_json_replay(table25):
    path, want = table25
    log = path / "_delta_log"
    assert (log / "00000000000000000010.checkpoint.parquet").exists()
    assert (log / "00000000000000000020.checkpoint.parquet").exists()
    assert not (log / "00000000000000000030.checkpoint.parquet").exists()
    last = json.loads((log / "_last_checkpoint").read_text())
    assert last["version"] == 20
    assert last["size"] == pq.ParquetFile(log / "00000000000000000020.checkpoint.parquet").metadata.num_rows
    from_cp = our_snapshot(path)
    from_json = our_snapshot(path, "--no-checkpoint")
    assert from_cp["checkpoint_version"] == 20
    assert from_json["checkpoint_version"] == -1
    assert from_cp["state"] == from_json["state"]
    assert from_cp["state"]["version"] == 25
    # an older version from checkpoint 10 + JSON
    a, b = our_snapshot(path, "--version", "15"), our_snapshot(path, "--version", "15", "--no-checkpoint")
    assert a["checkpoint_version"] == 10 and a["state"] == b["state"]


def test_readers_load_checkpointed_table(spark, table25):
    path, want = table25
    t = deltalake.DeltaTable(str(path))
    assert t.version() == 25
    assert arrow_rows(t.to_pyarrow_table()) == want
    got, _ = spark_rows(spark, path)
    assert got == want
    assert spark_version(spark, path) == 25


def test_readers_use_checkpoint_content(spark, table25, tmp_path):
    """With the commits up to 20 gone, the checkpoint is the only source of the state."""
    path, want = table25
    cut = tmp_path / "cut"
    shutil.copytree(path, cut)
    for v in range(0, 20):
        (cut / "_delta_log" / f"{v:020d}.json").unlink()
    t = deltalake.DeltaTable(str(cut))
    assert t.version() == 25
    assert arrow_rows(t.to_pyarrow_table()) == want
    con = duck_connect()
    assert sorted(con.execute(DUCK_SELECT.format(src=f"delta_scan('{cut}')")).fetchall()) == want
    got, _ = spark_rows(spark, cut)
    assert got == want
    ours = our_snapshot(cut)
    assert ours["checkpoint_version"] == 20
    assert ours["state"] == our_snapshot(path, "--no-checkpoint")["state"]


# ------------------------------------------------------------------------------ partition escaping

def test_string_partitions_with_odd_characters(spark, tmp_path):
    """Partition values with spaces, '/', ':', '%', '=', '#', '?' and non-ASCII (Hive-escaped folders,
    URI-encoded add paths) and nulls (__HIVE_DEFAULT_PARTITION__) read back identically everywhere."""
    path, emit = tmp_path / "t", tmp_path / "rows.jsonl"
    run_tool("create", path, "--partition-by-sensor")
    run_tool("append", path, "--commits", 3, "--rows", 30, "--odd-sensors", "--emit", emit)
    want = expected_rows(emit)
    assert {r[1] for r in want} == {"s 0", "a/b:c", "100%", "é=ü", "x#y?z", None}
    dirs = sorted(p.name for p in path.iterdir() if p.is_dir() and p.name != "_delta_log")
    assert "sensor_id=a%2Fb%3Ac" in dirs and "sensor_id=__HIVE_DEFAULT_PARTITION__" in dirs
    t = deltalake.DeltaTable(str(path))
    assert t.metadata().partition_columns == ["sensor_id"]
    assert arrow_rows(t.to_pyarrow_table()) == want
    con = duck_connect()
    assert sorted(con.execute(DUCK_SELECT.format(src=f"delta_scan('{path}')")).fetchall()) == want
    got, _ = spark_rows(spark, path)
    assert got == want


# ------------------------------------------------------------------------------ interop

def test_spark_appends_and_deletes_then_we_continue(spark, tmp_path):
    """Spark writes commits (appends, a DELETE with remove actions) and its own checkpoint at
    version 10; our snapshot from Spark's checkpoint equals our JSON replay and Spark's count, and
    our writer then appends on top (Spark reads it)."""
    path = tmp_path / "t"
    run_tool("create", path)
    run_tool("append", path, "--commits", 5, "--rows", 10, "--app", "w")
    df = spark.read.format("delta").load(str(path)).limit(3)
    for _ in range(6):
        df.write.format("delta").mode("append").save(str(path))
    spark.sql(f"DELETE FROM delta.`{path}` WHERE event_date = '2026-05-27'")
    spark_count = spark.read.format("delta").load(str(path)).count()
    assert (path / "_delta_log" / f"{10:020d}.checkpoint.parquet").exists()
    a, b = our_snapshot(path), our_snapshot(path, "--no-checkpoint")
    assert a["checkpoint_version"] == 10
    assert a["state"] == b["state"]
    assert len(a["state"]["tombstones"]) > 0
    info = json.loads(subprocess.run([str(smarttech_path()), "table", "info", str(path), "--json"],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["version"] == 12 and info["num_rows"] == spark_count
    run_tool("append", path, "--commits", 2, "--rows", 10, "--app", "w2", "--start-id", 1000)
    assert spark.read.format("delta").load(str(path)).count() == spark_count + 20
    assert spark_version(spark, path) == 14
    assert deltalake.DeltaTable(str(path)).to_pyarrow_table().num_rows == spark_count + 20


def test_removes_in_our_checkpoint(spark, tmp_path):
    """A DELETE commit (remove actions) before checkpoint 10: the tombstones go into our
    checkpoint, and readers that start from it (JSON 0..9 deleted) see the right rows."""
    path, emit = tmp_path / "t", tmp_path / "rows.jsonl"
    run_tool("create", path)
    run_tool("append", path, "--commits", 8, "--rows", 12, "--emit", emit)
    out = run_tool("delete-date", path, "2026-05-28").stdout.split()
    assert out[0] == "9" and int(out[1]) == 8
    run_tool("append", path, "--commits", 2, "--rows", 12, "--start-id", 5000, "--emit", emit)
    want = [r for r in expected_rows(emit) if r[7] != "2026-05-28" or int(r[0][2:]) >= 5000]
    ck = pq.read_table(path / "_delta_log" / f"{10:020d}.checkpoint.parquet").to_pylist()
    assert sum(1 for r in ck if r["remove"] is not None) == 8
    for v in range(0, 10):
        (path / "_delta_log" / f"{v:020d}.json").unlink()
    t = deltalake.DeltaTable(str(path))
    assert t.version() == 11
    assert arrow_rows(t.to_pyarrow_table()) == want
    got, _ = spark_rows(spark, path)
    assert got == want
    con = duck_connect()
    assert sorted(con.execute(DUCK_SELECT.format(src=f"delta_scan('{path}')")).fetchall()) == want
    ours = our_snapshot(path)
    assert ours["checkpoint_version"] == 10 and len(ours["state"]["tombstones"]) == 8


def test_filters_using_stats_lose_no_rows(spark, table50):
    """Readers may skip files by our min/max stats: equality on a sub-millisecond timestamp that is a
    file's maximum, a range on doubles and a string equality must return exactly the matching rows.
    (Spark widens timestamp maxima itself; the exact rounding is checked by the stats test above.)"""
    path, want = table50
    # the largest timestamp of one data file (commit 6 = ids 200..239, date index 0): a truncated
    # max would make readers skip that file
    cands = [r for r in want if 200 <= int(r[0][2:]) < 240 and int(r[0][2:]) % 3 == 0 and r[6] is not None]
    probe = max(cands, key=lambda r: r[6])
    ts_us = probe[6]
    assert ts_us % 1000 != 0  # a value between the millisecond bounds
    iso = dt.datetime.fromtimestamp(ts_us / 1e6, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    exp_ts = [r for r in want if r[6] == ts_us]
    exp_val = [r for r in want if r[2] is not None and 100.0 <= r[2] <= 130.25]
    exp_eid = [r for r in want if r[0] == probe[0]]
    con = duck_connect()
    src = f"delta_scan('{path}')"
    q = DUCK_SELECT.format(src=src)
    assert sorted(con.execute(q + f" WHERE event_time = TIMESTAMPTZ '{iso}+00'").fetchall()) == exp_ts
    assert sorted(con.execute(q + " WHERE value BETWEEN 100.0 AND 130.25").fetchall()) == exp_val
    assert sorted(con.execute(q + f" WHERE event_id = '{probe[0]}'").fetchall()) == exp_eid
    _, df = spark_rows(spark, path)
    assert sorted(tuple(r) for r in df.where(f"t = {ts_us}").collect()) == exp_ts
    sdf = spark.read.format("delta").load(str(path))
    assert sdf.where(f"event_time = timestamp'{iso}'").count() == len(exp_ts)
    assert sdf.where("value BETWEEN 100.0 AND 130.25").count() == len(exp_val)
    assert sdf.where(f"event_id = '{probe[0]}'").count() == len(exp_eid) == 1
