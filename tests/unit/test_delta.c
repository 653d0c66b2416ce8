/* test_delta.c — unit tests of the Delta module: schema, log encoding, commits with
 * conflicts and retries, snapshot replay with add/remove reconciliation, txns,
 * checkpoints, changes, and damaged logs (run under ASan/UBSan by `make unit`). */
#include "check.h"
#include "delta/delta.h"
#include "delta/delta_internal.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static char root[256];

static char *tpath(const char *name)
{
    return st_path_join(root, name);
}

static delta_schema *test_schema(void)
{
    delta_schema *s = delta_schema_new();
    CHECK(delta_schema_add(s, "id", DELTA_TYPE_LONG, 0, NULL) == ST_OK);
    CHECK(delta_schema_add(s, "name", DELTA_TYPE_STRING, 1, NULL) == ST_OK);
    CHECK(delta_schema_add(s, "value", DELTA_TYPE_DOUBLE, 1, NULL) == ST_OK);
    CHECK(delta_schema_add(s, "ok", DELTA_TYPE_BOOLEAN, 1, NULL) == ST_OK);
    CHECK(delta_schema_add(s, "n", DELTA_TYPE_INTEGER, 1, NULL) == ST_OK);
    CHECK(delta_schema_add(s, "ts", DELTA_TYPE_TIMESTAMP, 1, NULL) == ST_OK);
    CHECK(delta_schema_add(s, "event_date", DELTA_TYPE_DATE, 0, NULL) == ST_OK);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_schema_json(void)
{
    delta_schema *s = test_schema();
    st_err e;
    CHECK(delta_schema_add(s, "ID", DELTA_TYPE_LONG, 0, &e) == ST_ERR_ARG);
    CHECK(strstr(e.msg, "ID") != NULL);
    char *j = delta_schema_to_json(s);
    CHECK(strstr(j, "{\"name\":\"ts\",\"type\":\"timestamp\",\"nullable\":true,\"metadata\":{}}") != NULL);
    delta_schema *t = delta_schema_from_json(j, &e);
    CHECK(t && delta_schema_equal(s, t));
    pq_schema_node *nodes;
    int n;
    const char *ex[] = {"event_date"};
    CHECK(delta_schema_to_parquet(s, ex, 1, &nodes, &n, &e) == ST_OK);
    CHECK(n == 6);
    CHECK(nodes[0].repetition == PQ_REQUIRED && nodes[0].physical == PQ_INT64);
    CHECK(nodes[5].logical == PQ_LOGICAL_TIMESTAMP_MICROS);
    free(nodes);
    delta_schema *o = delta_schema_from_json(
        "{\"type\":\"struct\",\"fields\":[{\"name\":\"d\",\"type\":\"decimal(10,2)\",\"nullable\":true,\"metadata\":{}}]}",
        &e);
    CHECK(o && delta_schema_field_type(o, 0) == DELTA_TYPE_OTHER);
    CHECK(o && strcmp(delta_schema_field_type_json(o, 0), "decimal(10,2)") == 0);
    CHECK(delta_schema_from_json("{not json", &e) == NULL && e.code == ST_ERR_FORMAT);
    delta_schema_destroy(o);
    delta_schema_destroy(t);
    delta_schema_destroy(s);
    free(j);
}

/* Appends `rows` rows for date day0 + (i % ndays). */
static void fill(delta_batch *b, int64_t base, int rows, int ndays)
{
    for (int i = 0; i < rows; i++) {
        int64_t id = base + i;
        delta_batch_append_long(b, 0, id);
        if (i % 5 == 4)
            delta_batch_append_null(b, 1);
        else {
            char nm[64];
            int l = snprintf(nm, sizeof nm, "name-%03lld", (long long)(id % 1000));
            delta_batch_append_string(b, 1, nm, (size_t)l);
        }
        delta_batch_append_double(b, 2, (double)id * 0.5);
        delta_batch_append_bool(b, 3, i % 2);
        if (i % 7 == 3)
            delta_batch_append_null(b, 4);
        else
            delta_batch_append_int(b, 4, (int32_t)(i - 10));
        delta_batch_append_long(b, 5, 1795600000000000LL + id * 1000 + 1); /* sub-ms part: max rounds up */
        delta_batch_append_int(b, 6, 20600 + (i % ndays));
    }
}

static int64_t append(delta_table *t, int64_t base, int rows, const char *app, int64_t appver, st_code *out_rc)
{
    delta_batch *b = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(t)));
    fill(b, base, rows, 2);
    delta_file_list adds = {0};
    st_err e;
    st_code rc = delta_table_write_files(t, b, &adds, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    delta_txn txn = {app, appver, 0};
    delta_commit_params p = {adds.items, adds.count, app ? &txn : NULL, app ? 1 : 0, NULL, NULL, NULL};
    int64_t v = -1;
    rc = delta_table_commit(t, &p, &v, &e);
    if (out_rc)
        *out_rc = rc;
    else
        CHECK_MSG(rc == ST_OK, "%s", e.msg);
    delta_file_list_free(&adds);
    delta_batch_destroy(b);
    return v;
}

