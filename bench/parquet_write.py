"""pyarrow side of bench/parquet_write.sh: reads the rows our writer produced (untimed),
writes them again with pyarrow (snappy, default settings, fsync like our close) and prints
one JSON line comparing both. Ratios > 1 mean ours is faster (rows/s) or smaller (size)."""
from __future__ import annotations

import argparse
import json
import os
import time

import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True, help="JSON printed by bench_parquet_write")
    ap.add_argument("--ours-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    ours = json.loads(a.ours)
    table = pq.read_table(a.ours_file)
    assert table.num_rows == ours["rows"], "pyarrow does not see the rows we wrote"
    best = None
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        pq.write_table(table, a.out, compression="snappy")
        fd = os.open(a.out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu)
    wall, cpu = best
    pa_bytes = os.path.getsize(a.out)
    input_mb = ours["input_bytes"] / 1e6
    result = {
        "bench": "parquet_write",
        "rows": ours["rows"],
        "codec": "snappy",
        "ours": {"seconds": ours["seconds"], "cpu_seconds": ours["cpu_seconds"], "rows_per_s": round(ours["rows"] / ours["seconds"]),
                 "mb_per_s": round(input_mb / ours["seconds"], 1), "file_bytes": ours["file_bytes"],
                 "row_groups": ours["row_groups"]},
        "pyarrow": {"version": pa.__version__, "seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
                    "rows_per_s": round(ours["rows"] / wall), "mb_per_s": round(input_mb / wall, 1),
                    "file_bytes": pa_bytes, "row_groups": pq.ParquetFile(a.out).metadata.num_row_groups},
        "ratio_speed": round(wall / ours["seconds"], 3),
        "ratio_cpu": round(cpu / ours["cpu_seconds"], 3),
        "ratio_size": round(ours["file_bytes"] / pa_bytes, 4),
    }
    result["target_met"] = result["ratio_speed"] >= 1.0 and abs(result["ratio_size"] - 1) <= 0.10
    print(json.dumps(result))


if __name__ == "__main__":
    main()
