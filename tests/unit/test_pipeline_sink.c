/* test_pipeline_sink.c — unit tests of the idempotent append sink (pipeline/append_sink.h) on
 * real Delta tables in a temp folder: commits carry the txn and commitInfo; a concurrent commit
 * is retried at the next version; a re-sent batch is skipped (before writing, and when only the
 * commit finds out); a commit that failed before landing deletes its files; an ambiguous put
 * that landed is recognised (no duplicate, files kept); one that did not land is retried (also
 * when another writer took the version, and when the lost request lands late); an outcome that
 * stays unknown keeps the files; files the caller logged are never deleted.
 * The fault cases need the test hooks (delta/delta_testhook.h): `make unit` builds with them. */
#include "check.h"
#include "delta/delta.h"
#include "pipeline/append_sink.h"
#include "util/buf.h"
#include "util/fsutil.h"
#ifdef SMARTTECH_TEST_HOOKS
#include "delta/delta_testhook.h"
#endif

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[] = "/tmp/st_sink_XXXXXX";
static int table_no;

/* A fresh partitioned table (id long, name string, day date; by day). */
static delta_table *new_table(char **path_out)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", ++table_no);
    char *p = st_path_join(root, name);
    delta_schema *s = delta_schema_new();
    delta_schema_add(s, "id", DELTA_TYPE_LONG, 0, NULL);
    delta_schema_add(s, "name", DELTA_TYPE_STRING, 1, NULL);
    delta_schema_add(s, "day", DELTA_TYPE_DATE, 0, NULL);
    const char *pc[] = {"day"};
    st_err e;
    delta_table *t = delta_table_create(p, s, pc, 1, name, NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    delta_schema_destroy(s);
    *path_out = p;
    return t;
}

/* `rows` rows with ids from base over two days (two data files). */
static delta_batch *rows_of(const delta_table *t, int64_t base, int rows)
{
    delta_batch *b = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(t)));
    for (int i = 0; i < rows; i++) {
        char nm[32];
        int n = snprintf(nm, sizeof nm, "row-%lld", (long long)(base + i));
        delta_batch_append_long(b, 0, base + i);
        delta_batch_append_string(b, 1, nm, (size_t)n);
        delta_batch_append_int(b, 2, 20600 + i % 2);
    }
    return b;
}

static int nparquet;
static int count_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t n = strlen(p);
    if (flag == FTW_F && !strstr(p, "/_delta_log/") && n > 8 && !strcmp(p + n - 8, ".parquet")) nparquet++;
    return 0;
}

/* Data files in the table folder, committed or not. */
static int data_files(const char *path)
{
    nparquet = 0;
    nftw(path, count_cb, 16, FTW_PHYS);
    return nparquet;
}

/* Re-opened from disk: rows in the latest version, and the txn of app. */
static int64_t table_rows(const char *path, const char *app, int64_t *txn)
{
    st_err e;
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    if (!s) return -1;
    int64_t n = delta_snapshot_total_records(s);
    if (txn) *txn = delta_snapshot_txn_version(s, app);
    delta_snapshot_destroy(s);
    return n;
}

/* 1 when every active file of the latest version exists on disk. */
static int files_present(const char *path)
{
    st_err e;
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    if (!s) return 0;
    int ok = 1;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        char *lp = delta_file_local_path(path, delta_snapshot_file(s, i));
        ok &= st_path_exists(lp);
        free(lp);
    }
    delta_snapshot_destroy(s);
    return ok;
}

/* The sink's one-shot append of `rows` rows for app at version ver. */
static st_code append(delta_table *t, int64_t base, int rows, const char *app, int64_t ver, append_sink_result *r,
                      st_err *e)
{
    delta_batch *b = rows_of(t, base, rows);
    delta_txn txn = {app, ver, 0};
    append_sink_params p = {.txns = &txn, .ntxns = 1, .commit_info_json = "{\"batch\":\"test\"}"};
    st_code rc = append_sink_write_batch(t, b, &p, r, e);
    delta_batch_destroy(b);
    return rc;
}

