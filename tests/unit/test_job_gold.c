/* Unit tests of the Gold job's routing, fed by the in-memory record source (Silver versions as
 * positions, each closed by its DONE marker) into real Delta tables in a temp dir: 1-minute
 * windows and their aggregates, a late row quarantined with its provenance, window and
 * consecutive alerts opening and closing, the txn positions, and the same result whatever the
 * number of versions per batch. */
#include "check.h"
#include "job/gold_job.h"
#include "pipeline/tables.h"
#include "source/mem_source.h"
#include "table_rows.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0_US 1767607200000000LL /* 2026-01-05T10:00:00Z, a window boundary */
#define S(x) ((x) * 1000000LL)

static char dir[] = "/tmp/st_job_gold_XXXXXX";

/* One Silver row of version v (the fields Gold reads, in gold_input_columns order). */
static void add_reading(mem_source *m, int64_t v, const char *type, const char *sensor, double value, int64_t t_us,
                        int64_t row)
{
    static int seq;
    char id[64];
    snprintf(id, sizeof id, "%s:%d", sensor, ++seq);
    record_value f[GOLD_IN_COLUMNS];
    memset(f, 0, sizeof f);
    f[GOLD_IN_EVENT_ID] = (record_value){.str = id, .len = strlen(id)};
    f[GOLD_IN_SENSOR_ID] = (record_value){.str = sensor, .len = strlen(sensor)};
    f[GOLD_IN_BUILDING_ID] = (record_value){.str = "b01", .len = 3};
    f[GOLD_IN_FLOOR] = (record_value){.i64 = 2};
    f[GOLD_IN_ROOM_ID] = (record_value){.str = "r05", .len = 3};
    f[GOLD_IN_SENSOR_TYPE] = (record_value){.str = type, .len = strlen(type)};
    f[GOLD_IN_VALUE] = (record_value){.f64 = value};
    f[GOLD_IN_EVENT_TIME] = (record_value){.i64 = t_us};
    mem_source_add_row(m, 0, v, f, GOLD_IN_COLUMNS, "event_date=2026-01-05/part-00000-x.c000.snappy.parquet", row,
                       T0_US + S(1000));
}

/* Silver, version by version:
 *   v0  co2 1200 and 1300 in [0, 60 s), temperature 30, 31, 32 (three failing readings in a row)
 *   v1  co2 500 at 200 s, temperature 22 x 3 (recovered): the watermark (max - 2 min) closes [0, 60)
 *   v2  a co2 reading at 30 s: its window is closed, it is late; co2 600 at 400 s closes [180, 240)
 *   v3  no data (an empty commit)
 * With once + flush the open windows ([360, 420)) are emitted at the end. */
static mem_source *silver_input(void)
{
    mem_source *m = mem_source_new("silver-in-memory", 1, 0);
    add_reading(m, 0, "co2", "co2-1", 1200, T0_US + S(5), 0);
    add_reading(m, 0, "co2", "co2-1", 1300, T0_US + S(50), 1);
    add_reading(m, 0, "temperature", "t-1", 30, T0_US + S(10), 2);
    add_reading(m, 0, "temperature", "t-1", 31, T0_US + S(20), 3);
    add_reading(m, 0, "temperature", "t-1", 32, T0_US + S(30), 4);
    mem_source_add_done(m, 0, 0);
    add_reading(m, 1, "co2", "co2-1", 500, T0_US + S(200), 0);
    add_reading(m, 1, "temperature", "t-1", 22, T0_US + S(200), 1);
    add_reading(m, 1, "temperature", "t-1", 22, T0_US + S(210), 2);
    add_reading(m, 1, "temperature", "t-1", 22, T0_US + S(220), 3);
    mem_source_add_done(m, 0, 1);
    add_reading(m, 2, "co2", "co2-1", 9999, T0_US + S(30), 7);
    add_reading(m, 2, "co2", "co2-1", 600, T0_US + S(400), 8);
    mem_source_add_done(m, 0, 2);
    mem_source_add_done(m, 0, 3);
    return m;
}

typedef struct out_paths {
    char *gold, *alerts, *quar, *ck, *silver, *anom;
} out_paths;

static void paths_for(const char *sub, out_paths *p)
{
    char *base = st_path_join(dir, sub);
    p->gold = st_path_join(base, "gold_room_1m");
    p->alerts = st_path_join(base, "alerts_delta");
    p->quar = st_path_join(base, "quarantine_delta");
    p->ck = st_path_join(base, "checkpoint");
    p->silver = st_path_join(base, "silver_delta");
    p->anom = st_path_join(base, "anomalies_delta");
    free(base);
}

