/* colwriter.c — pages and column chunks of one leaf column (data page v1).
 *
 * While a page fills, levels are kept as int16 arrays and values either as
 * dictionary indices (uint32) or already PLAIN-encoded bytes. A page is closed at
 * a row boundary once its estimated size reaches page_bytes: levels are RLE-encoded,
 * the body compressed and appended with its header to the chunk buffer. The
 * dictionary page is written in front of the data pages when the chunk ends.
 */
#include "parquet/colwriter.h"

#include <stdlib.h>
#include <string.h>

#include "parquet/dict.h"
#include "parquet/encoding.h"
#include "parquet/stats.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet writer assumes a little-endian host"
#endif

/* Values per encode step: the page-size check runs between steps. */
#define PQ_SLICE 1024
/* After this many dictionary-encoded values in a chunk, a dictionary holding more than
 * 80% distinct values is dropped for PLAIN (saves building a dictionary to its limit). Two
 * slices: Silver's files hold a batch (20,000 rows), and a sample of 10,000 hashed and copied
 * half of every id, offset and raw JSON value into a dictionary that was then dropped. */
#define PQ_UNIQ_SAMPLE (2 * PQ_SLICE)

struct pq_colwriter {
    pq_physical type;
    int type_length;
    int16_t max_def, max_rep;
    pq_codec codec;
    int zstd_level;
    size_t page_bytes;
    size_t page_rows;
    size_t dict_max;
    int dict_allowed;          /* option and type allow a dictionary */
    int dict_active;           /* current chunk still dictionary-encoding */
    int chunk_used_dict;
    int uniq_checked;          /* early "mostly unique" check done for this chunk */
    size_t dict_values;        /* values dictionary-encoded in this chunk */
    pq_codec_ctx *cc;

    /* page being filled */
    st_buf def, rep;           /* int16 levels */
    st_buf vals;               /* PLAIN bytes, or uint32 dictionary indices, or bool bytes */
    size_t page_levels, page_values;
    int page_is_dict;

    /* chunk */
    pq_dict dict;
    st_buf chunk;              /* data pages (headers + compressed bodies) */
    st_buf out;                /* dictionary page + chunk, handed to the caller */
    st_buf body, comp, hdr;    /* scratch */
    int64_t chunk_uncompressed;
    int64_t chunk_levels;
    uint32_t encodings;
    pq_stat_acc cstat, fstat;  /* chunk and file statistics */
};

pq_colwriter *pq_colwriter_new(const pq_schema *s, int leaf, const pq_writer_options *opt, pq_codec_ctx *cc)
{
    const pq_leaf_desc *l = &s->leaves[leaf];
    const pq_schema_node *n = &s->nodes[l->node];
    pq_colwriter *cw = st_xcalloc(1, sizeof *cw);
    cw->type = n->physical;
    cw->type_length = n->type_length;
    cw->max_def = l->max_def;
    cw->max_rep = l->max_rep;
    cw->codec = opt->codec;
    cw->zstd_level = opt->zstd_level;
    cw->page_bytes = opt->page_bytes ? opt->page_bytes : (1u << 20);
    cw->page_rows = opt->page_rows ? opt->page_rows : (size_t)1 << 30;
    cw->dict_max = opt->dictionary_max_bytes ? opt->dictionary_max_bytes : (1u << 20);
    cw->dict_allowed = opt->dictionary && (cw->type == PQ_INT32 || cw->type == PQ_INT64 || cw->type == PQ_FLOAT ||
                                           cw->type == PQ_DOUBLE || cw->type == PQ_BYTE_ARRAY);
    cw->dict_active = cw->dict_allowed;
    cw->page_is_dict = cw->dict_active;
    cw->cc = cc;
    pq_dict_init(&cw->dict, cw->type, cw->type_length);
    pq_stat_init(&cw->cstat, cw->type);
    pq_stat_init(&cw->fstat, cw->type);
    return cw;
}

void pq_colwriter_destroy(pq_colwriter *cw)
{
    if (!cw) return;
    st_buf_free(&cw->def);
    st_buf_free(&cw->rep);
    st_buf_free(&cw->vals);
    st_buf_free(&cw->chunk);
    st_buf_free(&cw->out);
    st_buf_free(&cw->body);
    st_buf_free(&cw->comp);
    st_buf_free(&cw->hdr);
    pq_dict_free(&cw->dict);
    pq_stat_free(&cw->cstat);
    pq_stat_free(&cw->fstat);
    free(cw);
}

