/* silver_job.h — Kafka -> raw Bronze (bronze_kafka), clean Silver and quarantine, exactly once.
 *
 * The job Spark Structured Streaming does in the original design, as a library the CLI
 * (`smarttech silver`) drives. Each micro-batch:
 *   consume up to max_events records or until the trigger interval ends;
 *   bronze_kafka gets every record as it came (value, key, topic, partition, offset, times);
 *   each value is parsed, validated and normalized (iot/event.h); valid, first-seen events
 *   (dedup by event_id within a watermark, per partition) go to Silver, the rest to
 *   quarantine with the reason;
 *   each table is committed atomically with one `txn` action per partition it advanced
 *   (appId "<group>/<topic>/<partition>", version = next offset to read).
 * On start and after every rebalance the consumer seeks each partition to the lowest offset
 * the three tables hold, and each table skips the records it already has: the tables are the
 * only source of truth for offsets (offsets are also committed to Kafka, for lag monitoring).
 *
 * The reference clock of the "future timestamp" rule is the record's Kafka timestamp (not the
 * wall clock), so reprocessing a record after a crash always gives the same verdict.
 *
 * The records come through source/record_source.h (streams = partitions, positions = offsets):
 * silver_job_run builds the Kafka source from the config; silver_job_run_source takes any source
 * (the in-memory one in tests). A pipeline of three threads over three record buffers, so that
 * both cores work during a drain: the caller's collects batch N+2 (and serves the source's
 * rebalance handlers), a parser parses, validates and deduplicates batch N+1, a committer writes
 * and commits batch N (bronze_kafka on a thread of its own beside Silver and quarantine). The
 * parser seals a batch's dedup ids and hands it on only once the committer's previous batch is
 * committed; the committer writes those ids before the batch's Silver commit; after a failed batch
 * the parser drops what it holds and nothing is committed until the partitions are sought back to
 * the tables. Memory: three batches of records, two of rows.
 */
#ifndef ST_STREAM_SILVER_JOB_H
#define ST_STREAM_SILVER_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "iot/event.h"
#include "kafka/kafka.h"
#include "pipeline/maintenance.h"
#include "source/record_source.h"
#include "pipeline/job_stats.h"
#include "util/err.h"

typedef enum silver_from { SILVER_FROM_EARLIEST = 0, SILVER_FROM_LATEST, SILVER_FROM_TIMESTAMP } silver_from;

typedef struct silver_config {
    const char *brokers;          /* default "localhost:9092" */
    const char *topic;            /* default "iot_smartech" */
    const char *group;            /* default "smarttech-silver" */
    const char *bronze_path;      /* default data/output/bronze_kafka */
    const char *silver_path;      /* default data/output/silver_delta */
    const char *quarantine_path;  /* default data/output/quarantine_delta */
    const char *checkpoint;       /* default data/checkpoints/silver_kafka */
    int64_t trigger_us;           /* default 500 ms: longest time a record waits before its batch starts */
    size_t max_events;            /* default 20,000 records per batch (backpressure and memory bound) */
    silver_from from;             /* where to start when the tables hold no offset: default earliest */
    int64_t from_timestamp_ms;    /* for SILVER_FROM_TIMESTAMP */
    int64_t dedup_delay_us;       /* default 10 min of event time */
    int64_t future_tolerance_us;  /* default 5 min ahead of the record's Kafka timestamp */
    const kafka_props *props;     /* -X key=value, applied last; may be NULL */
    int once;                     /* stop when every assigned partition is caught up */
    int64_t once_idle_us;         /* with once: also stop after this long without assignment/data (default 60 s) */
    job_stats *metrics;           /* borrowed, may be NULL: counters, tables, lag and readiness (ready =
                                     brokers answer and partitions are assigned) for --metrics */
    const maint_config *maintenance; /* NULL: none. Else the three tables are maintained beside the
                                    job (pipeline/maintenance.h); borrowed for the run */
} silver_config;

void silver_config_init(silver_config *c);

#define SILVER_LAT_BUCKETS 4096   /* latency histogram: 10 ms buckets up to ~41 s */

typedef struct silver_stats {
    uint64_t batches;
    uint64_t events_in;
    uint64_t bronze_rows;
    uint64_t silver_rows;
    uint64_t quarantined;
    uint64_t duplicates;
    uint64_t by_reason[IOT_REASON_COUNT];      /* per iot_reason (IOT_EMPTY_VALUE: records with no value) */
    int64_t versions[3];          /* bronze_kafka, silver, quarantine: latest committed version */
    int64_t lag;                  /* records behind the partitions' end offsets after the last batch, -1 unknown */
    int64_t last_batch_us;        /* duration of the last batch */
    uint64_t last_batch_in, last_batch_silver, last_batch_quarantined, last_batch_dups;
    double last_batch_latency_p99_ms; /* Kafka timestamp -> commit of the last batch's Silver rows, -1 none */
    /* dedup state after the last batch, and at its largest (bytes / ids = bytes per live id) */
    uint64_t dedup_live_ids, dedup_bytes, dedup_peak_ids, dedup_peak_bytes;
    int broker_down;              /* last poll reported all brokers down */
    char broker_error[256];
    uint64_t latency_hist[SILVER_LAT_BUCKETS]; /* Kafka timestamp -> Silver commit visible, ms/10 */
    uint64_t latency_count;
} silver_stats;

/* Latency percentile (0..100) in milliseconds from the histogram, -1 when empty. */
double silver_stats_latency_ms(const silver_stats *s, double pct);

/* Called after every committed batch and on notable events (progress output). */
typedef void (*silver_progress_fn)(const silver_stats *s, const char *event, void *opaque);

/* Runs until *stop becomes non-zero (the in-flight batch is then finished and committed, never
 * left half-done), or with once when caught up, or on a fatal error (offsets out of range,
 * table conflict, unreadable table): ST_ERR_* with a message naming the partition/table and
 * what the user can do. Transient failures (broker down, disk full) are reported through the
 * progress callback and retried with backoff. stats may be NULL. */
st_code silver_job_run(const silver_config *c, const volatile sig_atomic_t *stop, silver_progress_fn cb,
                       void *opaque, silver_stats *stats, st_err *e);

/* The same job on records from src (borrowed) instead of the Kafka consumer c->brokers/c->group
 * would make; c->topic and c->group still name the appIds and the bronze_kafka/quarantine
 * topic column. The job sets src's handlers, and closes src when it stops (a group source
 * leaves its group); the caller destroys it. */
st_code silver_job_run_source(const silver_config *c, record_source *src, const volatile sig_atomic_t *stop,
                              silver_progress_fn cb, void *opaque, silver_stats *stats, st_err *e);

#endif
