#include "job/silver_job.h"

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
#include "source/kafka_source.h"
#include "state/dedup.h"
#include "pipeline/append_sink.h"
#include "pipeline/tables.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/utf8.h"

enum { T_BRONZE = 0, T_SILVER = 1, T_QUAR = 2, NT = 3 };

typedef struct part_state {
    int assigned;
    int at_eof;
    int64_t off[NT];       /* next offset each table still needs; -1 unknown (the committer's) */
    int64_t txn[NT];       /* the table's txn version for this partition as we last saw it, -1 none */
    int64_t from[NT];      /* off[] as resolved at the last seek: the parser skips the records below
                              (set only while both stages are idle; later records are past them) */
    dedup_state *dedup;    /* the parser's (and, while it waits for the committer, the saver's) */
    dedup_ids ids;         /* the ids the parser sealed for the batch it handed on, written by the
                              committer before that batch's Silver commit */
} part_state;

/* A consumed record, copied out of the source's buffers so they are released at once (the
 * fetcher then keeps running while the batch is processed; memory stays bounded by the batch). */
typedef struct rec {
    int32_t partition;
    int has_key, has_value;
    int64_t offset;
    int64_t ts_us;          /* -1 when the record has none */
    size_t key_off, key_len, val_off, val_len;
    size_t reject_off, detail_off; /* NUL-terminated verdict of an upstream forwarder; reject_off 0: none */
} rec;

/* A batch of copied records. */
typedef struct recbuf {
    rec *msgs;
    size_t n;
    st_buf data;            /* keys and values of msgs */
    int64_t first_us;       /* monotonic time the first record arrived */
    int busy;               /* held by the parser or the committer (the collector takes a free one) */
} recbuf;

/* A batch between the two stages: the parser fills it (Silver and quarantine rows, whose
 * strings point into rb and arena), the committer writes it; two of them alternate. */
typedef struct stage_batch {
    recbuf *rb;
    delta_batch *rows[NT];  /* T_SILVER and T_QUAR (bronze_kafka is built by the committer) */
    iot_arena *arena;
    int64_t *end;           /* per partition: next offset after the batch's last record, -1 none */
    int nend;
    int64_t ingest_us, t0;
    int64_t *lat;           /* Kafka timestamps (ms) of the Silver rows, for latency accounting */
    size_t nlat, caplat;
    uint64_t silver, quarantined, dups;
    uint64_t reasons[IOT_REASON_COUNT];
    uint64_t dd_ids, dd_bytes; /* dedup state after the batch was saved */
} stage_batch;

typedef struct job {
    const silver_config *c;
    silver_stats *st;
    job_stats *js;          /* c->metrics (NULL: none; every job_stats call accepts NULL) */
    job_table *jt[NT];
    int64_t last_probe_us;  /* broker_probe */
    silver_progress_fn cb;
    void *opaque;
    record_source *src;     /* partitions = streams, offsets = positions */
    st_store *ckpt;         /* --checkpoint: start offsets, dedup state (a folder or s3://) */
    delta_table *tables[NT];
    delta_batch *bronze_rows; /* the committer's (its bronze thread's) */
    part_state *parts;
    int nparts;
    /* A three-stage pipeline over three record buffers: the main thread collects into `collect`;
     * the parser (parse_main) turns `proc` into the rows of a stage_batch and saves its dedup ids;
     * the committer (commit_main) writes and commits that batch's three tables while the parser
     * already works on the next one. The parser hands a batch on only once the committer is idle
     * and its last batch committed: dedup ids are sealed by the parser and written by the committer
     * before their batch's Silver commit, and nothing is committed past a failed batch. */
    recbuf bufs[3];
    recbuf *collect, *proc;
    stage_batch sb[2];
    stage_batch *to_commit;
    pthread_t parser, committer;
    int parser_started, committer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int work_ready;         /* proc holds a batch for the parser */
    int worker_busy;        /* the parser is working on proc */
    int commit_ready;       /* to_commit holds a batch for the committer */
    int commit_busy;        /* the committer is writing to_commit */
    int worker_quit;
    int result_pending;     /* a batch finished (committed or failed) and the main thread has not seen it */
    st_code result_rc;
    st_err result_err;
    int fatal;
    st_err ferr;
    int assigned_count;
    int64_t last_others_check_us; /* --once: last look at the partitions other members hold */
    record *pollbuf;        /* POLL_MAX records of the current poll */
    maint_service *maint;   /* the tables' maintenance thread, NULL when off */
    int64_t last_activity_us;
    int once_stalls;        /* --once: idle spells in a row with records left in an assigned partition */
    int resync_pending;     /* a batch failed: seek back to the tables before collecting more */
} job;

static const char *table_label[NT] = {"bronze_kafka", "silver", "quarantine"};

#define POLL_MAX 1024       /* records per poll: one queue lock instead of one per record */

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
            for (int t = 0; t < NT; t++) j->parts[i].off[t] = j->parts[i].txn[t] = j->parts[i].from[t] = -1;
        }
        j->nparts = n;
    }
    return &j->parts[p];
}

/* The state of partition p if it is known, without growing the array (the stages may be
 * reading it: the array only grows in rebalance callbacks, while both are idle). */
static part_state *part_find(job *j, int32_t p)
{
    return p >= 0 && p < j->nparts ? &j->parts[p] : NULL;
}

/* Drops the records collected so far and any dedup ids of an uncommitted batch (rebalance,
 * failed batch): nothing of them is committed. Only while both stages are idle. */
static void discard_batch(job *j)
{
    j->collect->n = 0;
    st_buf_reset(&j->collect->data);
    for (int p = 0; p < j->nparts; p++)
        if (j->parts[p].dedup) dedup_state_discard_batch(j->parts[p].dedup);
}

/* Start offset of a partition none of whose tables has an offset yet: resolved once from
 * --from and remembered in the checkpoint folder, so that a table that commits later (after a
 * crash between commits) starts exactly where the others did. */
