/* pq_roundtrip — writes Parquet test files with our writer and, beside each, the
 * values it wrote as JSON, for independent readers to check
 * (tests/integration/test_parquet_roundtrip.py).
 *
 * usage: pq_roundtrip OUTDIR [--big-rows N]
 * Writes OUTDIR/<case>.parquet and OUTDIR/manifest.json:
 *   {"cases":[{"name":..., "file":..., "codec":..., "rows":N, "row_groups":G,
 *              "columns":{"col":[values...]}            (small cases: every value)
 *              "aggregates":{...}, "sample":{...}}]}    (big case: sums, counts, first rows)
 * JSON conventions: doubles always carry a '.', NaN/Infinity/-Infinity are strings,
 * DATE is days, TIMESTAMP is microseconds, nulls are null; nested maps are [[k,v],...].
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"
#include "store/store.h"
#include "util/buf.h"

/* Where the files go (OUTDIR), and a writer on one of them. */
static st_store *out_store;

static pq_writer *open_writer(const char *name, const pq_schema_node *f, int n, const pq_writer_options *o,
                              st_err *e)
{
    st_sink *k;
    return st_store_open_sink(out_store, name, ST_SINK_REPLACE, &k, e) ? NULL : pq_writer_open(k, f, n, o, e);
}

static const pq_schema_node types_schema[] = {
    {.name = "b", .repetition = PQ_REQUIRED, .physical = PQ_BOOLEAN},
    {.name = "ob", .repetition = PQ_OPTIONAL, .physical = PQ_BOOLEAN},
    {.name = "i32", .repetition = PQ_REQUIRED, .physical = PQ_INT32},
    {.name = "oi32", .repetition = PQ_OPTIONAL, .physical = PQ_INT32},
    {.name = "i64", .repetition = PQ_REQUIRED, .physical = PQ_INT64},
    {.name = "oi64", .repetition = PQ_OPTIONAL, .physical = PQ_INT64},
    {.name = "f32", .repetition = PQ_REQUIRED, .physical = PQ_FLOAT},
    {.name = "f64", .repetition = PQ_REQUIRED, .physical = PQ_DOUBLE},
    {.name = "of64", .repetition = PQ_OPTIONAL, .physical = PQ_DOUBLE},
    {.name = "s", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "os", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "day", .repetition = PQ_REQUIRED, .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE},
    {.name = "oday", .repetition = PQ_OPTIONAL, .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE},
    {.name = "ts", .repetition = PQ_REQUIRED, .physical = PQ_INT64, .logical = PQ_LOGICAL_TIMESTAMP_MICROS},
    {.name = "ots", .repetition = PQ_OPTIONAL, .physical = PQ_INT64, .logical = PQ_LOGICAL_TIMESTAMP_MICROS},
};
#define NCOLS ((int)(sizeof types_schema / sizeof types_schema[0]))

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *special_strings[] = {"", "héllo wörld", "日本語テキスト", "emoji 🚀✨", "quote \" backslash \\",
                                        "tab\tnewline\n", "a", "zzzz"};

/* Column storage for one case: dense values plus def levels. */
typedef struct col {
    int16_t *def;
    void *vals;
    size_t nv;
} col;

typedef struct table {
    size_t rows;
    col c[NCOLS];
    st_buf strings;        /* backing store of string values */
    size_t *soff;          /* per string value: offset into strings (per column s/os) */
} table;

static void json_double(st_buf *b, double d)
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
    snprintf(tmp, sizeof tmp, "%.17g", d);
    st_buf_append_str(b, tmp);
    if (!strpbrk(tmp, ".en")) st_buf_append_str(b, ".0");
}

static size_t width_of(pq_physical p)
{
    switch (p) {
    case PQ_BOOLEAN: return 1;
    case PQ_INT32: case PQ_FLOAT: return 4;
    case PQ_INT64: case PQ_DOUBLE: return 8;
    default: return sizeof(pq_bytes);
    }
}

/* Fills a table of n rows. mode 0: edge values; 1: big (moderate values, sums fit int64);
 * 2: unique strings (dictionary fallback). String pointers are fixed up at the end. */
