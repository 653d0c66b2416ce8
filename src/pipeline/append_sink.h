/* append_sink.h — the one idempotent append sink of the stream jobs: a batch of rows ->
 * data files -> one commit carrying the batch's txn actions (appId -> version) and its
 * commitInfo. Bronze, Silver and Gold append through it; compaction commits go through the
 * same policy one layer down (delta_table_commit_files, which this sink calls).
 *
 * The policy (what happens to the data files, whatever goes wrong):
 *   1. Idempotent. A batch whose txn versions the table already holds (every appId at
 *      >= our version) is SKIPPED: nothing is written or committed, no duplicate. Checked
 *      against the handle's snapshot before any file is written (no I/O), and again by the
 *      commit against the latest log after every conflict. A batch holding only some of its
 *      txns is ST_ERR_CONFLICT (another writer committed part of it: not ours to finish).
 *   2. Conflicts retry. When another writer took the version, the commit re-reads its
 *      commits and retries at the next version (appends commute).
 *   3. Known not to have landed -> the new files are deleted. An argument or state error,
 *      a conflict that cannot be retried, or a put-if-absent of the commit file that failed
 *      with nothing written: no commit can ever reference the files, so they go.
 *   4. May have landed -> the log decides. An ambiguous put (ST_ERR_AMBIGUOUS: an fsync
 *      failed after the write; with object storage, a timeout) is resolved by re-reading the
 *      log: the attempted version carrying our commitInfo.txnId means it landed (COMMITTED,
 *      files kept, no second commit); another writer's commit there means ours cannot land
 *      there any more (put-if-absent), so the commit is retried at the next version; the
 *      version still absent means it is retried at the same version, which settles it.
 *   5. Files are never deleted while a commit referencing them may be visible. When the
 *      outcome stays unknown (3 ambiguous attempts, or the log cannot be re-read) the call
 *      fails and the files are kept; vacuum removes them after its retention if no commit
 *      references them. Re-running the batch is safe: rule 1 skips it if it did land.
 * append_sink_commit_files (files the caller wrote and recorded in a durable batch log,
 * as Bronze does) applies rules 1, 2, 4 and 5 and never deletes: the caller redoes the
 * same commit from its log, and rule 1 makes that redo safe.
 *
 * Cost: one delta_table_write_files + one put-if-absent per commit attempt; no extra I/O
 * on the normal path (the idempotency check reads the handle's snapshot).
 *
 * Ownership: the table handle and everything in append_sink_params are borrowed for the
 * call; the handle's snapshot moves to the committed version (or the one read back).
 * Not thread-safe per handle (like delta_table); different handles may run in parallel.
 */
#ifndef ST_PIPELINE_APPEND_SINK_H
#define ST_PIPELINE_APPEND_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "delta/delta.h"
#include "util/err.h"

typedef struct append_sink_params {
    const delta_txn *txns;       /* at least one: the versions that make the batch idempotent */
    size_t ntxns;
    const char *operation;       /* commitInfo.operation; NULL: "STREAMING UPDATE" */
    const char *operation_parameters_json; /* a JSON object; NULL: {"outputMode":"Append"} */
    const char *commit_info_json;/* a JSON object merged into commitInfo, or NULL */
} append_sink_params;

typedef enum append_sink_outcome {
    APPEND_SINK_COMMITTED = 0,   /* one new version holds the batch */
    APPEND_SINK_SKIPPED          /* the table already held every txn: nothing committed */
} append_sink_outcome;

typedef struct append_sink_result {
    append_sink_outcome outcome;
    int64_t version;             /* COMMITTED: the version; SKIPPED: the handle's version */
    size_t files;                /* data files in the commit (0 when skipped) */
    int64_t rows;                /* rows in them */
    int attempts;                /* commit attempts (1 + conflicts + ambiguous retries) */
    int ambiguous;               /* attempts whose outcome was read back from the log */
} append_sink_result;

/* Writes the rows of batch (0 rows: a commit of the txns only, e.g. to record a position)
 * as data files of t and commits them under the policy above. r may be NULL. Errors name
 * the table; the message says when files were kept because the commit may have landed. */
st_code append_sink_write_batch(delta_table *t, const delta_batch *batch, const append_sink_params *p,
                                append_sink_result *r, st_err *e);

/* Commits `nfiles` data files the caller wrote earlier (delta_table_write_files) and
 * recorded for a redo, under the policy above but never deleting them. Each file must
 * still exist (ST_ERR_STATE naming it otherwise: nothing is committed). */
st_code append_sink_commit_files(delta_table *t, const delta_file *files, size_t nfiles,
                                 const append_sink_params *p, append_sink_result *r, st_err *e);

#endif