static st_code start_offset(job *j, int32_t p, int64_t *out, st_err *e)
{
    char name[512];
    snprintf(name, sizeof name, "start-offsets/%s-%d", j->c->topic, (int)p);
    st_buf b = {0};
    st_code rc = st_store_read(j->ckpt, name, &b, NULL, e);
    if (rc == ST_OK) {
        char *end;
        long long v = strtoll(st_buf_cstr(&b), &end, 10);
        st_buf_free(&b);
        if (end != (char *)b.data && v >= 0) {
            *out = v;
            return ST_OK;
        }
        return st_err_set(e, ST_ERR_FORMAT, "checkpoint file %s/%s is damaged (expected an offset)",
                          st_store_root(j->ckpt), name);
    }
    st_buf_free(&b);
    if (rc != ST_ERR_NOTFOUND) return rc;
    int64_t lo = 0, hi = 0;
    rc = record_source_bounds(j->src, p, 10000, &lo, &hi, e);
    if (rc) return rc;
    int64_t v = lo;
    if (j->c->from == SILVER_FROM_LATEST) v = hi;
    if (j->c->from == SILVER_FROM_TIMESTAMP) {
        rc = record_source_position_at(j->src, p, j->c->from_timestamp_ms * 1000, 10000, &v, e);
        if (rc) return rc;
        if (v < 0) v = hi; /* no record at or after the timestamp yet */
    }
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%" PRId64 "\n", v);
    rc = st_store_write(j->ckpt, name, txt, (size_t)n, e);
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
    for (int t = 0; t < NT; t++) ps->from[t] = ps->off[t];
    int64_t m = ps->off[0];
    for (int t = 1; t < NT; t++)
        if (ps->off[t] < m) m = ps->off[t];
    *seek = m;
    if (!ps->dedup) {
        char name[600];
        snprintf(name, sizeof name, "dedup/%s-%d", j->c->topic, (int)p);
        ps->dedup = dedup_state_new(j->ckpt, name, j->c->dedup_delay_us);
    }
    /* the state as of silver's offset (whoever wrote it: the partition may have moved here
     * from another process); a partition never committed starts empty */
    int64_t committed = delta_snapshot_txn_version(delta_table_snapshot(j->tables[T_SILVER]), id);
    st_code rc = dedup_state_load(ps->dedup, committed, e);
    if (rc) return rc;
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

/* Neither stage holds a batch (with j->mu held). */
static int stages_idle_locked(const job *j)
{
    return !j->work_ready && !j->worker_busy && !j->commit_ready && !j->commit_busy;
}

/* Waits until neither stage has a batch in hand (the in-flight batches are committed or failed). */
static void wait_worker_idle(job *j)
{
    pthread_mutex_lock(&j->mu);
    while (!stages_idle_locked(j)) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

/* Assigned (inside a poll, on the main thread): each partition starts at the lowest offset
 * the three tables hold, read once neither stage has a batch in hand. A failure is fatal, and the
 * source assigns nothing. */
/* Ready (/readyz) = the brokers answer and this process has partitions to work on. */
static void update_ready(job *j)
{
    char why[512];
    if (j->st->broker_down)
        snprintf(why, sizeof why, "brokers %s unreachable: %s", j->c->brokers, j->st->broker_error);
    else if (!j->assigned_count)
        snprintf(why, sizeof why, "no partition of %s assigned to this process yet (group %s)", j->c->topic,
                 j->c->group);
    job_stats_set_ready(j->js, !j->st->broker_down && j->assigned_count > 0, why);
}

static st_code on_assigned(void *ctx, record_position *parts, size_t n, st_err *e)
{
    job *j = ctx;
    wait_worker_idle(j);
    st_code rc = refresh_tables(j, e);
    for (size_t i = 0; rc == ST_OK && i < n; i++) {
        int64_t seek;
        rc = resolve_partition(j, parts[i].stream, &seek, e);
        if (rc == ST_OK) {
            parts[i].position = seek;
            part_get(j, parts[i].stream)->assigned = 1;
        }
    }
    if (rc) {
        set_fatal(j, rc, "%s", e ? e->msg : "cannot resolve the assigned partitions");
        return rc;
    }
    j->assigned_count = (int)n;
    update_ready(j);
    j->last_activity_us = st_monotonic_us();
    if (j->cb) {
        char ev[256];
        snprintf(ev, sizeof ev, "assigned %d partition(s) of %s", (int)n, j->c->topic);
        j->cb(j->st, ev, j->opaque);
    }
    return ST_OK;
}

/* Revoked: the batches in the stages' hands are finished (committed) first, so the next owner
 * reads the tables after them; what was collected but not handed over is dropped. */
static void on_revoked(void *ctx, const record_position *parts, size_t n)
{
    job *j = ctx;
    (void)parts;
    (void)n;
    wait_worker_idle(j);
    discard_batch(j);
    for (int p = 0; p < j->nparts; p++) j->parts[p].assigned = 0;
    j->assigned_count = 0;
    j->last_activity_us = st_monotonic_us(); /* --once: the idle clock restarts with the rebalance */
    update_ready(j);
    if (j->cb) j->cb(j->st, "partitions revoked (rebalance)", j->opaque);
}

/* After a failed batch: refresh the tables and seek every assigned partition back to what they
 * hold, so the batch is redone from the start. */
static st_code resync(job *j, st_err *e)
{
    discard_batch(j);
    st_code rc = refresh_tables(j, e);
    if (rc) return rc;
    record_position *l = st_xmalloc((size_t)(j->nparts ? j->nparts : 1) * sizeof *l);
    size_t cnt = 0;
    for (int p = 0; p < j->nparts && rc == ST_OK; p++) {
        if (!j->parts[p].assigned) continue;
        int64_t seek;
        rc = resolve_partition(j, p, &seek, e);
        if (rc == ST_OK) l[cnt++] = (record_position){p, seek};
    }
    if (rc == ST_OK && cnt) rc = record_source_seek(j->src, l, cnt, e);
    free(l);
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
        st_base64_append(&enc, v, len);
        delta_batch_append_null(b, BK_VALUE);
        delta_batch_append_string(b, BK_VALUE_BASE64, (const char *)enc.data, enc.len);
        st_buf_free(&enc);
    }
}

/* Turns the collected records into the Silver and quarantine rows of sb (the parser's stage:
 * parse, validate, dedup). Counts go into sb; the job's stats take them once the batch commits. */
static void build_rows(job *j, stage_batch *sb)
{
    const silver_config *c = j->c;
    const recbuf *rb = sb->rb;
    iot_parse_opts po;
    iot_parse_opts_init(&po);
    po.future_tolerance_us = c->future_tolerance_us;
    if (sb->caplat < rb->n) {
        sb->caplat = rb->n;
        sb->lat = st_xrealloc(sb->lat, sb->caplat * sizeof *sb->lat);
    }
    for (size_t i = 0; i < rb->n; i++) {
        const rec *m = &rb->msgs[i];
        part_state *ps = part_find(j, m->partition);
        if (!ps) continue;
        int64_t o = m->offset;
        int64_t ts_us = m->ts_us;
        const char *payload = m->has_value ? (const char *)rb->data.data + m->val_off : NULL;
        int need_silver = o >= ps->from[T_SILVER], need_quar = o >= ps->from[T_QUAR];
        if (!need_silver && !need_quar) continue;
        iot_event ev;
        iot_result res;
        iot_reason r = IOT_OK;
        po.now_us = ts_us >= 0 ? ts_us : sb->ingest_us;
        if (!payload) {
            r = IOT_EMPTY_VALUE;
            res.name = iot_reason_str(r);
            snprintf(res.detail, sizeof res.detail, "the Kafka record has no value (tombstone)");
        } else if (m->reject_off) {
            res.name = (const char *)rb->data.data + m->reject_off;
            r = iot_reason_from_name(res.name, strlen(res.name));
            snprintf(res.detail, sizeof res.detail, "%s", (const char *)rb->data.data + m->detail_off);
        } else {
            r = iot_event_parse(payload, m->val_len, &po, sb->arena, &ev, &res);
        }
        if (r == IOT_OK) {
            if (!need_silver) continue;
            uint64_t h = dedup_hash(ev.event_id.ptr, ev.event_id.len);
            if (dedup_state_check(ps->dedup, h, ev.event_time_us)) {
                sb->dups++;
                continue;
            }
            delta_batch *b = sb->rows[T_SILVER];
            /* strings point into the record buffer or the batch arena: both outlive the write */
            table_append_event_borrowed(b, &ev);
            delta_batch_append_int(b, SILVER_SOURCE_PARTITION, m->partition);
            delta_batch_append_long(b, SILVER_SOURCE_OFFSET, o);
            delta_batch_append_long(b, SILVER_INGEST_TIME, sb->ingest_us);
            sb->silver++;
            if (ts_us >= 0) sb->lat[sb->nlat++] = ts_us / 1000;
        } else if (need_quar) {
            table_append_quarantine(sb->rows[T_QUAR], res.name, res.detail, payload, m->val_len, c->topic,
                                    m->partition, o, NULL, 0, sb->ingest_us);
            sb->quarantined++;
            sb->reasons[r]++;
        }
    }
}

/* The bronze_kafka rows of a batch: every record as it came. Runs on its own thread, beside
 * the Silver and quarantine commits (it reads the records and the partitions' bronze offsets only). */
static void build_bronze_rows(job *j, const recbuf *rb, int64_t ingest_us)
{
    delta_batch *b = j->bronze_rows;
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
        if (m->ts_us >= 0)
            delta_batch_append_long(b, BK_KAFKA_TIMESTAMP, m->ts_us);
        else
            delta_batch_append_null(b, BK_KAFKA_TIMESTAMP);
        if (key && st_utf8_valid(key, m->key_len))
            delta_batch_append_string(b, BK_KEY, key, m->key_len);
        else
            delta_batch_append_null(b, BK_KEY);
        add_raw_value(b, payload, m->val_len, payload && st_utf8_valid(payload, m->val_len));
        delta_batch_append_long(b, BK_INGEST_TIME, ingest_us);
        n++;
    }
    j->st->bronze_rows += n;
}

