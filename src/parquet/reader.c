/* reader.c — pq_reader: footer validation and column chunk decoding.
 *
 * Files are read through a byte source of the storage layer (store/store.h): the
 * footer at open (one read of the file's tail, which holds it unless it is large), then
 * one read per column chunk decoded. Every size, offset and count taken from the file is
 * checked against the bytes that exist before use; a damaged file yields ST_ERR_FORMAT
 * naming it, never a crash. Decoded columns own their memory (an arena of page copies),
 * so they outlive the reader.
 */
#include <stdlib.h>
#include <string.h>

#include "parquet/codec.h"
#include "parquet/encoding.h"
#include "parquet/meta.h"
#include "parquet/parquet.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet reader assumes a little-endian host"
#endif

/* Upper bound on level entries in one column chunk we agree to decode (memory guard). */
#define PQ_MAX_CHUNK_LEVELS (1LL << 28)
/* Upper bound on one page's uncompressed size. */
#define PQ_MAX_PAGE_BYTES (1LL << 30)
/* Bytes read from the end of the file at open: the footer of most files fits, so opening
 * costs one read (one request on object storage). */
#define PQ_TAIL_BYTES (64 * 1024)

struct pq_reader {
    char *name;
    st_source *src;
    size_t len;                /* file size */
    size_t footer_start;       /* first byte of the footer */
    st_buf chunk;              /* the compressed column chunk being decoded */
    pq_file_meta fm;
    pq_leaf_info *leaves;
    pq_codec_ctx *cc;
    st_buf scratch, idx;
};

typedef struct arena_block {
    struct arena_block *next;
    size_t size;
    uint8_t data[];
} arena_block;

/* Allocates n bytes owned by the column data (freed by pq_column_data_free). */
static uint8_t *arena_alloc(pq_column_data *c, size_t n)
{
    arena_block *b = st_xmalloc(sizeof *b + (n ? n : 1));
    b->next = c->arena;
    b->size = n;
    c->arena = b;
    return b->data;
}

void pq_column_data_free(pq_column_data *c)
{
    if (!c) return;
    arena_block *b = c->arena;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    free(c->def_levels);
    free(c->rep_levels);
    free(c->values.i32);
    memset(c, 0, sizeof *c);
}

void pq_reader_close(pq_reader *r)
{
    if (!r) return;
    st_source_close(r->src);
    st_buf_free(&r->chunk);
    pq_file_meta_free(&r->fm);
    free(r->leaves);
    pq_codec_ctx_destroy(r->cc);
    st_buf_free(&r->scratch);
    st_buf_free(&r->idx);
    free(r->name);
    free(r);
}

/* Checks magic numbers and footer, parses it and the chunk ranges. Reads the tail of the
 * file (PQ_TAIL_BYTES, or all of a small file), plus the head's magic and the rest of a
 * larger footer when they are not in it. */
static st_code reader_init(pq_reader *r, st_err *e)
{
    size_t n = r->len;
    if (n < 12) return st_err_set(e, ST_ERR_FORMAT, "%s: not a Parquet file (only %zu bytes)", r->name, n);
    size_t tail = n < PQ_TAIL_BYTES ? n : PQ_TAIL_BYTES;
    st_buf t = {0};
    st_buf_reserve(&t, tail);
    st_code rc = st_source_read(r->src, n - tail, tail, t.data, e);
    if (rc) goto done;
    t.len = tail;
    const uint8_t *end = t.data + tail;
    uint8_t head[4];
    if (tail == n) memcpy(head, t.data, 4);
    else if ((rc = st_source_read(r->src, 0, 4, head, e))) goto done;
    if (!memcmp(end - 4, "PARE", 4)) {
        rc = st_err_set(e, ST_ERR_UNSUPPORTED, "%s: encrypted Parquet footer (PARE) is not supported", r->name);
        goto done;
    }
    if (memcmp(head, "PAR1", 4) || memcmp(end - 4, "PAR1", 4)) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: not a Parquet file (bad magic number)", r->name);
        goto done;
    }
    uint32_t flen;
    memcpy(&flen, end - 8, 4);
    if ((size_t)flen > n - 12) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: damaged Parquet footer: length %u exceeds the file (%zu bytes)",
                        r->name, flen, n);
        goto done;
    }
    r->footer_start = n - 8 - flen;
    const uint8_t *foot;
    if ((size_t)flen + 8 <= tail) {
        foot = end - 8 - flen;
    } else {
        st_buf_reset(&t);
        st_buf_reserve(&t, flen);
        if ((rc = st_source_read(r->src, r->footer_start, flen, t.data, e))) goto done;
        foot = t.data;
    }
    rc = pq_meta_parse_footer(foot, flen, r->name, &r->fm, e);
