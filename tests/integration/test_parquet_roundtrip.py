"""Parquet writer/reader proven by independent readers (issue 2, "What must be shown" 1).

tools/pq_roundtrip writes files covering every type and codec (nulls, empty and non-ASCII
strings, INT64 extremes, NaN/±Inf, timestamps before 1970, 0 rows, 1 row, 1,000,000 rows over
several row groups, a nested map/list/struct file) plus manifest.json with the values it wrote.
pyarrow must read exactly those values; DuckDB must agree on counts and sums. The other way
round, `smarttech parquet cat` must read pyarrow-written files of the same types.

Binaries: pq_roundtrip in $SMARTTECH_BUILD_DIR (default: the directory of $SMARTTECH_BIN, else
<repo>/build); smarttech via the conftest fixture.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import struct
import subprocess
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import REPO, smarttech_path

TYPES = {
    "b": pa.bool_(), "ob": pa.bool_(), "i32": pa.int32(), "oi32": pa.int32(), "i64": pa.int64(),
    "oi64": pa.int64(), "f32": pa.float32(), "f64": pa.float64(), "of64": pa.float64(),
    "s": pa.string(), "os": pa.string(), "day": pa.date32(), "oday": pa.date32(),
    "ts": pa.timestamp("us", tz="UTC"), "ots": pa.timestamp("us", tz="UTC"),
}
REQUIRED = {"b", "i32", "i64", "f32", "f64", "s", "day", "ts"}


def build_dir() -> Path:
    env = os.environ.get("SMARTTECH_BUILD_DIR")
    if env:
        return Path(env)
    if os.environ.get("SMARTTECH_BIN"):
        return smarttech_path().parent
    return REPO / "build"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    exe = build_dir() / "pq_roundtrip"
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} not found: build the project (make build) or set SMARTTECH_BUILD_DIR")
    out = tmp_path_factory.mktemp("pq")
    subprocess.run([str(exe), str(out)], check=True, capture_output=True, text=True, timeout=600)
    manifest = json.loads((out / "manifest.json").read_text())
    return out, {c["name"]: c for c in manifest["cases"]}


def decode(v):
    """Manifest JSON conventions -> Python values (NaN/Infinity strings)."""
    if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf").replace("NaN", "nan"))
    return v


def same(a, b, is_f32=False):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if is_f32:
            b = struct.unpack("<f", struct.pack("<f", b))[0]
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def arrow_values(table: pa.Table, name: str):
    col = table.column(name)
    if pa.types.is_date32(col.type):
        col = col.cast(pa.int32())
    elif pa.types.is_timestamp(col.type):
        col = col.cast(pa.int64())
    return col.to_pylist()


def check_columns(table: pa.Table, expected: dict, rows: int):
    for name, want in expected.items():
        got = arrow_values(table, name)
        assert len(got) == rows, name
        want = [decode(v) for v in want]
        bad = [i for i, (g, w) in enumerate(zip(got, want)) if not same(g, w, name == "f32")]
        assert not bad, f"{name}: first differing row {bad[0]}: pyarrow {got[bad[0]]!r}, written {want[bad[0]]!r}"


TYPE_CASES = ["types_uncompressed", "types_snappy", "types_zstd", "types_plain_snappy",
              "dict_fallback_zstd", "zero_rows", "one_row"]


@pytest.mark.parametrize("name", TYPE_CASES)
def test_pyarrow_reads_exact_values(written, name):
    out, cases = written
    case = cases[name]
    path = out / case["file"]
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_rows == case["rows"]
    assert pf.metadata.num_row_groups == case["row_groups"]
    table = pf.read()
    for field in table.schema:
        assert field.type == TYPES[field.name], field
        assert field.nullable == (field.name not in REQUIRED), field
    # logical and legacy converted types are both present
    s = pf.schema
    assert s.column(s.names.index("s")).converted_type == "UTF8"
    assert s.column(s.names.index("day")).converted_type == "DATE"
    assert s.column(s.names.index("ts")).converted_type == "TIMESTAMP_MICROS"
    assert str(s.column(s.names.index("ts")).logical_type).startswith("Timestamp(isAdjustedToUTC=true")
    for rg in range(pf.metadata.num_row_groups):
        assert pf.metadata.row_group(rg).column(0).compression == case["codec"]
    check_columns(table, case["columns"], case["rows"])


def test_footer_statistics_match_data(written):
    out, cases = written
    case = cases["types_snappy"]
    pf = pq.ParquetFile(out / case["file"])
    table = pf.read()
    assert pf.metadata.num_row_groups > 1
    offset = 0
    for rg in range(pf.metadata.num_row_groups):
        meta = pf.metadata.row_group(rg)
        part = table.slice(offset, meta.num_rows)
        offset += meta.num_rows
        for ci in range(meta.num_columns):
            col = meta.column(ci)
            name = col.path_in_schema
            data = part.column(name)
            st = col.statistics
            assert st is not None and st.has_null_count, name
            assert st.null_count == data.null_count, name
            values = [v for v in data.to_pylist() if v is not None and not (isinstance(v, float) and math.isnan(v))]
            if not values:
                assert not st.has_min_max, name
                continue
            assert st.has_min_max, name
            if pa.types.is_string(data.type):
                # unsigned byte order of the UTF-8 bytes
                assert st.min.encode() == min(v.encode() for v in values), name
                assert st.max.encode() == max(v.encode() for v in values), name
            else:
                assert st.min == min(values) or (st.min == 0 and min(values) == 0), name
                assert st.max == max(values) or (st.max == 0 and max(values) == 0), name
    # the stats our writer reports to Delta equal the data
    oi64 = [v for v in table.column("oi64").to_pylist() if v is not None]
    assert case["stats"]["oi64"] == {"null_count": table.column("oi64").null_count, "min": min(oi64),
                                     "max": max(oi64), "has": 1}
    assert case["stats"]["os"]["null_count"] == table.column("os").null_count


def test_big_file_row_groups_and_values(written):
    out, cases = written
    case = cases["big_snappy"]
    path = out / case["file"]
    pf = pq.ParquetFile(path)
    assert case["rows"] == 1_000_000
    assert pf.metadata.num_rows == 1_000_000
    assert pf.metadata.num_row_groups == 4 == case["row_groups"]
    table = pf.read()
    for name, agg in case["aggregates"].items():
        col = table.column(name)
        assert len(col) - col.null_count == agg["count"], name
        if "sum" in agg:
            if pa.types.is_floating(col.type):
                got = pc.sum(col).as_py()
            else:   # exact Python integers: int64 sums may exceed 64 bits
                ints = col.cast(pa.int32()) if pa.types.is_date32(col.type) else col.cast(pa.int64())
                got = sum(v for v in ints.to_pylist() if v is not None)
            if isinstance(agg["sum"], float):
                assert math.isclose(got, agg["sum"], rel_tol=1e-9, abs_tol=1e-6), name
            else:
                assert got == agg["sum"], name
        else:
            assert pc.sum(pc.binary_length(col)).as_py() == agg["sum_len"], name
    check_columns(table.slice(0, case["sample_rows"]), case["columns"], case["sample_rows"])


@pytest.mark.parametrize("name", ["types_snappy", "types_zstd", "dict_fallback_zstd", "big_snappy", "zero_rows"])
def test_duckdb_agrees_on_counts_and_sums(written, name):
    out, cases = written
    case = cases[name]
    path = str(out / case["file"])
    con = duckdb.connect()
    n, ni32, si32, soi32, ni64, sday, nos, slen = con.execute(
        "select count(*), count(oi32), sum(i32::hugeint), sum(oi32::hugeint), count(oi64),"
        " sum((day - DATE '1970-01-01')::hugeint), count(os), sum(strlen(s)) from read_parquet(?)", [path]).fetchone()
    assert n == case["rows"]
    if "aggregates" not in case:
        cols = case["columns"]
        present = lambda c: [v for v in cols[c] if v is not None]
        assert ni32 == len(present("oi32"))
        assert ni64 == len(present("oi64"))
        assert nos == len(present("os"))
        if n:
            assert si32 == sum(present("i32"))
            assert soi32 == (sum(present("oi32")) if present("oi32") else None)
            assert sday == sum(present("day"))
            assert slen == sum(len(v.encode()) for v in present("s"))
    else:
        agg = case["aggregates"]
        assert ni32 == agg["oi32"]["count"] and ni64 == agg["oi64"]["count"] and nos == agg["os"]["count"]
        assert si32 == agg["i32"]["sum"] and soi32 == agg["oi32"]["sum"] and sday == agg["day"]["sum"]
        assert slen == agg["s"]["sum_len"]
        si64, sf64 = con.execute("select sum(i64::hugeint), sum(f64) from read_parquet(?)", [path]).fetchone()
        assert si64 == agg["i64"]["sum"]
        assert math.isclose(sf64, agg["f64"]["sum"], rel_tol=1e-9, abs_tol=1e-6)


def test_nested_many_rows_small_pages(written):
    """3,000 rows, pages of <= 100 levels, row groups of 1,000: every shape of null/empty/filled."""
    out, cases = written
    case = cases["nested_big"]
    pf = pq.ParquetFile(out / case["file"])
    assert pf.metadata.num_row_groups == 3
    got = pf.read().to_pylist()
    want = copy.deepcopy(case["rows_json"])
    for w in want:
        if w["add"] and w["add"]["partitionValues"] is not None:
            w["add"]["partitionValues"] = [tuple(kv) for kv in w["add"]["partitionValues"]]
    assert len(got) == len(want) == 3000
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"row {bad[0]}: pyarrow {got[bad[0]]!r}, written {want[bad[0]]!r}"
    n, nkeys, ntags = duckdb.connect().execute(
        "select count(*), sum(cardinality(add.partitionValues)), sum(len(add.tags)) from read_parquet(?)",
        [str(out / case["file"])]).fetchone()
    assert n == 3000
    assert nkeys == sum(len(w["add"]["partitionValues"] or []) for w in want if w["add"])
    assert ntags == sum(len(w["add"]["tags"] or []) for w in want if w["add"])


def test_nested_map_list_struct(written):
    out, cases = written
    case = cases["nested"]
    path = out / case["file"]
    table = pq.read_table(path)
    addt = table.schema.field("add").type
    assert pa.types.is_struct(addt)
    assert pa.types.is_map(addt.field("partitionValues").type)
    assert pa.types.is_list(addt.field("tags").type)
    got = table.to_pylist()
    want = copy.deepcopy(case["rows_json"])
    for g, w in zip(got, want):
        if w["add"] and w["add"]["partitionValues"] is not None:
            w["add"]["partitionValues"] = [tuple(kv) for kv in w["add"]["partitionValues"]]
    assert got == want
    rows = duckdb.connect().execute(
        "select id, add.path, cardinality(add.partitionValues), len(add.tags) from read_parquet(?) order by id",
        [str(path)]).fetchall()
    assert rows == [(0, "a", 2, 3), (1, None, None, None), (2, None, 0, None), (3, "b", None, 0)]


def test_our_cat_reads_our_nested_file(written, run_smarttech):
    out, cases = written
    cp = run_smarttech("parquet", "cat", out / "nested.parquet")
    rows = [json.loads(l) for l in cp.stdout.splitlines()]
    assert rows[0] == {"id": 0, "add": {"path": "a", "partitionValues": {"date": "2024-01-01", "x": None},
                                        "size": 10, "tags": [1, None, 3]}}
    assert rows[1] == {"id": 1, "add": None}
    assert rows[3]["add"]["tags"] == [] and rows[3]["add"]["partitionValues"] is None
    # and the big nested file, through our reader, equals what was written
    big = [json.loads(l) for l in run_smarttech("parquet", "cat", out / "nested_big.parquet").stdout.splitlines()]
    want = copy.deepcopy(cases["nested_big"]["rows_json"])
    for w in want:
        if w["add"] and w["add"]["partitionValues"] is not None:
            w["add"]["partitionValues"] = {k: v for k, v in w["add"]["partitionValues"]}
    assert big == want


# ------------------------------------------------------------------ pyarrow-written files, read by us

def pyarrow_table(n=3000):
    import random
    rnd = random.Random(7)
    strs = ["", "héllo wörld", "日本語", "emoji 🚀", "q\"\\", None]
    def opt(v, i):
        return None if i % 5 == 1 else v
    return pa.table({
        "b": pa.array([i % 3 == 0 for i in range(n)], pa.bool_()),
        "ob": pa.array([opt(i % 2 == 0, i) for i in range(n)], pa.bool_()),
        "i32": pa.array([rnd.randint(-2**31, 2**31 - 1) for _ in range(n)], pa.int32()),
        "i64": pa.array([(-2**63 if i == 0 else 2**63 - 1 if i == 1 else rnd.randint(-2**62, 2**62))
                         for i in range(n)], pa.int64()),
        "oi64": pa.array([opt(i * 1000, i) for i in range(n)], pa.int64()),
        "f64": pa.array([float("nan") if i == 2 else float("inf") if i == 3 else float("-inf") if i == 4
                         else rnd.uniform(-1e6, 1e6) for i in range(n)], pa.float64()),
        "s": pa.array([strs[i % 5] for i in range(n)], pa.string()),
        "os": pa.array([strs[i % 6] if i % 7 else f"u{i}" for i in range(n)], pa.string()),
        "day": pa.array([dt.date(1960, 1, 1) + dt.timedelta(days=i) for i in range(n)], pa.date32()),
        "ts": pa.array([dt.datetime(1969, 12, 31, 23, 0, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=7 * i,
                        microseconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "ots": pa.array([opt(i * 1_000_003 - 10**9, i) for i in range(n)], pa.timestamp("us", tz="UTC")),
    })


def as_cat_json(table: pa.Table):
    """The JSON `smarttech parquet cat` prints for these values."""
    rows = []
    cols = {n: table.column(n).to_pylist() for n in table.column_names}
    for i in range(table.num_rows):
        r = {}
        for n, vals in cols.items():
            v = vals[i]
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
            elif isinstance(v, dt.datetime):
                v = v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            elif isinstance(v, dt.date):
                v = v.isoformat()
            r[n] = v
        rows.append(r)
    return rows


def cat_rows(run_smarttech, path):
    cp = run_smarttech("parquet", "cat", path)
    return [json.loads(l) for l in cp.stdout.splitlines()]


def assert_rows_equal(got, want):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        for k in w:
            a, b = g[k], w[k]
            ok = a == b or (isinstance(b, float) and isinstance(a, (int, float)) and float(a) == b)
            assert ok, f"row {i} column {k}: ours {a!r}, pyarrow {b!r}"


@pytest.mark.parametrize("opts", [
    {"compression": "snappy"},
    {"compression": "snappy", "use_dictionary": False},
    {"compression": "snappy", "data_page_version": "2.0"},
    {"compression": "zstd"},
    {"compression": "gzip"},
    {"compression": "lz4"},
    {"compression": "none", "data_page_size": 1024},
], ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_our_reader_reads_pyarrow_files(tmp_path, run_smarttech, opts):
    table = pyarrow_table()
    path = tmp_path / "pa.parquet"
    pq.write_table(table, path, row_group_size=1000, **opts)
    assert_rows_equal(cat_rows(run_smarttech, path), as_cat_json(table))
    info = json.loads(run_smarttech("parquet", "info", path, "--json").stdout)
    assert info["num_rows"] == table.num_rows and info["num_row_groups"] == 3
    by = {c["path"]: c for c in info["columns"]}
    assert by["os"]["null_count"] == table.column("os").null_count
    assert by["ts"]["logical"] == "TIMESTAMP(MICROS,UTC)" and by["day"]["logical"] == "DATE"


@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
def test_our_reader_reads_pyarrow_delta_and_split_encodings(tmp_path, run_smarttech, page_version):
    n = 5000
    table = pa.table({
        "i32": pa.array([(i * 7919) % 100000 - 50000 if i % 11 else None for i in range(n)], pa.int32()),
        "i64": pa.array([i * 2**40 - 2**62 if i % 3 else -2**63 for i in range(n)], pa.int64()),
        "s": pa.array([f"prefix-common-{i // 10}-é{i}" if i % 7 else None for i in range(n)]),
        "s2": pa.array([f"x{i % 13}" for i in range(n)]),
        "f": pa.array([i * 0.5 if i % 5 else float("nan") for i in range(n)], pa.float64()),
        "f32": pa.array([i * 0.25 for i in range(n)], pa.float32()),
    })
    enc = {"i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED", "s": "DELTA_BYTE_ARRAY",
           "s2": "DELTA_LENGTH_BYTE_ARRAY", "f": "BYTE_STREAM_SPLIT", "f32": "BYTE_STREAM_SPLIT"}
    path = tmp_path / "enc.parquet"
    pq.write_table(table, path, use_dictionary=False, column_encoding=enc, data_page_version=page_version,
                   data_page_size=2000, row_group_size=3000)
    assert_rows_equal(cat_rows(run_smarttech, path), as_cat_json(table))


def test_our_reader_renders_int96_and_decimals(tmp_path, run_smarttech):
    from decimal import Decimal
    ts = [dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
          dt.datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=dt.timezone.utc), None]
    table = pa.table({
        "t96": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "d9": pa.array([Decimal("-12.34"), Decimal("0.05"), None], pa.decimal128(9, 2)),
        "d18": pa.array([Decimal("123456789012.345678"), Decimal("-0.000001"), Decimal("0")], pa.decimal128(18, 6)),
        "d38": pa.array([Decimal("-99999999999999999999999999999999999.999"), Decimal("1.5"), None],
                        pa.decimal128(38, 3)),
    })
    path = tmp_path / "legacy.parquet"
    pq.write_table(table, path, use_deprecated_int96_timestamps=True, store_decimal_as_integer=True)
    assert pq.ParquetFile(path).schema.column(0).physical_type == "INT96"
    cp = run_smarttech("parquet", "cat", path)
    lines = cp.stdout.splitlines()
    assert lines[0] == ('{"t96":"1969-12-31T23:59:59.999999Z","d9":-12.34,"d18":123456789012.345678,'
                        '"d38":-99999999999999999999999999999999999.999}')
    assert lines[1] == '{"t96":"2026-11-26T10:00:00.123456Z","d9":0.05,"d18":-0.000001,"d38":1.500}'
    assert lines[2] == '{"t96":null,"d9":null,"d18":0.000000,"d38":null}'


def test_our_reader_reads_pyarrow_nested(tmp_path, run_smarttech):
    table = pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "m": pa.array([[("a", "1"), ("b", None)], None, [], [("k", "v")]], pa.map_(pa.string(), pa.string())),
        "l": pa.array([[1, None, 2], [], None, [7]], pa.list_(pa.int32())),
        "st": pa.array([{"x": 1, "y": "p"}, None, {"x": None, "y": None}, {"x": 4, "y": "q"}],
                       pa.struct([("x", pa.int32()), ("y", pa.string())])),
    })
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    rows = cat_rows(run_smarttech, path)
    assert rows == [
        {"id": 1, "m": {"a": "1", "b": None}, "l": [1, None, 2], "st": {"x": 1, "y": "p"}},
        {"id": 2, "m": None, "l": [], "st": None},
        {"id": 3, "m": {}, "l": None, "st": {"x": None, "y": None}},
        {"id": 4, "m": {"k": "v"}, "l": [7], "st": {"x": 4, "y": "q"}},
    ]


def test_damaged_files_give_clear_errors(tmp_path, run_smarttech, written):
    out, _ = written
    good = (out / "types_snappy.parquet").read_bytes()
    garbage = tmp_path / "garbage-footer.parquet"
    garbage.write_bytes(good[:-200] + bytes(range(192)) + good[-8:])
    cp = run_smarttech("parquet", "info", garbage, check=False)
    assert cp.returncode == 1 and "garbage-footer.parquet" in cp.stderr and "damaged" in cp.stderr
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good[: len(good) // 2])
    cp = run_smarttech("parquet", "cat", truncated, check=False)
    assert cp.returncode == 1 and "truncated.parquet" in cp.stderr
    enc = tmp_path / "enc.parquet"
    enc.write_bytes(good[:-4] + b"PARE")
    cp = run_smarttech("parquet", "info", enc, check=False)
    assert cp.returncode == 1 and "encrypt" in cp.stderr