typedef struct bronze_task {
    job *j;
    const stage_batch *sb;
    st_code rc;
    st_err err;
} bronze_task;

static st_code commit_table(job *j, const stage_batch *sb, int t, delta_batch *rows, st_err *e);

static void *bronze_main(void *arg)
{
    bronze_task *bt = arg;
    st_err_clear(&bt->err);
    delta_batch_clear(bt->j->bronze_rows);
    build_bronze_rows(bt->j, bt->sb->rb, bt->sb->ingest_us);
    bt->rc = commit_table(bt->j, bt->sb, T_BRONZE, bt->j->bronze_rows, &bt->err);
    return NULL;
}

/* Writes rows and commits them to table t with one txn per partition the batch advances. */
static st_code commit_table(job *j, const stage_batch *sb, int t, delta_batch *rows, st_err *e)
{
    int np = sb->nend;
    delta_txn *txns = st_xcalloc((size_t)(np ? np : 1), sizeof *txns);
    char (*ids)[512] = st_xcalloc((size_t)(np ? np : 1), 512);
    size_t ntx = 0;
    for (int p = 0; p < np; p++) {
        part_state *ps = &j->parts[p];
        if (sb->end[p] < 0 || sb->end[p] <= ps->off[t]) continue;
        app_id(j, p, ids[ntx], 512);
        txns[ntx].app_id = ids[ntx];
        txns[ntx].version = sb->end[p];
        ntx++;
    }
    st_code rc = ST_OK;
    if (ntx) {
        /* Fencing: the partitions must still be where we left them in this table. Another
         * process that took a partition over (we were frozen past the session timeout) would
         * have moved its txn: then this batch is not ours to commit. */
        rc = delta_table_refresh(j->tables[t], e);
        for (int p = 0, k = 0; rc == ST_OK && p < np; p++) {
            part_state *ps = &j->parts[p];
            if (sb->end[p] < 0 || sb->end[p] <= ps->off[t]) continue;
            int64_t cur = delta_snapshot_txn_version(delta_table_snapshot(j->tables[t]), ids[k++]);
            if (cur != ps->txn[t])
                rc = st_err_set(e, ST_ERR_CONFLICT,
                                "%s [%d] in %s was committed up to offset %" PRId64 " by another process "
                                "(this one expected %" PRId64 ")",
                                j->c->topic, p, delta_table_path(j->tables[t]), cur, ps->txn[t]);
        }
    }
    if (ntx && rc == ST_OK) {
        /* the one sink: idempotent by the txns, files kept while the commit may have landed */
        append_sink_params sp = {.txns = txns, .ntxns = ntx};
        append_sink_result sr;
        rc = append_sink_write_batch(j->tables[t], rows, &sp, &sr, e);
        if (rc == ST_OK && sr.outcome == APPEND_SINK_SKIPPED) /* fencing passed: another process moved the txns */
            rc = st_err_set(e, ST_ERR_CONFLICT, "%s: these offsets were committed by another process",
                            delta_table_path(j->tables[t]));
        if (rc == ST_OK) {
            j->st->versions[t] = sr.version;
            job_table_committed(j->jt[t], sr.rows, sr.attempts, sr.ambiguous);
            job_table_observe(j->jt[t], j->tables[t]);
            for (int p = 0; p < np; p++)
                if (sb->end[p] > j->parts[p].off[t]) j->parts[p].off[t] = j->parts[p].txn[t] = sb->end[p];
        }
        if (rc) st_err_wrap(e, "committing %s", table_label[t]);
    }
    free(txns);
    free(ids);
    return rc;
}

