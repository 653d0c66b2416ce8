/* cmd_parquet.c — `smarttech parquet info FILE [--json]`,
 * `smarttech parquet cat FILE [--limit N]` (rows as JSON Lines) and
 * `smarttech parquet sum FILE COLUMN` (a one-column scan, for benchmarks and checks).
 *
 * cat reassembles records from the decoded leaf columns with their Dremel levels
 * (groups become objects, LIST groups arrays, MAP groups objects keyed by the key's
 * text). Values: integers and doubles as JSON numbers (NaN/Infinity as strings; FLOAT16
 * widened), DECIMAL as an exact number literal, DATE as "YYYY-MM-DD", TIMESTAMP as ISO-8601
 * ("Z" when adjusted to UTC; NANOS with 9 fraction digits, INT96 with 6), TIME as
 * "HH:MM:SS.ffffff", STRING/JSON/ENUM as strings (invalid UTF-8 -> U+FFFD), other binary
 * (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY) as a base64 string.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "parquet/parquet.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/utf8.h"

static const char *physical_name(pq_physical p)
{
    static const char *n[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
                              "FIXED_LEN_BYTE_ARRAY"};
    return (int)p >= 0 && (int)p < 8 ? n[p] : "?";
}

static const char *logical_name(pq_logical l)
{
    static const char *n[] = {"", "STRING", "DATE", "TIMESTAMP(MICROS,UTC)", "TIMESTAMP(MILLIS,UTC)",
                              "TIMESTAMP(NANOS,UTC)", "TIMESTAMP(MICROS,local)", "DECIMAL", "INT", "MAP",
                              "LIST", "JSON", "UUID", "ENUM", "FLOAT16", "TIME(MILLIS)", "TIME(MICROS)",
                              "TIME(NANOS)", "TIMESTAMP(MILLIS,local)", "TIMESTAMP(NANOS,local)"};
    return (int)l >= 0 && (size_t)l < sizeof n / sizeof n[0] ? n[l] : "?";
}

/* Appends bytes as a JSON string of standard base64 (with padding): how cat shows binary. */
static void json_base64(st_buf *b, const uint8_t *p, uint32_t len)
{
    st_buf_append_u8(b, '"');
    st_base64_append(b, p, len);
    st_buf_append_u8(b, '"');
}

/* Appends text as a JSON string; bytes that are not valid UTF-8 become U+FFFD, so the line
 * stays valid JSON whatever the file holds. One pass; the common all-valid case is one copy. */
static void json_text(st_buf *b, const uint8_t *p, uint32_t len)
{
    size_t i = st_utf8_valid_prefix(p, len);
    if (i == len) {
        st_buf_append_json_str(b, (const char *)p, len);
        return;
    }
    st_buf clean = {0};
    st_buf_append(&clean, p, i);
    while (i < len) {
        size_t k = st_utf8_seq_len(p + i, len - i);
        if (k) st_buf_append(&clean, p + i, k), i += k;
        else st_buf_append(&clean, "\xEF\xBF\xBD", 3), i++;
    }
    st_buf_append_json_str(b, (const char *)clean.data, clean.len);
    st_buf_free(&clean);
}

/* Appends an integer in decimal (sign when neg); faster than printf for the integer
 * columns that dominate many files. */
static void append_u64(st_buf *b, uint64_t u, int neg)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg) tmp[k++] = '-';
    st_buf_reserve(b, (size_t)k);
    while (k) b->data[b->len++] = (uint8_t)tmp[--k];
}

