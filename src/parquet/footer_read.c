/* footer_read.c — parsing FileMetaData and PageHeader with the bounds-checked
 * Thrift reader. Unknown fields are skipped; wrong wire types are errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/meta.h"

typedef struct pctx {
    tc_reader r;
    const char *ctx;
    st_err *e;
    st_code code;             /* first error (FORMAT or UNSUPPORTED) */
    char what[ST_ERR_MSG_MAX];
} pctx;

/* Records the first error (kind and what) and stops the Thrift reader. */
static void fail(pctx *p, st_code code, const char *what)
{
    if (p->code) return;
    p->code = code;
    snprintf(p->what, sizeof p->what, "%s", what);
    p->r.err = 1;
}

/* Checks a field's wire type; a mismatch is a FORMAT error naming the field. */
static int expect(pctx *p, int type, int want, const char *what)
{
    if (type == want || (want == TC_TRUE && type == TC_FALSE)) return 1;
    fail(p, ST_ERR_FORMAT, what);
    return 0;
}

/* Skips a field we do not use. */
static void skip_field(pctx *p, int type) { tc_skip(&p->r, type); }

/* TimeUnit union: returns 1 ms, 2 us, 3 ns, 0 unknown. */
static int parse_time_unit(pctx *p)
{
    int unit = 0, t;
    int16_t id;
    tc_read_struct_begin(&p->r);
    while (tc_read_field(&p->r, &t, &id)) {
        if (t == TC_STRUCT && id >= 1 && id <= 3) unit = id;
        skip_field(p, t);
    }
    tc_read_struct_end(&p->r);
    return unit;
}

/* LogicalType union -> pq_logical (+ decimal/int/timestamp parameters). */
static void parse_logical(pctx *p, pq_schema_node *n)
{
    int t;
    int16_t id;
    tc_read_struct_begin(&p->r);
    while (tc_read_field(&p->r, &t, &id)) {
        if (t != TC_STRUCT) {
            skip_field(p, t);
            continue;
        }
        switch (id) {
        case 1: n->logical = PQ_LOGICAL_STRING; skip_field(p, t); break;
        case 2: n->logical = PQ_LOGICAL_MAP; skip_field(p, t); break;
        case 3: n->logical = PQ_LOGICAL_LIST; skip_field(p, t); break;
        case 4: n->logical = PQ_LOGICAL_ENUM; skip_field(p, t); break;
        case 6: n->logical = PQ_LOGICAL_DATE; skip_field(p, t); break;
        case 12: n->logical = PQ_LOGICAL_JSON; skip_field(p, t); break;
        case 14: n->logical = PQ_LOGICAL_UUID; skip_field(p, t); break;
        case 5: {
            int t2;
            int16_t id2;
            n->logical = PQ_LOGICAL_DECIMAL;
            tc_read_struct_begin(&p->r);
            while (tc_read_field(&p->r, &t2, &id2)) {
                if (id2 == 1 && t2 == TC_I32) n->scale = tc_read_i32(&p->r);
                else if (id2 == 2 && t2 == TC_I32) n->precision = tc_read_i32(&p->r);
                else skip_field(p, t2);
            }
            tc_read_struct_end(&p->r);
            break;
        }
        case 8: {
            int t2, utc = 1, unit = 0;
            int16_t id2;
            tc_read_struct_begin(&p->r);
            while (tc_read_field(&p->r, &t2, &id2)) {
                if (id2 == 1 && (t2 == TC_TRUE || t2 == TC_FALSE)) utc = t2 == TC_TRUE;
                else if (id2 == 2 && t2 == TC_STRUCT) unit = parse_time_unit(p);
                else skip_field(p, t2);
            }
            tc_read_struct_end(&p->r);
            if (!utc && unit == 1) n->logical = PQ_LOGICAL_TIMESTAMP_MILLIS_LOCAL;
            else if (!utc && unit == 2) n->logical = PQ_LOGICAL_TIMESTAMP_MICROS_LOCAL;
            else if (!utc && unit == 3) n->logical = PQ_LOGICAL_TIMESTAMP_NANOS_LOCAL;
            else if (unit == 1) n->logical = PQ_LOGICAL_TIMESTAMP_MILLIS;
            else if (unit == 2) n->logical = PQ_LOGICAL_TIMESTAMP_MICROS;
            else if (unit == 3) n->logical = PQ_LOGICAL_TIMESTAMP_NANOS;
            break;
        }
        case 7: {
            /* TIME: the unit decides; isAdjustedToUTC does not change the value we show */
            int t2, unit = 0;
            int16_t id2;
            tc_read_struct_begin(&p->r);
            while (tc_read_field(&p->r, &t2, &id2)) {
                if (id2 == 2 && t2 == TC_STRUCT) unit = parse_time_unit(p);
                else skip_field(p, t2);
            }
            tc_read_struct_end(&p->r);
            if (unit == 1) n->logical = PQ_LOGICAL_TIME_MILLIS;
            else if (unit == 2) n->logical = PQ_LOGICAL_TIME_MICROS;
            else if (unit == 3) n->logical = PQ_LOGICAL_TIME_NANOS;
            break;
        }
        case 15: n->logical = PQ_LOGICAL_FLOAT16; skip_field(p, t); break;
        case 10: {
            int t2;
            int16_t id2;
            n->logical = PQ_LOGICAL_INT;
            n->int_signed = 1;
            tc_read_struct_begin(&p->r);
            while (tc_read_field(&p->r, &t2, &id2)) {
                if (id2 == 1 && t2 == TC_BYTE) n->int_bits = tc_read_i8(&p->r);
                else if (id2 == 2 && (t2 == TC_TRUE || t2 == TC_FALSE)) n->int_signed = t2 == TC_TRUE;
                else skip_field(p, t2);
            }
            tc_read_struct_end(&p->r);
            break;
        }
        default: skip_field(p, t); break;
        }
    }
    tc_read_struct_end(&p->r);
}