/* Tells the source how far the three tables hold each partition (Kafka: the group's offsets,
 * for lag monitoring only; the tables stay the source of truth). */
static void commit_progress(job *j)
{
    record_position *l = st_xmalloc((size_t)(j->nparts ? j->nparts : 1) * sizeof *l);
    size_t cnt = 0;
    for (int p = 0; p < j->nparts; p++) {
        part_state *ps = &j->parts[p];
        if (!ps->assigned || ps->off[0] < 0) continue;
        int64_t m = ps->off[0];
        for (int t = 1; t < NT; t++)
            if (ps->off[t] < m) m = ps->off[t];
        l[cnt++] = (record_position){p, m};
    }
    record_source_commit(j->src, l, cnt);
    free(l);
}

/* Records behind the partitions' ends, from what the source last heard (no I/O). */
static void update_lag(job *j)
{
    int64_t lag = 0;
    int known = 0;
    for (int p = 0; p < j->nparts; p++) {
        if (!j->parts[p].assigned) continue;
        int64_t lo, hi;
        if (record_source_bounds(j->src, p, 0, &lo, &hi, NULL) != ST_OK || hi < 0) continue;
        int64_t pos = j->parts[p].off[T_SILVER];
        if (pos >= 0 && hi > pos) lag += hi - pos;
        job_stats_lag(j->js, j->c->topic, p, pos >= 0 && hi > pos ? hi - pos : 0);
        known = 1;
    }
    j->st->lag = known ? lag : -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The parser's stage of a batch: rows of Silver and quarantine, dedup checks (the ids stay
 * pending: parse_save makes them durable once the previous batch committed). */
static void parse_batch(job *j, stage_batch *sb, recbuf *rb)
{
    sb->rb = rb;
    sb->t0 = st_monotonic_us();
    sb->ingest_us = st_now_us();
    delta_batch_clear(sb->rows[T_SILVER]);
    delta_batch_clear(sb->rows[T_QUAR]);
    iot_arena_reset(sb->arena);
    sb->silver = sb->quarantined = sb->dups = 0;
    sb->nlat = 0;
    memset(sb->reasons, 0, sizeof sb->reasons);
    if (sb->nend < j->nparts) sb->end = st_xrealloc(sb->end, (size_t)j->nparts * sizeof *sb->end);
    sb->nend = j->nparts;
    for (int p = 0; p < sb->nend; p++) sb->end[p] = -1;
    for (size_t i = 0; i < rb->n; i++) {
        int32_t p = rb->msgs[i].partition;
        if (p >= 0 && p < sb->nend && rb->msgs[i].offset + 1 > sb->end[p]) sb->end[p] = rb->msgs[i].offset + 1;
    }
    build_rows(j, sb);
}

/* Seals the dedup ids of what Silver is about to hold (the committer writes them before Silver
 * commits: that I/O is off the parser's path). Called by the parser once the committer is idle
 * (the partitions' offsets are then the committed ones, and nothing else uses the checkpoint). */
static st_code parse_save(job *j, stage_batch *sb, st_err *e)
{
    st_code rc = ST_OK;
    for (int p = 0; p < sb->nend && rc == ST_OK; p++) {
        part_state *ps = &j->parts[p];
        ps->ids.count = 0;
        if (ps->dedup && sb->end[p] > ps->off[T_SILVER])
            rc = dedup_state_seal_batch(ps->dedup, sb->end[p], ps->txn[T_SILVER], &ps->ids, e);
    }
    sb->dd_ids = sb->dd_bytes = 0;
    for (int p = 0; p < j->nparts; p++)
        if (j->parts[p].dedup) {
            sb->dd_ids += dedup_state_size(j->parts[p].dedup);
            sb->dd_bytes += dedup_state_bytes(j->parts[p].dedup);
        }
    return rc;
}

/* The committer's stage: bronze_kafka (raw values: the most bytes to compress) is built and
 * committed on a thread of its own while this one writes Silver, then quarantine: the tables are
 * independent, each keeps its own offsets. */
static st_code commit_batch(job *j, stage_batch *sb, st_err *e)
{
    silver_stats *st = j->st;
    bronze_task bt = {j, sb, ST_OK, {0}};
    pthread_t bth;
    int threaded = pthread_create(&bth, NULL, bronze_main, &bt) == 0;
    if (!threaded) bronze_main(&bt);
    st->dedup_live_ids = sb->dd_ids;
    st->dedup_bytes = sb->dd_bytes;
    if (sb->dd_bytes > st->dedup_peak_bytes) {
        st->dedup_peak_bytes = sb->dd_bytes;
        st->dedup_peak_ids = sb->dd_ids;
    }
    /* the dedup ids of what Silver is about to hold are durable before Silver commits */
    st_code rc = ST_OK;
    for (int p = 0; p < sb->nend && rc == ST_OK; p++)
        if (j->parts[p].dedup) rc = dedup_ids_write(j->parts[p].dedup, &j->parts[p].ids, e);
    if (rc == ST_OK) rc = commit_table(j, sb, T_SILVER, sb->rows[T_SILVER], e);
    if (rc == ST_OK) {
        int64_t now_ms = st_now_us() / 1000;
        for (size_t i = 0; i < sb->nlat; i++) {
            int64_t d = now_ms - sb->lat[i];
            if (d < 0) d = 0;
            int64_t b = d / 10;
            if (b >= SILVER_LAT_BUCKETS) b = SILVER_LAT_BUCKETS - 1;
            st->latency_hist[b]++;
            st->latency_count++;
            job_stats_latency(j->js, (double)d / 1000.0, 1);
        }
        /* the batch's own p99: the oldest timestamps are the longest waits (O(n log n), n <= batch) */
        st->last_batch_latency_p99_ms = -1;
        if (sb->nlat) {
            qsort(sb->lat, sb->nlat, sizeof *sb->lat, cmp_i64);
            int64_t d = now_ms - sb->lat[(sb->nlat - 1) / 100];
            st->last_batch_latency_p99_ms = d < 0 ? 0 : (double)d;
        }
        rc = commit_table(j, sb, T_QUAR, sb->rows[T_QUAR], e);
    }
    if (threaded) pthread_join(bth, NULL);
    if (rc == ST_OK && bt.rc != ST_OK) {
        rc = bt.rc;
        if (e) *e = bt.err;
    }
    if (rc) return rc;
    /* counted when committed: a batch that failed is redone, and would count twice */
    st->events_in += sb->rb->n;
    st->last_batch_in = sb->rb->n;
    st->silver_rows += sb->silver;
    st->last_batch_silver = sb->silver;
    st->quarantined += sb->quarantined;
    st->last_batch_quarantined = sb->quarantined;
    st->duplicates += sb->dups;
    st->last_batch_dups = sb->dups;
    for (int r = 0; r < IOT_REASON_COUNT; r++) st->by_reason[r] += sb->reasons[r];
    commit_progress(j);
    update_lag(j);
    st->batches++;
    st->last_batch_us = st_monotonic_us() - sb->t0;
    job_stats_add(j->js, JOB_EVENTS_IN, sb->rb->n);
    job_stats_add(j->js, JOB_DUPLICATES, sb->dups);
    for (int r = 0; r < IOT_REASON_COUNT; r++) job_stats_quarantined(j->js, (iot_reason)r, sb->reasons[r]);
    job_stats_batch_done(j->js, st->last_batch_us);
    return ST_OK;
}

