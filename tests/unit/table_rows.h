/* table_rows.h — shared by the job unit tests: every row of a Delta table, read through the
 * Delta record source (source/delta_source.h), handed to a callback. Include after check.h. */
#ifndef ST_TEST_TABLE_ROWS_H
#define ST_TEST_TABLE_ROWS_H

#include <stddef.h>

#include "source/delta_source.h"

/* Calls fn(ctx, fields) for every row of versions 0..latest of the table at path (columns
 * cols[0..nc-1]); returns the row count, -1 when the table cannot be read. */
static int table_rows(const char *path, const char *const *cols, size_t nc,
                      void (*fn)(void *ctx, const record_value *fields), void *ctx)
{
    record_source *src = delta_source_new(path, cols, nc);
    st_err e;
    int64_t lo, hi;
    int rows = 0;
    if (record_source_bounds(src, 0, 0, &lo, &hi, &e) != ST_OK) rows = -1;
    record recs[64];
    for (int64_t done = -1; rows >= 0 && done < hi - 1;) {
        size_t n = 0;
        st_code rc = record_source_poll(src, recs, 64, 0, &n, &e);
        CHECK_MSG(rc == ST_OK, "%s", e.msg);
        if (rc || !n) {
            rows = -1;
            break;
        }
        for (size_t k = 0; k < n; k++) {
            if (recs[k].kind == RECORD_DONE) done = recs[k].position;
            if (recs[k].kind != RECORD_DATA) continue;
            rows++;
            if (fn) fn(ctx, recs[k].fields);
        }
    }
    record_source_destroy(src);
    return rows;
}

#endif
