#include "pipeline/tables.h"

#include <stdio.h>
#include <string.h>

#include "util/base64.h"
#include "util/buf.h"
#include "util/utf8.h"

typedef struct col {
    const char *name;
    delta_type type;
    int nullable;
} col;

static const col silver_cols[] = {
    {"event_id", DELTA_TYPE_STRING, 0},     {"sensor_id", DELTA_TYPE_STRING, 0},
    {"building_id", DELTA_TYPE_STRING, 0},  {"floor", DELTA_TYPE_INTEGER, 0},
    {"room_id", DELTA_TYPE_STRING, 0},      {"sensor_type", DELTA_TYPE_STRING, 0},
    {"value", DELTA_TYPE_DOUBLE, 0},        {"unit", DELTA_TYPE_STRING, 0},
    {"event_time", DELTA_TYPE_TIMESTAMP, 0},{"event_date", DELTA_TYPE_DATE, 0},
    {"seq", DELTA_TYPE_LONG, 0},            {"battery_pct", DELTA_TYPE_DOUBLE, 1},
    {"converted_from_f", DELTA_TYPE_BOOLEAN, 0},
    {"source_partition", DELTA_TYPE_INTEGER, 0},
    {"source_offset", DELTA_TYPE_LONG, 0},  {"ingest_time", DELTA_TYPE_TIMESTAMP, 0},
};

static const col bronze_file_tail[] = {
    {"source_file", DELTA_TYPE_STRING, 0},
    {"source_line", DELTA_TYPE_LONG, 0},
    {"ingest_time", DELTA_TYPE_TIMESTAMP, 0},
};

static const col bronze_kafka_cols[] = {
    {"topic", DELTA_TYPE_STRING, 0},          {"partition", DELTA_TYPE_INTEGER, 0},
    {"offset", DELTA_TYPE_LONG, 0},           {"kafka_timestamp", DELTA_TYPE_TIMESTAMP, 1},
    {"key", DELTA_TYPE_STRING, 1},            {"value", DELTA_TYPE_STRING, 1},
    {"value_base64", DELTA_TYPE_STRING, 1},   {"ingest_time", DELTA_TYPE_TIMESTAMP, 0},
};

static const col quarantine_cols[] = {
    {"reason", DELTA_TYPE_STRING, 0},      {"detail", DELTA_TYPE_STRING, 1},
    {"raw", DELTA_TYPE_STRING, 1},         {"raw_base64", DELTA_TYPE_STRING, 1},
    {"source", DELTA_TYPE_STRING, 0},      {"topic", DELTA_TYPE_STRING, 1},
    {"partition", DELTA_TYPE_INTEGER, 1},  {"offset", DELTA_TYPE_LONG, 1},
    {"file", DELTA_TYPE_STRING, 1},        {"line", DELTA_TYPE_LONG, 1},
    {"ingest_time", DELTA_TYPE_TIMESTAMP, 0},
};

static const col gold_cols[] = {
    {"window_start", DELTA_TYPE_TIMESTAMP, 0}, {"window_end", DELTA_TYPE_TIMESTAMP, 0},
    {"building_id", DELTA_TYPE_STRING, 0},     {"floor", DELTA_TYPE_INTEGER, 0},
    {"room_id", DELTA_TYPE_STRING, 0},         {"sensor_type", DELTA_TYPE_STRING, 0},
    {"count", DELTA_TYPE_LONG, 0},             {"avg", DELTA_TYPE_DOUBLE, 0},
    {"min", DELTA_TYPE_DOUBLE, 0},             {"max", DELTA_TYPE_DOUBLE, 0},
    {"first_event_time", DELTA_TYPE_TIMESTAMP, 0}, {"last_event_time", DELTA_TYPE_TIMESTAMP, 0},
    {"window_date", DELTA_TYPE_DATE, 0},
};

static const col alert_cols[] = {
    {"alert_id", DELTA_TYPE_STRING, 0},   {"state", DELTA_TYPE_STRING, 0},
    {"rule", DELTA_TYPE_STRING, 0},       {"sensor_id", DELTA_TYPE_STRING, 0},
    {"building_id", DELTA_TYPE_STRING, 0},{"floor", DELTA_TYPE_INTEGER, 0},
    {"room_id", DELTA_TYPE_STRING, 0},    {"sensor_type", DELTA_TYPE_STRING, 0},
    {"value", DELTA_TYPE_DOUBLE, 0},      {"threshold", DELTA_TYPE_DOUBLE, 0},
    {"event_time", DELTA_TYPE_TIMESTAMP, 0}, {"detection_time", DELTA_TYPE_TIMESTAMP, 0},
};

