#!/usr/bin/env bash
# parquet_write.sh — Parquet writer benchmark (issue 2): N rows (default 10,000,000) of the
# Silver schema written with snappy by our writer (bench/parquet_write.c) and by pyarrow
# (the same rows, read back from our file first, untimed), in the same run.
# Prints ONE JSON line: rows/s, MB/s, file sizes, and ratios ours/pyarrow.
#
# usage: bench/parquet_write.sh [--rows N] [--repeat K]
# env:   SMARTTECH_BUILD_DIR (default <repo>/build; configured by `make build`),
#        PYTHON (default <repo>/.venv/bin/python), TMPDIR (where the files go; removed after)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SMARTTECH_BUILD_DIR:-$REPO/build}
PY=${PYTHON:-$REPO/.venv/bin/python}
ROWS=10000000
REPEAT=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        *) echo "usage: $0 [--rows N] [--repeat K]" >&2; exit 2 ;;
    esac
done
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target st_parquet st_store st_util >/dev/null
${CC:-cc} -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$REPO/src" "$REPO/bench/parquet_write.c" \
    "$BUILD/libst_parquet.a" "$BUILD/libst_store.a" "$BUILD/libst_util.a" -lsnappy -lzstd -lz -llz4 -lcurl -lpthread -lm \
    -o "$BUILD/bench_parquet_write"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pqbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
best=""
for _ in $(seq "$REPEAT"); do
    run=$("$BUILD/bench_parquet_write" "$TMP/ours.parquet" --rows "$ROWS")
    best=$("$PY" -c 'import json,sys
a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]) if sys.argv[2] else None
print(json.dumps(a if b is None or a["seconds"] < b["seconds"] else b))' "$run" "$best")
done
"$PY" "$REPO/bench/parquet_write.py" --ours "$best" --ours-file "$TMP/ours.parquet" \
    --out "$TMP/pyarrow.parquet" --repeat "$REPEAT"
