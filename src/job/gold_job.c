/* gold_job.c — the Gold micro-batch loop (see gold_job.h for the contract). */
#include "job/gold_job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delta/delta.h"
#include "state/alerts.h"
#include "util/binio.h"
#include "source/delta_source.h"
#include "state/gold_state.h"
#include "pipeline/append_sink.h"
#include "pipeline/tables.h"
#include "state/window.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define BODY_MAGIC 0x474f4c44u /* "GOLD" */

enum { OUT_GOLD = 0, OUT_ALERTS, OUT_QUARANTINE, OUT_ANOMALIES, OUT_N };
static const table_kind out_kind[OUT_N] = {TABLE_GOLD, TABLE_ALERTS, TABLE_QUARANTINE, TABLE_ANOMALIES};

/* Silver columns the job reads, in this order (gold_job.h). */
enum {
    C_EVENT_ID = GOLD_IN_EVENT_ID, C_SENSOR_ID = GOLD_IN_SENSOR_ID, C_BUILDING_ID = GOLD_IN_BUILDING_ID,
    C_FLOOR = GOLD_IN_FLOOR, C_ROOM_ID = GOLD_IN_ROOM_ID, C_SENSOR_TYPE = GOLD_IN_SENSOR_TYPE,
    C_VALUE = GOLD_IN_VALUE, C_EVENT_TIME = GOLD_IN_EVENT_TIME, C_PARTITION = GOLD_IN_PARTITION,
    C_N = GOLD_IN_COLUMNS
};
const char *const gold_input_columns[GOLD_IN_COLUMNS] = {"event_id", "sensor_id",  "building_id",
                                                         "floor",    "room_id",    "sensor_type",
                                                         "value",    "event_time", "source_partition"};
#define C_REQUIRED C_PARTITION /* columns before it must not be null */

#define POLL_MAX 1024   /* Silver rows per poll of the source */
#define ANOM_SECTION 0x414e5331u /* "ANS1": the anomaly part of the state body */

typedef struct outbox_item {
    int64_t pos;
    char *key, *json;
} outbox_item;

typedef struct gold_job {
    const gold_config *c;
    maint_service *maint;          /* the output tables' maintenance thread, NULL when off */
    const volatile sig_atomic_t *stop;
    gold_progress_fn cb;
    void *opaque;
    alert_rules *rules;
    win_state *win;
    alert_engine *alerts;
    anomaly_params aparams;
    anomaly_model *anom;          /* NULL with anomalies off */
    record_source *src;           /* Silver: stream 0, positions = versions (borrowed) */
    record *recs;                 /* POLL_MAX records of the current poll */
    st_store *ckpt;               /* --checkpoint: the state objects (a folder or s3://) */
    delta_table *out[OUT_N];
    int64_t tpos[OUT_N];          /* position each output table has committed */
    const char *table_id;         /* Silver's (borrowed from src) */
    char *app_id, *flush_app_id;
    int64_t pos;                  /* position of the in-memory state */
    int64_t fresh_pos;            /* position before the first batch */
    /* per batch */
    delta_batch *batch[OUT_N];
    alert_list batch_alerts;
    anomaly_list batch_anoms;
    int64_t det_us;
    st_buf scratch;
    /* Kafka */
    kafka_producer *producer;
    outbox_item *outbox;
    size_t nout, capout, produced_upto;
    uint64_t failed_seen;
    gold_stats st;
    /* --metrics (all NULL without: every update accepts NULL) */
    job_stats *js;
    job_table *jt[OUT_N];
    metric *m_silver_version, *m_silver_latest, *m_windows, *m_windows_open, *m_opened, *m_closed, *m_alerts_open,
        *m_watermark;
} gold_job;

static const char *const out_label[] = {"gold_room_1m", "alerts", "quarantine", "anomalies"};
_Static_assert(sizeof out_label / sizeof *out_label == OUT_N, "one metrics label per output table");

static metric *gold_metric(gold_job *j, metric_type t, const char *name, const char *help)
{
    if (!j->js) return NULL;
    return metric_family_only(metrics_family(job_stats_metrics(j->js), t, name, help, NULL, 0, NULL));
}

/* Registers Gold's own families (GOLD_METRIC_* in gold_job.h). */
static void metrics_setup(gold_job *j)
{
    j->js = j->c->metrics;
    j->m_silver_version = gold_metric(j, METRIC_GAUGE, GOLD_METRIC_SILVER_VERSION, "Last Silver version processed.");
    j->m_silver_latest = gold_metric(j, METRIC_GAUGE, GOLD_METRIC_SILVER_LATEST, "Latest Silver version seen.");
    j->m_windows = gold_metric(j, METRIC_COUNTER, GOLD_METRIC_WINDOWS_EMITTED, "Gold windows written.");
    j->m_windows_open = gold_metric(j, METRIC_GAUGE, GOLD_METRIC_WINDOWS_OPEN, "Windows still open.");
    j->m_opened = gold_metric(j, METRIC_COUNTER, GOLD_METRIC_ALERTS_OPENED, "Alerts opened.");
    j->m_closed = gold_metric(j, METRIC_COUNTER, GOLD_METRIC_ALERTS_CLOSED, "Alerts closed.");
    j->m_alerts_open = gold_metric(j, METRIC_GAUGE, GOLD_METRIC_ALERTS_OPEN, "Alerts open now.");
    j->m_watermark = gold_metric(j, METRIC_GAUGE, GOLD_METRIC_WATERMARK, "Event-time watermark (Unix seconds).");
    metric_set(j->m_silver_version, -1);
    metric_set(j->m_silver_latest, -1);
}

/* The live gauges, after refresh_stats. */
static void metrics_refresh(gold_job *j)
{
    metric_set(j->m_silver_version, (double)j->st.silver_version);
    metric_set(j->m_silver_latest, (double)j->st.silver_latest);
    metric_set(j->m_windows_open, (double)j->st.windows_open);
    metric_set(j->m_alerts_open, (double)j->st.alerts_open);
    if (j->st.watermark_us != INT64_MIN) metric_set(j->m_watermark, (double)j->st.watermark_us / 1e6);
    for (int i = 0; i < OUT_N; i++) job_table_observe(j->jt[i], j->out[i]);
}