/* Handles a problem the source reports. Offsets out of range are fatal: data would be skipped;
 * the others are waited out (the source retries). */
static void on_problem(job *j, const record *m)
{
    const char *msg = m->value ? (const char *)m->value : "";
    int len = (int)m->value_len;
    if (m->problem == RECORD_PROBLEM_OUT_OF_RANGE) {
        set_fatal(j, ST_ERR_STATE,
                  "offsets out of range on %s [%d]: the position the tables hold (%.*s) is no longer in the topic "
                  "(topic recreated, or retention removed the records). Nothing was skipped. To start over, "
                  "point --output paths and --checkpoint at fresh folders and choose --from earliest|latest|<time> "
                  "(or `smarttech reset --yes`)",
                  j->c->topic, (int)m->stream, len, msg);
        return;
    }
    snprintf(j->st->broker_error, sizeof j->st->broker_error, "%.*s", len, msg);
    if (m->problem == RECORD_PROBLEM_UNREACHABLE) {
        j->st->broker_down = 1;
        update_ready(j);
        if (j->cb) j->cb(j->st, "broker unreachable, waiting (the client retries with backoff)", j->opaque);
    } else if (m->problem == RECORD_PROBLEM_NO_INPUT) {
        if (j->cb) j->cb(j->st, "topic not found yet, waiting", j->opaque);
    } else {
        if (j->cb) j->cb(j->st, "consumer error", j->opaque);
    }
}

/* Where partition p stands, the lowest of the three tables (held here: the committer's offsets,
 * from the start it resolved; else the tables' txn versions, -1 none: the partition's start), and
 * its end offset. 1 when that is behind the end, 0 when it is not, -1 when the end is unknown (the
 * brokers did not answer). */
static int partition_behind(job *j, int32_t p, int64_t *at, int64_t *end)
{
    int64_t lo = 0, hi = 0;
    *at = *end = -1;
    if (record_source_bounds(j->src, p, 5000, &lo, &hi, NULL)) return -1;
    int64_t m = INT64_MAX;
    const part_state *ps = part_find(j, p);
    if (ps && ps->assigned) {
        /* ours: where the committer stands, from the start it resolved (--from latest or a time
         * starts past lo, and a partition that got nothing since has no txn in the tables) */
        for (int t = 0; t < NT; t++)
            if (ps->off[t] < m) m = ps->off[t];
    } else {
        char id[512];
        app_id(j, p, id, sizeof id);
        for (int t = 0; t < NT; t++) {
            int64_t v = delta_snapshot_txn_version(delta_table_snapshot(j->tables[t]), id);
            if (v < m) m = v;
        }
    }
    *at = m < 0 ? lo : m;
    *end = hi;
    return *at < hi;
}

/* 1 when the three tables hold partition p up to its current end offset (partition_behind). */
static int partition_done_in_tables(job *j, int32_t p)
{
    int64_t at, end;
    return partition_behind(j, p, &at, &end) == 0;
}

/* --once: done when every assigned partition reached its end AND the tables hold every
 * partition of the topic up to its end. The second half matters when the group still lists
 * members that died (kill -9) until their session times out: the assignment then gives this
 * process only part of the topic, and stopping after that part would leave the rest undone.
 * Called only while both stages are idle (it refreshes the tables); at most twice a second. */
static int caught_up(job *j)
{
    if (!j->assigned_count) return 0;
    for (int p = 0; p < j->nparts; p++)
        if (j->parts[p].assigned && !j->parts[p].at_eof) return 0;
    int64_t now = st_monotonic_coarse_us();
    if (now - j->last_others_check_us < 500000) return 0;
    j->last_others_check_us = now;
    int32_t *ids = NULL;
    size_t n = 0;
    int done = 0;
    st_err e;
    if (record_source_streams(j->src, 5000, &ids, &n, &e) == ST_OK) {
        done = refresh_tables(j, &e) == ST_OK;
        /* the assigned ones too: an end-of-partition is what the client says; the tables holding
         * the partition up to the end offset the broker gives is what --once promises (measured:
         * ends reported for all three partitions of a topic with 43,825 records still to read) */
        for (size_t i = 0; done && i < n; i++) done = partition_done_in_tables(j, ids[i]);
    }
    free(ids);
    return done;
}

#define ONCE_STALLS_MAX 3

/* --once, nothing collected for once_idle_us: 1 when the job may stop. It may when every assigned
 * partition is held by the tables up to its end (what other members hold is theirs), or, with
 * nothing assigned (a rebalance in progress), every partition of the topic. An assigned
 * partition with records left past what the tables hold means the client stopped fetching it (no
 * record and no end-of-partition came): every assigned partition is sought back to its tables,
 * which restarts the fetch; after ONCE_STALLS_MAX such spells in a row the job stops with an
 * error naming the partition, instead of ending as if it had drained everything. Only while both
 * stages are idle. */
