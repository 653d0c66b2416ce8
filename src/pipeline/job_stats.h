/* job_stats.h — the one stats type of every job (bronze, silver, gold, simulate): the numbers its
 * progress lines print are the numbers `GET /metrics` serves, read from the same counters.
 *
 * A job_stats owns a metrics registry (pipeline/metrics.h) holding the process_* metrics and the
 * families every job shares, all named smarttech_*:
 *   events_in_total                       records the job read (Kafka records, Silver rows, file records)
 *   rows_written_total{table}             rows committed to each output table
 *   quarantined_total{reason}             rows sent to quarantine, by reason (iot_reason_str)
 *   duplicates_dropped_total              events dropped as already seen
 *   batches_total                         micro-batches committed
 *   batch_duration_seconds                histogram: one micro-batch, read to committed
 *   end_to_end_latency_seconds            histogram: record timestamp (Kafka) -> its committed version
 *   consumer_lag{topic,partition}         records between the committed position and the end
 *   commits_total{table}                  commits that landed
 *   commit_retries_total{table}           extra put-if-absent attempts (conflicts + ambiguous puts)
 *   commit_conflicts_total{table}         attempts lost to another writer
 *   table_version{table}                  latest version this job committed or read
 *   table_active_files{table}             data files in that version
 *   table_last_commit_timestamp_seconds{table}  when that version was committed (Unix time)
 *   ready                                 1 when /readyz answers 200
 * Job-specific figures are families the job registers on job_stats_metrics() itself (names in
 * its header), read back by the progress printer with job_stats_value().
 *
 * Cost: the data path calls these once per batch (or per partition per batch): each is one or two
 * atomic operations on a series found once; nothing takes a lock a scrape holds, except the first
 * use of a new label value (a table, a reason, a partition).
 * Threads: every function may be called from any thread.
 * Ownership: job_stats owns its registry and every series; job_table pointers live as long.
 */
#ifndef ST_PIPELINE_JOB_STATS_H
#define ST_PIPELINE_JOB_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "delta/delta.h"
#include "iot/event.h"
#include "pipeline/metrics.h"

typedef struct job_stats job_stats;
typedef struct job_table job_table;

/* Bucket bounds (seconds) of the two histograms: 1 ms .. 5 min. */
#define JOB_STATS_NBUCKETS 17
extern const double job_stats_buckets[JOB_STATS_NBUCKETS];

typedef enum job_stat {
    JOB_EVENTS_IN = 0,     /* counter */
    JOB_DUPLICATES,        /* counter */
    JOB_BATCHES,           /* counter */
    JOB_BATCH_SECONDS,     /* histogram */
    JOB_LATENCY_SECONDS,   /* histogram */
    JOB_STAT_COUNT
} job_stat;

/* A new set for the job named `job` ("silver", ...; for messages). Never NULL. */
job_stats *job_stats_new(const char *job);
void job_stats_destroy(job_stats *s); /* NULL-safe */

/* The registry (borrowed): render it, or register the job's own families on it. */
metrics *job_stats_metrics(job_stats *s);
const char *job_stats_job(const job_stats *s);

/* One of the shared scalar series (never NULL for a valid which). */
metric *job_stats_get(job_stats *s, job_stat which);

/* Shorthands for the data path. */
void job_stats_add(job_stats *s, job_stat which, uint64_t n);
void job_stats_quarantined(job_stats *s, iot_reason r, uint64_t n);
/* One committed batch: batches_total + 1 and its duration observed. */
void job_stats_batch_done(job_stats *s, int64_t duration_us);
/* n records whose timestamp was latency_s before their commit became visible. */
void job_stats_latency(job_stats *s, double latency_s, uint64_t n);
/* Sets the lag of one partition; lag < 0 (unknown) leaves the last known value. */
void job_stats_lag(job_stats *s, const char *topic, int32_t partition, int64_t lag);

/* Reading back (progress lines, tests). */
double job_stats_count(job_stats *s, job_stat which);         /* counter value, histogram count */
uint64_t job_stats_quarantined_by(job_stats *s, iot_reason r);
uint64_t job_stats_quarantined_total(job_stats *s);
/* Sum of every partition's lag, -1 when none is known. */
int64_t job_stats_lag_total(job_stats *s);
/* Value of any series of the registry (a job-specific family), 0 when it does not exist. */
double job_stats_value(job_stats *s, const char *name, const char *const *labels);

/* Readiness (/readyz): ready = 1, or 0 with the reason (copied; why the job cannot work yet:
 * "broker localhost:9092 unreachable: ..."). Jobs start not ready ("starting"). */
void job_stats_set_ready(job_stats *s, int ready, const char *reason);
/* 1 when ready; otherwise 0 and the reason into buf. */
int job_stats_ready(job_stats *s, char *buf, size_t n);

/* The stats of output table `name` ("silver", ...), registered the first time. */
job_table *job_stats_table(job_stats *s, const char *name);
/* A commit of `rows` rows landed after `attempts` put attempts, `ambiguous` of them read back. */
void job_table_committed(job_table *t, int64_t rows, int attempts, int ambiguous);
/* Version, active files and last commit time, from the handle's snapshot. */
void job_table_observe(job_table *t, const delta_table *dt);
void job_table_set(job_table *t, int64_t version, int64_t active_files, int64_t last_commit_ms);
double job_table_rows(const job_table *t);
int64_t job_table_version(const job_table *t);   /* -1 before any */

#endif