static const col anomaly_cols[] = {
    {"anomaly_id", DELTA_TYPE_STRING, 0},    {"state", DELTA_TYPE_STRING, 0},
    {"kind", DELTA_TYPE_STRING, 0},          {"sensor_id", DELTA_TYPE_STRING, 0},
    {"building_id", DELTA_TYPE_STRING, 0},   {"floor", DELTA_TYPE_INTEGER, 0},
    {"room_id", DELTA_TYPE_STRING, 0},       {"sensor_type", DELTA_TYPE_STRING, 0},
    {"unit", DELTA_TYPE_STRING, 0},          {"value", DELTA_TYPE_DOUBLE, 0},
    {"expected", DELTA_TYPE_DOUBLE, 1},      {"score", DELTA_TYPE_DOUBLE, 0},
    {"threshold", DELTA_TYPE_DOUBLE, 0},     {"readings", DELTA_TYPE_LONG, 0},
    {"start_time", DELTA_TYPE_TIMESTAMP, 0}, {"end_time", DELTA_TYPE_TIMESTAMP, 1},
    {"event_time", DELTA_TYPE_TIMESTAMP, 0}, {"detection_time", DELTA_TYPE_TIMESTAMP, 0},
    {"reason", DELTA_TYPE_STRING, 0},
};

