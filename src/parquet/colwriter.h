/* colwriter.h — private: one leaf column's writer. Buffers the pages of the current
 * column chunk (encoded and compressed as they fill), keeps the dictionary and the
 * statistics of the chunk and of the whole file. */
#ifndef ST_PARQUET_COLWRITER_H
#define ST_PARQUET_COLWRITER_H

#include "parquet/codec.h"
#include "parquet/meta.h"

typedef struct pq_colwriter pq_colwriter;

pq_colwriter *pq_colwriter_new(const pq_schema *s, int leaf, const pq_writer_options *opt, pq_codec_ctx *cc);
void pq_colwriter_destroy(pq_colwriter *cw);   /* NULL-safe */

/* Appends level entries [l0, l1) of b (whose values start at value index v0; the
 * caller checked the levels). Encodes into the page buffers and cuts pages at row
 * boundaries when they reach the target size. Returns the number of values consumed. */
st_code pq_colwriter_write(pq_colwriter *cw, const pq_column_batch *b, size_t l0, size_t l1, size_t v0,
                           size_t *nvalues, st_err *e);

/* Ends the column chunk: flushes the last page and hands out the chunk's bytes
 * (dictionary page first, then data pages) in *bytes (valid until the next call)
 * and its metadata in meta (offsets relative to file_offset; min/max owned by meta).
 * Then resets the chunk state (dictionary too) and folds its stats into the file's. */
st_code pq_colwriter_finish_chunk(pq_colwriter *cw, int64_t file_offset, const st_buf **bytes,
                                  pq_chunk_meta *meta, st_err *e);

/* Bytes buffered for the open chunk: compressed pages, dictionary, unflushed page estimate. */
size_t pq_colwriter_buffered_bytes(const pq_colwriter *cw);

/* File-wide stats so far (copied into out; BYTE_ARRAY min/max malloc'd). */
void pq_colwriter_file_stats(const pq_colwriter *cw, pq_column_stats *out);

#endif
