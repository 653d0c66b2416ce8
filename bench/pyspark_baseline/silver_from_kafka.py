"""The original design's Kafka -> Silver job (src/silver_from_kafka.py there), written in PySpark
Structured Streaming with delta-spark and the Spark Kafka connector, applying the same Silver rules
as `smarttech silver` (src/iot/event.h): the baseline of `make bench` (issue 7).

    python bench/pyspark_baseline/silver_from_kafka.py --brokers localhost:9092 --topic iot_smartech \
        --output OUT/silver_delta --checkpoint OUT/ckpt --trigger availableNow|1s [--summary-json F]

--trigger availableNow drains what the topic holds and stops (the backlog run); an interval such as
1s runs micro-batches until --stop-file appears or SIGINT/SIGTERM arrives (the steady-state run).

Settings are what a competent Spark user picks for this job on a 2-core machine (see README.md):
local[2], 2 shuffle partitions, the RocksDB state store with changelog checkpointing (the state of
the dedup is millions of ids), maxOffsetsPerTrigger to bound a drain batch, UI off, UTC session.
Rules are Spark SQL expressions over from_json with an explicit schema (PERMISSIVE mode: a field of
the wrong JSON type fills _corrupt_record) plus one regex for string fields holding a non-string.
Only Silver is written, as in the original design (ours also writes bronze_kafka and quarantine).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

T_PROCESS = time.time()

KAFKA_PACKAGE = os.environ.get("SMARTTECH_SPARK_KAFKA_PACKAGE", "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0")
# delta-spark 4.4.1's jar is not on Maven Central; 4.4.0 is the same Delta line for Spark 4.2
DELTA_PACKAGE = os.environ.get("SMARTTECH_DELTA_SPARK_PACKAGE", "io.delta:delta-spark_4.2_2.13:4.4.0")

STRING_FIELDS = ["event_id", "sensor_id", "building_id", "room_id", "sensor_type", "unit"]
REQUIRED = ["event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "value", "unit",
            "event_time", "seq"]
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
ISO_ZONED = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$"


def spark_session(app: str, driver_memory: str):
    from pyspark.sql import SparkSession
    b = (SparkSession.builder.master("local[2]").appName(app)
         .config("spark.jars.packages", f"{KAFKA_PACKAGE},{DELTA_PACKAGE}")
         # Spark ships these; a pom-only ~/.m2 entry would otherwise break Ivy's resolution
         .config("spark.jars.excludes", "org.apache.logging.log4j:log4j-api,org.apache.logging.log4j:log4j-core,"
                                        "org.apache.logging.log4j:log4j-slf4j2-impl,org.slf4j:slf4j-api")
         .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
         .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
         .config("spark.driver.memory", driver_memory)
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.streaming.stateStore.providerClass",
                 "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider")
         .config("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true"))
    s = b.getOrCreate()
    s.sparkContext.setLogLevel("WARN")
    return s


def kafka_stream(spark, brokers: str, topic: str, starting: str, max_offsets: int | None):
    """The Kafka source: key, value, topic, partition, offset, timestamp per record."""
    r = (spark.readStream.format("kafka")
         .option("kafka.bootstrap.servers", brokers)
         .option("subscribe", topic)
         .option("startingOffsets", starting))
    if max_offsets:
        r = r.option("maxOffsetsPerTrigger", str(max_offsets))
    return r.load()


# from_json schema: numbers typed, strings as StringType. from_json is lenient both ways: any JSON value
# becomes text in a StringType field ({"sensor_id": 7} -> "7") and a numeric string can pass for a
# number ({"battery_pct": "93.0"}), so one regex over the raw value finds a field of the wrong JSON
# type (VARIANT fields + schema_of_variant see it too, but cost ~10x the whole parse).
EVENT_SCHEMA = ("schema_version DOUBLE, event_id STRING, sensor_id STRING, building_id STRING, floor DOUBLE, "
                "room_id STRING, sensor_type STRING, value DOUBLE, unit STRING, event_time STRING, seq BIGINT, "
                "battery_pct DOUBLE, _corrupt_record STRING")
WRONG_TYPE = (r'"(event_id|sensor_id|building_id|room_id|sensor_type|unit)"[ \t\r\n]*:[ \t\r\n]*[^" \t\r\n]'
              r'|"(schema_version|floor|value|seq|battery_pct)"[ \t\r\n]*:[ \t\r\n]*"')
TIME_IS_STRING = r'"event_time"[ \t\r\n]*:[ \t\r\n]*"'


def silver_frame(raw, future_tolerance: str = "5 minutes", dedup_window: str = "10 minutes", dedup: bool = True):
    """Kafka records -> typed, validated, normalized, deduplicated Silver rows (dedup=False: for a
    batch DataFrame, where dropDuplicatesWithinWatermark does not exist)."""
    from pyspark.sql import functions as F

    # 1-3: size, UTF-8, one JSON object; 6 (numbers): _corrupt_record is set when a field has another type
    df = raw.selectExpr("CAST(value AS STRING) AS json", "timestamp AS kafka_ts", "partition AS source_partition",
                        "offset AS source_offset")
    df = df.where("octet_length(json) <= 1048576 AND is_valid_utf8(json)")
    df = df.selectExpr(f"from_json(json, '{EVENT_SCHEMA}') AS j", f"json RLIKE '{WRONG_TYPE}' AS wrong_type",
                       f"json RLIKE '{TIME_IS_STRING}' AS time_is_string", "kafka_ts", "source_partition",
                       "source_offset")
    df = df.where("j IS NOT NULL AND j._corrupt_record IS NULL AND NOT wrong_type")
    df = df.selectExpr("j.*", "time_is_string", "kafka_ts", "source_partition", "source_offset")

    checks = [
        # 4. schema_version, when present, is 1
        "(schema_version IS NULL OR schema_version = 1)",
        # 5. required fields present (null = absent); 6. their JSON types were checked above
        *[f"{f} IS NOT NULL" for f in REQUIRED],
    ]
    df = df.where(" AND ".join(checks))

    # 7. contents
    df = df.selectExpr(
        "kafka_ts", "source_partition", "source_offset", *STRING_FIELDS,
        "floor = floor(floor) AND floor BETWEEN -1000 AND 1000 AS floor_ok", "CAST(floor AS INT) AS floor",
        "seq", "value AS raw_value", "battery_pct",
        # event_time: ISO-8601 with a zone, or epoch milliseconds (a JSON number: its text here)
        f"CASE WHEN time_is_string THEN CASE WHEN event_time RLIKE '{ISO_ZONED}' THEN try_to_timestamp(event_time) END"
        "  WHEN try_cast(event_time AS BIGINT) IS NOT NULL THEN"
        f"   CASE WHEN try_cast(event_time AS BIGINT) BETWEEN 0 AND {MAX_EPOCH_MS}"
        "     THEN timestamp_millis(try_cast(event_time AS BIGINT)) END"
        f"  ELSE CASE WHEN try_cast(event_time AS DOUBLE) BETWEEN 0 AND {MAX_EPOCH_MS}"
        "     THEN timestamp_micros(CAST(round(try_cast(event_time AS DOUBLE) * 1000) AS BIGINT)) END"
        " END AS event_time")
    contents = [
        *[f"octet_length({f}) BETWEEN 1 AND 256" for f in STRING_FIELDS],
        "sensor_type RLIKE '^[a-z][a-z0-9_]{0,31}$'",
        "octet_length(unit) <= 16 AND NOT unit RLIKE '[\\\\x00-\\\\x1f\\\\x7f]'",
        "floor_ok", "seq >= 0",
        "NOT isnan(raw_value) AND raw_value NOT IN (double('Infinity'), double('-Infinity'))",
        "event_time IS NOT NULL",
        # 8. unit fits a known sensor_type (src/iot/sensor_kinds.c)
        "CASE sensor_type WHEN 'temperature' THEN unit IN ('C', 'F', '°C', '°F')"
        " WHEN 'humidity' THEN unit = '%' WHEN 'co2' THEN unit = 'ppm'"
        " WHEN 'pressure' THEN unit IN ('hPa', 'kPa') ELSE true END",
    ]
    df = df.where(" AND ".join(contents))

    # 9. to the canonical unit: °F -> °C (same operation order as iot_f_to_c), kPa -> hPa (x 10);
    # converted_from_f is true for °F only (the Silver schema's column), 10. physically possible,
    # 11. not in the future
    df = df.selectExpr("*", "(sensor_type = 'temperature' AND unit IN ('F', '°F')) AS converted_from_f")
    df = df.selectExpr(
        "event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type",
        "CASE WHEN converted_from_f THEN (raw_value - 32.0) * 5.0 / 9.0"
        " WHEN sensor_type = 'pressure' AND unit = 'kPa' THEN raw_value * 10.0 ELSE raw_value END AS value",
        "CASE sensor_type WHEN 'temperature' THEN 'C' WHEN 'pressure' THEN 'hPa' ELSE unit END AS unit",
        "event_time", "to_date(event_time) AS event_date", "seq", "battery_pct", "converted_from_f",
        "source_partition", "source_offset", "kafka_ts")
    df = df.where(
        "CASE sensor_type WHEN 'temperature' THEN value BETWEEN -40 AND 85"
        " WHEN 'humidity' THEN value BETWEEN 0 AND 100 WHEN 'co2' THEN value BETWEEN 0 AND 20000"
        " WHEN 'pressure' THEN value BETWEEN 870 AND 1085 ELSE true END"
        " AND (battery_pct IS NULL OR battery_pct BETWEEN 0 AND 100)"
        f" AND event_time <= kafka_ts + INTERVAL {future_tolerance}")

    # dedup by event_id within the event-time watermark
    if dedup:
        df = df.withWatermark("event_time", dedup_window).dropDuplicatesWithinWatermark(["event_id"])
    return df.select("event_id", "sensor_id", "building_id", "floor", "room_id", "sensor_type", "value", "unit",
                     "event_time", "event_date", "seq", "battery_pct", "converted_from_f", "source_partition",
                     "source_offset", F.current_timestamp().alias("ingest_time"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default="localhost:9092")
    ap.add_argument("--topic", default="iot_smartech")
    ap.add_argument("--output", default="data/output/silver_delta")
    ap.add_argument("--checkpoint", default="data/checkpoints/silver_kafka_spark")
    ap.add_argument("--trigger", default="availableNow", help="availableNow, or a processing-time interval (1s)")
    ap.add_argument("--starting-offsets", default="earliest")
    ap.add_argument("--max-offsets-per-trigger", type=int, default=1_000_000)
    ap.add_argument("--future-tolerance", default="5 minutes")
    ap.add_argument("--dedup-window", default="10 minutes")
    ap.add_argument("--driver-memory", default=os.environ.get("BENCH_SPARK_DRIVER_MEMORY", "2g"))
    ap.add_argument("--stop-file", help="interval trigger: stop when this file appears")
    ap.add_argument("--ready-file", help="written once the query runs")
    ap.add_argument("--summary-json", help="timings and counters as JSON")
    a = ap.parse_args()

    stop = {"flag": False}

    def on_signal(_sig, _frm):
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    spark = spark_session("smarttech-silver-baseline", a.driver_memory)
    t_session = time.time()
    raw = kafka_stream(spark, a.brokers, a.topic, a.starting_offsets, a.max_offsets_per_trigger)
    df = silver_frame(raw, a.future_tolerance, a.dedup_window)
    w = (df.writeStream.format("delta").outputMode("append").partitionBy("event_date")
         .option("checkpointLocation", a.checkpoint))
    w = w.trigger(availableNow=True) if a.trigger == "availableNow" else w.trigger(processingTime=a.trigger)
    q = w.start(a.output)
    t_query = time.time()
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("started\n")
    if a.trigger == "availableNow":
        q.awaitTermination()
    else:
        while q.isActive and not stop["flag"] and not (a.stop_file and os.path.exists(a.stop_file)):
            time.sleep(0.2)
        q.stop()
    t_end = time.time()
    progress = q.recentProgress
    err = q.exception()
    rows_in = sum(p.get("numInputRows", 0) for p in progress)
    batches = [p for p in progress if p.get("numInputRows", 0) > 0]
    summary = {
        "exit": 1 if err else 0, "error": str(err) if err else None,
        "startup_s": round(t_session - T_PROCESS, 3), "query_s": round(t_end - t_query, 3),
        "total_s": round(t_end - T_PROCESS, 3), "events_in": rows_in, "batches": len(batches),
        "batch_ms": [p.get("durationMs", {}).get("triggerExecution") for p in batches][-50:],
        "spark": spark.version,
    }
    if a.summary_json:
        with open(a.summary_json, "w") as f:
            json.dump(summary, f)
    print(json.dumps(summary), file=sys.stderr)
    spark.stop()
    return summary["exit"]


if __name__ == "__main__":
    sys.exit(main())
