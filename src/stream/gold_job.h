/* gold_job.h — Silver -> Gold window aggregates, alerts and late-event quarantine, exactly once.
 *
 * The job `smarttech gold` runs, as a library. Each micro-batch:
 *   reads the Silver versions after the last processed one (stream/delta_source.h: only the
 *   files each version added), at most max_versions of them, in version order;
 *   feeds every row to the tumbling windows (stream/window.h) — a late row goes to quarantine
 *   with reason "late" instead — and to the consecutive-reading alert rules;
 *   takes the windows the watermark closed (all of them with flush) as Gold rows, and feeds
 *   them to the window alert rules (stream/alerts.h);
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
 * Kafka (at-least-once): alert messages are sent after the Delta commits. They are kept in the
 * state file (outbox) until the producer confirmed delivery, then <checkpoint>/kafka-sent
 * records the last delivered position; after a crash before that, they are sent again
 * (duplicates possible, loss not). Without brokers, alerts go to Delta only.
 *
 * Flush (with once): treat the end of the available input as watermark = +infinity: every open
 * window is emitted. Later input for flushed windows counts as late (see window.h).
 */
#ifndef ST_STREAM_GOLD_JOB_H
#define ST_STREAM_GOLD_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka.h"
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
} gold_config;

void gold_config_init(gold_config *c);

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
    int64_t versions[3];          /* gold, alerts, quarantine: latest committed version */
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

#endif