static void table_fill(table *t, size_t n, int mode)
{
    memset(t, 0, sizeof *t);
    t->rows = n;
    st_buf sidx = {0};   /* (column, value index, offset, len) quadruples for fix-up */
    for (int ci = 0; ci < NCOLS; ci++) {
        const pq_schema_node *sn = &types_schema[ci];
        col *c = &t->c[ci];
        if (sn->repetition == PQ_OPTIONAL) c->def = st_xmalloc(n * 2 + 2);
        c->vals = st_xcalloc(n + 1, width_of(sn->physical));
        for (size_t r = 0; r < n; r++) {
            int present = 1;
            if (c->def) {
                present = mode == 1 ? (r * 7 + (size_t)ci) % 10 != 0 : (rnd() % 4 != 0);
                if (mode == 0 && r == 0) present = 0;
                c->def[r] = (int16_t)present;
            }
            if (!present) continue;
            size_t j = c->nv++;
            uint64_t x = rnd();
            switch (ci) {
            case 0: case 1: ((uint8_t *)c->vals)[j] = (uint8_t)(x & 1); break;
            case 2: case 3: {
                int32_t v = mode == 1 ? (int32_t)(x % 2001) - 1000 : (int32_t)x;
                if (mode == 0 && j == 1) v = INT32_MIN;
                if (mode == 0 && j == 2) v = INT32_MAX;
                ((int32_t *)c->vals)[j] = v;
                break;
            }
            case 4: case 5: {
                int64_t v = mode == 1 ? (int64_t)(x % 2000001) - 1000000 : (int64_t)x;
                if (mode == 0 && j == 1) v = INT64_MIN;
                if (mode == 0 && j == 2) v = INT64_MAX;
                if (mode == 0 && j == 3) v = 0;
                ((int64_t *)c->vals)[j] = v;
                break;
            }
            case 6: ((float *)c->vals)[j] = (float)((double)(int64_t)(x % 200001 - 100000) / 64.0); break;
            case 7: case 8: {
                double v = (double)(int64_t)(x % 2000001 - 1000000) / 1024.0;
                if (mode == 0) {
                    if (j == 1) v = NAN;
                    if (j == 2) v = INFINITY;
                    if (j == 3) v = -INFINITY;
                    if (j == 4) v = -0.0;
                    if (j == 5) v = 1e308;
                    if (j == 6) v = 5e-324;
                }
                ((double *)c->vals)[j] = v;
                break;
            }
            case 9: case 10: {
                char tmp[64];
                const char *s;
                if (mode == 2) {
                    snprintf(tmp, sizeof tmp, "unique-%016" PRIx64 "-%zu", x, r);
                    s = tmp;
                } else if (mode == 1) {
                    snprintf(tmp, sizeof tmp, "sensor-%03u", (unsigned)(x % 500));
                    s = tmp;
                } else if (j < 8) {
                    s = special_strings[j];
                } else {
                    snprintf(tmp, sizeof tmp, "v-%u-ü", (unsigned)(x % 37));
                    s = tmp;
                }
                size_t len = strlen(s);
                size_t quad[4] = {(size_t)ci, j, t->strings.len, len};
                st_buf_append(&t->strings, s, len);
                st_buf_append(&sidx, quad, sizeof quad);
                break;
            }
            case 11: case 12: {
                int32_t v = (int32_t)(x % 40000) - 15000;     /* ~1928 .. ~2079 */
                if (mode == 0 && j == 1) v = -719162;          /* 0001-01-01 */
                ((int32_t *)c->vals)[j] = v;
                break;
            }
            case 13: case 14: {
                int64_t v = (int64_t)(x % 4000000000000000ULL) - 1000000000000000LL;   /* 1938 .. 2096 */
                if (mode == 0 && j == 1) v = -1;                                      /* 1969-12-31T23:59:59.999999 */
                if (mode == 0 && j == 2) v = -62135596800000000LL;                    /* 0001-01-01 */
                ((int64_t *)c->vals)[j] = v;
                break;
            }
            }
        }
    }
    size_t *q = (size_t *)sidx.data;
    for (size_t k = 0; k < sidx.len / (4 * sizeof(size_t)); k++, q += 4) {
        pq_bytes *pb = &((pq_bytes *)t->c[q[0]].vals)[q[1]];
        pb->ptr = t->strings.data + q[2];
        pb->len = (uint32_t)q[3];
    }
    st_buf_free(&sidx);
}

