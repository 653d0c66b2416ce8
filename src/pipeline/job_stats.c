/* job_stats.c — the one stats type of every job (job_stats.h). */
#include "pipeline/job_stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

const double job_stats_buckets[JOB_STATS_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                      1,     2.5,    5,     10,   30,    60,   120, 300};

struct job_table {
    char *name;
    metric *rows, *commits, *retries, *conflicts, *version, *files, *last_commit;
    job_table *next;
};

typedef struct lag_slot {
    char *topic;
    int32_t partition;
    int64_t lag;              /* last known, -1 none */
    metric *m;
} lag_slot;

struct job_stats {
    char *job;
    metrics *reg;
    metric *scalar[JOB_STAT_COUNT];
    metric *ready_m;
    metric_family *rows, *commits, *retries, *conflicts, *version, *files, *last_commit, *quarantined, *lag;
    _Atomic(metric *) by_reason[IOT_REASON_COUNT];
    pthread_mutex_t mu;       /* tables, lag slots, readiness text: never held during I/O */
    job_table *tables;
    lag_slot *lags;
    size_t nlags, caplags;
    int ready;
    char reason[512];
};

static metric_family *fam(job_stats *s, metric_type t, const char *name, const char *help, const char *label)
{
    const char *l[] = {label};
    return metrics_family(s->reg, t, name, help, l, label ? 1 : 0, NULL);
}

job_stats *job_stats_new(const char *job)
{
    job_stats *s = st_xcalloc(1, sizeof *s);
    s->job = st_xstrdup(job ? job : "job");
    s->reg = metrics_new();
    pthread_mutex_init(&s->mu, NULL);
    metrics_add_process(s->reg);
    s->scalar[JOB_EVENTS_IN] = metric_family_only(
        fam(s, METRIC_COUNTER, "smarttech_events_in_total", "Records the job read from its input.", NULL));
    s->rows = fam(s, METRIC_COUNTER, "smarttech_rows_written_total", "Rows committed to each output table.", "table");
    s->quarantined =
        fam(s, METRIC_COUNTER, "smarttech_quarantined_total", "Rows sent to the quarantine table, by reason.", "reason");
    s->scalar[JOB_DUPLICATES] = metric_family_only(fam(s, METRIC_COUNTER, "smarttech_duplicates_dropped_total",
                                                       "Events dropped because their event_id was already seen.", NULL));
    s->scalar[JOB_BATCHES] =
        metric_family_only(fam(s, METRIC_COUNTER, "smarttech_batches_total", "Micro-batches committed.", NULL));
    s->scalar[JOB_BATCH_SECONDS] = metric_family_only(
        metrics_histogram(s->reg, "smarttech_batch_duration_seconds", "Time of one micro-batch, read to committed.",
                          NULL, 0, job_stats_buckets, JOB_STATS_NBUCKETS, NULL));
    s->scalar[JOB_LATENCY_SECONDS] = metric_family_only(metrics_histogram(
        s->reg, "smarttech_end_to_end_latency_seconds",
        "Time from a record's timestamp (Kafka) to the commit of the table version holding it.", NULL, 0,
        job_stats_buckets, JOB_STATS_NBUCKETS, NULL));
    const char *ll[] = {"topic", "partition"};
    s->lag = metrics_family(s->reg, METRIC_GAUGE, "smarttech_consumer_lag",
                            "Records between the position the tables hold and the partition's end.", ll, 2, NULL);
    s->commits = fam(s, METRIC_COUNTER, "smarttech_commits_total", "Commits that landed, by table.", "table");
    s->retries = fam(s, METRIC_COUNTER, "smarttech_commit_retries_total",
                     "Extra commit attempts (conflicts and ambiguous puts), by table.", "table");
    s->conflicts = fam(s, METRIC_COUNTER, "smarttech_commit_conflicts_total",
                       "Commit attempts lost to another writer, by table.", "table");
    s->version = fam(s, METRIC_GAUGE, "smarttech_table_version", "Latest version committed or read, by table.", "table");
    s->files = fam(s, METRIC_GAUGE, "smarttech_table_active_files", "Data files in that version, by table.", "table");
    s->last_commit = fam(s, METRIC_GAUGE, "smarttech_table_last_commit_timestamp_seconds",
                         "Commit time of that version (Unix seconds), by table.", "table");
    s->ready_m = metric_family_only(
        fam(s, METRIC_GAUGE, "smarttech_ready", "1 when the job is ready (GET /readyz answers 200).", NULL));
    snprintf(s->reason, sizeof s->reason, "starting");
    return s;
}