/* Bytes per value of fixed-width types (0 for BYTE_ARRAY). */
static size_t value_width(const pq_colwriter *cw)
{
    switch (cw->type) {
    case PQ_BOOLEAN: return 1;
    case PQ_INT32: case PQ_FLOAT: return 4;
    case PQ_INT64: case PQ_DOUBLE: return 8;
    case PQ_INT96: return 12;
    case PQ_FIXED_LEN_BYTE_ARRAY: return (size_t)cw->type_length;
    default: return 0;
    }
}

/* Estimated encoded size of the page so far (levels compress to little). */
static size_t page_estimate(const pq_colwriter *cw)
{
    size_t lv = (cw->def.len + cw->rep.len) / 8;
    if (cw->page_is_dict) {
        int bw = pq_bit_width(cw->dict.count ? cw->dict.count - 1 : 0);
        return lv + cw->page_values * (size_t)(bw ? bw : 1) / 8;
    }
    if (cw->type == PQ_BOOLEAN) return lv + cw->page_values / 8;
    return lv + cw->vals.len;
}

/* Compresses body into the given buffer with its page header. */
static st_code emit_page(pq_colwriter *cw, pq_page_header *h, const st_buf *body, st_buf *dst, st_err *e)
{
    st_code rc = pq_compress(cw->cc, cw->codec, cw->zstd_level, body->data, body->len, &cw->comp, e);
    if (rc) return rc;
    if (body->len > INT32_MAX || cw->comp.len > INT32_MAX)
        return st_err_set(e, ST_ERR_ARG, "page larger than 2 GiB");
    h->uncompressed_size = (int32_t)body->len;
    h->compressed_size = (int32_t)cw->comp.len;
    st_buf_reset(&cw->hdr);
    pq_meta_write_page_header(&cw->hdr, h);
    st_buf_append(dst, cw->hdr.data, cw->hdr.len);
    st_buf_append(dst, cw->comp.data, cw->comp.len);
    cw->chunk_uncompressed += (int64_t)(cw->hdr.len + body->len);
    return ST_OK;
}

/* v1 level block: 4-byte little-endian length, then the RLE/bit-packed hybrid. O(n). */
static void append_levels(st_buf *body, const st_buf *lv, size_t n, int16_t max)
{
    size_t at = body->len;
    st_buf_reserve(body, 4);
    body->len += 4;
    pq_rle_encode_i16(body, (const int16_t *)lv->data, n, pq_bit_width((uint32_t)max));
    uint32_t len = (uint32_t)(body->len - at - 4);
    memcpy(body->data + at, &len, 4);
}

/* Closes the current page (no-op when empty). */
static st_code flush_page(pq_colwriter *cw, st_err *e)
{
    if (!cw->page_levels) return ST_OK;
    st_buf *body = &cw->body;
    st_buf_reset(body);
    if (cw->max_rep > 0) append_levels(body, &cw->rep, cw->page_levels, cw->max_rep);
    if (cw->max_def > 0) append_levels(body, &cw->def, cw->page_levels, cw->max_def);
    pq_page_header h = {.type = PQ_PAGE_DATA, .num_values = (int32_t)cw->page_levels};
    if (cw->page_is_dict) {
        int bw = pq_bit_width(cw->dict.count ? cw->dict.count - 1 : 0);
        if (bw == 0) bw = 1;
        st_buf_append_u8(body, (uint8_t)bw);
        pq_rle_encode_u32(body, (const uint32_t *)cw->vals.data, cw->page_values, bw);
        h.encoding = PQ_ENC_RLE_DICTIONARY;
        cw->chunk_used_dict = 1;
        cw->encodings |= 1u << PQ_ENC_RLE_DICTIONARY;
    } else {
        if (cw->type == PQ_BOOLEAN) pq_bool_pack(body, cw->vals.data, cw->page_values);
        else if (body->len) st_buf_append(body, cw->vals.data, cw->vals.len);
        else body = &cw->vals;   /* no levels: the PLAIN values are the whole body, skip a copy */
        h.encoding = PQ_ENC_PLAIN;
        cw->encodings |= 1u << PQ_ENC_PLAIN;
    }
    if (cw->page_levels > INT32_MAX) return st_err_set(e, ST_ERR_ARG, "page with more than 2^31 values");
    st_code rc = emit_page(cw, &h, body, &cw->chunk, e);
    if (rc) return rc;
    st_buf_reset(&cw->def);
    st_buf_reset(&cw->rep);
    st_buf_reset(&cw->vals);
    cw->page_levels = cw->page_values = 0;
    cw->page_is_dict = cw->dict_active;
    return ST_OK;
}

