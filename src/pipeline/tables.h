/* tables.h — the pipeline's Delta tables: their schemas, partitioning, default paths,
 * and how one row of each is appended to a delta_batch.
 *
 * Every stream job (bronze, silver, gold) goes through these functions, so a column is
 * defined once. Column indexes are the enum values below (schema order).
 */
#ifndef ST_STREAM_TABLES_H
#define ST_STREAM_TABLES_H

#include <stdint.h>

#include "delta/delta.h"
#include "iot/event.h"

#define TABLE_BRONZE_FILES_PATH "data/output/bronze_output"
#define TABLE_BRONZE_KAFKA_PATH "data/output/bronze_kafka"
#define TABLE_SILVER_PATH "data/output/silver_delta"
#define TABLE_QUARANTINE_PATH "data/output/quarantine_delta"
#define TABLE_GOLD_PATH "data/output/gold_room_1m"
#define TABLE_ALERTS_PATH "data/output/alerts_delta"
#define TABLE_ANOMALIES_PATH "data/output/anomalies_delta"

typedef enum table_kind {
    TABLE_BRONZE_FILES = 0, /* typed rows from JSON files + source file and line */
    TABLE_BRONZE_KAFKA,     /* raw Kafka records */
    TABLE_SILVER,           /* typed, validated, normalized, deduplicated; by event_date */
    TABLE_QUARANTINE,       /* rejected input with its reason and source */
    TABLE_GOLD,             /* 1-minute (configurable) window aggregates per room and type */
    TABLE_ALERTS,           /* alert open/close rows */
    TABLE_ANOMALIES,        /* anomaly open/close rows per sensor (state/anomaly.h) */
    TABLE_KIND_COUNT
} table_kind;

/* Silver columns (also the first columns of bronze_output). */
enum {
    SILVER_EVENT_ID = 0, SILVER_SENSOR_ID, SILVER_BUILDING_ID, SILVER_FLOOR, SILVER_ROOM_ID,
    SILVER_SENSOR_TYPE, SILVER_VALUE, SILVER_UNIT, SILVER_EVENT_TIME, SILVER_EVENT_DATE, SILVER_SEQ,
    SILVER_BATTERY_PCT, SILVER_CONVERTED_FROM_F,
    SILVER_SOURCE_PARTITION, /* Kafka partition (silver) */
    SILVER_SOURCE_OFFSET,    /* Kafka offset (silver) */
    SILVER_INGEST_TIME,
    SILVER_NCOLS
};

/* bronze_output columns: the typed event columns as in silver (0..SILVER_CONVERTED_FROM_F),
 * then source file, line, ingest time. */
enum {
    BRONZE_SOURCE_FILE = SILVER_CONVERTED_FROM_F + 1, BRONZE_SOURCE_LINE, BRONZE_INGEST_TIME,
    BRONZE_NCOLS
};

enum {
    BK_TOPIC = 0, BK_PARTITION, BK_OFFSET, BK_KAFKA_TIMESTAMP, BK_KEY, BK_VALUE, BK_VALUE_BASE64,
    BK_INGEST_TIME, BK_NCOLS
};

enum {
    Q_REASON = 0, Q_DETAIL, Q_RAW, Q_RAW_BASE64, Q_SOURCE, Q_TOPIC, Q_PARTITION, Q_OFFSET, Q_FILE,
    Q_LINE, Q_INGEST_TIME, Q_NCOLS
};

enum {
    GOLD_WINDOW_START = 0, GOLD_WINDOW_END, GOLD_BUILDING_ID, GOLD_FLOOR, GOLD_ROOM_ID,
    GOLD_SENSOR_TYPE, GOLD_COUNT, GOLD_AVG, GOLD_MIN, GOLD_MAX, GOLD_FIRST_EVENT_TIME,
    GOLD_LAST_EVENT_TIME, GOLD_WINDOW_DATE, GOLD_NCOLS
};

enum {
    ALERT_ALERT_ID = 0, ALERT_STATE, ALERT_RULE, ALERT_SENSOR_ID, ALERT_BUILDING_ID, ALERT_FLOOR,
    ALERT_ROOM_ID, ALERT_SENSOR_TYPE, ALERT_VALUE, ALERT_THRESHOLD, ALERT_EVENT_TIME,
    ALERT_DETECTION_TIME, ALERT_NCOLS
};

/* anomalies_delta: one row per state change of an anomaly (docs/gold.md, "Anomalies"):
 * anomaly_id ("<kind>/<sensor_id>/<start>", shared by its open and close rows), state
 * ("open"/"close"), kind (stuck, drift, spike, silent), the sensor and its room, unit (of
 * value and expected), value, expected (null when the kind has none), score and threshold
 * (the score that confirms the kind), readings (in the episode), start_time, end_time (null
 * while a silence goes on), event_time (when the state changed, in event time),
 * detection_time (wall clock), reason (a sentence). */
enum {
    ANOM_ANOMALY_ID = 0, ANOM_STATE, ANOM_KIND, ANOM_SENSOR_ID, ANOM_BUILDING_ID, ANOM_FLOOR, ANOM_ROOM_ID,
    ANOM_SENSOR_TYPE, ANOM_UNIT, ANOM_VALUE, ANOM_EXPECTED, ANOM_SCORE, ANOM_THRESHOLD, ANOM_READINGS,
    ANOM_START_TIME, ANOM_END_TIME, ANOM_EVENT_TIME, ANOM_DETECTION_TIME, ANOM_REASON, ANOM_NCOLS
};

/* Schema of a table (caller destroys). */
delta_schema *table_schema(table_kind k);
/* Partition column of a table, or NULL (silver: event_date). */
const char *table_partition_column(table_kind k);
/* Short name ("silver", "bronze_kafka", ...). */
const char *table_name(table_kind k);
/* Default path relative to the working directory. */
const char *table_default_path(table_kind k);

/* Creates the table at path if missing, else opens it (same schema required). */
delta_table *table_open_or_create(table_kind k, const char *path, st_err *e);
/* Same with handle options (borrowed; NULL: defaults and the table's checkpoint interval),
 * e.g. delta_maintain_writer_options for a job whose tables a maintainer looks after. */
delta_table *table_open_or_create_opts(table_kind k, const char *path, const delta_table_options *o, st_err *e);

/* Appends the typed event columns (0..SILVER_CONVERTED_FROM_F) of ev to b (strings copied). */
void table_append_event(delta_batch *b, const iot_event *ev);
/* Same, borrowing the strings (delta_batch_append_string_ref): ev's strings must stay valid
 * until the batch is written or cleared, and every string row of b must be borrowed too. */
void table_append_event_borrowed(delta_batch *b, const iot_event *ev);

/* Appends a quarantine row. raw may be NULL; when raw is not valid UTF-8 it is stored base64 in
 * raw_base64 (and raw is null). For a Kafka source give topic/partition/offset and file NULL;
 * for a file source give file/line and topic NULL. */
void table_append_quarantine(delta_batch *b, const char *reason, const char *detail, const char *raw,
                             size_t raw_len, const char *topic, int32_t partition, int64_t offset,
                             const char *file, int64_t line, int64_t ingest_time_us);


#endif
