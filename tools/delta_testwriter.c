/* delta_testwriter — test driver for the Delta module (integration tests).
 *
 *   delta_testwriter create PATH [--unpartitioned | --partition-by-sensor]
 *   delta_testwriter append PATH --commits N --rows R [--start-id K] [--app APPID]
 *                    [--emit FILE] [--checkpoint-interval N] [--codec snappy|zstd|none]
 *                    [--odd-sensors]   (sensor ids with spaces, '/', ':', '%', '=', non-ASCII)
 *   delta_testwriter snapshot PATH [--version V] [--no-checkpoint]
 *   delta_testwriter delete-date PATH YYYY-MM-DD   (one commit removing that partition's files)
 *
 * Rows are a deterministic function of their id (see make_row), partitioned by
 * event_date; --emit appends every committed row as one JSON line so tests can
 * compare what readers return. `append` commits one version per batch with a txn
 * (APPID -> batch number) when --app is given, retrying on conflicts. `snapshot`
 * prints our canonical snapshot JSON (from checkpoint + JSON, or JSON only). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define BASE_TS 1795600000123000LL /* 2026-11-25T09:46:40.123Z */
#define DAY0 20600                 /* 2026-05-27 */

/* SIGTERM ends `append` after the commit in progress and its --emit lines: a test that stops the
 * writer then finds every committed row recorded (SIGKILL could land between the two). */
static volatile sig_atomic_t stop_requested;
static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static delta_schema *schema(void)
{
    delta_schema *s = delta_schema_new();
    delta_schema_add(s, "event_id", DELTA_TYPE_STRING, 0, NULL);
    delta_schema_add(s, "sensor_id", DELTA_TYPE_STRING, 1, NULL);
    delta_schema_add(s, "value", DELTA_TYPE_DOUBLE, 1, NULL);
    delta_schema_add(s, "seq", DELTA_TYPE_LONG, 0, NULL);
    delta_schema_add(s, "floor", DELTA_TYPE_INTEGER, 1, NULL);
    delta_schema_add(s, "ok", DELTA_TYPE_BOOLEAN, 1, NULL);
    delta_schema_add(s, "event_time", DELTA_TYPE_TIMESTAMP, 1, NULL);
    delta_schema_add(s, "event_date", DELTA_TYPE_DATE, 0, NULL);
    return s;
}

static int odd_sensors;
/* Partition values that need Hive escaping in folder names and URI encoding in the log. */
static const char *const odd[] = {"s 0", "a/b:c", "100%", "\xc3\xa9=\xc3\xbc", "x#y?z"};

/* One row: appended to the batch and, when emit is set, as a JSON line. */
static void make_row(delta_batch *b, int64_t id, st_buf *emit)
{
    char eid[32], sid[32], ts[48], d[16];
    int el = snprintf(eid, sizeof eid, "e-%06lld", (long long)id);
    int sl = odd_sensors ? snprintf(sid, sizeof sid, "%s", odd[id % 5])
                         : snprintf(sid, sizeof sid, "s-%lld", (long long)(id % 7));
    int sid_null = id % 11 == 5, val_null = id % 13 == 7, floor_null = id % 9 == 4, ts_null = id % 17 == 3;
    double value = (double)id * 0.25 - 10.0;
    int64_t seq = id * 1000003LL - 500000000LL;
    int32_t floor = (int32_t)(id % 5) - 2;
    int ok = id % 3 == 0;
    int64_t et = BASE_TS + id * 1234567LL;
    int32_t day = DAY0 + (int32_t)(id % 3);
    delta_batch_append_string(b, 0, eid, (size_t)el);
    if (sid_null) delta_batch_append_null(b, 1); else delta_batch_append_string(b, 1, sid, (size_t)sl);
    if (val_null) delta_batch_append_null(b, 2); else delta_batch_append_double(b, 2, value);
    delta_batch_append_long(b, 3, seq);
    if (floor_null) delta_batch_append_null(b, 4); else delta_batch_append_int(b, 4, floor);
    delta_batch_append_bool(b, 5, ok);
    if (ts_null) delta_batch_append_null(b, 6); else delta_batch_append_long(b, 6, et);
    delta_batch_append_int(b, 7, day);
    if (!emit) return;
    st_format_iso_us(et, ts, sizeof ts, 0);
    st_format_date(day, d, sizeof d);
    st_buf_printf(emit, "{\"event_id\":\"%s\",\"sensor_id\":", eid);
    if (sid_null) st_buf_append_str(emit, "null"); else st_buf_printf(emit, "\"%s\"", sid);
    st_buf_append_str(emit, ",\"value\":");
    if (val_null) st_buf_append_str(emit, "null"); else st_buf_printf(emit, "%.17g", value);
    st_buf_printf(emit, ",\"seq\":%lld,\"floor\":", (long long)seq);
    if (floor_null) st_buf_append_str(emit, "null"); else st_buf_printf(emit, "%d", floor);
    st_buf_printf(emit, ",\"ok\":%s,\"event_time_us\":", ok ? "true" : "false");
    if (ts_null) st_buf_append_str(emit, "null"); else st_buf_printf(emit, "%lld", (long long)et);
    st_buf_printf(emit, ",\"event_date\":\"%s\"}\n", d);
}

