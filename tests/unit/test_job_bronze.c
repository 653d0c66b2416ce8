/* Unit tests of the Bronze file job: typing and quarantine, identity by content,
 * no commit without new files, batching, recovery at each crash point, the lock. */
#include "check.h"
#include "job/bronze_job.h"
#include "pipeline/tables.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/st_bronze_job_XXXXXX";
static char *in_dir, *out_path, *q_path, *ck_dir;
static int seqno;

static void event_line(st_buf *b)
{
    seqno++;
    st_buf_printf(b,
                  "{\"schema_version\":1,\"event_id\":\"s1:%d\",\"sensor_id\":\"s1\",\"building_id\":\"b01\",\"floor\":1,"
                  "\"room_id\":\"r01\",\"sensor_type\":\"temperature\",\"value\":21.5,\"unit\":\"C\","
                  "\"event_time\":\"2026-01-05T10:00:00Z\",\"seq\":%d}",
                  seqno, seqno);
}

static void write_in(const char *name, const void *data, size_t n)
{
    char *p = st_path_join(in_dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        if (n) fwrite(data, 1, n, f);
        fclose(f);
    }
    free(p);
}

/* A JSON Lines file of `good` valid events and `bad` rows missing a field. */
static void write_lines(const char *name, int good, int bad)
{
    st_buf b = {0};
    for (int i = 0; i < good; i++) {
        event_line(&b);
        st_buf_append_u8(&b, '\n');
    }
    for (int i = 0; i < bad; i++) st_buf_printf(&b, "{\"event_id\":\"bad:%d\"}\n", i);
    write_in(name, b.data, b.len);
    st_buf_free(&b);
}

typedef struct run_result {
    st_code rc;
    bronze_job_stats st;
    int64_t last_batch;
    int progress_calls;
} run_result;

static void count_batch(const bronze_batch_stats *b, void *user)
{
    (void)b;
    (*(int *)user)++;
}

static void config(bronze_config *c, int *calls)
{
    bronze_config_init(c);
    c->input_dir = in_dir;
    c->output_path = out_path;
    c->quarantine_path = q_path;
    c->checkpoint_dir = ck_dir;
    c->settle_us = 0;
    c->trigger_us = 10000;
    c->once = 1;
    c->max_line_bytes = 1000;
    c->on_batch = count_batch;
    c->user = calls;
}

/* Runs `bronze --once` as a library call. */
static run_result run_once(size_t max_files, int crash_at)
{
    run_result r;
    memset(&r, 0, sizeof r);
    bronze_config c;
    config(&c, &r.progress_calls);
    c.max_files_per_batch = max_files;
#ifdef SMARTTECH_TEST_HOOKS
    c.test_crash_at = crash_at;
#else
    (void)crash_at;
#endif
    st_err e;
    bronze_job *j = NULL;
    r.rc = bronze_job_new(&c, &j, &e);
    if (r.rc) {
        fprintf(stderr, "bronze_job_new: %s\n", e.msg);
        return r;
    }
    r.rc = bronze_job_run(j, &e);
    if (r.rc && r.rc != ST_ERR_INTERRUPTED) fprintf(stderr, "bronze_job_run: %s\n", e.msg);
    bronze_job_stats_get(j, &r.st);
    r.last_batch = bronze_job_last_batch(j);
    bronze_job_destroy(j);
    return r;
}

typedef struct tstate {
    int64_t version, records, txn;
} tstate;

static tstate table_state(const char *path, const char *app)
{
    tstate t = {-1, -1, -1};
    st_err e;
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    if (!s) return t;
    t.version = delta_snapshot_version(s);
    t.records = delta_snapshot_total_records(s);
    t.txn = delta_snapshot_txn_version(s, app);
    delta_snapshot_destroy(s);
    return t;
}

