/* bronze_job.c — the Bronze file stream: batches of settled input files into the
 * bronze_output and quarantine Delta tables, exactly once per file content. */
#include "job/bronze_job.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iot/event.h"
#include "state/bronze_ckpt.h"
#include "source/file_source.h"
#include "source/record_reader.h"
#include "util/strmap.h"
#include "pipeline/append_sink.h"
#include "pipeline/tables.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/utf8.h"

struct bronze_job {
    bronze_config cfg;
    char *q_app_id;
    bronze_ckpt *ck;
    delta_table *bronze, *quar;
    maint_service *maint;       /* the tables' maintenance thread, NULL when off */
    file_source *src;
    delta_batch *bb, *qb;
    iot_arena *arena;
    int64_t last_batch;
    int64_t next_ready_us; /* monotonic time a pending file may settle, 0 if none */
    int must_recover;      /* a step failed after its batch log was written */
    bronze_job_stats stats;
    /* --metrics (NULL without: every update accepts NULL) */
    job_table *jt_bronze, *jt_quar;
    metric *m_files, *m_skipped, *m_bytes, *m_pending;
    uint64_t batch_reasons[IOT_REASON_COUNT]; /* quarantine reasons of the batch being built */
};

static metric *bronze_metric(const bronze_job *j, metric_type t, const char *name, const char *help)
{
    if (!j->cfg.metrics) return NULL;
    return metric_family_only(metrics_family(job_stats_metrics(j->cfg.metrics), t, name, help, NULL, 0, NULL));
}

/* A batch's figures go to the metrics once both tables committed it. */
static void metrics_batch_done(bronze_job *j, const bronze_batch_stats *st)
{
    job_stats *js = j->cfg.metrics;
    if (!js) return;
    job_stats_add(js, JOB_EVENTS_IN, (uint64_t)(st->rows + st->quarantined));
    for (int r = 0; r < IOT_REASON_COUNT; r++) job_stats_quarantined(js, (iot_reason)r, j->batch_reasons[r]);
    metric_add(j->m_files, (double)st->files);
    metric_add(j->m_bytes, (double)st->bytes);
    job_stats_batch_done(js, st->duration_us);
    job_table_observe(j->jt_bronze, j->bronze);
    job_table_observe(j->jt_quar, j->quar);
}

void bronze_config_init(bronze_config *c)
{
    memset(c, 0, sizeof *c);
    c->input_dir = "data/input";
    c->output_path = TABLE_BRONZE_FILES_PATH;
    c->quarantine_path = TABLE_QUARANTINE_PATH;
    c->checkpoint_dir = "data/checkpoints/bronze_checkpoints";
    c->app_id = "bronze-files";
    c->trigger_us = 2000000;
    c->settle_us = 1000000;
    c->max_files_per_batch = 1000;
    c->max_bytes_per_batch = 256LL << 20;
    c->max_line_bytes = 1 << 20;
}

static void warn(const bronze_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const bronze_job *j, const char *fmt, ...)
{
    if (!j->cfg.on_warning) return;
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->cfg.on_warning(msg, j->cfg.user);
}

