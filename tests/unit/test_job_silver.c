/* Unit tests of the Silver job, fed by the in-memory record source into real Delta tables in a
 * temp dir (no broker): valid, invalid and duplicate records go to the right table; every table's
 * txn versions equal the next offsets; a failed commit leaves no visible change and is retried;
 * a re-delivered batch is skipped; a rebalance resumes from the tables; a transient problem is
 * waited out; a position out of range stops the job with its message. */
#include "check.h"
#include "job/silver_job.h"
#include "pipeline/tables.h"
#include "source/mem_source.h"
#include "table_rows.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOPIC "t"
#define GROUP "g"
/* 2026-01-05T10:00:00Z; Kafka timestamps are a second later (the future-timestamp rule) */
#define T0_US 1767607200000000LL

static char dir[] = "/tmp/st_job_silver_XXXXXX";
static char *bronze_p, *silver_p, *quar_p, *ck_p;

/* ------------------------------------------------------------------ records */

static int64_t add_json(mem_source *m, int32_t p, const char *json, int64_t ts_us)
{
    return mem_source_add(m, p, "k", 1, json, strlen(json), ts_us);
}

/* A valid reading with event_id id (seq n) at T0 + n s. */
static int64_t add_event(mem_source *m, int32_t p, const char *id, int n)
{
    char j[512];
    snprintf(j, sizeof j,
             "{\"schema_version\":1,\"event_id\":\"%s\",\"sensor_id\":\"s%d\",\"building_id\":\"b01\",\"floor\":1,"
             "\"room_id\":\"r01\",\"sensor_type\":\"temperature\",\"value\":21.5,\"unit\":\"C\","
             "\"event_time\":%" PRId64 ",\"seq\":%d}",
             id, p, (int64_t)((T0_US / 1000) + n * 1000LL), n);
    return add_json(m, p, j, T0_US + (n + 1) * 1000000LL);
}

/* ------------------------------------------------------------------ reading the tables */

typedef struct row {
    char s[2][128];       /* the first two requested columns as text ("<null>" when null) */
    int64_t i[2];         /* the next two as integers (-1 when null) */
} row;

typedef struct rows {
    row r[256];
    int n;
} rows;

static void take_row(void *ctx, const record_value *f)
{
    rows *out = ctx;
    if (out->n >= 256) return;
    row *r = &out->r[out->n++];
    for (int k = 0; k < 2; k++)
        snprintf(r->s[k], sizeof r->s[k], "%.*s", f[k].is_null ? 6 : (int)f[k].len, f[k].is_null ? "<null>" : f[k].str);
    for (int k = 0; k < 2; k++) r->i[k] = f[2 + k].is_null ? -1 : f[2 + k].i64;
}

/* Every row of the table at path: columns c0, c1 as strings, c2, c3 as integers. */
static void read_table(const char *path, const char *c0, const char *c1, const char *c2, const char *c3, rows *out)
{
    const char *cols[4] = {c0, c1, c2, c3};
    memset(out, 0, sizeof *out);
    CHECK(table_rows(path, cols, 4, take_row, out) == out->n);
}

static int64_t table_version(const char *path)
{
    st_err e;
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    int64_t v = s ? delta_snapshot_version(s) : -1;
    delta_snapshot_destroy(s);
    return v;
}

static int64_t txn_of(const char *path, int32_t p)
{
    st_err e;
    char id[64];
    snprintf(id, sizeof id, GROUP "/" TOPIC "/%d", (int)p);
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    int64_t v = s ? delta_snapshot_txn_version(s, id) : -2;
    delta_snapshot_destroy(s);
    return v;
}

/* Rows of `rs` whose s[0] equals text. */
static int count_s0(const rows *rs, const char *text)
{
    int n = 0;
    for (int i = 0; i < rs->n; i++) n += !strcmp(rs->r[i].s[0], text);
    return n;
}

/* 1 when every (i[0], i[1]) = (partition, offset) pair appears once, and there are `want` rows. */
static int offsets_once(const rows *rs, int want)
{
    if (rs->n != want) return 0;
    for (int a = 0; a < rs->n; a++)
        for (int b = a + 1; b < rs->n; b++)
            if (rs->r[a].i[0] == rs->r[b].i[0] && rs->r[a].i[1] == rs->r[b].i[1]) return 0;
    return 1;
}

/* ------------------------------------------------------------------ running the job */

