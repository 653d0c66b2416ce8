/* test_pipeline_metrics.c — the metrics registry (pipeline/metrics.h): the exact exposition text
 * of counters, gauges and histograms with labels (escaping, number formatting, cumulative
 * buckets), registration rules, quantiles, concurrent updates during renderings, and the
 * process_* metrics read from /proc. */
#include "check.h"
#include "pipeline/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void test_exact_text(void)
{
    metrics *m = metrics_new();
    st_err e;
    metric_family *ev = metrics_family(m, METRIC_COUNTER, "smarttech_events_in_total", "Records read.", NULL, 0, &e);
    const char *tl[] = {"table"};
    metric_family *rows = metrics_family(m, METRIC_COUNTER, "smarttech_rows_written_total",
                                         "Rows committed, by table.\nSecond line \\ here.", tl, 1, &e);
    const char *pl[] = {"topic", "partition"};
    metric_family *lag = metrics_family(m, METRIC_GAUGE, "smarttech_consumer_lag", "Records behind.", pl, 2, &e);
    metric_family *empty = metrics_family(m, METRIC_GAUGE, "smarttech_unused", "No series yet.", tl, 1, &e);
    const double b[] = {0.25, 0.5, 1, 2.5};
    metric_family *h = metrics_histogram(m, "smarttech_batch_duration_seconds", "Batch time.", NULL, 0, b, 4, &e);
    CHECK(ev && rows && lag && empty && h);

    metric_add(metric_family_only(ev), 3);
    metric_add(metric_family_only(ev), 1234567);
    metric_add(metric_family_only(ev), -5); /* ignored: counters only go up */
    const char *silver[] = {"silver"}, *odd[] = {"a\"b\\c\nd"};
    metric_add(metric_family_series(rows, silver), 10);
    metric_add(metric_family_series(rows, odd), 0.25);
    metric_add(metric_family_series(rows, silver), 5); /* same series again */
    const char *p0[] = {"iot", "0"}, *p1[] = {"iot", "1"};
    metric_set(metric_family_series(lag, p0), 0);
    metric_set(metric_family_series(lag, p1), -0.0);
    metric *hs = metric_family_only(h);
    metric_observe(hs, 0.25, 2); /* on a bound: that bucket (upper-inclusive) */
    metric_observe(hs, 0.75, 1);
    metric_observe(hs, 99, 1);    /* +Inf */
    metric_observe(hs, 1, 0);     /* nothing */

    st_buf out = {0};
    metrics_render(m, &out);
    const char *want =
        "# HELP smarttech_events_in_total Records read.\n"
        "# TYPE smarttech_events_in_total counter\n"
        "smarttech_events_in_total 1234570\n"
        "# HELP smarttech_rows_written_total Rows committed, by table.\\nSecond line \\\\ here.\n"
        "# TYPE smarttech_rows_written_total counter\n"
        "smarttech_rows_written_total{table=\"silver\"} 15\n"
        "smarttech_rows_written_total{table=\"a\\\"b\\\\c\\nd\"} 0.25\n"
        "# HELP smarttech_consumer_lag Records behind.\n"
        "# TYPE smarttech_consumer_lag gauge\n"
        "smarttech_consumer_lag{topic=\"iot\",partition=\"0\"} 0\n"
        "smarttech_consumer_lag{topic=\"iot\",partition=\"1\"} 0\n"
        "# HELP smarttech_batch_duration_seconds Batch time.\n"
        "# TYPE smarttech_batch_duration_seconds histogram\n"
        "smarttech_batch_duration_seconds_bucket{le=\"0.25\"} 2\n"
        "smarttech_batch_duration_seconds_bucket{le=\"0.5\"} 2\n"
        "smarttech_batch_duration_seconds_bucket{le=\"1\"} 3\n"
        "smarttech_batch_duration_seconds_bucket{le=\"2.5\"} 3\n"
        "smarttech_batch_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "smarttech_batch_duration_seconds_sum 100.25\n"
        "smarttech_batch_duration_seconds_count 4\n";
    CHECK_STR(st_buf_cstr(&out), want);

    CHECK(metric_count(hs) == 4);
    CHECK(metric_value(hs) == 100.25);
    double v = 0;
    CHECK(metrics_lookup(m, "smarttech_rows_written_total", silver, &v, &e) == ST_OK && v == 15);
    CHECK(metrics_lookup(m, "smarttech_rows_written_total", p0, &v, &e) == ST_ERR_NOTFOUND);
    CHECK(metrics_lookup(m, "nope", NULL, &v, &e) == ST_ERR_NOTFOUND);

    /* a labelled histogram puts le last */
    const double b2[] = {1};
    metric_family *h2 = metrics_histogram(m, "lat_seconds", "", tl, 1, b2, 1, &e);
    metric_observe(metric_family_series(h2, silver), 2, 3);
    st_buf_reset(&out);
    metrics_render(m, &out);
    CHECK(strstr(st_buf_cstr(&out), "# HELP lat_seconds \n# TYPE lat_seconds histogram\n"
                                    "lat_seconds_bucket{table=\"silver\",le=\"1\"} 0\n"
                                    "lat_seconds_bucket{table=\"silver\",le=\"+Inf\"} 3\n"
                                    "lat_seconds_sum{table=\"silver\"} 6\n"
                                    "lat_seconds_count{table=\"silver\"} 3\n") != NULL);
    st_buf_free(&out);
    metrics_destroy(m);
}

