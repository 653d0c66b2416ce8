/* cmd_table.c — `smarttech table info PATH [--version N] [--json] [--no-checkpoint]`:
 * what a Delta table holds at a version (schema, partitioning, files, rows, bytes,
 * txn versions, last commit time); `table optimize` (small-file compaction) and
 * `table vacuum` (delete unreferenced old files), see docs/maintenance.md.
 * Thin: the Delta module does the work. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "delta/delta.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* Everything `table info` reports, as one JSON object (also the text source). */
/* The active files by size (the small-files problem at a glance; what compaction still has to
 * merge is below the default target of 128 MiB): bucket upper bounds, the last open-ended. */
static const struct {
    const char *name;
    int64_t below;
} size_buckets[] = {
    {"under_1MiB", 1LL << 20},
    {"1MiB_to_16MiB", 16LL << 20},
    {"16MiB_to_64MiB", 64LL << 20},
    {"64MiB_to_128MiB", 128LL << 20},
    {"128MiB_and_over", INT64_MAX},
};
#define NBUCKETS (sizeof size_buckets / sizeof size_buckets[0])

static json_t *files_by_size(const delta_snapshot *s)
{
    json_int_t n[NBUCKETS] = {0};
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        int64_t sz = delta_snapshot_file(s, i)->size;
        size_t b = 0;
        while (b + 1 < NBUCKETS && sz >= size_buckets[b].below) b++;
        n[b]++;
    }
    json_t *o = json_object();
    for (size_t b = 0; b < NBUCKETS; b++) json_object_set_new(o, size_buckets[b].name, json_integer(n[b]));
    return o;
}

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
    json_object_set_new(o, "files_by_size", files_by_size(s));
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
    printf("\nfiles            %lld  (", (long long)json_integer_value(json_object_get(o, "num_files")));
    const char *bk;
    json_t *bv;
    int first = 1;
    json_object_foreach(json_object_get(o, "files_by_size"), bk, bv) {
        printf("%s%s %lld", first ? "" : ", ", bk, (long long)json_integer_value(bv));
        first = 0;
    }
    printf(")\n");
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

/* Prints a JSON object on one line and releases it. */
static void print_json(json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", txt);
    free(txt);
    json_decref(j);
}

/* --partition COL=VALUE, repeatable: appended to a where list sized for argc entries. */
typedef struct where_list {
    delta_partition_value *items;
    size_t n;
} where_list;

static st_code parse_partition(const char *arg, void *target, st_err *e)
{
    where_list *w = target;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return st_err_set(e, ST_ERR_ARG, "'%s' is not COL=VALUE", arg);
    delta_partition_value *p = &w->items[w->n++];
    p->name = st_xstrndup(arg, (size_t)(eq - arg));
    /* COL= or the Hive spelling selects the null partition */
    p->value = eq[1] && strcmp(eq + 1, "__HIVE_DEFAULT_PARTITION__") ? st_xstrdup(eq + 1) : NULL;
    return ST_OK;
}

/* `table optimize`: options -> delta_table_optimize -> one summary. Exit 0/1/2. */
static int table_optimize(int argc, char **argv)
{
    int as_json = 0;
    delta_optimize_options o;
    delta_optimize_options_init(&o);
    where_list where = {st_xcalloc((size_t)argc + 1, sizeof *where.items), 0};
    const cli_opt opts[] = {
        CLI_OPT("target-size", 0, CLI_BYTES, &o.target_size, NULL, "size of an output file; bigger files are left alone",
                .min = 1, .max = INT64_MAX),
        CLI_OPT("min-files", 0, CLI_INT, &o.min_files, NULL, "a partition with fewer small files is skipped", .min = 1,
                .max = 1000000),
        CLI_OPT("partition", 0, CLI_CUSTOM, &where, "COL=VALUE",
                "only this partition (repeatable; COL= or COL=__HIVE_DEFAULT_PARTITION__: the null one)",
                .parse = parse_partition, .shown = "every partition"),
        CLI_OPT("max-attempts", 0, CLI_INT, &o.max_attempts, NULL, "plans tried when a concurrent writer removes an input",
                .min = 1, .max = 1000000),
        CLI_OPT("json", 0, CLI_FLAG, &as_json, NULL, "one JSON object instead of text"),
        {0}};
    const cli_cmd cmd = {"table optimize", "PATH", 1, 1,
                         "Compacts small files: per partition, files below the target size are rewritten into files\n"
                         "of about the target size, committed as ONE version (operation OPTIMIZE, dataChange=false:\n"
                         "rows are unchanged). Safe while writers append. PATH: a folder, file:///path or\n"
                         "s3://bucket/prefix.",
                         opts, "See docs/maintenance.md.", .store = 1};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (rc >= 0) goto done;
    const char *path = args[0];
    rc = 2;
    o.where = where.items;
    o.nwhere = where.n;
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
    for (size_t i = 0; i < where.n; i++) {
        free(where.items[i].name);
        free(where.items[i].value);
    }
    free(where.items);
    return rc;
}

