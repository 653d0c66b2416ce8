/* gold_job.h — Silver -> Gold window aggregates, alerts and late-event quarantine, exactly once.
 *
 * The job `smarttech gold` runs, as a library. Each micro-batch:
 *   reads the Silver versions after the last processed one (source/delta_source.h: only the
 *   files each version added), at most max_versions of them, in version order;
 *   feeds every row to the tumbling windows (state/window.h) — a late row goes to quarantine
 *   with reason "late" instead — and to the consecutive-reading alert rules;
 *   takes the windows the watermark closed (all of them with flush) as Gold rows, and feeds
 *   them to the window alert rules (state/alerts.h);
 *   saves the state (windows, alerts, watermark, counters, Kafka outbox) to
 *   <checkpoint>/state-<V>[-flush].bin, tagged with the Silver version V it reached, BEFORE
 *   any commit (the previous state file is kept, older ones deleted);
 *   commits gold_room_1m, alerts_delta and quarantine_delta, each with a txn action
 *   appId "gold/<silver table id>", version V (plus appId "gold/<silver table id>/flush",
 *   version V, when the batch flushed) — an empty batch still commits, so the three tables
 *   always record how far they are;
 *   then sends the batch's alerts to Kafka (when brokers are set).
 * Restart: the position of a table is (V, flushed) read from its txn actions. When the three
 * agree, the state file with that tag is loaded and the job goes on at V + 1. When they differ
 * (a crash between the commits of one batch), the state of the lowest position is loaded and
 * that one batch is computed again and committed to the tables that lack it only. A missing
 * state file for a committed position is an error (checkpoint and outputs disagree).
 * Results are independent of batch boundaries (the watermark advances at the end of each Silver
 * version, whatever the batch), so a run that is killed and restarted any number of times writes
 * the same Gold, alerts and quarantine rows as an uninterrupted one; only wall-clock columns
 * (detection_time, ingest_time) differ.
 *
 * Anomalies (unless turned off): every row also goes to the per-sensor anomaly model, which
 * moves its partition watermarks at the end of each Silver version; its open/close events
 * become rows of anomalies_delta (same txn scheme) and alerts (rule "anomaly:<kind>"); its
 * state is part of the state file. An anomalies table that is behind Gold's state by more
 * than the batch a crash can leave half-committed (new, or Gold ran with anomalies off)
 * joins at Gold's position with a fresh model (a warning says so): the readings in between
 * are not judged.
 *
 * Kafka (at-least-once): alert messages are sent after the Delta commits. They are kept in the
 * state file (outbox) until the producer confirmed delivery, then <checkpoint>/kafka-sent
 * records the last delivered position; after a crash before that, they are sent again
 * (duplicates possible, loss not). Without brokers, alerts go to Delta only.
 *
 * Flush (with once): treat the end of the available input as watermark = +infinity: every open
 * window is emitted. Later input for flushed windows counts as late (see window.h).
 *
 * Input: a record source (source/record_source.h) with one stream whose positions are Silver
 * versions, each closed by a RECORD_DONE marker, and whose data records carry the columns below
 * as fields (origin/origin_row: the Silver data file and row, for the quarantine's provenance).
 * gold_job_run reads the Silver table with source/delta_source.h; gold_job_run_source takes any
 * such source (the in-memory one in tests); its id names Silver in the appIds and state files.
 */
#ifndef ST_STREAM_GOLD_JOB_H
#define ST_STREAM_GOLD_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka.h"
#include "pipeline/maintenance.h"
#include "source/record_source.h"
#include "pipeline/job_stats.h"
#include "state/anomaly.h"
#include "util/err.h"

typedef struct gold_config {
    const char *silver_path;      /* default data/output/silver_delta */
    const char *gold_path;        /* default data/output/gold_room_1m */
    const char *alerts_path;      /* default data/output/alerts_delta */
    const char *quarantine_path;  /* default data/output/quarantine_delta */
    const char *checkpoint;       /* default data/checkpoints/gold */
    const char *rules_path;       /* alert rules file; NULL (default): built-in rules */
    const char *brokers;          /* NULL (default): alerts to Delta only */
    const char *alerts_topic;     /* default "iot_alerts" (created with 1 partition if missing) */
    const kafka_props *props;     /* -X key=value for the producer; may be NULL */
    int64_t window_us;            /* default 1 min */
    int64_t lateness_us;          /* default 2 min */
    int64_t trigger_us;           /* default 1 s: how often to look for new Silver versions */
    int max_versions;             /* Silver versions per batch, default 50 */
    int64_t start_version;        /* first Silver version to read on a fresh start, default 0 */
    int once;                     /* process what is there when the job starts, then stop */
    int flush;                    /* with once: emit every open window at the end */
    int64_t wait_for_silver_us;   /* without once: how long to wait for the Silver table to appear
                                     (default: forever, -1); with once a missing table is an error */
    job_stats *metrics;           /* borrowed, may be NULL: counters, tables and readiness (ready = the
                                     Silver table opens) for --metrics; plus the GOLD_METRIC_* below */
    const maint_config *maintenance; /* NULL: none. Else the output tables are maintained beside the
                                     job (pipeline/maintenance.h); borrowed for the run */
    int anomalies;                /* default 1: anomaly detection per sensor (state/anomaly.h) into
                                     anomalies_path, and alerts rule "anomaly:<kind>"; 0: off */
    const char *anomalies_path;   /* default data/output/anomalies_delta */
    const anomaly_params *anomaly_params; /* NULL: defaults; its lateness is always lateness_us */
} gold_config;

