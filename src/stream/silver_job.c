#include "stream/silver_job.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delta/delta.h"
#include "stream/dedup.h"
#include "stream/tables.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

enum { T_BRONZE = 0, T_SILVER = 1, T_QUAR = 2, NT = 3 };

typedef struct part_state {
    int assigned;
    int at_eof;
    int64_t off[NT];       /* next offset each table still needs; -1 unknown */
    int64_t txn[NT];       /* the table's txn version for this partition as we last saw it, -1 none */
    int64_t batch_end;     /* next offset after the last record of the batch, -1 none */
    dedup_state *dedup;
} part_state;

/* A consumed record, copied out of librdkafka's buffers so they are released at once (the
 * fetcher then keeps running while the batch is processed; memory stays bounded by the batch). */
typedef struct rec {
    int32_t partition;
    int has_key, has_value;
    int64_t offset;
    int64_t ts_ms;          /* -1 when the record has none */
    size_t key_off, key_len, val_off, val_len;
} rec;

/* A batch of copied records. */
typedef struct recbuf {
    rec *msgs;
    size_t n;
    st_buf data;            /* keys and values of msgs */
    int64_t first_us;       /* monotonic time the first record arrived */
} recbuf;

typedef struct job {
    const silver_config *c;
    silver_stats *st;
    silver_progress_fn cb;
    void *opaque;
    rd_kafka_t *rk;
    delta_table *tables[NT];
    delta_batch *batches[NT];
    part_state *parts;
    int nparts;
    /* Two record buffers: the main thread collects into `collect` while the worker thread
     * processes `proc` (parse, write, commit), so fetching never waits for the disk. */
    recbuf bufs[2];
    recbuf *collect, *proc;
    pthread_t worker;
    int worker_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int work_ready;         /* proc holds a batch for the worker */
    int worker_busy;        /* worker is processing proc */
    int worker_quit;
    int result_pending;     /* the worker finished a batch whose result the main thread has not seen */
    st_code result_rc;
    st_err result_err;
    iot_arena *arena;
    int fatal;
    st_err ferr;
    int assigned_count;
    int wake_next;          /* next partition wake_fetcher asks about */
    int64_t last_others_check_us; /* --once: last look at the partitions other members hold */
    rd_kafka_queue_t *cq;   /* the consumer queue (records and callbacks) */
    rd_kafka_message_t *pollbuf[1024];
    int64_t last_activity_us;
} job;

static const char *table_label[NT] = {"bronze_kafka", "silver", "quarantine"};

void silver_config_init(silver_config *c)
{
    memset(c, 0, sizeof *c);
    c->brokers = "localhost:9092";
    c->topic = "iot_smartech";
    c->group = "smarttech-silver";
    c->bronze_path = TABLE_BRONZE_KAFKA_PATH;
    c->silver_path = TABLE_SILVER_PATH;
    c->quarantine_path = TABLE_QUARANTINE_PATH;
    c->checkpoint = "data/checkpoints/silver_kafka";
    c->trigger_us = 500000;
    c->max_events = 20000;
    c->from = SILVER_FROM_EARLIEST;
    c->dedup_delay_us = 10LL * 60 * 1000000;
    c->future_tolerance_us = 5LL * 60 * 1000000;
    c->once_idle_us = 60LL * 1000000;
}

double silver_stats_latency_ms(const silver_stats *s, double pct)
{
    if (!s->latency_count) return -1;
    uint64_t want = (uint64_t)((double)s->latency_count * pct / 100.0);
    if (want >= s->latency_count) want = s->latency_count - 1;
    uint64_t acc = 0;
    for (int i = 0; i < SILVER_LAT_BUCKETS; i++) {
        acc += s->latency_hist[i];
        if (acc > want) return (i + 1) * 10.0;
    }
    return SILVER_LAT_BUCKETS * 10.0;
}

static void set_fatal(job *j, st_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_fatal(job *j, st_code code, const char *fmt, ...)
{
    if (j->fatal) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->ferr.msg, sizeof j->ferr.msg, fmt, ap);
    va_end(ap);
    j->ferr.code = code;
    j->fatal = 1;
}

static void app_id(const job *j, int32_t p, char *out, size_t n)
{
    snprintf(out, n, "%s/%s/%d", j->c->group, j->c->topic, (int)p);
}

static part_state *part_get(job *j, int32_t p)
{
    if (p < 0) return NULL;
    if (p >= j->nparts) {
        int n = p + 1;
        j->parts = st_xrealloc(j->parts, (size_t)n * sizeof *j->parts);
        memset(j->parts + j->nparts, 0, (size_t)(n - j->nparts) * sizeof *j->parts);
        for (int i = j->nparts; i < n; i++) {
            j->parts[i].batch_end = -1;
            for (int t = 0; t < NT; t++) j->parts[i].off[t] = j->parts[i].txn[t] = -1;
        }
        j->nparts = n;
    }
    return &j->parts[p];
}

/* The state of partition p if it is known, without growing the array (the worker may be
 * reading it: the array only grows in rebalance callbacks, while the worker is idle). */
