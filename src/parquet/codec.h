/* codec.h — private: page compression.
 * Compress: UNCOMPRESSED, SNAPPY, ZSTD. Decompress: also GZIP and LZ4_RAW.
 * A pq_codec_ctx keeps the zstd contexts so pages reuse them (no per-page setup).
 */
#ifndef ST_PARQUET_CODEC_H
#define ST_PARQUET_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct pq_codec_ctx pq_codec_ctx;

pq_codec_ctx *pq_codec_ctx_new(void);
void pq_codec_ctx_destroy(pq_codec_ctx *c);   /* NULL-safe */

/* 1 if we can write this codec. */
int pq_codec_can_write(pq_codec codec);
/* Name as in parquet-format ("SNAPPY"). */
const char *pq_codec_name(pq_codec codec);

/* Replaces out's content with in[0..n) compressed. ST_ERR_ARG for a codec we don't write. */
st_code pq_compress(pq_codec_ctx *c, pq_codec codec, int level, const uint8_t *in, size_t n,
                    st_buf *out, st_err *e);
/* Decompresses in[0..n) into exactly out_len bytes at out. ST_ERR_FORMAT when the
 * data is corrupt or its size differs; ST_ERR_UNSUPPORTED for LZO/BROTLI/LZ4(hadoop). */
st_code pq_decompress(pq_codec_ctx *c, pq_codec codec, const uint8_t *in, size_t n, uint8_t *out,
                      size_t out_len, st_err *e);

#endif
