/* delta_source.h — follow a Delta table as a stream, like Spark's readStream.format("delta"), as
 * a record source (record_source.h).
 *
 * One stream (0); positions are table versions. Reading a version gives, for each data file it
 * ADDED (in the order of the commit), the file's rows in order, as records whose fields are the
 * requested columns (decoded with our Parquet reader), origin the data file path as in the log
 * (relative to the table), origin_row the 0-based row in it, and timestamp the commit's time;
 * then a RECORD_DONE marker for the version (versions without data too). Key and value are NULL.
 * A batch never goes past a version's DONE marker, nor past the end of a row group (the values
 * point into the decoded row group, which the next poll frees).
 *
 * The consumer keeps its own progress: record_source_seek(stream 0, version) says which version
 * is read next (0 at first). Once the reader has caught up with the log it gives one RECORD_END;
 * polls then look for the next commit file (a stat), waiting up to timeout_ms once when there is
 * none. record_source_bounds: lo 0, hi = latest version + 1 (0 while there is no table; the first
 * call lists the log, later calls only stat the next commit files: O(1) when nothing is new; the
 * timeout is not used). record_source_id: the table's metaData.id at its latest version
 * (ST_ERR_NOTFOUND while there is no table). No group: no handlers are called; commit is a no-op.
 * Threads: one at a time (bounds moves the cursor's idea of the latest version).
 *
 * What a version may contain:
 *   - add with dataChange=true: read;
 *   - add or remove with dataChange=false (compaction, OPTIMIZE): ignored, the data is already
 *     seen (Spark does the same);
 *   - remove with dataChange=true (DELETE, UPDATE, overwrite): the poll fails with
 *     ST_ERR_UNSUPPORTED naming the version, before any row of it: a streaming source only
 *     supports appends (Spark fails the same way unless told to ignore deletes/changes);
 *   - metaData/protocol: fine as long as the requested columns are still in the files (every
 *     file is checked: a missing column gives ST_ERR_FORMAT naming file and column).
 * Columns: flat top-level columns of the data files (not partition columns); physical types
 * BOOLEAN, INT32, INT64, DOUBLE, BYTE_ARRAY. Nulls are reported per value (is_null).
 *
 * Cost: one read per commit JSON, then per file one footer plus the requested column chunks.
 * Memory: one row group of the requested columns at a time.
 */
#ifndef ST_SOURCE_DELTA_SOURCE_H
#define ST_SOURCE_DELTA_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "source/record_source.h"

typedef struct delta_source_stats {
    int64_t versions, files, rows, bytes;   /* cumulative */
    int64_t ignored_files;                  /* dataChange=false adds and removes */
} delta_source_stats;

/* A source on the table at path reading `ncolumns` columns by name (copied). Never NULL;
 * nothing is read until the first call. Free with record_source_destroy. */
record_source *delta_source_new(const char *table_path, const char *const *columns, size_t ncolumns);

/* The counters of a source made by delta_source_new; NULL for any other source. */
const delta_source_stats *delta_source_get_stats(const record_source *s);

#endif