done:
    st_buf_free(&t);
    if (rc) return rc;
    for (int g = 0; g < r->fm.nrgs; g++)
        for (int c = 0; c < r->fm.schema.nleaves; c++) {
            pq_chunk_meta *cm = &r->fm.rgs[g].cols[c];
            if (cm->num_values == 0 && cm->total_compressed >= 0) continue; /* empty chunk: never read */
            int64_t start = cm->data_page_offset;
            if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start) start = cm->dictionary_page_offset;
            if (start < 4 || cm->total_compressed < 0 || cm->num_values < 0 ||
                cm->total_compressed > (int64_t)r->footer_start - start)
                return st_err_set(e, ST_ERR_FORMAT,
                                  "%s: damaged Parquet footer: column '%s' of row group %d lies outside the file",
                                  r->name, r->fm.schema.leaves[c].dotted, g);
        }
    r->leaves = st_xcalloc((size_t)r->fm.schema.nleaves + 1, sizeof *r->leaves);
    for (int c = 0; c < r->fm.schema.nleaves; c++) {
        const pq_leaf_desc *l = &r->fm.schema.leaves[c];
        r->leaves[c].path = l->dotted;
        r->leaves[c].node = l->node;
        r->leaves[c].max_def = l->max_def;
        r->leaves[c].max_rep = l->max_rep;
    }
    r->cc = pq_codec_ctx_new();
    return ST_OK;
}

pq_reader *pq_reader_open(st_source *src, st_err *e)
{
    if (!src) {
        st_err_set(e, ST_ERR_ARG, "pq_reader_open: no source");
        return NULL;
    }
    pq_reader *r = st_xcalloc(1, sizeof *r);
    r->src = src;
    r->name = st_xstrdup(st_source_name(src));
    r->len = (size_t)st_source_size(src);
    if (reader_init(r, e)) {
        pq_reader_close(r);
        return NULL;
    }
    return r;
}

pq_reader *pq_reader_open_mem(const uint8_t *data, size_t len, const char *name, st_err *e)
{
    return pq_reader_open(st_source_mem(data, len, name ? name : "<memory>"), e);
}

int64_t pq_reader_num_rows(const pq_reader *r) { return r->fm.num_rows; }
int pq_reader_num_row_groups(const pq_reader *r) { return r->fm.nrgs; }

int64_t pq_reader_row_group_rows(const pq_reader *r, int g)
{
    return g >= 0 && g < r->fm.nrgs ? r->fm.rgs[g].num_rows : -1;
}

const pq_schema_node *pq_reader_schema(const pq_reader *r, int *nfields)
{
    if (nfields) *nfields = r->fm.schema.nnodes;
    return r->fm.schema.nodes;
}

int pq_reader_num_leaves(const pq_reader *r) { return r->fm.schema.nleaves; }

const pq_leaf_info *pq_reader_leaf(const pq_reader *r, int leaf)
{
    return leaf >= 0 && leaf < r->fm.schema.nleaves ? &r->leaves[leaf] : NULL;
}

int pq_reader_find_leaf(const pq_reader *r, const char *path)
{
    for (int i = 0; i < r->fm.schema.nleaves; i++)
        if (!strcmp(r->leaves[i].path, path)) return i;
    return -1;
}

