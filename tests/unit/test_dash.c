/* test_dash.c — the dashboard's model (dash/dash_model.h: latest window per room and sensor,
 * colour levels from the rules, series bounds, open alerts and history) and its reading of the
 * Prometheus text (dash/dash_scrape.h). */
#include "check.h"
#include "dash/dash_follow.h"
#include "dash/dash_model.h"
#include "dash/dash_scrape.h"
#include "delta/delta.h"
#include "pipeline/append_sink.h"
#include "pipeline/tables.h"
#include "util/fsutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_US (60LL * 1000000)
#define T0 1767571200000000LL

static dash_window win(const char *b, int floor, const char *r, const char *type, int64_t start, double avg)
{
    dash_window w = {start, start + MIN_US, b, strlen(b), floor, r, strlen(r), type, strlen(type), 60, avg, avg - 1,
                     avg + 1};
    return w;
}

static void test_model(void)
{
    alert_rules *rules = alert_rules_default();
    dash_model *m = dash_model_new(rules, 0, 4);
    CHECK_STR(dash_model_level(m, "co2", 900), "ok");
    CHECK_STR(dash_model_level(m, "co2", 980), "warn");   /* hysteresis band 950..1000 */
    CHECK_STR(dash_model_level(m, "co2", 1000.5), "alert");
    CHECK_STR(dash_model_level(m, "temperature", 17), "alert");
    CHECK_STR(dash_model_level(m, "pressure", 1000), "none");
    dash_window w;
    for (int i = 0; i < 70; i++) {
        w = win("b01", 1, "r01", "co2", T0 + i * MIN_US, 400 + i);
        dash_model_add_window(m, &w);
    }
    w = win("b01", 1, "r01", "co2", T0 + 10 * MIN_US, 1200); /* the same window again: replaces it */
    dash_model_add_window(m, &w);
    w = win("b01", 2, "r01", "temperature", T0 + 5 * MIN_US, 21.5);
    dash_model_add_window(m, &w);
    w = win("a00", 0, "r09", "humidity", T0 + 69 * MIN_US, 50);
    dash_model_add_window(m, &w);
    CHECK(dash_model_rooms(m) == 3);

    st_buf b = {0};
    dash_model_render(m, &b);
    const char *s = st_buf_cstr(&b);
    CHECK(strstr(s, "\"data_time\":\"2026-01-05T01:09:00.000Z\"") != NULL);
    /* rooms sorted by building, floor, room; latest co2 window is the 70th (avg 469) */
    const char *a = strstr(s, "\"building\":\"a00\""), *r1 = strstr(s, "\"floor\":1,\"room\":\"r01\""),
               *r2 = strstr(s, "\"floor\":2,\"room\":\"r01\"");
    CHECK(a && r1 && r2 && a < r1 && r1 < r2);
    CHECK(strstr(s, "\"co2\":{\"avg\":469.0,\"min\":468.0,\"max\":470.0,\"count\":60,"
                    "\"window_start\":\"2026-01-05T01:09:00.000Z\",\"level\":\"ok\"}") != NULL);
    CHECK(strstr(s, "\"temperature\":{\"avg\":21.5,") != NULL);
    st_buf_reset(&b);

    /* the last hour of data time: 61 windows (start >= newest - 60 min); 1200 replaced window 10 */
    st_err e;
    CHECK(dash_model_render_series(m, "b01", 1, "r01", 60, &b, &e) == ST_OK);
    s = st_buf_cstr(&b);
    CHECK(strstr(s, "\"minutes\":60") != NULL);
    const char *avg = strstr(s, "\"avg\":[");
    static const char want[] = "\"avg\":[409.0,1200.0,411.0,";
    CHECK_MSG(avg && !strncmp(avg, want, sizeof want - 1), "%.60s", avg ? avg : "-");
    int commas = 0;
    for (const char *p = avg; *p && *p != ']'; p++) commas += *p == ',';
    CHECK_MSG(commas == 60, "%d points", commas + 1);
    st_buf_reset(&b);
    CHECK(dash_model_render_series(m, "b01", 1, "r01", 100000, &b, &e) == ST_OK); /* clamped */
    CHECK(strstr(st_buf_cstr(&b), "\"minutes\":1440") != NULL);
    st_buf_reset(&b);
    CHECK(dash_model_render_series(m, "b01", 9, "r01", 60, &b, &e) == ST_ERR_NOTFOUND);

    /* alerts: open, close; history newest first and bounded to 4 rows */
    dash_alert op = {"co2_high/b01/1/r01/t1", "open", "co2_high", "s1", "b01", "r01", "co2", 1, 1500, 1000, T0, T0 + 5};
    dash_model_add_alert(m, &op);
    CHECK(dash_model_open_alerts(m) == 1);
    dash_alert op2 = op;
    op2.alert_id = "temperature/s2/t2";
    op2.rule = "temperature";
    dash_model_add_alert(m, &op2);
    dash_alert cl = op;
    cl.state = "close";
    cl.value = 900;
    cl.event_time_us = T0 + 3 * MIN_US;
    dash_model_add_alert(m, &cl);
    CHECK(dash_model_open_alerts(m) == 1);
    st_buf_reset(&b);
    dash_model_render(m, &b);
    s = st_buf_cstr(&b);
    const char *open = strstr(s, "\"open\":[{\"alert_id\":\"temperature/s2/t2\"");
    const char *hist = strstr(s, "\"history\":[{\"alert_id\":\"co2_high/b01/1/r01/t1\"");
    CHECK(open && hist);
    CHECK(hist && strstr(hist, "\"state\":\"close\",\"value\":900.0") != NULL);
    for (int i = 0; i < 6; i++) { /* push the history past its bound */
        char id[32];
        snprintf(id, sizeof id, "x/%d", i);
        dash_alert x = op;
        x.alert_id = id;
        x.state = "close";
        dash_model_add_alert(m, &x);
    }
    st_buf_reset(&b);
    dash_model_render(m, &b);
    s = st_buf_cstr(&b);
    CHECK(!strstr(s, "co2_high/b01/1/r01/t1")); /* closed and out of the history: forgotten */
    CHECK(strstr(s, "temperature/s2/t2") != NULL); /* open: kept */
    CHECK(strstr(s, "\"alert_id\":\"x/5\"") && !strstr(s, "\"alert_id\":\"x/1\""));
    st_buf_free(&b);
    dash_model_destroy(m);
    dash_model_destroy(NULL);
    alert_rules_destroy(rules);
}