static part_state *part_find(job *j, int32_t p)
{
    return p >= 0 && p < j->nparts ? &j->parts[p] : NULL;
}

/* Drops the records collected so far and any dedup ids of an uncommitted batch (rebalance,
 * failed batch): nothing of them is committed. Only while the worker is idle. */
static void discard_batch(job *j)
{
    j->collect->n = 0;
    st_buf_reset(&j->collect->data);
    for (int p = 0; p < j->nparts; p++) {
        j->parts[p].batch_end = -1;
        if (j->parts[p].dedup) dedup_state_discard_batch(j->parts[p].dedup);
    }
}

/* Start offset of a partition none of whose tables has an offset yet: resolved once from
 * --from and remembered in the checkpoint folder, so that a table that commits later (after a
 * crash between commits) starts exactly where the others did. */
static st_code start_offset(job *j, int32_t p, int64_t *out, st_err *e)
{
    char name[512];
    snprintf(name, sizeof name, "%s/start-offsets/%s-%d", j->c->checkpoint, j->c->topic, (int)p);
    st_buf b = {0};
    st_code rc = st_read_file(name, &b, e);
    if (rc == ST_OK) {
        char *end;
        long long v = strtoll(st_buf_cstr(&b), &end, 10);
        st_buf_free(&b);
        if (end != (char *)b.data && v >= 0) {
            *out = v;
            return ST_OK;
        }
        return st_err_set(e, ST_ERR_FORMAT, "checkpoint file %s is damaged (expected an offset)", name);
    }
    st_buf_free(&b);
    if (rc != ST_ERR_NOTFOUND) return rc;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(j->rk, j->c->topic, p, &lo, &hi, 10000);
    if (err)
        return st_err_set(e, ST_ERR_KAFKA, "cannot read offsets of %s [%d] from %s: %s", j->c->topic, (int)p,
                          j->c->brokers, rd_kafka_err2str(err));
    int64_t v = lo;
    if (j->c->from == SILVER_FROM_LATEST) v = hi;
    if (j->c->from == SILVER_FROM_TIMESTAMP) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, j->c->topic, p)->offset = j->c->from_timestamp_ms;
        err = rd_kafka_offsets_for_times(j->rk, l, 10000);
        v = l->elems[0].offset;
        if (!err) err = l->elems[0].err;
        rd_kafka_topic_partition_list_destroy(l);
        if (err)
            return st_err_set(e, ST_ERR_KAFKA, "cannot find the offset of timestamp %" PRId64 " in %s [%d]: %s",
                              j->c->from_timestamp_ms, j->c->topic, (int)p, rd_kafka_err2str(err));
        if (v < 0) v = hi; /* no record at or after the timestamp yet */
    }
    char *dir = st_path_join(j->c->checkpoint, "start-offsets");
    rc = st_mkdirs(dir, e);
    free(dir);
    if (rc) return rc;
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%" PRId64 "\n", v);
    rc = st_write_file_atomic(name, txt, (size_t)n, e);
    if (rc) return rc;
    *out = v;
    return ST_OK;
}

/* Reads the tables' offsets of partition p (after a refresh) and loads its dedup state. */
static st_code resolve_partition(job *j, int32_t p, int64_t *seek, st_err *e)
{
    part_state *ps = part_get(j, p);
    char id[512];
    app_id(j, p, id, sizeof id);
    int missing = 0;
    for (int t = 0; t < NT; t++) {
        ps->off[t] = ps->txn[t] = delta_snapshot_txn_version(delta_table_snapshot(j->tables[t]), id);
        if (ps->off[t] < 0) missing = 1;
    }
    if (missing) {
        int64_t s = 0;
        st_code rc = start_offset(j, p, &s, e);
        if (rc) return rc;
        for (int t = 0; t < NT; t++)
            if (ps->off[t] < 0) ps->off[t] = s;
    }
    int64_t m = ps->off[0];
    for (int t = 1; t < NT; t++)
        if (ps->off[t] < m) m = ps->off[t];
    *seek = m;
    if (!ps->dedup) {
        char name[600];
        snprintf(name, sizeof name, "%s/dedup/%s-%d.log", j->c->checkpoint, j->c->topic, (int)p);
        ps->dedup = dedup_state_new(name, j->c->dedup_delay_us);
    }
    /* the log covers offsets below silver's; a partition never committed starts empty */
    int64_t committed = delta_snapshot_txn_version(delta_table_snapshot(j->tables[T_SILVER]), id);
    st_code rc = dedup_state_load(ps->dedup, committed, e);
    if (rc) return rc;
    ps->batch_end = -1;
    ps->at_eof = 0;
    return ST_OK;
}

static st_code refresh_tables(job *j, st_err *e)
{
    for (int t = 0; t < NT; t++) {
        st_code rc = delta_table_refresh(j->tables[t], e);
        if (rc) return st_err_wrap(e, "reading table %s", delta_table_path(j->tables[t]));
    }
    return ST_OK;
}

