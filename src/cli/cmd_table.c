/* cmd_table.c — `smarttech table info PATH [--version N] [--json] [--no-checkpoint]`:
 * what a Delta table holds at a version (schema, partitioning, files, rows, bytes,
 * txn versions, last commit time); `table optimize` (small-file compaction) and
 * `table vacuum` (delete unreferenced old files), see docs/maintenance.md.
 * Thin: the Delta module does the work. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
            "  --no-checkpoint    replay every JSON commit instead of starting from a checkpoint\n"
            "usage: smarttech table optimize PATH [--target-size 128MB] [--min-files 2]\n"
            "                                [--partition COL=VALUE]... [--max-attempts 5] [--json]\n"
            "  Compacts small files: per partition, files below the target size are rewritten\n"
            "  into files of about the target size, committed as ONE version (operation OPTIMIZE,\n"
            "  dataChange=false: rows are unchanged). Safe while writers append.\n"
            "  --partition COL=   selects the null partition (so does COL=__HIVE_DEFAULT_PARTITION__)\n"
            "usage: smarttech table vacuum PATH [--retain 168h] [--dry-run] [--force] [--log]\n"
            "                              [--log-retain 30d] [--json]\n"
            "  Deletes data files the latest version no longer references once removed (or, for\n"
            "  never-committed files, written) longer ago than the retention (default: the table's\n"
            "  delta.deletedFileRetentionDuration, else 7 days). Below 1h only with --force.\n"
            "  --log also deletes _delta_log files older than delta.logRetentionDuration (30 days)\n"
            "  that precede a checkpoint at least that old. Older versions stop being readable.\n");
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

/* Parses a size: bytes, or a number with k/kb/kib, m/mb/mib, g/gb/gib (all powers of
 * 1024, as Spark's 128MB / 1GB settings). Returns 0 on success. */
static int parse_size(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0)) return -1;
    double m = 1;
    if (!*end || !strcasecmp(end, "b")) m = 1;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib")) m = 1024.0;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib")) m = 1024.0 * 1024;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib")) m = 1024.0 * 1024 * 1024;
    else return -1;
    if (v * m < 1 || v * m > 9e18) return -1;
    *out = (int64_t)(v * m);
    return 0;
}

/* Prints a JSON object on one line and releases it. */
static void print_json(json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", txt);
    free(txt);
    json_decref(j);
}

/* `table optimize`: options -> delta_table_optimize -> one summary. Exit 0/1/2. */
static int table_optimize(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0;
    delta_optimize_options o;
    delta_optimize_options_init(&o);
    delta_partition_value *where = calloc((size_t)argc, sizeof *where);
    size_t nwhere = 0;
    int rc = 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            as_json = 1;
        } else if (!strcmp(a, "--target-size") && i + 1 < argc) {
            if (parse_size(argv[++i], &o.target_size)) {
                fprintf(stderr, "smarttech table optimize: --target-size wants a size like 128MB, got '%s'\n", argv[i]);
                goto done;
            }
        } else if ((!strcmp(a, "--min-files") || !strcmp(a, "--max-attempts")) && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000000) {
                fprintf(stderr, "smarttech table optimize: %s wants a positive number, got '%s'\n", a, argv[i]);
                goto done;
            }
            if (!strcmp(a, "--min-files")) o.min_files = (int)v;
            else o.max_attempts = (int)v;
        } else if (!strcmp(a, "--partition") && i + 1 < argc) {
            char *eq = strchr(argv[++i], '=');
            if (!eq || eq == argv[i]) {
                fprintf(stderr, "smarttech table optimize: --partition wants COL=VALUE, got '%s'\n", argv[i]);
                goto done;
            }
            *eq = '\0';
            where[nwhere].name = argv[i];
            /* COL= or the Hive spelling selects the null partition */
            where[nwhere].value = eq[1] && strcmp(eq + 1, "__HIVE_DEFAULT_PARTITION__") ? eq + 1 : NULL;
            nwhere++;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rc = 0;
            goto done;
        } else if (a[0] != '-' && !path) {
            path = a;
        } else {
            fprintf(stderr, "smarttech table optimize: unexpected argument '%s'\n", a);
            usage(stderr);
            goto done;
        }
    }
    if (!path) {
        usage(stderr);
        goto done;
    }
    o.where = where;
    o.nwhere = nwhere;
    st_err e;
    delta_optimize_result r;
    if (delta_table_optimize(path, &o, &r, &e)) {
        fprintf(stderr, "smarttech table optimize: %s\n", e.msg);
        rc = 1;
        goto done;
    }
    rc = 0;
    if (as_json) {
        json_t *j = json_object();
        json_object_set_new(j, "path", json_string(path));
        json_object_set_new(j, "version", r.version >= 0 ? json_integer(r.version) : json_null());
        json_object_set_new(j, "read_version", json_integer(r.read_version));
        json_object_set_new(j, "files_considered", json_integer(r.files_considered));
        json_object_set_new(j, "files_removed", json_integer(r.files_removed));
        json_object_set_new(j, "files_added", json_integer(r.files_added));
        json_object_set_new(j, "bytes_removed", json_integer(r.bytes_removed));
        json_object_set_new(j, "bytes_added", json_integer(r.bytes_added));
        json_object_set_new(j, "rows", json_integer(r.rows));
        json_object_set_new(j, "partitions", json_integer(r.partitions));
        json_object_set_new(j, "attempts", json_integer(r.attempts));
        print_json(j);
    } else if (r.version < 0) {
        printf("%s: nothing to optimize at version %lld (%lld files considered)\n", path, (long long)r.read_version,
               (long long)r.files_considered);
    } else {
        printf("%s: version %lld (OPTIMIZE): %lld files (%lld bytes) -> %lld files (%lld bytes), %lld rows, "
               "%lld partition(s)%s\n",
               path, (long long)r.version, (long long)r.files_removed, (long long)r.bytes_removed,
               (long long)r.files_added, (long long)r.bytes_added, (long long)r.rows, (long long)r.partitions,
               r.attempts > 1 ? " (re-planned after a concurrent change)" : "");
    }
