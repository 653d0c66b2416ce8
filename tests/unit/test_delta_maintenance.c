/* test_delta_maintenance.c — unit tests of table maintenance (delta_optimize.c,
 * delta_vacuum.c): interval parsing; compaction keeps every row, partition value and
 * exact stats, commits one dataChange=false OPTIMIZE version, honours target size,
 * min files and partition filters; concurrent appends commute and a concurrent remove
 * of an input makes it re-plan (or give up cleanly); vacuum deletes exactly the expired
 * tombstoned files and old orphans, never hidden files or the log, refuses a short
 * retention without force, and --log drops only commits below an old checkpoint. */
#include "check.h"
#include "pq_open.h"
#include "delta/delta.h"
#include "delta/delta_maintain.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static char root[256];

static char *tpath(const char *name) { return st_path_join(root, name); }

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

/* rows base.. with nulls sprinkled; event_date spreads over ndays days */
static void fill(delta_batch *b, int64_t base, int rows, int ndays)
{
    for (int i = 0; i < rows; i++) {
        int64_t id = base + i;
        delta_batch_append_long(b, 0, id);
        if (id % 5 == 4) {
            delta_batch_append_null(b, 1);
        } else {
            char nm[64];
            int l = snprintf(nm, sizeof nm, "name-%03lld", (long long)(id % 1000));
            delta_batch_append_string(b, 1, nm, (size_t)l);
        }
        if (id % 11 == 2) delta_batch_append_null(b, 2);
        else delta_batch_append_double(b, 2, (double)id * 0.5);
        delta_batch_append_bool(b, 3, (int)(id % 2));
        if (id % 7 == 3) delta_batch_append_null(b, 4);
        else delta_batch_append_int(b, 4, (int32_t)(id - 10));
        delta_batch_append_long(b, 5, 1795600000000000LL + id * 1000 + 1);
        delta_batch_append_int(b, 6, 20600 + (int32_t)(id % ndays));
    }
}

/* One commit of `rows` rows; returns its version. */
static int64_t append(delta_table *t, int64_t base, int rows, int ndays)
{
    delta_batch *b = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(t)));
    fill(b, base, rows, ndays);
    delta_file_list adds = {0};
    st_err e;
    st_code rc = delta_table_write_files(t, b, &adds, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    delta_commit_params p = {adds.items, adds.count, NULL, 0, NULL, NULL, NULL};
    int64_t v = -1;
    rc = delta_table_commit(t, &p, &v, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    delta_file_list_free(&adds);
    delta_batch_destroy(b);
    return v;
}

/* An order-independent digest of a table's rows, read straight from the Parquet files
 * of the latest snapshot (not through the optimize code): count, sums of ids and of
 * id^2, a hash mixing every column and the partition value of each row. */
typedef struct digest {
    int64_t rows, nulls;
    uint64_t sum, sum2, mix;
} digest;

static uint64_t h64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static digest table_digest(const char *path)
{
    digest d;
    memset(&d, 0, sizeof d);
    st_err e;
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    if (!s) return d;
    const char *cols[] = {"id", "name", "value", "ok", "n", "ts"};
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        const delta_file *f = delta_snapshot_file(s, i);
        char *full = delta_file_local_path(path, f);
        pq_reader *r = open_r(full, &e);
        CHECK_MSG(r != NULL, "%s", e.msg);
        free(full);
        if (!r) continue;
        const char *day = delta_file_partition_value(f, "event_date", NULL);
        uint64_t dayh = 0;
        for (const char *c = day ? day : ""; *c; c++) dayh = dayh * 31 + (uint8_t)*c;
        for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
            int64_t n = pq_reader_row_group_rows(r, g);
            uint64_t *rowh = calloc((size_t)n + 1, sizeof *rowh);
            for (int c = 0; c < 6; c++) {
                pq_column_data cd;
                int leaf = pq_reader_find_leaf(r, cols[c]);
                CHECK(leaf >= 0);
                if (leaf < 0 || pq_reader_read_column(r, g, leaf, &cd, &e)) continue;
                size_t vi = 0;
                for (int64_t k = 0; k < n; k++) {
                    uint64_t v = 0x9e37;
                    if (cd.def_levels && cd.def_levels[k] == 0) {
                        d.nulls++;
                    } else {
                        size_t j = vi++;
                        switch (cd.physical) {
                        case PQ_INT64: v = (uint64_t)cd.values.i64[j]; break;
                        case PQ_INT32: v = (uint64_t)(int64_t)cd.values.i32[j]; break;
                        case PQ_BOOLEAN: v = cd.values.boolean[j] + 7u; break;
                        case PQ_DOUBLE: memcpy(&v, &cd.values.f64[j], 8); break;
                        case PQ_BYTE_ARRAY:
                            for (uint32_t q = 0; q < cd.values.bytes[j].len; q++) v = v * 131 + cd.values.bytes[j].ptr[q];
                            break;
                        default: break;
                        }
                        if (c == 0) {
                            d.sum += v;
                            d.sum2 += v * v;
                        }
                    }
                    rowh[k] = h64(rowh[k] ^ h64(v + (uint64_t)c));
                }
                pq_column_data_free(&cd);
            }
            for (int64_t k = 0; k < n; k++) d.mix += h64(rowh[k] ^ dayh);
            d.rows += n;
            free(rowh);
        }
        pq_reader_close(r);
    }
    delta_snapshot_destroy(s);
    return d;
}

static int digest_eq(digest a, digest b)
{
    return a.rows == b.rows && a.nulls == b.nulls && a.sum == b.sum && a.sum2 == b.sum2 && a.mix == b.mix;
}

/* Number of regular *.parquet files under dir (recursively, outside _delta_log). */
static int count_parquet(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.parquet' -not -path '*/_delta_log/*' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

/* Sets a file's mtime to `secs_ago` seconds in the past. */
static void age(const char *path, int64_t secs_ago)
{
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= (time_t)secs_ago;
    tv[1] = tv[0];
    CHECK_MSG(utimes(path, tv) == 0, "utimes %s", path);
}

static delta_table *make_table(const char *name, int commits, int rows, int ndays)
{
    char *p = tpath(name);
    delta_schema *sc = test_schema();
    const char *pc[] = {"event_date"};
    st_err e;
    delta_table *t = delta_table_create(p, sc, pc, 1, "t", NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    for (int c = 0; t && c < commits; c++) append(t, (int64_t)c * rows, rows, ndays);
    delta_schema_destroy(sc);
    free(p);
    return t;
}

/* ------------------------------------------------------------------ tests */

static void test_interval(void)
{
    int64_t ms = -1;
    CHECK(delta_parse_interval_ms("168h", &ms, NULL) == ST_OK && ms == 168LL * 3600000);
    CHECK(delta_parse_interval_ms("7d", &ms, NULL) == ST_OK && ms == 7LL * 86400000);
    CHECK(delta_parse_interval_ms("interval 1 week", &ms, NULL) == ST_OK && ms == 7LL * 86400000);
    CHECK(delta_parse_interval_ms("interval 30 days", &ms, NULL) == ST_OK && ms == 30LL * 86400000);
    CHECK(delta_parse_interval_ms("  2 HOURS ", &ms, NULL) == ST_OK && ms == 7200000);
    CHECK(delta_parse_interval_ms("90", &ms, NULL) == ST_OK && ms == 90000);
    CHECK(delta_parse_interval_ms("500ms", &ms, NULL) == ST_OK && ms == 500);
    CHECK(delta_parse_interval_ms("0s", &ms, NULL) == ST_OK && ms == 0);
    st_err e;
    CHECK(delta_parse_interval_ms("a week", &ms, &e) == ST_ERR_ARG && strstr(e.msg, "a week"));
    CHECK(delta_parse_interval_ms("-1h", &ms, NULL) == ST_ERR_ARG);
    CHECK(delta_parse_interval_ms("1 fortnight", &ms, NULL) == ST_ERR_ARG);
    CHECK(delta_parse_interval_ms("", &ms, NULL) == ST_ERR_ARG);
}

/* Checks the stats of every active file against its rows' ids (min/max/numRecords). */
static void check_stats(const char *path)
{
    st_err e;
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    if (!s) return;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        const delta_file *f = delta_snapshot_file(s, i);
        char *full = delta_file_local_path(path, f);
        pq_reader *r = open_r(full, &e);
        free(full);
        if (!r) continue;
        int64_t lo = INT64_MAX, hi = INT64_MIN, nnull_name = 0;
        for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
            pq_column_data cd;
            if (pq_reader_read_column(r, g, pq_reader_find_leaf(r, "id"), &cd, &e)) continue;
            for (size_t k = 0; k < cd.num_values; k++) {
                if (cd.values.i64[k] < lo) lo = cd.values.i64[k];
                if (cd.values.i64[k] > hi) hi = cd.values.i64[k];
            }
            pq_column_data_free(&cd);
            if (pq_reader_read_column(r, g, pq_reader_find_leaf(r, "name"), &cd, &e)) continue;
            nnull_name += (int64_t)(cd.num_levels - cd.num_values);
            pq_column_data_free(&cd);
        }
        json_t *st = json_loads(f->stats ? f->stats : "{}", 0, NULL);
        CHECK(json_integer_value(json_object_get(st, "numRecords")) == pq_reader_num_rows(r));
        CHECK(json_integer_value(json_object_get(json_object_get(st, "minValues"), "id")) == lo);
        CHECK(json_integer_value(json_object_get(json_object_get(st, "maxValues"), "id")) == hi);
        CHECK(json_integer_value(json_object_get(json_object_get(st, "nullCount"), "name")) == nnull_name);
        CHECK(f->num_records == pq_reader_num_rows(r));
        json_decref(st);
        pq_reader_close(r);
    }
    delta_snapshot_destroy(s);
}