/* Legacy ConvertedType -> pq_logical, for files without LogicalType. */
static void logical_from_converted(pq_schema_node *n, int ct)
{
    switch (ct) {
    case PQ_CT_UTF8: n->logical = PQ_LOGICAL_STRING; break;
    case PQ_CT_MAP: case PQ_CT_MAP_KEY_VALUE: n->logical = PQ_LOGICAL_MAP; break;
    case PQ_CT_LIST: n->logical = PQ_LOGICAL_LIST; break;
    case PQ_CT_ENUM: n->logical = PQ_LOGICAL_ENUM; break;
    case PQ_CT_DECIMAL: n->logical = PQ_LOGICAL_DECIMAL; break;
    case PQ_CT_DATE: n->logical = PQ_LOGICAL_DATE; break;
    case PQ_CT_TIMESTAMP_MILLIS: n->logical = PQ_LOGICAL_TIMESTAMP_MILLIS; break;
    case PQ_CT_TIMESTAMP_MICROS: n->logical = PQ_LOGICAL_TIMESTAMP_MICROS; break;
    case PQ_CT_TIME_MILLIS: n->logical = PQ_LOGICAL_TIME_MILLIS; break;
    case PQ_CT_TIME_MICROS: n->logical = PQ_LOGICAL_TIME_MICROS; break;
    case PQ_CT_JSON: n->logical = PQ_LOGICAL_JSON; break;
    case PQ_CT_UINT_8: case PQ_CT_UINT_16: case PQ_CT_UINT_32: case PQ_CT_UINT_64:
    case PQ_CT_INT_8: case PQ_CT_INT_16: case PQ_CT_INT_32: case PQ_CT_INT_64: {
        static const int bits[] = {8, 16, 32, 64};
        n->logical = PQ_LOGICAL_INT;
        n->int_signed = ct >= PQ_CT_INT_8;
        n->int_bits = bits[(ct - (ct >= PQ_CT_INT_8 ? PQ_CT_INT_8 : PQ_CT_UINT_8)) & 3];
        break;
    }
    default: break;
    }
}