static void table_free(table *t)
{
    for (int ci = 0; ci < NCOLS; ci++) {
        free(t->c[ci].def);
        free(t->c[ci].vals);
    }
    st_buf_free(&t->strings);
}

static void batches_of(const table *t, pq_column_batch *b)
{
    for (int ci = 0; ci < NCOLS; ci++) {
        memset(&b[ci], 0, sizeof b[ci]);
        b[ci].num_levels = t->rows;
        b[ci].num_values = t->c[ci].nv;
        b[ci].def_levels = t->c[ci].def;
        b[ci].values.i32 = t->c[ci].vals;
    }
}

/* Appends value j of column ci as JSON. */
static void json_value(st_buf *o, int ci, size_t j, const table *t)
{
    const void *v = t->c[ci].vals;
    switch (types_schema[ci].physical) {
    case PQ_BOOLEAN: st_buf_append_str(o, ((const uint8_t *)v)[j] ? "true" : "false"); break;
    case PQ_INT32: st_buf_printf(o, "%" PRId32, ((const int32_t *)v)[j]); break;
    case PQ_INT64: st_buf_printf(o, "%" PRId64, ((const int64_t *)v)[j]); break;
    case PQ_FLOAT: json_double(o, (double)((const float *)v)[j]); break;
    case PQ_DOUBLE: json_double(o, ((const double *)v)[j]); break;
    default: {
        const pq_bytes *pb = &((const pq_bytes *)v)[j];
        st_buf_append_json_str(o, (const char *)pb->ptr, pb->len);
    }
    }
}

static void json_columns(st_buf *o, const table *t)
{
    st_buf_append_str(o, "\"columns\":{");
    for (int ci = 0; ci < NCOLS; ci++) {
        st_buf_printf(o, "%s\"%s\":[", ci ? "," : "", types_schema[ci].name);
        size_t j = 0;
        for (size_t r = 0; r < t->rows; r++) {
            if (r) st_buf_append_u8(o, ',');
            if (t->c[ci].def && !t->c[ci].def[r]) st_buf_append_str(o, "null");
            else json_value(o, ci, j++, t);
        }
        st_buf_append_u8(o, ']');
    }
    st_buf_append_u8(o, '}');
}

/* Exact decimal text of a 128-bit sum. */
static void json_i128(st_buf *o, __int128 v)
{
    char tmp[48];
    int k = 0, neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg) st_buf_append_u8(o, '-');
    while (k) st_buf_append_u8(o, (uint8_t)tmp[--k]);
}

/* Sums (exact, 128-bit for integers) and counts of the big case. */
static void json_aggregates(st_buf *o, const table *t, size_t sample_rows)
{
    st_buf_append_str(o, "\"aggregates\":{");
    for (int ci = 0; ci < NCOLS; ci++) {
        const col *c = &t->c[ci];
        st_buf_printf(o, "%s\"%s\":{\"count\":%zu", ci ? "," : "", types_schema[ci].name, c->nv);
        pq_physical p = types_schema[ci].physical;
        if (p == PQ_INT32 || p == PQ_INT64 || p == PQ_BOOLEAN) {
            __int128 s = 0;
            for (size_t j = 0; j < c->nv; j++)
                s += p == PQ_INT32 ? ((int32_t *)c->vals)[j] : p == PQ_INT64 ? ((int64_t *)c->vals)[j]
                                                                            : ((uint8_t *)c->vals)[j];
            st_buf_append_str(o, ",\"sum\":");
            json_i128(o, s);
        } else if (p == PQ_DOUBLE || p == PQ_FLOAT) {
            double s = 0;
            for (size_t j = 0; j < c->nv; j++) s += p == PQ_DOUBLE ? ((double *)c->vals)[j] : ((float *)c->vals)[j];
            st_buf_append_str(o, ",\"sum\":");
            json_double(o, s);
        } else {
            int64_t s = 0;
            for (size_t j = 0; j < c->nv; j++) s += ((pq_bytes *)c->vals)[j].len;
            st_buf_printf(o, ",\"sum_len\":%" PRId64, s);
        }
        st_buf_append_u8(o, '}');
    }
    st_buf_append_str(o, "},");
    table head = *t;
    head.rows = sample_rows;
    st_buf_append_str(o, "\"sample_rows\":");
    st_buf_printf(o, "%zu,", sample_rows);
    json_columns(o, &head);
}

