/* test_parquet.c — Parquet module: Thrift compact round trip, RLE/bit-packed hybrid
 * round trip, write + read back through our reader (flat and nested, every codec,
 * dictionary fallback, several row groups), statistics, and damaged files. */
#include "check.h"
#include "pq_open.h"
#include "parquet/encoding.h"
#include "parquet/parquet.h"
#include "parquet/thrift_compact.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_thrift(void)
{
    st_buf b = {0};
    tc_writer w;
    tc_writer_init(&w, &b);
    tc_struct_begin(&w);
    tc_field_i32(&w, 1, -123456);
    tc_field_i64(&w, 2, INT64_MIN);
    tc_field_i64(&w, 3, INT64_MAX);
    tc_field_bool(&w, 4, 1);
    tc_field_bool(&w, 5, 0);
    tc_field_string(&w, 6, "héllo");
    tc_field_struct_begin(&w, 40);            /* long field header form */
    tc_field_i32(&w, 1, 7);
    tc_field_i16(&w, 300, -2);
    tc_struct_end(&w);
    tc_field_list_begin(&w, 41, TC_I32, 20);  /* long list header form */
    for (int i = 0; i < 20; i++) tc_write_i32(&w, i * i - 50);
    tc_field_i8(&w, 42, -5);
    tc_field_i32(&w, 43, 99);
    tc_struct_end(&w);

    tc_reader r;
    tc_reader_init(&r, b.data, b.len);
    tc_read_struct_begin(&r);
    int t, seen = 0;
    int16_t id;
    while (tc_read_field(&r, &t, &id)) {
        switch (id) {
        case 1: CHECK(t == TC_I32 && tc_read_i32(&r) == -123456); seen++; break;
        case 2: CHECK(t == TC_I64 && tc_read_i64(&r) == INT64_MIN); seen++; break;
        case 3: CHECK(t == TC_I64 && tc_read_i64(&r) == INT64_MAX); seen++; break;
        case 4: CHECK(tc_read_bool(&r, t, 0) == 1); seen++; break;
        case 5: CHECK(tc_read_bool(&r, t, 0) == 0); seen++; break;
        case 6: {
            uint32_t n;
            const uint8_t *s = tc_read_binary(&r, &n);
            CHECK(n == strlen("héllo") && !memcmp(s, "héllo", n));
            seen++;
            break;
        }
        case 40: {
            tc_read_struct_begin(&r);
            int t2;
            int16_t id2;
            CHECK(tc_read_field(&r, &t2, &id2) && id2 == 1 && tc_read_i32(&r) == 7);
            CHECK(tc_read_field(&r, &t2, &id2) && id2 == 300 && t2 == TC_I16 && tc_read_i32(&r) == -2);
            CHECK(!tc_read_field(&r, &t2, &id2));
            tc_read_struct_end(&r);
            seen++;
            break;
        }
        case 41: {
            int et;
            uint32_t n;
            tc_read_list_begin(&r, &et, &n);
            CHECK(et == TC_I32 && n == 20);
            int ok = 1;
            for (uint32_t i = 0; i < n; i++) ok &= tc_read_i32(&r) == (int32_t)(i * i) - 50;
            CHECK(ok);
            seen++;
            break;
        }
        case 42: CHECK(t == TC_BYTE && tc_read_i8(&r) == -5); seen++; break;
        default: tc_skip(&r, t); break;   /* 43 skipped as unknown */
        }
    }
    CHECK(!r.err);
    CHECK(seen == 9);
    CHECK(r.p == r.end);

    /* skip over everything, then every truncation must fail cleanly */
    tc_reader_init(&r, b.data, b.len);
    tc_skip(&r, TC_STRUCT);
    CHECK(!r.err && r.p == r.end);
    int all_err = 1;
    for (size_t cut = 0; cut < b.len; cut++) {
        tc_reader_init(&r, b.data, cut);
        tc_skip(&r, TC_STRUCT);
        all_err &= r.err;
    }
    CHECK(all_err);
    /* deep nesting is refused, not a stack overflow */
    st_buf deep = {0};
    for (int i = 0; i < 1000; i++) st_buf_append_u8(&deep, 0x1C);   /* field 1, struct */
    tc_reader_init(&r, deep.data, deep.len);
    tc_skip(&r, TC_STRUCT);
    CHECK(r.err);
    st_buf_free(&deep);
    st_buf_free(&b);
}