/* SchemaElement -> node; the name is copied. */
static void parse_schema_element(pctx *p, pq_schema_node *n, int *has_type)
{
    int t, ct = -1, has_logical = 0;
    int16_t id;
    memset(n, 0, sizeof *n);
    n->physical = (pq_physical)-1;
    *has_type = 0;
    tc_read_struct_begin(&p->r);
    while (tc_read_field(&p->r, &t, &id)) {
        switch (id) {
        case 1: if (expect(p, t, TC_I32, "SchemaElement.type")) { n->physical = (pq_physical)tc_read_i32(&p->r); *has_type = 1; } break;
        case 2: if (expect(p, t, TC_I32, "SchemaElement.type_length")) n->type_length = tc_read_i32(&p->r); break;
        case 3: if (expect(p, t, TC_I32, "SchemaElement.repetition_type")) n->repetition = (pq_repetition)tc_read_i32(&p->r); break;
        case 4:
            if (expect(p, t, TC_BINARY, "SchemaElement.name")) {
                uint32_t len;
                const uint8_t *s = tc_read_binary(&p->r, &len);
                if (!p->r.err) {
                    free((char *)n->name);
                    n->name = st_xstrndup((const char *)s, len);
                }
            }
            break;
        case 5: if (expect(p, t, TC_I32, "SchemaElement.num_children")) n->num_children = tc_read_i32(&p->r); break;
        case 6: if (expect(p, t, TC_I32, "SchemaElement.converted_type")) ct = tc_read_i32(&p->r); break;
        case 7: if (expect(p, t, TC_I32, "SchemaElement.scale")) n->scale = tc_read_i32(&p->r); break;
        case 8: if (expect(p, t, TC_I32, "SchemaElement.precision")) n->precision = tc_read_i32(&p->r); break;
        case 10:
            if (expect(p, t, TC_STRUCT, "SchemaElement.logicalType")) {
                parse_logical(p, n);
                has_logical = 1;
            }
            break;
        default: skip_field(p, t); break;
        }
    }
    tc_read_struct_end(&p->r);
    if (!has_logical || n->logical == PQ_LOGICAL_NONE) logical_from_converted(n, ct);
    if (!n->name) n->name = st_xstrdup("");
}

/* Statistics: prefers min_value/max_value; the legacy min/max only for non-binary types.
 * A repeated statistics field (hostile footer) replaces the earlier one. */
static void parse_stats(pctx *p, pq_chunk_meta *c)
{
    int t;
    int16_t id;
    const uint8_t *mn = NULL, *mx = NULL, *lmn = NULL, *lmx = NULL;
    uint32_t mnl = 0, mxl = 0, lmnl = 0, lmxl = 0;
    free(c->min);
    free(c->max);
    c->min = c->max = NULL;
    c->min_len = c->max_len = 0;
    tc_read_struct_begin(&p->r);
    while (tc_read_field(&p->r, &t, &id)) {
        if (id == 3 && t == TC_I64) {
            c->has_null_count = 1;
            c->null_count = tc_read_i64(&p->r);
        } else if (t == TC_BINARY && id >= 1 && id <= 6 && id != 3 && id != 4) {
            uint32_t len;
            const uint8_t *s = tc_read_binary(&p->r, &len);
            if (id == 1) lmx = s, lmxl = len;
            if (id == 2) lmn = s, lmnl = len;
            if (id == 5) mx = s, mxl = len;
            if (id == 6) mn = s, mnl = len;
        } else {
            skip_field(p, t);
        }
    }
    tc_read_struct_end(&p->r);
    if (p->r.err) return;
    /* the legacy min/max of byte arrays used a signed order: only trust new fields there */
    if (!mn && !mx && c->type != PQ_BYTE_ARRAY && c->type != PQ_FIXED_LEN_BYTE_ARRAY) {
        mn = lmn, mnl = lmnl;
        mx = lmx, mxl = lmxl;
    }
    if (mn && mx) {
        c->min = st_xmalloc(mnl ? mnl : 1);
        if (mnl) memcpy(c->min, mn, mnl);
        c->min_len = mnl;
        c->max = st_xmalloc(mxl ? mxl : 1);
        if (mxl) memcpy(c->max, mx, mxl);
        c->max_len = mxl;
    }
}