typedef struct progress {
    int batches, unreachable, assigned, revoked, failures, refetches;
    char blocker[600];        /* a file that makes Silver's write fail until the first failure */
    int64_t versions_at_failure[3];
    int64_t txn_at_assign[4][2]; /* lowest table txn of partitions 0..1 at each assignment */
    int nassign;
} progress;

static void on_progress(const silver_stats *s, const char *event, void *opaque)
{
    progress *pr = opaque;
    (void)s;
    if (!event) {
        pr->batches++;
        return;
    }
    if (strstr(event, "broker unreachable")) pr->unreachable++;
    if (strstr(event, "seeking back to the tables to restart the fetch")) pr->refetches++;
    if (strstr(event, "revoked")) pr->revoked++;
    if (strstr(event, "assigned")) {
        pr->assigned++;
        /* the job has just read the tables and chosen the start offsets: what do they hold? */
        for (int32_t p = 0; p < 2 && pr->nassign < 4; p++) {
            int64_t lo = INT64_MAX;
            const char *paths[3] = {bronze_p, silver_p, quar_p};
            for (int t = 0; t < 3; t++) {
                int64_t v = txn_of(paths[t], p);
                if (v < lo) lo = v;
            }
            pr->txn_at_assign[pr->nassign][p] = lo;
        }
        pr->nassign++;
    }
    if (strstr(event, "committing silver")) {
        /* the failed batch: nothing of it may be visible in Silver or quarantine */
        pr->failures++;
        pr->versions_at_failure[0] = table_version(bronze_p);
        pr->versions_at_failure[1] = table_version(silver_p);
        pr->versions_at_failure[2] = table_version(quar_p);
        if (pr->blocker[0]) {
            CHECK(unlink(pr->blocker) == 0);
            pr->blocker[0] = '\0';
        }
    }
}

static int64_t once_idle_us = 20LL * 1000000; /* a safety net: the script always ends in END markers */

static st_code run(mem_source *m, progress *pr, silver_stats *st, st_err *e)
{
    silver_config c;
    silver_config_init(&c);
    c.topic = TOPIC;
    c.group = GROUP;
    c.bronze_path = bronze_p;
    c.silver_path = silver_p;
    c.quarantine_path = quar_p;
    c.checkpoint = ck_p;
    c.trigger_us = 20000;
    c.max_events = 3; /* several batches, also inside one partition */
    c.once = 1;
    c.once_idle_us = once_idle_us;
    static volatile sig_atomic_t stop = 0;
    char blocker[sizeof pr->blocker];
    memcpy(blocker, pr->blocker, sizeof blocker);
    memset(pr, 0, sizeof *pr);
    memcpy(pr->blocker, blocker, sizeof blocker);
    return silver_job_run_source(&c, mem_source_records(m), &stop, on_progress, pr, st, e);
}

/* Parquet files under path (recursively). */
static int count_parquet(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "_delta_log")) continue;
        char *p = st_path_join(path, de->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            n += count_parquet(p);
        else if (strstr(de->d_name, ".parquet"))
            n++;
        free(p);
    }
    closedir(d);
    return n;
}

static void set_paths(const char *sub)
{
    free(bronze_p);
    free(silver_p);
    free(quar_p);
    free(ck_p);
    char *base = st_path_join(dir, sub);
    bronze_p = st_path_join(base, "bronze_kafka");
    silver_p = st_path_join(base, "silver_delta");
    quar_p = st_path_join(base, "quarantine_delta");
    ck_p = st_path_join(base, "checkpoint");
    free(base);
}

/* ------------------------------------------------------------------ the tests */

/* Valid, invalid, duplicate and raw records land where they belong; txn = next offsets; then the
 * same records delivered again (unasked) add nothing. */
