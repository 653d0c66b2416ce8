/* maintenance.h — table maintenance beside a job: the tables a job writes are compacted,
 * checkpointed, their log cleaned and vacuumed (delta/delta_maintain.h, one maintainer per
 * table) by a thread of its own, so the job's batches never wait for it.
 *
 * What keeps the data path free:
 *   - the thread has its own table handles and shares no lock with the job: they meet only
 *     in the Delta log, where a compaction is one more writer (appends commute; a job's
 *     commit that loses the version to an OPTIMIZE re-reads it and commits next);
 *   - the job's writer handles write no checkpoints (the maintainer does: a checkpoint is the
 *     one step of a commit whose cost grows with the table) and keep no tombstones;
 *   - the thread runs at a lower scheduling priority (nice + 10 by default): on a busy
 *     machine the job's threads get the CPU first;
 *   - passes are spaced by interval_ms; a pass does nothing costly unless a trigger fired.
 * A failed pass is reported and retried on the next one (the same error again after a minute
 * only): maintenance never stops a job.
 *
 * `smarttech maintain` runs the same loop in the foreground (maint_run) for tables other
 * processes write.
 *
 * Ownership: paths and the config are copied; the event callback runs on the maintenance
 * thread (or the caller's, for maint_run) and must not block for long.
 */
#ifndef ST_PIPELINE_MAINTENANCE_H
#define ST_PIPELINE_MAINTENANCE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "delta/delta_maintain.h"
#include "pipeline/metrics.h"
#include "util/err.h"

/* After a pass on one table that did something (r), or that failed (err non-NULL). */
typedef void (*maint_event_fn)(const char *table_path, const delta_maintain_report *r, const st_err *err, void *user);

typedef struct maint_config {
    delta_maintain_options opt;  /* the policy (delta_maintain_options_init defaults) */
    int64_t interval_ms;         /* pause between two passes over the tables, default 1000 */
    int nice;                    /* priority lowered by this much on the thread, default 10 */
    maint_event_fn on_event;     /* may be NULL */
    void *user;
    /* Borrowed, may be NULL: the service registers its figures there, per table path (label
     * "path"), kept up to date after every pass: smarttech_maintenance_{passes,errors,
     * compactions,compactions_abandoned,files_compacted,bytes_compacted,checkpoints,
     * log_files_deleted,files_vacuumed,bytes_vacuumed}_total, and the gauges
     * smarttech_maintenance_table_version, _table_active_files, _last_pass_seconds. The
     * registry must outlive the service. */
    metrics *metrics;
} maint_config;

void maint_config_init(maint_config *c);

/* Totals per table since the start (a snapshot: the thread keeps counting). */
typedef struct maint_table_stats {
    int64_t passes, errors;
    int64_t compactions, compactions_abandoned, files_compacted, bytes_compacted;
    int64_t checkpoints, log_files_deleted, files_vacuumed, bytes_vacuumed;
    int64_t version, active_files; /* as of the last pass, -1 before the table exists */
    int64_t last_pass_us, max_pass_us;
} maint_table_stats;

typedef struct maint_service maint_service;

/* Starts the thread maintaining the n tables at paths (tables that do not exist yet are
 * picked up once they do). ST_ERR_ARG when the options do not pass
 * delta_maintain_options_check (the message names the option). */
st_code maint_service_start(const maint_config *c, const char *const *paths, size_t n, maint_service **out,
                            st_err *e);
/* Stops the thread after the step in progress (a compaction being written is finished or
 * abandoned whole, never half committed) and frees everything. NULL-safe. */
void maint_service_stop(maint_service *s);
/* Totals of table i (0 <= i < n, in the order given). */
void maint_service_stats(maint_service *s, size_t i, maint_table_stats *out);

/* The same loop in the calling thread, until *stop becomes non-zero (checked between tables
 * and every 100 ms of the pause), or after one pass over every table with once. Returns the
 * first error of the last pass with once (each table is still tried), ST_OK otherwise:
 * errors of a long run are reported through on_event and retried. stop may be NULL; stats
 * (NULL, or n entries) gets the totals per table at the end. */
st_code maint_run(const maint_config *c, const char *const *paths, size_t n, int once,
                  const volatile sig_atomic_t *stop, maint_table_stats *stats, st_err *e);

#endif
