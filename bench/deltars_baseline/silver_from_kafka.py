"""The Kafka -> Silver job most users would write instead of ours: a Python consumer (confluent-kafka)
applying the Silver rules and appending micro-batches with delta-rs (`deltalake.write_deltalake`).
The peer of `make bench` (issue 17).

    python bench/deltars_baseline/silver_from_kafka.py --brokers localhost:9092 --topic iot_smartech \
        --output OUT/silver_delta --group G [--once] [--batch-records 20000] [--summary-json F]

Rules: tests/integration/bronze_rules.py (the integration tests' independent reading of the data
contract, src/iot/event.h), with the record's Kafka timestamp as "now" for the future-timestamp rule,
as ours does. A record carrying the forwarder's smarttech_reject header or no value is not Silver.
Dedup by event_id per Kafka partition within an event-time watermark (max event time of the
partition - 10 min), ids evicted after each micro-batch: what `smarttech silver` does.
Delivery: offsets are committed to Kafka after each write_deltalake, so a crash between the two
writes the batch again (at least once: what a typical hand-written job gives). Only Silver is
written (ours also writes bronze_kafka and quarantine): the comparison favours this peer.
--once drains what the topic holds and stops (every assigned partition at its end).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import bronze_rules  # noqa: E402

COLUMNS = ["event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "value", "unit",
           "event_time", "event_date", "seq", "battery_pct", "converted_from_f", "source_partition",
           "source_offset", "ingest_time"]
REJECT_HEADER = "smarttech_reject"
DAY_US = 86_400_000_000


def silver_schema():
    import pyarrow as pa
    ts = pa.timestamp("us", tz="UTC")
    return pa.schema([("event_id", pa.string()), ("sensor_id", pa.string()), ("building_id", pa.string()),
                      ("floor", pa.int32()), ("room_id", pa.string()), ("sensor_type", pa.string()),
                      ("value", pa.float64()), ("unit", pa.string()), ("event_time", ts),
                      ("event_date", pa.date32()), ("seq", pa.int64()), ("battery_pct", pa.float64()),
                      ("converted_from_f", pa.bool_()), ("source_partition", pa.int32()),
                      ("source_offset", pa.int64()), ("ingest_time", ts)])


class Dedup:
    """event_id -> event time (us) of one partition; ids older than the watermark are dropped."""

    def __init__(self, delay_us: int):
        self.delay_us, self.seen, self.max_time = delay_us, {}, None

    def check(self, event_id: str, t: int) -> bool:
        if event_id in self.seen:
            return True
        self.seen[event_id] = t
        if self.max_time is None or t > self.max_time:
            self.max_time = t
        return False

    def evict(self) -> None:
        if self.max_time is None:
            return
        wm = self.max_time - self.delay_us
        self.seen = {k: v for k, v in self.seen.items() if v >= wm}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default="localhost:9092")
    ap.add_argument("--topic", default="iot_smartech")
    ap.add_argument("--group", default="smarttech-silver-deltars")
    ap.add_argument("--output", default="data/output/silver_delta_deltars")
    ap.add_argument("--batch-records", type=int, default=20000, help="records per micro-batch (ours: 20,000)")
    ap.add_argument("--trigger-ms", type=int, default=1000, help="longest wait for a micro-batch to fill")
    ap.add_argument("--dedup-window-s", type=float, default=600)
    ap.add_argument("--once", action="store_true", help="drain the backlog and stop")
    ap.add_argument("--summary-json")
    a = ap.parse_args()

    import pyarrow as pa
    from confluent_kafka import Consumer, KafkaError
    from deltalake import write_deltalake

    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(flag=True))
    t0 = time.time()
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": "read_committed"})
    eof: dict[int, bool] = {}

    def on_assign(_c, parts):
        for p in parts:
            eof[p.partition] = False

    c.subscribe([a.topic], on_assign=on_assign)
    schema = silver_schema()
    dedup: dict[int, Dedup] = {}
    delay_us = int(a.dedup_window_s * 1_000_000)
    st = {"events_in": 0, "silver_rows": 0, "not_silver": 0, "duplicates": 0, "batches": 0, "versions": 0}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    try:
        while not stop["flag"]:
            cols = {k: [] for k in COLUMNS}
            n, deadline = 0, time.monotonic() + a.trigger_ms / 1000
            last = None
            while n < a.batch_records and time.monotonic() < deadline:
                msgs = c.consume(num_messages=min(10000, a.batch_records - n), timeout=0.1)
                for m in msgs:
                    if m.error():
                        if m.error().code() == KafkaError._PARTITION_EOF:
                            eof[m.partition()] = True
                            continue
                        raise RuntimeError(f"Kafka: {m.error()}")
                    eof[m.partition()] = False
                    n += 1
                    last = m
                    v = m.value()
                    hdrs = m.headers() or []
                    if v is None or any(k == REJECT_HEADER for k, _ in hdrs):
                        st["not_silver"] += 1
                        continue
                    ts_type, ts_ms = m.timestamp()
                    now_us = ts_ms * 1000 if ts_ms is not None and ts_ms >= 0 else int(time.time() * 1e6)
                    try:
                        row = bronze_rules.classify_bytes(v, now_us)
                    except bronze_rules.Bad:
                        st["not_silver"] += 1
                        continue
                    p = m.partition()
                    d = dedup.get(p) or dedup.setdefault(p, Dedup(delay_us))
                    if d.check(row["event_id"], row["event_time_us"]):
                        st["duplicates"] += 1
                        continue
                    us = row["event_time_us"]
                    for k in ("event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "value",
                              "unit", "seq", "battery_pct", "converted_from_f"):
                        cols[k].append(row[k])
                    cols["event_time"].append(us)
                    cols["event_date"].append(us // DAY_US)
                    cols["source_partition"].append(p)
                    cols["source_offset"].append(m.offset())
                if a.once and eof and all(eof.values()) and not msgs:
                    break
            st["events_in"] += n
            if cols["event_id"]:
                ingest = int((dt.datetime.now(dt.timezone.utc) - epoch).total_seconds() * 1e6)
                cols["ingest_time"] = [ingest] * len(cols["event_id"])
                arrays = []
                for f in schema:
                    if pa.types.is_timestamp(f.type) or pa.types.is_date32(f.type):
                        base = pa.int64() if pa.types.is_timestamp(f.type) else pa.int32()
                        arrays.append(pa.array(cols[f.name], base).cast(f.type))
                    else:
                        arrays.append(pa.array(cols[f.name], f.type))
                write_deltalake(a.output, pa.Table.from_arrays(arrays, schema=schema), mode="append",
                                partition_by=["event_date"])
                st["silver_rows"] += len(cols["event_id"])
                st["versions"] += 1
            if last is not None:
                c.commit(asynchronous=False)  # every consumed record's offset, after the write
                st["batches"] += 1
            for d in dedup.values():
                d.evict()
            if a.once and eof and all(eof.values()) and n == 0:
                break
    finally:
        c.close()
    st["seconds"] = round(time.time() - t0, 3)
    st["dedup_live_ids"] = sum(len(d.seen) for d in dedup.values())
    st["exit"] = 0
    if a.summary_json:
        with open(a.summary_json, "w") as f:
            json.dump(st, f)
    print(json.dumps(st), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