static int once_idle(job *j)
{
    st_err e;
    if (refresh_tables(j, &e)) return 0; /* judged at the next spell */
    char what[400] = "";
    size_t len = 0;
    int behind = 0;
    /* nothing assigned (a rebalance that has not given the partitions back yet): the whole topic
     * is judged by the tables, and the job waits for the group while they are behind */
    int32_t *ids = NULL;
    size_t nids = 0;
    int none = j->assigned_count == 0;
    if (none && record_source_streams(j->src, 5000, &ids, &nids, &e) != ST_OK) return 0;
    for (size_t i = 0; i < (none ? nids : (size_t)j->nparts); i++) {
        int32_t p = none ? ids[i] : (int32_t)i;
        int64_t at, end;
        if ((!none && !j->parts[p].assigned) || partition_behind(j, p, &at, &end) != 1) continue;
        behind++;
        if (len < sizeof what - 80)
            len += (size_t)snprintf(what + len, sizeof what - len, "%s[%d] at %lld of %lld", behind > 1 ? ", " : "",
                                    (int)p, (long long)at, (long long)end);
    }
    free(ids);
    if (!behind) return 1;
    char msg[700];
    if (none) {
        if (++j->once_stalls > ONCE_STALLS_MAX) {
            set_fatal(j, ST_ERR_STATE,
                      "--once: no partition of %s assigned to this process (group %s) for %d spells of %lld s "
                      "while the tables are behind %s; stopped without draining it (nothing is lost: a restart "
                      "goes on from the tables)",
                      j->c->topic, j->c->group, ONCE_STALLS_MAX, (long long)(j->c->once_idle_us / 1000000), what);
            return 1;
        }
        snprintf(msg, sizeof msg, "no partition of %s assigned for %lld s while the tables are behind %s: waiting "
                 "for the group", j->c->topic, (long long)(j->c->once_idle_us / 1000000), what);
        if (j->cb) j->cb(j->st, msg, j->opaque);
        j->last_activity_us = st_monotonic_us();
        return 0;
    }
    if (++j->once_stalls > ONCE_STALLS_MAX) {
        set_fatal(j, ST_ERR_STATE,
                  "--once: no record came from %s %s for %d spells of %lld s although the tables are behind "
                  "its end; stopped without draining it (nothing is lost: a restart goes on from the tables)",
                  j->c->topic, what, ONCE_STALLS_MAX, (long long)(j->c->once_idle_us / 1000000));
        return 1;
    }
    snprintf(msg, sizeof msg, "no record for %lld s from %s %s: seeking back to the tables to restart the fetch",
             (long long)(j->c->once_idle_us / 1000000), j->c->topic, what);
    if (j->cb) j->cb(j->st, msg, j->opaque);
    if (resync(j, &e) != ST_OK) {
        set_fatal(j, e.code, "%s", e.msg);
        return 1;
    }
    j->last_activity_us = st_monotonic_us();
    return 0;
}

static st_code open_all(job *j, st_err *e)
{
    const silver_config *c = j->c;
    const char *paths[NT] = {c->bronze_path, c->silver_path, c->quarantine_path};
    const table_kind kinds[NT] = {TABLE_BRONZE_KAFKA, TABLE_SILVER, TABLE_QUARANTINE};
    delta_table_options wo;
    delta_maintain_writer_options(&wo);
    for (int t = 0; t < NT; t++) {
        j->tables[t] = table_open_or_create_opts(kinds[t], paths[t], c->maintenance ? &wo : NULL, e);
        if (!j->tables[t]) return st_err_wrap(e, "opening %s table", table_label[t]);
        delta_schema *s = table_schema(kinds[t]);
        if (t == T_BRONZE) j->bronze_rows = delta_batch_new(s);
        for (int k = 0; k < 2 && t != T_BRONZE; k++) j->sb[k].rows[t] = delta_batch_new(s);
        delta_schema_destroy(s);
        j->st->versions[t] = delta_table_version(j->tables[t]);
        j->jt[t] = job_stats_table(j->js, table_label[t]);
        job_table_observe(j->jt[t], j->tables[t]);
    }
    st_code rc = st_store_open(c->checkpoint, &j->ckpt, e);
    if (rc) return st_err_wrap(e, "opening the checkpoint");
    if (c->maintenance && (rc = maint_service_start(c->maintenance, paths, NT, &j->maint, e))) return rc;
    record_handlers h = {.ctx = j, .assigned = on_assigned, .revoked = on_revoked};
    record_source_set_handlers(j->src, &h);
    return ST_OK;
}

/* Leaves the group (the revocation runs through on_revoked), then frees what the job holds;
 * the source itself belongs to the caller. */
static void close_all(job *j)
{
    maint_service_stop(j->maint);
    discard_batch(j);
    record_source_close(j->src);
    record_source_set_handlers(j->src, NULL);
    for (int t = 0; t < NT; t++) delta_table_destroy(j->tables[t]);
    delta_batch_destroy(j->bronze_rows);
    for (int k = 0; k < 2; k++) {
        delta_batch_destroy(j->sb[k].rows[T_SILVER]);
        delta_batch_destroy(j->sb[k].rows[T_QUAR]);
        iot_arena_destroy(j->sb[k].arena);
        free(j->sb[k].end);
        free(j->sb[k].lat);
    }
    for (int p = 0; p < j->nparts; p++) {
        dedup_state_destroy(j->parts[p].dedup);
        dedup_ids_free(&j->parts[p].ids);
    }
    st_store_close(j->ckpt);
    free(j->parts);
    for (int b = 0; b < 3; b++) {
        free(j->bufs[b].msgs);
        st_buf_free(&j->bufs[b].data);
    }
    free(j->pollbuf);
}

/* Records a batch's outcome for check_result (with j->mu held). */
static void set_result_locked(job *j, st_code rc, const st_err *e)
{
    __atomic_store_n(&j->result_pending, 1, __ATOMIC_RELEASE);
    j->result_rc = rc;
    j->result_err = *e;
}

/* The parser: takes the collected records, builds their rows, then waits for the committer to
 * be idle. When the committer's last batch failed, this one is dropped (with its pending dedup
 * ids): committing it would leave a gap; the main thread seeks back and it is read again. Else
 * its dedup ids are saved and the batch goes to the committer. */
