#!/usr/bin/env bash
# parquet_read.sh — Parquet reader benchmark (issue 8), ours against pyarrow on the same file in
# the same run. The file: N rows (default 2,000,000) written by pyarrow with snappy, 4 row groups
# (int64 id, double, dictionary-encoded string, timestamp, optional int32 with 10% nulls).
#
#   cat:  `smarttech parquet cat FILE > /dev/null` (decode every column + JSON Lines text) against
#         pyarrow read_table (decode only) and read_table + pyarrow.csv.write_csv to /dev/null
#         (decode + text, the nearest pyarrow equivalent of cat).
#   sum:  `smarttech parquet sum FILE v_f64` against pq.read_table(columns=[v_f64]) + pc.sum.
# Ours is timed as a whole process (startup included); pyarrow inside one warm Python process.
# Best of --repeat K runs (default 3). Ratios are ours / pyarrow (below 1: we are faster).
# Prints ONE JSON line.
#
# usage: bench/parquet_read.sh [--rows N] [--repeat K]
# env:   SMARTTECH_BIN (default <repo>/build/smarttech), PYTHON (default <repo>/.venv/bin/python),
#        TMPDIR (where the file goes; removed after)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SMARTTECH_BIN:-$REPO/build/smarttech}
PY=${PYTHON:-$REPO/.venv/bin/python}
ROWS=2000000
REPEAT=3
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        *) echo "usage: $0 [--rows N] [--repeat K]" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || { echo "parquet_read.sh: $BIN not found (make build, or set SMARTTECH_BIN)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pqread.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

"$PY" - "$BIN" "$TMP/data.parquet" "$ROWS" "$REPEAT" <<'EOF'
import json, os, subprocess, sys, time
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

binary, path, rows, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(42)
ids = np.arange(rows, dtype=np.int64)
table = pa.table({
    "id": ids,
    "v_f64": rng.normal(20.0, 5.0, rows),
    "sensor": pa.array([f"b{i % 7:02d}-f{i % 5}-r{i % 11:02d}-co2-{i % 3}" for i in range(rows)]),
    "ts": pa.array(1_764_000_000_000_000 + ids * 1_000, pa.timestamp("us", tz="UTC")),
    "opt_i32": pa.array(np.where(ids % 10 == 0, 0, ids % 1000).astype(np.int32), mask=(ids % 10 == 0)),
})
pq.write_table(table, path, compression="snappy", row_group_size=500_000)
del table


def best(fn):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def ours(*args):
    def run():
        with open(os.devnull, "wb") as null:
            subprocess.run([binary, "parquet", *args], stdout=null, check=True)
    return run


sum_out = subprocess.run([binary, "parquet", "sum", path, "v_f64"], capture_output=True, check=True, text=True)
ours_sum = json.loads(sum_out.stdout)["sum"]
want_sum = pc.sum(pq.read_table(path, columns=["v_f64"])["v_f64"]).as_py()
assert abs(ours_sum - want_sum) <= 1e-9 * abs(want_sum), (ours_sum, want_sum)

cat_s = best(ours("cat", path))
read_s = best(lambda: pq.read_table(path))
def read_csv():
    pcsv.write_csv(pq.read_table(path), os.devnull)
csv_s = best(read_csv)
sum_s = best(ours("sum", path, "v_f64"))
pa_sum_s = best(lambda: pc.sum(pq.read_table(path, columns=["v_f64"])["v_f64"]).as_py())

r = lambda a, b: round(a / b, 3)
print(json.dumps({
    "bench": "parquet_read", "rows": rows, "file_bytes": os.path.getsize(path), "repeat": repeat,
    "cat_s": round(cat_s, 4), "cat_rows_per_s": round(rows / cat_s),
    "pyarrow_read_s": round(read_s, 4), "pyarrow_read_csv_s": round(csv_s, 4),
    "cat_vs_pyarrow_read": r(cat_s, read_s), "cat_vs_pyarrow_read_csv": r(cat_s, csv_s),
    "sum_s": round(sum_s, 4), "pyarrow_sum_s": round(pa_sum_s, 4), "sum_vs_pyarrow": r(sum_s, pa_sum_s),
    "pyarrow": pa.__version__, "ratio": "ours/pyarrow seconds (lower is better for us)",
}))
EOF
