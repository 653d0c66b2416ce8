"""Our Parquet reader against apache/parquet-testing (issue 8, "What must be shown" 1 and 2).

The corpus is read in place from $SMARTTECH_TESTDATA/parquet-testing/{data,bad_data} (conftest.corpus_dir:
default ../shared/testdata next to the repository; this module is skipped, saying so, when it is absent).

1. Every file of parquet-testing/data in our feature set: `smarttech parquet cat` prints the
   values pyarrow reads from the same file (oracle computed here, at test time).
2. Every file outside the feature set is refused (exit 1 or 2) with a message naming the
   feature: REFUSED below is the reviewed list, with the reason for each file.
3. Every bad_data file and every *.encrypted file: exit 1 or 2 with a message, no crash and no
   sanitizer report -- with the release binary and, when present, with the ASan+UBSan binary
   ($SMARTTECH_ASAN_BIN, else <repo>/build-asan/smarttech; `make integration` passes it).

How `parquet cat` renders values (and how the pyarrow side is normalized to compare):
  integers            JSON integers (unsigned INT(64,false) as unsigned)
  FLOAT / DOUBLE      JSON numbers, shortest round-trip form (%.9g / %.17g); NaN, Infinity and
                      -Infinity as strings. FLOAT16 as its value widened to a number.
                      FLOAT and FLOAT16 compare after rounding our value to float32.
  DECIMAL             exact JSON number literal with `scale` digits (parsed here as Decimal)
  DATE                "YYYY-MM-DD"
  TIMESTAMP           ISO-8601 "YYYY-MM-DDTHH:MM:SS.ffffff" + "Z" when isAdjustedToUTC; NANOS with
                      9 fraction digits. INT96 (legacy Spark/Impala) as microseconds UTC; pyarrow
                      is asked for INT96 in microseconds (coerce_int96_timestamp_unit="us").
  TIME                "HH:MM:SS.ffffff" (NANOS: 9 digits)
  strings             JSON strings (STRING/ENUM/JSON annotations); invalid UTF-8 bytes become U+FFFD
  binary              BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY without a text/decimal/float16
                      annotation: standard base64 with padding, as a JSON string
  struct / list / map JSON object / array / object keyed by the key's JSON text
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
import re
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO, corpus_dir, smarttech_path

CORPUS = corpus_dir("parquet-testing")  # skips this module when the corpus is absent (conftest.corpus_dir)
DATA, BAD = CORPUS / "data", CORPUS / "bad_data"

# Files outside the feature set: name -> (text the error message must contain, why).
REFUSED = {
    "large_string_map.brotli.parquet": ("BROTLI", "BROTLI codec: not in our codec set (pyarrow cannot read "
                                                  "this file whole either: nested chunked output)"),
}
# Files in data/ that are damaged on purpose: we must refuse them cleanly, naming the problem.
DAMAGED = {
    "nation.dict-malformed.parquet": ("page runs past the column chunk",
                                      "a page is longer than its column chunk (Arrow's tests call it "
                                      "'truncated data page'; pyarrow reads past the chunk, we do not)"),
}
# Files pyarrow refuses but DuckDB reads: DuckDB is the oracle for these.
DUCKDB_ORACLE = {
    "incorrect_map_schema.parquet": "MAP whose key is declared optional; pyarrow: 'Map keys must be "
                                    "annotated as required'",
}
# Values where pyarrow (and DuckDB) are wrong, checked against the value the file was written with.
# int96_from_spark row 5 is 290000-12-30T23:00 UTC: both convert INT96 through int64 nanoseconds
# and overflow; we convert day + nanoseconds directly to microseconds.
KNOWN_ORACLE_BUGS = {
    ("int96_from_spark.parquet", 5, "a"): "290000-12-30T23:00:00.000000Z",
}

# bad_data files that are in fact valid: the crash they reproduced was in one reader's decoder,
# and today's pyarrow reads them. For these we must give pyarrow's values (or refuse cleanly).
BAD_BUT_VALID = {
    "ARROW-GH-43605.parquet": "dictionary-encoded uint16 column that crashed Arrow's decoder; pyarrow reads 21186 rows",
}


def corpus_files():
    if not DATA.is_dir():
        return []
    return sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*.parquet"))


def asan_bin() -> Path | None:
    env = os.environ.get("SMARTTECH_ASAN_BIN")
    p = Path(env) if env else REPO / "build-asan" / "smarttech"
    return p if os.access(p, os.X_OK) else None


def run(binary, *args, timeout=300):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98")
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, timeout=timeout, env=env)


# ----------------------------------------------------------------------------- comparison

TS_RE = re.compile(r"^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z?)$")
TIME_RE = re.compile(r"^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?$")
EPOCH = dt.datetime(1970, 1, 1)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any year (Python's date stops at 9999)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def ts_ns(text: str):
    """Our ISO-8601 text -> (nanoseconds since epoch, has Z)."""
    m = TS_RE.match(text)
    assert m, f"not a timestamp: {text!r}"
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    days = days_from_civil(y, mo, d)
    return ((days * 86400 + h * 3600 + mi * 60 + s) * 10**9 + int(frac)), m.group(8) == "Z"


def as_ints(typ):
    """typ with every timestamp/date/time replaced by its integer storage, so that values Python's
    datetime cannot hold (year 290000 in int96_from_spark) compare exactly."""
    if pa.types.is_timestamp(typ) or pa.types.is_time64(typ) or pa.types.is_date64(typ):
        return pa.int64()
    if pa.types.is_date32(typ) or pa.types.is_time32(typ):
        return pa.int32()
    if pa.types.is_struct(typ):
        return pa.struct([pa.field(f.name, as_ints(f.type), f.nullable) for f in typ])
    if pa.types.is_map(typ):
        return pa.map_(as_ints(typ.key_type), pa.field(typ.item_field.name, as_ints(typ.item_type),
                                                        typ.item_field.nullable))
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        f = typ.value_field
        mk = pa.list_ if pa.types.is_list(typ) else pa.large_list
        return mk(pa.field(f.name, as_ints(f.type), f.nullable))
    return typ


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def key_text(typ, k):
    """How our cat names a map key: the key's JSON text, unquoted when it is a string."""
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return k
    if pa.types.is_boolean(typ):
        return "true" if k else "false"
    if isinstance(k, bytes):
        return base64.b64encode(k).decode()
    return str(k)


