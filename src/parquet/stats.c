/* stats.c — column statistics in Parquet's TYPE_ORDER. */
#include "parquet/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pq_stat_init(pq_stat_acc *s, pq_physical type)
{
    memset(s, 0, sizeof *s);
    s->type = type;
}

void pq_stat_free(pq_stat_acc *s)
{
    if (!s) return;
    st_buf_free(&s->bmin);
    st_buf_free(&s->bmax);
}

void pq_stat_reset(pq_stat_acc *s)
{
    s->has = 0;
    s->nulls = s->levels = 0;
    st_buf_reset(&s->bmin);
    st_buf_reset(&s->bmax);
}

int pq_bytes_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
    uint32_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

void pq_stat_update_bytes(pq_stat_acc *s, const uint8_t *p, uint32_t len)
{
    if (!s->has) {
        st_buf_reset(&s->bmin);
        st_buf_reset(&s->bmax);
        st_buf_append(&s->bmin, p, len);
        st_buf_append(&s->bmax, p, len);
        s->has = 1;
        return;
    }
    if (pq_bytes_cmp(p, len, s->bmin.data, (uint32_t)s->bmin.len) < 0) {
        st_buf_reset(&s->bmin);
        st_buf_append(&s->bmin, p, len);
    } else if (pq_bytes_cmp(p, len, s->bmax.data, (uint32_t)s->bmax.len) > 0) {
        st_buf_reset(&s->bmax);
        st_buf_append(&s->bmax, p, len);
    }
}

#define MINMAX_LOOP(T, FIELD, SKIP)                                  \
    do {                                                             \
        const T *v = values;                                         \
        size_t i = 0;                                                \
        T mn, mx;                                                    \
        if (s->has) {                                                \
            mn = s->min.FIELD;                                       \
            mx = s->max.FIELD;                                       \
        } else {                                                     \
            while (i < n && SKIP(v[i])) i++;                         \
            if (i == n) return;                                      \
            mn = mx = v[i++];                                        \
        }                                                            \
        for (; i < n; i++) {                                         \
            T x = v[i];                                              \
            if (SKIP(x)) continue;                                   \
            if (x < mn) mn = x;                                      \
            if (x > mx) mx = x;                                      \
        }                                                            \
        s->min.FIELD = mn;                                           \
        s->max.FIELD = mx;                                           \
        s->has = 1;                                                  \
    } while (0)

#define NOSKIP(x) 0
#define SKIPNAN(x) isnan(x)

void pq_stat_update(pq_stat_acc *s, const void *values, size_t n)
{
    if (!n) return;
    switch (s->type) {
    case PQ_BOOLEAN: MINMAX_LOOP(uint8_t, b, NOSKIP); break;
    case PQ_INT32: MINMAX_LOOP(int32_t, i32, NOSKIP); break;
    case PQ_INT64: MINMAX_LOOP(int64_t, i64, NOSKIP); break;
    case PQ_FLOAT: MINMAX_LOOP(float, f32, SKIPNAN); break;
    case PQ_DOUBLE: MINMAX_LOOP(double, f64, SKIPNAN); break;
    case PQ_BYTE_ARRAY: {
        const pq_bytes *v = values;
        for (size_t i = 0; i < n; i++) pq_stat_update_bytes(s, v[i].ptr, v[i].len);
        break;
    }
    default: break;   /* INT96 / FIXED_LEN_BYTE_ARRAY: no order recorded */
    }
}