done:
    free(where);
    return rc;
}

/* `table vacuum`: options -> delta_table_vacuum -> the list of files. Exit 0/1/2. */
static int table_vacuum(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0;
    delta_vacuum_options o;
    delta_vacuum_options_init(&o);
    st_err e;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json"))
            as_json = 1;
        else if (!strcmp(a, "--dry-run"))
            o.dry_run = 1;
        else if (!strcmp(a, "--force"))
            o.force = 1;
        else if (!strcmp(a, "--log"))
            o.clean_log = 1;
        else if ((!strcmp(a, "--retain") || !strcmp(a, "--log-retain")) && i + 1 < argc) {
            int64_t ms;
            if (delta_parse_interval_ms(argv[++i], &ms, &e)) {
                fprintf(stderr, "smarttech table vacuum: %s: %s\n", a, e.msg);
                return 2;
            }
            if (!strcmp(a, "--retain")) o.retention_ms = ms;
            else o.log_retention_ms = ms;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (a[0] != '-' && !path)
            path = a;
        else {
            fprintf(stderr, "smarttech table vacuum: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    delta_vacuum_result r;
    st_code rc = delta_table_vacuum(path, &o, &r, &e);
    if (rc) {
        fprintf(stderr, "smarttech table vacuum: %s\n", e.msg);
        if (r.nfiles) fprintf(stderr, "smarttech table vacuum: %zu file(s) were deleted before the error\n", r.nfiles);
        delta_vacuum_result_free(&r);
        return rc == ST_ERR_ARG ? 2 : 1;
    }
    if (as_json) {
        json_t *j = json_object();
        json_object_set_new(j, "path", json_string(path));
        json_object_set_new(j, "version", json_integer(r.version));
        json_object_set_new(j, "dry_run", json_boolean(o.dry_run));
        json_object_set_new(j, "retention_ms", json_integer(r.retention_ms));
        json_t *files = json_array();
        for (size_t i = 0; i < r.nfiles; i++) json_array_append_new(files, json_string(r.files[i]));
        json_object_set_new(j, "files", files);
        json_object_set_new(j, "num_files", json_integer((json_int_t)r.nfiles));
        json_object_set_new(j, "bytes", json_integer(r.bytes));
        json_object_set_new(j, "kept_recent", json_integer(r.files_kept_recent));
        json_t *logs = json_array();
        for (size_t i = 0; i < r.nlog_files; i++) json_array_append_new(logs, json_string(r.log_files[i]));
        json_object_set_new(j, "log_files", logs);
        print_json(j);
    } else {
        for (size_t i = 0; i < r.nfiles; i++) printf("%s\n", r.files[i]);
        for (size_t i = 0; i < r.nlog_files; i++) printf("_delta_log/%s\n", r.log_files[i]);
        fprintf(stderr, "%s: %s %zu file(s), %lld bytes (retention %.1fh, version %lld; %lld unreferenced file(s) still "
                        "within the retention)%s\n",
                path, o.dry_run ? "would delete" : "deleted", r.nfiles, (long long)r.bytes,
                (double)r.retention_ms / 3600000.0, (long long)r.version, (long long)r.files_kept_recent,
                r.nlog_files ? "; log files listed with _delta_log/" : "");
    }
    delta_vacuum_result_free(&r);
    return 0;
}

/* Entry point: parse options, load the snapshot, print. Exit 0/1/2. */
int cmd_table(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "optimize")) return table_optimize(argc, argv);
    if (!strcmp(argv[1], "vacuum")) return table_vacuum(argc, argv);
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
