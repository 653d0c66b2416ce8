/* binio.c — see binio.h. */
#include "util/binio.h"

#include <string.h>

void binio_put_u32(st_buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i));
    st_buf_append(b, x, 4);
}

void binio_put_i64(st_buf *b, int64_t v)
{
    uint8_t x[8];
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(u >> (8 * i));
    st_buf_append(b, x, 8);
}

void binio_put_f64(st_buf *b, double v)
{
    int64_t bits;
    memcpy(&bits, &v, 8);
    binio_put_i64(b, bits);
}

void binio_put_str(st_buf *b, const char *s, size_t n)
{
    binio_put_u32(b, (uint32_t)n);
    if (n) st_buf_append(b, s, n);
}

/* Fails with a message naming the file when fewer than n bytes are left. */
static st_code need(binio_reader *r, size_t n, st_err *e)
{
    if ((size_t)(r->end - r->p) < n)
        return st_err_set(e, ST_ERR_FORMAT, "%s: truncated state (needed %zu more bytes)", r->what, n);
    return ST_OK;
}

st_code binio_get_u32(binio_reader *r, uint32_t *v, st_err *e)
{
    if (need(r, 4, e)) return ST_ERR_FORMAT;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) x |= (uint32_t)r->p[i] << (8 * i);
    r->p += 4;
    *v = x;
    return ST_OK;
}

st_code binio_get_i64(binio_reader *r, int64_t *v, st_err *e)
{
    if (need(r, 8, e)) return ST_ERR_FORMAT;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    *v = (int64_t)x;
    return ST_OK;
}

st_code binio_get_f64(binio_reader *r, double *v, st_err *e)
{
    int64_t bits;
    if (binio_get_i64(r, &bits, e)) return ST_ERR_FORMAT;
    memcpy(v, &bits, 8);
    return ST_OK;
}

st_code binio_get_str(binio_reader *r, char **s, size_t *n, st_err *e)
{
    uint32_t len;
    if (binio_get_u32(r, &len, e) || need(r, len, e)) return ST_ERR_FORMAT;
    *s = st_xstrndup((const char *)r->p, len);
    if (n) *n = len;
    r->p += len;
    return ST_OK;
}