static void test_append_with_txn(void)
{
    char *path;
    delta_table *t = new_table(&path);
    if (!t) return;
    append_sink_result r;
    st_err e;
    CHECK_MSG(append(t, 0, 10, "app-a", 5, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.outcome == APPEND_SINK_COMMITTED && r.version == 1 && r.files == 2 && r.rows == 10);
    CHECK(r.attempts == 1 && r.ambiguous == 0);
    int64_t txn = -1;
    CHECK(table_rows(path, "app-a", &txn) == 10 && txn == 5);
    CHECK(data_files(path) == 2 && files_present(path));
    delta_version_changes *c = NULL;
    size_t n = 0;
    CHECK(delta_changes_read(delta_table_store(t), 1, 1, &c, &n, &e) == ST_OK && n == 1);
    if (n == 1) {
        CHECK(c[0].operation && !strcmp(c[0].operation, "STREAMING UPDATE"));
        CHECK(c[0].txn_id && strlen(c[0].txn_id) == 36);
        CHECK(c[0].added.count == 2);
    }
    delta_changes_free(c, n);
    /* a batch with no rows still records its txn (a position, as Gold's empty batches do) */
    delta_batch *empty = rows_of(t, 0, 0);
    delta_txn tx = {"app-a", 6, 0};
    append_sink_params p = {.txns = &tx, .ntxns = 1};
    CHECK(append_sink_write_batch(t, empty, &p, &r, &e) == ST_OK && r.outcome == APPEND_SINK_COMMITTED &&
          r.version == 2 && r.files == 0);
    CHECK(table_rows(path, "app-a", &txn) == 10 && txn == 6);
    /* no txn: refused, nothing written */
    p.ntxns = 0;
    CHECK(append_sink_write_batch(t, empty, &p, &r, &e) == ST_ERR_ARG && strstr(e.msg, "txn"));
    CHECK(delta_table_version(t) == 2);
    delta_batch_destroy(empty);
    delta_table_destroy(t);
    free(path);
}

/* Two handles on one new table: two writers. */
static int two_writers(char **path, delta_table **a, delta_table **b)
{
    st_err e;
    *a = new_table(path);
    *b = *a ? delta_table_open(*path, NULL, &e) : NULL;
    CHECK(*b != NULL);
    return *b != NULL;
}

static void test_conflict_retried(void)
{
    char *path;
    delta_table *a, *b;
    if (!two_writers(&path, &a, &b)) return;
    st_err e;
    append_sink_result r;
    /* b commits version 1; a still thinks the table is at 0 */
    CHECK_MSG(append(b, 100, 4, "app-b", 1, &r, &e) == ST_OK && r.version == 1, "%s", e.msg);
    CHECK_MSG(append(a, 0, 6, "app-a", 1, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.outcome == APPEND_SINK_COMMITTED && r.version == 2 && r.attempts == 2);
    int64_t txn = -1;
    CHECK(table_rows(path, "app-a", &txn) == 10 && txn == 1);
    CHECK(table_rows(path, "app-b", &txn) == 10 && txn == 1);
    CHECK(data_files(path) == 4 && files_present(path));
    delta_table_destroy(b);
    delta_table_destroy(a);
    free(path);
}

static void test_resent_skipped(void)
{
    char *path;
    delta_table *a, *b;
    if (!two_writers(&path, &a, &b)) return;
    st_err e;
    append_sink_result r;
    CHECK_MSG(append(a, 0, 6, "app-a", 3, &r, &e) == ST_OK && r.version == 1, "%s", e.msg);
    /* the same batch again on the same handle: skipped before anything is written */
    CHECK_MSG(append(a, 0, 6, "app-a", 3, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.outcome == APPEND_SINK_SKIPPED && r.version == 1 && r.files == 0 && r.attempts == 0);
    /* an older version of it too */
    CHECK(append(a, 0, 6, "app-a", 2, &r, &e) == ST_OK && r.outcome == APPEND_SINK_SKIPPED);
    /* on a stale handle (at version 0): the commit finds it out, and its new files go */
    CHECK_MSG(append(b, 0, 6, "app-a", 3, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.outcome == APPEND_SINK_SKIPPED && r.version == 1 && r.attempts == 1);
    CHECK(delta_table_version(b) == 1);
    int64_t txn = -1;
    CHECK(table_rows(path, "app-a", &txn) == 6 && txn == 3);
    CHECK(data_files(path) == 2);
    /* a batch the table holds only part of is not ours to finish */
    delta_batch *bt = rows_of(a, 50, 2);
    delta_txn two[2] = {{"app-a", 3, 0}, {"app-c", 1, 0}};
    append_sink_params p = {.txns = two, .ntxns = 2};
    CHECK(append_sink_write_batch(a, bt, &p, &r, &e) == ST_ERR_CONFLICT && strstr(e.msg, "app-a"));
    CHECK(data_files(path) == 2 && delta_table_version(a) == 1);
    delta_batch_destroy(bt);
    delta_table_destroy(b);
    delta_table_destroy(a);
    free(path);
}

#ifdef SMARTTECH_TEST_HOOKS

/* A concurrent writer that takes the next version just before our first put. */
typedef struct other_writer {
    delta_table *t;
    int done;
} other_writer;

static void other_commits(void *arg)
{
    other_writer *o = arg;
    if (o->done++) return;
    append_sink_result r;
    st_err e;
    CHECK_MSG(append(o->t, 1000, 2, "app-other", 1, &r, &e) == ST_OK, "%s", e.msg);
}

/* One fault on the commit put of an 8-row batch (2 files), what the sink must make of it, then
 * the same batch sent again without a fault: skipped when the first landed, else committed. */
typedef struct fault_case {
    const char *name;
    delta_put_fault fault;
    int count;                   /* puts that fail so */
    int other_writer;            /* another writer commits 2 rows just before our first put */
    st_code rc;
    int attempts, ambiguous;
    int64_t version;             /* committed version, -1 none */
    int files_after;             /* data files in the folder after the first call */
    const char *msg;             /* in the error message */
    append_sink_outcome resend;  /* outcome of the batch sent again */
    int files_end;               /* data files at the end */
} fault_case;

static const fault_case fault_cases[] = {
    /* nothing written: the new files go; the batch again commits */
    {"failed before landing", DELTA_PUT_FAIL, 1, 0, ST_ERR_IO, 1, 0, -1, 0, "nothing written", APPEND_SINK_COMMITTED, 2},
    /* written, then an error: the log shows our txnId, so it landed (no second commit, files kept) */
    {"ambiguous, landed", DELTA_PUT_AMBIGUOUS_LANDED, 1, 0, ST_OK, 1, 1, 1, 2, NULL, APPEND_SINK_SKIPPED, 2},
    /* version 1 still absent: retried at the same version */
    {"ambiguous, lost", DELTA_PUT_AMBIGUOUS_LOST, 1, 0, ST_OK, 2, 1, 1, 2, NULL, APPEND_SINK_SKIPPED, 2},
    /* version 1 is the other writer's: ours can never land there, so it goes to 2 */
    {"ambiguous, lost, version taken", DELTA_PUT_AMBIGUOUS_LOST, 1, 1, ST_OK, 2, 1, 2, 4, NULL, APPEND_SINK_SKIPPED,
     4},
    /* the request lands just before the retry, which conflicts: the log then holds our txn in
     * our own commit; that is COMMITTED, not a re-sent batch (whose files would be deleted) */
    {"ambiguous, lands late", DELTA_PUT_AMBIGUOUS_LATE, 1, 0, ST_OK, 2, 1, 1, 2, NULL, APPEND_SINK_SKIPPED, 2},
    /* never settled: fails, files kept (the commit might still appear); the batch again commits
     * once and the kept files are orphans for vacuum */
    {"ambiguous, unresolved", DELTA_PUT_AMBIGUOUS_LOST, 10, 0, ST_ERR_AMBIGUOUS, 3, 3, -1, 2, "may still land",
     APPEND_SINK_COMMITTED, 4},
};

static void run_fault_case(const fault_case *c)
{
    char *path;
    delta_table *t = new_table(&path);
    if (!t) return;
    st_err e;
    other_writer o = {NULL, 0};
    if (c->other_writer) {
        o.t = delta_table_open(path, NULL, &e);
        delta_table_test_before_put(t, other_commits, &o);
    }
    int64_t other_rows = c->other_writer ? 2 : 0;
    append_sink_result r;
    delta_table_test_fault(t, c->fault, c->count);
    st_code rc = append(t, 0, 8, "app-a", 1, &r, &e);
    CHECK_MSG(rc == c->rc, "%s: %s", c->name, rc ? e.msg : "ok");
    if (c->msg) CHECK_MSG(rc && strstr(e.msg, c->msg), "%s: %s", c->name, e.msg);
    CHECK_MSG(r.attempts == c->attempts && r.ambiguous == c->ambiguous, "%s: %d attempts, %d ambiguous", c->name,
              r.attempts, r.ambiguous);
    CHECK_MSG(data_files(path) == c->files_after, "%s: %d data files", c->name, data_files(path));
    int64_t latest = -1, txn = -1;
    delta_latest_version(delta_table_store(t), &latest, &e);
    if (c->version >= 0) {
        CHECK_MSG(r.outcome == APPEND_SINK_COMMITTED && r.version == c->version && latest == c->version,
                  "%s: version %lld, latest %lld", c->name, (long long)r.version, (long long)latest);
        CHECK_MSG(table_rows(path, "app-a", &txn) == 8 + other_rows && txn == 1, "%s", c->name);
    } else {
        CHECK_MSG(latest == 0 && table_rows(path, "app-a", &txn) == 0 && txn == -1, "%s", c->name);
    }
    delta_table_test_fault(t, DELTA_PUT_NORMAL, 0);
    rc = append(t, 0, 8, "app-a", 1, &r, &e);
    CHECK_MSG(rc == ST_OK && r.outcome == c->resend, "%s, sent again: %s", c->name, rc ? e.msg : "ok");
    CHECK_MSG(table_rows(path, "app-a", &txn) == 8 + other_rows && txn == 1, "%s: rows at the end", c->name);
    CHECK_MSG(data_files(path) == c->files_end && files_present(path), "%s: %d data files at the end", c->name,
              data_files(path));
    delta_table_test_before_put(t, NULL, NULL);
    delta_table_destroy(o.t);
    delta_table_destroy(t);
    free(path);
}

/* Bronze's way: files written and logged first, committed later (maybe by a redo). */
static void test_logged_files_kept(void)
{
    char *path;
    delta_table *t = new_table(&path);
    if (!t) return;
    st_err e;
    delta_batch *b = rows_of(t, 0, 6);
    delta_file_list adds = {0};
    CHECK(delta_table_write_files(t, b, &adds, &e) == ST_OK && adds.count == 2);
    delta_txn txn = {"bronze", 0, 0};
    append_sink_params p = {.txns = &txn, .ntxns = 1};
    append_sink_result r;
    delta_table_test_fault(t, DELTA_PUT_FAIL, 1);
    CHECK(append_sink_commit_files(t, adds.items, adds.count, &p, &r, &e) == ST_ERR_IO);
    CHECK(data_files(path) == 2); /* the log names them: kept for the redo */
    CHECK_MSG(append_sink_commit_files(t, adds.items, adds.count, &p, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.outcome == APPEND_SINK_COMMITTED && r.version == 1 && r.rows == 6);
    CHECK(append_sink_commit_files(t, adds.items, adds.count, &p, &r, &e) == ST_OK &&
          r.outcome == APPEND_SINK_SKIPPED);
    CHECK(table_rows(path, "bronze", NULL) == 6 && data_files(path) == 2);
    /* a redo whose files were removed meanwhile commits nothing */
    delta_file_list more = {0};
    CHECK(delta_table_write_files(t, b, &more, &e) == ST_OK);
    char *lp = delta_file_local_path(path, &more.items[0]);
    unlink(lp);
    free(lp);
    txn.version = 1;
    CHECK(append_sink_commit_files(t, more.items, more.count, &p, &r, &e) == ST_ERR_STATE && strstr(e.msg, "missing"));
    CHECK(delta_table_version(t) == 1);
    delta_file_list_free(&more);
    delta_file_list_free(&adds);
    delta_batch_destroy(b);
    delta_table_destroy(t);
    free(path);
}

#endif

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_append_with_txn();
    test_conflict_retried();
    test_resent_skipped();
#ifdef SMARTTECH_TEST_HOOKS
    for (size_t i = 0; i < sizeof fault_cases / sizeof fault_cases[0]; i++) run_fault_case(&fault_cases[i]);
    test_logged_files_kept();
#else
    fprintf(stderr, "built without SMARTTECH_TEST_HOOKS: the fault cases did not run (use `make unit`)\n");
#endif
    st_remove_tree(root, NULL);
    return CHECK_DONE();
}