static void test_routing_and_redelivery(void)
{
    set_paths("routing");
    mem_source *m = mem_source_new("topic " TOPIC, 2, 1);
    add_event(m, 0, "e1", 1);                                        /* 0 */
    add_event(m, 0, "e2", 2);                                        /* 1 */
    add_event(m, 0, "e1", 1);                                        /* 2: duplicate of 0 */
    add_json(m, 0, "{not json", T0_US);                              /* 3 */
    add_json(m, 0, "{\"event_id\":\"x\"}", T0_US);                   /* 4: missing fields */
    mem_source_add(m, 0, "k", 1, NULL, 0, T0_US);                    /* 5: tombstone */
    add_json(m, 0, "\xff\xfe", T0_US);                               /* 6: not UTF-8 */
    add_event(m, 0, "e3", 3);                                        /* 7 */
    add_event(m, 1, "e4", 4);                                        /* 0 */
    add_event(m, 1, "e5", 5);                                        /* 1 */
    add_event(m, 1, "e5", 5);                                        /* 2: duplicate */
    add_json(m, 1, "[1,2]", T0_US);                                  /* 3 */
    mem_source_assign(m, NULL, 0);
    mem_source_problem(m, RECORD_PROBLEM_UNREACHABLE, "all brokers down (scripted)");
    add_event(m, 1, "e6", 6);                                        /* 4: after the outage */

    progress pr = {0};
    silver_stats st;
    st_err e;
    st_code rc = run(m, &pr, &st, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK(st.events_in == 13 && st.silver_rows == 6 && st.duplicates == 2 && st.quarantined == 5);
    CHECK(st.bronze_rows == 13 && st.batches >= 5 && pr.assigned == 1 && pr.revoked == 1);
    CHECK(pr.unreachable == 1 && st.broker_down == 0); /* waited out; records afterwards clear it */

    rows rs;
    read_table(silver_p, "event_id", "sensor_id", "source_partition", "source_offset", &rs);
    CHECK(rs.n == 6);
    const char *ids[] = {"e1", "e2", "e3", "e4", "e5", "e6"};
    for (int i = 0; i < 6; i++) CHECK_MSG(count_s0(&rs, ids[i]) == 1, "%s", ids[i]);
    for (int i = 0; i < rs.n; i++)
        if (!strcmp(rs.r[i].s[0], "e1")) CHECK(rs.r[i].i[0] == 0 && rs.r[i].i[1] == 0); /* the first copy */
    read_table(quar_p, "reason", "topic", "partition", "offset", &rs);
    CHECK(rs.n == 5 && offsets_once(&rs, 5));
    CHECK(count_s0(&rs, "malformed_json") == 1 && count_s0(&rs, "empty_value") == 1);
    CHECK(count_s0(&rs, "invalid_utf8") == 1 && count_s0(&rs, "not_an_object") == 1);
    int missing = 0;
    for (int i = 0; i < rs.n; i++) {
        CHECK_STR(rs.r[i].s[1], TOPIC);
        if (!strncmp(rs.r[i].s[0], "missing_field:", 14)) missing++;
        if (!strcmp(rs.r[i].s[0], "empty_value")) CHECK(rs.r[i].i[0] == 0 && rs.r[i].i[1] == 5);
        if (!strcmp(rs.r[i].s[0], "not_an_object")) CHECK(rs.r[i].i[0] == 1 && rs.r[i].i[1] == 3);
    }
    CHECK(missing == 1);
    read_table(bronze_p, "value", "value_base64", "partition", "offset", &rs);
    CHECK(offsets_once(&rs, 13));
    for (int i = 0; i < rs.n; i++) {
        if (rs.r[i].i[0] == 0 && rs.r[i].i[1] == 5) CHECK(!strcmp(rs.r[i].s[0], "<null>") && !strcmp(rs.r[i].s[1], "<null>"));
        if (rs.r[i].i[0] == 0 && rs.r[i].i[1] == 6) CHECK(!strcmp(rs.r[i].s[0], "<null>") && !strcmp(rs.r[i].s[1], "//4="));
    }
    /* every table says how far it holds each partition: the next offset */
    const char *paths[3] = {bronze_p, silver_p, quar_p};
    int64_t v_before[3];
    for (int t = 0; t < 3; t++) {
        CHECK_MSG(txn_of(paths[t], 0) == 8 && txn_of(paths[t], 1) == 5, "%s: %" PRId64 " %" PRId64, paths[t],
                  txn_of(paths[t], 0), txn_of(paths[t], 1));
        v_before[t] = table_version(paths[t]);
    }
    CHECK(mem_source_committed(m, 0) == 8 && mem_source_committed(m, 1) == 5);
    CHECK(mem_source_assigned_at(m, 0) == 0 && mem_source_assigned_at(m, 1) == 0);
    mem_source_destroy(m);

    /* A second run on the same tables: the group starts the partitions where the tables are,
     * then the source delivers everything again from 0, unasked; only e7, new, goes in. */
    m = mem_source_new("topic " TOPIC, 2, 1);
    for (int i = 0; i < 8; i++) add_event(m, 0, "again", 100 + i);
    for (int i = 0; i < 5; i++) add_event(m, 1, "again", 200 + i);
    mem_source_assign(m, NULL, 0);
    mem_source_redeliver(m, 0, 0);
    mem_source_redeliver(m, 1, 0);
    add_event(m, 0, "e7", 7);                                        /* 8 */
    rc = run(m, &pr, &st, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK(mem_source_assigned_at(m, 0) == 8 && mem_source_assigned_at(m, 1) == 5);
    CHECK(st.events_in == 14 && st.silver_rows == 1 && st.bronze_rows == 1 && st.quarantined == 0 && st.duplicates == 0);
    for (int t = 0; t < 3; t++) {
        /* the re-delivered records made no commit: one version for e7's batch, whatever the batching */
        CHECK_MSG(table_version(paths[t]) == v_before[t] + 1, "%s: %" PRId64 " after %" PRId64, paths[t],
                  table_version(paths[t]), v_before[t]);
        CHECK(txn_of(paths[t], 0) == 9 && txn_of(paths[t], 1) == 5);
    }
    read_table(silver_p, "event_id", "sensor_id", "source_partition", "source_offset", &rs);
    CHECK(rs.n == 7 && count_s0(&rs, "again") == 0 && count_s0(&rs, "e7") == 1);
    read_table(bronze_p, "value", "value_base64", "partition", "offset", &rs);
    CHECK(offsets_once(&rs, 14));
    mem_source_destroy(m);
}

/* Silver's write fails once (a file stands where its partition folder goes): bronze_kafka, on
 * its own thread, commits; Silver and quarantine show nothing of the batch; the job reports it,
 * seeks back to what Silver holds and redoes the batch, bronze skipping what it has. */
static void test_failed_commit_is_retried(void)
{
    set_paths("retry");
    CHECK(st_mkdirs(silver_p, NULL) == ST_OK);
    progress pr;
    memset(&pr, 0, sizeof pr);
    char *blocker = st_path_join(silver_p, "event_date=2026-01-05");
    FILE *f = fopen(blocker, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    mem_source *m = mem_source_new("topic " TOPIC, 1, 1);
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "r%d", i);
        add_event(m, 0, id, i);
    }
    add_json(m, 0, "{bad", T0_US);
    mem_source_assign(m, NULL, 0);
    snprintf(pr.blocker, sizeof pr.blocker, "%s", blocker);
    silver_stats st;
    st_err e;
    st_code rc = run(m, &pr, &st, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK(pr.failures == 1 && pr.blocker[0] == '\0'); /* failed once, then the folder could be made */
    CHECK(pr.versions_at_failure[1] == 0 && pr.versions_at_failure[2] == 0); /* created, nothing committed */
    CHECK(pr.versions_at_failure[0] >= 1);                                   /* bronze committed its part */
    rows rs;
    read_table(silver_p, "event_id", "sensor_id", "source_partition", "source_offset", &rs);
    CHECK(rs.n == 5 && offsets_once(&rs, 5));
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "r%d", i);
        CHECK(count_s0(&rs, id) == 1); /* the dedup ids logged for the failed batch did not count */
    }
    read_table(bronze_p, "value", "value_base64", "partition", "offset", &rs);
    CHECK(offsets_once(&rs, 6));
    read_table(quar_p, "reason", "topic", "partition", "offset", &rs);
    CHECK(rs.n == 1 && count_s0(&rs, "malformed_json") == 1);
    const char *paths[3] = {bronze_p, silver_p, quar_p};
    for (int t = 0; t < 3; t++) CHECK(txn_of(paths[t], 0) == 6);
    /* no file of the failed attempt stays in Silver's folder: every data file is in the log */
    st_err le;
    delta_snapshot *s = delta_snapshot_load(silver_p, -1, &le);
    CHECK(s && delta_snapshot_num_files(s) >= 1 && (int)delta_snapshot_num_files(s) == count_parquet(silver_p));
    delta_snapshot_destroy(s);
    free(blocker);
    mem_source_destroy(m);
}

