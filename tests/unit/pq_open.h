/* pq_open.h — for the C unit tests: a Parquet writer on, or a reader of, the file at a
 * path, through the storage layer (parquet.h takes sinks and sources, not paths). */
#ifndef ST_TEST_PQ_OPEN_H
#define ST_TEST_PQ_OPEN_H

#include "parquet/parquet.h"
#include "store/store.h"

static inline pq_writer *open_w(const char *path, const pq_schema_node *f, int n, const pq_writer_options *o,
                                st_err *e)
{
    st_sink *k;
    return st_sink_open_uri(path, ST_SINK_REPLACE, &k, e) ? NULL : pq_writer_open(k, f, n, o, e);
}

static inline pq_reader *open_r(const char *path, st_err *e)
{
    st_source *src;
    return st_source_open_uri(path, &src, e) ? NULL : pq_reader_open(src, e);
}

#endif