static int write_types_case(st_buf *man, const char *name, size_t rows, int mode, pq_codec codec,
                            int dict, int64_t rg_rows, size_t dict_max, int first)
{
    table t;
    rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)rows ^ ((uint64_t)mode << 40);
    table_fill(&t, rows, mode);
    pq_column_batch b[NCOLS];
    batches_of(&t, b);
    char file[512];
    snprintf(file, sizeof file, "%s.parquet", name);
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.codec = codec;
    o.dictionary = dict;
    if (rg_rows) o.row_group_rows = rg_rows;
    if (dict_max) o.dictionary_max_bytes = dict_max;
    st_err e;
    pq_writer *w = open_writer(file, types_schema, NCOLS, &o, &e);
    pq_file_info info = {0};
    int rc = !w || (rows && pq_writer_write(w, rows, b, &e)) || pq_writer_close(w, &info, &e);
    if (rc) {
        fprintf(stderr, "pq_roundtrip: %s\n", e.msg);
        table_free(&t);
        return 1;
    }
    st_buf_printf(man, "%s{\"name\":\"%s\",\"file\":\"%s.parquet\",\"schema\":\"types\",\"codec\":\"%s\","
                       "\"dictionary\":%d,\"rows\":%zu,\"row_groups\":%d,",
                  first ? "" : ",\n", name, name, codec == PQ_CODEC_SNAPPY ? "SNAPPY" : codec == PQ_CODEC_ZSTD ? "ZSTD" : "UNCOMPRESSED",
                  dict, rows, info.num_row_groups);
    /* stats reported for Delta: null counts and int64 min/max */
    st_buf_printf(man, "\"stats\":{\"oi64\":{\"null_count\":%" PRId64 ",\"min\":%" PRId64 ",\"max\":%" PRId64
                       ",\"has\":%d},\"os\":{\"null_count\":%" PRId64 "}},",
                  info.columns[5].null_count, info.columns[5].min.i64, info.columns[5].max.i64,
                  info.columns[5].has_min_max, info.columns[10].null_count);
    if (rows > 20000) json_aggregates(man, &t, 1000);
    else json_columns(man, &t);
    st_buf_append_u8(man, '}');
    pq_file_info_free(&info);
    table_free(&t);
    return 0;
}