static void paths_free(out_paths *p)
{
    free(p->gold);
    free(p->alerts);
    free(p->quar);
    free(p->ck);
    free(p->silver);
    free(p->anom);
}

static st_code run_anomalies(const out_paths *p, record_source *src, int max_versions, int flush, int anomalies,
                             gold_stats *st, st_err *e)
{
    gold_config c;
    gold_config_init(&c);
    c.silver_path = p->silver;
    c.gold_path = p->gold;
    c.alerts_path = p->alerts;
    c.quarantine_path = p->quar;
    c.anomalies_path = p->anom;
    c.anomalies = anomalies;
    c.checkpoint = p->ck;
    c.max_versions = max_versions;
    c.trigger_us = 1000;
    c.once = 1;
    c.flush = flush;
    return gold_job_run_source(&c, src, NULL, NULL, NULL, st, e);
}

static st_code run(const out_paths *p, record_source *src, int max_versions, gold_stats *st, st_err *e)
{
    return run_anomalies(p, src, max_versions, 1, 1, st, e);
}

/* ------------------------------------------------------------------ reading the outputs */

typedef struct window_row {
    int64_t start, count;
    char type[32];
    double avg, min, max;
} window_row;

typedef struct windows {
    window_row w[32];
    int n;
} windows;

static void take_window(void *ctx, const record_value *f)
{
    windows *ws = ctx;
    if (ws->n >= 32) return;
    window_row *w = &ws->w[ws->n++];
    w->start = f[0].i64;
    snprintf(w->type, sizeof w->type, "%.*s", (int)f[1].len, f[1].str);
    w->count = f[2].i64;
    w->avg = f[3].f64;
    w->min = f[4].f64;
    w->max = f[5].f64;
}

static const window_row *find_window(const windows *ws, const char *type, int64_t start)
{
    for (int i = 0; i < ws->n; i++)
        if (!strcmp(ws->w[i].type, type) && ws->w[i].start == start) return &ws->w[i];
    return NULL;
}

typedef struct texts {
    char t[32][3][160];
    int64_t i[32];
    int n;
} texts;

/* Three string columns and one integer column. */
static void take_texts(void *ctx, const record_value *f)
{
    texts *ts = ctx;
    if (ts->n >= 32) return;
    for (int k = 0; k < 3; k++)
        snprintf(ts->t[ts->n][k], sizeof ts->t[0][0], "%.*s", f[k].is_null ? 0 : (int)f[k].len, f[k].is_null ? "" : f[k].str);
    ts->i[ts->n] = f[3].i64;
    ts->n++;
}

static int64_t txn(const char *path, const char *app_id)
{
    st_err e;
    delta_snapshot *s = delta_snapshot_load(path, -1, &e);
    int64_t v = s ? delta_snapshot_txn_version(s, app_id) : -2;
    delta_snapshot_destroy(s);
    return v;
}

/* Checks everything the input above must give; returns the number of Gold rows. */
static int check_outputs(const out_paths *p, const gold_stats *st)
{
    CHECK(st->rows_in == 11 && st->rows_late == 1 && st->silver_version == 3 && st->flushed);
    CHECK(st->alerts_opened == 2 && st->alerts_closed == 2);

    windows ws = {0};
    const char *gcols[] = {"window_start", "sensor_type", "count", "avg", "min", "max"};
    CHECK(table_rows(p->gold, gcols, 6, take_window, &ws) == 5);
    const window_row *w = find_window(&ws, "co2", T0_US);
    CHECK(w && w->count == 2 && w->avg == 1250 && w->min == 1200 && w->max == 1300); /* the late 9999 is not in */
    w = find_window(&ws, "temperature", T0_US);
    CHECK(w && w->count == 3 && fabs(w->avg - 31) < 1e-9 && w->min == 30 && w->max == 32);
    w = find_window(&ws, "co2", T0_US + S(180));
    CHECK(w && w->count == 1 && w->avg == 500);
    w = find_window(&ws, "temperature", T0_US + S(180));
    CHECK(w && w->count == 3 && w->avg == 22);
    w = find_window(&ws, "co2", T0_US + S(360)); /* emitted by the flush */
    CHECK(w && w->count == 1 && w->avg == 600);

    texts al = {0};
    const char *acols[] = {"rule", "state", "alert_id", "event_time"};
    CHECK(table_rows(p->alerts, acols, 4, take_texts, &al) == 4);
    int co2_open = 0, co2_close = 0, t_open = 0, t_close = 0;
    for (int i = 0; i < al.n; i++) {
        int open = !strcmp(al.t[i][1], "open");
        if (!strcmp(al.t[i][0], "co2_high")) {
            co2_open += open;
            co2_close += !open;
            CHECK(al.i[i] == (open ? T0_US : T0_US + S(180))); /* the window's start */
        } else if (!strcmp(al.t[i][0], "temperature")) {
            t_open += open;
            t_close += !open;
            CHECK(al.i[i] == (open ? T0_US + S(30) : T0_US + S(220))); /* the third reading of each run */
        }
    }
    CHECK(co2_open == 1 && co2_close == 1 && t_open == 1 && t_close == 1);

    texts q = {0};
    const char *qcols[] = {"reason", "file", "raw", "line"};
    CHECK(table_rows(p->quar, qcols, 4, take_texts, &q) == 1);
    CHECK_STR(q.t[0][0], "late");
    CHECK(strstr(q.t[0][1], "silver_delta/event_date=2026-01-05/part-00000-x.c000.snappy.parquet") != NULL);
    CHECK(q.i[0] == 8); /* origin_row 7, 1-based */
    CHECK(strstr(q.t[0][2], "\"value\":9999") != NULL);

    CHECK(table_rows(p->anom, acols + 1, 1, NULL, NULL) == 0); /* too few readings to judge anyone */
    const char *outs[4] = {p->gold, p->alerts, p->quar, p->anom};
    for (int i = 0; i < 4; i++) {
        CHECK(txn(outs[i], "gold/silver-in-memory") == 3);
        CHECK(txn(outs[i], "gold/silver-in-memory/flush") == 3);
    }
    return ws.n;
}