void job_stats_destroy(job_stats *s)
{
    if (!s) return;
    for (job_table *t = s->tables, *n; t; t = n) {
        n = t->next;
        free(t->name);
        free(t);
    }
    for (size_t i = 0; i < s->nlags; i++) free(s->lags[i].topic);
    free(s->lags);
    metrics_destroy(s->reg);
    pthread_mutex_destroy(&s->mu);
    free(s->job);
    free(s);
}

metrics *job_stats_metrics(job_stats *s)
{
    return s->reg;
}

const char *job_stats_job(const job_stats *s)
{
    return s->job;
}

metric *job_stats_get(job_stats *s, job_stat which)
{
    return s && (unsigned)which < JOB_STAT_COUNT ? s->scalar[which] : NULL;
}

void job_stats_add(job_stats *s, job_stat which, uint64_t n)
{
    if (s && n) metric_add(job_stats_get(s, which), (double)n);
}

/* The reason's series, created on its first use (a lock once per reason). */
static metric *reason_series(job_stats *s, iot_reason r)
{
    if ((unsigned)r >= IOT_REASON_COUNT) r = IOT_OK;
    metric *m = atomic_load_explicit(&s->by_reason[r], memory_order_acquire);
    if (m) return m;
    const char *v[] = {r == IOT_OK ? "unknown" : iot_reason_str(r)};
    m = metric_family_series(s->quarantined, v); /* the same series if two threads race here */
    atomic_store_explicit(&s->by_reason[r], m, memory_order_release);
    return m;
}

void job_stats_quarantined(job_stats *s, iot_reason r, uint64_t n)
{
    if (s && n) metric_add(reason_series(s, r), (double)n);
}

void job_stats_batch_done(job_stats *s, int64_t duration_us)
{
    if (!s) return;
    metric_add(s->scalar[JOB_BATCHES], 1);
    metric_observe(s->scalar[JOB_BATCH_SECONDS], (double)duration_us / 1e6, 1);
}

void job_stats_latency(job_stats *s, double latency_s, uint64_t n)
{
    if (s) metric_observe(s->scalar[JOB_LATENCY_SECONDS], latency_s < 0 ? 0 : latency_s, n);
}

void job_stats_lag(job_stats *s, const char *topic, int32_t partition, int64_t lag)
{
    if (!s || lag < 0) return;
    pthread_mutex_lock(&s->mu);
    lag_slot *slot = NULL;
    for (size_t i = 0; i < s->nlags && !slot; i++)
        if (s->lags[i].partition == partition && !strcmp(s->lags[i].topic, topic)) slot = &s->lags[i];
    if (!slot) {
        if (s->nlags == s->caplags) {
            s->caplags = s->caplags ? s->caplags * 2 : 8;
            s->lags = st_xrealloc(s->lags, s->caplags * sizeof *s->lags);
        }
        slot = &s->lags[s->nlags++];
        char p[16];
        snprintf(p, sizeof p, "%d", (int)partition);
        const char *v[] = {topic, p};
        slot->topic = st_xstrdup(topic);
        slot->partition = partition;
        slot->m = metric_family_series(s->lag, v);
    }
    slot->lag = lag;
    metric_set(slot->m, (double)lag);
    pthread_mutex_unlock(&s->mu);
}

double job_stats_count(job_stats *s, job_stat which)
{
    metric *m = job_stats_get(s, which);
    return which == JOB_BATCH_SECONDS || which == JOB_LATENCY_SECONDS ? (double)metric_count(m) : metric_value(m);
}