typedef struct seen {
    int n;
    double sum_lag;
    char reason[64];
} seen;

static void on_sample(void *ctx, const char *name, size_t nl, const char *labels, size_t ll, double v)
{
    seen *s = ctx;
    s->n++;
    if (nl == strlen("smarttech_consumer_lag") && !memcmp(name, "smarttech_consumer_lag", nl)) s->sum_lag += v;
    char r[64];
    if (dash_label_value(labels, ll, "reason", r, sizeof r)) snprintf(s->reason, sizeof s->reason, "%s", r);
}

static void test_parse(void)
{
    const char *text = "# HELP smarttech_consumer_lag Records behind.\n"
                       "# TYPE smarttech_consumer_lag gauge\n"
                       "smarttech_consumer_lag{topic=\"t\",partition=\"0\"} 5\n"
                       "smarttech_consumer_lag{topic=\"a}b\",partition=\"1\"} 7\n"
                       "smarttech_quarantined_total{reason=\"we\\\"ird\\\\\"} 3\n"
                       "broken{ 1\n"
                       "novalue\n"
                       "x_total 1e3\n"
                       "y +Inf";
    seen s = {0};
    dash_parse_exposition(text, strlen(text), on_sample, &s);
    CHECK_MSG(s.n == 5, "%d samples", s.n);
    CHECK(s.sum_lag == 12);
    CHECK_STR(s.reason, "we\"ird\\");
    char v[16];
    CHECK(dash_label_value("a=\"1\",b=\"22\"", 12, "b", v, sizeof v) && !strcmp(v, "22"));
    CHECK(!dash_label_value("a=\"1\"", 5, "b", v, sizeof v));
    dash_scrape *sc = dash_scrape_new();
    st_err e;
    CHECK(dash_scrape_add(sc, "silver", "https://x/metrics", &e) == ST_ERR_ARG);
    CHECK(dash_scrape_add(sc, "silver", "http://127.0.0.1:1/metrics", &e) == ST_OK);
    dash_scrape_poll(sc); /* nothing listens there: down, not an error */
    st_buf b = {0};
    dash_scrape_render(sc, &b);
    CHECK(strstr(st_buf_cstr(&b), "\"name\":\"silver\"") && strstr(st_buf_cstr(&b), "\"up\":false"));
    st_buf_free(&b);
    dash_scrape_destroy(sc);
}