static void test_routing(void)
{
    /* one version per batch: every batch seeks to its first version and stops at its DONE */
    out_paths a;
    paths_for("one_per_batch", &a);
    mem_source *m = silver_input();
    gold_stats st;
    st_err e;
    st_code rc = run(&a, mem_source_records(m), 1, &st, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK(st.batches >= 4);
    check_outputs(&a, &st);
    mem_source_destroy(m);

    /* everything in one batch: the same windows, late row and alerts */
    out_paths b;
    paths_for("one_batch", &b);
    m = silver_input();
    rc = run(&b, mem_source_records(m), 50, &st, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK(st.batches == 1);
    check_outputs(&b, &st);

    /* run again on the same outputs: they hold version 3 flushed, nothing is redone */
    int64_t v = -1;
    st_err le;
    delta_snapshot *s = delta_snapshot_load(b.gold, -1, &le);
    if (s) v = delta_snapshot_version(s);
    delta_snapshot_destroy(s);
    rc = run(&b, mem_source_records(m), 50, &st, &e);
    CHECK_MSG(rc == ST_OK, "%s", e.msg);
    CHECK(st.batches == 0 && st.silver_version == 3);
    s = delta_snapshot_load(b.gold, -1, &le);
    CHECK(s && delta_snapshot_version(s) == v);
    delta_snapshot_destroy(s);
    mem_source_destroy(m);
    paths_free(&a);
    paths_free(&b);
}

/* A row without the columns Gold needs stops the job with a message naming the version. */
static void test_bad_row(void)
{
    out_paths p;
    paths_for("bad", &p);
    mem_source *m = mem_source_new("silver-bad", 1, 0);
    record_value f[2] = {{.str = "x", .len = 1}, {.i64 = 1}};
    mem_source_add_row(m, 0, 0, f, 2, NULL, 0, -1);
    mem_source_add_done(m, 0, 0);
    gold_stats st;
    st_err e;
    CHECK(run(&p, mem_source_records(m), 50, &st, &e) == ST_ERR_FORMAT);
    CHECK(strstr(e.msg, "version 0") != NULL);
    mem_source_destroy(m);
    paths_free(&p);
}

/* A co2 sensor stuck at one value for 20 readings, in 12 versions of 10 readings each (and two
 * sensors that stay normal). versions_to < 11 builds only the first versions. */
static mem_source *stuck_input(int versions_to)
{
    mem_source *m = mem_source_new("silver-anomalies", 1, 0);
    int64_t row = 0;
    for (int v = 0; v <= versions_to; v++) {
        for (int k = 0; k < 10; k++) {
            int i = v * 10 + k;
            int64_t t = T0_US + S(10) * i;
            double wobble = (double)((i * i * 7 + 3 * i) % 101) / 10 - 5; /* noise-like, steps of 0.1 */
            add_reading(m, v, "co2", "co2-s", i >= 60 && i < 80 ? 612 : 600 + wobble, t, row++);
            add_reading(m, v, "co2", "co2-n", 640 + wobble, t + S(1), row++);
            add_reading(m, v, "temperature", "t-n", 21 + 0.01 * wobble, t + S(2), row++);
        }
        mem_source_add_done(m, 0, v);
    }
    return m;
}

typedef struct anom_rows {
    char t[16][4][160];
    int n;
} anom_rows;

static void take_anom(void *ctx, const record_value *f)
{
    anom_rows *a = ctx;
    if (a->n >= 16) return;
    for (int k = 0; k < 4; k++)
        snprintf(a->t[a->n][k], sizeof a->t[0][0], "%.*s", f[k].is_null ? 0 : (int)f[k].len, f[k].is_null ? "" : f[k].str);
    a->n++;
}

/* The anomaly step of the job: rows in anomalies_delta, alerts with rule anomaly:<kind>, the
 * same after a stop and restart in the middle; nothing of it with anomalies off. */
static void test_anomalies(void)
{
    out_paths a, b, c;
    paths_for("anom_one", &a);
    paths_for("anom_restart", &b);
    paths_for("anom_off", &c);
    gold_stats st;
    st_err e;
    mem_source *m = stuck_input(11);
    CHECK_MSG(run_anomalies(&a, mem_source_records(m), 3, 1, 1, &st, &e) == ST_OK, "%s", e.msg);
    CHECK(st.anomalies_opened == 1 && st.anomalies_closed == 1 && st.anomalies_open == 0);
    CHECK(st.anomaly_sensors == 3 && st.anomaly_bytes > 3 * 1000 && st.versions[3] >= 1);
    anom_rows ra = {0};
    const char *cols[] = {"anomaly_id", "state", "kind", "reason"};
    CHECK(table_rows(a.anom, cols, 4, take_anom, &ra) == 2);
    for (int i = 0; i < ra.n; i++) {
        CHECK(!strncmp(ra.t[i][0], "stuck/co2-s/2026-01-05T10:10:00", 31));
        CHECK_STR(ra.t[i][2], "stuck");
        CHECK(strstr(ra.t[i][3], "co2 flat at 612.") != NULL);
    }
    texts al = {0};
    const char *acols[] = {"rule", "state", "alert_id", "event_time"};
    table_rows(a.alerts, acols, 4, take_texts, &al);
    int stuck_alerts = 0;
    for (int i = 0; i < al.n; i++)
        if (!strcmp(al.t[i][0], "anomaly:stuck")) {
            stuck_alerts++;
            CHECK(!strncmp(al.t[i][2], "anomaly:stuck/co2-s/", 20));
        }
    CHECK(stuck_alerts == 2);
    mem_source_destroy(m);

    /* half the versions, stop; then all of them: the anomaly rows are those of the single run */
    m = stuck_input(7);
    CHECK_MSG(run_anomalies(&b, mem_source_records(m), 2, 0, 1, &st, &e) == ST_OK, "%s", e.msg);
    CHECK(st.anomalies_opened == 1 && st.anomalies_open == 1); /* stuck since reading 60, not over yet */
    mem_source_destroy(m);
    m = stuck_input(11);
    CHECK_MSG(run_anomalies(&b, mem_source_records(m), 2, 1, 1, &st, &e) == ST_OK, "%s", e.msg);
    CHECK(st.anomalies_opened == 1 && st.anomalies_closed == 1);
    anom_rows rb = {0};
    CHECK(table_rows(b.anom, cols, 4, take_anom, &rb) == 2);
    for (int i = 0; i < rb.n; i++) {
        int same = 0;
        for (int k = 0; k < ra.n; k++)
            same |= !strcmp(ra.t[k][0], rb.t[i][0]) && !strcmp(ra.t[k][1], rb.t[i][1]) && !strcmp(ra.t[k][3], rb.t[i][3]);
        CHECK(same);
    }
    CHECK(txn(b.anom, "gold/silver-anomalies") == 11);

    /* off: no table, no anomaly alert, no model */
    CHECK_MSG(run_anomalies(&c, mem_source_records(m), 50, 1, 0, &st, &e) == ST_OK, "%s", e.msg);
    CHECK(st.anomalies_opened == 0 && st.anomaly_sensors == 0 && st.versions[3] == -1);
    CHECK(access(c.anom, F_OK) != 0);
    texts alc = {0};
    table_rows(c.alerts, acols, 4, take_texts, &alc);
    for (int i = 0; i < alc.n; i++) CHECK(strncmp(alc.t[i][0], "anomaly:", 8) != 0);
    mem_source_destroy(m);

    /* turned on later under that checkpoint: the new table joins at Gold's position (nothing to redo) */
    m = stuck_input(11);
    CHECK_MSG(run_anomalies(&c, mem_source_records(m), 50, 1, 1, &st, &e) == ST_OK, "%s", e.msg);
    CHECK(st.batches == 0 && st.anomalies_opened == 0);
    mem_source_destroy(m);
    paths_free(&a);
    paths_free(&b);
    paths_free(&c);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    test_routing();
    test_bad_row();
    test_anomalies();
    st_remove_tree(dir, NULL);
    return CHECK_DONE();
}