static void test_first_run(void)
{
    write_lines("good.json", 3, 1);
    /* + a malformed line, a blank line, a line too long (limit 1000 in these tests) */
    st_buf b = {0};
    event_line(&b);
    st_buf_append_str(&b, "\n{\"broken\": \n\n   \n");
    for (int i = 0; i < 1500; i++) st_buf_append_u8(&b, 'x');
    st_buf_append_str(&b, "\n");
    event_line(&b);
    write_in("mixed.json", b.data, b.len);
    st_buf_reset(&b);
    /* an array: 2 events and a number */
    st_buf_append_str(&b, "[\n");
    event_line(&b);
    st_buf_append_str(&b, ",\n 42,\n");
    event_line(&b);
    st_buf_append_str(&b, "\n]\n");
    write_in("array.json", b.data, b.len);
    st_buf_free(&b);
    write_in("empty.json", "", 0);
    write_in("garbage.bin", "\xff\xfe\x00\x01garbage\n\x80\x81{\n", 16);
    write_lines(".hidden.json", 5, 0);
    write_lines("partial.json.part", 5, 0);
    write_lines("copy.json.tmp", 5, 0);

    run_result r = run_once(0, 0);
    CHECK(r.rc == ST_OK);
    CHECK(r.st.batches == 1 && r.progress_calls == 1 && r.last_batch == 0);
    CHECK_MSG(r.st.files == 5, "files %lld", (long long)r.st.files);
    CHECK_MSG(r.st.rows == 3 + 2 + 2, "rows %lld", (long long)r.st.rows);
    CHECK_MSG(r.st.quarantined == 1 + 2 + 1 + 2, "quarantined %lld", (long long)r.st.quarantined);
    tstate b0 = table_state(out_path, "bronze-files"), q0 = table_state(q_path, "bronze-files-quarantine");
    CHECK(b0.version == 1 && b0.records == 7 && b0.txn == 0);
    CHECK(q0.version == 1 && q0.records == 6 && q0.txn == 0);
    char *log = st_path_join(ck_dir, "batches/0.json");
    CHECK(st_path_exists(log));
    free(log);

    /* restart with nothing new: no commit */
    r = run_once(0, 0);
    CHECK(r.rc == ST_OK && r.st.batches == 0 && r.last_batch == 0);
    CHECK(table_state(out_path, "bronze-files").version == 1);
    CHECK(table_state(q_path, "bronze-files-quarantine").version == 1);

    /* renamed, touched, copied under another name: same content, not ingested again */
    char *a = st_path_join(in_dir, "good.json"), *a2 = st_path_join(in_dir, "good-renamed.json");
    CHECK(rename(a, a2) == 0);
    char *m = st_path_join(in_dir, "mixed.json");
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    utimensat(AT_FDCWD, m, ts, 0);
    st_buf c = {0};
    CHECK(st_read_file(m, &c, NULL) == ST_OK);
    write_in("mixed-copy.json", c.data, c.len);
    st_buf_free(&c);
    r = run_once(0, 0);
    CHECK(r.rc == ST_OK && r.st.batches == 0 && r.st.skipped >= 3);
    CHECK(table_state(out_path, "bronze-files").version == 1);
    free(a);
    free(a2);
    free(m);

    /* new content under an old name: ingested */
    write_lines("good-renamed.json", 4, 0);
    r = run_once(0, 0);
    CHECK(r.rc == ST_OK && r.st.batches == 1 && r.st.rows == 4 && r.st.quarantined == 0 && r.last_batch == 1);
    tstate b1 = table_state(out_path, "bronze-files");
    CHECK(b1.version == 2 && b1.records == 11 && b1.txn == 1);
    /* nothing quarantined in batch 1: the quarantine table is untouched */
    CHECK(table_state(q_path, "bronze-files-quarantine").version == 1);
}

#ifdef SMARTTECH_TEST_HOOKS
/* Kill points: after the batch log, after the quarantine commit, after the bronze commit. */
static void test_crash_points(void)
{
    for (int crash = 1; crash <= 3; crash++) {
        char name[32];
        snprintf(name, sizeof name, "crash-%d.json", crash);
        write_lines(name, 2, 1);
        tstate b = table_state(out_path, "bronze-files"), q = table_state(q_path, "bronze-files-quarantine");
        run_result r = run_once(0, crash);
        CHECK_MSG(r.rc == ST_ERR_INTERRUPTED, "crash %d rc %d", crash, r.rc);
        tstate b2 = table_state(out_path, "bronze-files"), q2 = table_state(q_path, "bronze-files-quarantine");
        CHECK(b2.version == b.version + (crash >= 3));
        CHECK(q2.version == q.version + (crash >= 2));
        /* restart: the batch is finished, not redone from the inputs */
        r = run_once(0, 0);
        CHECK(r.rc == ST_OK);
        CHECK_MSG(r.st.recovered_batches == (crash < 3), "crash %d recovered %lld", crash,
                  (long long)r.st.recovered_batches);
        CHECK_MSG(r.st.batches == (crash < 3), "crash %d: batches %lld", crash, (long long)r.st.batches);
        tstate b3 = table_state(out_path, "bronze-files"), q3 = table_state(q_path, "bronze-files-quarantine");
        CHECK(b3.version == b.version + 1 && b3.records == b.records + 2 && b3.txn == b.txn + 1);
        CHECK(q3.version == q.version + 1 && q3.records == q.records + 1 && q3.txn == b3.txn);
        /* and once more: nothing */
        r = run_once(0, 0);
        CHECK(r.rc == ST_OK && r.st.batches == 0);
        CHECK(table_state(out_path, "bronze-files").version == b3.version);
    }
}