static void test_optimize_basic(void)
{
    delta_table *t = make_table("opt", 12, 40, 2);
    if (!t) return;
    char *p = tpath("opt");
    digest before = table_digest(p);
    CHECK(before.rows == 480);
    int64_t v0 = delta_table_version(t);
    CHECK(delta_snapshot_num_files(delta_table_snapshot(t)) == 24);

    delta_optimize_result r;
    st_err e;
    CHECK_MSG(delta_table_optimize(p, NULL, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.version == v0 + 1 && r.read_version == v0 && r.attempts == 1);
    CHECK(r.files_removed == 24 && r.files_added == 2 && r.partitions == 2 && r.rows == 480);
    CHECK(r.files_considered == 24);
    digest after = table_digest(p);
    CHECK(digest_eq(before, after));
    check_stats(p);

    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_version(s) == v0 + 1 && delta_snapshot_num_files(s) == 2);
    CHECK(s && delta_snapshot_total_records(s) == 480);
    for (size_t i = 0; s && i < delta_snapshot_num_files(s); i++) {
        const delta_file *f = delta_snapshot_file(s, i);
        const char *d = delta_file_partition_value(f, "event_date", NULL);
        CHECK(d && (!strcmp(d, "2026-05-27") || !strcmp(d, "2026-05-28")));
        CHECK(f->data_change == 0);
    }
    delta_snapshot_destroy(s);

    /* one version of dataChange=false adds and removes, operation OPTIMIZE */
    delta_version_changes *ch = NULL;
    size_t nch = 0;
    st_store *ps = NULL;
    CHECK(st_store_open(p, &ps, &e) == ST_OK);
    CHECK(delta_changes_read(ps, v0 + 1, v0 + 1, &ch, &nch, &e) == ST_OK && nch == 1);
    st_store_close(ps);
    if (nch == 1) {
        CHECK_STR(ch[0].operation, "OPTIMIZE");
        CHECK(ch[0].added.count == 2 && ch[0].removed.count == 24);
        for (size_t i = 0; i < ch[0].added.count; i++) CHECK(!ch[0].added.items[i].data_change);
        for (size_t i = 0; i < ch[0].removed.count; i++) CHECK(!ch[0].removed.items[i].data_change);
        for (size_t i = 0; i < ch[0].removed.count; i++) CHECK(ch[0].removed.items[i].modification_time > 0);
    }
    delta_changes_free(ch, nch);
    /* commitInfo carries Spark's metric names */
    st_buf txt = {0};
    char log[600];
    snprintf(log, sizeof log, "%s/_delta_log/%020lld.json", p, (long long)(v0 + 1));
    CHECK(st_read_file(log, &txt, &e) == ST_OK);
    CHECK(strstr(st_buf_cstr(&txt), "\"numRemovedFiles\":\"24\"") != NULL);
    CHECK(strstr(st_buf_cstr(&txt), "\"numAddedFiles\":\"2\"") != NULL);
    CHECK(strstr(st_buf_cstr(&txt), "\"predicate\":\"[]\"") != NULL);
    st_buf_free(&txt);

    /* nothing left to do: no commit */
    CHECK(delta_table_optimize(p, NULL, &r, &e) == ST_OK && r.version == -1);
    CHECK(count_parquet(p) == 26);

    /* more small commits; only one partition selected */
    append(t, 10000, 10, 2);
    append(t, 10010, 10, 2);
    digest b2 = table_digest(p);
    delta_optimize_options o;
    delta_optimize_options_init(&o);
    delta_partition_value w = {"event_date", "2026-05-27"};
    o.where = &w;
    o.nwhere = 1;
    CHECK_MSG(delta_table_optimize(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    /* 1 big-ish + 2 small files in that partition: all below 128 MiB, merged into one */
    CHECK(r.version >= 0 && r.files_removed == 3 && r.files_added == 1 && r.partitions == 1);
    CHECK(digest_eq(b2, table_digest(p)));
    /* a filter on a non-partition column is refused */
    delta_partition_value bad = {"name", "x"};
    o.where = &bad;
    CHECK(delta_table_optimize(p, &o, &r, &e) == ST_ERR_ARG && strstr(e.msg, "name"));
    /* min_files: the other partition has 3 small files, 4 are required */
    delta_optimize_options_init(&o);
    o.min_files = 4;
    CHECK(delta_table_optimize(p, &o, &r, &e) == ST_OK && r.version == -1);
    /* target size smaller than every file: nothing qualifies */
    delta_optimize_options_init(&o);
    o.target_size = 100;
    CHECK(delta_table_optimize(p, &o, &r, &e) == ST_OK && r.version == -1);
    free(p);
    delta_table_destroy(t);
}

/* Target size bins: 20 files of about equal size into bins of ~5 files. */
static void test_optimize_bins(void)
{
    delta_table *t = make_table("bins", 20, 30, 1);
    if (!t) return;
    char *p = tpath("bins");
    const delta_snapshot *s = delta_table_snapshot(t);
    int64_t maxsz = 0;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++)
        if (delta_snapshot_file(s, i)->size > maxsz) maxsz = delta_snapshot_file(s, i)->size;
    digest before = table_digest(p);
    delta_optimize_options o;
    delta_optimize_options_init(&o);
    o.target_size = maxsz * 5;
    delta_optimize_result r;
    st_err e;
    CHECK_MSG(delta_table_optimize(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(r.files_removed == 20 && r.files_added >= 4 && r.files_added <= 5, "%lld -> %lld",
              (long long)r.files_removed, (long long)r.files_added);
    CHECK(r.bins == r.files_added);
    CHECK(digest_eq(before, table_digest(p)));
    check_stats(p);
    free(p);
    delta_table_destroy(t);
}

#ifdef SMARTTECH_TEST_HOOKS
/* before_commit hooks simulating a concurrent writer */
typedef struct hook {
    const char *path;
    int calls;
    int mode;          /* 0 append, 1 remove one active file (every call) */
} hook;

static void concurrent(void *arg)
{
    hook *h = arg;
    h->calls++;
    st_err e;
    delta_table *t = delta_table_open(h->path, NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (!t) return;
    if (h->mode == 0) {
        append(t, 50000 + h->calls * 100, 7, 1);
    } else {
        const delta_snapshot *s = delta_table_snapshot(t);
        /* remove the oldest small file (one of the optimize inputs) */
        const delta_file *victim = NULL;
        for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
            const delta_file *f = delta_snapshot_file(s, i);
            if (!victim || f->modification_time < victim->modification_time ||
                (f->modification_time == victim->modification_time && strcmp(f->path, victim->path) < 0))
                victim = f;
        }
        delta_commit_params cp = {NULL, 0, NULL, 0, "DELETE", NULL, NULL};
        CHECK_MSG(delta_table_commit_with_removes(t, &cp, victim, 1, 0, NULL, &e) == ST_OK, "%s", e.msg);
    }
    delta_table_destroy(t);
}

static void test_optimize_concurrent(void)
{
    /* appends commute: same plan, committed one version later, nothing lost */
    delta_table *t = make_table("conc", 6, 20, 1);
    if (!t) return;
    char *p = tpath("conc");
    int64_t v0 = delta_table_version(t);
    digest before = table_digest(p);
    hook h = {p, 0, 0};
    delta_optimize_options o;
    delta_optimize_options_init(&o);
    o.before_commit = concurrent;
    o.before_commit_arg = &h;
    delta_optimize_result r;
    st_err e;
    CHECK_MSG(delta_table_optimize(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.attempts == 1 && r.version == v0 + 2 && r.read_version == v0);
    CHECK(r.files_removed == 6 && r.files_added == 1);
    digest after = table_digest(p);
    CHECK(after.rows == before.rows + 7);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_num_files(s) == 2); /* compacted + the concurrent append */
    delta_snapshot_destroy(s);
    delta_table_destroy(t);
    free(p);

    /* a concurrent remove of an input before every attempt: give up cleanly */
    t = make_table("conc2", 6, 20, 1);
    if (!t) return;
    p = tpath("conc2");
    digest b2 = table_digest(p);
    int parquet_before = count_parquet(p);
    hook h2 = {p, 0, 1};
    delta_optimize_options_init(&o);
    o.before_commit = concurrent;
    o.before_commit_arg = &h2;
    o.max_attempts = 1;
    CHECK(delta_table_optimize(p, &o, &r, &e) == ST_ERR_CONFLICT);
    CHECK_MSG(strstr(e.msg, "gave up") && strstr(e.msg, "not active"), "%s", e.msg);
    /* our written files were deleted: only the inputs remain (one of them now a tombstone) */
    CHECK(count_parquet(p) == parquet_before);
    digest b3 = table_digest(p);
    CHECK(b3.rows == b2.rows - 20);
    /* two attempts, an input removed before each: both conflict, then a quiet run succeeds */
    hook h3 = {p, 0, 1};
    o.before_commit = concurrent;
    o.before_commit_arg = &h3;
    o.max_attempts = 2;
    st_code rc = delta_table_optimize(p, &o, &r, &e);
    /* the hook removes a file before every attempt, so both attempts conflict */
    CHECK(rc == ST_ERR_CONFLICT && h3.calls == 2);
    o.before_commit = NULL;
    CHECK_MSG(delta_table_optimize(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.files_removed == 3 && r.files_added == 1);
    digest b4 = table_digest(p);
    CHECK(b4.rows == b2.rows - 60);
    CHECK(count_parquet(p) == parquet_before + 1);
    delta_table_destroy(t);
    free(p);
}

/* A re-plan that succeeds: the hook removes an input only on its first call. */
static int once_calls;
static const char *once_path;
static void remove_once(void *arg)
{
    (void)arg;
    if (once_calls++ == 0) {
        hook h = {once_path, 0, 1};
        concurrent(&h);
    }
}

static void test_optimize_replan(void)
{
    delta_table *t = make_table("replan", 5, 20, 1);
    if (!t) return;
    char *p = tpath("replan");
    once_path = p;
    digest before = table_digest(p);
    delta_optimize_options o;
    delta_optimize_options_init(&o);
    o.before_commit = remove_once;
    delta_optimize_result r;
    st_err e;
    CHECK_MSG(delta_table_optimize(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.attempts == 2 && r.files_removed == 4 && r.files_added == 1 && r.rows == 80);
    CHECK(table_digest(p).rows == before.rows - 20);
    CHECK(count_parquet(p) == 6);
    delta_table_destroy(t);
    free(p);
}
#endif

static int has(const delta_vacuum_result *r, const char *rel)
{
    for (size_t i = 0; i < r->nfiles; i++)
        if (!strcmp(r->files[i], rel)) return 1;
    return 0;
}

static void test_vacuum(void)
{
    delta_table *t = make_table("vac", 4, 20, 2);
    if (!t) return;
    char *p = tpath("vac");
    st_err e;
    /* the inputs of the coming OPTIMIZE */
    delta_file_list inputs = {0};
    const delta_snapshot *s = delta_table_snapshot(t);
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) delta_file_list_append_copy(&inputs, delta_snapshot_file(s, i));
    delta_optimize_result orr;
    CHECK_MSG(delta_table_optimize(p, NULL, &orr, &e) == ST_OK && orr.files_removed == 8, "%s", e.msg);
    digest before = table_digest(p);

    /* orphans: an old one (a crashed writer) and a fresh one (a writer about to commit) */
    char *d1 = st_path_join(p, "event_date=2026-05-27");
    char *old_orphan = st_path_join(d1, "part-00000-orphan-old.c000.snappy.parquet");
    char *new_orphan = st_path_join(d1, "part-00000-orphan-new.c000.snappy.parquet");
    FILE *f = fopen(old_orphan, "w");
    if (f) fclose(f);
    f = fopen(new_orphan, "w");
    if (f) fclose(f);
    age(old_orphan, 3 * 3600);
    /* hidden things are never touched, however old */
    char *hidden = st_path_join(p, ".hidden.parquet");
    char *underdir = st_path_join(p, "_tmp_stuff");
    st_mkdirs(underdir, NULL);
    char *under = st_path_join(underdir, "x.parquet");
    f = fopen(hidden, "w");
    if (f) fclose(f);
    f = fopen(under, "w");
    if (f) fclose(f);
    age(hidden, 30 * 86400);
    age(under, 30 * 86400);

    delta_vacuum_options o;
    delta_vacuum_result r;
    /* retention below one hour refused without force, with the reason */
    delta_vacuum_options_init(&o);
    o.retention_ms = 0;
    CHECK(delta_table_vacuum(p, &o, &r, &e) == ST_ERR_ARG && strstr(e.msg, "not yet committed"));
    delta_vacuum_result_free(&r);

    /* default retention (7 days): everything unreferenced is younger */
    delta_vacuum_options_init(&o);
    o.dry_run = 1;
    CHECK_MSG(delta_table_vacuum(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.nfiles == 0 && r.retention_ms == 7LL * 86400000 && r.files_kept_recent == 10);
    delta_vacuum_result_free(&r);

    /* retention 1h: the old orphan goes; tombstones are fresh (removed just now) */
    o.retention_ms = 3600000;
    CHECK_MSG(delta_table_vacuum(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.nfiles == 1 && has(&r, "event_date=2026-05-27/part-00000-orphan-old.c000.snappy.parquet"));
    delta_vacuum_result_free(&r);

#ifdef SMARTTECH_TEST_HOOKS
    /* two hours later (tests pass the clock): every tombstone expired too. The other
     * orphan was written 30 minutes before that clock, so it stays. Dry run first. */
    age(new_orphan, -90 * 60);
    o.now_ms = (int64_t)time(NULL) * 1000 + 2 * 3600000LL;
    CHECK_MSG(delta_table_vacuum(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(r.nfiles == 9, "%zu", r.nfiles);
    for (size_t i = 0; i < inputs.count; i++) {
        char *rel = strdup(inputs.items[i].path); /* our writer's paths need no decoding */
        CHECK_MSG(has(&r, rel), "%s", rel);
        free(rel);
    }
    CHECK(!has(&r, "event_date=2026-05-27/part-00000-orphan-new.c000.snappy.parquet"));
    for (size_t i = 1; i < r.nfiles; i++) CHECK(strcmp(r.files[i - 1], r.files[i]) < 0);
    int64_t listed_bytes = r.bytes;
    delta_vacuum_result_free(&r);
    CHECK(count_parquet(p) == 8 + 2 + 2 + 2); /* inputs + outputs + orphans + the two hidden ones */

    /* a writer killed while writing a data file: its half-written file is never listed,
     * and goes with the retention like an orphan */
    pid_t pid = fork();
    if (pid == 0) {
        st_sink *k;
        if (st_store_open_sink(delta_table_store(t), "event_date=2026-05-27/part-00000-killed.c000.snappy.parquet",
                               ST_SINK_REPLACE, &k, &e))
            _exit(1);
        _exit(st_sink_write(k, "PAR1", 4, &e) ? 1 : 0); /* no close: as kill -9 */
    }
    int wst = 0;
    waitpid(pid, &wst, 0);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    CHECK(count_parquet(p) == 8 + 2 + 2 + 2 + 1);

    o.dry_run = 0;
    CHECK_MSG(delta_table_vacuum(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.nfiles == 9 && r.bytes == listed_bytes && r.abandoned_writes == 1);
    delta_vacuum_result_free(&r);
    CHECK(count_parquet(p) == 2 + 1 + 2);
    CHECK(st_path_exists(hidden) && st_path_exists(under) && st_path_exists(new_orphan));
    CHECK(digest_eq(before, table_digest(p)));
    /* the log is intact: the old version still loads (its files are gone) */
    delta_snapshot *old = delta_snapshot_load(p, 4, &e);
    CHECK(old != NULL && delta_snapshot_num_files(old) == 8);
    delta_snapshot_destroy(old);
    /* idempotent */
    CHECK(delta_table_vacuum(p, &o, &r, &e) == ST_OK && r.nfiles == 0 && r.abandoned_writes == 0);
    delta_vacuum_result_free(&r);
#else
    (void)before;
    CHECK_SKIP_NO_HOOKS("vacuum with an injected clock");
#endif

    delta_file_list_free(&inputs);
    free(d1);
    free(old_orphan);
    free(new_orphan);
    free(hidden);
    free(under);
    free(underdir);
    free(p);
    delta_table_destroy(t);
}

static void test_vacuum_log(void)
{
    delta_table *t = make_table("vlog", 23, 5, 1); /* checkpoints at 10 and 20 */
    if (!t) return;
    char *p = tpath("vlog");
    char f[600];
    for (int v = 0; v <= 23; v++) {
        snprintf(f, sizeof f, "%s/_delta_log/%020d.json", p, v);
        age(f, 40LL * 86400);
    }
    snprintf(f, sizeof f, "%s/_delta_log/%020d.checkpoint.parquet", p, 10);
    age(f, 40LL * 86400);
    snprintf(f, sizeof f, "%s/_delta_log/%020d.checkpoint.parquet", p, 20); /* fresh: not usable as the start */
    delta_vacuum_options o;
    delta_vacuum_options_init(&o);
    o.clean_log = 1;
    o.dry_run = 1;
    delta_vacuum_result r;
    st_err e;
    CHECK_MSG(delta_table_vacuum(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(r.nlog_files == 10 && r.nfiles == 0, "%zu", r.nlog_files);
    CHECK(r.nlog_files && !strcmp(r.log_files[0], "00000000000000000000.json"));
    delta_vacuum_result_free(&r);
    o.dry_run = 0;
    CHECK_MSG(delta_table_vacuum(p, &o, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.nlog_files == 10);
    delta_vacuum_result_free(&r);
    snprintf(f, sizeof f, "%s/_delta_log/%020d.json", p, 9);
    CHECK(!st_path_exists(f));
    snprintf(f, sizeof f, "%s/_delta_log/%020d.json", p, 10);
    CHECK(st_path_exists(f));
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK_MSG(s && delta_snapshot_version(s) == 23 && delta_snapshot_total_records(s) == 115, "%s", e.msg);
    delta_snapshot_destroy(s);
    s = delta_snapshot_load(p, 12, &e);
    CHECK_MSG(s && delta_snapshot_total_records(s) == 60, "%s", e.msg);
    delta_snapshot_destroy(s);
    CHECK(delta_snapshot_load(p, 5, &e) == NULL);
    /* log retention of 50 days: nothing more is old enough */
    o.log_retention_ms = 50LL * 86400000;
    CHECK(delta_table_vacuum(p, &o, &r, &e) == ST_OK && r.nlog_files == 0);
    delta_vacuum_result_free(&r);
    free(p);
    delta_table_destroy(t);
}

/* The compacted file's stats equal the stats our writer gives the same rows written
 * at once (strings, nulls, sub-millisecond timestamps, doubles, dates). */
static void test_optimize_stats_like_writer(void)
{
    delta_table *many = make_table("st_many", 10, 37, 2);
    delta_table *once = make_table("st_once", 0, 0, 2);
    if (!many || !once) goto out;
    append(once, 0, 370, 2);
    char *pm = tpath("st_many"), *po = tpath("st_once");
    st_err e;
    delta_optimize_result r;
    CHECK_MSG(delta_table_optimize(pm, NULL, &r, &e) == ST_OK && r.files_added == 2, "%s", e.msg);
    delta_snapshot *a = delta_snapshot_load(pm, -1, &e), *b = delta_snapshot_load(po, -1, &e);
    CHECK(a && b && delta_snapshot_num_files(a) == 2 && delta_snapshot_num_files(b) == 2);
    for (size_t i = 0; a && b && i < 2; i++) {
        const delta_file *fa = delta_snapshot_file(a, i);
        const char *da = delta_file_partition_value(fa, "event_date", NULL);
        for (size_t j = 0; j < 2; j++) {
            const delta_file *fb = delta_snapshot_file(b, j);
            if (strcmp(da, delta_file_partition_value(fb, "event_date", NULL))) continue;
            json_t *ja = json_loads(fa->stats, 0, NULL), *jb = json_loads(fb->stats, 0, NULL);
            CHECK_MSG(json_equal(ja, jb), "%s\n vs %s", fa->stats, fb->stats);
            json_decref(ja);
            json_decref(jb);
        }
    }
    delta_snapshot_destroy(a);
    delta_snapshot_destroy(b);
    free(pm);
    free(po);
out:
    delta_table_destroy(many);
    delta_table_destroy(once);
}

/* Files another writer produced with other physical forms: INT32 for a long column,
 * FLOAT for a double, REQUIRED for a nullable column, a column missing (added to the
 * schema later). The rewrite widens, keeps nulls, and fills the missing column with nulls. */
static void test_optimize_foreign_types(void)
{
    delta_schema *sc = delta_schema_new();
    delta_schema_add(sc, "id", DELTA_TYPE_LONG, 0, NULL);
    delta_schema_add(sc, "v", DELTA_TYPE_DOUBLE, 1, NULL);
    delta_schema_add(sc, "n", DELTA_TYPE_INTEGER, 1, NULL);
    delta_schema_add(sc, "extra", DELTA_TYPE_STRING, 1, NULL);
    delta_schema_add(sc, "day", DELTA_TYPE_DATE, 0, NULL);
    const char *pc[] = {"day"};
    char *p = tpath("foreign");
    st_err e;
    delta_table *t = delta_table_create(p, sc, pc, 1, NULL, NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (!t) goto out;
    char *dir = st_path_join(p, "day=2026-05-27");
    st_mkdirs(dir, NULL);
    pq_schema_node nodes[3];
    memset(nodes, 0, sizeof nodes);
    nodes[0].name = "id"; nodes[0].repetition = PQ_REQUIRED; nodes[0].physical = PQ_INT32;
    nodes[1].name = "v"; nodes[1].repetition = PQ_REQUIRED; nodes[1].physical = PQ_FLOAT;
    nodes[2].name = "n"; nodes[2].repetition = PQ_OPTIONAL; nodes[2].physical = PQ_INT32;
    delta_file files[2];
    memset(files, 0, sizeof files);
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "foreign-%d.parquet", k);
        char *full = st_path_join(dir, name);
        int32_t ids[10], ns[10];
        float vs[10];
        int16_t defs[10];
        size_t nn = 0;
        for (int i = 0; i < 10; i++) {
            ids[i] = k * 10 + i - 5;
            vs[i] = (float)ids[i] * 0.25f;
            defs[i] = (int16_t)(i % 3 != 0);
            if (defs[i]) ns[nn++] = i * 100;
        }
        pq_column_batch cols[3];
        memset(cols, 0, sizeof cols);
        cols[0].num_levels = cols[0].num_values = 10;
        cols[0].values.i32 = ids;
        cols[1].num_levels = cols[1].num_values = 10;
        cols[1].values.f32 = vs;
        cols[2].num_levels = 10;
        cols[2].num_values = nn;
        cols[2].def_levels = defs;
        cols[2].values.i32 = ns;
        pq_writer_options wo;
        pq_writer_options_init(&wo);
        pq_writer *w = open_w(full, nodes, 3, &wo, &e);
        CHECK_MSG(w != NULL, "%s", e.msg);
        pq_file_info info;
        memset(&info, 0, sizeof info);
        if (w) {
            CHECK(pq_writer_write(w, 10, cols, &e) == ST_OK);
            CHECK(pq_writer_close(w, &info, &e) == ST_OK);
        }
        files[k].path = malloc(80);
        snprintf(files[k].path, 80, "day=2026-05-27/%s", name);
        files[k].size = info.file_size;
        files[k].modification_time = 1000 + k;
        files[k].data_change = 1;
        files[k].num_records = -1;
        files[k].num_partition_values = 1;
        files[k].partition_values = calloc(1, sizeof(delta_partition_value));
        files[k].partition_values[0].name = strdup("day");
        files[k].partition_values[0].value = strdup("2026-05-27");
        pq_file_info_free(&info);
        free(full);
    }
    delta_commit_params cp = {files, 2, NULL, 0, NULL, NULL, NULL};
    CHECK_MSG(delta_table_commit(t, &cp, NULL, &e) == ST_OK, "%s", e.msg);
    for (int k = 0; k < 2; k++) {
        free(files[k].path);
        free(files[k].partition_values[0].name);
        free(files[k].partition_values[0].value);
        free(files[k].partition_values);
    }
    delta_optimize_result r;
    CHECK_MSG(delta_table_optimize(p, NULL, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.files_removed == 2 && r.files_added == 1 && r.rows == 20);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    if (s && delta_snapshot_num_files(s) == 1) {
        const delta_file *f = delta_snapshot_file(s, 0);
        CHECK(f->num_records == 20);
        CHECK(strstr(f->stats, "\"id\":-5") && strstr(f->stats, "\"id\":14"));
        CHECK(strstr(f->stats, "\"extra\":20")); /* nullCount */
        char *full = delta_file_local_path(p, f);
        pq_reader *rd = open_r(full, &e);
        free(full);
        CHECK(rd != NULL);
        pq_column_data cd;
        if (rd && pq_reader_read_column(rd, 0, pq_reader_find_leaf(rd, "id"), &cd, &e) == ST_OK) {
            CHECK(cd.physical == PQ_INT64 && cd.num_values == 20);
            for (size_t j = 0; j < cd.num_values; j++) CHECK(cd.values.i64[j] == (int64_t)j - 5);
            pq_column_data_free(&cd);
        }
        if (rd && pq_reader_read_column(rd, 0, pq_reader_find_leaf(rd, "v"), &cd, &e) == ST_OK) {
            CHECK(cd.physical == PQ_DOUBLE && cd.num_values == 20 && cd.def_levels);
            for (size_t j = 0; j < cd.num_values; j++) CHECK(cd.values.f64[j] == ((double)j - 5) * 0.25);
            pq_column_data_free(&cd);
        }
        if (rd && pq_reader_read_column(rd, 0, pq_reader_find_leaf(rd, "n"), &cd, &e) == ST_OK) {
            CHECK(cd.num_levels == 20 && cd.num_values == 12);
            for (size_t j = 0; j < 20; j++) CHECK(cd.def_levels[j] == (j % 10 % 3 != 0));
            pq_column_data_free(&cd);
        }
        if (rd && pq_reader_read_column(rd, 0, pq_reader_find_leaf(rd, "extra"), &cd, &e) == ST_OK) {
            CHECK(cd.num_levels == 20 && cd.num_values == 0);
            pq_column_data_free(&cd);
        }
        pq_reader_close(rd);
    } else {
        CHECK(!"one file after optimize");
    }
    delta_snapshot_destroy(s);
    free(dir);
out:
    delta_table_destroy(t);
    delta_schema_destroy(sc);
    free(p);
}

/* String partitions with odd characters and the null partition keep their exact text. */
static void test_optimize_string_partitions(void)
{
    delta_schema *sc = delta_schema_new();
    delta_schema_add(sc, "id", DELTA_TYPE_LONG, 0, NULL);
    delta_schema_add(sc, "site", DELTA_TYPE_STRING, 1, NULL);
    const char *pc[] = {"site"};
    char *p = tpath("strpart");
    st_err e;
    delta_table *t = delta_table_create(p, sc, pc, 1, NULL, NULL, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    const char *sites[] = {"a b/c", "x=1%", "\xc3\xa9t\xc3\xa9", NULL};
    for (int c = 0; t && c < 8; c++) {
        delta_batch *b = delta_batch_new(sc);
        for (int i = 0; i < 8; i++) {
            delta_batch_append_long(b, 0, c * 8 + i);
            const char *s = sites[i % 4];
            if (s) delta_batch_append_string(b, 1, s, strlen(s));
            else delta_batch_append_null(b, 1);
        }
        delta_file_list adds = {0};
        CHECK(delta_table_write_files(t, b, &adds, &e) == ST_OK);
        delta_commit_params cp = {adds.items, adds.count, NULL, 0, NULL, NULL, NULL};
        CHECK(delta_table_commit(t, &cp, NULL, &e) == ST_OK);
        delta_file_list_free(&adds);
        delta_batch_destroy(b);
    }
    delta_optimize_result r;
    CHECK_MSG(delta_table_optimize(p, NULL, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.files_removed == 32 && r.files_added == 4 && r.rows == 64);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    int seen[4] = {0};
    for (size_t i = 0; s && i < delta_snapshot_num_files(s); i++) {
        const delta_file *f = delta_snapshot_file(s, i);
        const char *v = delta_file_partition_value(f, "site", NULL);
        for (int k = 0; k < 4; k++)
            if ((!v && !sites[k]) || (v && sites[k] && !strcmp(v, sites[k]))) seen[k]++;
        CHECK(f->num_records == 16);
        /* every row of the file has the partition's id pattern: read the ids back */
        char *full = delta_file_local_path(p, f);
        pq_reader *rd = open_r(full, &e);
        CHECK_MSG(rd != NULL, "%s", e.msg);
        pq_column_data cd;
        if (rd && pq_reader_read_column(rd, 0, pq_reader_find_leaf(rd, "id"), &cd, &e) == ST_OK) {
            int k = 0;
            while (k < 4 && !((!v && !sites[k]) || (v && sites[k] && !strcmp(v, sites[k])))) k++;
            for (size_t j = 0; j < cd.num_values; j++) CHECK(cd.values.i64[j] % 4 == k);
            /* insertion order kept */
            for (size_t j = 1; j < cd.num_values; j++) CHECK(cd.values.i64[j] > cd.values.i64[j - 1]);
            pq_column_data_free(&cd);
        }
        pq_reader_close(rd);
        free(full);
    }
    CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1);
    delta_snapshot_destroy(s);
    /* the null partition is addressable by the filter (NULL value) */
    delta_table_destroy(t);
    delta_schema_destroy(sc);
    free(p);
}


/* ------------------------------------------------------------------ the maintainer (delta_maintain.c) */

/* Number of entries of _delta_log whose name matches a commit or checkpoint. */
static int count_log(const char *table, const char *suffix)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s/_delta_log' | grep -c '%s$'", table, suffix);
    FILE *pp = popen(cmd, "r");
    int n = -1;
    if (pp) {
        if (fscanf(pp, "%d", &n) != 1) n = -1;
        pclose(pp);
    }
    return n;
}

/* Sleeps ms milliseconds (mtimes and commit times are the real clock's). */
static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A writer handle as a job opens it beside a maintainer. */
static delta_table *writer_handle(const char *p)
{
    delta_table_options o;
    delta_maintain_writer_options(&o);
    st_err e;
    delta_table *t = delta_table_open(p, &o, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    return t;
}

/* A new empty table `name` (ndays event dates) and a writer handle on it; *path (malloc'd) is its
 * folder. NULL when the table could not be made. */
static delta_table *new_writer(const char *name, int ndays, char **path)
{
    delta_table *t0 = make_table(name, 0, 0, ndays);
    if (!t0) return NULL;
    delta_table_destroy(t0);
    *path = tpath(name);
    return writer_handle(*path);
}

static void test_maintain_options(void)
{
    delta_maintain_options o;
    delta_maintain_options_init(&o);
    st_err e;
    CHECK(delta_maintain_options_check(&o, &e) == ST_OK);
    CHECK(o.target_file_size == 128LL << 20 && o.compact_min_files == 32 && o.compact_after_ms == 600000);
    o.deleted_file_retention_ms = 3600000; /* 1 hour: under 7 days */
    CHECK(delta_maintain_options_check(&o, &e) == ST_ERR_ARG && strstr(e.msg, "--deleted-file-retention") &&
          strstr(e.msg, "--allow-short-retention"));
    o.deleted_file_retention_ms = 8LL * 86400000;
    o.log_retention_ms = 1000;
    CHECK(delta_maintain_options_check(&o, &e) == ST_ERR_ARG && strstr(e.msg, "--log-retention"));
    o.allow_short_retention = 1;
    CHECK(delta_maintain_options_check(&o, &e) == ST_OK);
    o.compact_min_files = 1;
    CHECK(delta_maintain_options_check(&o, &e) == ST_ERR_ARG);
    delta_maintainer *m = NULL;
    CHECK(delta_maintainer_new("/nonexistent", &o, &m, &e) == ST_ERR_ARG && m == NULL);
    /* a table that does not exist yet: nothing done, not an error */
    delta_maintain_options_init(&o);
    char *p = tpath("not_yet");
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    delta_maintain_report r;
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK && r.version == -1, "%s", e.msg);
    delta_maintainer_destroy(m);
    free(p);
}

/* Tiered compaction: every row kept, one dataChange=false OPTIMIZE per pass, rows rewritten a
 * logarithmic number of times (not once per pass), and with the age trigger at the end a
 * partition holds one file. */
static void test_maintain_compaction(void)
{
    char *p;
    delta_table *t = new_writer("mc", 1, &p);
    if (!t) return;
    delta_maintain_options o;
    delta_maintain_options_init(&o);
    o.compact_min_files = 8;
    o.checkpoint = o.clean_log = o.vacuum = 0;
    delta_maintainer *m = NULL;
    st_err e;
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    int64_t appended = 0, rewritten = 0, passes_compacting = 0;
    int max_files = 0;
    for (int c = 0; c < 400; c++) {
        append(t, (int64_t)c * 7, 7, 1);
        delta_maintain_report r;
        CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
        if (r.compaction.version >= 0) {
            passes_compacting++;
            rewritten += r.compaction.bytes_removed;
            CHECK(r.compaction.files_removed >= 2 && r.compaction.files_added == 1);
        }
        if (r.active_files > max_files) max_files = (int)r.active_files;
    }
    /* the OPTIMIZE commits: dataChange=false adds and removes, operation OPTIMIZE */
    delta_version_changes *ch = NULL;
    size_t n = 0;
    CHECK(delta_changes_read(delta_table_store(t), 1, -1, &ch, &n, &e) == ST_OK);
    int optimizes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ch[i].operation || strcmp(ch[i].operation, "OPTIMIZE")) {
            for (size_t k = 0; k < ch[i].added.count; k++) appended += ch[i].added.items[k].size;
            continue;
        }
        optimizes++;
        for (size_t k = 0; k < ch[i].added.count; k++) CHECK(!ch[i].added.items[k].data_change);
        for (size_t k = 0; k < ch[i].removed.count; k++) CHECK(!ch[i].removed.items[k].data_change);
    }
    CHECK(optimizes == passes_compacting);
    delta_changes_free(ch, n);
    fprintf(stderr, "tiered compaction: %lld passes compacted, %.1fx the appended bytes rewritten, %d files at most\n",
            (long long)passes_compacting, (double)rewritten / (double)appended, max_files);
    CHECK(passes_compacting >= 400 / 8 - 1);
    /* whole-partition packing would rewrite the growing file on every pass: ~25x the data here */
    CHECK_MSG(rewritten < 8 * appended, "rewritten %lld bytes for %lld appended", (long long)rewritten,
              (long long)appended);
    CHECK_MSG(max_files < 8 + 12, "max %d active files", max_files);
    CHECK(delta_snapshot_total_records(delta_table_snapshot(t)) == -1 ||
          delta_snapshot_total_records(delta_table_snapshot(t)) >= 0); /* the writer's view may lag */
    /* age trigger: a second later, whatever is small and older is packed whole */
    delta_maintainer_destroy(m);
    o.compact_after_ms = 1000;
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    delta_maintain_report r;
    CHECK_MSG(delta_maintainer_run(m, ((int64_t)time(NULL) * 1000) + 5000, &r, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(r.active_files == 1, "%lld files", (long long)r.active_files);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_total_records(s) == 400 * 7);
    delta_snapshot_destroy(s);
    /* nothing left to do: no commit */
    CHECK(delta_maintainer_run(m, ((int64_t)time(NULL) * 1000) + 5000, &r, &e) == ST_OK && r.compaction.version == -1);
    delta_maintainer_destroy(m);
    delta_table_destroy(t);
    free(p);
}

/* One tiny file (a batch of one row) does not stop the tiered rule: the bigger small files after
 * it are still merged (the soak saw one tiny file keep 600 files of a partition unmerged). */
static void test_maintain_compaction_tiny_first(void)
{
    char *p;
    delta_table *t = new_writer("mct", 1, &p);
    if (!t) return;
    append(t, 0, 1, 1);
    for (int c = 0; c < 40; c++) append(t, 1 + (int64_t)c * 500, 500, 1);
    delta_maintain_options o;
    delta_maintain_options_init(&o);
    o.compact_min_files = 8;
    o.checkpoint = o.clean_log = o.vacuum = 0;
    delta_maintainer *m = NULL;
    st_err e;
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    int64_t files = 41;
    for (int pass = 0; pass < 20; pass++) {
        delta_maintain_report r;
        CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
        files = r.active_files;
    }
    /* left: files each more than twice all smaller ones together, fewer than compact_min_files */
    CHECK_MSG(files < 8, "%lld active files after 20 passes", (long long)files);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_total_records(s) == 1 + 40 * 500);
    delta_snapshot_destroy(s);
    delta_maintainer_destroy(m);
    delta_table_destroy(t);
    free(p);
}

/* The soak's findings on a busy partition: files of half the target or more are done (they
 * neither count toward compact_min_files nor join bins), and a tier file left out by the rule,
 * old by design, does not make every pass compact the newest files through the age trigger. */
static int64_t largest_file(const delta_table *t)
{
    const delta_snapshot *s = delta_table_snapshot(t);
    int64_t m = 0;
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++)
        if (delta_snapshot_file(s, i)->size > m) m = delta_snapshot_file(s, i)->size;
    return m;
}

static void test_maintain_compaction_busy_partition(void)
{
    char *p;
    delta_table *t = new_writer("mcb", 1, &p);
    if (!t) return;
    for (int c = 0; c < 10; c++) append(t, (int64_t)c * 4000, 4000, 1);
    delta_maintain_options o;
    delta_maintain_options_init(&o);
    o.target_file_size = largest_file(t) * 3 / 2; /* the 10 files: between half the target and the target */
    o.compact_min_files = 8;
    o.checkpoint = o.clean_log = o.vacuum = 0;
    delta_maintainer *m = NULL;
    st_err e;
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    delta_maintain_report r;
    for (int pass = 0; pass < 5; pass++) {
        append(t, 100000 + pass * 10, 5, 1);
        CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
        CHECK_MSG(r.compaction.version == -1, "pass %d compacted %lld files", pass,
                  (long long)r.compaction.files_removed);
    }
    for (int k = 0; k < 3; k++) append(t, 200000 + k * 10, 5, 1); /* 8 small files now */
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(r.compaction.version >= 0 && r.compaction.files_removed == 8, "%lld files",
              (long long)r.compaction.files_removed);
    delta_maintainer_destroy(m);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_total_records(s) == 10 * 4000 + 8 * 5);
    delta_snapshot_destroy(s);
    delta_table_destroy(t);
    free(p);

    /* the age trigger (a table of its own): a left-out tier file older than compact_after, 2 fresh
     * files */
    t = new_writer("mca", 1, &p);
    if (!t) return;
    o.compact_after_ms = 1000;
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    append(t, 300000, 1500, 1); /* a tier file: more than twice the small files after it */
    usleep(1200 * 1000);
    append(t, 310000, 5, 1);
    append(t, 310010, 5, 1);
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(r.compaction.version == -1, "compacted %lld fresh files", (long long)r.compaction.files_removed);
    /* once they are that old too, the partition is quiet: packed whole */
    usleep(1200 * 1000);
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(r.compaction.version >= 0 && r.compaction.files_removed == 3, "%lld files",
              (long long)r.compaction.files_removed);
    s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_total_records(s) == 1500 + 2 * 5);
    delta_snapshot_destroy(s);
    delta_maintainer_destroy(m);
    delta_table_destroy(t);
    free(p);
}

/* Writes version 0 of a table with a configuration by hand (our create takes none). */
static void create_with_config(const char *p, const char *config_json)
{
    delta_schema *sc = test_schema();
    char *schema = delta_schema_to_json(sc);
    delta_schema_destroy(sc);
    json_t *md = json_pack("{s:{s:s, s:{s:s, s:{}}, s:s, s:[s], s:o, s:I}}", "metaData", "id", "0f0e0d0c-0000-4000-8000-000000000001",
                           "format", "provider", "parquet", "options", "schemaString", schema, "partitionColumns",
                           "event_date", "configuration", json_loads(config_json, 0, NULL), "createdTime",
                           (json_int_t)1795600000000LL);
    char *mdt = json_dumps(md, JSON_COMPACT);
    char text[8192];
    snprintf(text, sizeof text,
             "{\"commitInfo\":{\"timestamp\":1795600000000,\"operation\":\"CREATE TABLE\"}}\n"
             "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n%s\n",
             mdt);
    char *dir = st_path_join(p, "_delta_log");
    st_mkdirs(dir, NULL);
    char *f = st_path_join(dir, "00000000000000000000.json");
    CHECK(st_write_file_exclusive(f, text, strlen(text), NULL) == ST_OK);
    free(f);
    free(dir);
    free(mdt);
    json_decref(md);
    free(schema);
}

/* Checkpoints: the writer handle writes none, the maintainer one every delta.checkpointInterval
 * versions (default 10) with a complete _last_checkpoint. */
static void test_maintain_checkpoint(void)
{
    char *p;
    delta_table *t = new_writer("mk", 2, &p);
    if (!t) return;
    for (int c = 0; c < 25; c++) append(t, c * 3, 3, 2);
    CHECK(count_log(p, "checkpoint.parquet") == 0);
    delta_maintain_options o;
    delta_maintain_options_init(&o);
    o.compact = o.clean_log = o.vacuum = 0;
    delta_maintainer *m = NULL;
    st_err e;
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    delta_maintain_report r;
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK && r.checkpoint_version == 25, "%s", e.msg);
    char *lc = st_path_join(p, "_delta_log/_last_checkpoint");
    st_buf b = {0};
    CHECK(st_read_file(lc, &b, &e) == ST_OK);
    json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
    CHECK(json_integer_value(json_object_get(j, "version")) == 25);
    CHECK(json_integer_value(json_object_get(j, "numOfAddFiles")) == 50);
    CHECK(json_integer_value(json_object_get(j, "size")) == 52); /* protocol, metaData, 50 adds */
    CHECK(json_integer_value(json_object_get(j, "sizeInBytes")) > 0);
    json_decref(j);
    st_buf_free(&b);
    CHECK(delta_maintainer_run(m, 0, &r, &e) == ST_OK && r.checkpoint_version == -1);
    for (int c = 0; c < 9; c++) append(t, 100 + c, 1, 1);
    CHECK(delta_maintainer_run(m, 0, &r, &e) == ST_OK && r.checkpoint_version == -1);
    append(t, 200, 1, 1);
    CHECK(delta_maintainer_run(m, 0, &r, &e) == ST_OK && r.checkpoint_version == 35);
    delta_maintainer_destroy(m);
    delta_table_destroy(t);
    free(lc);
    free(p);

    /* the table's own interval */
    p = tpath("mk3");
    create_with_config(p, "{\"delta.checkpointInterval\":\"3\"}");
    t = writer_handle(p);
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    int cps = 0;
    for (int c = 0; c < 9; c++) {
        append(t, c, 1, 1);
        CHECK(delta_maintainer_run(m, 0, &r, &e) == ST_OK);
        if (r.checkpoint_version >= 0) {
            cps++;
            CHECK(r.checkpoint_version % 3 == 0);
        }
    }
    CHECK(cps == 3 && count_log(p, "checkpoint.parquet") == 3);
    delta_maintainer_destroy(m);
    delta_table_destroy(t);
    free(p);
}

/* Tombstones: a writer handle forgets removes at once; a maintainer's checkpoints keep them for
 * the deleted-file retention and then let them go. */
static void test_maintain_tombstones(void)
{
    char *p;
    delta_table *t = new_writer("mt", 1, &p);
    if (!t) return;
    for (int c = 0; c < 6; c++) append(t, c * 4, 4, 1);
    st_err e;
    CHECK(delta_table_optimize(p, NULL, NULL, &e) == ST_OK);
    append(t, 100, 4, 1); /* catches up with the OPTIMIZE */
    CHECK(delta_snapshot_num_tombstones(delta_table_snapshot(t)) == 0);
    CHECK(delta_snapshot_num_files(delta_table_snapshot(t)) == 2);
    CHECK(delta_table_checkpoint(t, &e) == ST_ERR_STATE);
    delta_maintain_options o;
    delta_maintain_options_init(&o);
    o.compact = o.clean_log = o.vacuum = 0;
    delta_maintainer *m = NULL;
    delta_maintain_report r;
    /* default retention: the checkpoint holds the 6 removes */
    for (int c = 0; c < 3; c++) append(t, 200 + c, 1, 1);
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.checkpoint_version == 11); /* create, 6 appends, OPTIMIZE, 1 + 3 appends */
    delta_maintainer_destroy(m);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_checkpoint_version(s) == 11 && delta_snapshot_num_tombstones(s) == 6);
    delta_snapshot_destroy(s);
    /* a retention of 1 ms: the next checkpoint drops them */
    o.deleted_file_retention_ms = 1;
    o.allow_short_retention = 1;
    for (int c = 0; c < 10; c++) append(t, 300 + c, 1, 1);
    nap_ms(5);
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(r.checkpoint_version == 21);
    delta_maintainer_destroy(m);
    s = delta_snapshot_load(p, -1, &e);
    CHECK(s && delta_snapshot_checkpoint_version(s) == 21 && delta_snapshot_num_tombstones(s) == 0);
    CHECK(s && delta_snapshot_total_records(s) == 24 + 4 + 3 + 10);
    delta_snapshot_destroy(s);
    delta_table_destroy(t);
    free(p);
}

/* A stream of tiny commits with retentions of milliseconds: the log and the folder stay
 * small, every row is there, every file the latest version references exists, and versions
 * from the oldest kept checkpoint on still load. */
static void test_maintain_bounded(void)
{
    char *p;
    delta_table *t = new_writer("mb", 2, &p);
    if (!t) return;
    delta_maintain_options o;
    delta_maintain_options_init(&o);
    o.compact_min_files = 4;
    o.compact_after_ms = 1;
    o.log_retention_ms = 1;
    o.deleted_file_retention_ms = 1;
    o.allow_short_retention = 1;
    o.vacuum_interval_ms = 1;
    delta_maintainer *m = NULL;
    st_err e;
    CHECK(delta_maintainer_new(p, &o, &m, &e) == ST_OK);
    int64_t deleted_log = 0, vacuumed = 0;
    for (int c = 0; c < 300; c++) {
        append(t, (int64_t)c * 3, 3, 2);
        if (c % 3 == 2) {
            nap_ms(2);
            delta_maintain_report r;
            CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
            deleted_log += (int64_t)r.log_files_deleted;
            vacuumed += (int64_t)r.files_vacuumed;
        }
    }
    nap_ms(5);
    delta_maintain_report r;
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
    nap_ms(5);
    CHECK_MSG(delta_maintainer_run(m, 0, &r, &e) == ST_OK, "%s", e.msg);
    CHECK(deleted_log > 300 && vacuumed > 200);
    int commits = count_log(p, "[0-9].json"), cps = count_log(p, "checkpoint.parquet");
    CHECK_MSG(commits <= 25 && cps <= 3, "%d commits, %d checkpoints left", commits, cps);
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    if (s) {
        CHECK(delta_snapshot_total_records(s) == 900);
        CHECK_MSG(delta_snapshot_num_files(s) <= 2 + 2, "%zu files", delta_snapshot_num_files(s));
        for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
            char *f = delta_file_local_path(p, delta_snapshot_file(s, i));
            CHECK_MSG(st_path_exists(f), "%s is missing", f);
            free(f);
        }
        CHECK(count_parquet(p) == (int)delta_snapshot_num_files(s));
        /* the oldest kept checkpoint and every version after it load */
        int64_t first = delta_snapshot_checkpoint_version(s);
        delta_snapshot *old = delta_snapshot_load(p, first, &e);
        CHECK_MSG(old != NULL, "version %lld: %s", (long long)first, e.msg);
        delta_snapshot_destroy(old);
    }
    delta_snapshot_destroy(s);
    delta_maintainer_destroy(m);
    delta_table_destroy(t);
    free(p);
}

/* A writer idle for longer than the log retention while another one committed: the commits after
 * its version are gone (cleaned below a newer checkpoint). Its next commit must land after the
 * latest version, not in the hole (put-if-absent would succeed there and readers, who start at
 * the checkpoint, would never see it); a refresh must reload it from the checkpoint. */
static void test_writer_behind_the_clean_up(void)
{
    delta_table *idle = make_table("hole", 2, 3, 1); /* versions 0..2 */
    if (!idle) return;
    char *p = tpath("hole");
    st_err e;
    delta_table *busy = delta_table_open(p, NULL, &e); /* checkpoints every 10 */
    CHECK_MSG(busy != NULL, "%s", e.msg);
    for (int c = 0; busy && c < 25; c++) append(busy, 100 + c * 3, 3, 1); /* versions 3..27 */
    nap_ms(5);
    delta_vacuum_options vo;
    delta_vacuum_options_init(&vo);
    vo.log_only = 1;
    vo.log_retention_ms = 1;
    vo.force = 1;
    delta_vacuum_result vr;
    CHECK_MSG(delta_table_vacuum(p, &vo, &vr, &e) == ST_OK && vr.nlog_files >= 20, "%s", e.msg);
    delta_vacuum_result_free(&vr);
    char f[600];
    snprintf(f, sizeof f, "%s/_delta_log/%020d.json", p, 3);
    CHECK(!st_path_exists(f));
    /* the idle writer commits: after version 27, not at 3 */
    int64_t v = append(idle, 1000, 4, 1);
    CHECK_MSG(v == 28, "committed at version %lld", (long long)v);
    CHECK(!st_path_exists(f));
    delta_snapshot *s = delta_snapshot_load(p, -1, &e);
    CHECK_MSG(s && delta_snapshot_version(s) == 28 && delta_snapshot_total_records(s) == 6 + 75 + 4, "%s",
              s ? "" : e.msg);
    delta_snapshot_destroy(s);
    /* and a handle that only refreshes is reloaded too */
    delta_table *reader = delta_table_open(p, NULL, &e);
    for (int c = 0; busy && c < 25; c++) append(busy, 2000 + c * 3, 3, 1); /* 29..53 */
    nap_ms(5);
    CHECK(delta_table_vacuum(p, &vo, &vr, &e) == ST_OK);
    delta_vacuum_result_free(&vr);
    CHECK(reader && delta_table_refresh(reader, &e) == ST_OK);
    CHECK(reader && delta_table_version(reader) == 53 &&
          delta_snapshot_total_records(delta_table_snapshot(reader)) == 6 + 75 + 4 + 75);
    delta_table_destroy(reader);
    delta_table_destroy(busy);
    delta_table_destroy(idle);
    free(p);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/test_delta_maint.%ld", (long)getpid());
    st_remove_tree(root, NULL);
    st_mkdirs(root, NULL);
    test_interval();
    test_optimize_basic();
    test_optimize_bins();
    test_optimize_string_partitions();
    test_optimize_stats_like_writer();
    test_optimize_foreign_types();
#ifdef SMARTTECH_TEST_HOOKS
    test_optimize_concurrent();
    test_optimize_replan();
#else
    CHECK_SKIP_NO_HOOKS("optimize against a concurrent writer (before_commit)");
#endif
    test_vacuum();
    test_vacuum_log();
    test_maintain_options();
    test_maintain_compaction();
    test_maintain_compaction_tiny_first();
    test_maintain_compaction_busy_partition();
    test_maintain_checkpoint();
    test_maintain_tombstones();
    test_maintain_bounded();
    test_writer_behind_the_clean_up();
    if (!check_failures) st_remove_tree(root, NULL);
    return CHECK_DONE();
}