/* A revocation in the middle: the collected records are dropped, the next assignment starts
 * each partition at the lowest offset its tables hold, and every record lands exactly once. */
static void test_rebalance_resumes_from_tables(void)
{
    set_paths("rebalance");
    mem_source *m = mem_source_new("topic " TOPIC, 2, 1);
    char id[16];
    int n = 0;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 4; k++)
            for (int32_t p = 0; p < 2; p++) {
                snprintf(id, sizeof id, "b%d", n);
                add_event(m, p, id, n++);
            }
        if (round == 0) mem_source_assign(m, NULL, 0);
        if (round == 1) {
            mem_source_revoke(m);
            mem_source_assign(m, NULL, 0);
        }
    }
    progress pr = {0};
    silver_stats st;
    st_err e;
    st_code rc = run(m, &pr, &st, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK(pr.assigned == 2 && pr.revoked == 2 && pr.nassign == 2);
    /* the second assignment started each partition where its tables stood */
    for (int32_t p = 0; p < 2; p++)
        CHECK_MSG(mem_source_assigned_at(m, p) == (pr.txn_at_assign[1][p] < 0 ? 0 : pr.txn_at_assign[1][p]),
                  "partition %d started at %" PRId64 ", tables at %" PRId64, (int)p, mem_source_assigned_at(m, p),
                  pr.txn_at_assign[1][p]);
    rows rs;
    read_table(silver_p, "event_id", "sensor_id", "source_partition", "source_offset", &rs);
    CHECK(rs.n == 24 && offsets_once(&rs, 24));
    read_table(bronze_p, "value", "value_base64", "partition", "offset", &rs);
    CHECK(offsets_once(&rs, 24));
    const char *paths[3] = {bronze_p, silver_p, quar_p};
    for (int t = 0; t < 3; t++) CHECK(txn_of(paths[t], 0) == 12 && txn_of(paths[t], 1) == 12);
    mem_source_destroy(m);
}