void pq_stat_merge(pq_stat_acc *d, const pq_stat_acc *s)
{
    d->nulls += s->nulls;
    d->levels += s->levels;
    if (!s->has) return;
    switch (d->type) {
    case PQ_BOOLEAN: pq_stat_update(d, &s->min.b, 1); pq_stat_update(d, &s->max.b, 1); break;
    case PQ_INT32: pq_stat_update(d, &s->min.i32, 1); pq_stat_update(d, &s->max.i32, 1); break;
    case PQ_INT64: pq_stat_update(d, &s->min.i64, 1); pq_stat_update(d, &s->max.i64, 1); break;
    case PQ_FLOAT: pq_stat_update(d, &s->min.f32, 1); pq_stat_update(d, &s->max.f32, 1); break;
    case PQ_DOUBLE: pq_stat_update(d, &s->min.f64, 1); pq_stat_update(d, &s->max.f64, 1); break;
    case PQ_BYTE_ARRAY:
        pq_stat_update_bytes(d, s->bmin.data, (uint32_t)s->bmin.len);
        pq_stat_update_bytes(d, s->bmax.data, (uint32_t)s->bmax.len);
        break;
    default: break;
    }
}

/* malloc'd copy (1 byte for empty input, so the pointer is never NULL). */
static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *q = st_xmalloc(n ? n : 1);
    if (n) memcpy(q, p, n);
    return q;
}

int pq_stat_encode(const pq_stat_acc *s, uint8_t **min, uint32_t *min_len, uint8_t **max, uint32_t *max_len)
{
    *min = *max = NULL;
    *min_len = *max_len = 0;
    if (!s->has) return 0;
    size_t sz = 0;
    const void *pmin = NULL, *pmax = NULL;
    float f0, f1;
    double d0, d1;
    switch (s->type) {
    case PQ_BOOLEAN: sz = 1; pmin = &s->min.b; pmax = &s->max.b; break;
    case PQ_INT32: sz = 4; pmin = &s->min.i32; pmax = &s->max.i32; break;
    case PQ_INT64: sz = 8; pmin = &s->min.i64; pmax = &s->max.i64; break;
    case PQ_FLOAT:
        /* parquet-format: a zero min is written as -0.0, a zero max as +0.0 */
        f0 = s->min.f32 == 0.0f ? -0.0f : s->min.f32;
        f1 = s->max.f32 == 0.0f ? 0.0f : s->max.f32;
        sz = 4; pmin = &f0; pmax = &f1;
        break;
    case PQ_DOUBLE:
        d0 = s->min.f64 == 0.0 ? -0.0 : s->min.f64;
        d1 = s->max.f64 == 0.0 ? 0.0 : s->max.f64;
        sz = 8; pmin = &d0; pmax = &d1;
        break;
    case PQ_BYTE_ARRAY:
        *min = dup_bytes(s->bmin.data, s->bmin.len);
        *min_len = (uint32_t)s->bmin.len;
        *max = dup_bytes(s->bmax.data, s->bmax.len);
        *max_len = (uint32_t)s->bmax.len;
        return 1;
    default: return 0;
    }
    *min = dup_bytes(pmin, sz);
    *max = dup_bytes(pmax, sz);
    *min_len = *max_len = (uint32_t)sz;
    return 1;
}

void pq_stat_export(const pq_stat_acc *s, pq_column_stats *o)
{
    memset(o, 0, sizeof *o);
    o->null_count = s->nulls;
    o->num_values = s->levels;
    o->has_min_max = s->has;
    if (!s->has) return;
    switch (s->type) {
    case PQ_BOOLEAN: o->min.boolean = s->min.b; o->max.boolean = s->max.b; break;
    case PQ_INT32: o->min.i32 = s->min.i32; o->max.i32 = s->max.i32; break;
    case PQ_INT64: o->min.i64 = s->min.i64; o->max.i64 = s->max.i64; break;
    case PQ_FLOAT: o->min.f64 = s->min.f32; o->max.f64 = s->max.f32; break;
    case PQ_DOUBLE: o->min.f64 = s->min.f64; o->max.f64 = s->max.f64; break;
    case PQ_BYTE_ARRAY:
        o->min_bytes = dup_bytes(s->bmin.data, s->bmin.len);
        o->min_len = (uint32_t)s->bmin.len;
        o->max_bytes = dup_bytes(s->bmax.data, s->bmax.len);
        o->max_len = (uint32_t)s->bmax.len;
        break;
    default: o->has_min_max = 0; break;
    }
}