static void rle_case(const uint32_t *v, size_t n, int bw)
{
    st_buf b = {0};
    pq_rle_encode_u32(&b, v, n, bw);
    uint32_t *back = st_xcalloc(n + 1, 4);
    CHECK(pq_rle_decode_u32(b.data, b.len, bw, back, n) == 0);
    CHECK(n == 0 || memcmp(back, v, n * 4) == 0);
    /* truncated input fails or decodes, never reads past the end (ASan) */
    if (b.len > 1) (void)pq_rle_decode_u32(b.data, b.len / 2, bw, back, n);
    int16_t *lv = st_xcalloc(n + 1, 2), *lback = st_xcalloc(n + 1, 2);
    if (bw <= 15) {
        for (size_t i = 0; i < n; i++) lv[i] = (int16_t)v[i];
        st_buf_reset(&b);
        pq_rle_encode_i16(&b, lv, n, bw);
        CHECK(pq_rle_decode_i16(b.data, b.len, bw, lback, n) == 0);
        CHECK(n == 0 || memcmp(lback, lv, n * 2) == 0);
    }
    free(lv);
    free(lback);
    free(back);
    st_buf_free(&b);
}

static void test_rle(void)
{
    size_t n = 5000;
    uint32_t *v = st_xmalloc(n * 4);
    for (int bw = 0; bw <= 32; bw++) {
        uint64_t mask = bw == 32 ? 0xFFFFFFFFull : ((1ull << bw) - 1);
        for (int mode = 0; mode < 3; mode++) {
            for (size_t i = 0; i < n; i++) {
                uint64_t x = next_rand();
                if (mode == 1 && i > 0 && x % 10 < 8) x = v[i - 1];           /* runs */
                if (mode == 2) x = (i / 37) % 3;                              /* long runs */
                v[i] = (uint32_t)(x & mask);
            }
            for (size_t len = 0; len < 40; len++) rle_case(v, len, bw);
            rle_case(v, n, bw);
        }
    }
    /* bit-packed header claiming more groups than bytes must fail */
    uint8_t badrun[] = {0xFF, 0x7F, 0x01};
    uint32_t out[16];
    CHECK(pq_rle_decode_u32(badrun, sizeof badrun, 8, out, 16) != 0);
    free(v);
}