static void *parse_main(void *arg)
{
    job *j = arg;
    int next = 0;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->work_ready && !j->worker_quit) pthread_cond_wait(&j->cv, &j->mu);
        if (!j->work_ready) break;
        j->worker_busy = 1;
        j->work_ready = 0;
        recbuf *rb = j->proc;
        stage_batch *sb = &j->sb[next];
        next ^= 1;
        pthread_mutex_unlock(&j->mu);
        parse_batch(j, sb, rb);
        pthread_mutex_lock(&j->mu);
        while (j->commit_ready || j->commit_busy) pthread_cond_wait(&j->cv, &j->mu);
        int failed = j->result_pending && j->result_rc != ST_OK;
        pthread_mutex_unlock(&j->mu);
        st_err be;
        st_err_clear(&be);
        st_code rc = ST_OK;
        if (failed) {
            for (int p = 0; p < j->nparts; p++)
                if (j->parts[p].dedup) dedup_state_discard_batch(j->parts[p].dedup);
        } else {
            rc = parse_save(j, sb, &be);
        }
        pthread_mutex_lock(&j->mu);
        j->worker_busy = 0;
        if (failed || rc) {
            rb->busy = 0;
            rb->n = 0;
            st_buf_reset(&rb->data);
            if (rc) set_result_locked(j, rc, &be);
        } else {
            j->to_commit = sb;
            j->commit_ready = 1;
        }
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* The committer: writes and commits the parser's batches, one at a time. */
static void *commit_main(void *arg)
{
    job *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->commit_ready && !j->worker_quit) pthread_cond_wait(&j->cv, &j->mu);
        if (!j->commit_ready) break;
        j->commit_busy = 1;
        j->commit_ready = 0;
        stage_batch *sb = j->to_commit;
        pthread_mutex_unlock(&j->mu);
        st_err be;
        st_err_clear(&be);
        st_code rc = commit_batch(j, sb, &be);
        if (rc == ST_OK && j->cb) j->cb(j->st, NULL, j->opaque);
        pthread_mutex_lock(&j->mu);
        j->commit_busy = 0;
        sb->rb->busy = 0;
        sb->rb->n = 0;
        st_buf_reset(&sb->rb->data);
        set_result_locked(j, rc, &be);
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Hands the collected records to the parser once it is idle, and collects on into a free buffer
 * (the committer holds at most one other). Not when a batch failed: that result goes to
 * check_result first (a resync drops what was collected and seeks back); handing on would commit
 * the next records past the failed ones, a gap, and overwrite the failure. Returns 1 when handed
 * off. */
static int hand_off(job *j)
{
    pthread_mutex_lock(&j->mu);
    while (j->work_ready || j->worker_busy) pthread_cond_wait(&j->cv, &j->mu);
    if (j->result_pending && j->result_rc != ST_OK) {
        pthread_mutex_unlock(&j->mu);
        return 0;
    }
    recbuf *t = NULL;
    for (int b = 0; b < 3 && !t; b++)
        if (&j->bufs[b] != j->collect && !j->bufs[b].busy) t = &j->bufs[b];
    j->collect->busy = 1;
    j->proc = j->collect;
    j->collect = t; /* never NULL: the parser holds none, the committer one at most */
    j->collect->n = 0;
    st_buf_reset(&j->collect->data);
    j->work_ready = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return 1;
}

/* The parser can take a batch now (the collector then hands a due batch on instead of growing it). */
static int worker_idle(job *j)
{
    pthread_mutex_lock(&j->mu);
    int idle = !j->work_ready && !j->worker_busy;
    pthread_mutex_unlock(&j->mu);
    return idle;
}

/* Neither stage holds a batch. */
static int stages_idle(job *j)
{
    pthread_mutex_lock(&j->mu);
    int idle = stages_idle_locked(j);
    pthread_mutex_unlock(&j->mu);
    return idle;
}

/* Deals with the outcome of the last batch, once neither stage holds one. Returns 1 when the
 * job must stop. */
static int check_result(job *j, int64_t *backoff_us)
{
    /* the collector calls this once per record: look without the lock first */
    if (!__atomic_load_n(&j->result_pending, __ATOMIC_ACQUIRE)) return 0;
    pthread_mutex_lock(&j->mu);
    int pending = j->result_pending && stages_idle_locked(j);
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
    if (rc == ST_ERR_DENIED) { /* credentials or a policy: waiting does not fix them */
        set_fatal(j, rc, "%s", be.msg);
        return 1;
    }
    /* disk full, unwritable folder, object store unreachable, ...: nothing of the batch is lost;
     * the main loop redoes it from what the tables hold (redo_after_failure) */
    if (j->cb) j->cb(j->st, be.msg, j->opaque);
    j->resync_pending = 1;
    return 0;
}

/* After a failed batch: waits backoff_us (doubling up to 30 s for the next time), then seeks
 * every partition back to what the tables hold. Until that works nothing is collected: records
 * read past the failed batch would otherwise be committed after a gap. A storage outage is
 * waited out here, reported at each try. */
static void redo_after_failure(job *j, const volatile sig_atomic_t *stop, int64_t *backoff_us)
{
    for (int64_t slept = 0; slept < *backoff_us && !*stop; slept += 100000) usleep(100000);
    if (*backoff_us < 30000000) *backoff_us *= 2;
    if (*stop) return;
    st_err re;
    if (resync(j, &re) == ST_OK) {
        j->resync_pending = 0;
        if (j->cb) j->cb(j->st, "resumed: redoing the failed batch from what the tables hold", j->opaque);
    } else if (j->cb) {
        char msg[ST_ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "%.900s (retrying in %llds)", re.msg, (long long)(*backoff_us / 1000000));
        j->cb(j->st, msg, j->opaque);
    }
}

/* The smarttech_reject header of a forwarder (the MQTT bridge, iot/event.h): a known reason name
 * is kept with its detail, so build_rows quarantines the record without parsing it (its value may
 * be a prefix only). Any other value of the header is ignored: the record is judged as usual. */
static void copy_reject(job *j, recbuf *b, rec *r, const record *m)
{
    const void *v;
    size_t n;
    r->reject_off = r->detail_off = 0;
    if (!record_source_header(j->src, m, IOT_HEADER_REJECT, &v, &n) || !v || n == 0 || n > 64 ||
        iot_reason_from_name(v, n) == IOT_REASON_COUNT)
        return;
    st_buf_append_u8(&b->data, 0); /* offset 0 is never a reason */
    r->reject_off = b->data.len;
    st_buf_append(&b->data, v, n);
    st_buf_append_u8(&b->data, 0);
    r->detail_off = b->data.len;
    if (record_source_header(j->src, m, IOT_HEADER_REJECT_DETAIL, &v, &n) && v)
        st_buf_append(&b->data, v, n < 159 ? n : 159);
    st_buf_append_u8(&b->data, 0);
}

static void copy_record(job *j, const record *m)
{
    recbuf *b = j->collect;
    if (!b->n) b->first_us = st_monotonic_coarse_us();
    rec *r = &b->msgs[b->n++];
    r->partition = m->stream;
    r->offset = m->position;
    r->ts_us = m->timestamp_us >= 0 ? m->timestamp_us : -1;
    r->has_key = m->key != NULL;
    r->key_off = b->data.len;
    r->key_len = m->key_len;
    if (m->key) st_buf_append(&b->data, m->key, m->key_len);
    r->has_value = m->value != NULL;
    r->val_off = b->data.len;
    r->val_len = m->value_len;
    if (m->value) st_buf_append(&b->data, m->value, m->value_len);
    copy_reject(j, b, r, m);
}