const char *pq_reader_created_by(const pq_reader *r) { return r->fm.created_by ? r->fm.created_by : ""; }

/* ------------------------------------------------------------------ decoding */

typedef struct chunk_ctx {
    pq_reader *r;
    const char *col;           /* dotted name for messages */
    int rg;
    pq_physical type;
    size_t width;              /* fixed value width, 0 for BYTE_ARRAY, 1 for BOOLEAN */
    int16_t max_def, max_rep;
    pq_column_data *out;
    size_t cap_values;
    /* dictionary */
    int has_dict;
    uint32_t dict_count;
    const uint8_t *dict_fixed;
    pq_bytes *dict_bytes;
    const uint8_t *dba_prev;   /* DELTA_BYTE_ARRAY: previous value (prefixes span pages) */
    size_t dba_prev_len;
    st_err *e;
} chunk_ctx;

/* FORMAT error naming the file, column and row group. */
static st_code bad(chunk_ctx *c, const char *what)
{
    return st_err_set(c->e, ST_ERR_FORMAT, "%s: damaged column '%s' in row group %d: %s", c->r->name, c->col,
                      c->rg, what);
}

static const char *enc_name(int enc)
{
    static const char *names[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
                                  "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
                                  "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < 10 ? names[enc] : "unknown";
}

/* Decodes a PLAIN dictionary page body (kept alive in the output arena). */
static st_code load_dict(chunk_ctx *c, const uint8_t *p, size_t len, int32_t count)
{
    if (c->has_dict) return bad(c, "second dictionary page");
    if (c->type == PQ_BOOLEAN) return bad(c, "dictionary page for a BOOLEAN column");
    c->has_dict = 1;
    c->dict_count = (uint32_t)count;
    if (c->width) {
        if ((size_t)count > len / c->width) return bad(c, "dictionary page shorter than its entries");
        c->dict_fixed = p;
        return ST_OK;
    }
    if ((size_t)count > len / 4) return bad(c, "dictionary page shorter than its entries");
    c->dict_bytes = (pq_bytes *)arena_alloc(c->out, (size_t)count * sizeof(pq_bytes));
    size_t off = 0;
    for (int32_t i = 0; i < count; i++) {
        if (len - off < 4) return bad(c, "dictionary entry past the page end");
        uint32_t n;
        memcpy(&n, p + off, 4);
        off += 4;
        if (n > len - off) return bad(c, "dictionary entry past the page end");
        c->dict_bytes[i].ptr = p + off;
        c->dict_bytes[i].len = n;
        off += n;
    }
    return ST_OK;
}

/* Decodes nv values at out->values[out->num_values..] from p[0..len). */
static st_code decode_values(chunk_ctx *c, int enc, const uint8_t *p, size_t len, size_t nv)
{
    pq_column_data *o = c->out;
    size_t at = o->num_values;
    if (nv > c->cap_values - at) return bad(c, "more values than level entries");
    if (!nv) return ST_OK;
    if (enc == PQ_ENC_PLAIN) {
        if (c->type == PQ_BOOLEAN) {
            if ((nv + 7) / 8 > len) return bad(c, "BOOLEAN values past the page end");
            for (size_t i = 0; i < nv; i++) o->values.boolean[at + i] = (p[i >> 3] >> (i & 7)) & 1;
        } else if (c->type == PQ_BYTE_ARRAY) {
            size_t off = 0;
            pq_bytes *v = o->values.bytes + at;
            for (size_t i = 0; i < nv; i++) {
                if (len - off < 4) return bad(c, "BYTE_ARRAY value past the page end");
                uint32_t n;
                memcpy(&n, p + off, 4);
                off += 4;
                if (n > len - off) return bad(c, "BYTE_ARRAY value past the page end");
                v[i].ptr = p + off;
                v[i].len = n;
                off += n;
            }
        } else if (c->type == PQ_INT96 || c->type == PQ_FIXED_LEN_BYTE_ARRAY) {
            if (nv > len / c->width) return bad(c, "values past the page end");
            for (size_t i = 0; i < nv; i++) {
                o->values.bytes[at + i].ptr = p + i * c->width;
                o->values.bytes[at + i].len = (uint32_t)c->width;
            }
        } else {
            if (nv > len / c->width) return bad(c, "values past the page end");
            memcpy((uint8_t *)o->values.i32 + at * c->width, p, nv * c->width);
        }
    } else if (enc == PQ_ENC_RLE_DICTIONARY || enc == PQ_ENC_PLAIN_DICTIONARY) {
        if (!c->has_dict) return bad(c, "dictionary-encoded page without a dictionary page");
        if (len < 1) return bad(c, "empty dictionary-encoded page");
        int bw = p[0];
        if (bw > 32) return bad(c, "dictionary index bit width above 32");
        st_buf *ib = &c->r->idx;
        st_buf_reset(ib);
        st_buf_reserve(ib, nv * 4);
        uint32_t *idx = (uint32_t *)ib->data;
        if (pq_rle_decode_u32(p + 1, len - 1, bw, idx, nv)) return bad(c, "corrupt dictionary indices");
        for (size_t i = 0; i < nv; i++)
            if (idx[i] >= c->dict_count) return bad(c, "dictionary index out of range");
        if (c->type == PQ_BYTE_ARRAY) {
            for (size_t i = 0; i < nv; i++) o->values.bytes[at + i] = c->dict_bytes[idx[i]];
        } else if (c->type == PQ_INT96 || c->type == PQ_FIXED_LEN_BYTE_ARRAY) {
            for (size_t i = 0; i < nv; i++) {
                o->values.bytes[at + i].ptr = c->dict_fixed + (size_t)idx[i] * c->width;
                o->values.bytes[at + i].len = (uint32_t)c->width;
            }
        } else if (c->width == 4) {
            const uint32_t *d = (const uint32_t *)(const void *)c->dict_fixed;
            uint32_t *dst = (uint32_t *)o->values.i32 + at;
            for (size_t i = 0; i < nv; i++) memcpy(&dst[i], (const uint8_t *)d + (size_t)idx[i] * 4, 4);
        } else {
            uint8_t *dst = (uint8_t *)o->values.i64 + at * 8;
            for (size_t i = 0; i < nv; i++) memcpy(dst + i * 8, c->dict_fixed + (size_t)idx[i] * 8, 8);
        }
    } else if (enc == PQ_ENC_RLE && c->type == PQ_BOOLEAN) {
        if (len < 4) return bad(c, "RLE boolean page too short");
        uint32_t n;
        memcpy(&n, p, 4);
        if (n > len - 4) return bad(c, "RLE boolean length past the page end");
        st_buf *ib = &c->r->idx;
        st_buf_reset(ib);
        st_buf_reserve(ib, nv * 4);
        uint32_t *idx = (uint32_t *)ib->data;
        if (pq_rle_decode_u32(p + 4, n, 1, idx, nv)) return bad(c, "corrupt RLE booleans");
        for (size_t i = 0; i < nv; i++) o->values.boolean[at + i] = (uint8_t)idx[i];
    } else if (enc == PQ_ENC_DELTA_BINARY_PACKED && (c->type == PQ_INT32 || c->type == PQ_INT64)) {
        size_t used;
        if (pq_delta_decode(p, len, (int)c->width, (uint8_t *)o->values.i32 + at * c->width, nv, &used))
            return bad(c, "corrupt DELTA_BINARY_PACKED values");
    } else if (enc == PQ_ENC_DELTA_LENGTH_BYTE_ARRAY && c->type == PQ_BYTE_ARRAY) {
        st_buf *ib = &c->r->idx;
        st_buf_reset(ib);
        st_buf_reserve(ib, nv * 4 + 4);
        int32_t *lens = (int32_t *)ib->data;
        size_t used;
        if (pq_delta_decode(p, len, 4, lens, nv, &used)) return bad(c, "corrupt DELTA_LENGTH_BYTE_ARRAY lengths");
        size_t off = used;
        for (size_t i = 0; i < nv; i++) {
            if (lens[i] < 0 || (size_t)lens[i] > len - off) return bad(c, "DELTA_LENGTH_BYTE_ARRAY value past the page end");
            o->values.bytes[at + i].ptr = p + off;
            o->values.bytes[at + i].len = (uint32_t)lens[i];
            off += (size_t)lens[i];
        }
    } else if (enc == PQ_ENC_DELTA_BYTE_ARRAY && (c->type == PQ_BYTE_ARRAY || c->type == PQ_FIXED_LEN_BYTE_ARRAY)) {
        st_buf *ib = &c->r->idx;
        st_buf_reset(ib);
        st_buf_reserve(ib, nv * 8 + 8);
        int32_t *pre = (int32_t *)ib->data, *suf = pre + nv;
        size_t u1, u2;
        if (pq_delta_decode(p, len, 4, pre, nv, &u1) || pq_delta_decode(p + u1, len - u1, 4, suf, nv, &u2))
            return bad(c, "corrupt DELTA_BYTE_ARRAY lengths");
        size_t off = u1 + u2, total = 0, prev = c->dba_prev_len;
        for (size_t i = 0; i < nv; i++) {
            if (pre[i] < 0 || suf[i] < 0 || (size_t)pre[i] > prev || (size_t)suf[i] > len - off)
                return bad(c, "DELTA_BYTE_ARRAY value out of range");
            off += (size_t)suf[i];
            prev = (size_t)pre[i] + (size_t)suf[i];
            total += prev;
            if (total > PQ_MAX_PAGE_BYTES * 4) return bad(c, "DELTA_BYTE_ARRAY values too large");
        }
        uint8_t *dst = arena_alloc(o, total), *w = dst;
        const uint8_t *src = p + u1 + u2, *prevp = c->dba_prev;
        for (size_t i = 0; i < nv; i++) {
            if (pre[i]) memcpy(w, prevp, (size_t)pre[i]);
            if (suf[i]) memcpy(w + pre[i], src, (size_t)suf[i]);
            src += suf[i];
            o->values.bytes[at + i].ptr = w;
            o->values.bytes[at + i].len = (uint32_t)(pre[i] + suf[i]);
            prevp = w;
            w += pre[i] + suf[i];
        }
        if (nv) {
            c->dba_prev = o->values.bytes[at + nv - 1].ptr;
            c->dba_prev_len = o->values.bytes[at + nv - 1].len;
        }
    } else if (enc == PQ_ENC_BYTE_STREAM_SPLIT && c->type != PQ_BOOLEAN && c->type != PQ_BYTE_ARRAY &&
               c->type != PQ_INT96) {
        size_t k = c->width;
        if (nv > len / k) return bad(c, "BYTE_STREAM_SPLIT values past the page end");
        uint8_t *dst;
        if (c->type == PQ_FIXED_LEN_BYTE_ARRAY) {
            dst = arena_alloc(o, nv * k);
            for (size_t i = 0; i < nv; i++) {
                o->values.bytes[at + i].ptr = dst + i * k;
                o->values.bytes[at + i].len = (uint32_t)k;
            }
        } else {
            dst = (uint8_t *)o->values.i32 + at * k;
        }
        for (size_t b = 0; b < k; b++)
            for (size_t i = 0; i < nv; i++) dst[i * k + b] = p[b * nv + i];
    } else {
        return st_err_set(c->e, ST_ERR_UNSUPPORTED, "%s: column '%s' uses encoding %s (%d), which is not supported",
                          c->r->name, c->col, enc_name(enc), enc);
    }
    o->num_values += nv;
    return ST_OK;
}

/* Decodes n levels; in v1 pages they carry a 4-byte length (prefixed=1). Advances *p. */
static st_code decode_levels(chunk_ctx *c, const uint8_t **p, const uint8_t *end, size_t v2len, int prefixed,
                             int16_t max, int16_t *out, size_t n, const char *what)
{
    size_t len = v2len;
    if (prefixed) {
        if (end - *p < 4) return bad(c, what);
        uint32_t l32;
        memcpy(&l32, *p, 4);
        *p += 4;
        len = l32;
    }
    if (len > (size_t)(end - *p)) return bad(c, what);
    if (pq_rle_decode_i16(*p, len, pq_bit_width((uint32_t)max), out, n)) return bad(c, what);
    for (size_t i = 0; i < n; i++)
        if (out[i] < 0 || out[i] > max) return bad(c, what);
    *p += len;
    return ST_OK;
}

/* Decodes one column chunk page by page (dictionary, v1 and v2 data pages), checking
 * every size against the chunk and page bounds. Memory ~ the chunk's uncompressed size. */
static st_code read_chunk(pq_reader *r, int g, int leaf, pq_column_data *out, st_err *e)
{
    const pq_chunk_meta *cm = &r->fm.rgs[g].cols[leaf];
    const pq_leaf_desc *l = &r->fm.schema.leaves[leaf];
    const pq_schema_node *node = &r->fm.schema.nodes[l->node];
    chunk_ctx c = {.r = r, .col = l->dotted, .rg = g, .type = node->physical, .max_def = l->max_def,
                   .max_rep = l->max_rep, .out = out, .e = e};
    switch (c.type) {
    case PQ_BOOLEAN: c.width = 1; break;
    case PQ_INT32: case PQ_FLOAT: c.width = 4; break;
    case PQ_INT64: case PQ_DOUBLE: c.width = 8; break;
    case PQ_INT96: c.width = 12; break;
    case PQ_FIXED_LEN_BYTE_ARRAY: c.width = (size_t)node->type_length; break;
    default: c.width = 0; break;
    }
    if (!pq_codec_can_write(cm->codec) && cm->codec != PQ_CODEC_GZIP && cm->codec != PQ_CODEC_LZ4_RAW &&
        cm->codec != PQ_CODEC_LZ4)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column '%s' uses compression %s, which is not supported",
                          r->name, l->dotted, pq_codec_name(cm->codec));
    int64_t total = cm->num_values;
    if (total > PQ_MAX_CHUNK_LEVELS)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column '%s' chunk has %lld values (limit %lld)", r->name,
                          l->dotted, (long long)total, (long long)PQ_MAX_CHUNK_LEVELS);
    if (l->max_rep == 0 && total != r->fm.rgs[g].num_rows) return bad(&c, "value count differs from the row count");
    size_t n = (size_t)total;
    out->physical = c.type;
    out->num_levels = n;
    if (l->max_def > 0) out->def_levels = st_xmalloc(n * 2 + 2);
    if (l->max_rep > 0) out->rep_levels = st_xmalloc(n * 2 + 2);
    size_t vsz = (c.type == PQ_BYTE_ARRAY || c.type == PQ_INT96 || c.type == PQ_FIXED_LEN_BYTE_ARRAY)
                     ? sizeof(pq_bytes) : c.width;
    out->values.i32 = st_xmalloc(n * vsz + 8);
    c.cap_values = n;

    int64_t start = cm->data_page_offset;
    if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start) start = cm->dictionary_page_offset;
    /* reader_init checked that [start, start + total_compressed) lies before the footer */
    if (n == 0) return ST_OK; /* an empty chunk (its range is not checked): nothing to read */
    st_buf_reset(&r->chunk);
    st_buf_reserve(&r->chunk, (size_t)cm->total_compressed + 1);
    st_code rrc = st_source_read(r->src, (uint64_t)start, (size_t)cm->total_compressed, r->chunk.data, e);
    if (rrc) return rrc;
    const uint8_t *p = r->chunk.data, *end = p + cm->total_compressed;
    size_t done = 0;
    int keep = c.width == 0 || c.type == PQ_INT96 || c.type == PQ_FIXED_LEN_BYTE_ARRAY;
    while (done < n) {
        if (p >= end) return bad(&c, "column chunk ends before all its values");
        pq_page_header h;
        size_t hlen;
        if (pq_meta_parse_page_header(p, (size_t)(end - p), &h, &hlen)) return bad(&c, "corrupt page header");
        p += hlen;
        if ((size_t)h.compressed_size > (size_t)(end - p)) return bad(&c, "page runs past the column chunk");
        if (h.uncompressed_size > PQ_MAX_PAGE_BYTES) return bad(&c, "page larger than 1 GiB");
        const uint8_t *body = p;
        p += h.compressed_size;
        if (h.type == PQ_PAGE_DICTIONARY) {
            if (h.encoding != PQ_ENC_PLAIN && h.encoding != PQ_ENC_PLAIN_DICTIONARY)
                return bad(&c, "dictionary page not PLAIN-encoded");
            uint8_t *buf = arena_alloc(out, (size_t)h.uncompressed_size);
            st_code rc = pq_decompress(r->cc, cm->codec, body, (size_t)h.compressed_size, buf,
                                       (size_t)h.uncompressed_size, e);
            if (rc) return st_err_wrap(e, "%s: column '%s' dictionary page", r->name, l->dotted);
            rc = load_dict(&c, buf, (size_t)h.uncompressed_size, h.num_values);
            if (rc) return rc;
            continue;
        }
        if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2) continue;   /* index pages etc. */
        size_t pn = (size_t)h.num_values;
        if (pn > n - done) return bad(&c, "pages hold more values than the column chunk");
        const uint8_t *vp, *vend;
        int16_t *defs = out->def_levels ? out->def_levels + done : NULL;
        int16_t *reps = out->rep_levels ? out->rep_levels + done : NULL;
        st_code rc;
        if (h.type == PQ_PAGE_DATA) {
            uint8_t *buf;
            if (keep) {
                buf = arena_alloc(out, (size_t)h.uncompressed_size);
            } else {
                st_buf_reset(&r->scratch);
                st_buf_reserve(&r->scratch, (size_t)h.uncompressed_size + 1);
                buf = r->scratch.data;
            }
            rc = pq_decompress(r->cc, cm->codec, body, (size_t)h.compressed_size, buf, (size_t)h.uncompressed_size, e);
            if (rc) return st_err_wrap(e, "%s: column '%s' row group %d", r->name, l->dotted, g);
            vp = buf;
            vend = buf + h.uncompressed_size;
            if (l->max_rep > 0) {
                if (h.rep_encoding != PQ_ENC_RLE)
                    return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column '%s' uses %s repetition levels", r->name,
                                      l->dotted, enc_name(h.rep_encoding));
                rc = decode_levels(&c, &vp, vend, 0, 1, l->max_rep, reps, pn, "corrupt repetition levels");
                if (rc) return rc;
            }
            if (l->max_def > 0) {
                if (h.def_encoding != PQ_ENC_RLE)
                    return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column '%s' uses %s definition levels", r->name,
                                      l->dotted, enc_name(h.def_encoding));
                rc = decode_levels(&c, &vp, vend, 0, 1, l->max_def, defs, pn, "corrupt definition levels");
                if (rc) return rc;
            }
        } else {
            size_t lv = (size_t)h.rep_bytes + (size_t)h.def_bytes;
            if (lv > (size_t)h.compressed_size || lv > (size_t)h.uncompressed_size)
                return bad(&c, "v2 level sizes exceed the page");
            const uint8_t *lp = body;
            if (l->max_rep > 0) {
                rc = decode_levels(&c, &lp, body + h.rep_bytes, (size_t)h.rep_bytes, 0, l->max_rep, reps, pn,
                                   "corrupt repetition levels");
                if (rc) return rc;
            }
            lp = body + h.rep_bytes;
            if (l->max_def > 0) {
                rc = decode_levels(&c, &lp, lp + h.def_bytes, (size_t)h.def_bytes, 0, l->max_def, defs, pn,
                                   "corrupt definition levels");
                if (rc) return rc;
            }
            size_t ulen = (size_t)h.uncompressed_size - lv, clen = (size_t)h.compressed_size - lv;
            uint8_t *buf;
            if (keep) {
                buf = arena_alloc(out, ulen);
            } else {
                st_buf_reset(&r->scratch);
                st_buf_reserve(&r->scratch, ulen + 1);
                buf = r->scratch.data;
            }
            pq_codec codec = h.is_compressed ? cm->codec : PQ_CODEC_UNCOMPRESSED;
            rc = pq_decompress(r->cc, codec, body + lv, clen, buf, ulen, e);
            if (rc) return st_err_wrap(e, "%s: column '%s' row group %d", r->name, l->dotted, g);
            vp = buf;
            vend = buf + ulen;
        }
        size_t nv = pn;
        if (defs) {
            nv = 0;
            for (size_t i = 0; i < pn; i++) nv += defs[i] == l->max_def;
        }
        if (reps && done == 0 && pn && reps[0] != 0) return bad(&c, "first value does not start a row");
        rc = decode_values(&c, h.encoding, vp, (size_t)(vend - vp), nv);
        if (rc) return rc;
        done += pn;
    }
    return ST_OK;
}