/* `table vacuum`: options -> delta_table_vacuum -> the list of files. Exit 0/1/2. */
static int table_vacuum(int argc, char **argv)
{
    int as_json = 0;
    delta_vacuum_options o;
    delta_vacuum_options_init(&o);
    st_err e;
    const cli_opt opts[] = {
        CLI_OPT("retain", 0, CLI_DURATION_MS, &o.retention_ms, NULL,
                "delete unreferenced files removed (or written) longer ago than this;\n"
                "below 1h only with --force",
                .shown = "the table's delta.deletedFileRetentionDuration, else 7 days"),
        CLI_OPT("dry-run", 0, CLI_FLAG, &o.dry_run, NULL, "list, delete nothing"),
        CLI_OPT("force", 0, CLI_FLAG, &o.force, NULL, "allow a retention below 1h (only when no writer is running)"),
        CLI_OPT("log", 0, CLI_FLAG, &o.clean_log, NULL,
                "also delete _delta_log files older than the log retention that precede a checkpoint\n"
                "at least that old (older versions stop being readable)"),
        CLI_OPT("log-retain", 0, CLI_DURATION_MS, &o.log_retention_ms, NULL, "the log retention",
                .shown = "the table's delta.logRetentionDuration, else 30 days"),
        CLI_OPT("json", 0, CLI_FLAG, &as_json, NULL, "one JSON object instead of text"),
        {0}};
    const cli_cmd cmd = {"table vacuum", "PATH", 1, 1,
                         "Deletes data files the latest version no longer references, once removed (or, for\n"
                         "never-committed files, written) longer ago than the retention. PATH: a folder,\n"
                         "file:///path or s3://bucket/prefix.",
                         opts, "Durations: 168h, 7d, 30m, 90s, \"interval 1 week\". See docs/maintenance.md.", .store = 1};
    char **args;
    int nargs, code = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (code >= 0) return code;
    const char *path = args[0];
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

/* `table info`: parse options, load the snapshot, print. Exit 0/1/2. */
static int table_info(int argc, char **argv)
{
    int as_json = 0;
    delta_load_options o;
    delta_load_options_init(&o);
    const cli_opt opts[] = {
        CLI_OPT("version", 0, CLI_INT64, &o.version, NULL, "the table as of version N", .min = 0, .max = INT64_MAX,
                .shown = "latest"),
        CLI_OPT("json", 0, CLI_FLAG, &as_json, NULL, "one JSON object instead of text"),
        CLI_OPT("no-checkpoint", 0, CLI_FLAG, &o.ignore_checkpoints, NULL,
                "replay every JSON commit instead of starting from a checkpoint"),
        {0}};
    const cli_cmd cmd = {"table info", "PATH", 1, 1,
                         "Prints a Delta table's version, schema, partition columns, file/row/byte counts,\n"
                         "txn (appId -> version) entries and last commit time; works on tables Spark or\n"
                         "delta-rs wrote. PATH: a folder, file:///path or s3://bucket/prefix.",
                         opts, NULL, .store = 1};
    char **args;
    int nargs, code = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (code >= 0) return code;
    const char *path = args[0];
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

const cli_command table_actions[] = {
    {"info", table_info, "a Delta table's version, schema, files, rows, txns", NULL},
    {"optimize", table_optimize, "compact small files (one OPTIMIZE commit)", NULL},
    {"vacuum", table_vacuum, "delete unreferenced files past the retention", NULL},
    {NULL, NULL, NULL, NULL},
};