/* ColumnMetaData, checking path_in_schema against the schema leaf. */
static void parse_column_meta(pctx *p, pq_chunk_meta *c, const pq_schema *s, int leaf)
{
    int t;
    int16_t id;
    int seen_type = 0;
    c->dictionary_page_offset = -1;
    c->data_page_offset = -1;
    c->path_ok = 0;
    tc_read_struct_begin(&p->r);
    while (tc_read_field(&p->r, &t, &id)) {
        switch (id) {
        case 1: if (expect(p, t, TC_I32, "ColumnMetaData.type")) { c->type = (pq_physical)tc_read_i32(&p->r); seen_type = 1; } break;
        case 2: {
            if (!expect(p, t, TC_LIST, "ColumnMetaData.encodings")) break;
            int et;
            uint32_t n;
            tc_read_list_begin(&p->r, &et, &n);
            for (uint32_t i = 0; i < n && !p->r.err; i++) {
                int32_t enc = tc_read_i32(&p->r);
                if (enc >= 0 && enc < 32) c->encodings |= 1u << enc;
            }
            break;
        }
        case 3: {
            if (!expect(p, t, TC_LIST, "ColumnMetaData.path_in_schema")) break;
            int et;
            uint32_t n;
            tc_read_list_begin(&p->r, &et, &n);
            const pq_leaf_desc *l = leaf < s->nleaves ? &s->leaves[leaf] : NULL;
            int ok = l && (int)n == l->path_len && et == TC_BINARY;
            for (uint32_t i = 0; i < n && !p->r.err; i++) {
                uint32_t len;
                const uint8_t *nm = tc_read_binary(&p->r, &len);
                if (ok) {
                    const char *want = s->nodes[l->path_nodes[i]].name;
                    if (strlen(want) != len || memcmp(want, nm, len)) ok = 0;
                }
            }
            c->path_ok = ok;
            break;
        }
        case 4: if (expect(p, t, TC_I32, "ColumnMetaData.codec")) c->codec = (pq_codec)tc_read_i32(&p->r); break;
        case 5: if (expect(p, t, TC_I64, "ColumnMetaData.num_values")) c->num_values = tc_read_i64(&p->r); break;
        case 6: if (expect(p, t, TC_I64, "ColumnMetaData.total_uncompressed_size")) c->total_uncompressed = tc_read_i64(&p->r); break;
        case 7: if (expect(p, t, TC_I64, "ColumnMetaData.total_compressed_size")) c->total_compressed = tc_read_i64(&p->r); break;
        case 9: if (expect(p, t, TC_I64, "ColumnMetaData.data_page_offset")) c->data_page_offset = tc_read_i64(&p->r); break;
        case 11: if (expect(p, t, TC_I64, "ColumnMetaData.dictionary_page_offset")) c->dictionary_page_offset = tc_read_i64(&p->r); break;
        case 12: if (expect(p, t, TC_STRUCT, "ColumnMetaData.statistics")) parse_stats(p, c); break;
        default: skip_field(p, t); break;
        }
    }
    tc_read_struct_end(&p->r);
    if (!seen_type && !p->r.err) fail(p, ST_ERR_FORMAT, "ColumnMetaData without type");
}

/* ColumnChunk: external files and encrypted columns are UNSUPPORTED. */
static void parse_chunk(pctx *p, pq_chunk_meta *c, const pq_schema *s, int leaf)
{
    int t, has_meta = 0;
    int16_t id;
    tc_read_struct_begin(&p->r);
    while (tc_read_field(&p->r, &t, &id)) {
        if (id == 1 && t == TC_BINARY) {
            fail(p, ST_ERR_UNSUPPORTED, "column chunks in external files (ColumnChunk.file_path)");
        } else if (id == 3 && t == TC_STRUCT) {
            parse_column_meta(p, c, s, leaf);
            has_meta = 1;
        } else if (id == 8 || id == 9) {
            fail(p, ST_ERR_UNSUPPORTED, "encrypted columns (Parquet modular encryption)");
        } else {
            skip_field(p, t);
        }
    }
    tc_read_struct_end(&p->r);
    if (!has_meta && !p->r.err) fail(p, ST_ERR_FORMAT, "ColumnChunk without meta_data");
}

/* RowGroup: its column count must equal the schema's leaves. */
static void parse_row_group(pctx *p, pq_rg_meta *rg, const pq_schema *s)
{
    int t;
    int16_t id;
    int ncols = -1;
    tc_read_struct_begin(&p->r);
    while (tc_read_field(&p->r, &t, &id)) {
        if (id == 1 && t == TC_LIST) {
            int et;
            uint32_t n;
            tc_read_list_begin(&p->r, &et, &n);
            if (p->r.err) break;
            if ((int)n != s->nleaves || et != TC_STRUCT || rg->cols) {
                fail(p, ST_ERR_FORMAT, "row group column count differs from the schema");
                break;
            }
            rg->cols = st_xcalloc(n ? n : 1, sizeof *rg->cols);
            for (uint32_t i = 0; i < n && !p->r.err; i++) parse_chunk(p, &rg->cols[i], s, (int)i);
            ncols = (int)n;
        } else if (id == 2 && t == TC_I64) {
            rg->total_byte_size = tc_read_i64(&p->r);
        } else if (id == 3 && t == TC_I64) {
            rg->num_rows = tc_read_i64(&p->r);
        } else if (id == 5 && t == TC_I64) {
            rg->file_offset = tc_read_i64(&p->r);
        } else if (id == 6 && t == TC_I64) {
            rg->total_compressed = tc_read_i64(&p->r);
        } else {
            skip_field(p, t);
        }
    }
    tc_read_struct_end(&p->r);
    if (!p->r.err && ncols < 0) fail(p, ST_ERR_FORMAT, "row group without columns");
    if (!p->r.err && rg->num_rows < 0) fail(p, ST_ERR_FORMAT, "negative row count in a row group");
}

