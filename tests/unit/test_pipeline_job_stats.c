/* test_pipeline_job_stats.c — the one stats type of the jobs (pipeline/job_stats.h): what the
 * data path adds is what the progress getters read and what the exposition text shows. */
#include "check.h"
#include "pipeline/job_stats.h"

#include <string.h>

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    return 0;
}

int main(void)
{
    job_stats *s = job_stats_new("silver");
    CHECK_STR(job_stats_job(s), "silver");
    char why[128];
    CHECK(!job_stats_ready(s, why, sizeof why));
    CHECK_STR(why, "starting");

    job_stats_add(s, JOB_EVENTS_IN, 120);
    job_stats_add(s, JOB_DUPLICATES, 3);
    job_stats_quarantined(s, IOT_MALFORMED_JSON, 4);
    job_stats_quarantined(s, IOT_LATE, 1);
    job_stats_quarantined(s, IOT_MALFORMED_JSON, 2);
    job_stats_batch_done(s, 250000);
    job_stats_latency(s, 0.3, 100);
    job_stats_latency(s, -1, 13); /* clock skew: counted as 0 */
    job_stats_lag(s, "iot", 0, 10);
    job_stats_lag(s, "iot", 1, 5);
    job_stats_lag(s, "iot", 0, 0);
    job_stats_lag(s, "iot", 2, -1); /* unknown: no series */
    job_table *t = job_stats_table(s, "silver");
    CHECK(job_stats_table(s, "silver") == t);
    CHECK(job_table_version(t) == -1);
    job_table_committed(t, 100, 1, 0);
    job_table_committed(t, 13, 4, 1); /* 3 retries, 2 of them conflicts */
    job_table_set(t, 7, 12, 1700000000500);
    job_stats_set_ready(s, 1, NULL);

    CHECK(job_stats_count(s, JOB_EVENTS_IN) == 120);
    CHECK(job_stats_count(s, JOB_BATCHES) == 1);
    CHECK(job_stats_count(s, JOB_LATENCY_SECONDS) == 113);
    CHECK(job_stats_quarantined_by(s, IOT_MALFORMED_JSON) == 6);
    CHECK(job_stats_quarantined_total(s) == 7);
    CHECK(job_stats_lag_total(s) == 5);
    CHECK(job_table_rows(t) == 113 && job_table_version(t) == 7);
    CHECK(job_stats_ready(s, why, sizeof why) && !why[0]);
    const char *lab[] = {"silver"};
    CHECK(job_stats_value(s, "smarttech_commit_retries_total", lab) == 3);
    CHECK(job_stats_value(s, "no_such_metric", NULL) == 0);

    st_buf out = {0};
    metrics_render(job_stats_metrics(s), &out);
    const char *x = st_buf_cstr(&out);
    CHECK(has_line(x, "smarttech_events_in_total 120"));
    CHECK(has_line(x, "smarttech_duplicates_dropped_total 3"));
    CHECK(has_line(x, "smarttech_quarantined_total{reason=\"malformed_json\"} 6"));
    CHECK(has_line(x, "smarttech_quarantined_total{reason=\"late\"} 1"));
    CHECK(has_line(x, "smarttech_rows_written_total{table=\"silver\"} 113"));
    CHECK(has_line(x, "smarttech_commits_total{table=\"silver\"} 2"));
    CHECK(has_line(x, "smarttech_commit_conflicts_total{table=\"silver\"} 2"));
    CHECK(has_line(x, "smarttech_table_version{table=\"silver\"} 7"));
    CHECK(has_line(x, "smarttech_table_active_files{table=\"silver\"} 12"));
    CHECK(has_line(x, "smarttech_table_last_commit_timestamp_seconds{table=\"silver\"} 1700000000.5"));
    CHECK(has_line(x, "smarttech_consumer_lag{topic=\"iot\",partition=\"0\"} 0"));
    CHECK(has_line(x, "smarttech_consumer_lag{topic=\"iot\",partition=\"1\"} 5"));
    CHECK(!strstr(x, "partition=\"2\""));
    CHECK(has_line(x, "smarttech_batch_duration_seconds_bucket{le=\"0.25\"} 1"));
    CHECK(has_line(x, "smarttech_batch_duration_seconds_bucket{le=\"0.1\"} 0"));
    CHECK(has_line(x, "smarttech_end_to_end_latency_seconds_bucket{le=\"0.001\"} 13"));
    CHECK(has_line(x, "smarttech_end_to_end_latency_seconds_count 113"));
    CHECK(has_line(x, "smarttech_ready 1"));
    CHECK(has_line(x, "# TYPE process_resident_memory_bytes gauge"));

    job_stats_set_ready(s, 0, "broker down");
    CHECK(!job_stats_ready(s, why, sizeof why));
    CHECK_STR(why, "broker down");
    st_buf_free(&out);
    job_stats_destroy(s);
    job_stats_destroy(NULL);
    return CHECK_DONE();
}