st_code pq_reader_read_column(pq_reader *r, int g, int leaf, pq_column_data *out, st_err *e)
{
    memset(out, 0, sizeof *out);
    if (!r) return st_err_set(e, ST_ERR_ARG, "pq_reader_read_column: NULL reader");
    if (g < 0 || g >= r->fm.nrgs)
        return st_err_set(e, ST_ERR_ARG, "%s: no row group %d (file has %d)", r->name, g, r->fm.nrgs);
    if (leaf < 0 || leaf >= r->fm.schema.nleaves)
        return st_err_set(e, ST_ERR_ARG, "%s: no column %d (file has %d)", r->name, leaf, r->fm.schema.nleaves);
    st_code rc = read_chunk(r, g, leaf, out, e);
    if (rc) pq_column_data_free(out);
    return rc;
}

st_code pq_reader_chunk_info(const pq_reader *r, int g, int leaf, pq_chunk_info *out, st_err *e)
{
    memset(out, 0, sizeof *out);
    if (g < 0 || g >= r->fm.nrgs || leaf < 0 || leaf >= r->fm.schema.nleaves)
        return st_err_set(e, ST_ERR_ARG, "%s: no column %d in row group %d", r->name, leaf, g);
    const pq_chunk_meta *cm = &r->fm.rgs[g].cols[leaf];
    out->codec = cm->codec;
    out->num_values = cm->num_values;
    out->null_count = cm->has_null_count ? cm->null_count : -1;
    out->total_compressed = cm->total_compressed;
    out->total_uncompressed = cm->total_uncompressed;
    out->encodings = cm->encodings;
    out->min = cm->min;
    out->max = cm->max;
    out->min_len = cm->min_len;
    out->max_len = cm->max_len;
    return ST_OK;
}

int64_t pq_int96_to_micros(const uint8_t *b)
{
    int64_t nanos;
    int32_t jday;
    memcpy(&nanos, b, 8);
    memcpy(&jday, b + 8, 4);
    /* Julian day 2440588 is 1970-01-01 */
    int64_t days = (int64_t)jday - 2440588;
    int64_t us = nanos / 1000 - (nanos % 1000 < 0);
    /* Two's complement wrap-around, as Spark computes it (in unsigned arithmetic, so no UB
     * on hostile input): Spark writes timestamps past year 2262 with a wrapped day/nanos pair
     * (int96_from_spark.parquet: 290000-12-30) that only this arithmetic reads back right. */
    return (int64_t)((uint64_t)days * 86400000000ULL + (uint64_t)us);
}