st_code pq_meta_parse_footer(const uint8_t *buf, size_t len, const char *ctx, pq_file_meta *fm, st_err *e)
{
    pctx p;
    memset(&p, 0, sizeof p);
    memset(fm, 0, sizeof *fm);
    tc_reader_init(&p.r, buf, len);
    p.ctx = ctx;
    p.e = e;
    pq_schema_node *nodes = NULL;
    int nnodes = 0, root_children = -1, has_rgs = 0, has_schema = 0;
    int t;
    int16_t id;
    tc_read_struct_begin(&p.r);
    while (tc_read_field(&p.r, &t, &id)) {
        if (id == 1 && t == TC_I32) {
            fm->version = tc_read_i32(&p.r);
        } else if (id == 2 && t == TC_LIST) {
            int et;
            uint32_t n;
            tc_read_list_begin(&p.r, &et, &n);
            if (p.r.err) break;
            if (n < 2 || et != TC_STRUCT || has_schema) {
                fail(&p, ST_ERR_FORMAT, "schema has no columns");
                break;
            }
            has_schema = 1;
            nodes = st_xcalloc(n, sizeof *nodes);
            for (uint32_t i = 0; i < n && !p.r.err; i++) {
                int has_type;
                parse_schema_element(&p, &nodes[i], &has_type);
                nnodes = (int)i + 1;
                if (!has_type && nodes[i].num_children == 0 && i > 0) nodes[i].physical = (pq_physical)-1;
            }
            if (!p.r.err) {
                root_children = nodes[0].num_children;
                /* the root is implicit in pq_schema: build from the nodes after it */
                st_err se;
                if (pq_schema_build(&fm->schema, nodes + 1, nnodes - 1, ctx, &se)) {
                    fail(&p, ST_ERR_FORMAT, "invalid schema tree");
                    memcpy(p.what, se.msg, sizeof p.what);
                } else if (fm->schema.num_top != root_children) {
                    fail(&p, ST_ERR_FORMAT, "schema root child count does not match its fields");
                }
            }
        } else if (id == 3 && t == TC_I64) {
            fm->num_rows = tc_read_i64(&p.r);
        } else if (id == 4 && t == TC_LIST) {
            int et;
            uint32_t n;
            if (!has_schema) {
                fail(&p, ST_ERR_FORMAT, "row groups before schema");
                break;
            }
            if (has_rgs) {   /* a second list would leak the first (found by fuzzing) */
                fail(&p, ST_ERR_FORMAT, "two row group lists");
                break;
            }
            tc_read_list_begin(&p.r, &et, &n);
            if (p.r.err) break;
            if (et != TC_STRUCT && n) {
                fail(&p, ST_ERR_FORMAT, "row group list of the wrong type");
                break;
            }
            has_rgs = 1;
            fm->rgs = st_xcalloc(n ? n : 1, sizeof *fm->rgs);
            for (uint32_t i = 0; i < n && !p.r.err; i++) {
                fm->nrgs = (int)i + 1;
                parse_row_group(&p, &fm->rgs[i], &fm->schema);
            }
        } else if (id == 6 && t == TC_BINARY) {
            uint32_t n;
            const uint8_t *s = tc_read_binary(&p.r, &n);
            if (!p.r.err) {
                free(fm->created_by);
                fm->created_by = st_xstrndup((const char *)s, n);
            }
        } else if (id == 8) {
            fail(&p, ST_ERR_UNSUPPORTED, "encrypted file (FileMetaData.encryption_algorithm)");
        } else {
            skip_field(&p, t);
        }
    }
    tc_read_struct_end(&p.r);
    if (!p.r.err && !has_schema) fail(&p, ST_ERR_FORMAT, "footer has no schema");
    if (!p.r.err && !has_rgs) fail(&p, ST_ERR_FORMAT, "footer has no row group list");
    if (!p.r.err) {
        int64_t sum = 0;
        for (int g = 0; g < fm->nrgs; g++) {
            if (fm->rgs[g].num_rows > INT64_MAX - sum) {
                fail(&p, ST_ERR_FORMAT, "row group row counts overflow");
                break;
            }
            sum += fm->rgs[g].num_rows;
        }
        /* Some writers leave FileMetaData.num_rows at 0 (repeated_no_annotation.parquet):
         * like other readers, the row groups' counts win. */
        if (sum != fm->num_rows) fm->num_rows = sum;
        for (int g = 0; g < fm->nrgs && !p.r.err; g++)
            for (int c = 0; c < fm->schema.nleaves; c++) {
                const pq_chunk_meta *cm = &fm->rgs[g].cols[c];
                const pq_schema_node *n = &fm->schema.nodes[fm->schema.leaves[c].node];
                if (!cm->path_ok || cm->type != n->physical) {
                    fail(&p, ST_ERR_FORMAT, "column chunk path or type differs from the schema");
                    break;
                }
            }
    }
    for (int i = 0; i < nnodes; i++) free((char *)nodes[i].name);
    free(nodes);
    if (p.r.err) {
        st_code code = p.code ? p.code : ST_ERR_FORMAT;
        pq_file_meta_free(fm);
        if (code == ST_ERR_UNSUPPORTED) return st_err_set(e, code, "%s: unsupported Parquet feature: %s", ctx, p.what);
        return st_err_set(e, code, "%s: damaged Parquet footer: %s", ctx, p.what[0] ? p.what : "malformed Thrift data");
    }
    return ST_OK;
}