/* Retention removed the offsets the tables hold: fatal, naming the partition and the way out. */
static void test_out_of_range_is_fatal(void)
{
    set_paths("routing"); /* holds partition 0 up to 9 */
    mem_source *m = mem_source_new("topic " TOPIC, 2, 1);
    for (int i = 0; i < 12; i++) add_event(m, 0, "late", 300 + i);
    for (int i = 0; i < 5; i++) add_event(m, 1, "late", 400 + i);
    mem_source_trim(m, 0, 11);
    mem_source_assign(m, NULL, 0);
    progress pr = {0};
    silver_stats st;
    st_err e;
    st_code rc = run(m, &pr, &st, &e);
    CHECK(rc == ST_ERR_STATE);
    CHECK(strstr(e.msg, "out of range on " TOPIC " [0]") != NULL && strstr(e.msg, "--from") != NULL);
    CHECK(txn_of(silver_p, 0) == 9); /* nothing skipped */
    mem_source_destroy(m);
}

/* --once and a client that stopped fetching one partition (records there, no record and no end
 * of partition coming): after the idle spell the job seeks back to its tables, which restarts the
 * fetch, and drains everything; it does not end as if it had. */
static void test_stalled_fetch_is_restarted(void)
{
    set_paths("stall");
    mem_source *m = mem_source_new("topic " TOPIC, 2, 1);
    char id[16];
    int n = 0;
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 4; k++)
            for (int32_t p = 0; p < 2; p++) {
                snprintf(id, sizeof id, "s%d", n);
                add_event(m, p, id, n++);
            }
        if (round == 0) {
            mem_source_assign(m, NULL, 0);
            mem_source_stall(m, 0);
        }
    }
    progress pr = {0};
    silver_stats st;
    st_err e;
    once_idle_us = 300000;
    st_code rc = run(m, &pr, &st, &e);
    once_idle_us = 20LL * 1000000;
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK_MSG(pr.refetches == 1, "%d restarts of the fetch", pr.refetches);
    rows rs;
    read_table(silver_p, "event_id", "sensor_id", "source_partition", "source_offset", &rs);
    CHECK_MSG(rs.n == 16 && offsets_once(&rs, 16), "%d rows in Silver, 16 sent", rs.n);
    CHECK(txn_of(silver_p, 0) == 8 && txn_of(silver_p, 1) == 8);
    mem_source_destroy(m);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    test_routing_and_redelivery();
    test_failed_commit_is_retried();
    test_rebalance_resumes_from_tables();
    test_out_of_range_is_fatal();
    test_stalled_fetch_is_restarted();
    st_remove_tree(dir, NULL);
    free(bronze_p);
    free(silver_p);
    free(quar_p);
    free(ck_p);
    return CHECK_DONE();
}