/* The Delta-checkpoint-like nested case (see test_parquet.c): maps, lists, structs. */
static int write_nested_case(st_buf *man)
{
    static const pq_schema_node f[] = {
        {.name = "id", .repetition = PQ_REQUIRED, .physical = PQ_INT64},
        {.name = "add", .repetition = PQ_OPTIONAL, .num_children = 4},
        {.name = "path", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "partitionValues", .repetition = PQ_OPTIONAL, .num_children = 1, .logical = PQ_LOGICAL_MAP},
        {.name = "key_value", .repetition = PQ_REPEATED, .num_children = 2},
        {.name = "key", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "value", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "size", .repetition = PQ_OPTIONAL, .physical = PQ_INT64},
        {.name = "tags", .repetition = PQ_OPTIONAL, .num_children = 1, .logical = PQ_LOGICAL_LIST},
        {.name = "list", .repetition = PQ_REPEATED, .num_children = 1},
        {.name = "element", .repetition = PQ_OPTIONAL, .physical = PQ_INT32},
    };
#define B(x) {(const uint8_t *)x, sizeof(x) - 1}
    int64_t ids[] = {0, 1, 2, 3};
    pq_bytes paths[] = {B("a"), B("b")};
    int16_t pd[] = {2, 0, 1, 2};
    pq_bytes keys[] = {B("date"), B("x")};
    int16_t kd[] = {3, 3, 0, 2, 1}, kr[] = {0, 1, 0, 0, 0};
    pq_bytes vals[] = {B("2024-01-01")};
    int16_t vd[] = {4, 3, 0, 2, 1};
    int64_t sizes[] = {10, 5};
    int16_t sd[] = {2, 0, 1, 2};
    int32_t el[] = {1, 3};
    int16_t ed[] = {4, 3, 4, 0, 1, 2}, er[] = {0, 1, 1, 0, 0, 0};
    pq_column_batch c[6] = {
        {.num_levels = 4, .num_values = 4, .values.i64 = ids},
        {.num_levels = 4, .num_values = 2, .def_levels = pd, .values.bytes = paths},
        {.num_levels = 5, .num_values = 2, .def_levels = kd, .rep_levels = kr, .values.bytes = keys},
        {.num_levels = 5, .num_values = 1, .def_levels = vd, .rep_levels = kr, .values.bytes = vals},
        {.num_levels = 4, .num_values = 2, .def_levels = sd, .values.i64 = sizes},
        {.num_levels = 6, .num_values = 2, .def_levels = ed, .rep_levels = er, .values.i32 = el},
    };
    const char *file = "nested.parquet";
    st_err e;
    pq_writer *w = open_writer(file, f, 11, NULL, &e);
    if (!w || pq_writer_write(w, 4, c, &e) || pq_writer_close(w, NULL, &e)) {
        fprintf(stderr, "pq_roundtrip: %s\n", e.msg);
        return 1;
    }
    st_buf_append_str(man,
        ",\n{\"name\":\"nested\",\"file\":\"nested.parquet\",\"schema\":\"nested\",\"rows\":4,\"rows_json\":["
        "{\"id\":0,\"add\":{\"path\":\"a\",\"partitionValues\":[[\"date\",\"2024-01-01\"],[\"x\",null]],"
        "\"size\":10,\"tags\":[1,null,3]}},"
        "{\"id\":1,\"add\":null},"
        "{\"id\":2,\"add\":{\"path\":null,\"partitionValues\":[],\"size\":null,\"tags\":null}},"
        "{\"id\":3,\"add\":{\"path\":\"b\",\"partitionValues\":null,\"size\":5,\"tags\":[]}}]}");
    return 0;
}

/* Generated nested rows (same schema as write_nested_case, minus nothing): many rows,
 * small pages and row groups, so page cuts must fall on row starts. Every shape occurs:
 * null struct, null/empty/non-empty map and list, null map values and list elements. */
typedef struct lv {
    st_buf def, rep, vals;   /* int16, int16, values (int64/int32/pq_bytes) */
} lv;

static void lv_push(lv *l, int16_t d, int16_t r)
{
    st_buf_append(&l->def, &d, 2);
    st_buf_append(&l->rep, &r, 2);
}