static void test_numbers(void)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {{0, "0"}, {-3, "-3"}, {1e15, "1e+15"}, {0.1, "0.1"}, {1.0 / 3, "0.3333333333333333"},
                 {1777000000.123, "1777000000.123"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {NAN, "NaN"},
                 {123456789012345, "123456789012345"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_buf b = {0};
        metrics_append_number(&b, cases[i].v);
        CHECK_STR(st_buf_cstr(&b), cases[i].text);
        if (isfinite(cases[i].v)) CHECK(strtod(st_buf_cstr(&b), NULL) == cases[i].v);
        st_buf_free(&b);
    }
}

static void test_registration_rules(void)
{
    metrics *m = metrics_new();
    st_err e;
    const char *l[] = {"table"}, *bad[] = {"__x"}, *le[] = {"le"}, *colon[] = {"a:b"};
    CHECK(!metrics_family(m, METRIC_COUNTER, "events", "", NULL, 0, &e) && e.code == ST_ERR_ARG);
    CHECK(!metrics_family(m, METRIC_GAUGE, "9lives", "", NULL, 0, &e));
    CHECK(!metrics_family(m, METRIC_GAUGE, "a-b", "", NULL, 0, &e));
    CHECK(!metrics_family(m, METRIC_GAUGE, "ok", "", bad, 1, &e));
    CHECK(!metrics_family(m, METRIC_GAUGE, "ok", "", colon, 1, &e));
    CHECK(!metrics_family(m, METRIC_HISTOGRAM, "h", "", NULL, 0, &e));
    const double b[] = {1, 1}, good[] = {1, 2}, inf[] = {INFINITY};
    CHECK(!metrics_histogram(m, "h_seconds", "", NULL, 0, b, 2, &e));
    CHECK(!metrics_histogram(m, "h_seconds", "", NULL, 0, inf, 1, &e));
    CHECK(!metrics_histogram(m, "h_seconds", "", le, 1, good, 2, &e));
    metric_family *a = metrics_family(m, METRIC_GAUGE, "ns:g", "", l, 1, &e);
    CHECK(a && metrics_family(m, METRIC_GAUGE, "ns:g", "other help", l, 1, &e) == a);
    CHECK(!metrics_family(m, METRIC_GAUGE, "ns:g", "", NULL, 0, &e) && e.code == ST_ERR_ARG);
    CHECK(!metrics_family(m, METRIC_COUNTER, "ns:g", "", l, 1, &e));
    /* wrong-type updates are ignored, NULL is accepted */
    metric *g = metric_family_series(a, l);
    metric_observe(g, 1, 1);
    metric_set(g, 7);
    metric_add(g, -2);
    CHECK(metric_value(g) == 5 && metric_count(g) == 0);
    metric_add(NULL, 1);
    metric_set(NULL, 1);
    metric_observe(NULL, 1, 1);
    CHECK(metric_value(NULL) == 0 && isnan(metric_quantile(NULL, 0.5)));
    metrics_destroy(m);
    metrics_destroy(NULL);
}

static void test_quantile(void)
{
    metrics *m = metrics_new();
    const double b[] = {0.1, 0.2, 0.4};
    metric *h = metric_family_only(metrics_histogram(m, "q_seconds", "", NULL, 0, b, 3, NULL));
    CHECK(isnan(metric_quantile(h, 0.5)));
    metric_observe(h, 0.05, 50);  /* (0, 0.1] */
    metric_observe(h, 0.15, 50);  /* (0.1, 0.2] */
    CHECK(fabs(metric_quantile(h, 0.5) - 0.1) < 1e-12);
    CHECK(fabs(metric_quantile(h, 0.75) - 0.15) < 1e-12);
    metric_observe(h, 5, 100);    /* +Inf: the highest finite bound */
    CHECK(metric_quantile(h, 0.99) == 0.4);
    metrics_destroy(m);
}

typedef struct writer_arg {
    metric *c, *h;
    int n;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        metric_add(a->c, 1);
        metric_observe(a->h, 0.001 * (i % 100), 1);
    }
    return NULL;
}