/* Commit info recorded with each bronze commit: the batch and its files (for audits). */
static char *commit_info(const bronze_batch_log *l)
{
    st_buf b = {0};
    st_buf_printf(&b, "{\"bronzeBatch\":%" PRId64 ",\"bronzeFiles\":[", l->batch);
    for (size_t i = 0; i < l->nfiles; i++) {
        st_buf_printf(&b, "%s{\"name\":", i ? "," : "");
        st_buf_append_json_str(&b, l->files[i].name, strlen(l->files[i].name));
        st_buf_printf(&b, ",\"sha256\":\"%s\"}", l->files[i].sha256);
    }
    st_buf_append_str(&b, "]}");
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

#define BRONZE_OP_PARAMS "{\"outputMode\":\"Append\",\"queryId\":\"bronze-files\"}"

/* Commits the files of one table of the logged batch through the sink (skipped when the table
 * holds the batch already). *version: the new version, -1 when skipped. */
static st_code commit_one(delta_table *t, job_table *jt, const char *app_id, const bronze_batch_log *l,
                          const delta_file_list *adds, const char *commit_info, int64_t *version, st_err *e)
{
    delta_txn txn = {app_id, l->batch, 0};
    append_sink_params p = {.txns = &txn, .ntxns = 1, .operation_parameters_json = BRONZE_OP_PARAMS,
                            .commit_info_json = commit_info};
    append_sink_result r;
    st_code rc = append_sink_commit_files(t, adds->items, adds->count, &p, &r, e);
    if (rc == ST_ERR_STATE) return st_err_wrap(e, "cannot be finished (`smarttech reset` starts over)");
    if (rc) return rc;
    *version = r.outcome == APPEND_SINK_COMMITTED ? r.version : -1;
    if (r.outcome == APPEND_SINK_COMMITTED) job_table_committed(jt, r.rows, r.attempts, r.ambiguous);
    return ST_OK;
}

/* Test hook: 1 (once) when the configured crash point is `at`; always 0 outside a
 * SMARTTECH_TEST_HOOKS build, where the crash paths compile away. */
static int crash_here(bronze_job *j, int at)
{
#ifdef SMARTTECH_TEST_HOOKS
    if (j->cfg.test_crash_at != at) return 0;
    j->cfg.test_crash_at = 0;
    return 1;
#else
    (void)j, (void)at;
    return 0;
#endif
}

/* Commits the logged batch to the tables that do not have it yet: quarantine first,
 * bronze last (its txn is what marks the batch done). The files stay on any failure: the
 * batch log names them and the next step (or a restart) redoes these commits. Fills *st. */
static st_code commit_logged(bronze_job *j, const bronze_batch_log *l, bronze_batch_stats *st, st_err *e)
{
    st_code rc;
    st->quarantine_version = -1;
    if (l->quarantine_adds.count &&
        (rc = commit_one(j->quar, j->jt_quar, j->q_app_id, l, &l->quarantine_adds, NULL, &st->quarantine_version, e)))
        return st_err_wrap(e, "batch %" PRId64 ": committing quarantine", l->batch);
    if (crash_here(j, 2)) return st_err_set(e, ST_ERR_INTERRUPTED, "test crash after the quarantine commit");
    char *ci = commit_info(l);
    rc = commit_one(j->bronze, j->jt_bronze, j->cfg.app_id, l, &l->bronze_adds, ci, &st->bronze_version, e);
    free(ci);
    if (rc) return st_err_wrap(e, "batch %" PRId64 ": committing bronze", l->batch);
    if (st->bronze_version < 0) st->bronze_version = delta_table_version(j->bronze);
    return ST_OK;
}

/* Start-up: finishes a logged but uncommitted batch and brings the processed index up
 * to the committed batches. Cost: reads at most the logs after the index's last batch. */
static st_code recover(bronze_job *j, st_err *e)
{
    st_code rc;
    int64_t b = delta_snapshot_txn_version(delta_table_snapshot(j->bronze), j->cfg.app_id);
    int64_t last_log;
    if ((rc = bronze_ckpt_last_log(j->ck, &last_log, e))) return rc;
    if (last_log > b + 1)
        return st_err_set(e, ST_ERR_STATE,
                          "checkpoint %s has batch logs up to %" PRId64 " but table %s has committed batches only up "
                          "to %" PRId64 " (txn %s): the table was removed or replaced; `smarttech reset` starts over",
                          j->cfg.checkpoint_dir, last_log, j->cfg.output_path, b, j->cfg.app_id);
    if (last_log == b + 1) {
        bronze_batch_log l;
        if ((rc = bronze_ckpt_read_log(j->ck, last_log, &l, e))) return rc;
        int64_t t0 = st_monotonic_us();
        bronze_batch_stats st = {0};
        st.batch = l.batch;
        st.recovered = 1;
        st.files = l.nfiles;
        for (size_t i = 0; i < l.nfiles; i++) {
            st.rows += l.files[i].rows;
            st.quarantined += l.files[i].quarantined;
            st.bytes += l.files[i].size;
        }
        rc = commit_logged(j, &l, &st, e);
        bronze_batch_log_free(&l);
        if (rc) return rc;
        st.duration_us = st_monotonic_us() - t0;
        j->stats.recovered_batches++;
        j->stats.batches++;
        j->stats.files += (int64_t)st.files;
        j->stats.rows += st.rows;
        j->stats.quarantined += st.quarantined;
        if (j->cfg.on_batch) j->cfg.on_batch(&st, j->cfg.user);
        b = last_log;
    }
    int64_t from = bronze_ckpt_index_max_batch(j->ck);
    if (from < 0) from = 0;
    for (int64_t n = from; n <= b; n++) {
        bronze_batch_log l;
        rc = bronze_ckpt_read_log(j->ck, n, &l, e);
        if (rc == ST_ERR_NOTFOUND && n == bronze_ckpt_index_max_batch(j->ck)) {
            st_err_clear(e);
            continue;
        }
        if (rc == ST_ERR_NOTFOUND)
            return st_err_set(e, ST_ERR_STATE,
                              "table %s has batch %" PRId64 " committed (txn %s) but checkpoint %s has no log of it: "
                              "the checkpoint was removed or replaced; `smarttech reset` starts over",
                              j->cfg.output_path, n, j->cfg.app_id, j->cfg.checkpoint_dir);
        if (rc) return rc;
        rc = bronze_ckpt_record(j->ck, &l, e);
        bronze_batch_log_free(&l);
        if (rc) return rc;
    }
    j->last_batch = b;
    return b >= 0 ? bronze_ckpt_prune_logs(j->ck, b, e) : ST_OK;
}

st_code bronze_job_new(const bronze_config *c, bronze_job **out, st_err *e)
{
    *out = NULL;
    st_code rc;
    bronze_job *j = st_xcalloc(1, sizeof *j);
    bronze_config d;
    bronze_config_init(&d);
    j->cfg = *c;
#define DEF(f) if (!j->cfg.f) j->cfg.f = d.f
    DEF(input_dir);
    DEF(output_path);
    DEF(quarantine_path);
    DEF(checkpoint_dir);
    DEF(app_id);
    DEF(max_line_bytes);
#undef DEF
    if (j->cfg.trigger_us < 0) j->cfg.trigger_us = 0;
    if (j->cfg.settle_us < 0) j->cfg.settle_us = 0;
    size_t n = strlen(j->cfg.app_id);
    j->q_app_id = st_xmalloc(n + 12);
    memcpy(j->q_app_id, j->cfg.app_id, n);
    memcpy(j->q_app_id + n, "-quarantine", 12);
    j->last_batch = -1;

    if ((rc = st_mkdirs(j->cfg.input_dir, e))) goto fail;
    if ((rc = bronze_ckpt_open(j->cfg.checkpoint_dir, &j->ck, e))) goto fail;
    delta_table_options wo;
    delta_maintain_writer_options(&wo);
    const delta_table_options *to = c->maintenance ? &wo : NULL;
    if (!(j->bronze = table_open_or_create_opts(TABLE_BRONZE_FILES, j->cfg.output_path, to, e))) {
        rc = e ? e->code : ST_ERR_IO;
        goto fail;
    }
    if (!(j->quar = table_open_or_create_opts(TABLE_QUARANTINE, j->cfg.quarantine_path, to, e))) {
        rc = e ? e->code : ST_ERR_IO;
        goto fail;
    }
    file_source_options fo;
    file_source_options_init(&fo);
    fo.settle_us = j->cfg.settle_us;
    j->src = file_source_new(j->cfg.input_dir, &fo);
    j->arena = iot_arena_new();
    delta_schema *s = table_schema(TABLE_BRONZE_FILES);
    j->bb = delta_batch_new(s);
    delta_schema_destroy(s);
    s = table_schema(TABLE_QUARANTINE);
    j->qb = delta_batch_new(s);
    delta_schema_destroy(s);
    j->jt_bronze = job_stats_table(j->cfg.metrics, "bronze_output");
    j->jt_quar = job_stats_table(j->cfg.metrics, "quarantine");
    j->m_files = bronze_metric(j, METRIC_COUNTER, BRONZE_METRIC_FILES, "Input files ingested.");
    j->m_skipped = bronze_metric(j, METRIC_COUNTER, BRONZE_METRIC_SKIPPED, "Files skipped: same content already ingested.");
    j->m_bytes = bronze_metric(j, METRIC_COUNTER, BRONZE_METRIC_BYTES, "Input bytes read.");
    j->m_pending = bronze_metric(j, METRIC_GAUGE, BRONZE_METRIC_PENDING, "Files seen but not settled yet.");
    job_table_observe(j->jt_bronze, j->bronze);
    job_table_observe(j->jt_quar, j->quar);
#ifdef SMARTTECH_TEST_HOOKS
    j->cfg.test_crash_at = 0; /* recovery itself never crashes */
#endif
    rc = recover(j, e);
#ifdef SMARTTECH_TEST_HOOKS
    j->cfg.test_crash_at = c->test_crash_at;
#endif
    if (rc) goto fail;
    job_stats_set_ready(j->cfg.metrics, 1, NULL);
    /* after recovery: the logged files of a batch that was redone are committed by now */
    const char *paths[2] = {j->cfg.output_path, j->cfg.quarantine_path};
    if (c->maintenance && (rc = maint_service_start(c->maintenance, paths, 2, &j->maint, e))) goto fail;
    *out = j;
    return ST_OK;
fail:
    if (rc == ST_OK) rc = ST_ERR_IO;
    bronze_job_destroy(j);
    return rc;
}

void bronze_job_destroy(bronze_job *j)
{
    if (!j) return;
    maint_service_stop(j->maint);
    delta_batch_destroy(j->bb);
    delta_batch_destroy(j->qb);
    iot_arena_destroy(j->arena);
    file_source_destroy(j->src);
    delta_table_destroy(j->bronze);
    delta_table_destroy(j->quar);
    bronze_ckpt_close(j->ck);
    free(j->q_app_id);
    free(j);
}

/* Reads one file into the two batches. ST_ERR_STATE when the file changed while it was
 * read (the batch must then be abandoned); ST_ERR_IO when it cannot be read. */
static st_code read_file(bronze_job *j, const file_source_file *f, int64_t ingest_us, bronze_ckpt_file *cf, st_err *e)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return st_err_set(e, err == ENOENT ? ST_ERR_STATE : ST_ERR_IO, "cannot open %s: %s", f->path, strerror(err));
    }
    iot_parse_opts po;
    iot_parse_opts_init(&po);
    po.max_len = j->cfg.max_line_bytes;
    po.now_us = ingest_us;
    rec_reader *r = rec_reader_new(fd, f->size, j->cfg.max_line_bytes);
    size_t name_len = strlen(f->name);
    st_code rc;
    for (;;) {
        rec_record rec;
        int eof;
        if ((rc = rec_reader_next(r, &rec, &eof, e))) {
            st_err_wrap(e, "reading %s", f->path);
            break;
        }
        if (eof) break;
        if (rec.kind == REC_OK) {
            iot_event ev;
            iot_result res;
            iot_arena_reset(j->arena);
            if (iot_event_parse(rec.data, rec.len, &po, j->arena, &ev, &res) == IOT_OK) {
                table_append_event(j->bb, &ev);
                delta_batch_append_string(j->bb, BRONZE_SOURCE_FILE, f->name, name_len);
                delta_batch_append_long(j->bb, BRONZE_SOURCE_LINE, rec.number);
                delta_batch_append_long(j->bb, BRONZE_INGEST_TIME, ingest_us);
                cf->rows++;
            } else {
                table_append_quarantine(j->qb, res.name, res.detail, rec.data, rec.len, NULL, 0, 0, f->name,
                                        rec.number, ingest_us);
                cf->quarantined++;
                j->batch_reasons[(unsigned)res.reason < IOT_REASON_COUNT ? res.reason : IOT_OK]++;
            }
        } else if (rec.kind == REC_TOO_LONG) {
            char detail[200];
            snprintf(detail, sizeof detail, "record of %" PRId64 " bytes exceeds the limit of %zu; raw holds its first %zu bytes",
                     rec.full_len, j->cfg.max_line_bytes, rec.len);
            table_append_quarantine(j->qb, iot_reason_str(IOT_LINE_TOO_LONG), detail, rec.data, rec.len, NULL, 0, 0,
                                    f->name, rec.number, ingest_us);
            cf->quarantined++;
            j->batch_reasons[IOT_LINE_TOO_LONG]++;
        } else {
            table_append_quarantine(j->qb, iot_reason_str(IOT_MALFORMED_JSON), rec.detail, rec.data, rec.len, NULL, 0,
                                    0, f->name, rec.number, ingest_us);
            cf->quarantined++;
            j->batch_reasons[IOT_MALFORMED_JSON]++;
        }
    }
    rec_reader_destroy(r);
    close(fd);
    if (rc == ST_OK && !file_source_unchanged(f))
        rc = st_err_set(e, ST_ERR_STATE, "%s changed while it was read", f->path);
    return rc;
}