void gold_config_init(gold_config *c)
{
    memset(c, 0, sizeof *c);
    c->silver_path = TABLE_SILVER_PATH;
    c->gold_path = TABLE_GOLD_PATH;
    c->alerts_path = TABLE_ALERTS_PATH;
    c->quarantine_path = TABLE_QUARANTINE_PATH;
    c->checkpoint = "data/checkpoints/gold";
    c->alerts_topic = "iot_alerts";
    c->window_us = 60LL * 1000000;
    c->lateness_us = 120LL * 1000000;
    c->trigger_us = 1000000;
    c->max_versions = 50;
    c->start_version = 0;
    c->wait_for_silver_us = -1;
    c->anomalies = 1;
    c->anomalies_path = TABLE_ANOMALIES_PATH;
}

/* 1 once the caller's stop flag is set (NULL flag: never). */
static int stopping(const gold_job *j) { return j->stop && *j->stop; }

/* Records a non-fatal problem in the stats (truncated to fit) and reports it. */
static void warn(gold_job *j, const char *msg)
{
    size_t n = strlen(msg);
    if (n >= sizeof j->st.warning) n = sizeof j->st.warning - 1;
    memcpy(j->st.warning, msg, n);
    j->st.warning[n] = '\0';
    if (j->cb) j->cb(&j->st, "warning", j->opaque);
}

/* Copies the live numbers (positions, windows, alerts, Kafka counters) into the stats. O(1). */
static void refresh_stats(gold_job *j)
{
    j->st.silver_version = gold_pos_version(j->pos);
    j->st.flushed = gold_pos_flushed(j->pos);
    j->st.windows_open = win_state_open_count(j->win);
    j->st.alerts_open = alert_engine_open_count(j->alerts);
    j->st.watermark_us = win_state_watermark(j->win);
    j->st.max_event_time_us = win_state_max_event_time(j->win);
    for (int i = 0; i < OUT_N; i++) j->st.versions[i] = j->out[i] ? delta_table_version(j->out[i]) : -1;
    if (j->anom) {
        j->st.anomalies_open = anomaly_model_open_count(j->anom);
        j->st.anomaly_sensors = anomaly_model_sensor_count(j->anom);
        j->st.anomaly_bytes = anomaly_model_bytes(j->anom);
    }
    j->st.kafka_pending = j->nout;
    if (j->producer) {
        kafka_producer_stats ks;
        kafka_producer_stats_get(j->producer, &ks);
        j->st.kafka_produced = ks.produced;
        j->st.kafka_delivered = ks.delivered;
        j->st.kafka_failed = ks.failed;
    }
}

/* ------------------------------------------------------------------ state (de)serialization */

static void outbox_clear(gold_job *j)
{
    for (size_t i = 0; i < j->nout; i++) {
        free(j->outbox[i].key);
        free(j->outbox[i].json);
    }
    j->nout = j->produced_upto = 0;
}

/* Queues one alert message of batch pos; key is copied, json_owned taken over. */
static void outbox_push(gold_job *j, int64_t pos, const char *key, char *json_owned)
{
    if (j->nout == j->capout) {
        j->capout = j->capout ? j->capout * 2 : 16;
        j->outbox = st_xrealloc(j->outbox, j->capout * sizeof *j->outbox);
    }
    j->outbox[j->nout++] = (outbox_item){pos, st_xstrdup(key), json_owned};
}

/* Appends the job's whole state (counters, windows, alerts, outbox) to b. O(state size). */
static void state_serialize(const gold_job *j, st_buf *b)
{
    binio_put_u32(b, BODY_MAGIC);
    binio_put_i64(b, (int64_t)j->st.rows_in);
    binio_put_i64(b, (int64_t)j->st.rows_late);
    binio_put_i64(b, (int64_t)j->st.windows_emitted);
    binio_put_i64(b, (int64_t)j->st.alerts_opened);
    binio_put_i64(b, (int64_t)j->st.alerts_closed);
    win_state_save(j->win, b);
    alert_engine_save(j->alerts, b);
    binio_put_i64(b, (int64_t)j->nout);
    for (size_t i = 0; i < j->nout; i++) {
        binio_put_i64(b, j->outbox[i].pos);
        binio_put_str(b, j->outbox[i].key, strlen(j->outbox[i].key));
        binio_put_str(b, j->outbox[i].json, strlen(j->outbox[i].json));
    }
    /* anomaly section, length first so that a run with anomalies off can step over it
       (and a state written before it existed simply ends here) */
    if (j->anom) {
        st_buf a = {0};
        binio_put_u32(&a, ANOM_SECTION);
        binio_put_i64(&a, (int64_t)j->st.anomalies_opened);
        binio_put_i64(&a, (int64_t)j->st.anomalies_closed);
        anomaly_model_save(j->anom, &a);
        binio_put_i64(b, (int64_t)a.len);
        st_buf_append(b, a.data, a.len);
        st_buf_free(&a);
    }
}

/* Reads the anomaly section of a state body, if any (none: a fresh model). */
static st_code anomaly_section_load(gold_job *j, binio_reader *r, st_err *e)
{
    if (r->p == r->end) return ST_OK;
    int64_t len = 0;
    if (binio_get_i64(r, &len, e)) return ST_ERR_FORMAT;
    if (len < 0 || len > r->end - r->p) return st_err_set(e, ST_ERR_FORMAT, "%s: bad anomaly section", r->what);
    binio_reader a = {r->p, r->p + len, r->what};
    r->p += len;
    if (!j->anom) return ST_OK;
    uint32_t magic = 0;
    int64_t opened = 0, closed = 0;
    if (binio_get_u32(&a, &magic, e) || binio_get_i64(&a, &opened, e) || binio_get_i64(&a, &closed, e))
        return ST_ERR_FORMAT;
    if (magic != ANOM_SECTION) return st_err_set(e, ST_ERR_FORMAT, "%s: bad anomaly section", r->what);
    st_code rc = anomaly_model_load(j->anom, &a, e);
    if (rc) return rc;
    j->st.anomalies_opened = (uint64_t)opened;
    j->st.anomalies_closed = (uint64_t)closed;
    return ST_OK;
}

