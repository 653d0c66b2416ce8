/* bronze_job.h — `smarttech bronze` as a library: stream the JSON files that appear in
 * an input directory into the Bronze Delta table (bronze_output), rows that cannot be
 * typed into the quarantine table, each file exactly once across crashes and restarts.
 *
 * One batch:
 *   1. poll the input directory; take the settled files (file_source.h), oldest first,
 *      up to max_files_per_batch / max_bytes_per_batch;
 *   2. identity = SHA-256 of the content: a file whose hash was already ingested (a
 *      renamed, copied-again or touched file) is skipped;
 *   3. read each file (JSON Lines or a JSON array, record_reader.h), type each record
 *      with iot_event_parse; good rows -> bronze batch with source_file (name relative
 *      to the input directory), source_line (line number, or array element index + 1)
 *      and ingest_time (one per batch); bad rows -> quarantine with file, line, reason;
 *   4. write the Parquet data files of both tables (not yet visible);
 *   5. write the batch log <checkpoint>/batches/<n>.json (files + the add actions);
 *   6. commit quarantine (if it has rows) with txn (app_id + "-quarantine", n), then
 *      bronze (always, even with no rows) with txn (app_id, n);
 *   7. append the files to <checkpoint>/processed.
 * On start the tables' txn versions are compared with the newest batch log: a log
 * beyond the bronze txn is redone by committing the add actions it recorded (for the
 * tables where it is not committed yet), so a kill -9 at any moment needs no clean-up
 * and never duplicates or loses a file. A restart with no new files commits nothing.
 *
 * Ownership: the config's strings are borrowed for the job's lifetime.
 */
#ifndef ST_STREAM_BRONZE_JOB_H
#define ST_STREAM_BRONZE_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/job_stats.h"
#include "pipeline/maintenance.h"
#include "util/err.h"

/* What one committed batch did (given to the progress callback). */
typedef struct bronze_batch_stats {
    int64_t batch;              /* batch number = txn version */
    size_t files;               /* files ingested */
    size_t skipped;             /* settled files skipped as already ingested (same content) */
    int64_t rows;               /* rows to bronze */
    int64_t quarantined;        /* rows to quarantine */
    int64_t bytes;              /* input bytes read */
    int64_t bronze_version;     /* commit version of bronze_output */
    int64_t quarantine_version; /* commit version of quarantine, -1 when nothing quarantined */
    int64_t duration_us;
    int recovered;              /* 1: a batch logged by an earlier run, committed now */
} bronze_batch_stats;

/* Totals since the job started. */
typedef struct bronze_job_stats {
    int64_t batches, files, skipped, rows, quarantined, bytes, recovered_batches;
    size_t pending;             /* files seen but not settled at the last poll */
} bronze_job_stats;

typedef void (*bronze_progress_fn)(const bronze_batch_stats *b, void *user);
typedef void (*bronze_warning_fn)(const char *msg, void *user);

typedef struct bronze_config {
    const char *input_dir;       /* default "data/input" (created if missing) */
    const char *output_path;     /* default TABLE_BRONZE_FILES_PATH */
    const char *quarantine_path; /* default TABLE_QUARANTINE_PATH */
    const char *checkpoint_dir;  /* default "data/checkpoints/bronze_checkpoints" */
    const char *app_id;          /* txn appId, default "bronze-files" */
    int64_t trigger_us;          /* time between polls when idle, default 2 s */
    int64_t settle_us;           /* settle time, default 1 s */
    size_t max_files_per_batch;  /* default 1000; 0 = no limit */
    int64_t max_bytes_per_batch; /* default 256 MiB (a bigger file still goes alone); 0 = no limit */
    size_t max_line_bytes;       /* longest record, default 1 MiB */
    int once;                    /* process what is there (after settling), then return */
    volatile sig_atomic_t *stop; /* may be NULL; when it becomes non-zero, run returns
                                    between batches (a batch in flight is finished) */
    bronze_progress_fn on_batch; /* may be NULL */
    bronze_warning_fn on_warning;/* may be NULL: unreadable files and the like */
    void *user;
    job_stats *metrics;          /* borrowed, may be NULL: counters, tables and readiness (ready = the
                                    tables and the checkpoint opened) for --metrics, plus the
                                    BRONZE_METRIC_* below */
    const maint_config *maintenance; /* NULL: none. Else both tables are maintained beside the job
                                    (pipeline/maintenance.h), from bronze_job_new (after recovery)
                                    to bronze_job_destroy; borrowed until then */
#ifdef SMARTTECH_TEST_HOOKS
    int test_crash_at;           /* test builds only: 1/2/3 = the next batch stops with
                                    ST_ERR_INTERRUPTED right after its batch log / quarantine
                                    commit / bronze commit, as if killed there (once) */
#endif
} bronze_config;

void bronze_config_init(bronze_config *c);

/* Bronze's own families on job_stats_metrics(c->metrics). */
#define BRONZE_METRIC_FILES "smarttech_bronze_files_ingested_total"   /* counter */
#define BRONZE_METRIC_SKIPPED "smarttech_bronze_files_skipped_total"  /* counter: same content seen before */
#define BRONZE_METRIC_BYTES "smarttech_bronze_bytes_read_total"       /* counter */
#define BRONZE_METRIC_PENDING "smarttech_bronze_files_pending"        /* gauge: seen, not settled yet */

typedef struct bronze_job bronze_job;

/* Opens or creates both tables and the checkpoint (taking its lock), then recovers:
 * finishes a batch whose log was written but whose commit did not happen, and brings
 * the processed index up to the committed batches. */
st_code bronze_job_new(const bronze_config *c, bronze_job **out, st_err *e);
void bronze_job_destroy(bronze_job *j); /* NULL-safe */

/* One trigger: poll, and if files are ready run one batch. *ran = 1 when a batch was
 * committed; *more = 1 when ready files were left for another batch (backlog);
 * *pending = files not settled yet. Any of the out pointers may be NULL.
 * After a failure the job stays usable: a batch whose log was written is finished
 * (as logged) at the start of the next step, before any new batch. */
st_code bronze_job_step(bronze_job *j, int *ran, int *more, size_t *pending, st_err *e);

/* Loops over steps: a backlog is drained batch after batch; otherwise it waits
 * trigger_us (or less, when a pending file settles sooner) between polls. Returns when
 * *stop is set, or with `once` when nothing is ready or pending any more.
 * ST_ERR_INTERRUPTED is never returned: a stop is a normal return. */
st_code bronze_job_run(bronze_job *j, st_err *e);

void bronze_job_stats_get(const bronze_job *j, bronze_job_stats *out);
/* Latest batch number committed (-1 when none). */
int64_t bronze_job_last_batch(const bronze_job *j);

#endif