def check(typ, got, want, where, int96=False):
    """Asserts that our JSON value `got` (floats parsed as Decimal) renders pyarrow's `want`
    (timestamps, dates and times as integers in typ's unit: see as_ints). INT96 columns are
    UTC instants (Spark's meaning) that pyarrow leaves without a zone: int96=True."""
    if isinstance(typ, pa.ExtensionType):
        typ = typ.storage_type
        if hasattr(want, "bytes") and not isinstance(want, bytes):  # uuid.UUID
            want = want.bytes
    if want is None:
        assert got is None, f"{where}: ours {got!r}, pyarrow null"
        return
    assert got is not None, f"{where}: ours null, pyarrow {want!r}"
    if pa.types.is_boolean(typ):
        assert got is want, f"{where}: ours {got!r}, pyarrow {want!r}"
    elif pa.types.is_integer(typ):
        assert isinstance(got, int) and got == want, f"{where}: ours {got!r}, pyarrow {want!r}"
    elif pa.types.is_floating(typ):
        w = float(want)
        if math.isnan(w) or math.isinf(w):
            exp = "NaN" if math.isnan(w) else ("Infinity" if w > 0 else "-Infinity")
            assert got == exp, f"{where}: ours {got!r}, pyarrow {w!r}"
            return
        assert isinstance(got, (int, Decimal)), f"{where}: ours {got!r}, pyarrow {w!r}"
        g = float(got)
        if not pa.types.is_float64(typ):
            g, w = f32(g), f32(w)
        assert g == w, f"{where}: ours {got!r}, pyarrow {w!r}"
    elif pa.types.is_decimal(typ):
        assert isinstance(got, (int, Decimal)) and Decimal(got) == want, f"{where}: ours {got!r}, pyarrow {want!r}"
    elif pa.types.is_timestamp(typ):
        ns, z = ts_ns(got)
        unit = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[typ.unit]
        assert ns == want * unit, f"{where}: ours {got!r}, pyarrow {want} {typ.unit}"
        assert z == (typ.tz is not None or int96), f"{where}: ours {got!r}, pyarrow tz {typ.tz!r}"
    elif pa.types.is_date(typ):
        m = re.match(r"^(-?\d{4,})-(\d\d)-(\d\d)$", got)
        assert m and days_from_civil(*map(int, m.groups())) == want, f"{where}: ours {got!r}, pyarrow day {want}"
    elif pa.types.is_time(typ):
        m = TIME_RE.match(got)
        assert m, f"{where}: ours {got!r}, pyarrow {want!r}"
        ns = (int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])) * 10**9 + int((m[4] or "").ljust(9, "0"))
        unit = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[typ.unit]
        assert ns == want * unit, f"{where}: ours {got!r}, pyarrow {want} {typ.unit}"
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
        assert got == want, f"{where}: ours {got!r}, pyarrow {want!r}"
    elif pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_fixed_size_binary(typ):
        assert isinstance(got, str), f"{where}: ours {got!r}, pyarrow {want!r}"
        assert base64.b64decode(got, validate=True) == want, f"{where}: ours {got!r}, pyarrow {want!r}"
    elif pa.types.is_map(typ):
        assert isinstance(got, dict), f"{where}: ours {got!r}, pyarrow {want!r}"
        keys = [key_text(typ.key_type, k) for k, _ in want]
        assert sorted(got) == sorted(keys) and len(keys) == len(set(keys)), \
            f"{where}: ours keys {sorted(got)!r}, pyarrow {keys!r}"
        for (k, v), kt in zip(want, keys):
            check(typ.item_type, got[kt], v, f"{where}[{kt!r}]", int96)
    elif pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: ours {got!r}, pyarrow {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            check(typ.value_type, g, w, f"{where}[{i}]", int96)
    elif pa.types.is_struct(typ):
        assert isinstance(got, dict), f"{where}: ours {got!r}, pyarrow {want!r}"
        names = [typ.field(i).name for i in range(typ.num_fields)]
        assert list(got) == names, f"{where}: ours fields {list(got)!r}, pyarrow {names!r}"
        for i in range(typ.num_fields):
            f = typ.field(i)
            check(f.type, got[f.name], want[f.name], f"{where}.{f.name}", int96)
    elif pa.types.is_null(typ):
        assert got is None
    else:
        pytest.fail(f"{where}: pyarrow type {typ} not handled by this test")


def cat_rows(binary, path):
    cp = run(binary, "parquet", "cat", path)
    assert cp.returncode == 0, f"cat {path.name} exited {cp.returncode}: {cp.stderr.decode()[-2000:]}"
    return [json.loads(l, parse_float=Decimal) for l in cp.stdout.decode().splitlines()]


# ----------------------------------------------------------------------------- tests

def test_corpus_is_present_and_lists_are_current():
    files = corpus_files()
    assert len(files) > 50, f"parquet-testing corpus missing at {DATA}"
    stale = [f for f in list(REFUSED) + list(DAMAGED) + list(DUCKDB_ORACLE) if f not in files]
    assert not stale, f"REFUSED/DAMAGED name files that are not in the corpus: {stale}"


def readable_files():
    return [DATA / f for f in corpus_files() if f not in REFUSED and f not in DAMAGED and f not in DUCKDB_ORACLE] + \
        [BAD / f for f in sorted(BAD_BUT_VALID) if (BAD / f).exists()]


@pytest.mark.parametrize("path", readable_files(), ids=lambda p: p.name)
def test_cat_matches_pyarrow(smarttech_bin, path):
    name = path.name
    table = pq.read_table(path, coerce_int96_timestamp_unit="us")
    got = cat_rows(smarttech_bin, path)
    assert len(got) == table.num_rows, f"{name}: ours {len(got)} rows, pyarrow {table.num_rows}"
    fields = list(table.schema)
    want = table.cast(pa.schema([pa.field(f.name, as_ints(f.type), f.nullable) for f in fields])).to_pylist()
    pschema = pq.ParquetFile(path).schema
    int96 = {pschema.column(i).path.split(".")[0] for i in range(len(pschema))
             if pschema.column(i).physical_type == "INT96"}
    for i, (g, w) in enumerate(zip(got, want)):
        assert list(g) == [f.name for f in fields], f"{name} row {i}: columns {list(g)}"
        for f in fields:
            if (name, i, f.name) in KNOWN_ORACLE_BUGS:
                assert g[f.name] == KNOWN_ORACLE_BUGS[(name, i, f.name)], f"{name} row {i} {f.name}: {g[f.name]!r}"
                continue
            check(f.type, g[f.name], w[f.name], f"{name} row {i} {f.name}", f.name in int96)


@pytest.mark.parametrize("name", sorted(DUCKDB_ORACLE))
def test_cat_matches_duckdb_where_pyarrow_refuses(smarttech_bin, name):
    import duckdb
    path = DATA / name
    with pytest.raises(Exception):
        pq.read_table(path)  # still refused by pyarrow: otherwise move the file to the pyarrow test
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{path}')")
    want = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    assert cat_rows(smarttech_bin, path) == want


def test_cat_limit(smarttech_bin):
    cp = run(smarttech_bin, "parquet", "cat", DATA / "alltypes_tiny_pages.parquet", "--limit", "3")
    assert cp.returncode == 0 and len(cp.stdout.splitlines()) == 3


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_outside_feature_set_is_refused_naming_the_feature(smarttech_bin, name):
    feature, _why = REFUSED[name]
    cp = run(smarttech_bin, "parquet", "cat", DATA / name)
    err = cp.stderr.decode()
    assert cp.returncode in (1, 2), f"{name}: exit {cp.returncode}\n{err}"
    assert feature in err and "not supported" in err, f"{name}: message does not name {feature}: {err!r}"


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_corpus_files_are_refused(smarttech_bin, name):
    word, _why = DAMAGED[name]
    cp = run(smarttech_bin, "parquet", "cat", DATA / name)
    err = cp.stderr.decode()
    assert cp.returncode in (1, 2) and name in err and word in err, f"{name}: exit {cp.returncode}: {err!r}"


def hostile_files():
    out = []
    if BAD.is_dir():
        out += sorted(p for p in BAD.glob("*.parquet") if p.name not in BAD_BUT_VALID)
    if DATA.is_dir():
        out += sorted(DATA.rglob("*.encrypted"))
    return out


def assert_clean_refusal(binary, path, cmd):
    cp = run(binary, "parquet", cmd, path)
    err = cp.stderr.decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, f"{path.name} ({cmd}): sanitizer report\n{err}"
    assert cp.returncode in (1, 2), f"{path.name} ({cmd}): exit {cp.returncode}\n{err[-3000:]}"
    assert path.name in err and len(err.strip()) > len(path.name) + 20, f"{path.name}: no useful message: {err!r}"
    return err


@pytest.mark.parametrize("path", hostile_files(), ids=lambda p: p.name)
def test_hostile_files_are_refused(smarttech_bin, path):
    for cmd in ("info", "cat"):
        if cmd == "info" and path.parent == BAD:
            # a damaged page (not footer) is only seen by cat: info may succeed
            cp = run(smarttech_bin, "parquet", "info", path)
            assert cp.returncode in (0, 1, 2) and "Sanitizer" not in cp.stderr.decode(errors="replace")
            continue
        err = assert_clean_refusal(smarttech_bin, path, cmd)
        if path.suffix == ".encrypted":
            assert "encrypt" in err.lower()


@pytest.mark.parametrize("path", hostile_files(), ids=lambda p: p.name)
def test_hostile_files_under_asan(path):
    binary = asan_bin()
    if binary is None:
        pytest.skip("no ASan binary: build build-asan (make asan) or set SMARTTECH_ASAN_BIN")
    assert_clean_refusal(binary, path, "cat")
    cp = run(binary, "parquet", "info", path)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode in (0, 1, 2) and "Sanitizer" not in err and "runtime error" not in err, err


@pytest.mark.parametrize("path", readable_files(), ids=lambda p: p.name)
def test_good_corpus_under_asan(path):
    """The whole readable corpus through the ASan+UBSan binary (values checked above)."""
    binary = asan_bin()
    if binary is None:
        pytest.skip("no ASan binary: build build-asan (make asan) or set SMARTTECH_ASAN_BIN")
    for cmd in ("info", "cat"):
        cp = run(binary, "parquet", cmd, path)
        err = cp.stderr.decode(errors="replace")
        assert cp.returncode == 0 and "Sanitizer" not in err and "runtime error" not in err, \
            f"{path.name} {cmd}: {err[-3000:]}"


@pytest.mark.parametrize("name,column", [
    ("alltypes_plain.parquet", "id"), ("alltypes_tiny_pages.parquet", "bigint_col"),
    ("alltypes_tiny_pages.parquet", "double_col"), ("alltypes_tiny_pages.parquet", "bool_col"),
    ("int32_with_null_pages.parquet", "int32_field"), ("int64_decimal.parquet", "value"),
    ("delta_binary_packed.parquet", "bitwidth64"), ("byte_stream_split.zstd.parquet", "f64"),
])
def test_sum_matches_pyarrow(smarttech_bin, name, column):
    import pyarrow.compute as pc
    col = pq.read_table(DATA / name, columns=[column]).column(column)
    cp = run(smarttech_bin, "parquet", "sum", DATA / name, column)
    assert cp.returncode == 0, cp.stderr.decode()
    got = json.loads(cp.stdout, parse_float=Decimal)
    assert got["count"] == len(col) - col.null_count and got["nulls"] == col.null_count
    if pa.types.is_floating(col.type):
        assert math.isclose(float(got["sum"]), pc.sum(col).as_py(), rel_tol=1e-12)
    else:  # exact: pyarrow's int64 sum would wrap on bitwidth64
        assert Decimal(got["sum"]) == sum(Decimal(int(v) if isinstance(v, bool) else v)
                                          for v in col.to_pylist() if v is not None)


def test_sum_refuses_text_and_missing_columns(smarttech_bin):
    for column in ("string_col", "no_such_column"):
        cp = run(smarttech_bin, "parquet", "sum", DATA / "alltypes_plain.parquet", column)
        assert cp.returncode == 2 and cp.stderr


@pytest.mark.parametrize("path", readable_files(), ids=lambda p: p.name)
def test_info_matches_pyarrow_metadata(smarttech_bin, path):
    """`parquet info --json`: rows, row groups, column paths, codecs and null counts as in the footer."""
    cp = run(smarttech_bin, "parquet", "info", path, "--json")
    assert cp.returncode == 0, cp.stderr.decode()
    ours = json.loads(cp.stdout)
    md = pq.ParquetFile(path).metadata
    # FileMetaData.num_rows is 0 in repeated_no_annotation.parquet: we (like pyarrow's reader) count row groups
    assert ours["num_rows"] == sum(md.row_group(g).num_rows for g in range(md.num_row_groups))
    assert ours["num_row_groups"] == md.num_row_groups
    assert ours["row_groups"] == [md.row_group(g).num_rows for g in range(md.num_row_groups)]
    assert [c["path"] for c in ours["columns"]] == [md.schema.column(i).path for i in range(md.num_columns)]
    for i, c in enumerate(ours["columns"]):
        chunks = [md.row_group(g).column(i) for g in range(md.num_row_groups)]
        if chunks and chunks[-1].compression != "UNKNOWN":   # pyarrow's name for the legacy LZ4 id
            want = {"LZ4": "LZ4_RAW"}.get(chunks[-1].compression, chunks[-1].compression)  # pyarrow's LZ4 is id 7
            assert c["codec"] == want, (c["path"], chunks[-1].compression)
        assert c["num_values"] == sum(ch.num_values for ch in chunks)
        stats = [ch.statistics for ch in chunks]
        if chunks and all(s is not None and s.has_null_count for s in stats):
            assert c["null_count"] == sum(s.null_count for s in stats), c["path"]
