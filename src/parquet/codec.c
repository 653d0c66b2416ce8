/* codec.c — snappy (C API), zstd, zlib (gzip) and lz4 (raw block) glue. */
#include "parquet/codec.h"

#include <lz4.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

struct pq_codec_ctx {
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
};

pq_codec_ctx *pq_codec_ctx_new(void) { return st_xcalloc(1, sizeof(pq_codec_ctx)); }

void pq_codec_ctx_destroy(pq_codec_ctx *c)
{
    if (!c) return;
    ZSTD_freeCCtx(c->zc);
    ZSTD_freeDCtx(c->zd);
    free(c);
}

int pq_codec_can_write(pq_codec codec)
{
    return codec == PQ_CODEC_UNCOMPRESSED || codec == PQ_CODEC_SNAPPY || codec == PQ_CODEC_ZSTD;
}

const char *pq_codec_name(pq_codec codec)
{
    static const char *names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    if ((int)codec >= 0 && (int)codec < 8) return names[codec];
    return "UNKNOWN";
}

st_code pq_compress(pq_codec_ctx *c, pq_codec codec, int level, const uint8_t *in, size_t n,
                    st_buf *out, st_err *e)
{
    st_buf_reset(out);
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        st_buf_append(out, in, n);
        return ST_OK;
    case PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        st_buf_reserve(out, cap);
        size_t olen = cap;
        if (snappy_compress((const char *)in, n, (char *)out->data, &olen) != SNAPPY_OK)
            return st_err_set(e, ST_ERR_IO, "snappy compression failed");
        out->len = olen;
        return ST_OK;
    }
    case PQ_CODEC_ZSTD: {
        if (!c->zc) c->zc = ZSTD_createCCtx();
        if (!c->zc) return st_err_set(e, ST_ERR_NOMEM, "cannot create zstd context");
        size_t cap = ZSTD_compressBound(n);
        st_buf_reserve(out, cap);
        size_t r = ZSTD_compressCCtx(c->zc, out->data, cap, in, n, level);
        if (ZSTD_isError(r)) return st_err_set(e, ST_ERR_IO, "zstd compression failed: %s", ZSTD_getErrorName(r));
        out->len = r;
        return ST_OK;
    }
    default:
        return st_err_set(e, ST_ERR_ARG, "cannot write codec %s (use UNCOMPRESSED, SNAPPY or ZSTD)",
                          pq_codec_name(codec));
    }
}

/* Inflates a gzip (or zlib) stream into exactly out_len bytes; FORMAT when short or corrupt.
 * Several concatenated gzip members (as some writers emit) are inflated one after another. */
static st_code gunzip(const uint8_t *in, size_t n, uint8_t *out, size_t out_len, st_err *e)
{
    if (n > UINT32_MAX || out_len > UINT32_MAX) return st_err_set(e, ST_ERR_FORMAT, "GZIP page too large");
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return st_err_set(e, ST_ERR_NOMEM, "cannot init zlib");
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)out_len;
    int rc;
    for (;;) {
        rc = inflate(&zs, Z_FINISH);
        if (rc != Z_STREAM_END || zs.avail_in == 0 || zs.avail_out == 0) break;
        if (inflateReset(&zs) != Z_OK) break;   /* next member */
    }
    size_t got = out_len - zs.avail_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || got != out_len)
        return st_err_set(e, ST_ERR_FORMAT, "corrupt GZIP page (%zu of %zu bytes)", got, out_len);
    return ST_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The deprecated LZ4 codec id: parquet-mr wrote Hadoop's framing (blocks of 4-byte big-endian
 * uncompressed and compressed sizes, then a raw LZ4 block), older parquet-cpp a bare LZ4 block.
 * Like other readers we try the Hadoop framing first, then a bare block. O(out_len). */
static st_code lz4_legacy(const uint8_t *in, size_t n, uint8_t *out, size_t out_len, st_err *e)
{
    if (n > INT32_MAX || out_len > INT32_MAX) return st_err_set(e, ST_ERR_FORMAT, "LZ4 page too large");
    size_t ip = 0, op = 0;
    int ok = 1;
    while (ok && ip < n) {
        if (n - ip < 8) { ok = 0; break; }
        uint32_t ulen = be32(in + ip), clen = be32(in + ip + 4);
        ip += 8;
        if (clen > n - ip || ulen > out_len - op) { ok = 0; break; }
        int r = LZ4_decompress_safe((const char *)in + ip, (char *)out + op, (int)clen, (int)ulen);
        if (r < 0 || (uint32_t)r != ulen) { ok = 0; break; }
        ip += clen;
        op += ulen;
    }
    if (ok && op == out_len) return ST_OK;
    int r = LZ4_decompress_safe((const char *)in, (char *)out, (int)n, (int)out_len);
    if (r < 0 || (size_t)r != out_len) return st_err_set(e, ST_ERR_FORMAT, "corrupt LZ4 page");
    return ST_OK;
}

st_code pq_decompress(pq_codec_ctx *c, pq_codec codec, const uint8_t *in, size_t n, uint8_t *out,
                      size_t out_len, st_err *e)
{
    if (n == 0 && out_len == 0) return ST_OK; /* empty page: some writers store no codec frame at all */
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (n != out_len)
            return st_err_set(e, ST_ERR_FORMAT, "uncompressed page size %zu differs from %zu", n, out_len);
        memcpy(out, in, n);
        return ST_OK;
    case PQ_CODEC_SNAPPY: {
        size_t ulen;
        if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK || ulen != out_len)
            return st_err_set(e, ST_ERR_FORMAT, "corrupt SNAPPY page (bad length header)");
        size_t olen = out_len;
        if (snappy_uncompress((const char *)in, n, (char *)out, &olen) != SNAPPY_OK || olen != out_len)
            return st_err_set(e, ST_ERR_FORMAT, "corrupt SNAPPY page");
        return ST_OK;
    }
    case PQ_CODEC_ZSTD: {
        if (!c->zd) c->zd = ZSTD_createDCtx();
        if (!c->zd) return st_err_set(e, ST_ERR_NOMEM, "cannot create zstd context");
        size_t r = ZSTD_decompressDCtx(c->zd, out, out_len, in, n);
        if (ZSTD_isError(r) || r != out_len)
            return st_err_set(e, ST_ERR_FORMAT, "corrupt ZSTD page%s%s", ZSTD_isError(r) ? ": " : "",
                              ZSTD_isError(r) ? ZSTD_getErrorName(r) : " (size mismatch)");
        return ST_OK;
    }
    case PQ_CODEC_GZIP:
        return gunzip(in, n, out, out_len, e);
    case PQ_CODEC_LZ4:
        return lz4_legacy(in, n, out, out_len, e);
    case PQ_CODEC_LZ4_RAW: {
        if (n > INT32_MAX || out_len > INT32_MAX) return st_err_set(e, ST_ERR_FORMAT, "LZ4_RAW page too large");
        int r = LZ4_decompress_safe((const char *)in, (char *)out, (int)n, (int)out_len);
        if (r < 0 || (size_t)r != out_len) return st_err_set(e, ST_ERR_FORMAT, "corrupt LZ4_RAW page");
        return ST_OK;
    }
    default:
        return st_err_set(e, ST_ERR_UNSUPPORTED, "compression codec %s is not supported", pq_codec_name(codec));
    }
}