/* Loads the state saved at pos (or the fresh state for fresh_pos). */
static st_code state_load(gold_job *j, int64_t pos, st_err *e)
{
    outbox_clear(j);
    j->st.rows_in = j->st.rows_late = j->st.windows_emitted = j->st.alerts_opened = j->st.alerts_closed = 0;
    win_state_destroy(j->win);
    alert_engine_destroy(j->alerts);
    j->win = win_state_new(j->c->window_us, j->c->lateness_us);
    j->alerts = alert_engine_new(j->rules);
    if (j->anom) {
        anomaly_model_destroy(j->anom);
        j->anom = anomaly_model_new(&j->aparams);
    }
    j->st.anomalies_opened = j->st.anomalies_closed = 0;
    j->pos = pos;
    if (pos == j->fresh_pos) return ST_OK;
    st_buf b = {0};
    st_code rc = gold_state_read(j->ckpt, pos, j->table_id, &b, e);
    if (rc == ST_ERR_NOTFOUND) {
        rc = st_err_set(e, ST_ERR_STATE,
                        "the output tables have processed Silver up to version %lld%s but %s has no state for it: "
                        "checkpoint and outputs disagree (restore the checkpoint, or start over: smarttech reset)",
                        (long long)gold_pos_version(pos), gold_pos_flushed(pos) ? " (flushed)" : "",
                        j->c->checkpoint);
        goto done;
    }
    if (rc) goto done;
    char *key = gold_state_key(pos);
    st_buf wb = {0};
    st_buf_printf(&wb, "%s/%s", st_store_root(j->ckpt), key);
    free(key);
    char *what = (char *)st_buf_detach(&wb, NULL);
    binio_reader r = {b.data, b.data + b.len, what};
    uint32_t magic = 0;
    int64_t cnt[5], nout = 0;
    rc = binio_get_u32(&r, &magic, e);
    if (!rc && magic != BODY_MAGIC) rc = st_err_set(e, ST_ERR_FORMAT, "%s: bad state body", what);
    for (int i = 0; i < 5 && !rc; i++) rc = binio_get_i64(&r, &cnt[i], e);
    if (!rc) rc = win_state_load(j->win, &r, e);
    if (!rc) rc = alert_engine_load(j->alerts, &r, e);
    if (!rc) rc = binio_get_i64(&r, &nout, e);
    if (!rc && (nout < 0 || nout > r.end - r.p)) rc = st_err_set(e, ST_ERR_FORMAT, "%s: bad outbox size", what);
    int64_t sent = rc ? 0 : gold_state_kafka_sent(j->ckpt);
    for (int64_t i = 0; i < nout && !rc; i++) {
        int64_t p = 0;
        char *key = NULL, *json = NULL;
        rc = binio_get_i64(&r, &p, e);
        if (!rc) rc = binio_get_str(&r, &key, NULL, e);
        if (!rc) rc = binio_get_str(&r, &json, NULL, e);
        if (!rc && p > sent) {
            outbox_push(j, p, key, json);
            json = NULL;
        }
        free(key);
        free(json);
    }
    if (!rc) rc = anomaly_section_load(j, &r, e);
    if (!rc) {
        j->st.rows_in = (uint64_t)cnt[0];
        j->st.rows_late = (uint64_t)cnt[1];
        j->st.windows_emitted = (uint64_t)cnt[2];
        j->st.alerts_opened = (uint64_t)cnt[3];
        j->st.alerts_closed = (uint64_t)cnt[4];
    }
    free(what);
done:
    st_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ rows */

static st_code need_value(const record *pos, const record_value *v, int col, st_err *e)
{
    if (v[col].is_null)
        return st_err_set(e, ST_ERR_FORMAT, "Silver %s (version %lld) row %lld: column %s is null",
                          pos->origin ? pos->origin : "?", (long long)pos->position, (long long)pos->origin_row,
                          gold_input_columns[col]);
    return ST_OK;
}

/* Appends "k":"s" (s JSON-escaped). */
static void json_kv(st_buf *b, const char *k, const char *s, size_t n)
{
    st_buf_printf(b, "\"%s\":", k);
    st_buf_append_json_str(b, s, n);
}

/* Quarantines a late row: raw = the reading as JSON, detail = why, source = the Silver file and row. */
static void quarantine_late(gold_job *j, const record *pos, const record_value *v, int64_t wstart)
{
    st_buf *b = &j->scratch;
    char t[48], ws[48], we[48], wm[48];
    size_t tn = st_format_iso_us(v[C_EVENT_TIME].i64, t, sizeof t, 0);
    st_format_iso_us(wstart, ws, sizeof ws, 0);
    st_format_iso_us(wstart + j->c->window_us, we, sizeof we, 0);
    st_format_iso_us(win_state_closed_until(j->win), wm, sizeof wm, 0);
    st_buf_reset(b);
    st_buf_append_u8(b, '{');
    json_kv(b, "event_id", v[C_EVENT_ID].str, v[C_EVENT_ID].len);
    st_buf_append_u8(b, ',');
    json_kv(b, "sensor_id", v[C_SENSOR_ID].str, v[C_SENSOR_ID].len);
    st_buf_append_u8(b, ',');
    json_kv(b, "building_id", v[C_BUILDING_ID].str, v[C_BUILDING_ID].len);
    st_buf_printf(b, ",\"floor\":%lld,", (long long)v[C_FLOOR].i64);
    json_kv(b, "room_id", v[C_ROOM_ID].str, v[C_ROOM_ID].len);
    st_buf_append_u8(b, ',');
    json_kv(b, "sensor_type", v[C_SENSOR_TYPE].str, v[C_SENSOR_TYPE].len);
    st_buf_append_str(b, ",\"value\":");
    iot_append_double(b, v[C_VALUE].f64);
    st_buf_append_u8(b, ',');
    json_kv(b, "event_time", t, tn);
    st_buf_append_u8(b, '}');
    char detail[256];
    snprintf(detail, sizeof detail, "event_time %s: window [%s, %s) already closed by the watermark (%s)", t, ws, we,
             wm);
    char *file = st_path_join(j->c->silver_path, pos->origin ? pos->origin : "");
    table_append_quarantine(j->batch[OUT_QUARANTINE], iot_reason_str(IOT_LATE), detail, (const char *)b->data, b->len,
                            NULL, 0, 0, file, pos->origin_row + 1, j->det_us);
    free(file);
}

/* One Silver row: to its window (or quarantine when late) and to the consecutive alert rules. */
static st_code on_row(gold_job *j, const record *pos, st_err *e)
{
    const record_value *v = pos->fields;
    if (pos->nfields < C_N)
        return st_err_set(e, ST_ERR_FORMAT, "%s version %lld: a row has %zu columns, Gold needs %d",
                          record_source_name(j->src), (long long)pos->position, pos->nfields, C_N);
    for (int c = 0; c < C_REQUIRED; c++)
        if (need_value(pos, v, c, e)) return ST_ERR_FORMAT;
    win_reading r = {
        .building_id = {v[C_BUILDING_ID].str, v[C_BUILDING_ID].len},
        .room_id = {v[C_ROOM_ID].str, v[C_ROOM_ID].len},
        .sensor_type = {v[C_SENSOR_TYPE].str, v[C_SENSOR_TYPE].len},
        .sensor_id = {v[C_SENSOR_ID].str, v[C_SENSOR_ID].len},
        .floor = (int32_t)v[C_FLOOR].i64,
        .event_time_us = v[C_EVENT_TIME].i64,
        .value = v[C_VALUE].f64,
    };
    int64_t ws = 0;
    j->st.rows_in++;
    j->st.last_batch_rows++;
    if (j->anom) { /* late for a window or not: the model keeps each sensor's own order */
        anomaly_reading ar = {r.sensor_id, r.building_id, r.room_id, r.sensor_type, r.floor,
                              v[C_PARTITION].is_null ? -1 : (int32_t)v[C_PARTITION].i64, r.value, r.event_time_us};
        anomaly_model_on_reading(j->anom, &ar, &j->batch_anoms);
    }
    if (win_state_add(j->win, &r, &ws) == WIN_LATE) {
        j->st.rows_late++;
        j->st.last_batch_late++;
        quarantine_late(j, pos, v, ws);
        return ST_OK;
    }
    alert_reading a = {r.sensor_id, r.building_id, r.room_id, r.sensor_type, r.floor, r.value, r.event_time_us};
    alert_engine_on_reading(j->alerts, &a, j->det_us, &j->batch_alerts);
    return ST_OK;
}

/* Feeds Silver versions from..to (none when to < from) to the windows and the alert rules: a
 * seek to `from`, then polls until the DONE marker of `to` (a batch never goes past one, so
 * nothing after `to` is read). At each DONE the watermark moves up (see window.h). */
static st_code read_versions(gold_job *j, int64_t from, int64_t to, st_err *e)
{
    if (to < from) return ST_OK;
    record_position at = {0, from};
    st_code rc = record_source_seek(j->src, &at, 1, e);
    for (int64_t done = from - 1; rc == ST_OK && done < to;) {
        size_t n = 0;
        if ((rc = record_source_poll(j->src, j->recs, POLL_MAX, 0, &n, e))) break;
        for (size_t i = 0; i < n && rc == ST_OK; i++) {
            const record *r = &j->recs[i];
            if (r->kind == RECORD_DATA) {
                rc = on_row(j, r, e);
            } else if (r->kind == RECORD_DONE) {
                win_state_advance(j->win);
                if (j->anom) anomaly_model_advance(j->anom, &j->batch_anoms);
                done = r->position;
            }
        }
        if (rc == ST_OK && n == 0) {
            /* nothing: the versions must still be there (a source always moves on otherwise) */
            int64_t lo = 0, hi = 0;
            if ((rc = record_source_bounds(j->src, 0, 0, &lo, &hi, e))) break;
            if (hi <= to)
                rc = st_err_set(e, ST_ERR_NOTFOUND, "%s: versions %lld..%lld are not all in the log",
                                record_source_name(j->src), (long long)(done + 1), (long long)to);
        }
    }
    record_source_release(j->src);
    return rc;
}

/* Days since 1970-01-01 of a UTC microsecond time (floor, also before 1970). */
static int32_t days_of(int64_t us)
{
    int64_t d = 86400LL * 1000000;
    int64_t q = us / d;
    if (us % d < 0) q--;
    return (int32_t)q;
}

/* One closed window as a gold_room_1m row (TABLE_GOLD column order). */
static void append_gold_row(delta_batch *b, const win_result *w)
{
    delta_batch_append_long(b, GOLD_WINDOW_START, w->start_us);
    delta_batch_append_long(b, GOLD_WINDOW_END, w->end_us);
    delta_batch_append_string(b, GOLD_BUILDING_ID, w->building_id, strlen(w->building_id));
    delta_batch_append_int(b, GOLD_FLOOR, w->floor);
    delta_batch_append_string(b, GOLD_ROOM_ID, w->room_id, strlen(w->room_id));
    delta_batch_append_string(b, GOLD_SENSOR_TYPE, w->sensor_type, strlen(w->sensor_type));
    delta_batch_append_long(b, GOLD_COUNT, w->count);
    delta_batch_append_double(b, GOLD_AVG, w->avg);
    delta_batch_append_double(b, GOLD_MIN, w->min);
    delta_batch_append_double(b, GOLD_MAX, w->max);
    delta_batch_append_long(b, GOLD_FIRST_EVENT_TIME, w->first_us);
    delta_batch_append_long(b, GOLD_LAST_EVENT_TIME, w->last_us);
    delta_batch_append_int(b, GOLD_WINDOW_DATE, days_of(w->start_us));
}

/* One alert as an alerts_delta row (TABLE_ALERTS column order). */
static void append_alert_row(delta_batch *b, const alert_event *a)
{
    delta_batch_append_string(b, ALERT_ALERT_ID, a->alert_id, strlen(a->alert_id));
    delta_batch_append_string(b, ALERT_STATE, a->state, strlen(a->state));
    delta_batch_append_string(b, ALERT_RULE, a->rule, strlen(a->rule));
    delta_batch_append_string(b, ALERT_SENSOR_ID, a->sensor_id, strlen(a->sensor_id));
    delta_batch_append_string(b, ALERT_BUILDING_ID, a->building_id, strlen(a->building_id));
    delta_batch_append_int(b, ALERT_FLOOR, a->floor);
    delta_batch_append_string(b, ALERT_ROOM_ID, a->room_id, strlen(a->room_id));
    delta_batch_append_string(b, ALERT_SENSOR_TYPE, a->sensor_type, strlen(a->sensor_type));
    delta_batch_append_double(b, ALERT_VALUE, a->value);
    delta_batch_append_double(b, ALERT_THRESHOLD, a->threshold);
    delta_batch_append_long(b, ALERT_EVENT_TIME, a->event_time_us);
    delta_batch_append_long(b, ALERT_DETECTION_TIME, a->detection_time_us);
}

/* One anomaly state change as an anomalies_delta row (TABLE_ANOMALIES column order). */
static void append_anomaly_row(delta_batch *b, const anomaly_event *a, int64_t detection_us)
{
    const char *kind = anomaly_kind_str(a->kind);
    delta_batch_append_string(b, ANOM_ANOMALY_ID, a->anomaly_id, strlen(a->anomaly_id));
    delta_batch_append_string(b, ANOM_STATE, a->state, strlen(a->state));
    delta_batch_append_string(b, ANOM_KIND, kind, strlen(kind));
    delta_batch_append_string(b, ANOM_SENSOR_ID, a->sensor_id, strlen(a->sensor_id));
    delta_batch_append_string(b, ANOM_BUILDING_ID, a->building_id, strlen(a->building_id));
    delta_batch_append_int(b, ANOM_FLOOR, a->floor);
    delta_batch_append_string(b, ANOM_ROOM_ID, a->room_id, strlen(a->room_id));
    delta_batch_append_string(b, ANOM_SENSOR_TYPE, a->sensor_type, strlen(a->sensor_type));
    delta_batch_append_string(b, ANOM_UNIT, a->unit, strlen(a->unit));
    delta_batch_append_double(b, ANOM_VALUE, a->value);
    if (isnan(a->expected))
        delta_batch_append_null(b, ANOM_EXPECTED);
    else
        delta_batch_append_double(b, ANOM_EXPECTED, a->expected);
    delta_batch_append_double(b, ANOM_SCORE, a->score);
    delta_batch_append_double(b, ANOM_THRESHOLD, a->threshold);
    delta_batch_append_long(b, ANOM_READINGS, a->readings);
    delta_batch_append_long(b, ANOM_START_TIME, a->start_us);
    if (a->end_us == INT64_MIN)
        delta_batch_append_null(b, ANOM_END_TIME);
    else
        delta_batch_append_long(b, ANOM_END_TIME, a->end_us);
    delta_batch_append_long(b, ANOM_EVENT_TIME, a->event_time_us);
    delta_batch_append_long(b, ANOM_DETECTION_TIME, detection_us);
    delta_batch_append_string(b, ANOM_REASON, a->reason, strlen(a->reason));
}

/* ------------------------------------------------------------------ commits */

/* Commits the batch to output table i unless it already holds position pos (the sink skips a
 * batch whose txns the table holds, e.g. one redone after a crash between the commits). */
static st_code commit_table(gold_job *j, int i, int64_t pos, st_err *e)
{
    if (!j->out[i] || j->tpos[i] >= pos) return ST_OK;
    int64_t v = gold_pos_version(pos);
    delta_txn txns[2];
    size_t nt = 0;
    if (gold_pos_version(j->tpos[i]) < v) txns[nt++] = (delta_txn){j->app_id, v, 0};
    if (gold_pos_flushed(pos)) txns[nt++] = (delta_txn){j->flush_app_id, v, 0};
    char params[200];
    snprintf(params, sizeof params, "{\"outputMode\":\"Append\",\"queryId\":\"%s\",\"epochId\":\"%lld%s\"}",
             j->app_id, (long long)v, gold_pos_flushed(pos) ? "-flush" : "");
    append_sink_params p = {.txns = txns, .ntxns = nt, .operation_parameters_json = params};
    append_sink_result r;
    st_code rc = append_sink_write_batch(j->out[i], j->batch[i], &p, &r, e);
    if (rc == ST_OK && r.outcome == APPEND_SINK_COMMITTED) job_table_committed(j->jt[i], r.rows, r.attempts, r.ambiguous);
    if (rc == ST_ERR_CONFLICT)
        st_err_wrap(e, "%s has part of Gold's batch for Silver version %lld (is another `smarttech gold` running on "
                       "the same outputs?)",
                    delta_table_path(j->out[i]), (long long)v);
    if (!rc) j->tpos[i] = pos;
    return rc;
}

/* ------------------------------------------------------------------ Kafka */

/* Sends the outbox, waits up to wait_ms for delivery (interrupted by the stop flag unless final),
 * and records the delivered position. */
static void kafka_send(gold_job *j, int wait_ms, int final)
{
    if (!j->producer || !j->nout) return;
    st_err e;
    for (; j->produced_upto < j->nout; j->produced_upto++) {
        const outbox_item *o = &j->outbox[j->produced_upto];
        if (kafka_producer_send(j->producer, o->key, strlen(o->key), o->json, strlen(o->json), 1000, &e)) {
            warn(j, e.msg);
            break;
        }
    }
    st_code rc = kafka_producer_flush(j->producer, wait_ms, final ? NULL : j->stop, &e);
    kafka_producer_stats ks;
    kafka_producer_stats_get(j->producer, &ks);
    if (ks.failed > j->failed_seen) {
        j->failed_seen = ks.failed;
        j->produced_upto = 0; /* at-least-once: send the whole outbox again */
        char msg[320];
        snprintf(msg, sizeof msg, "alerts to Kafka: %.255s (will retry)", ks.last_error);
        warn(j, msg);
        return;
    }
    if (rc || j->produced_upto < j->nout) return; /* still queued: try again after the next batch */
    int64_t last = j->outbox[j->nout - 1].pos;
    if (gold_state_set_kafka_sent(j->ckpt, last, &e)) warn(j, e.msg);
    outbox_clear(j);
}

/* ------------------------------------------------------------------ one batch */

/* Processes Silver versions from..to (none when to < from), flushing when flush, and commits
 * the result to the output tables that do not have it yet. */
static st_code run_batch(gold_job *j, int64_t from, int64_t to, int flush, st_err *e)
{
    int64_t t0 = st_monotonic_us();
    int64_t newpos = gold_pos(to, flush);
    j->det_us = st_now_us();
    j->st.last_batch_rows = j->st.last_batch_late = j->st.last_batch_windows = j->st.last_batch_alerts = 0;
    j->st.last_batch_anomalies = 0;
    for (int i = 0; i < OUT_N; i++)
        if (j->batch[i]) delta_batch_clear(j->batch[i]);
    alert_list_clear(&j->batch_alerts);
    anomaly_list_clear(&j->batch_anoms);

    st_code rc = read_versions(j, from, to, e);
    if (rc) return rc;
    win_result *w = NULL;
    size_t nw = 0;
    win_state_take_closed(j->win, flush, &w, &nw);
    for (size_t i = 0; i < nw; i++) {
        append_gold_row(j->batch[OUT_GOLD], &w[i]);
        alert_engine_on_window(j->alerts, &w[i], j->det_us, &j->batch_alerts);
    }
    win_results_free(w, nw);
    j->st.windows_emitted += nw;
    j->st.last_batch_windows = nw;
    for (size_t i = 0; i < j->batch_anoms.count; i++) { /* rows, and alerts like the threshold ones */
        const anomaly_event *a = &j->batch_anoms.items[i];
        append_anomaly_row(j->batch[OUT_ANOMALIES], a, j->det_us);
        anomaly_event_to_alert(a, j->det_us, &j->batch_alerts);
        if (a->state[0] == 'o')
            j->st.anomalies_opened++;
        else
            j->st.anomalies_closed++;
    }
    j->st.last_batch_anomalies = j->batch_anoms.count;
    for (size_t i = 0; i < j->batch_alerts.count; i++) {
        const alert_event *a = &j->batch_alerts.items[i];
        append_alert_row(j->batch[OUT_ALERTS], a);
        if (a->state[0] == 'o')
            j->st.alerts_opened++;
        else
            j->st.alerts_closed++;
        if (j->producer) {
            st_buf js = {0};
            alert_event_to_json(a, &js);
            outbox_push(j, newpos, a->sensor_id, (char *)st_buf_detach(&js, NULL));
        }
    }
    j->st.last_batch_alerts = j->batch_alerts.count;

    /* state first, then the commits: a crash in between is redone from the previous state */
    int64_t prev = j->pos;
    st_buf body = {0};
    alert_engine_forget_idle(j->alerts); /* the state keeps subjects with something going on only */
    state_serialize(j, &body);
    rc = gold_state_write(j->ckpt, newpos, j->table_id, &body, e);
    st_buf_free(&body);
    if (rc) return rc;
    j->pos = newpos;
    for (int i = 0; i < OUT_N && !rc; i++) rc = commit_table(j, i, newpos, e);
    if (rc) return rc;
    gold_state_prune(j->ckpt, newpos, prev);
    j->st.batches++;
    j->st.last_batch_us = st_monotonic_us() - t0;
    job_stats_add(j->js, JOB_EVENTS_IN, j->st.last_batch_rows);
    job_stats_quarantined(j->js, IOT_LATE, j->st.last_batch_late);
    metric_add(j->m_windows, (double)nw);
    for (size_t i = 0; i < j->batch_alerts.count; i++)
        metric_add(j->batch_alerts.items[i].state[0] == 'o' ? j->m_opened : j->m_closed, 1);
    job_stats_batch_done(j->js, j->st.last_batch_us);
    kafka_send(j, 0, 0); /* never stall the stream on Kafka: delivery is checked again next batch */
    refresh_stats(j);
    metrics_refresh(j);
    if (j->cb) j->cb(&j->st, "batch", j->opaque);
    return ST_OK;
}

/* ------------------------------------------------------------------ start-up */

static int64_t table_pos(const gold_job *j, int i)
{
    const delta_snapshot *s = delta_table_snapshot(j->out[i]);
    int64_t v = delta_snapshot_txn_version(s, j->app_id);
    int64_t f = delta_snapshot_txn_version(s, j->flush_app_id);
    if (v < 0) return j->fresh_pos;
    return gold_pos(v, f == v);
}

/* Places the anomalies table among the others. Behind them by at most what a crash between
 * the commits of one batch leaves (its position's state file is still there), it is redone
 * like any table; further behind (new under an existing checkpoint, or Gold ran with
 * anomalies off for a while), it joins at the others' position with a fresh model. */
static st_code anomalies_place(gold_job *j, int64_t *lo, int64_t *hi, st_err *e)
{
    (void)e;
    if (!j->out[OUT_ANOMALIES]) return ST_OK;
    int64_t a = j->tpos[OUT_ANOMALIES];
    int redo = a >= *lo;
    if (!redo && a != j->fresh_pos) {
        char *k = gold_state_key(a);
        redo = st_store_stat(j->ckpt, k, NULL, NULL) == ST_OK;
        free(k);
    }
    if (redo) {
        if (a < *lo) *lo = a;
        if (a > *hi) *hi = a;
        return ST_OK;
    }
    if (*lo == j->fresh_pos) return ST_OK; /* nothing committed anywhere yet: all start together */
    char msg[256];
    snprintf(msg, sizeof msg,
             "anomalies table %s is behind Gold (Silver version %lld): anomaly detection starts there with a "
             "fresh model",
             j->c->anomalies_path, (long long)gold_pos_version(*lo));
    warn(j, msg);
    j->tpos[OUT_ANOMALIES] = *lo; /* its next commit carries the next batch's txn versions */
    return ST_OK;
}

/* Sleeps up to us, waking early on stop. */
static void nap(const gold_job *j, int64_t us)
{
    int64_t end = st_monotonic_us() + us;
    while (!stopping(j)) {
        int64_t left = end - st_monotonic_us();
        if (left <= 0) break;
        struct timespec ts = {0, (long)((left < 50000 ? left : 50000) * 1000)};
        nanosleep(&ts, NULL);
    }
}

/* Latest Silver version (-1: no table yet): the source's end minus one. O(1) when nothing is new. */
static st_code latest_version(gold_job *j, int64_t *latest, st_err *e)
{
    int64_t lo = 0, hi = 0;
    st_code rc = record_source_bounds(j->src, 0, 0, &lo, &hi, e);
    if (rc == ST_OK) *latest = hi - 1;
    return rc;
}

/* Waits for the Silver table (or fails at once with once). */
static st_code wait_for_silver(gold_job *j, int64_t *latest, st_err *e)
{
    int64_t t0 = st_monotonic_us();
    for (;;) {
        st_code rc = latest_version(j, latest, e);
        if (rc) return rc;
        if (*latest >= 0) return ST_OK;
        if (j->c->once || (j->c->wait_for_silver_us >= 0 && st_monotonic_us() - t0 >= j->c->wait_for_silver_us))
            return st_err_set(e, ST_ERR_NOTFOUND, "no Silver table at %s (run `smarttech silver` first)",
                              j->c->silver_path);
        if (stopping(j)) return st_err_set(e, ST_ERR_INTERRUPTED, "stopped while waiting for %s", j->c->silver_path);
        j->st.silver_latest = -1;
        char why[600];
        snprintf(why, sizeof why, "no Silver table at %s yet", j->c->silver_path);
        job_stats_set_ready(j->js, 0, why);
        if (j->cb) j->cb(&j->st, "idle", j->opaque);
        nap(j, j->c->trigger_us);
    }
}

/* Failures worth waiting out: storage unreachable or failing, a write that may have landed. */
static int transient(st_code rc) { return rc == ST_ERR_IO || rc == ST_ERR_AMBIGUOUS; }

/* Puts the job where the output tables are: refreshes them, loads the state of the lowest
 * position they hold, and redoes the batch a crash (or a failed commit) left in some of them
 * only. At start-up, and after a failed batch (refresh = 1). */
static st_code resume(gold_job *j, int refresh, st_err *e)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < OUT_N; i++) {
        if (!j->out[i]) continue;
        st_code rc = refresh ? delta_table_refresh(j->out[i], e) : ST_OK;
        if (rc) return rc;
        j->tpos[i] = table_pos(j, i);
        if (i == OUT_ANOMALIES) continue; /* placed below */
        if (j->tpos[i] < lo) lo = j->tpos[i];
        if (j->tpos[i] > hi) hi = j->tpos[i];
    }
    st_code rc = anomalies_place(j, &lo, &hi, e);
    if (!rc) rc = state_load(j, lo, e);
    if (rc) return rc;
    refresh_stats(j);
    metrics_refresh(j);
    job_stats_set_ready(j->js, 1, NULL);
    if (hi > lo) {
        /* a crash between the commits of one batch: redo it for the tables that lack it */
        j->st.recovered = 1;
        if (j->cb) j->cb(&j->st, "recovered", j->opaque);
        rc = run_batch(j, gold_pos_version(lo) + 1, gold_pos_version(hi), gold_pos_flushed(hi), e);
    }
    return rc;
}