static void add_cols(delta_schema *s, const col *c, size_t n)
{
    for (size_t i = 0; i < n; i++) delta_schema_add(s, c[i].name, c[i].type, c[i].nullable, NULL);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

delta_schema *table_schema(table_kind k)
{
    delta_schema *s = delta_schema_new();
    switch (k) {
    case TABLE_BRONZE_FILES:
        add_cols(s, silver_cols, SILVER_CONVERTED_FROM_F + 1);
        add_cols(s, bronze_file_tail, N(bronze_file_tail));
        break;
    case TABLE_BRONZE_KAFKA: add_cols(s, bronze_kafka_cols, N(bronze_kafka_cols)); break;
    case TABLE_SILVER: add_cols(s, silver_cols, N(silver_cols)); break;
    case TABLE_QUARANTINE: add_cols(s, quarantine_cols, N(quarantine_cols)); break;
    case TABLE_GOLD: add_cols(s, gold_cols, N(gold_cols)); break;
    case TABLE_ALERTS: add_cols(s, alert_cols, N(alert_cols)); break;
    case TABLE_ANOMALIES: add_cols(s, anomaly_cols, N(anomaly_cols)); break;
    default: break;
    }
    return s;
}

const char *table_partition_column(table_kind k)
{
    switch (k) {
    case TABLE_SILVER: return "event_date";
    case TABLE_BRONZE_FILES: return "event_date";
    case TABLE_GOLD: return "window_date";
    default: return NULL;
    }
}

const char *table_name(table_kind k)
{
    static const char *names[] = {"bronze_output", "bronze_kafka", "silver", "quarantine", "gold_room_1m", "alerts",
                                  "anomalies"};
    return k < TABLE_KIND_COUNT ? names[k] : "?";
}

const char *table_default_path(table_kind k)
{
    static const char *paths[] = {TABLE_BRONZE_FILES_PATH, TABLE_BRONZE_KAFKA_PATH, TABLE_SILVER_PATH,
                                  TABLE_QUARANTINE_PATH,   TABLE_GOLD_PATH,         TABLE_ALERTS_PATH,
                                  TABLE_ANOMALIES_PATH};
    return k < TABLE_KIND_COUNT ? paths[k] : NULL;
}

delta_table *table_open_or_create(table_kind k, const char *path, st_err *e)
{
    return table_open_or_create_opts(k, path, NULL, e);
}

delta_table *table_open_or_create_opts(table_kind k, const char *path, const delta_table_options *o, st_err *e)
{
    delta_schema *s = table_schema(k);
    const char *part = table_partition_column(k);
    delta_table *t = delta_table_create(path, s, part ? &part : NULL, part ? 1 : 0, table_name(k), o, e);
    delta_schema_destroy(s);
    return t;
}

typedef void (*append_str_fn)(delta_batch *, int, const char *, size_t);

static void append_event(delta_batch *b, const iot_event *ev, append_str_fn str)
{
    str(b, SILVER_EVENT_ID, ev->event_id.ptr, ev->event_id.len);
    str(b, SILVER_SENSOR_ID, ev->sensor_id.ptr, ev->sensor_id.len);
    str(b, SILVER_BUILDING_ID, ev->building_id.ptr, ev->building_id.len);
    delta_batch_append_int(b, SILVER_FLOOR, ev->floor);
    str(b, SILVER_ROOM_ID, ev->room_id.ptr, ev->room_id.len);
    str(b, SILVER_SENSOR_TYPE, ev->sensor_type.ptr, ev->sensor_type.len);
    delta_batch_append_double(b, SILVER_VALUE, ev->value);
    str(b, SILVER_UNIT, ev->unit.ptr, ev->unit.len);
    delta_batch_append_long(b, SILVER_EVENT_TIME, ev->event_time_us);
    delta_batch_append_int(b, SILVER_EVENT_DATE, ev->event_date);
    delta_batch_append_long(b, SILVER_SEQ, ev->seq);
    if (ev->has_battery)
        delta_batch_append_double(b, SILVER_BATTERY_PCT, ev->battery_pct);
    else
        delta_batch_append_null(b, SILVER_BATTERY_PCT);
    delta_batch_append_bool(b, SILVER_CONVERTED_FROM_F, ev->converted_from_f);
}

void table_append_event(delta_batch *b, const iot_event *ev) { append_event(b, ev, delta_batch_append_string); }

void table_append_event_borrowed(delta_batch *b, const iot_event *ev)
{
    append_event(b, ev, delta_batch_append_string_ref);
}

/* Appends raw as a string column, or base64 in the next column when it is not UTF-8. */
static void append_raw(delta_batch *b, int col_raw, int col_b64, const char *raw, size_t n)
{
    if (!raw) {
        delta_batch_append_null(b, col_raw);
        delta_batch_append_null(b, col_b64);
    } else if (st_utf8_valid(raw, n)) {
        delta_batch_append_string(b, col_raw, raw, n);
        delta_batch_append_null(b, col_b64);
    } else {
        st_buf enc = {0};
        st_base64_append(&enc, raw, n);
        delta_batch_append_null(b, col_raw);
        delta_batch_append_string(b, col_b64, (const char *)enc.data, enc.len);
        st_buf_free(&enc);
    }
}

void table_append_quarantine(delta_batch *b, const char *reason, const char *detail, const char *raw,
                             size_t raw_len, const char *topic, int32_t partition, int64_t offset,
                             const char *file, int64_t line, int64_t ingest_time_us)
{
    char source[1200];
    if (topic)
        snprintf(source, sizeof source, "kafka:%s/%d/%lld", topic, (int)partition, (long long)offset);
    else
        snprintf(source, sizeof source, "file:%s:%lld", file ? file : "?", (long long)line);
    delta_batch_append_string(b, Q_REASON, reason, strlen(reason));
    if (detail)
        delta_batch_append_string(b, Q_DETAIL, detail, strlen(detail));
    else
        delta_batch_append_null(b, Q_DETAIL);
    append_raw(b, Q_RAW, Q_RAW_BASE64, raw, raw_len);
    delta_batch_append_string(b, Q_SOURCE, source, strlen(source));
    if (topic) {
        delta_batch_append_string(b, Q_TOPIC, topic, strlen(topic));
        delta_batch_append_int(b, Q_PARTITION, partition);
        delta_batch_append_long(b, Q_OFFSET, offset);
        delta_batch_append_null(b, Q_FILE);
        delta_batch_append_null(b, Q_LINE);
    } else {
        delta_batch_append_null(b, Q_TOPIC);
        delta_batch_append_null(b, Q_PARTITION);
        delta_batch_append_null(b, Q_OFFSET);
        if (file)
            delta_batch_append_string(b, Q_FILE, file, strlen(file));
        else
            delta_batch_append_null(b, Q_FILE);
        delta_batch_append_long(b, Q_LINE, line);
    }
    delta_batch_append_long(b, Q_INGEST_TIME, ingest_time_us);
}