/* DELTA_BINARY_PACKED streams built by hand from the spec. */
static void test_delta_binary_packed(void)
{
    /* block 128, 4 miniblocks, 5 values, first 1, min delta 1, all widths 0 -> 1..5 */
    const uint8_t s1[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
    int64_t out[8];
    size_t used;
    CHECK(pq_delta_decode(s1, sizeof s1, 8, out, 5, &used) == 0);
    CHECK(out[0] == 1 && out[1] == 2 && out[4] == 5 && used == sizeof s1);
    /* deltas 3, 0, 5 around min delta -2 (zigzag 3): first 7 -> 7, 8, 5, 10; width 3, one miniblock of 32 */
    uint8_t s2[10 + 12] = {0x80, 0x01, 0x04, 0x04, 14, 3, 3, 0, 0, 0};
    /* packed deltas - min: 5, 2, 7 in 3 bits each LSB first: 101 010 111 -> bits 0..8 */
    uint32_t bits = 5u | (2u << 3) | (7u << 6);
    s2[10] = (uint8_t)bits;
    s2[11] = (uint8_t)(bits >> 8);
    int32_t o32[4];
    CHECK(pq_delta_decode(s2, sizeof s2, 4, o32, 4, &used) == 0);
    CHECK(o32[0] == 7 && o32[1] == 10 && o32[2] == 10 && o32[3] == 15);
    CHECK(used == sizeof s2);
    /* truncations and bad headers fail cleanly */
    int all = 1;
    for (size_t cut = 0; cut < sizeof s2; cut++) all &= pq_delta_decode(s2, cut, 4, o32, 4, &used) != 0;
    CHECK(all);
    const uint8_t bad[] = {0x07, 0x04, 0x05, 0x02};
    CHECK(pq_delta_decode(bad, sizeof bad, 8, out, 1, &used) != 0);
}

#define NROWS 20000

static const pq_schema_node flat_schema[] = {
    {.name = "b", .repetition = PQ_REQUIRED, .physical = PQ_BOOLEAN},
    {.name = "i32", .repetition = PQ_OPTIONAL, .physical = PQ_INT32},
    {.name = "i64", .repetition = PQ_REQUIRED, .physical = PQ_INT64},
    {.name = "f", .repetition = PQ_REQUIRED, .physical = PQ_FLOAT},
    {.name = "d", .repetition = PQ_OPTIONAL, .physical = PQ_DOUBLE},
    {.name = "s", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "day", .repetition = PQ_REQUIRED, .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE},
    {.name = "ts", .repetition = PQ_OPTIONAL, .physical = PQ_INT64, .logical = PQ_LOGICAL_TIMESTAMP_MICROS},
};

typedef struct flat_data {
    uint8_t b[NROWS];
    int16_t def[NROWS];
    int32_t i32[NROWS], day[NROWS];
    int64_t i64[NROWS], ts[NROWS];
    float f[NROWS];
    double d[NROWS];
    pq_bytes s[NROWS];
    char sbuf[NROWS][24];
    size_t nv;
} flat_data;

static void flat_fill(flat_data *fd)
{
    fd->nv = 0;
    for (size_t k = 0; k < NROWS; k++) {
        fd->b[k] = (k * 7) % 3 == 0;
        fd->i64[k] = k == 0 ? INT64_MIN : k == 1 ? INT64_MAX : (int64_t)(next_rand() >> 1) - (int64_t)(k << 20);
        fd->f[k] = (float)k * 0.25f - 100.0f;
        fd->day[k] = (int32_t)k - 10000;
        fd->def[k] = k % 5 != 3;
        if (fd->def[k]) {
            size_t j = fd->nv++;
            fd->i32[j] = (int32_t)(k * 2654435761u);
            fd->d[j] = k == 2 ? NAN : k == 4 ? INFINITY : (double)k / 3.0;
            fd->ts[j] = -86400000000LL + (int64_t)k * 1000003;
            /* low cardinality first half (dictionary), unique second half (fallback) */
            int len = snprintf(fd->sbuf[j], 24, k < NROWS / 2 ? "v%zu-é" : "unique-%zu", k < NROWS / 2 ? k % 50 : k);
            if (k == 9) len = 0;
            fd->s[j].ptr = (const uint8_t *)fd->sbuf[j];
            fd->s[j].len = (uint32_t)len;
        }
    }
}

static void flat_batches(flat_data *fd, pq_column_batch *c)
{
    memset(c, 0, 8 * sizeof *c);
    for (int i = 0; i < 8; i++) c[i].num_levels = NROWS;
    c[0].num_values = NROWS, c[0].values.boolean = fd->b;
    c[1].num_values = fd->nv, c[1].def_levels = fd->def, c[1].values.i32 = fd->i32;
    c[2].num_values = NROWS, c[2].values.i64 = fd->i64;
    c[3].num_values = NROWS, c[3].values.f32 = fd->f;
    c[4].num_values = fd->nv, c[4].def_levels = fd->def, c[4].values.f64 = fd->d;
    c[5].num_values = fd->nv, c[5].def_levels = fd->def, c[5].values.bytes = fd->s;
    c[6].num_values = NROWS, c[6].values.i32 = fd->day;
    c[7].num_values = fd->nv, c[7].def_levels = fd->def, c[7].values.i64 = fd->ts;
}

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void check_flat_file(const char *path, flat_data *fd, int expect_rgs)
{
    st_err e;
    pq_reader *r = open_r(path, &e);
    CHECK_MSG(r != NULL, "%s", e.msg);
    if (!r) return;
    CHECK(pq_reader_num_rows(r) == NROWS);
    CHECK(pq_reader_num_leaves(r) == 8);
    CHECK(pq_reader_num_row_groups(r) == expect_rgs);
    CHECK(pq_reader_find_leaf(r, "ts") == 7);
    int nf;
    const pq_schema_node *sn = pq_reader_schema(r, &nf);
    CHECK(nf == 8 && sn[5].logical == PQ_LOGICAL_STRING && sn[6].logical == PQ_LOGICAL_DATE &&
          sn[7].logical == PQ_LOGICAL_TIMESTAMP_MICROS && sn[1].repetition == PQ_OPTIONAL);
    size_t row0 = 0, v0 = 0;
    int ok = 1;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        size_t rows = (size_t)pq_reader_row_group_rows(r, g);
        pq_column_data c[8];
        for (int i = 0; i < 8; i++) {
            st_code rc = pq_reader_read_column(r, g, i, &c[i], &e);
            CHECK_MSG(rc == ST_OK, "%s", e.msg);
            if (rc) return;
            ok &= c[i].num_levels == rows;
        }
        size_t nv = c[1].num_values;
        for (size_t k = 0; k < rows; k++) {
            size_t K = row0 + k;
            ok &= c[0].values.boolean[k] == fd->b[K];
            ok &= c[2].values.i64[k] == fd->i64[K];
            ok &= c[3].values.f32[k] == fd->f[K];
            ok &= c[6].values.i32[k] == fd->day[K];
            ok &= c[1].def_levels[k] == fd->def[K] && c[5].def_levels[k] == fd->def[K];
        }
        for (size_t j = 0; j < nv; j++) {
            ok &= c[1].values.i32[j] == fd->i32[v0 + j];
            ok &= same_double(c[4].values.f64[j], fd->d[v0 + j]);
            ok &= c[7].values.i64[j] == fd->ts[v0 + j];
            ok &= c[5].values.bytes[j].len == fd->s[v0 + j].len &&
                  !memcmp(c[5].values.bytes[j].ptr, fd->s[v0 + j].ptr, fd->s[v0 + j].len);
        }
        row0 += rows;
        v0 += nv;
        for (int i = 0; i < 8; i++) pq_column_data_free(&c[i]);
    }
    CHECK_MSG(ok, "%s: values differ", path);
    CHECK(row0 == NROWS && v0 == fd->nv);
    pq_reader_close(r);
}