static int write_nested_big_case(st_buf *man, size_t rows)
{
    static const pq_schema_node f[] = {
        {.name = "id", .repetition = PQ_REQUIRED, .physical = PQ_INT64},
        {.name = "add", .repetition = PQ_OPTIONAL, .num_children = 4},
        {.name = "path", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "partitionValues", .repetition = PQ_OPTIONAL, .num_children = 1, .logical = PQ_LOGICAL_MAP},
        {.name = "key_value", .repetition = PQ_REPEATED, .num_children = 2},
        {.name = "key", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "value", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "size", .repetition = PQ_OPTIONAL, .physical = PQ_INT64},
        {.name = "tags", .repetition = PQ_OPTIONAL, .num_children = 1, .logical = PQ_LOGICAL_LIST},
        {.name = "list", .repetition = PQ_REPEATED, .num_children = 1},
        {.name = "element", .repetition = PQ_OPTIONAL, .physical = PQ_INT32},
    };
    lv L[6];
    memset(L, 0, sizeof L);
    st_buf text = {0}, exp = {0};
    st_buf_append_str(&exp, ",\n{\"name\":\"nested_big\",\"file\":\"nested_big.parquet\",\"schema\":\"nested\",");
    st_buf_printf(&exp, "\"rows\":%zu,\"rows_json\":[", rows);
    /* string values are offsets into `text` until the end (it may move while growing) */
    for (size_t i = 0; i < rows; i++) {
        int64_t id = (int64_t)i;
        st_buf_append(&L[0].vals, &id, 8);
        st_buf_printf(&exp, "%s{\"id\":%zu,\"add\":", i ? "," : "", i);
        if (i % 7 == 3) {
            for (int k = 1; k < 6; k++) lv_push(&L[k], 0, 0);
            st_buf_append_str(&exp, "null}");
            continue;
        }
        st_buf_append_str(&exp, "{\"path\":");
        if (i % 5 == 1) {
            lv_push(&L[1], 1, 0);
            st_buf_append_str(&exp, "null");
        } else {
            lv_push(&L[1], 2, 0);
            size_t off = text.len;
            st_buf_printf(&text, "p%zu/é", i);
            size_t q[2] = {off, text.len - off};
            st_buf_append(&L[1].vals, q, sizeof q);
            st_buf_printf(&exp, "\"p%zu/é\"", i);
        }
        st_buf_append_str(&exp, ",\"partitionValues\":");
        if (i % 6 == 2) {
            lv_push(&L[2], 1, 0);
            lv_push(&L[3], 1, 0);
            st_buf_append_str(&exp, "null");
        } else if (i % 4 == 0) {
            lv_push(&L[2], 2, 0);
            lv_push(&L[3], 2, 0);
            st_buf_append_str(&exp, "[]");
        } else {
            st_buf_append_u8(&exp, '[');
            for (size_t j = 0; j < i % 4; j++) {
                int16_t r = j ? 1 : 0;
                lv_push(&L[2], 3, r);
                size_t off = text.len;
                st_buf_printf(&text, "k%zu", j);
                size_t q[2] = {off, text.len - off};
                st_buf_append(&L[2].vals, q, sizeof q);
                st_buf_printf(&exp, "%s[\"k%zu\",", j ? "," : "", j);
                if ((i + j) % 3 == 0) {
                    lv_push(&L[3], 3, r);
                    st_buf_append_str(&exp, "null]");
                } else {
                    lv_push(&L[3], 4, r);
                    off = text.len;
                    st_buf_printf(&text, "v%zu-%zu", i, j);
                    size_t q2[2] = {off, text.len - off};
                    st_buf_append(&L[3].vals, q2, sizeof q2);
                    st_buf_printf(&exp, "\"v%zu-%zu\"]", i, j);
                }
            }
            st_buf_append_u8(&exp, ']');
        }
        st_buf_append_str(&exp, ",\"size\":");
        if (i % 4 == 0) {
            lv_push(&L[4], 1, 0);
            st_buf_append_str(&exp, "null");
        } else {
            lv_push(&L[4], 2, 0);
            int64_t sz = (int64_t)i * 10;
            st_buf_append(&L[4].vals, &sz, 8);
            st_buf_printf(&exp, "%" PRId64, sz);
        }
        st_buf_append_str(&exp, ",\"tags\":");
        if (i % 9 == 4) {
            lv_push(&L[5], 1, 0);
            st_buf_append_str(&exp, "null");
        } else if (i % 5 == 0) {
            lv_push(&L[5], 2, 0);
            st_buf_append_str(&exp, "[]");
        } else {
            st_buf_append_u8(&exp, '[');
            for (size_t j = 0; j < i % 5; j++) {
                int16_t r = j ? 1 : 0;
                if ((i + j) % 4 == 1) {
                    lv_push(&L[5], 3, r);
                    st_buf_printf(&exp, "%snull", j ? "," : "");
                } else {
                    lv_push(&L[5], 4, r);
                    int32_t v = (int32_t)(i + j);
                    st_buf_append(&L[5].vals, &v, 4);
                    st_buf_printf(&exp, "%s%d", j ? "," : "", v);
                }
            }
            st_buf_append_u8(&exp, ']');
        }
        st_buf_append_str(&exp, "}}");
    }
    st_buf_append_str(&exp, "]}");
    /* offsets -> pq_bytes now that text is final */
    for (int k = 1; k <= 3; k++) {
        size_t *q = (size_t *)L[k].vals.data;
        size_t n = L[k].vals.len / (2 * sizeof(size_t));
        pq_bytes *pb = st_xmalloc((n + 1) * sizeof *pb);
        for (size_t j = 0; j < n; j++) pb[j] = (pq_bytes){text.data + q[2 * j], (uint32_t)q[2 * j + 1]};
        st_buf_free(&L[k].vals);
        L[k].vals.data = (uint8_t *)pb;
        L[k].vals.len = n * sizeof *pb;
    }
    pq_column_batch c[6];
    size_t wdt[6] = {8, sizeof(pq_bytes), sizeof(pq_bytes), sizeof(pq_bytes), 8, 4};
    for (int k = 0; k < 6; k++) {
        memset(&c[k], 0, sizeof c[k]);
        c[k].num_levels = k ? L[k].def.len / 2 : rows;
        c[k].num_values = L[k].vals.len / wdt[k];
        if (k) c[k].def_levels = (const int16_t *)L[k].def.data;
        if (k == 2 || k == 3 || k == 5) c[k].rep_levels = (const int16_t *)L[k].rep.data;
        c[k].values.i32 = (const int32_t *)L[k].vals.data;
    }
    const char *file = "nested_big.parquet";
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.page_rows = 100;
    o.row_group_rows = 1000;
    o.codec = PQ_CODEC_ZSTD;
    st_err e;
    pq_writer *w = open_writer(file, f, 11, &o, &e);
    int rc = !w || pq_writer_write(w, rows, c, &e) || pq_writer_close(w, NULL, &e);
    if (rc) fprintf(stderr, "pq_roundtrip: %s\n", e.msg);
    else st_buf_append(man, exp.data, exp.len);
    for (int k = 0; k < 6; k++) {
        st_buf_free(&L[k].def);
        st_buf_free(&L[k].rep);
        st_buf_free(&L[k].vals);
    }
    st_buf_free(&text);
    st_buf_free(&exp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pq_roundtrip OUTDIR [--big-rows N]\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t big = 1000000;
    if (argc >= 4 && !strcmp(argv[2], "--big-rows")) big = (size_t)strtoull(argv[3], NULL, 10);
    st_err e;
    if (st_store_open(dir, &out_store, &e)) {
        fprintf(stderr, "pq_roundtrip: %s\n", e.msg);
        return 1;
    }
    st_buf man = {0};
    st_buf_append_str(&man, "{\"cases\":[\n");
    int rc = 0;
    rc |= write_types_case(&man, "types_uncompressed", 1000, 0, PQ_CODEC_UNCOMPRESSED, 1, 0, 0, 1);
    rc |= write_types_case(&man, "types_snappy", 1000, 0, PQ_CODEC_SNAPPY, 1, 300, 0, 0);
    rc |= write_types_case(&man, "types_zstd", 1000, 0, PQ_CODEC_ZSTD, 1, 0, 0, 0);
    rc |= write_types_case(&man, "types_plain_snappy", 1000, 0, PQ_CODEC_SNAPPY, 0, 0, 0, 0);
    rc |= write_types_case(&man, "dict_fallback_zstd", 5000, 2, PQ_CODEC_ZSTD, 1, 2000, 4096, 0);
    rc |= write_types_case(&man, "zero_rows", 0, 0, PQ_CODEC_SNAPPY, 1, 0, 0, 0);
    rc |= write_types_case(&man, "one_row", 1, 0, PQ_CODEC_SNAPPY, 1, 0, 0, 0);
    rc |= write_types_case(&man, "big_snappy", big, 1, PQ_CODEC_SNAPPY, 1, 300000, 0, 0);
    rc |= write_nested_case(&man);
    rc |= write_nested_big_case(&man, 3000);
    st_buf_append_str(&man, "\n]}\n");
    if (!rc && st_store_write(out_store, "manifest.json", man.data, man.len, &e)) {
        fprintf(stderr, "pq_roundtrip: %s\n", e.msg);
        rc = 1;
    }
    st_buf_free(&man);
    st_store_close(out_store);
    if (!rc) printf("wrote %s/manifest.json\n", dir);
    return rc;
}