/* A file picked for the batch. */
typedef struct pick {
    const file_source_file *f;
    char sha[65];
} pick;

/* Drops the rows of an abandoned batch attempt. */
static void abandon(bronze_job *j)
{
    delta_batch_clear(j->bb);
    delta_batch_clear(j->qb);
}

st_code bronze_job_step(bronze_job *j, int *ran, int *more, size_t *pending, st_err *e)
{
    int ran_ = 0, more_ = 0;
    size_t pending_ = 0;
    file_source_list ready = {0};
    pick *picks = NULL;
    size_t npicks = 0, skipped = 0;
    strmap *in_batch = strmap_new(NULL);
    bronze_batch_log log = {0};
    st_code rc;
    int64_t t0 = st_monotonic_us();

    /* A batch whose log exists must be finished (exactly as logged) before a new one. */
    if (j->must_recover) {
        if ((rc = recover(j, e))) goto done;
        j->must_recover = 0;
    }
    int64_t next_us = 0;
    if ((rc = file_source_poll(j->src, t0, &ready, &pending_, &next_us, e))) goto done;
    j->next_ready_us = next_us;
    j->stats.pending = pending_;
    metric_set(j->m_pending, (double)pending_);
    picks = st_xcalloc(ready.count ? ready.count : 1, sizeof *picks);
    int64_t bytes = 0;
    for (size_t i = 0; i < ready.count; i++) {
        const file_source_file *f = &ready.items[i];
        if (!st_utf8_valid(f->name, strlen(f->name))) {
            warn(j, "ignoring %s: its name is not valid UTF-8", f->path);
            file_source_mark_done(j->src, f);
            continue;
        }
        if ((j->cfg.max_files_per_batch && npicks >= j->cfg.max_files_per_batch) ||
            (j->cfg.max_bytes_per_batch && npicks && bytes + f->size > j->cfg.max_bytes_per_batch)) {
            more_ = 1;
            break;
        }
        const char *known = bronze_ckpt_lookup(j->ck, f->name, f->size, f->mtime_ns);
        if (known && bronze_ckpt_has_hash(j->ck, known)) {
            file_source_mark_done(j->src, f);
            skipped++;
            continue;
        }
        pick *p = &picks[npicks];
        st_err he;
        st_code hr = file_source_hash(f, p->sha, &he);
        if (hr == ST_ERR_NOTFOUND || hr == ST_ERR_STATE) continue; /* gone or changing: next poll */
        if (hr) {
            warn(j, "skipping %s until it changes: %s", f->path, he.msg);
            file_source_mark_done(j->src, f);
            continue;
        }
        if (bronze_ckpt_has_hash(j->ck, p->sha) || strmap_get(in_batch, p->sha)) {
            bronze_ckpt_remember(j->ck, f->name, f->size, f->mtime_ns, p->sha);
            file_source_mark_done(j->src, f);
            skipped++;
            continue;
        }
        strmap_put(in_batch, p->sha, (void *)1);
        p->f = f;
        npicks++;
        bytes += f->size;
    }
    j->stats.skipped += (int64_t)skipped;
    metric_add(j->m_skipped, (double)skipped);
    if (!npicks) goto done;
    memset(j->batch_reasons, 0, sizeof j->batch_reasons);

    log.batch = j->last_batch + 1;
    log.ingest_time_us = st_now_us();
    bronze_batch_stats st = {0};
    st.batch = log.batch;
    st.skipped = skipped;
    for (size_t i = 0; i < npicks; i++) {
        bronze_ckpt_file cf = {0};
        cf.name = picks[i].f->name;
        cf.size = picks[i].f->size;
        cf.mtime_ns = picks[i].f->mtime_ns;
        memcpy(cf.sha256, picks[i].sha, 65);
        st_err fe;
        st_code fr = read_file(j, picks[i].f, log.ingest_time_us, &cf, &fe);
        if (fr == ST_ERR_STATE) {
            /* Changed under us: try again when it has settled anew. */
            warn(j, "batch %" PRId64 " postponed: %s", log.batch, fe.msg);
            abandon(j);
            more_ = 1;
            goto done;
        }
        if (fr) {
            warn(j, "skipping %s until it changes: %s", picks[i].f->path, fe.msg);
            file_source_mark_done(j->src, picks[i].f);
            abandon(j);
            more_ = 1;
            goto done;
        }
        bronze_batch_log_add_file(&log, &cf);
        st.rows += cf.rows;
        st.quarantined += cf.quarantined;
        st.bytes += cf.size;
    }
    st.files = npicks;

    if (delta_batch_num_rows(j->bb) &&
        (rc = delta_table_write_files(j->bronze, j->bb, &log.bronze_adds, e))) {
        st_err_wrap(e, "batch %" PRId64 ": writing bronze data files", log.batch);
        goto fail;
    }
    if (delta_batch_num_rows(j->qb) &&
        (rc = delta_table_write_files(j->quar, j->qb, &log.quarantine_adds, e))) {
        st_err_wrap(e, "batch %" PRId64 ": writing quarantine data files", log.batch);
        goto fail;
    }
    abandon(j); /* rows are in the data files now */
    if ((rc = bronze_ckpt_write_log(j->ck, &log, e))) goto fail;
    j->must_recover = 1;
    if (crash_here(j, 1)) {
        rc = st_err_set(e, ST_ERR_INTERRUPTED, "test crash after the batch log");
        goto fail;
    }
    if ((rc = commit_logged(j, &log, &st, e))) goto fail;
    j->last_batch = log.batch;
    if (crash_here(j, 3)) {
        rc = st_err_set(e, ST_ERR_INTERRUPTED, "test crash after the bronze commit");
        goto fail;
    }
    if ((rc = bronze_ckpt_record(j->ck, &log, e))) goto fail;
    j->must_recover = 0;
    if ((rc = bronze_ckpt_prune_logs(j->ck, log.batch, e))) goto fail;
    for (size_t i = 0; i < npicks; i++) file_source_mark_done(j->src, picks[i].f);
    /* Skipped duplicates were marked above; in-batch duplicates too. */
    st.duration_us = st_monotonic_us() - t0;
    j->stats.batches++;
    j->stats.files += (int64_t)st.files;
    j->stats.rows += st.rows;
    j->stats.quarantined += st.quarantined;
    j->stats.bytes += st.bytes;
    metrics_batch_done(j, &st);
    if (j->cfg.on_batch) j->cfg.on_batch(&st, j->cfg.user);
    ran_ = 1;
    goto done;
fail:
    abandon(j);
done:
    bronze_batch_log_free(&log);
    strmap_destroy(in_batch);
    free(picks);
    file_source_list_free(&ready);
    if (ran) *ran = ran_;
    if (more) *more = more_;
    if (pending) *pending = pending_;
    return rc;
}