void pq_file_meta_free(pq_file_meta *fm)
{
    if (!fm) return;
    for (int g = 0; g < fm->nrgs; g++) {
        if (fm->rgs[g].cols)
            for (int c = 0; c < fm->schema.nleaves; c++) pq_chunk_meta_clear(&fm->rgs[g].cols[c]);
        free(fm->rgs[g].cols);
    }
    free(fm->rgs);
    free(fm->created_by);
    pq_schema_free(&fm->schema);
    memset(fm, 0, sizeof *fm);
}

int pq_meta_parse_page_header(const uint8_t *buf, size_t len, pq_page_header *h, size_t *hlen)
{
    tc_reader r;
    tc_reader_init(&r, buf, len);
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->is_compressed = 1;
    int t, sub = 0;
    int16_t id;
    tc_read_struct_begin(&r);
    while (tc_read_field(&r, &t, &id)) {
        if (id == 1 && t == TC_I32) h->type = tc_read_i32(&r);
        else if (id == 2 && t == TC_I32) h->uncompressed_size = tc_read_i32(&r);
        else if (id == 3 && t == TC_I32) h->compressed_size = tc_read_i32(&r);
        else if ((id == 5 || id == 7 || id == 8) && t == TC_STRUCT) {
            int t2;
            int16_t id2;
            sub = id;
            tc_read_struct_begin(&r);
            while (tc_read_field(&r, &t2, &id2)) {
                if (t2 == TC_I32) {
                    int32_t v = tc_read_i32(&r);
                    if (id2 == 1) h->num_values = v;
                    else if (id == 5 && id2 == 2) h->encoding = v;
                    else if (id == 5 && id2 == 3) h->def_encoding = v;
                    else if (id == 5 && id2 == 4) h->rep_encoding = v;
                    else if (id == 7 && id2 == 2) h->encoding = v;
                    else if (id == 8 && id2 == 2) h->num_nulls = v;
                    else if (id == 8 && id2 == 3) h->num_rows = v;
                    else if (id == 8 && id2 == 4) h->encoding = v;
                    else if (id == 8 && id2 == 5) h->def_bytes = v;
                    else if (id == 8 && id2 == 6) h->rep_bytes = v;
                } else if (id == 8 && id2 == 7 && (t2 == TC_TRUE || t2 == TC_FALSE)) {
                    h->is_compressed = t2 == TC_TRUE;
                } else {
                    tc_skip(&r, t2);
                }
            }
            tc_read_struct_end(&r);
        } else tc_skip(&r, t);
    }
    tc_read_struct_end(&r);
    if (r.err || h->type < 0 || h->uncompressed_size < 0 || h->compressed_size < 0 || h->num_values < 0 ||
        h->def_bytes < 0 || h->rep_bytes < 0)
        return -1;
    if ((h->type == PQ_PAGE_DATA && sub != 5) || (h->type == PQ_PAGE_DICTIONARY && sub != 7) ||
        (h->type == PQ_PAGE_DATA_V2 && sub != 8))
        return -1;
    *hlen = tc_reader_offset(&r, buf);
    return 0;
}