/* Writers on two threads while renderings run: every rendering parses, the +Inf bucket always
 * equals _count, and the final totals are exact. */
static void test_concurrent(void)
{
    metrics *m = metrics_new();
    const double b[] = {0.01, 0.05};
    writer_arg a = {metric_family_only(metrics_family(m, METRIC_COUNTER, "c_total", "", NULL, 0, NULL)),
                    metric_family_only(metrics_histogram(m, "h_seconds", "", NULL, 0, b, 2, NULL)), 200000};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, writer, &a);
    int consistent = 1, renders = 0;
    for (; renders < 200; renders++) {
        st_buf out = {0};
        metrics_render(m, &out);
        const char *s = st_buf_cstr(&out);
        const char *inf = strstr(s, "h_seconds_bucket{le=\"+Inf\"} "), *cnt = strstr(s, "h_seconds_count ");
        if (!inf || !cnt ||
            strtoull(inf + strlen("h_seconds_bucket{le=\"+Inf\"} "), NULL, 10) !=
                strtoull(cnt + strlen("h_seconds_count "), NULL, 10))
            consistent = 0;
        st_buf_free(&out);
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK(consistent);
    CHECK(metric_value(a.c) == 400000);
    CHECK(metric_count(a.h) == 400000);
    metrics_destroy(m);
}

static double find_value(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static void test_process(void)
{
    metrics *m = metrics_new();
    metrics_add_process(m);
    metrics_add_process(m); /* idempotent */
    volatile double x = 0;
    for (int i = 0; i < 3000000; i++) x += i; /* some CPU time */
    st_buf out = {0};
    metrics_render(m, &out);
    const char *s = st_buf_cstr(&out);
    CHECK(strstr(s, "# TYPE process_cpu_seconds_total counter\n") != NULL);
    CHECK(find_value(s, "process_cpu_seconds_total") > 0);
    CHECK(find_value(s, "process_resident_memory_bytes") > 1 << 20);
    CHECK(find_value(s, "process_virtual_memory_bytes") >= find_value(s, "process_resident_memory_bytes"));
    double fds = find_value(s, "process_open_fds");
    CHECK(fds >= 3 && fds < 1000);
    CHECK(find_value(s, "process_max_fds") >= fds);
    double start = find_value(s, "process_start_time_seconds");
    CHECK_MSG(start > 1.5e9 && start <= (double)time(NULL) + 1, "start %f", start);
    /* each name once */
    const char *first = strstr(s, "# TYPE process_open_fds");
    CHECK(first && !strstr(first + 1, "# TYPE process_open_fds"));
    st_buf_free(&out);
    metrics_destroy(m);
}

int main(void)
{
    test_exact_text();
    test_numbers();
    test_registration_rules();
    test_quantile();
    test_concurrent();
    test_process();
    return CHECK_DONE();
}