/* The same job goes on after a failed step: the logged batch is finished first. */
static void test_same_job_after_failure(void)
{
    for (int crash = 1; crash <= 3; crash++) {
        char name[32];
        snprintf(name, sizeof name, "again-%d.json", crash);
        write_lines(name, 3, 2);
        tstate b = table_state(out_path, "bronze-files"), q = table_state(q_path, "bronze-files-quarantine");
        int calls = 0;
        bronze_config c;
        config(&c, &calls);
        c.test_crash_at = crash;
        st_err e;
        bronze_job *j = NULL;
        CHECK(bronze_job_new(&c, &j, &e) == ST_OK);
        if (!j) continue;
        CHECK(bronze_job_run(j, &e) == ST_ERR_INTERRUPTED);
        snprintf(name, sizeof name, "again-%d-b.json", crash);
        write_lines(name, 1, 1);
        CHECK(bronze_job_run(j, &e) == ST_OK);
        bronze_job_stats st;
        bronze_job_stats_get(j, &st);
        CHECK_MSG(st.recovered_batches == (crash < 3), "crash %d", crash);
        bronze_job_destroy(j);
        tstate b2 = table_state(out_path, "bronze-files"), q2 = table_state(q_path, "bronze-files-quarantine");
        CHECK_MSG(b2.version == b.version + 2 && b2.records == b.records + 4 && b2.txn == b.txn + 2,
                  "crash %d: bronze v%lld->%lld records %lld->%lld", crash, (long long)b.version,
                  (long long)b2.version, (long long)b.records, (long long)b2.records);
        CHECK(q2.version == q.version + 2 && q2.records == q.records + 3 && q2.txn == b2.txn);
    }
}
#endif

static void test_batching(void)
{
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "many-%d.json", i);
        write_lines(name, 1, 0);
    }
    tstate b = table_state(out_path, "bronze-files");
    run_result r = run_once(3, 0);
    CHECK(r.rc == ST_OK && r.st.batches == 3 && r.st.files == 7 && r.st.rows == 7);
    tstate b2 = table_state(out_path, "bronze-files");
    CHECK(b2.version == b.version + 3 && b2.records == b.records + 7 && b2.txn == b.txn + 3);
    /* the batch logs of recorded batches are gone: batches/ holds the newest one only */
    char *bd = st_path_join(ck_dir, "batches");
    DIR *d = opendir(bd);
    int nlogs = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') nlogs++;
    if (d) closedir(d);
    char last[64];
    snprintf(last, sizeof last, "batches/%lld.json", (long long)b2.txn);
    char *lp = st_path_join(ck_dir, last);
    CHECK_MSG(nlogs == 1 && st_path_exists(lp), "%d logs", nlogs);
    free(lp);
    free(bd);
}

static void test_lock_and_mismatch(void)
{
    int calls = 0;
    bronze_config c;
    config(&c, &calls);
    st_err e;
    bronze_job *j1 = NULL, *j2 = NULL;
    CHECK(bronze_job_new(&c, &j1, &e) == ST_OK);
    CHECK(bronze_job_new(&c, &j2, &e) == ST_ERR_STATE && j2 == NULL);
    CHECK(strstr(e.msg, "in use") != NULL);
    bronze_job_destroy(j1);

    /* checkpoint removed while the table keeps its batches: refuse, do not duplicate */
    CHECK(st_remove_tree(ck_dir, &e) == ST_OK);
    CHECK(bronze_job_new(&c, &j2, &e) == ST_ERR_STATE && j2 == NULL);
    CHECK(strstr(e.msg, "reset") != NULL);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    in_dir = st_path_join(dir, "input");
    out_path = st_path_join(dir, "bronze_output");
    q_path = st_path_join(dir, "quarantine_delta");
    ck_dir = st_path_join(dir, "ck");
    CHECK(st_mkdirs(in_dir, NULL) == ST_OK);
    test_first_run();
#ifdef SMARTTECH_TEST_HOOKS
    test_crash_points();
    test_same_job_after_failure();
#else
    CHECK_SKIP_NO_HOOKS("bronze crash points");
#endif
    test_batching();
    test_lock_and_mismatch();
    st_err e;
    st_remove_tree(dir, &e);
    free(in_dir);
    free(out_path);
    free(q_path);
    free(ck_dir);
    return CHECK_DONE();
}