uint64_t job_stats_quarantined_by(job_stats *s, iot_reason r)
{
    if (!s || (unsigned)r >= IOT_REASON_COUNT) return 0;
    metric *m = atomic_load_explicit(&s->by_reason[r], memory_order_acquire);
    return (uint64_t)metric_value(m);
}

uint64_t job_stats_quarantined_total(job_stats *s)
{
    uint64_t n = 0;
    for (int r = 0; r < IOT_REASON_COUNT; r++) n += job_stats_quarantined_by(s, (iot_reason)r);
    return n;
}

int64_t job_stats_lag_total(job_stats *s)
{
    pthread_mutex_lock(&s->mu);
    int64_t sum = -1;
    for (size_t i = 0; i < s->nlags; i++)
        if (s->lags[i].lag >= 0) sum = (sum < 0 ? 0 : sum) + s->lags[i].lag;
    pthread_mutex_unlock(&s->mu);
    return sum;
}

double job_stats_value(job_stats *s, const char *name, const char *const *labels)
{
    double v = 0;
    if (metrics_lookup(s->reg, name, labels, &v, NULL) != ST_OK) return 0;
    return v;
}

void job_stats_set_ready(job_stats *s, int ready, const char *reason)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->ready = ready != 0;
    snprintf(s->reason, sizeof s->reason, "%s", ready ? "" : reason && *reason ? reason : "not ready");
    pthread_mutex_unlock(&s->mu);
    metric_set(s->ready_m, ready ? 1 : 0);
}

int job_stats_ready(job_stats *s, char *buf, size_t n)
{
    pthread_mutex_lock(&s->mu);
    int r = s->ready;
    if (buf && n) snprintf(buf, n, "%s", s->reason);
    pthread_mutex_unlock(&s->mu);
    return r;
}

job_table *job_stats_table(job_stats *s, const char *name)
{
    if (!s) return NULL;
    pthread_mutex_lock(&s->mu);
    job_table *t = s->tables;
    while (t && strcmp(t->name, name)) t = t->next;
    if (!t) {
        t = st_xcalloc(1, sizeof *t);
        t->name = st_xstrdup(name);
        const char *v[] = {name};
        t->rows = metric_family_series(s->rows, v);
        t->commits = metric_family_series(s->commits, v);
        t->retries = metric_family_series(s->retries, v);
        t->conflicts = metric_family_series(s->conflicts, v);
        t->version = metric_family_series(s->version, v);
        t->files = metric_family_series(s->files, v);
        t->last_commit = metric_family_series(s->last_commit, v);
        metric_set(t->version, -1);
        t->next = s->tables;
        s->tables = t;
    }
    pthread_mutex_unlock(&s->mu);
    return t;
}

void job_table_committed(job_table *t, int64_t rows, int attempts, int ambiguous)
{
    if (!t) return;
    metric_add(t->commits, 1);
    if (rows > 0) metric_add(t->rows, (double)rows);
    if (attempts > 1) {
        metric_add(t->retries, attempts - 1);
        int lost = attempts - 1 - (ambiguous > 0 ? ambiguous : 0);
        if (lost > 0) metric_add(t->conflicts, lost);
    }
}

void job_table_set(job_table *t, int64_t version, int64_t active_files, int64_t last_commit_ms)
{
    if (!t) return;
    metric_set(t->version, (double)version);
    if (active_files >= 0) metric_set(t->files, (double)active_files);
    if (last_commit_ms > 0) metric_set(t->last_commit, (double)last_commit_ms / 1000.0);
}

void job_table_observe(job_table *t, const delta_table *dt)
{
    if (!t || !dt) return;
    const delta_snapshot *snap = delta_table_snapshot(dt);
    if (!snap) return;
    job_table_set(t, delta_snapshot_version(snap), (int64_t)delta_snapshot_num_files(snap),
                  delta_snapshot_last_commit_ms(snap));
}

double job_table_rows(const job_table *t)
{
    return t ? metric_value(t->rows) : 0;
}

int64_t job_table_version(const job_table *t)
{
    return t ? (int64_t)metric_value(t->version) : -1;
}