/* Encodes n dense values into the page (dictionary indices or PLAIN bytes). */
static void put_values(pq_colwriter *cw, const pq_column_batch *b, size_t v0, size_t n)
{
    if (!n) return;
    if (cw->page_is_dict) {
        st_buf_reserve(&cw->vals, n * 4);
        uint32_t *idx = (uint32_t *)(cw->vals.data + cw->vals.len);
        const void *src;
        switch (cw->type) {
        case PQ_INT32: src = b->values.i32 + v0; break;
        case PQ_INT64: src = b->values.i64 + v0; break;
        case PQ_FLOAT: src = b->values.f32 + v0; break;
        case PQ_DOUBLE: src = b->values.f64 + v0; break;
        default: src = b->values.bytes + v0; break;
        }
        pq_dict_put(&cw->dict, src, n, idx, &cw->cstat);
        cw->dict_values += n;
        cw->vals.len += n * 4;
        cw->page_values += n;
        return;
    }
    switch (cw->type) {
    case PQ_BOOLEAN:
        st_buf_append(&cw->vals, b->values.boolean + v0, n);
        pq_stat_update(&cw->cstat, b->values.boolean + v0, n);
        break;
    case PQ_INT32:
        st_buf_append(&cw->vals, b->values.i32 + v0, n * 4);
        pq_stat_update(&cw->cstat, b->values.i32 + v0, n);
        break;
    case PQ_FLOAT:
        st_buf_append(&cw->vals, b->values.f32 + v0, n * 4);
        pq_stat_update(&cw->cstat, b->values.f32 + v0, n);
        break;
    case PQ_INT64:
        st_buf_append(&cw->vals, b->values.i64 + v0, n * 8);
        pq_stat_update(&cw->cstat, b->values.i64 + v0, n);
        break;
    case PQ_DOUBLE:
        st_buf_append(&cw->vals, b->values.f64 + v0, n * 8);
        pq_stat_update(&cw->cstat, b->values.f64 + v0, n);
        break;
    case PQ_BYTE_ARRAY: {
        const pq_bytes *v = b->values.bytes + v0;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) total += 4 + (size_t)v[i].len;
        st_buf_reserve(&cw->vals, total);
        uint8_t *p = cw->vals.data + cw->vals.len;
        for (size_t i = 0; i < n; i++) {
            uint32_t len = v[i].len;
            memcpy(p, &len, 4);
            if (len) memcpy(p + 4, v[i].ptr, len);
            p += 4 + len;
        }
        cw->vals.len += total;
        pq_stat_update(&cw->cstat, v, n);
        break;
    }
    case PQ_INT96:
    case PQ_FIXED_LEN_BYTE_ARRAY: {
        size_t wdt = value_width(cw);
        const pq_bytes *v = b->values.bytes + v0;
        st_buf_reserve(&cw->vals, n * wdt);
        for (size_t i = 0; i < n; i++) {
            uint8_t *p = cw->vals.data + cw->vals.len;
            size_t m = v[i].len < wdt ? v[i].len : wdt;
            if (m) memcpy(p, v[i].ptr, m);
            if (m < wdt) memset(p + m, 0, wdt - m);
            cw->vals.len += wdt;
        }
        break;
    }
    }
    cw->page_values += n;
}