static void test_flat_roundtrip(const char *dir)
{
    flat_data *fd = st_xcalloc(1, sizeof *fd);
    flat_fill(fd);
    pq_column_batch c[8];
    flat_batches(fd, c);
    pq_codec codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD};
    for (int ci = 0; ci < 3; ci++)
        for (int dict = 0; dict <= 1; dict++) {
            char *path = st_path_join(dir, "flat.parquet");
            pq_writer_options o;
            pq_writer_options_init(&o);
            o.codec = codecs[ci];
            o.dictionary = dict;
            o.dictionary_max_bytes = 2000;      /* forces the PLAIN fallback on "unique-..." */
            o.row_group_rows = 7000;
            o.page_bytes = 4096;
            st_err e;
            pq_writer *w = open_w(path, flat_schema, 8, &o, &e);
            CHECK_MSG(w != NULL, "%s", e.msg);
            if (!w) return;
            /* in three uneven batches */
            size_t cuts[] = {0, 1, 12345, NROWS};
            st_code rc = ST_OK;
            size_t vdone = 0;
            for (int k = 0; k < 3 && !rc; k++) {
                size_t a = cuts[k], z = cuts[k + 1], nv = 0;
                for (size_t i = a; i < z; i++) nv += fd->def[i];
                pq_column_batch s[8];
                for (int i = 0; i < 8; i++) {
                    s[i] = c[i];
                    s[i].num_levels = z - a;
                    size_t off = c[i].def_levels ? vdone : a;
                    s[i].num_values = c[i].def_levels ? nv : z - a;
                    if (c[i].def_levels) s[i].def_levels = c[i].def_levels + a;
                    switch (i) {
                    case 0: s[i].values.boolean = fd->b + off; break;
                    case 1: s[i].values.i32 = fd->i32 + off; break;
                    case 2: s[i].values.i64 = fd->i64 + off; break;
                    case 3: s[i].values.f32 = fd->f + off; break;
                    case 4: s[i].values.f64 = fd->d + off; break;
                    case 5: s[i].values.bytes = fd->s + off; break;
                    case 6: s[i].values.i32 = fd->day + off; break;
                    case 7: s[i].values.i64 = fd->ts + off; break;
                    }
                }
                rc = pq_writer_write(w, z - a, s, &e);
                CHECK_MSG(rc == ST_OK, "%s", e.msg);
                vdone += nv;
            }
            CHECK(pq_writer_num_rows(w) == NROWS);
            int64_t est = pq_writer_size_estimate(w);
            pq_file_info info;
            rc = pq_writer_close(w, &info, &e);
            CHECK_MSG(est > info.file_size / 2 && est < info.file_size * 2, "estimate %lld, size %lld",
                      (long long)est, (long long)info.file_size);
            CHECK_MSG(rc == ST_OK, "%s", e.msg);
            CHECK(info.num_rows == NROWS && info.num_row_groups == 3 && info.num_leaves == 8);
            CHECK(info.columns[2].has_min_max && info.columns[2].min.i64 == INT64_MIN &&
                  info.columns[2].max.i64 == INT64_MAX);
            CHECK(info.columns[1].null_count == NROWS - (int64_t)fd->nv);
            CHECK(info.columns[1].num_values == NROWS);
            CHECK(info.columns[4].has_min_max && info.columns[4].max.f64 == INFINITY);   /* NaN ignored */
            CHECK(info.columns[4].min.f64 == 0.0);
            CHECK(info.columns[5].min_len == 0);                                          /* "" is the min */
            CHECK(info.columns[5].max_len == strlen("v9-é") && !memcmp(info.columns[5].max_bytes, "v9-é", strlen("v9-é")));
            CHECK(info.columns[6].min.i32 == -10000 && info.columns[6].max.i32 == NROWS - 10001);
            CHECK(info.columns[0].min.boolean == 0 && info.columns[0].max.boolean == 1);
            pq_file_info_free(&info);
            check_flat_file(path, fd, 3);

            /* footer statistics as the reader sees them */
            pq_reader *r = open_r(path, &e);
            if (r) {
                pq_chunk_info ci2;
                CHECK(pq_reader_chunk_info(r, 0, 2, &ci2, &e) == ST_OK);
                int64_t mn;
                CHECK(ci2.min && ci2.min_len == 8);
                if (ci2.min) memcpy(&mn, ci2.min, 8);
                CHECK(ci2.min && mn == INT64_MIN);
                CHECK(ci2.codec == codecs[ci]);
                CHECK(pq_reader_chunk_info(r, 0, 1, &ci2, &e) == ST_OK && ci2.null_count > 0);
                pq_reader_close(r);
            }
            free(path);
        }
    free(fd);
}

