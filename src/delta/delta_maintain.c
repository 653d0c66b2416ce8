/* delta_maintain.c — the per-table maintenance policy (see delta_maintain.h): when to compact,
 * checkpoint, clean the log and vacuum, with which retentions. The mechanisms are the
 * module's own (delta_table_compact, delta_table_checkpoint, delta_snapshot_vacuum). */
#include "delta/delta_maintain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta_internal.h"
#include "util/timeutil.h"

struct delta_maintainer {
    char *path;
    delta_maintain_options opt;
    delta_table *t;            /* opened on the first pass that finds the table */
    int64_t last_vacuum_ms;    /* 0: never */
    int64_t last_clean_ms;
    int64_t cleaned_after_cp;  /* checkpoint version the last log clean-up saw */
};

/* Defaults documented in delta_maintain.h. */
void delta_maintain_options_init(delta_maintain_options *o)
{
    memset(o, 0, sizeof *o);
    o->target_file_size = 128LL * 1024 * 1024;
    o->compact_min_files = 32;
    o->compact_after_ms = 10LL * 60 * 1000;
    o->log_retention_ms = -1;
    o->deleted_file_retention_ms = -1;
    o->row_group_bytes = 8LL * 1024 * 1024;
    o->compact = o->checkpoint = o->clean_log = o->vacuum = 1;
}

/* A retention option below 7 days without the explicit allowance: what Spark's
 * retentionDurationCheck refuses, with the reason. */
static st_code check_short(const char *name, int64_t ms, int allow, st_err *e)
{
    if (ms < 0 || ms >= DELTA_SHORT_RETENTION_MS || allow) return ST_OK;
    return st_err_set(e, ST_ERR_ARG,
                      "%s %lld ms is under 7 days: files a writer has written but not yet committed (also a Bronze "
                      "batch waiting for its restart) and the files of older versions that readers may still be "
                      "reading would be deleted once that old. Give --allow-short-retention if every writer commits "
                      "and every reader finishes well within it",
                      name, (long long)ms);
}

/* See delta_maintain.h. */
st_code delta_maintain_options_check(const delta_maintain_options *o, st_err *e)
{
    if (o->target_file_size <= 0) return st_err_set(e, ST_ERR_ARG, "--target-file-size must be positive");
    if (o->compact_min_files < 2) return st_err_set(e, ST_ERR_ARG, "--compact-min-files must be 2 or more");
    if (o->compact_after_ms < 0) return st_err_set(e, ST_ERR_ARG, "--compact-after must not be negative");
    if (o->vacuum_interval_ms < 0) return st_err_set(e, ST_ERR_ARG, "the vacuum interval must not be negative");
    st_code rc = check_short("--log-retention", o->log_retention_ms, o->allow_short_retention, e);
    if (!rc) rc = check_short("--deleted-file-retention", o->deleted_file_retention_ms, o->allow_short_retention, e);
    return rc;
}

/* See delta_maintain.h. */
void delta_maintain_writer_options(delta_table_options *o)
{
    delta_table_options_init(o);
    o->checkpoint_interval = 0;
    o->track_tombstones = 0;
}

st_code delta_maintainer_new(const char *path, const delta_maintain_options *o, delta_maintainer **out, st_err *e)
{
    *out = NULL;
    delta_maintain_options def;
    if (!o) {
        delta_maintain_options_init(&def);
        o = &def;
    }
    st_code rc = delta_maintain_options_check(o, e);
    if (rc) return rc;
    delta_maintainer *m = st_xcalloc(1, sizeof *m);
    m->path = st_xstrdup(path);
    m->opt = *o;
    m->cleaned_after_cp = -1;
    *out = m;
    return ST_OK;
}

void delta_maintainer_destroy(delta_maintainer *m)
{
    if (!m) return;
    delta_table_destroy(m->t);
    free(m->path);
    free(m);
}

const char *delta_maintainer_path(const delta_maintainer *m) { return m->path; }

