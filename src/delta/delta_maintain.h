/* delta_maintain.h — keeping one Delta table bounded for months: the maintenance policy
 * (part of the delta module's API, beside delta.h).
 *
 * A streaming writer adds a small file and a commit every trigger. Left alone, a table then
 * grows without bound in files, in _delta_log entries and in checkpoint size. One pass of a
 * maintainer does, in this order:
 *   1. compaction: in each partition, when it has compact_min_files files smaller than
 *      target_file_size, or its oldest small file is compact_after_ms old, the smallest ones are
 *      merged (tiered: a row is rewritten at most log1.5(target / its first file) times in all,
 *      not once per pass); a partition whose newest small file is compact_after_ms old (it has
 *      gone quiet) is packed whole. One OPTIMIZE commit, dataChange=false (streaming readers
 *      skip it), through delta_table_commit_files; a concurrent writer that removed an input
 *      makes it re-plan, and after a few conflicting attempts the compaction is abandoned for
 *      this pass (no row is lost: nothing was committed, the next pass plans from the new
 *      state);
 *   2. checkpoint: when the table is delta.checkpointInterval (default 10) versions past the
 *      one _last_checkpoint names, a checkpoint of the latest version (with _last_checkpoint:
 *      version, size, sizeInBytes, numOfAddFiles), holding the removes of the last
 *      deleted-file retention only;
 *   3. log clean-up (Delta's metadata clean-up): commits and checkpoints older than the log
 *      retention, and only those below the newest checkpoint that is itself older than it,
 *      so the table and every version from that checkpoint on stay readable;
 *   4. vacuum, at most every vacuum_interval_ms: data files that no version within the
 *      deleted-file retention references (removed longer ago, or never committed and older),
 *      and what killed writers left half-written.
 * A pass on a table with nothing to do costs a refresh (one stat of the next commit), a
 * plan over the active files and one read of _last_checkpoint.
 *
 * Retentions: the option when set (>= 0), else the table's delta.logRetentionDuration /
 * delta.deletedFileRetentionDuration, else 30 / 7 days. An option under 7 days needs
 * allow_short_retention (as Spark's retentionDurationCheck): a writer's files are
 * unreferenced between its write and its commit (a Bronze batch log keeps them so across a
 * restart), and readers of older versions lose their files; the retention must stay longer
 * than both. Every process that maintains one table must use the same deleted-file
 * retention: checkpoints drop the tombstones older than it, after which vacuum ages a
 * removed file by its own mtime.
 *
 * Ownership: a maintainer owns its table handle; options are copied. Not thread-safe: one
 * thread per maintainer (pipeline/maintenance.h runs them beside a job).
 */
#ifndef ST_DELTA_MAINTAIN_H
#define ST_DELTA_MAINTAIN_H

#include <stddef.h>
#include <stdint.h>

#include "delta/delta.h"
#include "util/err.h"

#define DELTA_SHORT_RETENTION_MS (7LL * 24 * 3600 * 1000) /* under this: allow_short_retention */

typedef struct delta_maintain_options {
    int64_t target_file_size;    /* default 128 MiB */
    int compact_min_files;       /* default 32 */
    int64_t compact_after_ms;    /* default 10 min */
    int64_t log_retention_ms;    /* -1 (default): table property, else 30 days */
    int64_t deleted_file_retention_ms; /* -1 (default): table property, else 7 days */
    int allow_short_retention;   /* retention options under 7 days (a table's own retention
                                    properties apply as they are, as in Spark) */
    int64_t vacuum_interval_ms;  /* 0 (default): a tenth of the deleted-file retention, within
                                    1 s .. 1 h */
    int64_t row_group_bytes;     /* compaction output row groups, default 8 MiB (memory bound: about
                                  * 1/4 of the peak of 32 MiB on re-compaction, same speed) */
    int compact, checkpoint, clean_log, vacuum; /* the parts, all 1 by default */
    /* Progress: called as a step starts doing something ("compaction: merging 40 files into 1",
     * "checkpoint of v120", "log clean-up: deleting 37 files", "vacuum: deleting 12 data
     * files"), from the maintainer's thread. May be NULL. */
    void (*on_step)(void *arg, const char *table, const char *what);
    void *on_step_arg;
} delta_maintain_options;

void delta_maintain_options_init(delta_maintain_options *o);

/* ST_ERR_ARG with a message naming the option when a value is out of range or a retention
 * is under 7 days without allow_short_retention. Cheap; no table needed. */
st_code delta_maintain_options_check(const delta_maintain_options *o, st_err *e);

/* What one pass did. */
typedef struct delta_maintain_report {
    int64_t version;             /* table version at the end of the pass */
    int64_t active_files;        /* after the pass */
    delta_optimize_result compaction; /* version -1: nothing compacted */
    int compaction_abandoned;    /* 1: concurrent writers kept removing the inputs; next pass */
    int64_t checkpoint_version;  /* -1: none written */
    size_t log_files_deleted;
    int vacuumed;                /* 1: a vacuum ran this pass */
    size_t files_vacuumed;
    int64_t bytes_vacuumed;
    int64_t compact_us, checkpoint_us, clean_log_us, vacuum_us;
} delta_maintain_report;

typedef struct delta_maintainer delta_maintainer;

/* A maintainer for the table at path (opened on the first pass: a table that does not exist
 * yet is not an error, the pass reports nothing done). The options must pass
 * delta_maintain_options_check (ST_ERR_ARG otherwise). */
st_code delta_maintainer_new(const char *path, const delta_maintain_options *o, delta_maintainer **out, st_err *e);
void delta_maintainer_destroy(delta_maintainer *m);   /* NULL-safe */
const char *delta_maintainer_path(const delta_maintainer *m);

/* One pass (see the top of this file). now_ms 0: the clock (tests pass a time, which only
 * the compaction age and the vacuum schedule use). Stops at the first failing step with its
 * error (the report says what was done before); the next pass starts over. */
st_code delta_maintainer_run(delta_maintainer *m, int64_t now_ms, delta_maintain_report *r, st_err *e);

/* The options a job's own writer handle needs when a maintainer runs beside it: no
 * checkpoints and no tombstones in its memory (the maintainer writes the checkpoints). */
void delta_maintain_writer_options(delta_table_options *o);

#endif