static void append_i64(st_buf *b, int64_t v)
{
    append_u64(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

/* IEEE 754 half (little-endian bytes) -> double; exact. */
static double half_to_double(const uint8_t *p)
{
    unsigned h = (unsigned)p[0] | (unsigned)p[1] << 8;
    int exp = (int)((h >> 10) & 31);
    double mant = (double)(h & 1023);
    double v;
    if (exp == 31) v = mant ? NAN : INFINITY;
    else if (exp == 0) v = ldexp(mant, -24);
    else v = ldexp(mant + 1024, exp - 25);
    return (h & 0x8000) ? -v : v;
}

/* Appends a double as cat shows it: NaN/Infinity/-Infinity as strings, finite values as
 * %.15g when that reads back to the same value (FLOAT: %.6g), else %.17g (FLOAT: %.9g), which
 * always does: 40.4 prints as 40.4, not 40.399999999999999. At most two snprintf and one strtod. */
static void json_double(st_buf *b, double d, int single)
{
    if (isnan(d)) {
        st_buf_append_str(b, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        st_buf_append_str(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, single ? "%.6g" : "%.15g", d);
    double back = strtod(tmp, NULL);
    if (single ? (float)back != (float)d : back != d) snprintf(tmp, sizeof tmp, single ? "%.9g" : "%.17g", d);
    st_buf_append_str(b, tmp);
}

/* Appends "HH:MM:SS.ffffff[fff]" for a time of day in units of 10^-digits s (digits 3, 6, 9);
 * shown with 6 fraction digits (9 for nanoseconds). Out-of-range values print as numbers. */
static void json_time(st_buf *b, int64_t v, int digits)
{
    int64_t per_s = digits == 3 ? 1000 : digits == 6 ? 1000000 : 1000000000;
    if (v < 0 || v > 86400 * per_s) {
        st_buf_printf(b, "%" PRId64, v);
        return;
    }
    int64_t s = v / per_s, frac = v % per_s;
    if (digits == 3) frac *= 1000, digits = 6;
    st_buf_printf(b, "\"%02d:%02d:%02d.%0*" PRId64 "\"", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60),
                  digits, frac);
}

static const char *codec_name(pq_codec c)
{
    static const char *n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    return (int)c >= 0 && (int)c < 8 ? n[c] : "?";
}

static const char *rep_name(pq_repetition r)
{
    return r == PQ_REQUIRED ? "required" : r == PQ_OPTIONAL ? "optional" : "repeated";
}

/* Appends an unscaled decimal integer (as text, with a sign) with `scale` digits after the
 * point, as a JSON number literal: "-1234", 2 -> -12.34. */
static void json_decimal_text(st_buf *b, const char *digits, int scale)
{
    int neg = digits[0] == '-';
    if (neg) digits++;
    size_t n = strlen(digits);
    if (neg) st_buf_append_u8(b, '-');
    if (scale <= 0) {
        st_buf_append_str(b, digits);
        return;
    }
    if (n <= (size_t)scale) {
        st_buf_append_str(b, "0.");
        for (size_t k = n; k < (size_t)scale; k++) st_buf_append_u8(b, '0');
        st_buf_append_str(b, digits);
        return;
    }
    st_buf_append(b, digits, n - (size_t)scale);
    st_buf_append_u8(b, '.');
    st_buf_append_str(b, digits + n - scale);
}

/* Big-endian two's complement bytes (<= 16) -> decimal text of the integer. */
static int be_to_text(const uint8_t *p, uint32_t len, char *out, size_t outlen)
{
    if (len == 0 || len > 16) return -1;
    __int128 v = (p[0] & 0x80) ? -1 : 0;
    for (uint32_t i = 0; i < len; i++) v = (__int128)(((unsigned __int128)v << 8) | p[i]);
    int neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    char tmp[48];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u && k < 46);
    size_t o = 0;
    if (neg && o + 1 < outlen) out[o++] = '-';
    while (k && o + 1 < outlen) out[o++] = tmp[--k];
    out[o] = '\0';
    return 0;
}

/* Appends one scalar value of a leaf as JSON. */
static void json_scalar(st_buf *b, const pq_schema_node *n, const pq_column_data *c, size_t i)
{
    char tmp[64];
    switch (c->physical) {
    case PQ_BOOLEAN: st_buf_append_str(b, c->values.boolean[i] ? "true" : "false"); break;
    case PQ_INT32:
        if (n->logical == PQ_LOGICAL_DECIMAL) {
            snprintf(tmp, sizeof tmp, "%" PRId32, c->values.i32[i]);
            json_decimal_text(b, tmp, n->scale);
        } else if (n->logical == PQ_LOGICAL_TIME_MILLIS) {
            json_time(b, c->values.i32[i], 3);
        } else if (n->logical == PQ_LOGICAL_DATE) {
            st_format_date(c->values.i32[i], tmp, sizeof tmp);
            st_buf_append_json_str(b, tmp, strlen(tmp));
        } else if (n->logical == PQ_LOGICAL_INT && !n->int_signed) {
            append_u64(b, (uint32_t)c->values.i32[i], 0);
        } else {
            append_i64(b, c->values.i32[i]);
        }
        break;
    case PQ_INT64: {
        int64_t v = c->values.i64[i];
        int64_t us = 0, ns = -1;
        int ts = 1, local = 0;
        switch (n->logical) {
        case PQ_LOGICAL_TIMESTAMP_MICROS_LOCAL: local = 1; /* fall through */
        case PQ_LOGICAL_TIMESTAMP_MICROS: us = v; break;
        case PQ_LOGICAL_TIMESTAMP_MILLIS_LOCAL: local = 1; /* fall through */
        case PQ_LOGICAL_TIMESTAMP_MILLIS:
            us = v > INT64_MAX / 1000 ? INT64_MAX : v < INT64_MIN / 1000 ? INT64_MIN : v * 1000;
            break;
        case PQ_LOGICAL_TIMESTAMP_NANOS_LOCAL: local = 1; /* fall through */
        case PQ_LOGICAL_TIMESTAMP_NANOS:
            us = v / 1000 - (v % 1000 < 0);
            ns = v - us * 1000;
            break;
        default: ts = 0; break;
        }
        if (ts) {
            size_t tl = st_format_iso_us(us, tmp, sizeof tmp, 0);
            if (tl && tmp[tl - 1] == 'Z') {
                tmp[--tl] = '\0';
                /* NANOS: three more digits after the microseconds, before the zone */
                if (ns >= 0 && tl + 4 < sizeof tmp) tl += (size_t)snprintf(tmp + tl, sizeof tmp - tl, "%03d", (int)ns);
                if (!local && tl + 1 < sizeof tmp) tmp[tl++] = 'Z', tmp[tl] = '\0';
            }
            st_buf_append_json_str(b, tmp, strlen(tmp));
        } else if (n->logical == PQ_LOGICAL_TIME_MICROS || n->logical == PQ_LOGICAL_TIME_NANOS) {
            json_time(b, v, n->logical == PQ_LOGICAL_TIME_MICROS ? 6 : 9);
        } else if (n->logical == PQ_LOGICAL_DECIMAL) {
            snprintf(tmp, sizeof tmp, "%" PRId64, v);
            json_decimal_text(b, tmp, n->scale);
        } else if (n->logical == PQ_LOGICAL_INT && !n->int_signed) {
            append_u64(b, (uint64_t)v, 0);
        } else {
            append_i64(b, v);
        }
        break;
    }
    case PQ_FLOAT:
    case PQ_DOUBLE: {
        double d = c->physical == PQ_FLOAT ? (double)c->values.f32[i] : c->values.f64[i];
        json_double(b, d, c->physical == PQ_FLOAT);
        break;
    }
    default: {
        const pq_bytes *v = &c->values.bytes[i];
        char big[64];
        if (n->logical == PQ_LOGICAL_DECIMAL && be_to_text(v->ptr, v->len, big, sizeof big) == 0) {
            json_decimal_text(b, big, n->scale);
        } else if (c->physical == PQ_INT96 && v->len == 12) {
            st_format_iso_us(pq_int96_to_micros(v->ptr), tmp, sizeof tmp, 0);
            st_buf_append_json_str(b, tmp, strlen(tmp));
        } else if (n->logical == PQ_LOGICAL_FLOAT16 && c->physical == PQ_FIXED_LEN_BYTE_ARRAY && v->len == 2) {
            json_double(b, half_to_double(v->ptr), 1);
        } else if (c->physical == PQ_BYTE_ARRAY && (n->logical == PQ_LOGICAL_STRING || n->logical == PQ_LOGICAL_JSON ||
                                                    n->logical == PQ_LOGICAL_ENUM)) {
            json_text(b, v->ptr, v->len);
        } else {
            json_base64(b, v->ptr, v->len);
        }
        break;
    }
    }
}

/* ------------------------------------------------------------------ record assembly */

typedef struct node_info {
    int first_leaf, end_leaf;  /* leaves [first, end) under the node */
    int16_t def, rep;          /* levels at which the node is defined / repeats */
    int end_node;              /* index after the subtree */
} node_info;

typedef struct assembler {
    const pq_schema_node *nodes;
    int nnodes;
    node_info *ni;
    pq_column_data *cols;
    size_t *lcur, *vcur;
    int *leaf_node;            /* leaf -> node index */
} assembler;

static int index_nodes(assembler *a, int i, int16_t def, int16_t rep, int *leaf)
{
    const pq_schema_node *n = &a->nodes[i];
    node_info *ni = &a->ni[i];
    ni->def = (int16_t)(def + (n->repetition != PQ_REQUIRED));
    ni->rep = (int16_t)(rep + (n->repetition == PQ_REPEATED));
    ni->first_leaf = *leaf;
    int j = i + 1;
    if (n->num_children == 0) {
        a->leaf_node[*leaf] = i;
        (*leaf)++;
    } else {
        for (int c = 0; c < n->num_children; c++) j = index_nodes(a, j, ni->def, ni->rep, leaf);
    }
    ni->end_leaf = *leaf;
    ni->end_node = j;
    return j;
}

static void skip_entry(assembler *a, int node)
{
    for (int l = a->ni[node].first_leaf; l < a->ni[node].end_leaf; l++) a->lcur[l]++;
}

static int16_t cur_def(assembler *a, int node)
{
    int l = a->ni[node].first_leaf;
    const pq_column_data *c = &a->cols[l];
    if (a->lcur[l] >= c->num_levels) return 0;
    return c->def_levels ? c->def_levels[a->lcur[l]] : a->ni[node].def;
}

static int16_t cur_rep(assembler *a, int node)
{
    int l = a->ni[node].first_leaf;
    const pq_column_data *c = &a->cols[l];
    if (a->lcur[l] >= c->num_levels) return -1;
    return c->rep_levels ? c->rep_levels[a->lcur[l]] : 0;
}

static void emit_node(assembler *a, int node, st_buf *b);

/* One instance of node (ignoring its own repetition). */
static void emit_instance(assembler *a, int node, st_buf *b)
{
    const pq_schema_node *n = &a->nodes[node];
    node_info *ni = &a->ni[node];
    if (cur_def(a, node) < ni->def) {
        /* null here (or, for a repeated node, handled by the caller) */
        st_buf_append_str(b, "null");
        skip_entry(a, node);
        return;
    }
    if (n->num_children == 0) {
        int l = ni->first_leaf;
        if (a->vcur[l] < a->cols[l].num_values) json_scalar(b, n, &a->cols[l], a->vcur[l]);
        else st_buf_append_str(b, "null");
        a->vcur[l]++;
        a->lcur[l]++;
        return;
    }
    int child = node + 1;
    /* LIST: <list> (repeated) <element>  -> JSON array of elements */
    /* (a MAP whose key_value group has only a key is read as the list of its keys, as Arrow does) */
    if ((n->logical == PQ_LOGICAL_LIST ||
         (n->logical == PQ_LOGICAL_MAP && a->nodes[child].num_children == 1)) &&
        n->num_children == 1 && a->nodes[child].repetition == PQ_REPEATED) {
        int inner = child;
        int elem = a->nodes[inner].num_children == 1 ? inner + 1 : -1;
        st_buf_append_u8(b, '[');
        if (cur_def(a, inner) < a->ni[inner].def) {
            skip_entry(a, inner);
        } else {
            int first = 1;
            do {
                if (!first) st_buf_append_u8(b, ',');
                first = 0;
                if (elem >= 0) emit_node(a, elem, b);
                else emit_instance(a, inner, b);
            } while (cur_rep(a, inner) == a->ni[inner].rep);
        }
        st_buf_append_u8(b, ']');
        return;
    }
    /* MAP: <key_value> (repeated) {key, value} -> JSON object */
    if (n->logical == PQ_LOGICAL_MAP && n->num_children == 1 && a->nodes[child].repetition == PQ_REPEATED &&
        a->nodes[child].num_children == 2) {
        int kv = child, key = kv + 1, val = a->ni[key].end_node;
        st_buf_append_u8(b, '{');
        if (cur_def(a, kv) < a->ni[kv].def) {
            skip_entry(a, kv);
        } else {
            int first = 1;
            do {
                if (!first) st_buf_append_u8(b, ',');
                first = 0;
                st_buf kb = {0};
                emit_node(a, key, &kb);
                if (kb.len && kb.data[0] == '"') st_buf_append(b, kb.data, kb.len);
                else st_buf_append_json_str(b, (const char *)kb.data, kb.len);
                st_buf_free(&kb);
                st_buf_append_u8(b, ':');
                emit_node(a, val, b);
            } while (cur_rep(a, kv) == a->ni[kv].rep);
        }
        st_buf_append_u8(b, '}');
        return;
    }
    st_buf_append_u8(b, '{');
    for (int c = 0; c < n->num_children; c++) {
        if (c) st_buf_append_u8(b, ',');
        st_buf_append_json_str(b, a->nodes[child].name, strlen(a->nodes[child].name));
        st_buf_append_u8(b, ':');
        emit_node(a, child, b);
        child = a->ni[child].end_node;
    }
    st_buf_append_u8(b, '}');
}

/* A node with its repetition: repeated nodes become JSON arrays. */
static void emit_node(assembler *a, int node, st_buf *b)
{
    if (a->nodes[node].repetition != PQ_REPEATED) {
        emit_instance(a, node, b);
        return;
    }
    node_info *ni = &a->ni[node];
    st_buf_append_u8(b, '[');
    if (cur_def(a, node) < ni->def) {
        skip_entry(a, node);
    } else {
        int first = 1;
        do {
            if (!first) st_buf_append_u8(b, ',');
            first = 0;
            emit_instance(a, node, b);
        } while (cur_rep(a, node) == ni->rep);
    }
    st_buf_append_u8(b, ']');
}

/* Appends a signed 128-bit integer as decimal text. */
static void append_i128(st_buf *b, __int128 v)
{
    char tmp[48];
    int k = 0, neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg) st_buf_append_u8(b, '-');
    while (k) st_buf_append_u8(b, (uint8_t)tmp[--k]);
}

/* `parquet sum FILE COLUMN`: scans one leaf column (dotted path) of every row group and prints
 * {"column":..,"rows":..,"count":..,"nulls":..,"sum":..} — integers summed exactly (128 bits;
 * DECIMAL shown with its scale), FLOAT/DOUBLE as a double, BOOLEAN as the number of trues.
 * Memory: one decoded column chunk at a time. Exit 1 on a read error, 2 on a bad column. */
/* The file at path (or file:// URI) through the storage layer. */
static pq_reader *open_file(const char *path, st_err *e)
{
    st_source *src;
    return st_source_open_uri(path, &src, e) ? NULL : pq_reader_open(src, e);
}

static int do_sum(const char *path, const char *column)
{
    st_err e;
    pq_reader *r = open_file(path, &e);
    if (!r) {
        fprintf(stderr, "smarttech parquet: %s\n", e.msg);
        return 1;
    }
    int leaf = pq_reader_find_leaf(r, column), rc = 0;
    int nnodes;
    const pq_schema_node *nodes = pq_reader_schema(r, &nnodes);
    const pq_schema_node *n = leaf >= 0 ? &nodes[pq_reader_leaf(r, leaf)->node] : NULL;
    if (!n || n->physical == PQ_BYTE_ARRAY || n->physical == PQ_FIXED_LEN_BYTE_ARRAY || n->physical == PQ_INT96) {
        fprintf(stderr, "smarttech parquet: %s: %s\n", path,
                n ? "column is not numeric (INT32, INT64, FLOAT, DOUBLE or BOOLEAN)" : "no such column");
        pq_reader_close(r);
        return 2;
    }
    __int128 isum = 0;
    double fsum = 0;
    int64_t count = 0, levels = 0;
    for (int g = 0; g < pq_reader_num_row_groups(r) && !rc; g++) {
        pq_column_data c;
        if (pq_reader_read_column(r, g, leaf, &c, &e)) {
            fprintf(stderr, "smarttech parquet: %s\n", e.msg);
            rc = 1;
            break;
        }
        size_t nv = c.num_values;
        switch (c.physical) {
        case PQ_BOOLEAN: for (size_t i = 0; i < nv; i++) isum += c.values.boolean[i]; break;
        case PQ_INT32: for (size_t i = 0; i < nv; i++) isum += c.values.i32[i]; break;
        case PQ_INT64: for (size_t i = 0; i < nv; i++) isum += c.values.i64[i]; break;
        case PQ_FLOAT: for (size_t i = 0; i < nv; i++) fsum += c.values.f32[i]; break;
        case PQ_DOUBLE: for (size_t i = 0; i < nv; i++) fsum += c.values.f64[i]; break;
        default: break;
        }
        count += (int64_t)nv;
        levels += (int64_t)c.num_levels;
        pq_column_data_free(&c);
    }
    if (!rc) {
        st_buf b = {0};
        st_buf_append_str(&b, "{\"column\":");
        st_buf_append_json_str(&b, column, strlen(column));
        st_buf_printf(&b, ",\"rows\":%" PRId64 ",\"count\":%" PRId64 ",\"nulls\":%" PRId64 ",\"sum\":",
                      pq_reader_num_rows(r), count, levels - count);
        if (n->physical == PQ_FLOAT || n->physical == PQ_DOUBLE) {
            json_double(&b, fsum, 0);
        } else if (n->logical == PQ_LOGICAL_DECIMAL) {
            st_buf t = {0};
            append_i128(&t, isum);
            json_decimal_text(&b, st_buf_cstr(&t), n->scale);
            st_buf_free(&t);
        } else {
            append_i128(&b, isum);
        }
        st_buf_append_str(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        st_buf_free(&b);
        if (fflush(stdout) != 0) rc = 1;
    }
    pq_reader_close(r);
    return rc;
}

static int do_cat(const char *path, int64_t limit)
{
    st_err e;
    pq_reader *r = open_file(path, &e);
    if (!r) {
        fprintf(stderr, "smarttech parquet: %s\n", e.msg);
        return 1;
    }
    int nnodes, nleaves = pq_reader_num_leaves(r);
    assembler a = {0};
    a.nodes = pq_reader_schema(r, &nnodes);
    a.nnodes = nnodes;
    a.ni = calloc((size_t)nnodes, sizeof *a.ni);
    a.leaf_node = calloc((size_t)nleaves + 1, sizeof(int));
    a.cols = calloc((size_t)nleaves + 1, sizeof *a.cols);
    a.lcur = calloc((size_t)nleaves + 1, sizeof(size_t));
    a.vcur = calloc((size_t)nleaves + 1, sizeof(size_t));
    int leaf = 0, rc = 0;
    for (int i = 0; i < nnodes;) i = index_nodes(&a, i, 0, 0, &leaf);
    st_buf line = {0};
    int64_t printed = 0;
    for (int g = 0; g < pq_reader_num_row_groups(r) && (limit < 0 || printed < limit) && !rc; g++) {
        for (int l = 0; l < nleaves; l++) {
            if (pq_reader_read_column(r, g, l, &a.cols[l], &e)) {
                fprintf(stderr, "smarttech parquet: %s\n", e.msg);
                rc = 1;
                for (int k = 0; k < l; k++) pq_column_data_free(&a.cols[k]);
                break;
            }
            a.lcur[l] = a.vcur[l] = 0;
        }
        if (rc) break;
        int64_t rows = pq_reader_row_group_rows(r, g);
        for (int64_t row = 0; row < rows && (limit < 0 || printed < limit); row++) {
            st_buf_reset(&line);
            st_buf_append_u8(&line, '{');
            for (int i = 0, first = 1; i < nnodes; i = a.ni[i].end_node) {
                if (!first) st_buf_append_u8(&line, ',');
                first = 0;
                st_buf_append_json_str(&line, a.nodes[i].name, strlen(a.nodes[i].name));
                st_buf_append_u8(&line, ':');
                emit_node(&a, i, &line);
            }
            st_buf_append_str(&line, "}\n");
            fwrite(line.data, 1, line.len, stdout);
            printed++;
        }
        for (int l = 0; l < nleaves; l++) pq_column_data_free(&a.cols[l]);
    }
    st_buf_free(&line);
    free(a.ni);
    free(a.leaf_node);
    free(a.cols);
    free(a.lcur);
    free(a.vcur);
    pq_reader_close(r);
    if (fflush(stdout) != 0) rc = 1;
    return rc;
}

/* Orders two statistic values of physical type p (PLAIN bytes); lengths already checked
 * by the caller for fixed-size types. Byte arrays compare unsigned, shorter prefix first. */
static int stat_cmp(pq_physical p, const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
    union { int32_t i32; int64_t i64; float f; double d; } x, y;
    switch (p) {
    case PQ_BOOLEAN: return (a[0] > b[0]) - (a[0] < b[0]);
    case PQ_INT32: memcpy(&x.i32, a, 4); memcpy(&y.i32, b, 4); return (x.i32 > y.i32) - (x.i32 < y.i32);
    case PQ_INT64: memcpy(&x.i64, a, 8); memcpy(&y.i64, b, 8); return (x.i64 > y.i64) - (x.i64 < y.i64);
    case PQ_FLOAT: memcpy(&x.f, a, 4); memcpy(&y.f, b, 4); return (x.f > y.f) - (x.f < y.f);
    case PQ_DOUBLE: memcpy(&x.d, a, 8); memcpy(&y.d, b, 8); return (x.d > y.d) - (x.d < y.d);
    default: {
        uint32_t m = al < bl ? al : bl;
        int c = m ? memcmp(a, b, m) : 0;
        return c ? c : (al > bl) - (al < bl);
    }
    }
}

static uint32_t stat_width(pq_physical p)
{
    return p == PQ_BOOLEAN ? 1 : p == PQ_INT32 || p == PQ_FLOAT ? 4 : p == PQ_INT64 || p == PQ_DOUBLE ? 8 : 0;
}

/* Statistic bytes rendered as JSON in the column's type (or null). */
static void json_stat(st_buf *b, const pq_schema_node *n, const uint8_t *p, uint32_t len)
{
    if (!p) {
        st_buf_append_str(b, "null");
        return;
    }
    pq_column_data c = {.physical = n->physical};
    union { uint8_t b; int32_t i32; int64_t i64; float f; double d; } u;
    pq_bytes by = {p, len};
    size_t need = n->physical == PQ_BOOLEAN ? 1 : n->physical == PQ_INT32 || n->physical == PQ_FLOAT ? 4
                : n->physical == PQ_INT64 || n->physical == PQ_DOUBLE ? 8 : 0;
    if (need) {
        if (len != need) {
            st_buf_append_str(b, "null");
            return;
        }
        memcpy(&u, p, need);
        c.values.i32 = &u.i32;
    } else {
        c.values.bytes = &by;
    }
    json_scalar(b, n, &c, 0);
}

static int do_info(const char *path, int json)
{
    st_err e;
    pq_reader *r = open_file(path, &e);
    if (!r) {
        fprintf(stderr, "smarttech parquet: %s\n", e.msg);
        return 1;
    }
    int nnodes, nleaves = pq_reader_num_leaves(r), ngroups = pq_reader_num_row_groups(r);
    const pq_schema_node *nodes = pq_reader_schema(r, &nnodes);
    st_buf b = {0};
    if (json) {
        st_buf_printf(&b, "{\"file\":");
        st_buf_append_json_str(&b, path, strlen(path));
        st_buf_printf(&b, ",\"num_rows\":%" PRId64 ",\"num_row_groups\":%d,\"created_by\":", pq_reader_num_rows(r),
                      ngroups);
        const char *cb = pq_reader_created_by(r);
        st_buf_append_json_str(&b, cb, strlen(cb));
        st_buf_append_str(&b, ",\"row_groups\":[");
        for (int g = 0; g < ngroups; g++) st_buf_printf(&b, "%s%" PRId64, g ? "," : "", pq_reader_row_group_rows(r, g));
        st_buf_append_str(&b, "],\"columns\":[");
    } else {
        st_buf_printf(&b, "file: %s\nrows: %" PRId64 "\nrow groups: %d\ncreated by: %s\ncolumns: %d\n", path,
                      pq_reader_num_rows(r), ngroups, pq_reader_created_by(r), nleaves);
    }
    for (int l = 0; l < nleaves; l++) {
        const pq_leaf_info *li = pq_reader_leaf(r, l);
        const pq_schema_node *n = &nodes[li->node];
        int64_t comp = 0, uncomp = 0, nulls = 0, values = 0;
        int nulls_known = 1;
        uint32_t enc = 0;
        pq_codec codec = PQ_CODEC_UNCOMPRESSED;
        const uint8_t *mn = NULL, *mx = NULL;
        uint32_t mnl = 0, mxl = 0;
        int have_all_stats = ngroups > 0;
        for (int g = 0; g < ngroups; g++) {
            pq_chunk_info ci;
            if (pq_reader_chunk_info(r, g, l, &ci, &e)) continue;
            comp += ci.total_compressed;
            uncomp += ci.total_uncompressed;
            values += ci.num_values;
            if (ci.null_count < 0) nulls_known = 0;
            else nulls += ci.null_count;
            enc |= ci.encodings;
            codec = ci.codec;
            /* file-wide min/max: only when every row group has them (all-null groups have none) */
            uint32_t wdt = stat_width(n->physical);
            if (!ci.min || !ci.max || (wdt && (ci.min_len != wdt || ci.max_len != wdt))) {
                have_all_stats = 0;
                continue;
            }
            if (!mn || stat_cmp(n->physical, ci.min, ci.min_len, mn, mnl) < 0) mn = ci.min, mnl = ci.min_len;
            if (!mx || stat_cmp(n->physical, ci.max, ci.max_len, mx, mxl) > 0) mx = ci.max, mxl = ci.max_len;
        }
        static const char *encn[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
                                     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
                                     "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
        if (json) {
            st_buf_printf(&b, "%s{\"path\":", l ? "," : "");
            st_buf_append_json_str(&b, li->path, strlen(li->path));
            st_buf_printf(&b, ",\"physical\":\"%s\",\"logical\":\"%s\",\"repetition\":\"%s\",\"max_def\":%d,"
                              "\"max_rep\":%d,\"codec\":\"%s\",\"num_values\":%" PRId64 ",\"null_count\":",
                          physical_name(n->physical), logical_name(n->logical), rep_name(n->repetition), li->max_def,
                          li->max_rep, codec_name(codec), values);
            if (nulls_known) st_buf_printf(&b, "%" PRId64, nulls);
            else st_buf_append_str(&b, "null");
            st_buf_printf(&b, ",\"compressed_bytes\":%" PRId64 ",\"uncompressed_bytes\":%" PRId64 ",\"encodings\":[",
                          comp, uncomp);
            int first = 1;
            for (int k = 0; k < 10; k++)
                if (enc & (1u << k)) {
                    st_buf_printf(&b, "%s\"%s\"", first ? "" : ",", encn[k]);
                    first = 0;
                }
            st_buf_append_str(&b, "],\"min\":");
            json_stat(&b, n, have_all_stats ? mn : NULL, mnl);
            st_buf_append_str(&b, ",\"max\":");
            json_stat(&b, n, have_all_stats ? mx : NULL, mxl);
            st_buf_append_u8(&b, '}');
        } else {
            st_buf_printf(&b, "  %-40s %s%s%s %s codec=%s values=%" PRId64 " nulls=", li->path,
                          physical_name(n->physical), n->logical ? "/" : "", logical_name(n->logical),
                          rep_name(n->repetition), codec_name(codec), values);
            if (nulls_known) st_buf_printf(&b, "%" PRId64, nulls);
            else st_buf_append_str(&b, "?");
            st_buf_printf(&b, " bytes=%" PRId64 "/%" PRId64 " enc=", comp, uncomp);
            int first = 1;
            for (int k = 0; k < 10; k++)
                if (enc & (1u << k)) {
                    st_buf_printf(&b, "%s%s", first ? "" : ",", encn[k]);
                    first = 0;
                }
            if (have_all_stats) {
                st_buf_append_str(&b, " min=");
                json_stat(&b, n, mn, mnl);
                st_buf_append_str(&b, " max=");
                json_stat(&b, n, mx, mxl);
            }
            st_buf_append_u8(&b, '\n');
        }
    }
    if (json) st_buf_append_str(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    st_buf_free(&b);
    pq_reader_close(r);
    return fflush(stdout) != 0;
}

/* `parquet info FILE [--json]`. */
static int parquet_info(int argc, char **argv)
{
    int json = 0;
    const cli_opt opts[] = {CLI_OPT("json", 0, CLI_FLAG, &json, NULL, "one JSON object instead of text"), {0}};
    const cli_cmd cmd = {"parquet info", "FILE", 1, 1,
                         "A Parquet file's schema, row groups, and per column: codec, encodings, sizes, null count,\n"
                         "min and max.",
                         opts, NULL, 1};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    return rc >= 0 ? rc : do_info(args[0], json);
}

/* `parquet cat FILE [--limit N]`. */
static int parquet_cat(int argc, char **argv)
{
    int64_t limit = -1;
    const cli_opt opts[] = {
        CLI_OPT("limit", 0, CLI_INT64, &limit, NULL, "print at most N rows", .min = 0, .max = INT64_MAX,
                .shown = "every row"),
        {0}};
    const cli_cmd cmd = {"parquet cat", "FILE", 1, 1,
                         "The file's rows as JSON Lines (binary as base64, invalid UTF-8 in strings as U+FFFD).",
                         opts, NULL, 1};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    return rc >= 0 ? rc : do_cat(args[0], limit);
}

/* `parquet sum FILE COLUMN`. */
static int parquet_sum(int argc, char **argv)
{
    const cli_opt opts[] = {{0}};
    const cli_cmd cmd = {"parquet sum", "FILE COLUMN", 2, 2,
                         "A one-column scan: count, nulls and exact sum of a numeric leaf column.", opts, NULL, 1};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    return rc >= 0 ? rc : do_sum(args[0], args[1]);
}

const cli_command parquet_actions[] = {
    {"info", parquet_info, "a Parquet file's schema, row groups and statistics", NULL},
    {"cat", parquet_cat, "a Parquet file's rows as JSON Lines", NULL},
    {"sum", parquet_sum, "count, nulls and exact sum of one numeric column", NULL},
    {NULL, NULL, NULL, NULL},
};