/* Rejects impossible option values with a message naming the option. */
static st_code check_config(const gold_config *c, st_err *e)
{
    if (c->window_us <= 0) return st_err_set(e, ST_ERR_ARG, "--window must be positive");
    if (c->lateness_us < 0) return st_err_set(e, ST_ERR_ARG, "--lateness must not be negative");
    if (c->trigger_us < 0) return st_err_set(e, ST_ERR_ARG, "--trigger must not be negative");
    if (c->max_versions < 1) return st_err_set(e, ST_ERR_ARG, "--max-versions must be at least 1");
    if (c->start_version < 0) return st_err_set(e, ST_ERR_ARG, "--from-version must not be negative");
    if (c->flush && !c->once) return st_err_set(e, ST_ERR_ARG, "--flush needs --once (it ends the input)");
    return ST_OK;
}

/* Creates the alerts topic if missing (1 partition, the cluster's default replication; a failure
 * is only a warning: the producer keeps retrying) and the producer. No-op without brokers. */
static st_code setup_kafka(gold_job *j, st_err *e)
{
    if (!j->c->brokers || !*j->c->brokers) return ST_OK;
    kafka_admin *a = NULL;
    st_err we;
    if (kafka_admin_new(&a, j->c->brokers, j->c->props, &we) == ST_OK) {
        if (kafka_admin_topic_create(a, j->c->alerts_topic, 1, 0, 0, 5000, NULL, &we) != ST_OK)
            warn(j, we.msg);
    } else {
        warn(j, we.msg);
    }
    kafka_admin_destroy(a);
    return kafka_producer_new(&j->producer, j->c->brokers, j->c->alerts_topic, j->c->props, e);
}