st_code pq_colwriter_write(pq_colwriter *cw, const pq_column_batch *b, size_t l0, size_t l1, size_t v0,
                           size_t *nvalues, st_err *e)
{
    size_t vstart = v0;
    size_t l = l0;
    while (l < l1) {
        size_t step = PQ_SLICE;
        if (cw->page_levels < cw->page_rows && cw->page_rows - cw->page_levels < step)
            step = cw->page_rows - cw->page_levels;
        size_t end = l + step < l1 ? l + step : l1;
        /* pages end at row boundaries: extend to the next rep level 0 */
        if (cw->max_rep > 0)
            while (end < l1 && b->rep_levels[end] != 0) end++;
        size_t n = end - l, nv = n;
        if (cw->max_def > 0) {
            st_buf_append(&cw->def, b->def_levels + l, n * 2);
            nv = 0;
            const int16_t *d = b->def_levels + l;
            for (size_t i = 0; i < n; i++) nv += d[i] == cw->max_def;
        }
        if (cw->max_rep > 0) st_buf_append(&cw->rep, b->rep_levels + l, n * 2);
        put_values(cw, b, v0, nv);
        cw->page_levels += n;
        cw->chunk_levels += (int64_t)n;
        cw->cstat.levels += (int64_t)n;
        cw->cstat.nulls += (int64_t)(n - nv);
        v0 += nv;
        l = end;
        int mostly_unique = 0;
        if (cw->page_is_dict && !cw->uniq_checked && cw->dict_values >= PQ_UNIQ_SAMPLE) {
            /* ids, timestamps: a dictionary would only grow to its limit and be dropped */
            cw->uniq_checked = 1;
            mostly_unique = (size_t)cw->dict.count * 5 > cw->dict_values * 4;
        }
        if (cw->page_is_dict && (cw->dict.data.len > cw->dict_max || mostly_unique)) {
            /* dictionary too large: the pages so far keep it, the rest of the chunk is PLAIN */
            cw->dict_active = 0;
            st_code rc = flush_page(cw, e);
            if (rc) return rc;
            cw->page_is_dict = 0;
        } else if (page_estimate(cw) >= cw->page_bytes || cw->page_levels >= cw->page_rows) {
            st_code rc = flush_page(cw, e);
            if (rc) return rc;
        }
    }
    *nvalues = v0 - vstart;
    return ST_OK;
}

st_code pq_colwriter_finish_chunk(pq_colwriter *cw, int64_t file_offset, const st_buf **bytes,
                                  pq_chunk_meta *meta, st_err *e)
{
    st_code rc = flush_page(cw, e);
    if (rc) return rc;
    memset(meta, 0, sizeof *meta);
    st_buf_reset(&cw->out);
    meta->dictionary_page_offset = -1;
    if (cw->chunk_used_dict) {
        pq_page_header h = {.type = PQ_PAGE_DICTIONARY, .num_values = (int32_t)cw->dict.count,
                            .encoding = PQ_ENC_PLAIN};
        rc = emit_page(cw, &h, &cw->dict.data, &cw->out, e);
        if (rc) return rc;
        meta->dictionary_page_offset = file_offset;
        cw->encodings |= 1u << PQ_ENC_PLAIN;
    }
    meta->data_page_offset = file_offset + (int64_t)cw->out.len;
    st_buf_append(&cw->out, cw->chunk.data, cw->chunk.len);
    if (cw->max_def > 0 || cw->max_rep > 0) cw->encodings |= 1u << PQ_ENC_RLE;
    if (!cw->encodings) cw->encodings = 1u << PQ_ENC_PLAIN;
    meta->type = cw->type;
    meta->codec = cw->codec;
    meta->num_values = cw->chunk_levels;
    meta->total_uncompressed = cw->chunk_uncompressed;
    meta->total_compressed = (int64_t)cw->out.len;
    meta->encodings = cw->encodings;
    meta->has_null_count = 1;
    meta->null_count = cw->cstat.nulls;
    /* very long strings are left out of the footer statistics */
    if (!(cw->type == PQ_BYTE_ARRAY && (cw->cstat.bmin.len > 4096 || cw->cstat.bmax.len > 4096)))
        pq_stat_encode(&cw->cstat, &meta->min, &meta->min_len, &meta->max, &meta->max_len);
    *bytes = &cw->out;

    pq_stat_merge(&cw->fstat, &cw->cstat);
    pq_stat_reset(&cw->cstat);
    st_buf_reset(&cw->chunk);
    pq_dict_reset(&cw->dict);
    cw->dict_active = cw->dict_allowed;
    cw->page_is_dict = cw->dict_active;
    cw->chunk_used_dict = 0;
    cw->uniq_checked = 0;
    cw->dict_values = 0;
    cw->chunk_uncompressed = 0;
    cw->chunk_levels = 0;
    cw->encodings = 0;
    return ST_OK;
}

void pq_colwriter_file_stats(const pq_colwriter *cw, pq_column_stats *out)
{
    pq_stat_acc tmp;
    pq_stat_init(&tmp, cw->type);
    pq_stat_merge(&tmp, &cw->fstat);
    pq_stat_merge(&tmp, &cw->cstat);
    pq_stat_export(&tmp, out);
    pq_stat_free(&tmp);
}

size_t pq_colwriter_buffered_bytes(const pq_colwriter *cw)
{
    return cw->chunk.len + (cw->chunk_used_dict || cw->page_is_dict ? cw->dict.data.len : 0) + page_estimate(cw);
}