static int usage(void)
{
    fprintf(stderr, "usage: delta_testwriter create|append|snapshot PATH [options] (see source)\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    const char *cmd = argv[1], *path = argv[2];
    long commits = 1, rows = 10, start = 0, version = -1, interval = 10;
    const char *app = NULL, *emit_path = NULL, *codec = "snappy";
    int unpartitioned = 0, no_cp = 0, by_sensor = 0;
    for (int i = strcmp(cmd, "delete-date") ? 3 : 4; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--commits") && v) commits = atol(argv[++i]);
        else if (!strcmp(a, "--rows") && v) rows = atol(argv[++i]);
        else if (!strcmp(a, "--start-id") && v) start = atol(argv[++i]);
        else if (!strcmp(a, "--app") && v) app = argv[++i];
        else if (!strcmp(a, "--emit") && v) emit_path = argv[++i];
        else if (!strcmp(a, "--version") && v) version = atol(argv[++i]);
        else if (!strcmp(a, "--checkpoint-interval") && v) interval = atol(argv[++i]);
        else if (!strcmp(a, "--codec") && v) codec = argv[++i];
        else if (!strcmp(a, "--unpartitioned")) unpartitioned = 1;
        else if (!strcmp(a, "--partition-by-sensor")) by_sensor = 1;
        else if (!strcmp(a, "--odd-sensors")) odd_sensors = 1;
        else if (!strcmp(a, "--no-checkpoint")) no_cp = 1;
        else return usage();
    }
    st_err e;
    delta_table_options opt;
    delta_table_options_init(&opt);
    opt.checkpoint_interval = (int)interval;
    opt.codec = !strcmp(codec, "zstd") ? PQ_CODEC_ZSTD : !strcmp(codec, "none") ? PQ_CODEC_UNCOMPRESSED : PQ_CODEC_SNAPPY;

    if (!strcmp(cmd, "create")) {
        delta_schema *s = schema();
        const char *pc[] = {by_sensor ? "sensor_id" : "event_date"};
        delta_table *t = delta_table_create(path, s, pc, unpartitioned ? 0 : 1, "testtable", &opt, &e);
        delta_schema_destroy(s);
        if (!t) {
            fprintf(stderr, "create: %s\n", e.msg);
            return 1;
        }
        printf("%lld\n", (long long)delta_table_version(t));
        delta_table_destroy(t);
        return 0;
    }
    if (!strcmp(cmd, "snapshot")) {
        delta_load_options o;
        delta_load_options_init(&o);
        o.version = version;
        o.ignore_checkpoints = no_cp;
        delta_snapshot *s = delta_snapshot_load_opts(path, &o, &e);
        if (!s) {
            fprintf(stderr, "snapshot: %s\n", e.msg);
            return 1;
        }
        char *j = delta_snapshot_state_json(s);
        printf("{\"checkpoint_version\":%lld,\"state\":%s}\n", (long long)delta_snapshot_checkpoint_version(s), j);
        free(j);
        delta_snapshot_destroy(s);
        return 0;
    }
    if (!strcmp(cmd, "delete-date")) {
        if (argc != 4) return usage();
        delta_table *t = delta_table_open(path, &opt, &e);
        if (!t) {
            fprintf(stderr, "delete-date: %s\n", e.msg);
            return 1;
        }
        const delta_snapshot *s = delta_table_snapshot(t);
        delta_file_list rm = {0};
        for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
            const char *v = delta_file_partition_value(delta_snapshot_file(s, i), "event_date", NULL);
            if (v && !strcmp(v, argv[3])) delta_file_list_append_copy(&rm, delta_snapshot_file(s, i));
        }
        delta_commit_params p = {NULL, 0, NULL, 0, "DELETE", NULL, NULL};
        int64_t v = -1;
        int rc = delta_table_commit_with_removes(t, &p, rm.items, rm.count, 0, &v, &e) ? 1 : 0;
        if (rc)
            fprintf(stderr, "delete-date: %s\n", e.msg);
        else
            printf("%lld %zu\n", (long long)v, rm.count);
        delta_file_list_free(&rm);
        delta_table_destroy(t);
        return rc;
    }
    if (strcmp(cmd, "append")) return usage();

    delta_table *t = delta_table_open(path, &opt, &e);
    if (!t) {
        fprintf(stderr, "append: %s\n", e.msg);
        return 1;
    }
    FILE *emit = emit_path ? fopen(emit_path, "a") : NULL;
    if (emit_path && !emit) {
        perror(emit_path);
        delta_table_destroy(t);
        return 1;
    }
    delta_batch *b = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(t)));
    st_buf out = {0};
    int rc = 0;
    int64_t id = start;
    signal(SIGTERM, on_term);
    for (long c = 0; c < commits && !rc && !stop_requested; c++) {
        delta_batch_clear(b);
        st_buf_reset(&out);
        for (long r = 0; r < rows; r++) make_row(b, id++, emit ? &out : NULL);
        delta_file_list adds = {0};
        if (delta_table_write_files(t, b, &adds, &e)) {
            fprintf(stderr, "append: %s\n", e.msg);
            rc = 1;
        } else {
            delta_txn txn = {app, c + 1, 0};
            delta_commit_params p = {adds.items, adds.count, app ? &txn : NULL, app ? 1 : 0, "WRITE", NULL, NULL};
            int64_t v;
            if (delta_table_commit(t, &p, &v, &e)) {
                fprintf(stderr, "append: %s\n", e.msg);
                rc = 1;
            } else if (emit) {
                fwrite(out.data, 1, out.len, emit);
                fflush(emit);
            }
            if (delta_table_last_warning(t)) fprintf(stderr, "warning: %s\n", delta_table_last_warning(t));
        }
        delta_file_list_free(&adds);
    }
    if (!rc) printf("%lld\n", (long long)delta_table_version(t));
    st_buf_free(&out);
    if (emit) fclose(emit);
    delta_batch_destroy(b);
    delta_table_destroy(t);
    return rc;
}