/* Releases everything the job holds. Undelivered alerts stay in the last state file. */
static void job_free(gold_job *j)
{
    maint_service_stop(j->maint);
    kafka_producer_destroy(j->producer); /* undelivered alerts stay in the state file's outbox */
    outbox_clear(j);
    free(j->outbox);
    for (int i = 0; i < OUT_N; i++) {
        delta_table_destroy(j->out[i]);
        delta_batch_destroy(j->batch[i]);
    }
    alert_list_free(&j->batch_alerts);
    anomaly_list_free(&j->batch_anoms);
    anomaly_model_destroy(j->anom);
    st_buf_free(&j->scratch);
    free(j->recs);
    win_state_destroy(j->win);
    alert_engine_destroy(j->alerts);
    alert_rules_destroy(j->rules);
    free(j->app_id);
    free(j->flush_app_id);
    st_store_close(j->ckpt);
}

st_code gold_job_run(const gold_config *c, const volatile sig_atomic_t *stop, gold_progress_fn cb, void *opaque,
                     gold_stats *stats, st_err *e)
{
    record_source *src = delta_source_new(c->silver_path, gold_input_columns, GOLD_IN_COLUMNS);
    st_code rc = gold_job_run_source(c, src, stop, cb, opaque, stats, e);
    record_source_destroy(src);
    return rc;
}

