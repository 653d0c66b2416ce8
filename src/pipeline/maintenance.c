/* maintenance.c — the maintenance loop over a job's tables, on its own thread or in the
 * caller's (see maintenance.h). */
#include "pipeline/maintenance.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/timeutil.h"

/* The last error reported for a table: the same one is reported again after a minute only
 * (a table that keeps failing, e.g. a folder without write permission, would print every pass). */
typedef struct last_error {
    char msg[ST_ERR_MSG_MAX];
    int64_t at_us;
} last_error;

#define REPEAT_ERROR_US (60LL * 1000000)

/* The series of one table in maint_config.metrics (all NULL without a registry: metric_* accept it). */
enum {
    MM_PASSES, MM_ERRORS, MM_COMPACTIONS, MM_ABANDONED, MM_FILES_COMPACTED, MM_BYTES_COMPACTED, MM_CHECKPOINTS,
    MM_LOG_DELETED, MM_FILES_VACUUMED, MM_BYTES_VACUUMED, MM_COUNTERS,
    MM_VERSION = MM_COUNTERS, MM_ACTIVE_FILES, MM_LAST_PASS, MM_N
};
typedef struct table_metrics {
    metric *m[MM_N];
} table_metrics;

static const char *const mm_names[MM_N][2] = {
    {"smarttech_maintenance_passes_total", "Maintenance passes over the table."},
    {"smarttech_maintenance_errors_total", "Maintenance passes that failed (retried on the next one)."},
    {"smarttech_maintenance_compactions_total", "OPTIMIZE commits (dataChange=false) that landed."},
    {"smarttech_maintenance_compactions_abandoned_total", "Compactions given up for a pass (inputs removed by others)."},
    {"smarttech_maintenance_files_compacted_total", "Small files replaced by compactions."},
    {"smarttech_maintenance_bytes_compacted_total", "Bytes of the small files replaced by compactions."},
    {"smarttech_maintenance_checkpoints_total", "Checkpoints written."},
    {"smarttech_maintenance_log_files_deleted_total", "_delta_log files deleted past the log retention."},
    {"smarttech_maintenance_files_vacuumed_total", "Data files deleted past the deleted-file retention."},
    {"smarttech_maintenance_bytes_vacuumed_total", "Bytes of the data files deleted by vacuum."},
    {"smarttech_maintenance_table_version", "The table's version at the last pass (-1: no table yet)."},
    {"smarttech_maintenance_table_active_files", "Data files in that version."},
    {"smarttech_maintenance_last_pass_seconds", "How long the last pass over the table took."},
};

static void metrics_setup(metrics *reg, const char *path, table_metrics *tm)
{
    static const char *const label[] = {"path"};
    for (int k = 0; k < MM_N; k++) {
        metric_family *f = metrics_family(reg, k < MM_COUNTERS ? METRIC_COUNTER : METRIC_GAUGE, mm_names[k][0],
                                          mm_names[k][1], label, 1, NULL);
        tm->m[k] = f ? metric_family_series(f, &path) : NULL;
    }
    metric_set(tm->m[MM_VERSION], -1);
}

static void metrics_update(table_metrics *tm, const delta_maintain_report *r, st_code rc, int64_t us)
{
    metric_add(tm->m[MM_PASSES], 1);
    if (rc) metric_add(tm->m[MM_ERRORS], 1);
    if (r->compaction.version >= 0) {
        metric_add(tm->m[MM_COMPACTIONS], 1);
        metric_add(tm->m[MM_FILES_COMPACTED], (double)r->compaction.files_removed);
        metric_add(tm->m[MM_BYTES_COMPACTED], (double)r->compaction.bytes_removed);
    }
    metric_add(tm->m[MM_ABANDONED], r->compaction_abandoned);
    if (r->checkpoint_version >= 0) metric_add(tm->m[MM_CHECKPOINTS], 1);
    metric_add(tm->m[MM_LOG_DELETED], (double)r->log_files_deleted);
    metric_add(tm->m[MM_FILES_VACUUMED], (double)r->files_vacuumed);
    metric_add(tm->m[MM_BYTES_VACUUMED], (double)r->bytes_vacuumed);
    metric_set(tm->m[MM_VERSION], (double)r->version);
    metric_set(tm->m[MM_ACTIVE_FILES], r->version >= 0 ? (double)r->active_files : 0);
    metric_set(tm->m[MM_LAST_PASS], (double)us / 1e6);
}