static void test_create_write_commit(void)
{
    char *p = tpath("t1");
    delta_schema *s = test_schema();
    const char *pc[] = {"event_date"};
    st_err e;
    delta_table *t = delta_table_create(p, s, pc, 1, "t1", NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (!t) goto out;
    CHECK(delta_table_version(t) == 0);
    /* idempotent create */
    delta_table *t2 = delta_table_create(p, s, pc, 1, "t1", NULL, &e);
    CHECK(t2 != NULL);
    delta_table_destroy(t2);
    /* different partitioning: conflict */
    CHECK(delta_table_create(p, s, NULL, 0, "t1", NULL, &e) == NULL && e.code == ST_ERR_CONFLICT);

    CHECK(append(t, 0, 10, "app-a", 5, NULL) == 1);
    CHECK(append(t, 100, 6, "app-b", 7, NULL) == 2);
    const delta_snapshot *ts = delta_table_snapshot(t);
    CHECK(delta_snapshot_num_files(ts) == 4); /* two dates per commit */
    CHECK(delta_snapshot_total_records(ts) == 16);
    CHECK(delta_snapshot_txn_version(ts, "app-a") == 5);
    CHECK(delta_snapshot_txn_version(ts, "nope") == -1);

    /* a txn already committed at >= our version: refused, nothing written */
    st_code rc;
    CHECK(append(t, 200, 3, "app-a", 5, &rc) == -1 && rc == ST_ERR_CONFLICT);
    CHECK(delta_table_version(t) == 2);

    delta_snapshot *sn = delta_snapshot_load(p, -1, &e);
    CHECK_MSG(sn != NULL, "%s", e.msg);
    if (sn) {
        CHECK(delta_snapshot_version(sn) == 2);
        CHECK(delta_snapshot_num_files(sn) == 4);
        CHECK(delta_snapshot_txn_version(sn, "app-b") == 7);
        CHECK(delta_snapshot_num_partition_columns(sn) == 1);
        CHECK(delta_snapshot_last_commit_ms(sn) > 0);
        char *a = delta_snapshot_state_json(sn), *b = delta_snapshot_state_json(ts);
        CHECK_STR(a, b);
        free(a);
        free(b);
        /* stats of one file */
        for (size_t i = 0; i < delta_snapshot_num_files(sn); i++) {
            const delta_file *f = delta_snapshot_file(sn, i);
            CHECK(strncmp(f->path, "event_date=2026-", 16) == 0);
            CHECK(strstr(f->path, ".c000.snappy.parquet") != NULL);
            char *lp = delta_file_local_path(p, f);
            CHECK(st_path_exists(lp));
            free(lp);
            json_t *st = json_loads(f->stats, 0, NULL);
            CHECK(st != NULL);
            CHECK(json_integer_value(json_object_get(st, "numRecords")) == f->num_records);
            CHECK(json_object_get(json_object_get(st, "minValues"), "event_date") == NULL);
            CHECK(json_object_get(json_object_get(st, "minValues"), "ok") == NULL);
            const char *mx = json_string_value(json_object_get(json_object_get(st, "maxValues"), "ts"));
            CHECK(mx && strlen(mx) == 24 && mx[23] == 'Z');
            json_decref(st);
        }
        /* the first file of version 1 (ids 0..9 even) */
        delta_snapshot_destroy(sn);
    }
    /* explicit stats check on a one-file table */
    {
        char *p2 = tpath("t_stats");
        delta_table *u = delta_table_create(p2, s, NULL, 0, NULL, NULL, &e);
        CHECK(u != NULL);
        if (u) {
            append(u, 0, 5, NULL, 0, NULL);
            const delta_file *f = delta_snapshot_file(delta_table_snapshot(u), 0);
            json_t *st = json_loads(f->stats, 0, NULL);
            json_t *mn = json_object_get(st, "minValues"), *mx = json_object_get(st, "maxValues"),
                   *nc = json_object_get(st, "nullCount");
            CHECK(json_integer_value(json_object_get(mn, "id")) == 0);
            CHECK(json_integer_value(json_object_get(mx, "id")) == 4);
            CHECK(json_integer_value(json_object_get(nc, "name")) == 1);
            CHECK(json_integer_value(json_object_get(nc, "id")) == 0);
            CHECK(json_integer_value(json_object_get(nc, "n")) == 1);
            CHECK_STR(json_string_value(json_object_get(mn, "name")), "name-000");
            CHECK_STR(json_string_value(json_object_get(mx, "name")), "name-003");
            CHECK(json_real_value(json_object_get(mx, "value")) == 2.0);
            CHECK_STR(json_string_value(json_object_get(mn, "ts")), "2026-11-25T09:46:40.000Z");
            CHECK_STR(json_string_value(json_object_get(mx, "ts")), "2026-11-25T09:46:40.005Z");
            CHECK_STR(json_string_value(json_object_get(mn, "event_date")), "2026-05-27");
            json_decref(st);
            delta_table_destroy(u);
        }
        free(p2);
    }
    delta_table_destroy(t);
out:
    delta_schema_destroy(s);
    free(p);
}

static void test_string_and_double_stats(void)
{
    char *p = tpath("t_edge");
    delta_schema *s = delta_schema_new();
    delta_schema_add(s, "s", DELTA_TYPE_STRING, 1, NULL);
    delta_schema_add(s, "d", DELTA_TYPE_DOUBLE, 1, NULL);
    delta_schema_add(s, "part", DELTA_TYPE_STRING, 1, NULL);
    st_err e;
    const char *pc[] = {"part"};
    delta_table *t = delta_table_create(p, s, pc, 1, NULL, NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (t) {
        delta_batch *b = delta_batch_new(s);
        const char *longs = "ééééééééééééééééééééééééééééééééééééééééé"; /* 41 two-byte code points */
        delta_batch_append_string(b, 0, longs, strlen(longs));
        delta_batch_append_double(b, 1, NAN);
        delta_batch_append_string(b, 2, "a/b:c", 5);
        delta_batch_append_string(b, 0, "", 0);
        delta_batch_append_double(b, 1, 1.5);
        delta_batch_append_null(b, 2);
        delta_file_list adds = {0};
        CHECK(delta_table_write_files(t, b, &adds, &e) == ST_OK);
        CHECK(adds.count == 2);
        for (size_t i = 0; i < adds.count; i++) {
            const delta_file *f = &adds.items[i];
            int found;
            const char *pv = delta_file_partition_value(f, "part", &found);
            CHECK(found);
            json_t *st = json_loads(f->stats, 0, NULL);
            json_t *mn = json_object_get(st, "minValues"), *mx = json_object_get(st, "maxValues");
            if (pv) {
                CHECK_STR(pv, "a/b:c");
                CHECK(strncmp(f->path, "part=a%252Fb%253Ac/", 19) == 0);
                char *lp = delta_file_local_path(p, f);
                CHECK(strstr(lp, "/part=a%2Fb%3Ac/part-") != NULL);
                CHECK(st_path_exists(lp));
                free(lp);
                CHECK(json_object_get(mx, "s") == NULL); /* truncated: no max */
                const char *m = json_string_value(json_object_get(mn, "s"));
                CHECK(m && strlen(m) == 64);             /* 32 code points */
                CHECK(json_object_get(mn, "d") == NULL); /* NaN: no bounds */
            } else {
                CHECK(strncmp(f->path, "part=__HIVE_DEFAULT_PARTITION__/", 32) == 0);
                CHECK_STR(json_string_value(json_object_get(mx, "s")), "");
                CHECK(json_real_value(json_object_get(mn, "d")) == 1.5);
            }
            json_decref(st);
        }
        delta_commit_params cp = {adds.items, adds.count, NULL, 0, "STREAMING UPDATE", "{\"outputMode\":\"Append\"}",
                                  "{\"smarttech\":{\"batch\":1}}"};
        int64_t v;
        CHECK(delta_table_commit(t, &cp, &v, &e) == ST_OK && v == 1);
        delta_file_list_free(&adds);
        /* misuse is reported, not crashed on */
        delta_batch_clear(b);
        delta_batch_append_long(b, 0, 1);
        delta_batch_append_double(b, 1, 1);
        delta_batch_append_string(b, 2, "x", 1);
        CHECK(delta_table_write_files(t, b, &adds, &e) == ST_ERR_ARG);
        CHECK(strstr(e.msg, "column s") != NULL);
        delta_batch_destroy(b);
        delta_version_changes *ch;
        size_t nch;
        CHECK(delta_changes_read(delta_table_store(t), 0, -1, &ch, &nch, &e) == ST_OK);
        CHECK(nch == 2);
        if (nch == 2) {
            CHECK(ch[0].metadata_changed && ch[1].added.count == 2);
            CHECK_STR(ch[1].operation, "STREAMING UPDATE");
        }
        delta_changes_free(ch, nch);
        delta_table_destroy(t);
    }
    delta_schema_destroy(s);
    free(p);
}

static void test_conflict_retry(void)
{
    char *p = tpath("t_conc");
    delta_schema *s = test_schema();
    st_err e;
    delta_table *a = delta_table_create(p, s, NULL, 0, NULL, NULL, &e);
    delta_table *b = delta_table_open(p, NULL, &e);
    CHECK(a && b);
    if (a && b) {
        CHECK(append(a, 0, 3, "w1", 1, NULL) == 1);
        CHECK(append(a, 3, 3, "w1", 2, NULL) == 2);
        /* b is at version 0: its put-if-absent at 1 fails, it re-reads and commits 3 */
        CHECK(append(b, 6, 3, "w2", 1, NULL) == 3);
        CHECK(delta_snapshot_num_files(delta_table_snapshot(b)) == 3);
        CHECK(delta_snapshot_txn_version(delta_table_snapshot(b), "w1") == 2);
        /* a refreshes incrementally */
        CHECK(delta_table_refresh(a, &e) == ST_OK);
        CHECK(delta_table_version(a) == 3);
        CHECK(delta_snapshot_num_files(delta_table_snapshot(a)) == 3);
        /* b retries with a stale txn for w1: refused as already committed */
        st_code rc;
        CHECK(append(b, 9, 1, "w1", 2, &rc) == -1 && rc == ST_ERR_CONFLICT);
    }
    delta_table_destroy(a);
    delta_table_destroy(b);
    delta_schema_destroy(s);
    free(p);
}

static void test_remove_reconciliation(void)
{
    char *p = tpath("t_rm");
    delta_schema *s = test_schema();
    st_err e;
    delta_table *t = delta_table_create(p, s, NULL, 0, NULL, NULL, &e);
    CHECK(t != NULL);
    if (!t) goto out;
    append(t, 0, 3, NULL, 0, NULL);
    append(t, 3, 3, NULL, 0, NULL);
    const delta_file *f0 = delta_snapshot_file(delta_table_snapshot(t), 0);
    char *victim = st_xstrdup(f0->path);
    char *c3 = st_path_join(p, "_delta_log/00000000000000000003.json");
    char txt[1024];
    snprintf(txt, sizeof txt,
             "{\"commitInfo\":{\"timestamp\":1795600000000,\"operation\":\"DELETE\"}}\n"
             "{\"remove\":{\"path\":\"%s\",\"deletionTimestamp\":%lld,\"dataChange\":true}}\n",
             victim, (long long)(time(NULL) * 1000LL));
    write_text(c3, txt);
    delta_snapshot *sn = delta_snapshot_load(p, -1, &e);
    CHECK(sn != NULL);
    if (sn) {
        CHECK(delta_snapshot_num_files(sn) == 1);
        CHECK(delta_snapshot_num_tombstones(sn) == 1);
        CHECK(delta_snapshot_total_records(sn) == 3);
        CHECK(delta_snapshot_last_commit_ms(sn) == 1795600000000LL);
        delta_snapshot_destroy(sn);
    }
    /* time travel */
    sn = delta_snapshot_load(p, 2, &e);
    CHECK(sn && delta_snapshot_num_files(sn) == 2);
    delta_snapshot_destroy(sn);
    CHECK(delta_snapshot_load(p, 9, &e) == NULL && e.code == ST_ERR_NOTFOUND);
    /* the handle catches up with the remove */
    CHECK(delta_table_refresh(t, &e) == ST_OK);
    CHECK(delta_snapshot_num_files(delta_table_snapshot(t)) == 1);
    free(victim);
    free(c3);
    delta_table_destroy(t);
out:
    delta_schema_destroy(s);
    free(p);
}

/* A compaction-style commit: remove two files, add one, no data change; a second
 * attempt at removing the same files is a conflict. */
static void test_commit_removes(void)
{
    char *p = tpath("t_compact");
    delta_schema *s = test_schema();
    st_err e;
    delta_table *t = delta_table_create(p, s, NULL, 0, NULL, NULL, &e);
    delta_table *u = delta_table_open(p, NULL, &e);
    CHECK(t && u);
    if (t && u) {
        append(t, 0, 3, NULL, 0, NULL);
        append(t, 3, 3, NULL, 0, NULL);
        CHECK(delta_table_refresh(u, &e) == ST_OK);
        const delta_snapshot *sn = delta_table_snapshot(t);
        delta_file_list old = {0};
        for (size_t i = 0; i < delta_snapshot_num_files(sn); i++) delta_file_list_append_copy(&old, delta_snapshot_file(sn, i));
        CHECK(old.count == 2);
        delta_batch *b = delta_batch_new(s);
        fill(b, 0, 6, 1);
        delta_file_list adds = {0};
        CHECK(delta_table_write_files(t, b, &adds, &e) == ST_OK);
        delta_commit_params cp = {adds.items, adds.count, NULL, 0, "OPTIMIZE", NULL, NULL};
        int64_t v;
        CHECK_MSG(delta_table_commit_with_removes(t, &cp, old.items, old.count, 1, &v, &e) == ST_OK, "%s", e.msg);
        CHECK(v == 3);
        CHECK(delta_snapshot_num_files(delta_table_snapshot(t)) == 1);
        CHECK(delta_snapshot_num_tombstones(delta_table_snapshot(t)) == 2);
        CHECK(delta_snapshot_total_records(delta_table_snapshot(t)) == 6);
        /* u (at version 2) tries the same removal: conflict after catching up */
        delta_commit_params cp2 = {NULL, 0, NULL, 0, "OPTIMIZE", NULL, NULL};
        CHECK(delta_table_commit_with_removes(u, &cp2, old.items, old.count, 1, &v, &e) == ST_ERR_CONFLICT);
        CHECK(strstr(e.msg, "not active") != NULL);
        delta_snapshot *ls = delta_snapshot_load(p, -1, &e);
        CHECK(ls && delta_snapshot_num_files(ls) == 1 && delta_snapshot_version(ls) == 3);
        if (ls) {
            char *a = delta_snapshot_state_json(ls), *c = delta_snapshot_state_json(delta_table_snapshot(t));
            CHECK_STR(a, c);
            free(a);
            free(c);
        }
        delta_snapshot_destroy(ls);
        delta_file_list_free(&adds);
        delta_file_list_free(&old);
        delta_batch_destroy(b);
    }
    delta_table_destroy(t);
    delta_table_destroy(u);
    delta_schema_destroy(s);
    free(p);
}

static void test_checkpoints(void)
{
    char *p = tpath("t_cp");
    delta_schema *s = test_schema();
    const char *pc[] = {"event_date"};
    st_err e;
    delta_table *t = delta_table_create(p, s, pc, 1, "cp", NULL, &e);
    CHECK(t != NULL);
    if (!t) goto out;
    for (int i = 0; i < 25; i++) {
        char app[32];
        snprintf(app, sizeof app, "app-%d", i % 3);
        append(t, i * 10, 4, app, i + 1, NULL);
    }
    CHECK(delta_table_version(t) == 25);
    CHECK_MSG(delta_table_last_warning(t) == NULL, "%s", delta_table_last_warning(t));
    char *c10 = st_path_join(p, "_delta_log/00000000000000000010.checkpoint.parquet");
    char *c20 = st_path_join(p, "_delta_log/00000000000000000020.checkpoint.parquet");
    char *last = st_path_join(p, "_delta_log/_last_checkpoint");
    CHECK(st_path_exists(c10) && st_path_exists(c20) && st_path_exists(last));
    st_buf lb = {0};
    st_read_file(last, &lb, NULL);
    CHECK(strstr(st_buf_cstr(&lb), "\"version\":20") != NULL);
    st_buf_free(&lb);

    delta_load_options o;
    delta_load_options_init(&o);
    o.ignore_checkpoints = 1;
    delta_snapshot *js = delta_snapshot_load_opts(p, &o, &e);
    delta_snapshot *cs = delta_snapshot_load(p, -1, &e);
    CHECK_MSG(js && cs, "%s", e.msg);
    int have_reader = 1;
    if (js && cs) {
        if (have_reader) CHECK(delta_snapshot_checkpoint_version(cs) == 20);
        CHECK(delta_snapshot_checkpoint_version(js) == -1);
        char *a = delta_snapshot_state_json(js), *b = delta_snapshot_state_json(cs);
        CHECK_STR(a, b);
        CHECK(delta_snapshot_txn_version(cs, "app-1") == 23);
        free(a);
        free(b);
    }
    delta_snapshot_destroy(js);
    delta_snapshot_destroy(cs);
    /* version 15 from checkpoint 10 + 5 commits */
    cs = delta_snapshot_load(p, 15, &e);
    CHECK(cs && delta_snapshot_version(cs) == 15);
    if (cs && have_reader) CHECK(delta_snapshot_checkpoint_version(cs) == 10);
    delta_snapshot_destroy(cs);

    /* missing _last_checkpoint: found by listing */
    unlink(last);
    cs = delta_snapshot_load(p, -1, &e);
    CHECK(cs != NULL);
    if (cs && have_reader) CHECK(delta_snapshot_checkpoint_version(cs) == 20);
    delta_snapshot_destroy(cs);

    /* the log listed from a checkpoint holds that version and the later ones only */
    delta_log_listing L;
    CHECK(delta_list_log(delta_table_store(t), 20, &L, &e) == ST_OK);
    CHECK(L.ncommits == 6 && L.commits[0].version == 20 && L.ncheckpoints == 1 && L.checkpoints[0].version == 20);
    CHECK(L.commits[0].mtime_ms > 0 && delta_log_find(L.commits, L.ncommits, 25) == 5);
    delta_log_listing_free(&L);
    CHECK(delta_list_log(delta_table_store(t), 0, &L, &e) == ST_OK);
    CHECK(L.ncommits == 26 && L.ncheckpoints == 2 && L.checkpoints[0].version == 10);
    delta_log_listing_free(&L);
    int64_t latest = -1;
    CHECK(delta_latest_version(delta_table_store(t), &latest, &e) == ST_OK && latest == 25);
    /* _last_checkpoint behind (10, a newer one exists), or naming no checkpoint (15), or past
     * the end (30): the newest checkpoint is still found */
    const char *lasts[] = {"{\"version\":10}", "{\"version\":15}", "{\"version\":30}", "not json"};
    for (size_t i = 0; i < sizeof lasts / sizeof *lasts; i++) {
        CHECK(st_write_file_atomic(last, lasts[i], strlen(lasts[i]), &e) == ST_OK);
        cs = delta_snapshot_load(p, -1, &e);
        CHECK_MSG(cs && delta_snapshot_version(cs) == 25 && delta_snapshot_checkpoint_version(cs) == 20, "%s",
                  lasts[i]);
        delta_snapshot_destroy(cs);
        CHECK(delta_latest_version(delta_table_store(t), &latest, &e) == ST_OK && latest == 25);
    }
    /* time travel before _last_checkpoint */
    CHECK(st_write_file_atomic(last, "{\"version\":20}", 14, &e) == ST_OK);
    cs = delta_snapshot_load(p, 12, &e);
    CHECK(cs && delta_snapshot_version(cs) == 12 && delta_snapshot_checkpoint_version(cs) == 10);
    delta_snapshot_destroy(cs);

    /* garbage footer: a clear error naming the file */
    if (have_reader) {
        FILE *f = fopen(c20, "r+b");
        CHECK(f != NULL);
        if (f) {
            fseek(f, -8, SEEK_END);
            fwrite("garbage!", 1, 8, f);
            fclose(f);
        }
        cs = delta_snapshot_load(p, -1, &e);
        CHECK(cs == NULL);
        CHECK_MSG(strstr(e.msg, "00000000000000000020.checkpoint.parquet") != NULL, "%s", e.msg);
        delta_snapshot_destroy(cs);
    }
    free(c10);
    free(c20);
    free(last);
    delta_table_destroy(t);
out:
    delta_schema_destroy(s);
    free(p);
}

static void test_damage(void)
{
    char *p = tpath("t_dmg");
    delta_schema *s = test_schema();
    st_err e;
    delta_table *t = delta_table_create(p, s, NULL, 0, NULL, NULL, &e);
    CHECK(t != NULL);
    if (!t) goto out;
    append(t, 0, 3, NULL, 0, NULL);
    append(t, 3, 3, NULL, 0, NULL);
    delta_table_destroy(t);
    char *c2 = st_path_join(p, "_delta_log/00000000000000000002.json");
    st_buf b = {0};
    st_read_file(c2, &b, NULL);
    /* truncated commit */
    FILE *f = fopen(c2, "wb");
    fwrite(b.data, 1, b.len / 2, f);
    fclose(f);
    delta_snapshot *sn = delta_snapshot_load(p, -1, &e);
    CHECK(sn == NULL && e.code == ST_ERR_FORMAT);
    CHECK_MSG(strstr(e.msg, "00000000000000000002.json") != NULL, "%s", e.msg);
    CHECK(delta_table_open(p, NULL, &e) == NULL);
    /* empty commit */
    write_text(c2, "");
    CHECK(delta_snapshot_load(p, -1, &e) == NULL && strstr(e.msg, "empty"));
    /* gap in the log */
    unlink(c2);
    char *c3 = st_path_join(p, "_delta_log/00000000000000000003.json");
    write_text(c3, "{\"commitInfo\":{}}\n");
    CHECK(delta_snapshot_load(p, -1, &e) == NULL && strstr(e.msg, "00000000000000000002.json"));
    unlink(c3);
    /* unsupported protocol */
    write_text(c2, "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":[\"deletionVectors\"],"
                   "\"writerFeatures\":[\"deletionVectors\"]}}\n");
    CHECK(delta_snapshot_load(p, -1, &e) == NULL && e.code == ST_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(e.msg, "deletionVectors") != NULL, "%s", e.msg);
    write_text(c2, "{\"protocol\":{\"minReaderVersion\":4,\"minWriterVersion\":7}}\n");
    CHECK(delta_snapshot_load(p, -1, &e) == NULL && e.code == ST_ERR_UNSUPPORTED && strstr(e.msg, "reader version 4"));
    unlink(c2);
    /* not a table */
    char *none = tpath("nothing");
    CHECK(delta_snapshot_load(none, -1, &e) == NULL && e.code == ST_ERR_NOTFOUND);
    CHECK(strstr(e.msg, "nothing") != NULL);
    free(none);

    /* unwritable folders: as root permissions do not apply, so drop to nobody in a child */
    char *ro = tpath("t_ro");
    t = delta_table_create(ro, s, NULL, 0, NULL, NULL, &e);
    CHECK(t != NULL);
    delta_table_destroy(t);
    char *rolog = st_path_join(ro, "_delta_log");
    chmod(ro, 0555);
    chmod(rolog, 0555);
    chmod(root, 0755);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && setuid(65534) != 0) _exit(3);
        st_err ce;
        delta_table *u = delta_table_open(ro, NULL, &ce);
        if (!u) _exit(4);
        delta_batch *bb = delta_batch_new(s);
        fill(bb, 0, 2, 1);
        delta_file_list adds = {0};
        int code = 0;
        st_code rc = delta_table_write_files(u, bb, &adds, &ce);
        if (rc != ST_ERR_IO || !strstr(ce.msg, "t_ro")) code = 5;
        /* commit of an empty version into the read-only log */
        delta_txn tx = {"x", 1, 0};
        delta_commit_params cp = {NULL, 0, &tx, 1, NULL, NULL, NULL};
        rc = delta_table_commit(u, &cp, NULL, &ce);
        if (rc != ST_ERR_IO || !strstr(ce.msg, "_delta_log")) code = code ? code : 6;
        delta_batch_destroy(bb);
        delta_file_list_free(&adds);
        delta_table_destroy(u);
        _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    chmod(ro, 0755);
    chmod(rolog, 0755);
    free(rolog);
    free(ro);
    free(c2);
    free(c3);
    st_buf_free(&b);
out:
    delta_schema_destroy(s);
    free(p);
}

/* The private string map against a reference array under random puts and deletes. */
static void test_map(void)
{
    enum { N = 3000 };
    static char keys[N][16];
    static long ref[N];
    delta_map m = {0};
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i * 7919 % 10007);
        ref[i] = -1;
    }
    unsigned x = 12345;
    for (int step = 0; step < 40000; step++) {
        x = x * 1103515245u + 12345u;
        int i = (int)((x >> 8) % N);
        if ((x >> 20) % 3 == 0) {
            delta_map_del(&m, keys[i]);
            ref[i] = -1;
        } else {
            delta_map_put(&m, keys[i], (size_t)step);
            ref[i] = step;
        }
    }
    size_t live = 0;
    int bad = 0;
    for (int i = 0; i < N; i++) {
        size_t v = delta_map_get(&m, keys[i]);
        if (ref[i] < 0 ? v != (size_t)-1 : v != (size_t)ref[i]) bad++;
        if (ref[i] >= 0) live++;
    }
    CHECK(bad == 0);
    CHECK(strmap_count(m.m) == live);
    delta_map_free(&m);
}

