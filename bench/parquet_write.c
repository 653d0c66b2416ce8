/* parquet_write.c — benchmark driver: writes N rows of the Silver schema (README.md, Tables)
 * with our Parquet writer and prints one JSON object with the timing.
 *
 * usage: bench_parquet_write OUT.parquet [--rows N] [--codec snappy|zstd|none]
 * Rows are generated in batches of 65,536 (deterministic, realistic cardinalities:
 * 3,000 sensors, unique event ids, 0.1-resolution readings, 10% null battery);
 * only pq_writer_write and pq_writer_close (footer + fsync) are timed.
 * Built and run by bench/parquet_write.sh.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet/parquet.h"
#include "util/buf.h"

#define BATCH 65536

static const pq_schema_node silver[] = {
    {.name = "event_id", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "sensor_id", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "building_id", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "floor", .repetition = PQ_REQUIRED, .physical = PQ_INT32},
    {.name = "room_id", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "sensor_type", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "value", .repetition = PQ_REQUIRED, .physical = PQ_DOUBLE},
    {.name = "unit", .repetition = PQ_REQUIRED, .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING},
    {.name = "event_time", .repetition = PQ_REQUIRED, .physical = PQ_INT64, .logical = PQ_LOGICAL_TIMESTAMP_MICROS},
    {.name = "event_date", .repetition = PQ_REQUIRED, .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE},
    {.name = "seq", .repetition = PQ_REQUIRED, .physical = PQ_INT64},
    {.name = "battery_pct", .repetition = PQ_OPTIONAL, .physical = PQ_DOUBLE},
    {.name = "ingest_time", .repetition = PQ_REQUIRED, .physical = PQ_INT64, .logical = PQ_LOGICAL_TIMESTAMP_MICROS},
};
#define NC 13

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT.parquet [--rows N] [--codec snappy|zstd|none]\n", argv[0]);
        return 2;
    }
    const char *out = argv[1];
    int64_t total = 10000000;
    pq_writer_options o;
    pq_writer_options_init(&o);
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows")) total = strtoll(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--codec"))
            o.codec = !strcmp(argv[i + 1], "zstd") ? PQ_CODEC_ZSTD
                    : !strcmp(argv[i + 1], "none") ? PQ_CODEC_UNCOMPRESSED : PQ_CODEC_SNAPPY;
    }
    static const char *types[] = {"temperature", "humidity", "co2"};
    static const char *units[] = {"C", "%", "ppm"};
    enum { NSENSORS = 3000 };
    /* sensor dimension: 20 buildings x 5 floors x 10 rooms x 3 types */
    char (*sid)[32] = malloc(sizeof(*sid) * NSENSORS);
    char bid[20][8], rid[10][8];
    int64_t *seqs = calloc(NSENSORS, sizeof(int64_t));
    for (int b = 0; b < 20; b++) snprintf(bid[b], 8, "b%02d", b + 1);
    for (int r = 0; r < 10; r++) snprintf(rid[r], 8, "r%02d", r + 1);
    for (int s = 0; s < NSENSORS; s++)
        snprintf(sid[s], 32, "b%02d-f%d-r%02d-%s-1", s / 150 + 1, (s / 30) % 5, (s / 3) % 10 + 1,
                 types[s % 3][0] == 't' ? "temp" : types[s % 3][0] == 'h' ? "hum" : "co2");

    pq_bytes *eid = malloc(sizeof(pq_bytes) * BATCH), *sens = malloc(sizeof(pq_bytes) * BATCH),
             *bld = malloc(sizeof(pq_bytes) * BATCH), *room = malloc(sizeof(pq_bytes) * BATCH),
             *typ = malloc(sizeof(pq_bytes) * BATCH), *unit = malloc(sizeof(pq_bytes) * BATCH);
    int32_t *floor_ = malloc(4 * BATCH), *edate = malloc(4 * BATCH);
    double *val = malloc(8 * BATCH), *bat = malloc(8 * BATCH);
    int64_t *etime = malloc(8 * BATCH), *seq = malloc(8 * BATCH), *itime = malloc(8 * BATCH);
    int16_t *bdef = malloc(2 * BATCH);
    char *eidbuf = malloc((size_t)BATCH * 48);

    st_err e;
    double t0 = now_s(), c0 = cpu_s(), timed = 0, cpu = 0, input_bytes = 0;
    st_sink *sink;
    pq_writer *w = st_sink_open_uri(out, ST_SINK_REPLACE, &sink, &e) ? NULL : pq_writer_open(sink, silver, NC, &o, &e);
    if (!w) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    timed += now_s() - t0;
    cpu += cpu_s() - c0;
    int64_t base_us = 1764151200000000LL;   /* 2025-11-26T10:00:00Z */
    for (int64_t done = 0; done < total;) {
        size_t n = (size_t)(total - done < BATCH ? total - done : BATCH);
        size_t nb = 0;
        char *p = eidbuf;
        for (size_t i = 0; i < n; i++) {
            int64_t row = done + (int64_t)i;
            int s = (int)(rnd() % NSENSORS);
            int t = s % 3;
            int64_t sq = ++seqs[s];
            int len = snprintf(p, 48, "%s:%" PRId64, sid[s], sq);
            eid[i] = (pq_bytes){(const uint8_t *)p, (uint32_t)len};
            p += len;
            sens[i] = (pq_bytes){(const uint8_t *)sid[s], (uint32_t)strlen(sid[s])};
            bld[i] = (pq_bytes){(const uint8_t *)bid[s / 150], 3};
            room[i] = (pq_bytes){(const uint8_t *)rid[(s / 3) % 10], 3};
            typ[i] = (pq_bytes){(const uint8_t *)types[t], (uint32_t)strlen(types[t])};
            unit[i] = (pq_bytes){(const uint8_t *)units[t], (uint32_t)strlen(units[t])};
            floor_[i] = (s / 30) % 5;
            double base = t == 0 ? 21.0 : t == 1 ? 45.0 : 600.0;
            double spread = t == 0 ? 4.0 : t == 1 ? 15.0 : 300.0;
            val[i] = (double)(int64_t)((base + spread * ((double)(rnd() % 2001) / 1000.0 - 1.0)) * 10) / 10.0;
            etime[i] = base_us + row * 1000 + (int64_t)(rnd() % 5000000) - 2500000;
            edate[i] = (int32_t)(etime[i] / 86400000000LL);
            seq[i] = sq;
            itime[i] = etime[i] + 50000 + (int64_t)(rnd() % 2000000);
            bdef[i] = rnd() % 10 != 0;
            if (bdef[i]) bat[nb++] = (double)(int64_t)(1000 - (double)(sq % 900)) / 10.0;
            input_bytes += eid[i].len + sens[i].len + 3 + 4 + 3 + typ[i].len + 8 + unit[i].len + 8 + 4 + 8 +
                           (bdef[i] ? 8 : 0) + 8;
        }
        pq_column_batch c[NC] = {
            {.num_levels = n, .num_values = n, .values.bytes = eid},
            {.num_levels = n, .num_values = n, .values.bytes = sens},
            {.num_levels = n, .num_values = n, .values.bytes = bld},
            {.num_levels = n, .num_values = n, .values.i32 = floor_},
            {.num_levels = n, .num_values = n, .values.bytes = room},
            {.num_levels = n, .num_values = n, .values.bytes = typ},
            {.num_levels = n, .num_values = n, .values.f64 = val},
            {.num_levels = n, .num_values = n, .values.bytes = unit},
            {.num_levels = n, .num_values = n, .values.i64 = etime},
            {.num_levels = n, .num_values = n, .values.i32 = edate},
            {.num_levels = n, .num_values = n, .values.i64 = seq},
            {.num_levels = n, .num_values = nb, .def_levels = bdef, .values.f64 = bat},
            {.num_levels = n, .num_values = n, .values.i64 = itime},
        };
        double t1 = now_s(), c1 = cpu_s();
        if (pq_writer_write(w, n, c, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            pq_writer_abort(w);
            return 1;
        }
        timed += now_s() - t1;
        cpu += cpu_s() - c1;
        done += (int64_t)n;
    }
    double t2 = now_s(), c2 = cpu_s();
    pq_file_info info;
    if (pq_writer_close(w, &info, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    timed += now_s() - t2;
    cpu += cpu_s() - c2;
    printf("{\"rows\":%" PRId64 ",\"seconds\":%.4f,\"cpu_seconds\":%.4f,\"file_bytes\":%" PRId64 ",\"input_bytes\":%.0f,"
           "\"row_groups\":%d,\"rows_per_s\":%.0f,\"input_mb_per_s\":%.2f}\n",
           info.num_rows, timed, cpu, info.file_size, input_bytes, info.num_row_groups, (double)info.num_rows / timed,
           input_bytes / timed / 1e6);
    pq_file_info_free(&info);
    free(sid), free(seqs), free(eid), free(sens), free(bld), free(room), free(typ), free(unit);
    free(floor_), free(edate), free(val), free(bat), free(etime), free(seq), free(itime), free(bdef), free(eidbuf);
    return 0;
}