/* Sleeps up to us microseconds in slices of 50 ms, returning early when stop is set. */
static void nap(const bronze_job *j, int64_t us)
{
    int64_t end = st_monotonic_us() + us;
    for (;;) {
        if (j->cfg.stop && *j->cfg.stop) return;
        int64_t left = end - st_monotonic_us();
        if (left <= 0) return;
        if (left > 50000) left = 50000;
        struct timespec ts = {0, (long)left * 1000};
        nanosleep(&ts, NULL);
    }
}

st_code bronze_job_run(bronze_job *j, st_err *e)
{
    for (;;) {
        if (j->cfg.stop && *j->cfg.stop) return ST_OK;
        int ran, more;
        size_t pending;
        st_code rc = bronze_job_step(j, &ran, &more, &pending, e);
        if (rc) return rc;
        if (more || ran) continue; /* drain a backlog without waiting for the trigger */
        if (j->cfg.once && !pending) return ST_OK;
        int64_t wait = j->cfg.once ? 0 : j->cfg.trigger_us;
        if (pending && j->next_ready_us) {
            int64_t until = j->next_ready_us - st_monotonic_us();
            if (until < 0) until = 0;
            if (j->cfg.once || until < wait) wait = until;
        }
        if (wait < 10000) wait = 10000;
        nap(j, wait);
    }
}

void bronze_job_stats_get(const bronze_job *j, bronze_job_stats *out) { *out = j->stats; }
int64_t bronze_job_last_batch(const bronze_job *j) { return j->last_batch; }