/* Gold's own families on job_stats_metrics(c->metrics) (besides the shared ones). */
#define GOLD_METRIC_SILVER_VERSION "smarttech_gold_silver_version"          /* gauge: last Silver version done */
#define GOLD_METRIC_SILVER_LATEST "smarttech_gold_silver_latest_version"    /* gauge: latest Silver version seen */
#define GOLD_METRIC_WINDOWS_EMITTED "smarttech_gold_windows_emitted_total"  /* counter */
#define GOLD_METRIC_WINDOWS_OPEN "smarttech_gold_windows_open"              /* gauge */
#define GOLD_METRIC_ALERTS_OPENED "smarttech_gold_alerts_opened_total"      /* counter */
#define GOLD_METRIC_ALERTS_CLOSED "smarttech_gold_alerts_closed_total"      /* counter */
#define GOLD_METRIC_ALERTS_OPEN "smarttech_gold_alerts_open"                /* gauge */
#define GOLD_METRIC_WATERMARK "smarttech_gold_watermark_timestamp_seconds"  /* gauge (Unix s) */

void gold_config_init(gold_config *c);

/* The Silver columns Gold reads, in the order its input records carry them as fields. All
 * but source_partition must be non-null; a null partition counts as partition -1 (the
 * anomaly model keeps a watermark per source partition). */
enum {
    GOLD_IN_EVENT_ID = 0, GOLD_IN_SENSOR_ID, GOLD_IN_BUILDING_ID, GOLD_IN_FLOOR, GOLD_IN_ROOM_ID,
    GOLD_IN_SENSOR_TYPE, GOLD_IN_VALUE, GOLD_IN_EVENT_TIME, GOLD_IN_PARTITION, GOLD_IN_COLUMNS
};
extern const char *const gold_input_columns[GOLD_IN_COLUMNS];

typedef struct gold_stats {
    int64_t silver_version;       /* last Silver version fully processed (-1: none) */
    int64_t silver_latest;        /* latest Silver version seen */
    int flushed;                  /* the last batch flushed */
    uint64_t batches;             /* batches committed by this run */
    /* cumulative over the job's life (kept in the state file): */
    uint64_t rows_in, rows_late, windows_emitted, alerts_opened, alerts_closed;
    uint64_t windows_open, alerts_open;
    int64_t watermark_us;         /* INT64_MIN before any row */
    int64_t max_event_time_us;
    uint64_t anomalies_opened, anomalies_closed, anomalies_open; /* (cumulative, kept in the state file) */
    uint64_t anomaly_sensors;     /* sensors the anomaly model follows */
    uint64_t anomaly_bytes;       /* heap bytes of the anomaly model (bounded per sensor) */
    uint64_t last_batch_anomalies;
    int64_t versions[4];          /* gold, alerts, quarantine, anomalies: latest committed version (-1: none) */
    uint64_t last_batch_rows, last_batch_windows, last_batch_late, last_batch_alerts;
    int64_t last_batch_us;        /* duration of the last batch */
    int recovered;                /* this run redid a batch that a crash left half-committed */
    uint64_t kafka_produced, kafka_delivered, kafka_failed, kafka_pending;
    char warning[256];            /* last non-fatal problem (Kafka down, ...), "" if none */
} gold_stats;

/* Called after every batch and every idle poll. event: "batch", "idle", "recovered", "warning". */
typedef void (*gold_progress_fn)(const gold_stats *s, const char *event, void *opaque);

/* Runs until *stop becomes non-zero (checked between batches: a batch is committed or not
 * started, never half-done), or with once when the versions present at start are processed,
 * or on a fatal error: ST_ERR_* with a message naming the table/file and what to do.
 * stop, cb and stats may be NULL. */
st_code gold_job_run(const gold_config *c, const volatile sig_atomic_t *stop, gold_progress_fn cb, void *opaque,
                     gold_stats *stats, st_err *e);

/* The same on records from src (borrowed: the caller destroys it) instead of c->silver_path's
 * table; c->silver_path still prefixes the quarantine's file column and names Silver in
 * messages. */
st_code gold_job_run_source(const gold_config *c, record_source *src, const volatile sig_atomic_t *stop,
                            gold_progress_fn cb, void *opaque, gold_stats *stats, st_err *e);

#endif
