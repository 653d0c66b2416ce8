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

struct maint_service {
    maint_config c;
    delta_maintainer **m;
    maint_table_stats *stats;
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
    for (size_t i = 0; i < n; i++) {
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