/* Nested: id, add{path, partitionValues map<string,string>, tags list<int32>}. */
static void test_nested(const char *dir)
{
    pq_schema_node f[] = {
        {.name = "id", .repetition = PQ_REQUIRED, .physical = PQ_INT64},
        {.name = "add", .repetition = PQ_OPTIONAL, .num_children = 3},
        {.name = "path", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "partitionValues", .repetition = PQ_OPTIONAL, .num_children = 1, .logical = PQ_LOGICAL_MAP},
        {.name = "key_value", .repetition = PQ_REPEATED, .num_children = 2},
        {.name = "key", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
        {.name = "value", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
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
    int32_t el[] = {1, 3};
    int16_t ed[] = {4, 3, 4, 0, 1, 2}, er[] = {0, 1, 1, 0, 0, 0};
    pq_column_batch c[5] = {
        {.num_levels = 4, .num_values = 4, .values.i64 = ids},
        {.num_levels = 4, .num_values = 2, .def_levels = pd, .values.bytes = paths},
        {.num_levels = 5, .num_values = 2, .def_levels = kd, .rep_levels = kr, .values.bytes = keys},
        {.num_levels = 5, .num_values = 1, .def_levels = vd, .rep_levels = kr, .values.bytes = vals},
        {.num_levels = 6, .num_values = 2, .def_levels = ed, .rep_levels = er, .values.i32 = el},
    };
    char *path = st_path_join(dir, "nested.parquet");
    st_err e;
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.row_group_rows = 6;     /* 3 batches of 4 rows: a row group boundary inside a batch */
    pq_writer *w = open_w(path, f, 10, &o, &e);
    CHECK_MSG(w != NULL, "%s", e.msg);
    if (!w) return;
    CHECK(pq_writer_num_leaves(w) == 5);
    for (int k = 0; k < 3; k++) CHECK(pq_writer_write(w, 4, c, &e) == ST_OK);
    /* a bad batch is refused with a message naming the column */
    int16_t badd[] = {9, 0, 0, 0, 0};
    pq_column_batch bad[5];
    memcpy(bad, c, sizeof bad);
    bad[2].def_levels = badd;
    CHECK(pq_writer_write(w, 4, bad, &e) == ST_ERR_ARG && strstr(e.msg, "partitionValues.key_value.key"));
    pq_writer_abort(w);                                   /* aborted writers leave no file */
    CHECK(!st_path_exists(path));

    w = open_w(path, f, 10, &o, &e);
    for (int k = 0; k < 3; k++) CHECK(pq_writer_write(w, 4, c, &e) == ST_OK);
    CHECK(!st_path_exists(path));                         /* nothing visible before close */
    CHECK(pq_writer_close(w, NULL, &e) == ST_OK);
    pq_reader *r = open_r(path, &e);
    CHECK_MSG(r != NULL, "%s", e.msg);
    if (r) {
        CHECK(pq_reader_num_rows(r) == 12 && pq_reader_num_row_groups(r) == 2);
        int key = pq_reader_find_leaf(r, "add.partitionValues.key_value.key");
        CHECK(key == 2);
        const pq_leaf_info *li = pq_reader_leaf(r, key);
        CHECK(li && li->max_def == 3 && li->max_rep == 1);
        pq_column_data d;
        CHECK(pq_reader_read_column(r, 0, key, &d, &e) == ST_OK);
        /* row group 0 = rows 0..5 = batch 0 (5 levels) + rows 0,1 of batch 1 (3 levels) */
        CHECK(d.num_levels == 8 && d.num_values == 4);
        int16_t wantd[] = {3, 3, 0, 2, 1, 3, 3, 0}, wantr[] = {0, 1, 0, 0, 0, 0, 1, 0};
        CHECK(d.num_levels == 8 && !memcmp(d.def_levels, wantd, sizeof wantd) &&
              !memcmp(d.rep_levels, wantr, sizeof wantr));
        CHECK(d.values.bytes[1].len == 1 && d.values.bytes[1].ptr[0] == 'x');
        pq_column_data_free(&d);
        CHECK(pq_reader_read_column(r, 1, 4, &d, &e) == ST_OK);
        /* row group 1 = rows 2,3 of batch 1 (2 levels) + batch 2 (6 levels) */
        CHECK(d.num_levels == 8 && d.num_values == 2 && d.values.i32[0] == 1 && d.values.i32[1] == 3);
        pq_column_data_free(&d);
        int nf;
        const pq_schema_node *sn = pq_reader_schema(r, &nf);
        CHECK(nf == 10 && sn[3].logical == PQ_LOGICAL_MAP && sn[7].logical == PQ_LOGICAL_LIST &&
              sn[4].repetition == PQ_REPEATED);
        pq_reader_close(r);
    }
    free(path);
}

static void test_damage(const char *dir)
{
    /* a small valid file, then every truncation and many byte flips */
    flat_data *fd = st_xcalloc(1, sizeof *fd);
    flat_fill(fd);
    pq_column_batch c[8];
    flat_batches(fd, c);
    char *path = st_path_join(dir, "small.parquet");
    st_err e;
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.row_group_rows = 5000;
    pq_writer *w = open_w(path, flat_schema, 8, &o, &e);
    CHECK(w && pq_writer_write(w, NROWS, c, &e) == ST_OK && pq_writer_close(w, NULL, &e) == ST_OK);
    st_buf file = {0};
    CHECK(st_read_file(path, &file, &e) == ST_OK);

    /* garbage footer: named in the message */
    st_buf g = {0};
    st_buf_append(&g, file.data, file.len);
    uint32_t flen;
    memcpy(&flen, g.data + g.len - 8, 4);
    for (size_t i = g.len - 8 - flen; i < g.len - 8; i++) g.data[i] = (uint8_t)next_rand();
    pq_reader *r = pq_reader_open_mem(g.data, g.len, "garbage.parquet", &e);
    CHECK(r == NULL && e.code == ST_ERR_FORMAT && strstr(e.msg, "garbage.parquet"));
    pq_reader_close(r);
    /* footer length pointing before the start */
    memcpy(g.data, file.data, file.len);
    flen = 0x7FFFFFF0;
    memcpy(g.data + g.len - 8, &flen, 4);
    r = pq_reader_open_mem(g.data, g.len, "long.parquet", &e);
    CHECK(r == NULL && e.code == ST_ERR_FORMAT && strstr(e.msg, "long.parquet"));
    /* encrypted footer magic */
    memcpy(g.data, file.data, file.len);
    memcpy(g.data + g.len - 4, "PARE", 4);
    r = pq_reader_open_mem(g.data, g.len, "enc.parquet", &e);
    CHECK(r == NULL && e.code == ST_ERR_UNSUPPORTED && strstr(e.msg, "encrypted"));
    /* missing file */
    r = open_r("/nonexistent/x.parquet", &e);
    CHECK(r == NULL && e.code == ST_ERR_NOTFOUND && strstr(e.msg, "/nonexistent/x.parquet"));

    /* truncated files: every length must fail with FORMAT (sampled) */
    int all = 1;
    for (size_t cut = 0; cut < file.len; cut += 1 + cut / 16) {
        r = pq_reader_open_mem(file.data, cut, "cut.parquet", &e);
        all &= r == NULL && e.code == ST_ERR_FORMAT && strstr(e.msg, "cut.parquet") != NULL;
        pq_reader_close(r);
    }
    CHECK(all);

    /* random byte flips anywhere: open and decode everything; errors are fine, crashes are not */
    int opened = 0, failed = 0;
    for (int trial = 0; trial < 400; trial++) {
        memcpy(g.data, file.data, file.len);
        int flips = 1 + (int)(next_rand() % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = trial % 2 ? g.len - 9 - next_rand() % 400 : next_rand() % g.len;
            if (at >= g.len) at = g.len / 2;
            g.data[at] ^= (uint8_t)(1u << (next_rand() % 8));
        }
        r = pq_reader_open_mem(g.data, g.len, "flip.parquet", &e);
        if (!r) {
            failed++;
            CHECK(e.code == ST_ERR_FORMAT || e.code == ST_ERR_UNSUPPORTED);
            continue;
        }
        opened++;
        for (int rg = 0; rg < pq_reader_num_row_groups(r); rg++)
            for (int l = 0; l < pq_reader_num_leaves(r); l++) {
                pq_column_data d;
                if (pq_reader_read_column(r, rg, l, &d, &e) == ST_OK) pq_column_data_free(&d);
                else CHECK(strstr(e.msg, "flip.parquet") != NULL);
            }
        pq_reader_close(r);
    }
    CHECK(opened + failed == 400);
    st_buf_free(&g);
    st_buf_free(&file);
    free(path);
    free(fd);
}

static void test_edge_files(const char *dir)
{
    st_err e;
    char *path = st_path_join(dir, "empty.parquet");
    /* zero rows */
    pq_writer *w = open_w(path, flat_schema, 8, NULL, &e);
    pq_file_info info;
    CHECK(w && pq_writer_close(w, &info, &e) == ST_OK);
    CHECK(info.num_rows == 0 && info.num_row_groups == 0 && !info.columns[5].has_min_max);
    pq_file_info_free(&info);
    pq_reader *r = open_r(path, &e);
    CHECK(r && pq_reader_num_rows(r) == 0 && pq_reader_num_row_groups(r) == 0);
    pq_reader_close(r);
    /* all-null optional column */
    int16_t def[3] = {0, 0, 0};
    pq_schema_node f[] = {{.name = "s", .repetition = PQ_OPTIONAL, .physical = PQ_BYTE_ARRAY,
                           .logical = PQ_LOGICAL_STRING}};
    pq_column_batch c = {.num_levels = 3, .num_values = 0, .def_levels = def};
    w = open_w(path, f, 1, NULL, &e);
    CHECK(w && pq_writer_write(w, 3, &c, &e) == ST_OK && pq_writer_close(w, &info, &e) == ST_OK);
    CHECK(info.columns[0].null_count == 3 && !info.columns[0].has_min_max);
    pq_file_info_free(&info);
    r = open_r(path, &e);
    pq_column_data d;
    CHECK(r && pq_reader_read_column(r, 0, 0, &d, &e) == ST_OK && d.num_levels == 3 && d.num_values == 0);
    pq_column_data_free(&d);
    pq_reader_close(r);
    /* mostly-unique values: dictionary dropped early for PLAIN, values intact */
    {
        size_t n = 30000;
        int64_t *v = st_xmalloc(n * 8);
        for (size_t i = 0; i < n; i++) v[i] = (int64_t)(i * 2654435761u) - 5;
        pq_schema_node fi[] = {{.name = "u", .repetition = PQ_REQUIRED, .physical = PQ_INT64}};
        pq_column_batch cb = {.num_levels = n, .num_values = n, .values.i64 = v};
        w = open_w(path, fi, 1, NULL, &e);
        CHECK(w && pq_writer_write(w, n, &cb, &e) == ST_OK && pq_writer_close(w, NULL, &e) == ST_OK);
        r = open_r(path, &e);
        pq_chunk_info ci;
        CHECK(r && pq_reader_chunk_info(r, 0, 0, &ci, &e) == ST_OK);
        CHECK((ci.encodings & (1u << 0)) && (ci.encodings & (1u << 8)));   /* PLAIN and RLE_DICTIONARY */
        CHECK(ci.total_uncompressed < (int64_t)(n * 8 + n * 8 / 4));        /* not dictionary + indices for all */
        CHECK(r && pq_reader_read_column(r, 0, 0, &d, &e) == ST_OK && d.num_values == n &&
              !memcmp(d.values.i64, v, n * 8));
        pq_column_data_free(&d);
        pq_reader_close(r);
        free(v);
    }
    /* bad arguments */
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.codec = PQ_CODEC_BROTLI;
    CHECK(open_w(path, f, 1, &o, &e) == NULL && e.code == ST_ERR_ARG);
    char *bad = st_path_join(dir, "bad.parquet");
    CHECK(open_w(bad, f, 1, &o, &e) == NULL && e.code == ST_ERR_ARG && strstr(e.msg, "bad.parquet"));
    CHECK(!st_path_exists(bad));                           /* nothing left by a refused open */
    char *under = st_path_join(path, "x.parquet");         /* a folder that is a file */
    CHECK(open_w(under, f, 1, NULL, &e) == NULL && strstr(e.msg, under));
    free(under);
    pq_schema_node badg[] = {{.name = "g", .num_children = 2}, {.name = "x", .physical = PQ_INT32}};
    CHECK(open_w(bad, badg, 2, NULL, &e) == NULL && e.code != ST_OK);
    CHECK(!st_path_exists(bad));
    free(bad);
    /* FIXED_LEN_BYTE_ARRAY and INT96 columns: PLAIN, read back byte for byte */
    {
        pq_schema_node fx[] = {
            {.name = "fl", .repetition = PQ_OPTIONAL, .physical = PQ_FIXED_LEN_BYTE_ARRAY, .type_length = 5},
            {.name = "i96", .repetition = PQ_REQUIRED, .physical = PQ_INT96},
        };
        uint8_t raw[4][12];
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 12; k++) raw[i][k] = (uint8_t)(i * 31 + k);
        pq_bytes fl[3] = {{raw[0], 5}, {raw[1], 5}, {raw[2], 5}}, i96v[4] = {{raw[0], 12}, {raw[1], 12}, {raw[2], 12}, {raw[3], 12}};
        int16_t fd2[4] = {1, 0, 1, 1};
        pq_column_batch cb[2] = {{.num_levels = 4, .num_values = 3, .def_levels = fd2, .values.bytes = fl},
                                 {.num_levels = 4, .num_values = 4, .values.bytes = i96v}};
        w = open_w(path, fx, 2, NULL, &e);
        CHECK(w && pq_writer_write(w, 4, cb, &e) == ST_OK && pq_writer_close(w, NULL, &e) == ST_OK);
        r = open_r(path, &e);
        pq_column_data d0, d1;
        CHECK(r && pq_reader_read_column(r, 0, 0, &d0, &e) == ST_OK && pq_reader_read_column(r, 0, 1, &d1, &e) == ST_OK);
        CHECK(d0.num_values == 3 && d0.values.bytes[2].len == 5 && !memcmp(d0.values.bytes[2].ptr, raw[2], 5));
        CHECK(d1.num_values == 4 && d1.values.bytes[3].len == 12 && !memcmp(d1.values.bytes[3].ptr, raw[3], 12));
        pq_column_data_free(&d0);
        pq_column_data_free(&d1);
        pq_reader_close(r);
    }
    /* INT96: Julian day 2440588 = 1970-01-01; nanos of day */
    uint8_t i96[12];
    int64_t nanos = 1500;
    int32_t jd = 2440587;   /* 1969-12-31 */
    memcpy(i96, &nanos, 8);
    memcpy(i96 + 8, &jd, 4);
    CHECK(pq_int96_to_micros(i96) == -86400000000LL + 1);
    pq_writer_abort(NULL);
    pq_reader_close(NULL);
    pq_column_data_free(NULL);
    free(path);
}

int main(void)
{
    char tmpl[] = "/tmp/test_parquet.XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) return 1;
    test_thrift();
    test_rle();
    test_delta_binary_packed();
    test_flat_roundtrip(dir);
    test_nested(dir);
    test_edge_files(dir);
    test_damage(dir);
    st_remove_tree(dir, NULL);
    return CHECK_DONE();
}