st_code silver_job_run(const silver_config *c, const volatile sig_atomic_t *stop, silver_progress_fn cb,
                       void *opaque, silver_stats *stats, st_err *e)
{
    record_source *src = NULL;
    st_code rc = kafka_source_new(&src, c->brokers, c->group, c->topic, c->props, e);
    if (rc) {
        silver_stats local;
        if (!stats) stats = &local;
        memset(stats, 0, sizeof *stats);
        stats->lag = -1;
        return rc;
    }
    rc = silver_job_run_source(c, src, stop, cb, opaque, stats, e);
    record_source_destroy(src);
    return rc;
}

/* While the brokers are reported down and no record comes (an idle topic gives no other sign of
 * their return), ask for an end offset at most once a second: an answer means they are back. */
static void broker_probe(job *j)
{
    int64_t now = st_monotonic_coarse_us();
    if (now - j->last_probe_us < 1000000) return;
    j->last_probe_us = now;
    for (int p = 0; p < j->nparts; p++) {
        int64_t lo, hi;
        if (!j->parts[p].assigned) continue;
        if (record_source_bounds(j->src, p, 200, &lo, &hi, NULL) == ST_OK) {
            j->st->broker_down = 0;
            update_ready(j);
        }
        return;
    }
}

st_code silver_job_run_source(const silver_config *c, record_source *src, const volatile sig_atomic_t *stop,
                              silver_progress_fn cb, void *opaque, silver_stats *stats, st_err *e)
{
    silver_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->lag = -1;
    job j = {0};
    j.c = c;
    j.src = src;
    j.pollbuf = st_xmalloc(POLL_MAX * sizeof *j.pollbuf);
    j.st = stats;
    j.js = c->metrics;
    j.cb = cb;
    j.opaque = opaque;
    for (int k = 0; k < 2; k++) j.sb[k].arena = iot_arena_new();
    size_t cap = c->max_events ? c->max_events : 1;
    for (int b = 0; b < 3; b++) j.bufs[b].msgs = st_xmalloc(cap * sizeof(rec));
    j.collect = &j.bufs[0];
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    j.last_activity_us = st_monotonic_us();
    st_code rc = open_all(&j, e);
    if (rc == ST_OK) {
        if (pthread_create(&j.parser, NULL, parse_main, &j) != 0)
            rc = st_err_set(e, ST_ERR_STATE, "cannot start the silver parser thread");
        else
            j.parser_started = 1;
    }
    if (rc == ST_OK) {
        if (pthread_create(&j.committer, NULL, commit_main, &j) != 0)
            rc = st_err_set(e, ST_ERR_STATE, "cannot start the silver committer thread");
        else
            j.committer_started = 1;
    }
    int64_t backoff_us = 500000;
    while (rc == ST_OK && !j.fatal) {
        if (check_result(&j, &backoff_us)) break;
        if (j.resync_pending) {
            if (*stop) break;
            redo_after_failure(&j, stop, &backoff_us);
            continue;
        }
        recbuf *b = j.collect;
        int64_t now = st_monotonic_coarse_us();
        int full = b->n >= c->max_events;
        int due = b->n && now - b->first_us >= c->trigger_us;
        if (b->n && (full || due || *stop) && (worker_idle(&j) || full || *stop)) {
            if (hand_off(&j)) {
                j.last_activity_us = now;
                j.once_stalls = 0;
            }
            continue; /* not handed off: check_result takes the failure first */
        }
        if (*stop) {
            if (cb) cb(j.st, "stopping: asked to (signal)", opaque);
            break;
        }
        if (full) continue; /* unreachable: a full buffer is handed off above */
        int ms = 100;
        if (b->n) {
            int64_t left = (b->first_us + c->trigger_us - now) / 1000;
            ms = left < 0 ? 0 : left < 100 ? (int)left : 100;
        }
        /* up to POLL_MAX records per call; rebalance handlers are served by this call too. The
         * source takes what is queued and waits (ms at most) only when nothing is. */
        size_t want = c->max_events - b->n;
        if (want > POLL_MAX) want = POLL_MAX;
        size_t got = 0;
        st_err pe;
        st_err_clear(&pe);
        st_code prc = record_source_poll(j.src, j.pollbuf, want, ms, &got, &pe);
        if (prc) {
            set_fatal(&j, prc, "%s", pe.msg);
            break;
        }
        if (!got) {
            if (j.st->broker_down) broker_probe(&j);
            if (c->once && !b->n && stages_idle(&j)) {
                pthread_mutex_lock(&j.mu);
                int pending = j.result_pending;
                pthread_mutex_unlock(&j.mu);
                if (pending) continue;
                if (caught_up(&j)) {
                    if (cb) cb(j.st, "caught up: the tables hold every partition up to its end", opaque);
                    break;
                }
                if (st_monotonic_us() - j.last_activity_us > c->once_idle_us && once_idle(&j)) {
                    if (cb && !j.fatal) cb(j.st, "idle: no partition held here has records left", opaque);
                    break;
                }
            }
            continue;
        }
        for (size_t k = 0; k < got; k++) {
            const record *m = &j.pollbuf[k];
            if (m->kind == RECORD_PROBLEM) {
                on_problem(&j, m);
            } else if (m->kind == RECORD_END) {
                part_state *ps = part_find(&j, m->stream);
                if (ps) ps->at_eof = 1;
                if (j.st->broker_down) { /* a broker told us where the end is: it answers */
                    j.st->broker_down = 0;
                    update_ready(&j);
                }
            } else if (m->kind == RECORD_DATA) {
                part_state *ps = part_find(&j, m->stream);
                if (ps && ps->assigned && m->position >= 0) {
                    ps->at_eof = 0;
                    if (j.st->broker_down) {
                        j.st->broker_down = 0;
                        update_ready(&j);
                    }
                    copy_record(&j, m);
                }
            }
        }
        record_source_release(j.src); /* copied: the source's buffers go back at once */
    }
    if (j.parser_started || j.committer_started) {
        wait_worker_idle(&j);
        check_result(&j, &backoff_us);
        pthread_mutex_lock(&j.mu);
        j.worker_quit = 1;
        pthread_cond_broadcast(&j.cv);
        pthread_mutex_unlock(&j.mu);
        if (j.parser_started) pthread_join(j.parser, NULL);
        if (j.committer_started) pthread_join(j.committer, NULL);
    }
    if (rc == ST_OK && j.fatal) rc = st_err_set(e, j.ferr.code, "%s", j.ferr.msg);
    close_all(&j);
    pthread_mutex_destroy(&j.mu);
    pthread_cond_destroy(&j.cv);
    return rc;
}