struct maint_service {
    maint_config c;
    delta_maintainer **m;
    maint_table_stats *stats;
    table_metrics *tm;           /* per table (NULL series without c.metrics) */
    last_error *last;
    size_t n;
    pthread_mutex_t mu;          /* guards stats, quit */
    pthread_cond_t cv;           /* wakes the pause on stop */
    int quit;
    const volatile sig_atomic_t *stop; /* maint_run's flag, NULL on the thread */
    pthread_t thread;
    int started;
};

void maint_config_init(maint_config *c)
{
    memset(c, 0, sizeof *c);
    delta_maintain_options_init(&c->opt);
    c->interval_ms = 1000;
    c->nice = 10;
}

static int stopping(maint_service *s)
{
    if (s->stop && *s->stop) return 1;
    pthread_mutex_lock(&s->mu);
    int q = s->quit;
    pthread_mutex_unlock(&s->mu);
    return q;
}

/* Waits interval_ms or until stopped (the condition variable for the thread, 100 ms slices
 * for a signal flag). */
static void pause_between(maint_service *s)
{
    int64_t end = st_monotonic_us() + s->c.interval_ms * 1000;
    pthread_mutex_lock(&s->mu);
    while (!s->quit && !(s->stop && *s->stop)) {
        int64_t left = end - st_monotonic_us();
        if (left <= 0) break;
        if (left > 100000) left = 100000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(left % 1000000) * 1000;
        ts.tv_sec += (time_t)(left / 1000000) + ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Did the pass change anything worth a line? */
static int did_something(const delta_maintain_report *r)
{
    return r->compaction.version >= 0 || r->compaction_abandoned || r->checkpoint_version >= 0 ||
           r->log_files_deleted || r->files_vacuumed;
}

/* One pass over every table. Returns the first error (each table is still tried). */
static st_code pass(maint_service *s, st_err *first)
{
    st_code frc = ST_OK;
    for (size_t i = 0; i < s->n && !stopping(s); i++) {
        delta_maintain_report r;
        st_err e;
        st_err_clear(&e);
        int64_t t0 = st_monotonic_us();
        st_code rc = delta_maintainer_run(s->m[i], 0, &r, &e);
        int64_t us = st_monotonic_us() - t0;
        pthread_mutex_lock(&s->mu);
        maint_table_stats *t = &s->stats[i];
        t->passes++;
        t->last_pass_us = us;
        if (us > t->max_pass_us) t->max_pass_us = us;
        t->version = r.version;
        t->active_files = r.version >= 0 ? r.active_files : -1;
        if (r.compaction.version >= 0) {
            t->compactions++;
            t->files_compacted += r.compaction.files_removed;
            t->bytes_compacted += r.compaction.bytes_removed;
        }
        t->compactions_abandoned += r.compaction_abandoned;
        t->checkpoints += r.checkpoint_version >= 0;
        t->log_files_deleted += (int64_t)r.log_files_deleted;
        t->files_vacuumed += (int64_t)r.files_vacuumed;
        t->bytes_vacuumed += r.bytes_vacuumed;
        if (rc) t->errors++;
        pthread_mutex_unlock(&s->mu);
        metrics_update(&s->tm[i], &r, rc, us);
        int report = did_something(&r);
        if (rc) {
            last_error *le = &s->last[i];
            int64_t now = st_monotonic_us();
            report = strcmp(le->msg, e.msg) != 0 || now - le->at_us >= REPEAT_ERROR_US;
            if (report) {
                snprintf(le->msg, sizeof le->msg, "%s", e.msg);
                le->at_us = now;
            }
        } else {
            s->last[i].msg[0] = '\0';
        }
        if (s->c.on_event && report) s->c.on_event(delta_maintainer_path(s->m[i]), &r, rc ? &e : NULL, s->c.user);
#ifdef __GLIBC__
        /* a compaction decodes row groups of many MiB: give what it freed back to the system, or
         * the job's RSS keeps the peak of its largest compaction for the rest of its life */
        if (r.compaction.version >= 0 || r.compaction_abandoned) malloc_trim(0);
#endif
        if (rc && !frc) {
            frc = rc;
            if (first) *first = e;
        }
    }
    return frc;
}

static void service_free(maint_service *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) delta_maintainer_destroy(s->m[i]);
    free(s->m);
    free(s->stats);
    free(s->tm);
    free(s->last);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static st_code service_new(const maint_config *c, const char *const *paths, size_t n, maint_service **out, st_err *e)
{
    *out = NULL;
    maint_service *s = st_xcalloc(1, sizeof *s);
    s->c = *c;
    if (s->c.interval_ms <= 0) s->c.interval_ms = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->m = st_xcalloc(n ? n : 1, sizeof *s->m);
    s->stats = st_xcalloc(n ? n : 1, sizeof *s->stats);
    s->last = st_xcalloc(n ? n : 1, sizeof *s->last);
    s->tm = st_xcalloc(n ? n : 1, sizeof *s->tm);
    for (size_t i = 0; i < n; i++) {
        if (c->metrics) metrics_setup(c->metrics, paths[i], &s->tm[i]);
        st_code rc = delta_maintainer_new(paths[i], &c->opt, &s->m[i], e);
        if (rc) {
            s->n = i;
            service_free(s);
            return rc;
        }
        s->stats[i].version = s->stats[i].active_files = -1;
    }
    s->n = n;
    *out = s;
    return ST_OK;
}

/* The thread: lower priority (Linux: nice applies per thread), then passes until stopped. */
static void *service_main(void *arg)
{
    maint_service *s = arg;
    if (s->c.nice > 0) {
        pid_t tid = (pid_t)syscall(SYS_gettid);
        errno = 0;
        int cur = getpriority(PRIO_PROCESS, (id_t)tid);
        if (errno == 0) (void)setpriority(PRIO_PROCESS, (id_t)tid, cur + s->c.nice); /* best effort */
    }
    while (!stopping(s)) {
        pass(s, NULL);
        pause_between(s);
    }
    return NULL;
}

st_code maint_service_start(const maint_config *c, const char *const *paths, size_t n, maint_service **out,
                            st_err *e)
{
    maint_service *s;
    st_code rc = service_new(c, paths, n, &s, e);
    if (rc) return rc;
    if (pthread_create(&s->thread, NULL, service_main, s) != 0) {
        service_free(s);
        return st_err_set(e, ST_ERR_STATE, "cannot start the maintenance thread");
    }
    s->started = 1;
    *out = s;
    return ST_OK;
}

void maint_service_stop(maint_service *s)
{
    if (!s) return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    service_free(s);
}

void maint_service_stats(maint_service *s, size_t i, maint_table_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s || i >= s->n) return;
    pthread_mutex_lock(&s->mu);
    *out = s->stats[i];
    pthread_mutex_unlock(&s->mu);
}

st_code maint_run(const maint_config *c, const char *const *paths, size_t n, int once,
                  const volatile sig_atomic_t *stop, maint_table_stats *stats, st_err *e)
{
    maint_service *s;
    st_code rc = service_new(c, paths, n, &s, e);
    if (rc) return rc;
    s->stop = stop;
    for (;;) {
        rc = pass(s, e);
        if (once || stopping(s)) break;
        rc = ST_OK; /* a long run reports errors through on_event and tries again */
        pause_between(s);
        if (stopping(s)) break;
    }
    for (size_t i = 0; stats && i < n; i++) stats[i] = s->stats[i];
    service_free(s);
    return once ? rc : ST_OK;
}
