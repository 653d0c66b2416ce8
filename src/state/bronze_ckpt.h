/* bronze_ckpt.h — the checkpoint of `smarttech bronze` (data/checkpoints/bronze_checkpoints
 * by default; a folder or s3://bucket/prefix: every object goes through the storage layer):
 *
 *   lock                 flock(2)-held by the running job: one job per checkpoint (a local
 *                        folder only: an object store has no locks, so there one must not run
 *                        two jobs on one checkpoint; the tables' txns still refuse a batch
 *                        committed twice)
 *   batches/<n>.json     batch log, written (atomically) BEFORE batch n is committed:
 *                        the input files (name, size, mtime, sha256, row counts) and
 *                        the add actions of the data files already written for the
 *                        bronze and quarantine tables; older logs are deleted once a
 *                        batch is in the index (the folder holds one or two)
 *   processed            one JSON object per line per ingested file: batch, sha256,
 *                        size, mtime_ns, name — an index of the batch logs of committed
 *                        batches, rewritten whole after each batch (objects cannot be
 *                        appended to: ~150 bytes a file, 1.5 MB a batch at 10,000 files
 *                        ingested); a start-up brings it up to date from the logs when it lags
 *
 * The Delta tables' txn versions say which batches are committed; this checkpoint only
 * holds what the logs cannot. Crash safety: a batch log and the index are written whole or
 * not at all (the store's atomic write); a line cut by a crash in an index of earlier
 * versions (which appended) is ignored and re-added from its batch log.
 *
 * Ownership: bronze_batch_log owns its contents (bronze_batch_log_free).
 */
#ifndef ST_STREAM_BRONZE_CKPT_H
#define ST_STREAM_BRONZE_CKPT_H

#include <stdint.h>

#include "delta/delta.h"
#include "util/err.h"

typedef struct bronze_ckpt_file {
    char *name;
    int64_t size, mtime_ns;
    char sha256[65];
    int64_t rows, quarantined;
} bronze_ckpt_file;

typedef struct bronze_batch_log {
    int64_t batch;
    int64_t ingest_time_us;
    bronze_ckpt_file *files;
    size_t nfiles, capfiles;
    delta_file_list bronze_adds;
    delta_file_list quarantine_adds;
} bronze_batch_log;

/* Appends a copy of f to l->files. */
void bronze_batch_log_add_file(bronze_batch_log *l, const bronze_ckpt_file *f);
/* Frees contents; leaves l zeroed. NULL-safe. */
void bronze_batch_log_free(bronze_batch_log *l);

typedef struct bronze_ckpt bronze_ckpt;

/* Opens the checkpoint at uri (a path or s3://...), takes the lock of a local one (ST_ERR_STATE
 * naming the folder when another process holds it) and loads the processed index. Cost: one
 * read of the index. */
st_code bronze_ckpt_open(const char *uri, bronze_ckpt **out, st_err *e);
void bronze_ckpt_close(bronze_ckpt *c); /* NULL-safe; releases the lock */

/* 1 if a file with this content hash was ingested. */
int bronze_ckpt_has_hash(const bronze_ckpt *c, const char *sha256);
/* Content hash recorded for a file of this name, size and mtime, or NULL (lets a
 * restart skip hashing files it already ingested). */
const char *bronze_ckpt_lookup(const bronze_ckpt *c, const char *name, int64_t size, int64_t mtime_ns);
/* Remembers (in memory only) that name/size/mtime has this hash, so it is not hashed
 * again (used for duplicates that are skipped). */
void bronze_ckpt_remember(bronze_ckpt *c, const char *name, int64_t size, int64_t mtime_ns, const char *sha256);
/* Number of files in the index. */
size_t bronze_ckpt_num_files(const bronze_ckpt *c);
/* Highest batch recorded in the index, -1 when none. */
int64_t bronze_ckpt_index_max_batch(const bronze_ckpt *c);
/* Highest batch log number in batches/, -1 when none. One listing. */
st_code bronze_ckpt_last_log(const bronze_ckpt *c, int64_t *n, st_err *e);

/* Writes batches/<l->batch>.json atomically. ST_ERR_IO naming the file. */
st_code bronze_ckpt_write_log(bronze_ckpt *c, const bronze_batch_log *l, st_err *e);
/* Reads batches/<n>.json into *out. ST_ERR_NOTFOUND / ST_ERR_FORMAT naming the file. */
st_code bronze_ckpt_read_log(const bronze_ckpt *c, int64_t n, bronze_batch_log *out, st_err *e);
/* Adds the files of a committed batch to the processed index (files whose hash is already
 * there are skipped) and writes the index (see above). */
st_code bronze_ckpt_record(bronze_ckpt *c, const bronze_batch_log *l, st_err *e);
/* Deletes the batch logs below batch `below` (the index holds what they said, and their
 * batches are committed): batches/ keeps the newest log only, instead of one per batch
 * forever. One listing of batches/. */
st_code bronze_ckpt_prune_logs(bronze_ckpt *c, int64_t below, st_err *e);

#endif
