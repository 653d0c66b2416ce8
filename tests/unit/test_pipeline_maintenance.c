/* Unit tests of the maintenance service (pipeline/maintenance.c): a thread beside a writer that
 * appends through a writer handle (as the jobs do) keeps the table compacted and checkpointed and
 * loses no row; stop returns promptly; maint_run --once; options are checked at start; a table
 * that keeps failing is reported once, not on every pass; a table that appears later is picked up. */
#include "check.h"
#include "delta/delta.h"
#include "delta/delta_maintain.h"
#include "pipeline/maintenance.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static delta_schema *schema(void)
{
    delta_schema *s = delta_schema_new();
    CHECK(delta_schema_add(s, "id", DELTA_TYPE_LONG, 0, NULL) == ST_OK);
    CHECK(delta_schema_add(s, "day", DELTA_TYPE_DATE, 0, NULL) == ST_OK);
    return s;
}

/* One commit of rows base..base+n-1 (two partitions). */
static void append(delta_table *t, int64_t base, int n)
{
    delta_batch *b = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(t)));
    for (int i = 0; i < n; i++) {
        delta_batch_append_long(b, 0, base + i);
        delta_batch_append_int(b, 1, 20600 + (int32_t)((base + i) % 2));
    }
    delta_file_list adds = {0};
    st_err e;
    CHECK_MSG(delta_table_write_files(t, b, &adds, &e) == ST_OK, "%s", e.msg);
    delta_commit_params p = {adds.items, adds.count, NULL, 0, NULL, NULL, NULL};
    CHECK_MSG(delta_table_commit_files(t, &p, NULL, 0, 0, NULL, &e) == ST_OK, "%s", e.msg);
    delta_file_list_free(&adds);
    delta_batch_destroy(b);
}

static delta_table *create(const char *name, int maintained)
{
    char *p = st_path_join(root, name);
    delta_schema *s = schema();
    const char *pc[] = {"day"};
    delta_table_options o;
    delta_maintain_writer_options(&o);
    st_err e;
    delta_table *t = delta_table_create(p, s, pc, 1, name, maintained ? &o : NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    delta_schema_destroy(s);
    free(p);
    return t;
}

typedef struct events {
    pthread_mutex_t mu;
    int errors, passes_with_work;
    char last[ST_ERR_MSG_MAX];
} events;

static void on_event(const char *table, const delta_maintain_report *r, const st_err *err, void *user)
{
    (void)table;
    (void)r;
    events *ev = user;
    pthread_mutex_lock(&ev->mu);
    if (err) {
        ev->errors++;
        snprintf(ev->last, sizeof ev->last, "%s", err->msg);
    } else {
        ev->passes_with_work++;
    }
    pthread_mutex_unlock(&ev->mu);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_beside_a_writer(void)
{
    delta_table *t = create("w", 1);
    if (!t) return;
    events ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    maint_config c;
    maint_config_init(&c);
    c.interval_ms = 5;
    c.opt.compact_min_files = 4;
    c.on_event = on_event;
    c.user = &ev;
    const char *paths[] = {delta_table_path(t)};
    maint_service *svc = NULL;
    st_err e;
    CHECK_MSG(maint_service_start(&c, paths, 1, &svc, &e) == ST_OK, "%s", e.msg);
    /* 4 rounds of 30 appends; after each, the writer waits (bounded) for the service to have
     * compacted and checkpointed once more: the passes run on their own time, slow on a busy
     * machine under ASan, and a writer that finished first left too little work for 3 of each */
    maint_table_stats st;
    for (int round = 0; round < 4; round++) {
        for (int k = 0; k < 30; k++) {
            append(t, (round * 30 + k) * 5, 5);
            if (k % 10 == 0) sleep_ms(20);
        }
        for (int w = 0; w < 600; w++) {
            maint_service_stats(svc, 0, &st);
            if (st.passes > round + 1 && st.compactions > round && st.checkpoints > round) break;
            sleep_ms(50);
        }
    }
    int64_t t0 = st_monotonic_us();
    maint_service_stop(svc);
    CHECK_MSG(st_monotonic_us() - t0 < 5000000, "stop took %lld us", (long long)(st_monotonic_us() - t0));
    CHECK(st.passes > 5 && st.compactions >= 3 && st.checkpoints >= 3 && st.errors == 0);
    CHECK(ev.errors == 0 && ev.passes_with_work > 0);
    /* every row once, the writer's handle kept no tombstones */
    delta_snapshot *s = delta_snapshot_load(delta_table_path(t), -1, &e);
    CHECK_MSG(s && delta_snapshot_total_records(s) == 600, "%s", s ? "" : e.msg);
    CHECK(s && delta_snapshot_checkpoint_version(s) > 0);
    CHECK(delta_snapshot_num_tombstones(delta_table_snapshot(t)) == 0);
    delta_snapshot_destroy(s);
    delta_table_destroy(t);
}

static void test_run_once_and_errors(void)
{
    maint_config c;
    maint_config_init(&c);
    c.opt.deleted_file_retention_ms = 1000; /* under 7 days without the allowance */
    const char *none[] = {"/nonexistent"};
    maint_service *svc = NULL;
    st_err e;
    CHECK(maint_service_start(&c, none, 1, &svc, &e) == ST_ERR_ARG && svc == NULL);
    CHECK(strstr(e.msg, "--allow-short-retention") != NULL);
    CHECK(maint_run(&c, none, 1, 1, NULL, NULL, &e) == ST_ERR_ARG);

    /* a table that does not exist yet, and a damaged one */
    maint_config_init(&c);
    c.interval_ms = 2;
    events ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.on_event = on_event;
    c.user = &ev;
    char *later = st_path_join(root, "later");
    char *bad = st_path_join(root, "bad");
    delta_table *b = create("bad", 0);
    append(b, 0, 3);
    delta_table_destroy(b);
    char *commit1 = st_path_join(bad, "_delta_log/00000000000000000001.json");
    CHECK(st_write_file_atomic(commit1, "{not json\n", 10, NULL) == ST_OK);
    const char *paths[] = {later, bad};
    maint_table_stats st[2];
    CHECK(maint_run(&c, paths, 2, 1, NULL, st, &e) != ST_OK && strstr(e.msg, "bad"));
    CHECK(st[0].version == -1 && st[1].errors == 1);
    /* the service keeps trying, reports that error once, and picks the new table up */
    ev.errors = 0;
    CHECK(maint_service_start(&c, paths, 2, &svc, &e) == ST_OK);
    sleep_ms(100);
    delta_table *t = create("later", 0);
    append(t, 0, 2);
    maint_table_stats a, z;
    for (int w = 0; w < 600; w++) { /* bounded wait for the passes (a busy machine, ASan) */
        maint_service_stats(svc, 0, &a);
        maint_service_stats(svc, 1, &z);
        if (z.errors > 20 && a.version == 1) break;
        sleep_ms(50);
    }
    maint_service_stop(svc);
    CHECK_MSG(z.errors > 20 && ev.errors == 1, "%lld errors, %d reported", (long long)z.errors, ev.errors);
    CHECK(strstr(ev.last, "00000000000000000001.json") != NULL);
    CHECK(a.version == 1 && a.active_files == 2);
    delta_table_destroy(t);
    free(commit1);
    free(later);
    free(bad);
}

int main(void)
{
    snprintf(root, sizeof root, "%s/test_pipeline_maint.%ld", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             (long)getpid());
    st_remove_tree(root, NULL);
    st_mkdirs(root, NULL);
    test_beside_a_writer();
    test_run_once_and_errors();
    if (!check_failures) st_remove_tree(root, NULL);
    return CHECK_DONE();
}