/* Appends one Gold window per call, as gold_job writes them, in a commit of its own. */
static void gold_commit(delta_table *t, int64_t start, const char *room, double avg, int64_t version)
{
    delta_schema *sc = table_schema(TABLE_GOLD);
    delta_batch *b = delta_batch_new(sc);
    delta_schema_destroy(sc);
    delta_batch_append_long(b, GOLD_WINDOW_START, start);
    delta_batch_append_long(b, GOLD_WINDOW_END, start + MIN_US);
    delta_batch_append_string(b, GOLD_BUILDING_ID, "b01", 3);
    delta_batch_append_int(b, GOLD_FLOOR, 1);
    delta_batch_append_string(b, GOLD_ROOM_ID, room, strlen(room));
    delta_batch_append_string(b, GOLD_SENSOR_TYPE, "co2", 3);
    delta_batch_append_long(b, GOLD_COUNT, 60);
    delta_batch_append_double(b, GOLD_AVG, avg);
    delta_batch_append_double(b, GOLD_MIN, avg - 1);
    delta_batch_append_double(b, GOLD_MAX, avg + 1);
    delta_batch_append_long(b, GOLD_FIRST_EVENT_TIME, start);
    delta_batch_append_long(b, GOLD_LAST_EVENT_TIME, start + MIN_US - 1);
    delta_batch_append_int(b, GOLD_WINDOW_DATE, (int32_t)(start / 86400000000LL));
    delta_txn txn = {"test/gold", version, 0};
    append_sink_params p = {.txns = &txn, .ntxns = 1};
    st_err e;
    CHECK_MSG(append_sink_write_batch(t, b, &p, NULL, &e) == ST_OK, "%s", e.msg);
    delta_batch_destroy(b);
}

/* The follower reads a table that appears after it started, then only the commits added since
 * its last poll, at most max_versions of them per poll. */
static void test_follow(void)
{
    char root[] = "/tmp/st_dash_XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char *gold = st_path_join(root, "gold");
    dash_paths p = {.gold = gold};
    dash_follow *f = dash_follow_new(&p, 2);
    alert_rules *rules = alert_rules_default();
    dash_model *m = dash_model_new(rules, 0, 0);
    st_err e;
    CHECK(dash_follow_poll(f, &e) == ST_OK); /* no table yet: nothing, no error */
    dash_follow_apply(f, m);
    CHECK(dash_model_rooms(m) == 0);
    delta_table *t = table_open_or_create(TABLE_GOLD, gold, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    for (int i = 0; i < 3; i++) gold_commit(t, T0 + i * MIN_US, "r01", 500 + i, i + 1);
    /* versions 0 (create) .. 3: two per poll */
    CHECK(dash_follow_poll(f, &e) == ST_OK && dash_follow_behind(f));
    CHECK(dash_follow_apply(f, m) == 1);
    CHECK(dash_follow_poll(f, &e) == ST_OK && !dash_follow_behind(f));
    CHECK(dash_follow_apply(f, m) == 2);
    CHECK(dash_follow_poll(f, &e) == ST_OK);
    CHECK(dash_follow_apply(f, m) == 0); /* nothing new: nothing read again */
    gold_commit(t, T0 + 3 * MIN_US, "r02", 700, 4);
    CHECK(dash_follow_poll(f, &e) == ST_OK);
    CHECK(dash_follow_apply(f, m) == 1);
    CHECK(dash_model_rooms(m) == 2);
    st_buf b = {0};
    dash_model_render(m, &b);
    CHECK(strstr(st_buf_cstr(&b), "\"room\":\"r01\",\"sensors\":{\"co2\":{\"avg\":502.0,") != NULL);
    st_buf_reset(&b);
    dash_follow_render_health(f, &b);
    CHECK_MSG(strstr(st_buf_cstr(&b), "\"name\":\"gold_room_1m\"") && strstr(st_buf_cstr(&b), "\"version\":4,\"rows\":4"),
              "%s", st_buf_cstr(&b));
    st_buf_free(&b);
    delta_table_destroy(t);
    dash_model_destroy(m);
    alert_rules_destroy(rules);
    dash_follow_destroy(f);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    free(gold);
}

int main(void)
{
    test_model();
    test_follow();
    test_parse();
    return CHECK_DONE();
}