/* Waits until the worker has no batch in hand (the in-flight batch is committed or failed). */
static void wait_worker_idle(job *j)
{
    pthread_mutex_lock(&j->mu);
    while (j->work_ready || j->worker_busy) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

static void on_assign(job *j, rd_kafka_topic_partition_list_t *parts)
{
    wait_worker_idle(j);
    st_err e;
    st_err_clear(&e);
    st_code rc = refresh_tables(j, &e);
    for (int i = 0; rc == ST_OK && i < parts->cnt; i++) {
        int64_t seek;
        rc = resolve_partition(j, parts->elems[i].partition, &seek, &e);
        if (rc == ST_OK) {
            parts->elems[i].offset = seek;
            part_get(j, parts->elems[i].partition)->assigned = 1;
        }
    }
    if (rc) {
        set_fatal(j, rc, "%s", e.msg);
        rd_kafka_assign(j->rk, NULL);
        return;
    }
    rd_kafka_assign(j->rk, parts);
    j->assigned_count = parts->cnt;
    j->last_activity_us = st_monotonic_us();
    if (j->cb) {
        char ev[256];
        snprintf(ev, sizeof ev, "assigned %d partition(s) of %s", parts->cnt, j->c->topic);
        j->cb(j->st, ev, j->opaque);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    job *j = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(j, parts);
    } else {
        /* Revoked: the batch in the worker's hands is finished (committed) first, so the next
         * owner reads the tables after it; what was collected but not handed over is dropped. */
        wait_worker_idle(j);
        discard_batch(j);
        for (int p = 0; p < j->nparts; p++) j->parts[p].assigned = 0;
        j->assigned_count = 0;
        rd_kafka_assign(j->rk, NULL);
        if (j->cb) j->cb(j->st, "partitions revoked (rebalance)", j->opaque);
    }
}

/* After a failed batch: refresh the tables and seek every assigned partition back to what they
 * hold, so the batch is redone from the start. */
static st_code resync(job *j, st_err *e)
{
    discard_batch(j);
    st_code rc = refresh_tables(j, e);
    if (rc) return rc;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(j->nparts ? j->nparts : 1);
    for (int p = 0; p < j->nparts && rc == ST_OK; p++) {
        if (!j->parts[p].assigned) continue;
        int64_t seek;
        rc = resolve_partition(j, p, &seek, e);
        if (rc == ST_OK) rd_kafka_topic_partition_list_add(l, j->c->topic, p)->offset = seek;
    }
    if (rc == ST_OK && l->cnt) {
        rd_kafka_error_t *err = rd_kafka_seek_partitions(j->rk, l, 10000);
        if (err) {
            rc = st_err_set(e, ST_ERR_KAFKA, "cannot seek %s: %s", j->c->topic, rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static void add_raw_value(delta_batch *b, const char *v, size_t len, int utf8)
{
    if (!v) {
        delta_batch_append_null(b, BK_VALUE);
        delta_batch_append_null(b, BK_VALUE_BASE64);
    } else if (utf8) {
        delta_batch_append_string_ref(b, BK_VALUE, v, len); /* the record buffer outlives the write */
        delta_batch_append_null(b, BK_VALUE_BASE64);
    } else {
        st_buf enc = {0};
        table_base64(v, len, &enc);
        delta_batch_append_null(b, BK_VALUE);
        delta_batch_append_string(b, BK_VALUE_BASE64, (const char *)enc.data, enc.len);
        st_buf_free(&enc);
    }
}

/* Turns the collected records into rows of the three batches. Returns the Kafka timestamps
 * (ms) of the Silver rows for latency accounting in *lat (malloc'd). */
static void build_rows(job *j, const recbuf *rb, int64_t ingest_us, int64_t **lat, size_t *nlat)
{
    const silver_config *c = j->c;
    iot_parse_opts po;
    iot_parse_opts_init(&po);
    po.future_tolerance_us = c->future_tolerance_us;
    *lat = st_xmalloc((rb->n ? rb->n : 1) * sizeof(int64_t));
    *nlat = 0;
    for (size_t i = 0; i < rb->n; i++) {
        const rec *m = &rb->msgs[i];
        part_state *ps = part_find(j, m->partition);
        if (!ps) continue;
        int64_t o = m->offset;
        int64_t ts_ms = m->ts_ms;
        const char *payload = m->has_value ? (const char *)rb->data.data + m->val_off : NULL;
        int need_silver = o >= ps->off[T_SILVER], need_quar = o >= ps->off[T_QUAR];
        iot_event ev;
        iot_result res;
        iot_reason r = IOT_OK;
        if (need_silver || need_quar) {
            po.now_us = ts_ms >= 0 ? ts_ms * 1000 : ingest_us;
            if (!payload) {
                r = IOT_REASON_COUNT;
                res.name = "empty_value";
                snprintf(res.detail, sizeof res.detail, "the Kafka record has no value (tombstone)");
            } else {
                r = iot_event_parse(payload, m->val_len, &po, j->arena, &ev, &res);
            }
        }
        if (need_silver || need_quar) {
            if (r == IOT_OK) {
                if (need_silver) {
                    uint64_t h = dedup_hash(ev.event_id.ptr, ev.event_id.len);
                    if (dedup_state_check(ps->dedup, h, ev.event_time_us)) {
                        j->st->duplicates++;
                        j->st->last_batch_dups++;
                    } else {
                        delta_batch *b = j->batches[T_SILVER];
                        /* strings point into the record buffer or the batch arena: both outlive the write */
                        table_append_event_borrowed(b, &ev);
                        delta_batch_append_int(b, SILVER_SOURCE_PARTITION, m->partition);
                        delta_batch_append_long(b, SILVER_SOURCE_OFFSET, o);
                        delta_batch_append_long(b, SILVER_INGEST_TIME, ingest_us);
                        j->st->silver_rows++;
                        j->st->last_batch_silver++;
                        if (ts_ms >= 0) (*lat)[(*nlat)++] = ts_ms;
                    }
                }
            } else if (need_quar) {
                table_append_quarantine(j->batches[T_QUAR], res.name, res.detail, payload, m->val_len, c->topic,
                                        m->partition, o, NULL, 0, ingest_us);
                j->st->quarantined++;
                j->st->last_batch_quarantined++;
                j->st->by_reason[r]++;
            }
        }
    }
}

/* The bronze_kafka rows of a batch: every record as it came. Runs on its own thread, beside
 * build_rows (it reads the records and the partitions' bronze offsets only). */
static void build_bronze_rows(job *j, const recbuf *rb, int64_t ingest_us)
{
    delta_batch *b = j->batches[T_BRONZE];
    size_t tl = strlen(j->c->topic);
    uint64_t n = 0;
    for (size_t i = 0; i < rb->n; i++) {
        const rec *m = &rb->msgs[i];
        part_state *ps = part_find(j, m->partition);
        if (!ps || m->offset < ps->off[T_BRONZE]) continue;
        const char *key = m->has_key ? (const char *)rb->data.data + m->key_off : NULL;
        const char *payload = m->has_value ? (const char *)rb->data.data + m->val_off : NULL;
        delta_batch_append_string(b, BK_TOPIC, j->c->topic, tl);
        delta_batch_append_int(b, BK_PARTITION, m->partition);
        delta_batch_append_long(b, BK_OFFSET, m->offset);
        if (m->ts_ms >= 0)
            delta_batch_append_long(b, BK_KAFKA_TIMESTAMP, m->ts_ms * 1000);
        else
            delta_batch_append_null(b, BK_KAFKA_TIMESTAMP);
        if (key && table_utf8_valid(key, m->key_len))
            delta_batch_append_string(b, BK_KEY, key, m->key_len);
        else
            delta_batch_append_null(b, BK_KEY);
        add_raw_value(b, payload, m->val_len, payload && table_utf8_valid(payload, m->val_len));
        delta_batch_append_long(b, BK_INGEST_TIME, ingest_us);
        n++;
    }
    j->st->bronze_rows += n;
}

typedef struct bronze_task {
    job *j;
    const recbuf *rb;
    int64_t ingest_us;
    st_code rc;
    st_err err;
} bronze_task;

static st_code commit_table(job *j, int t, st_err *e);

static void *bronze_main(void *arg)
{
    bronze_task *bt = arg;
    st_err_clear(&bt->err);
    build_bronze_rows(bt->j, bt->rb, bt->ingest_us);
    bt->rc = commit_table(bt->j, T_BRONZE, &bt->err);
    return NULL;
}

/* Writes and commits table t with one txn per partition it advances. */
static st_code commit_table(job *j, int t, st_err *e)
{
    delta_txn *txns = st_xcalloc((size_t)(j->nparts ? j->nparts : 1), sizeof *txns);
    char (*ids)[512] = st_xcalloc((size_t)(j->nparts ? j->nparts : 1), 512);
    size_t ntx = 0;
    for (int p = 0; p < j->nparts; p++) {
        part_state *ps = &j->parts[p];
        if (ps->batch_end < 0 || ps->batch_end <= ps->off[t]) continue;
        app_id(j, p, ids[ntx], 512);
        txns[ntx].app_id = ids[ntx];
        txns[ntx].version = ps->batch_end;
        ntx++;
    }
    st_code rc = ST_OK;
    delta_file_list adds = {0};
    if (ntx) {
        /* Fencing: the partitions must still be where we left them in this table. Another
         * process that took a partition over (we were frozen past the session timeout) would
         * have moved its txn: then this batch is not ours to commit. */
        rc = delta_table_refresh(j->tables[t], e);
        for (int p = 0, k = 0; rc == ST_OK && p < j->nparts; p++) {
            part_state *ps = &j->parts[p];
            if (ps->batch_end < 0 || ps->batch_end <= ps->off[t]) continue;
            int64_t cur = delta_snapshot_txn_version(delta_table_snapshot(j->tables[t]), ids[k++]);
            if (cur != ps->txn[t])
                rc = st_err_set(e, ST_ERR_CONFLICT,
                                "%s [%d] in %s was committed up to offset %" PRId64 " by another process "
                                "(this one expected %" PRId64 ")",
                                j->c->topic, p, delta_table_path(j->tables[t]), cur, ps->txn[t]);
        }
    }
    if (ntx && rc == ST_OK) {
        rc = delta_table_write_files(j->tables[t], j->batches[t], &adds, e);
        if (rc == ST_OK) {
            delta_commit_params cp = {0};
            cp.adds = adds.items;
            cp.nadds = adds.count;
            cp.txns = txns;
            cp.ntxns = ntx;
            cp.operation = "STREAMING UPDATE";
            cp.operation_parameters_json = "{\"outputMode\":\"Append\"}";
            int64_t v;
            rc = delta_table_commit(j->tables[t], &cp, &v, e);
            if (rc == ST_OK) {
                j->st->versions[t] = v;
                for (int p = 0; p < j->nparts; p++)
                    if (j->parts[p].batch_end > j->parts[p].off[t])
                        j->parts[p].off[t] = j->parts[p].txn[t] = j->parts[p].batch_end;
            } else {
                /* files written but not committed are invisible; remove them */
                for (size_t i = 0; i < adds.count; i++) {
                    char *lp = delta_file_local_path(delta_table_path(j->tables[t]), &adds.items[i]);
                    unlink(lp);
                    free(lp);
                }
            }
        }
        if (rc) st_err_wrap(e, "committing %s", table_label[t]);
    }
    delta_file_list_free(&adds);
    free(txns);
    free(ids);
    return rc;
}

static void commit_kafka_offsets(job *j)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(j->nparts ? j->nparts : 1);
    for (int p = 0; p < j->nparts; p++) {
        part_state *ps = &j->parts[p];
        if (!ps->assigned || ps->off[0] < 0) continue;
        int64_t m = ps->off[0];
        for (int t = 1; t < NT; t++)
            if (ps->off[t] < m) m = ps->off[t];
        rd_kafka_topic_partition_list_add(l, j->c->topic, p)->offset = m;
    }
    if (l->cnt) rd_kafka_commit(j->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
}

static void update_lag(job *j)
{
    int64_t lag = 0;
    int known = 0;
    for (int p = 0; p < j->nparts; p++) {
        if (!j->parts[p].assigned) continue;
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(j->rk, j->c->topic, p, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
            continue;
        int64_t pos = j->parts[p].off[T_SILVER];
        if (pos >= 0 && hi > pos) lag += hi - pos;
        known = 1;
    }
    j->st->lag = known ? lag : -1;
}

/* Processes the collected records: rows, dedup state, three commits. */
static st_code process_batch(job *j, recbuf *rb, st_err *e)
{
    int64_t t0 = st_monotonic_us();
    int64_t ingest_us = st_now_us();
    for (int t = 0; t < NT; t++) delta_batch_clear(j->batches[t]);
    iot_arena_reset(j->arena);
    j->st->last_batch_silver = j->st->last_batch_quarantined = j->st->last_batch_dups = 0;
    j->st->events_in += rb->n;
    j->st->last_batch_in = rb->n;
    for (size_t i = 0; i < rb->n; i++) {
        part_state *ps = part_find(j, rb->msgs[i].partition);
        if (ps && rb->msgs[i].offset + 1 > ps->batch_end) ps->batch_end = rb->msgs[i].offset + 1;
    }
    /* bronze_kafka (raw values: the most bytes to compress) is built and committed on a second
     * thread while this one does Silver and quarantine: the tables are independent, each keeps
     * its own offsets */
    bronze_task bt = {j, rb, ingest_us, ST_OK, {0}};
    pthread_t bth;
    int threaded = pthread_create(&bth, NULL, bronze_main, &bt) == 0;
    if (!threaded) bronze_main(&bt);
    int64_t *lat;
    size_t nlat;
    build_rows(j, rb, ingest_us, &lat, &nlat);
    st_code rc = ST_OK;
    /* the dedup state of what Silver is about to hold is durable before Silver commits */
    for (int p = 0; p < j->nparts && rc == ST_OK; p++) {
        part_state *ps = &j->parts[p];
        if (ps->dedup && ps->batch_end > ps->off[T_SILVER]) rc = dedup_state_save_batch(ps->dedup, ps->batch_end, e);
    }
    if (rc == ST_OK) rc = commit_table(j, T_SILVER, e);
    if (rc == ST_OK) {
        int64_t now_ms = st_now_us() / 1000;
        for (size_t i = 0; i < nlat; i++) {
            int64_t d = now_ms - lat[i];
            if (d < 0) d = 0;
            int64_t b = d / 10;
            if (b >= SILVER_LAT_BUCKETS) b = SILVER_LAT_BUCKETS - 1;
            j->st->latency_hist[b]++;
            j->st->latency_count++;
        }
    }
    free(lat);
    if (rc == ST_OK) rc = commit_table(j, T_QUAR, e);
    if (threaded) pthread_join(bth, NULL);
    if (rc == ST_OK && bt.rc != ST_OK) {
        rc = bt.rc;
        if (e) *e = bt.err;
    }
    rb->n = 0;
    st_buf_reset(&rb->data);
    if (rc) return rc;
    for (int p = 0; p < j->nparts; p++) j->parts[p].batch_end = -1;
    commit_kafka_offsets(j);
    update_lag(j);
    j->st->batches++;
    j->st->last_batch_us = st_monotonic_us() - t0;
    return ST_OK;
}

/* Handles a consumer error event. Offsets out of range are fatal: data would be skipped. */
static void on_consumer_error(job *j, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        part_state *ps = part_find(j, m->partition);
        if (ps) ps->at_eof = 1;
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        set_fatal(j, ST_ERR_STATE,
                  "offsets out of range on %s [%d]: the position the tables hold (%s) is no longer in the topic "
                  "(topic recreated, or retention removed the records). Nothing was skipped. To start over, "
                  "point --output paths and --checkpoint at fresh folders and choose --from earliest|latest|<time> "
                  "(or `smarttech reset --yes`)",
                  j->c->topic, (int)m->partition, rd_kafka_message_errstr(m));
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || m->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        m->err == RD_KAFKA_RESP_ERR__RESOLVE) {
        j->st->broker_down = 1;
        snprintf(j->st->broker_error, sizeof j->st->broker_error, "%s", rd_kafka_message_errstr(m));
        if (j->cb) j->cb(j->st, "broker unreachable, waiting (librdkafka retries with backoff)", j->opaque);
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        snprintf(j->st->broker_error, sizeof j->st->broker_error, "%s", rd_kafka_message_errstr(m));
        if (j->cb) j->cb(j->st, "topic not found yet, waiting", j->opaque);
        return;
    }
    snprintf(j->st->broker_error, sizeof j->st->broker_error, "%s", rd_kafka_message_errstr(m));
    if (j->cb) j->cb(j->st, "consumer error", j->opaque);
}

/* 1 when the three tables hold partition p up to its current end offset. */
static int partition_done_in_tables(job *j, int32_t p)
{
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(j->rk, j->c->topic, p, &lo, &hi, 5000)) return 0;
    char id[512];
    app_id(j, p, id, sizeof id);
    for (int t = 0; t < NT; t++) {
        int64_t v = delta_snapshot_txn_version(delta_table_snapshot(j->tables[t]), id);
        if (v < 0 ? hi > lo : v < hi) return 0;
    }
    return 1;
}

/* --once: done when every assigned partition reached its end AND the tables hold every other
 * partition of the topic up to its end. The second half matters when the group still lists
 * members that died (kill -9) until their session times out: the assignment then gives this
 * process only part of the topic, and stopping after that part would leave the rest undone.
 * Called only while the worker is idle (it refreshes the tables); at most twice a second. */
static int caught_up(job *j)
{
    if (!j->assigned_count) return 0;
    for (int p = 0; p < j->nparts; p++)
        if (j->parts[p].assigned && !j->parts[p].at_eof) return 0;
    int64_t now = st_monotonic_coarse_us();
    if (now - j->last_others_check_us < 500000) return 0;
    j->last_others_check_us = now;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(j->rk, j->c->topic, NULL);
    int done = 0;
    if (rkt && rd_kafka_metadata(j->rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        !md->topics[0].err) {
        st_err e;
        done = refresh_tables(j, &e) == ST_OK;
        for (int i = 0; done && i < md->topics[0].partition_cnt; i++) {
            int32_t p = md->topics[0].partitions[i].id;
            part_state *ps = part_find(j, p);
            if (ps && ps->assigned) continue;
            done = partition_done_in_tables(j, p);
        }
    }
    if (md) rd_kafka_metadata_destroy(md);
    if (rkt) rd_kafka_topic_destroy(rkt);
    return done;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk; (void)level; (void)fac; (void)buf;
}

static st_code open_all(job *j, st_err *e)
{
    const silver_config *c = j->c;
    const char *paths[NT] = {c->bronze_path, c->silver_path, c->quarantine_path};
    const table_kind kinds[NT] = {TABLE_BRONZE_KAFKA, TABLE_SILVER, TABLE_QUARANTINE};
    for (int t = 0; t < NT; t++) {
        j->tables[t] = table_open_or_create(kinds[t], paths[t], e);
        if (!j->tables[t]) return st_err_wrap(e, "opening %s table", table_label[t]);
        delta_schema *s = table_schema(kinds[t]);
        j->batches[t] = delta_batch_new(s);
        delta_schema_destroy(s);
        j->st->versions[t] = delta_table_version(j->tables[t]);
    }
    char *d = st_path_join(c->checkpoint, "dedup");
    st_code rc = st_mkdirs(d, e);
    free(d);
    if (rc) return rc;

    kafka_props *props = kafka_props_new();
    kafka_props_set(props, "auto.offset.reset", "error");
    /* memory bound: a small prefetch queue per partition (wake_fetcher keeps it flowing) */
    kafka_props_set(props, "queued.max.messages.kbytes", "4096");
    kafka_props_set(props, "fetch.message.max.bytes", "1048576");
    kafka_props_set(props, "fetch.wait.max.ms", "100");
    kafka_props_set(props, "session.timeout.ms", "10000");
    kafka_props_set(props, "heartbeat.interval.ms", "1000");
    rd_kafka_conf_t *conf = NULL;
    rc = kafka_consumer_conf_new(&conf, c->brokers, c->group, props, e);
    kafka_props_destroy(props);
    if (rc == ST_OK && c->props) rc = kafka_props_apply(c->props, conf, e);
    if (rc) {
        if (conf) rd_kafka_conf_destroy(conf);
        return rc;
    }
    if (!c->props || !kafka_props_get(c->props, "debug")) rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, j);
    char errstr[512];
    j->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!j->rk) {
        rd_kafka_conf_destroy(conf);
        return st_err_set(e, ST_ERR_KAFKA, "cannot create consumer for %s: %s", c->brokers, errstr);
    }
    rd_kafka_poll_set_consumer(j->rk);
    j->cq = rd_kafka_queue_get_consumer(j->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(j->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) return st_err_set(e, ST_ERR_KAFKA, "cannot subscribe to %s: %s", c->topic, rd_kafka_err2str(err));
    return ST_OK;
}

static void close_all(job *j)
{
    if (j->rk) {
        discard_batch(j);
        if (j->cq) rd_kafka_queue_destroy(j->cq);
        rd_kafka_consumer_close(j->rk);
        rd_kafka_destroy(j->rk);
    }
    for (int t = 0; t < NT; t++) {
        delta_table_destroy(j->tables[t]);
        delta_batch_destroy(j->batches[t]);
    }
    for (int p = 0; p < j->nparts; p++) dedup_state_destroy(j->parts[p].dedup);
    free(j->parts);
    for (int b = 0; b < 2; b++) {
        free(j->bufs[b].msgs);
        st_buf_free(&j->bufs[b].data);
    }
    iot_arena_destroy(j->arena);
}

static void *worker_main(void *arg)
{
    job *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->work_ready && !j->worker_quit) pthread_cond_wait(&j->cv, &j->mu);
        if (!j->work_ready) break;
        j->worker_busy = 1;
        j->work_ready = 0;
        pthread_mutex_unlock(&j->mu);
        st_err be;
        st_err_clear(&be);
        st_code rc = process_batch(j, j->proc, &be);
        if (rc == ST_OK && j->cb) j->cb(j->st, NULL, j->opaque);
        pthread_mutex_lock(&j->mu);
        j->worker_busy = 0;
        __atomic_store_n(&j->result_pending, 1, __ATOMIC_RELEASE);
        j->result_rc = rc;
        j->result_err = be;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Hands the collected records to the worker once it is idle (swapping the two buffers). */
static void hand_off(job *j)
{
    pthread_mutex_lock(&j->mu);
    while (j->work_ready || j->worker_busy) pthread_cond_wait(&j->cv, &j->mu);
    recbuf *t = j->proc;
    j->proc = j->collect;
    j->collect = t;
    j->collect->n = 0;
    st_buf_reset(&j->collect->data);
    j->work_ready = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static int worker_idle(job *j)
{
    pthread_mutex_lock(&j->mu);
    int idle = !j->work_ready && !j->worker_busy;
    pthread_mutex_unlock(&j->mu);
    return idle;
}

/* Deals with the outcome of the worker's last batch. Returns 1 when the job must stop. */
static int check_result(job *j, int64_t *backoff_us)
{
    /* the collector calls this once per record: look without the lock first */
    if (!__atomic_load_n(&j->result_pending, __ATOMIC_ACQUIRE)) return 0;
    pthread_mutex_lock(&j->mu);
    int pending = j->result_pending && !j->work_ready && !j->worker_busy;
    st_code rc = j->result_rc;
    st_err be = j->result_err;
    if (pending) __atomic_store_n(&j->result_pending, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&j->mu);
    if (!pending) return 0;
    if (rc == ST_OK) {
        *backoff_us = 500000;
        return 0;
    }
    if (rc == ST_ERR_CONFLICT) {
        set_fatal(j, rc, "%s (another process committed these offsets: is a second job with the same group "
                         "writing these tables outside the consumer group?)", be.msg);
        return 1;
    }
    /* disk full, unwritable folder, ...: nothing of the batch is lost; redo it after a pause */
    if (j->cb) j->cb(j->st, be.msg, j->opaque);
    usleep((useconds_t)*backoff_us);
    if (*backoff_us < 30000000) *backoff_us *= 2;
    st_err re;
    if (resync(j, &re) != ST_OK && j->cb) j->cb(j->st, re.msg, j->opaque);
    return 0;
}

static void copy_record(job *j, const rd_kafka_message_t *m)
{
    recbuf *b = j->collect;
    if (!b->n) b->first_us = st_monotonic_coarse_us();
    rec *r = &b->msgs[b->n++];
    r->partition = m->partition;
    r->offset = m->offset;
    r->ts_ms = rd_kafka_message_timestamp(m, NULL);
    r->has_key = m->key != NULL;
    r->key_off = b->data.len;
    r->key_len = m->key_len;
    if (m->key) st_buf_append(&b->data, m->key, m->key_len);
    r->has_value = m->payload != NULL;
    r->val_off = b->data.len;
    r->val_len = m->len;
    if (m->payload) st_buf_append(&b->data, m->payload, m->len);
}

/* librdkafka 2.0 stops fetching a partition while its local queue is over
 * queued.max.messages.kbytes and looks again only when its broker thread wakes up (up to a
 * second later). With the small queue that keeps memory bounded, that pause would idle us
 * after every batch handed to the worker. Any request to the broker wakes its thread: when a
 * poll comes back empty while a partition is not caught up, ask for its end offset. */
static void wake_fetcher(job *j)
{
    for (int i = 0; i < j->nparts; i++) {
        int p = (j->wake_next + i) % j->nparts;
        if (!j->parts[p].assigned || j->parts[p].at_eof) continue;
        int64_t lo, hi;
        rd_kafka_query_watermark_offsets(j->rk, j->c->topic, p, &lo, &hi, 1000);
        j->wake_next = p + 1;
        return;
    }
}

st_code silver_job_run(const silver_config *c, const volatile sig_atomic_t *stop, silver_progress_fn cb,
                       void *opaque, silver_stats *stats, st_err *e)
{
    silver_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->lag = -1;
    job j = {0};
    j.c = c;
    j.st = stats;
    j.cb = cb;
    j.opaque = opaque;
    j.arena = iot_arena_new();
    size_t cap = c->max_events ? c->max_events : 1;
    for (int b = 0; b < 2; b++) j.bufs[b].msgs = st_xmalloc(cap * sizeof(rec));
    j.collect = &j.bufs[0];
    j.proc = &j.bufs[1];
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    j.last_activity_us = st_monotonic_us();
    st_code rc = open_all(&j, e);
    if (rc == ST_OK) {
        if (pthread_create(&j.worker, NULL, worker_main, &j) != 0)
            rc = st_err_set(e, ST_ERR_STATE, "cannot start the silver worker thread");
        else
            j.worker_started = 1;
    }
    int64_t backoff_us = 500000;
    while (rc == ST_OK && !j.fatal) {
        if (check_result(&j, &backoff_us)) break;
        recbuf *b = j.collect;
        int64_t now = st_monotonic_coarse_us();
        int full = b->n >= c->max_events;
        int due = b->n && now - b->first_us >= c->trigger_us;
        if (b->n && (full || due || *stop) && (worker_idle(&j) || full || *stop)) {
            hand_off(&j);
            j.last_activity_us = now;
            continue;
        }
        if (*stop) break;
        if (full) continue; /* unreachable: a full buffer is handed off above */
        int ms = 100;
        if (b->n) {
            int64_t left = (b->first_us + c->trigger_us - now) / 1000;
            ms = left < 0 ? 0 : left < 100 ? (int)left : 100;
        }
        /* up to 1024 records per call: one queue lock instead of one per record; rebalance
         * callbacks are served by this call too */
        size_t want = c->max_events - b->n;
        if (want > 1024) want = 1024;
        /* it would wait the whole timeout to fill the array: take what is there, and block on a
         * single record only when nothing is */
        ssize_t got = rd_kafka_consume_batch_queue(j.cq, 0, j.pollbuf, want);
        if (got <= 0) {
            j.pollbuf[0] = rd_kafka_consumer_poll(j.rk, ms);
            got = j.pollbuf[0] ? 1 : 0;
        }
        if (got <= 0) {
            wake_fetcher(&j);
            if (c->once && !b->n && worker_idle(&j)) {
                pthread_mutex_lock(&j.mu);
                int pending = j.result_pending;
                pthread_mutex_unlock(&j.mu);
                if (pending) continue;
                if (caught_up(&j)) break;
                if (st_monotonic_us() - j.last_activity_us > c->once_idle_us) break;
            }
            continue;
        }
        for (ssize_t k = 0; k < got; k++) {
            rd_kafka_message_t *m = j.pollbuf[k];
            if (m->err) {
                on_consumer_error(&j, m);
            } else {
                part_state *ps = part_find(&j, m->partition);
                if (ps && ps->assigned && m->offset >= 0) {
                    ps->at_eof = 0;
                    j.st->broker_down = 0;
                    copy_record(&j, m);
                }
            }
            rd_kafka_message_destroy(m);
        }
    }
    if (j.worker_started) {
        wait_worker_idle(&j);
        check_result(&j, &backoff_us);
        pthread_mutex_lock(&j.mu);
        j.worker_quit = 1;
        pthread_cond_broadcast(&j.cv);
        pthread_mutex_unlock(&j.mu);
        pthread_join(j.worker, NULL);
    }
    if (rc == ST_OK && j.fatal) rc = st_err_set(e, j.ferr.code, "%s", j.ferr.msg);
    close_all(&j);
    pthread_mutex_destroy(&j.mu);
    pthread_cond_destroy(&j.cv);
    return rc;
}