/* Opens the handle on the first pass that finds a table; *absent = 1 when there is none yet. */
static st_code ensure_open(delta_maintainer *m, int *absent, st_err *e)
{
    *absent = 0;
    if (m->t) return delta_table_refresh(m->t, e);
    delta_table_options to;
    delta_table_options_init(&to);
    to.checkpoint_interval = 0;        /* this handle checkpoints when the policy says so */
    to.tombstone_retention_ms = m->opt.deleted_file_retention_ms;
    st_err oe;
    m->t = delta_table_open(m->path, &to, &oe);
    if (m->t) return ST_OK;
    if (oe.code == ST_ERR_NOTFOUND) {
        *absent = 1;
        return ST_OK;
    }
    if (e) *e = oe;
    return oe.code;
}

/* Microseconds elapsed since t0 (monotonic). */
static int64_t since_us(int64_t t0) { return st_monotonic_us() - t0; }

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The table's delta.checkpointInterval, else 10. */
static int64_t checkpoint_interval(const delta_snapshot *s)
{
    const char *ci = delta_snapshot_configuration(s, "delta.checkpointInterval");
    long v = ci ? atol(ci) : 0;
    return v > 0 ? v : 10;
}

/* on_step with a formatted message. */
static void step(const delta_maintainer *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(const delta_maintainer *m, const char *fmt, ...)
{
    if (!m->opt.on_step) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    m->opt.on_step(m->opt.on_step_arg, m->path, msg);
}

static void on_plan(void *arg, int64_t files, int64_t bins)
{
    step(arg, "compaction: merging %lld files into %lld", (long long)files, (long long)bins);
}

static void on_delete(void *arg, const char *what, size_t n)
{
    step(arg, "%s: deleting %zu %s", strcmp(what, "log files") ? "vacuum" : "log clean-up", n, what);
}

static st_code compact(delta_maintainer *m, int64_t now, delta_maintain_report *r, st_err *e)
{
    delta_optimize_options oo;
    delta_optimize_options_init(&oo);
    oo.target_size = m->opt.target_file_size;
    oo.min_files = m->opt.compact_min_files;
    oo.tiered = 1;
    oo.compact_after_ms = m->opt.compact_after_ms;
    oo.now_ms = now;
    oo.row_group_bytes = m->opt.row_group_bytes;
    oo.on_plan = on_plan;
    oo.on_plan_arg = m;
    st_code rc = delta_table_compact(m->t, &oo, &r->compaction, e);
    if (rc == ST_ERR_CONFLICT) {
        /* writers kept removing our inputs (another compaction): nothing was committed, the
         * next pass plans from what they left */
        r->compaction_abandoned = 1;
        st_err_clear(e);
        rc = ST_OK;
    }
    return rc;
}

/* Log clean-up and vacuum go through delta_snapshot_vacuum. Its 1-hour floor is lifted: an
 * option under 7 days passed delta_maintain_options_check only with allow_short_retention, and a
 * table's own delta.deletedFileRetentionDuration is its owner's choice (Spark's
 * retentionDurationCheck, too, only refuses a retention shorter than the table's). */
static void vacuum_options(delta_maintainer *m, int64_t now, delta_vacuum_options *vo)
{
    delta_vacuum_options_init(vo);
    vo->on_delete = on_delete;
    vo->on_delete_arg = m;
    vo->retention_ms = m->opt.deleted_file_retention_ms;
    vo->log_retention_ms = m->opt.log_retention_ms;
    vo->force = 1;
    vo->now_ms = now;
}

st_code delta_maintainer_run(delta_maintainer *m, int64_t now_ms, delta_maintain_report *r, st_err *e)
{
    delta_maintain_report local;
    if (!r) r = &local;
    memset(r, 0, sizeof *r);
    r->version = -1;
    r->compaction.version = -1;
    r->checkpoint_version = -1;
    int64_t now = now_ms > 0 ? now_ms : delta_now_ms();
    int absent;
    st_code rc = ensure_open(m, &absent, e);
    if (rc || absent) return rc;
    const delta_snapshot *s = delta_table_snapshot(m->t);
    if (delta_snapshot_min_writer_version(s) > 2) {
        r->version = delta_snapshot_version(s);
        return st_err_set(e, ST_ERR_UNSUPPORTED, "maintain %s: writer version %d is not supported (we write 2)",
                          m->path, delta_snapshot_min_writer_version(s));
    }

    int64_t t0 = st_monotonic_us();
    if (m->opt.compact && (rc = compact(m, now, r, e))) goto out;
    r->compact_us = since_us(t0);

    t0 = st_monotonic_us();
    s = delta_table_snapshot(m->t);
    int64_t last_cp = delta_last_checkpoint_version(delta_table_store(m->t));
    if (m->opt.checkpoint && delta_snapshot_version(s) - (last_cp < 0 ? 0 : last_cp) >= checkpoint_interval(s)) {
        step(m, "checkpoint of v%lld", (long long)delta_snapshot_version(s));
        if ((rc = delta_table_checkpoint(m->t, e))) goto out;
        r->checkpoint_version = last_cp = delta_snapshot_version(s);
    }
    r->checkpoint_us = since_us(t0);

    /* the log only changes below a checkpoint once a newer one exists, or once time passes
     * the retention: a listing per new checkpoint, and otherwise now and then */
    t0 = st_monotonic_us();
    int64_t lr = 0;
    if ((rc = delta_retention_ms(s, m->opt.log_retention_ms, "delta.logRetentionDuration",
                                 DELTA_DEFAULT_LOG_RETENTION_MS, &lr, e)))
        goto out;
    int64_t clean_every = clamp(lr / 10, 1000, 600000);
    if (m->opt.clean_log && (last_cp != m->cleaned_after_cp || now - m->last_clean_ms >= clean_every)) {
        delta_vacuum_options vo;
        vacuum_options(m, now, &vo);
        vo.log_only = 1;
        delta_vacuum_result vr;
        rc = delta_snapshot_vacuum(s, &vo, &vr, e);
        r->log_files_deleted = vr.nlog_files;
        delta_vacuum_result_free(&vr);
        if (rc) goto out;
        m->last_clean_ms = now;
        m->cleaned_after_cp = last_cp;
    }
    r->clean_log_us = since_us(t0);

    t0 = st_monotonic_us();
    int64_t fr = 0;
    if ((rc = delta_retention_ms(s, m->opt.deleted_file_retention_ms, "delta.deletedFileRetentionDuration",
                                 DELTA_DEFAULT_FILE_RETENTION_MS, &fr, e)))
        goto out;
    int64_t every = m->opt.vacuum_interval_ms > 0 ? m->opt.vacuum_interval_ms : clamp(fr / 10, 1000, 3600000);
    if (m->opt.vacuum && (!m->last_vacuum_ms || now - m->last_vacuum_ms >= every)) {
        /* what is committed after this refresh is young: the vacuum's safety margin */
        if ((rc = delta_table_refresh(m->t, e))) goto out;
        delta_vacuum_options vo;
        vacuum_options(m, now, &vo);
        delta_vacuum_result vr;
        rc = delta_snapshot_vacuum(delta_table_snapshot(m->t), &vo, &vr, e);
        r->vacuumed = 1;
        r->files_vacuumed = vr.nfiles;
        r->bytes_vacuumed = vr.bytes;
        delta_vacuum_result_free(&vr);
        if (rc) goto out;
        m->last_vacuum_ms = now;
    }
    r->vacuum_us = since_us(t0);
out:
    s = delta_table_snapshot(m->t);
    r->version = delta_snapshot_version(s);
    r->active_files = (int64_t)delta_snapshot_num_files(s);
    if (rc) st_err_wrap(e, "maintaining %s", m->path);
    return rc;
}
