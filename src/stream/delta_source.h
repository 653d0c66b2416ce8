/* delta_source.h — follow a Delta table as a stream, like Spark's readStream.format("delta").
 *
 * The consumer keeps its own progress: the last table version it has fully processed. Each
 * read takes the versions after it, in order, and for each version the data files it ADDED
 * (in the order of the commit), decoding the requested columns with our Parquet reader and
 * handing the rows over one by one, in file order. Then the version callback says "version v
 * is complete".
 *
 * What a version may contain:
 *   - add with dataChange=true: read;
 *   - add or remove with dataChange=false (compaction, OPTIMIZE): ignored, the data is already
 *     seen (Spark does the same);
 *   - remove with dataChange=true (DELETE, UPDATE, overwrite): ST_ERR_UNSUPPORTED naming the
 *     version: a streaming source only supports appends (Spark fails the same way unless told
 *     to ignore deletes/changes);
 *   - metaData/protocol: fine as long as the requested columns are still in the files (every
 *     file is checked: a missing column gives ST_ERR_FORMAT naming file and column).
 * Columns: flat top-level columns of the data files (not partition columns); physical types
 * BOOLEAN, INT32, INT64, DOUBLE, BYTE_ARRAY. Nulls are reported per value.
 *
 * Cost per read: one read per commit JSON, then per file one footer plus the requested column chunks. Memory: one row group of
 * the requested columns at a time.
 */
#ifndef ST_STREAM_DELTA_SOURCE_H
#define ST_STREAM_DELTA_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct delta_source delta_source;

/* One value of a requested column (borrowed: valid during the row callback only). */
typedef struct delta_source_value {
    int is_null;
    int64_t i64;          /* BOOLEAN (0/1), INT32, INT64 (dates, timestamps as stored) */
    double f64;           /* DOUBLE (also FLOAT) */
    const char *str;      /* BYTE_ARRAY: not NUL-terminated */
    size_t len;
} delta_source_value;

/* Where a row came from. */
typedef struct delta_source_pos {
    int64_t version;
    const char *file;     /* data file path as in the log (relative to the table) */
    int64_t row;          /* 0-based row index within the file */
} delta_source_pos;

/* Called for each row; vals[i] is requested column i. A non-OK return stops the read. */
typedef st_code (*delta_source_row_fn)(void *ctx, const delta_source_pos *pos, const delta_source_value *vals,
                                       st_err *e);
/* Called after the last row of each version (also for versions without data). */
typedef st_code (*delta_source_version_fn)(void *ctx, int64_t version, st_err *e);

typedef struct delta_source_stats {
    int64_t versions, files, rows, bytes;   /* cumulative */
    int64_t ignored_files;                  /* dataChange=false adds and removes */
} delta_source_stats;

/* A source on the table at path reading `ncolumns` columns by name (copied). Never NULL;
 * nothing is read until the first call. */
delta_source *delta_source_new(const char *table_path, const char *const *columns, size_t ncolumns);
void delta_source_destroy(delta_source *s);   /* NULL-safe */

/* The table's id (metaData.id) at its latest version, copied into the source and returned
 * (borrowed). ST_ERR_NOTFOUND when there is no table at the path (yet). */
st_code delta_source_table_id(delta_source *s, const char **id, st_err *e);

/* Latest committed version, -1 when the table does not exist yet. The first call lists the
 * log; later calls only stat the next commit files (O(1) when nothing is new). */
st_code delta_source_latest_version(delta_source *s, int64_t *version, st_err *e);

/* Reads versions from_version..to_version (inclusive, all must exist), calling row_fn for
 * each row and version_fn after each version (either may be NULL). */
st_code delta_source_read(delta_source *s, int64_t from_version, int64_t to_version, delta_source_row_fn row_fn,
                          delta_source_version_fn version_fn, void *ctx, st_err *e);

const delta_source_stats *delta_source_get_stats(const delta_source *s);

#endif