st_code gold_job_run_source(const gold_config *c, record_source *src, const volatile sig_atomic_t *stop,
                            gold_progress_fn cb, void *opaque, gold_stats *stats, st_err *e)
{
    gold_job jb;
    gold_job *j = &jb;
    memset(j, 0, sizeof *j);
    j->c = c;
    j->stop = stop;
    j->cb = cb;
    j->opaque = opaque;
    j->st.silver_version = j->st.silver_latest = -1;
    j->st.watermark_us = j->st.max_event_time_us = INT64_MIN;
    for (int i = 0; i < OUT_N; i++) j->st.versions[i] = -1;
    st_code rc = check_config(c, e);
    if (rc) goto done;
    if (c->rules_path)
        rc = alert_rules_load(c->rules_path, &j->rules, e);
    else
        j->rules = alert_rules_default();
    if (rc) goto done;
    j->win = win_state_new(c->window_us, c->lateness_us);
    j->alerts = alert_engine_new(j->rules);
    if (c->anomaly_params)
        j->aparams = *c->anomaly_params;
    else
        anomaly_params_init(&j->aparams);
    j->aparams.lateness_us = c->lateness_us;
    if (c->anomalies) j->anom = anomaly_model_new(&j->aparams);
    j->src = src;
    j->recs = st_xmalloc(POLL_MAX * sizeof *j->recs);
    metrics_setup(j);
    j->fresh_pos = gold_pos(c->start_version - 1, 0);
    j->pos = j->fresh_pos;

    int64_t latest = -1;
    if ((rc = wait_for_silver(j, &latest, e))) goto done;
    if ((rc = record_source_id(j->src, &j->table_id, e))) goto done;
    st_buf id = {0};
    st_buf_printf(&id, "gold/%s", j->table_id);
    j->app_id = st_xstrdup(st_buf_cstr(&id));
    st_buf_printf(&id, "/flush");
    j->flush_app_id = (char *)st_buf_detach(&id, NULL);

    const char *paths[OUT_N] = {c->gold_path, c->alerts_path, c->quarantine_path, c->anomalies_path};
    int64_t hi = INT64_MIN;
    delta_table_options wo;
    delta_maintain_writer_options(&wo);
    for (int i = 0; i < OUT_N; i++) {
        if (i == OUT_ANOMALIES && !c->anomalies) continue;
        j->out[i] = table_open_or_create_opts(out_kind[i], paths[i], c->maintenance ? &wo : NULL, e);
        if (!j->out[i]) {
            rc = e ? e->code : ST_ERR_IO;
            goto done;
        }
        j->batch[i] = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(j->out[i])));
        j->jt[i] = job_stats_table(j->js, out_label[i]);
        if (table_pos(j, i) > hi) hi = table_pos(j, i);
    }
    if ((rc = st_store_open(c->checkpoint, &j->ckpt, e))) goto done;
    if (c->maintenance && (rc = maint_service_start(c->maintenance, paths, c->anomalies ? OUT_N : OUT_N - 1,
                                                    &j->maint, e)))
        goto done;
    if (hi == j->fresh_pos) {
        /* nothing committed yet: whatever the checkpoint holds belongs to an older run */
        gold_state_clear_kafka_sent(j->ckpt);
        gold_state_prune(j->ckpt, j->fresh_pos, j->fresh_pos);
    }
    if ((rc = setup_kafka(j, e))) goto done;
    if ((rc = resume(j, 0, e))) goto done;
    kafka_send(j, 0, 0); /* alerts a crash kept from being delivered */

    int64_t target = latest; /* with once: what was there at start */
    int64_t backoff_us = 1000000;
    while (!stopping(j)) {
        rc = latest_version(j, &latest, e);
        if (!rc) {
            j->st.silver_latest = latest;
            if (c->once && latest > target) latest = target;
            int64_t v = gold_pos_version(j->pos);
            if (latest > v) {
                int64_t to = latest - v > c->max_versions ? v + c->max_versions : latest;
                int fl = c->once && c->flush && to == target;
                if (!(rc = run_batch(j, v + 1, to, fl, e))) {
                    backoff_us = 1000000;
                    continue;
                }
            } else if (c->once) {
                if (c->flush && !gold_pos_flushed(j->pos) && win_state_open_count(j->win) > 0)
                    rc = run_batch(j, v + 1, v, 1, e);
                if (!rc) break;
            }
        }
        if (rc) {
            /* storage unreachable or failing (an object store outage, a full disk): nothing of the
             * batch is lost; report, wait, and start again from what the tables hold */
            if (!transient(rc)) goto done;
            char msg[ST_ERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "retrying in %llds: %.900s", (long long)(backoff_us / 1000000),
                     e ? e->msg : "storage error");
            warn(j, msg);
            nap(j, backoff_us);
            if (backoff_us < 30000000) backoff_us *= 2;
            if (stopping(j)) break;
            if ((rc = resume(j, 1, e)) && !transient(rc)) goto done;
            continue;
        }
        refresh_stats(j);
        metrics_refresh(j);
        if (cb) cb(&j->st, "idle", opaque);
        nap(j, c->trigger_us);
    }
    rc = ST_OK;
    if (j->producer) kafka_send(j, 10000, 1); /* even after Ctrl+C: give the broker 10 s */
done:
    if (j->win) refresh_stats(j);
    if (stats) *stats = j->st;
    job_free(j);
    return rc;
}