/* Many adds, then a commit removing every other file: counts and bytes reconcile. */
static void test_many_removes(void)
{
    char *p = tpath("t_many");
    char *logd = st_path_join(p, "_delta_log");
    st_mkdirs(logd, NULL);
    st_buf b = {0};
    st_buf_append_str(&b, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
                          "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
                          "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[]}\","
                          "\"partitionColumns\":[],\"configuration\":{}}}\n");
    for (int i = 0; i < 2000; i++)
        st_buf_printf(&b, "{\"add\":{\"path\":\"f%d.parquet\",\"partitionValues\":{},\"size\":%d,"
                          "\"modificationTime\":1,\"dataChange\":true,\"stats\":\"{\\\"numRecords\\\":2}\"}}\n",
                      i, i + 1);
    char *c0 = st_path_join(p, "_delta_log/00000000000000000000.json");
    write_text(c0, st_buf_cstr(&b));
    st_buf_reset(&b);
    for (int i = 0; i < 2000; i += 2)
        st_buf_printf(&b, "{\"remove\":{\"path\":\"f%d.parquet\",\"deletionTimestamp\":%lld,\"dataChange\":true}}\n", i,
                      (long long)time(NULL) * 1000);
    char *c1 = st_path_join(p, "_delta_log/00000000000000000001.json");
    write_text(c1, st_buf_cstr(&b));
    st_err e;
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    if (s) {
        CHECK(delta_snapshot_num_files(s) == 1000);
        CHECK(delta_snapshot_num_tombstones(s) == 1000);
        CHECK(delta_snapshot_total_records(s) == 2000);
        int64_t bytes = 0;
        for (int i = 1; i < 2000; i += 2) bytes += i + 1;
        CHECK(delta_snapshot_total_bytes(s) == bytes);
        delta_snapshot_destroy(s);
    }
    free(c0);
    free(c1);
    free(logd);
    st_buf_free(&b);
    free(p);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/test_delta.%ld", (long)getpid());
    st_remove_tree(root, NULL);
    st_mkdirs(root, NULL);
    test_schema_json();
    test_map();
    test_many_removes();
    test_create_write_commit();
    test_string_and_double_stats();
    test_conflict_retry();
    test_remove_reconciliation();
    test_commit_removes();
    test_checkpoints();
    test_damage();
    if (!check_failures) st_remove_tree(root, NULL);
    return CHECK_DONE();
}
