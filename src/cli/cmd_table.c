/* cmd_table.c — `smarttech table info PATH [--version N] [--json] [--no-checkpoint]`:
 * what a Delta table holds at a version (schema, partitioning, files, rows, bytes,
 * txn versions, last commit time). Thin: the Delta module does the work. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "delta/delta.h"
#include "util/timeutil.h"

/* Help text. */
static void usage(FILE *f)
{
    fprintf(f,
            "usage: smarttech table info PATH [--version N] [--json] [--no-checkpoint]\n"
            "  Prints a Delta table's version, schema, partition columns, file/row/byte counts,\n"
            "  txn (appId -> version) entries and last commit time.\n"
            "  --version N        the table as of version N (default: latest)\n"
            "  --json             one JSON object instead of text\n"
            "  --no-checkpoint    replay every JSON commit instead of starting from a checkpoint\n");
}

/* Everything `table info` reports, as one JSON object (also the text source). */
static json_t *info_json(const char *path, const delta_snapshot *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "version", json_integer(delta_snapshot_version(s)));
    int64_t cp = delta_snapshot_checkpoint_version(s);
    json_object_set_new(o, "checkpoint_version", cp >= 0 ? json_integer(cp) : json_null());
    json_object_set_new(o, "id", json_string(delta_snapshot_table_id(s)));
    const char *nm = delta_snapshot_table_name(s);
    json_object_set_new(o, "name", nm ? json_string(nm) : json_null());
    json_object_set_new(o, "protocol", json_pack("{s:i, s:i}", "minReaderVersion", delta_snapshot_min_reader_version(s),
                                                 "minWriterVersion", delta_snapshot_min_writer_version(s)));
    json_t *fields = json_array();
    const delta_schema *sc = delta_snapshot_schema(s);
    for (size_t i = 0; i < delta_schema_num_fields(sc); i++)
        json_array_append_new(fields, json_pack("{s:s, s:s, s:b}", "name", delta_schema_field_name(sc, i), "type",
                                                delta_schema_field_type_json(sc, i), "nullable",
                                                delta_schema_field_nullable(sc, i)));
    json_object_set_new(o, "schema", fields);
    json_t *pc = json_array();
    for (size_t i = 0; i < delta_snapshot_num_partition_columns(s); i++)
        json_array_append_new(pc, json_string(delta_snapshot_partition_column(s, i)));
    json_object_set_new(o, "partition_columns", pc);
    json_object_set_new(o, "num_files", json_integer((json_int_t)delta_snapshot_num_files(s)));
    int64_t rows = delta_snapshot_total_records(s);
    json_object_set_new(o, "num_rows", rows >= 0 ? json_integer(rows) : json_null());
    json_object_set_new(o, "size_bytes", json_integer(delta_snapshot_total_bytes(s)));
    json_t *txns = json_object();
    for (size_t i = 0; i < delta_snapshot_num_txns(s); i++) {
        const delta_txn *t = delta_snapshot_txn(s, i);
        json_object_set_new(txns, t->app_id, json_integer(t->version));
    }
    json_object_set_new(o, "txns", txns);
    int64_t ms = delta_snapshot_last_commit_ms(s);
    char buf[48];
    if (ms >= 0) st_format_iso_us(ms * 1000, buf, sizeof buf, 1);
    json_object_set_new(o, "last_commit_ms", ms >= 0 ? json_integer(ms) : json_null());
    json_object_set_new(o, "last_commit_time", ms >= 0 ? json_string(buf) : json_null());
    int64_t ct = delta_snapshot_created_time(s);
    json_object_set_new(o, "created_time_ms", ct >= 0 ? json_integer(ct) : json_null());
    return o;
}

/* Human-readable form of info_json. */
static void print_text(json_t *o)
{
    printf("table            %s\n", json_string_value(json_object_get(o, "path")));
    printf("version          %lld", (long long)json_integer_value(json_object_get(o, "version")));
    if (json_is_integer(json_object_get(o, "checkpoint_version")))
        printf("  (from checkpoint %lld)", (long long)json_integer_value(json_object_get(o, "checkpoint_version")));
    printf("\nid               %s\n", json_string_value(json_object_get(o, "id")));
    if (json_is_string(json_object_get(o, "name"))) printf("name             %s\n", json_string_value(json_object_get(o, "name")));
    json_t *p = json_object_get(o, "protocol");
    printf("protocol         reader %lld, writer %lld\n", (long long)json_integer_value(json_object_get(p, "minReaderVersion")),
           (long long)json_integer_value(json_object_get(p, "minWriterVersion")));
    printf("schema\n");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(o, "schema"), i, f) {
        printf("  %-22s %-12s %s\n", json_string_value(json_object_get(f, "name")),
               json_string_value(json_object_get(f, "type")),
               json_is_true(json_object_get(f, "nullable")) ? "nullable" : "not null");
    }
    printf("partition by     ");
    json_t *pc = json_object_get(o, "partition_columns");
    if (!json_array_size(pc)) printf("(none)");
    json_array_foreach(pc, i, f) printf("%s%s", i ? ", " : "", json_string_value(f));
    printf("\nfiles            %lld\n", (long long)json_integer_value(json_object_get(o, "num_files")));
    if (json_is_integer(json_object_get(o, "num_rows")))
        printf("rows             %lld\n", (long long)json_integer_value(json_object_get(o, "num_rows")));
    else
        printf("rows             unknown (files without stats)\n");
    printf("bytes            %lld\n", (long long)json_integer_value(json_object_get(o, "size_bytes")));
    json_t *txns = json_object_get(o, "txns");
    printf("txns             %zu\n", json_object_size(txns));
    const char *k;
    json_t *v;
    json_object_foreach(txns, k, v) printf("  %-40s %lld\n", k, (long long)json_integer_value(v));
    json_t *lc = json_object_get(o, "last_commit_time");
    printf("last commit      %s\n", json_is_string(lc) ? json_string_value(lc) : "unknown");
}

/* Entry point: parse options, load the snapshot, print. Exit 0/1/2. */
int cmd_table(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "info") != 0) {
        fprintf(stderr, "smarttech table: unknown action '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    const char *path = NULL;
    int as_json = 0;
    delta_load_options o;
    delta_load_options_init(&o);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--no-checkpoint"))
            o.ignore_checkpoints = 1;
        else if (!strcmp(argv[i], "--version") && i + 1 < argc) {
            char *end;
            o.version = strtoll(argv[++i], &end, 10);
            if (*end || o.version < 0) {
                fprintf(stderr, "smarttech table info: --version wants a non-negative number, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "smarttech table info: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    st_err e;
    delta_snapshot *s = delta_snapshot_load_opts(path, &o, &e);
    if (!s) {
        fprintf(stderr, "smarttech table info: %s\n", e.msg);
        return 1;
    }
    json_t *j = info_json(path, s);
    if (as_json) {
        char *txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", txt);
        free(txt);
    } else {
        print_text(j);
    }
    json_decref(j);
    delta_snapshot_destroy(s);
    return 0;
}
