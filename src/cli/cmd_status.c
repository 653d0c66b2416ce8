/* cmd_status.c — `smarttech status`: topic end offsets, group lag, every table's version and size,
 * checkpoint folders. --json prints one object for scripts; --watch N refreshes every N seconds. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "delta/delta.h"
#include "job/silver_job.h"
#include "kafka/kafka.h"
#include "pipeline/tables.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"


static const char *checkpoints[] = {"data/checkpoints/bronze_checkpoints", "data/checkpoints/silver_kafka",
                                    "data/checkpoints/gold"};

/* Objects and bytes under a checkpoint (a folder or s3://...): one recursive listing.
 * *exists = 0 when there is nothing there. */
static void checkpoint_usage(const char *uri, int64_t *files, int64_t *bytes, int *exists)
{
    st_store *s;
    st_err e;
    *exists = 0;
    if (st_store_open(uri, &s, &e)) return;
    st_list l = {0};
    if (st_store_list(s, "", NULL, ST_LIST_RECURSIVE, &l, &e) == ST_OK) {
        for (size_t i = 0; i < l.count; i++) {
            (*files)++;
            *bytes += l.items[i].size;
        }
        const char *dir = st_store_local_path(s);
        *exists = dir ? st_path_exists(dir) : l.count > 0;
    }
    st_list_free(&l);
    st_store_close(s);
}

static void fmt_ms(int64_t ms, char *out, size_t n)
{
    if (ms <= 0) {
        snprintf(out, n, "-");
        return;
    }
    st_format_iso_us(ms * 1000, out, n, 1);
}

static void status_once(const char *root, const char *brokers, const char *topic, const char *group, int json,
                        const kafka_props *props, st_buf *out)
{
    st_err e;
    st_buf_reset(out);
    if (json) st_buf_append_str(out, "{");
    /* Kafka */
    kafka_admin *a = NULL;
    kafka_partition_offsets *wm = NULL;
    size_t nwm = 0;
    st_code krc = kafka_admin_new(&a, brokers, props, &e);
    if (krc == ST_OK) krc = kafka_admin_watermarks(a, topic, 5000, &wm, &nwm, &e);
    int64_t *committed = NULL;
    if (krc == ST_OK && nwm) {
        committed = st_xcalloc(nwm, sizeof *committed);
        if (kafka_admin_committed(a, group, topic, 5000, committed, nwm, NULL) != ST_OK)
            for (size_t i = 0; i < nwm; i++) committed[i] = -1;
    }
    if (json) {
        st_buf_append_str(out, "\"kafka\":{\"brokers\":");
        st_buf_append_json_str(out, brokers, strlen(brokers));
        st_buf_append_str(out, ",\"topic\":");
        st_buf_append_json_str(out, topic, strlen(topic));
        st_buf_append_str(out, ",\"group\":");
        st_buf_append_json_str(out, group, strlen(group));
        if (krc) {
            st_buf_append_str(out, ",\"error\":");
            st_buf_append_json_str(out, e.msg, strlen(e.msg));
        } else {
            int64_t lag = 0;
            st_buf_append_str(out, ",\"partitions\":[");
            for (size_t i = 0; i < nwm; i++) {
                int64_t l = committed[i] >= 0 ? wm[i].high - committed[i] : wm[i].high - wm[i].low;
                lag += l;
                st_buf_printf(out, "%s{\"partition\":%d,\"low\":%" PRId64 ",\"high\":%" PRId64 ",\"committed\":%" PRId64
                                   ",\"lag\":%" PRId64 "}",
                              i ? "," : "", (int)wm[i].partition, wm[i].low, wm[i].high, committed[i], l);
            }
            st_buf_printf(out, "],\"lag\":%" PRId64, lag);
        }
        st_buf_append_str(out, "}");
    } else {
        st_buf_printf(out, "Kafka %s topic %s, group %s\n", brokers, topic, group);
        if (krc) {
            st_buf_printf(out, "  unavailable: %s\n", e.msg);
        } else {
            int64_t lag = 0;
            st_buf_printf(out, "  %-9s %12s %12s %12s %10s\n", "partition", "low", "end", "committed", "lag");
            for (size_t i = 0; i < nwm; i++) {
                int64_t l = committed[i] >= 0 ? wm[i].high - committed[i] : wm[i].high - wm[i].low;
                lag += l;
                st_buf_printf(out, "  %-9d %12" PRId64 " %12" PRId64 " %12" PRId64 " %10" PRId64 "\n", (int)wm[i].partition,
                              wm[i].low, wm[i].high, committed[i], l);
            }
            st_buf_printf(out, "  total lag %" PRId64 "\n", lag);
        }
    }
    free(wm);
    free(committed);
    kafka_admin_destroy(a);

    /* tables */
    if (json) st_buf_append_str(out, ",\"tables\":[");
    else st_buf_printf(out, "\n%-14s %8s %12s %7s %12s  %-24s %s\n", "table", "version", "rows", "files", "bytes",
                       "last commit", "path");
    for (int k = 0; k < TABLE_KIND_COUNT; k++) {
        char *path = st_path_join(root, table_default_path((table_kind)k) + strlen("data/"));
        delta_snapshot *s = delta_snapshot_load(path, -1, &e);
        if (json) {
            st_buf_printf(out, "%s{\"name\":\"%s\",\"path\":", k ? "," : "", table_name((table_kind)k));
            st_buf_append_json_str(out, path, strlen(path));
            if (s) {
                st_buf_printf(out, ",\"version\":%" PRId64 ",\"rows\":%" PRId64 ",\"files\":%zu,\"bytes\":%" PRId64
                                   ",\"last_commit_ms\":%" PRId64 ",\"checkpoint_version\":%" PRId64 "}",
                              delta_snapshot_version(s), delta_snapshot_total_records(s), delta_snapshot_num_files(s),
                              delta_snapshot_total_bytes(s), delta_snapshot_last_commit_ms(s),
                              delta_snapshot_checkpoint_version(s));
            } else {
                st_buf_printf(out, ",\"version\":null,\"error\":");
                st_buf_append_json_str(out, e.msg, strlen(e.msg));
                st_buf_append_str(out, "}");
            }
        } else if (s) {
            char when[64];
            fmt_ms(delta_snapshot_last_commit_ms(s), when, sizeof when);
            st_buf_printf(out, "%-14s %8" PRId64 " %12" PRId64 " %7zu %12" PRId64 "  %-24s %s\n",
                          table_name((table_kind)k), delta_snapshot_version(s), delta_snapshot_total_records(s),
                          delta_snapshot_num_files(s), delta_snapshot_total_bytes(s), when, path);
        } else {
            st_buf_printf(out, "%-14s %8s %12s %7s %12s  %-24s %s (%s)\n", table_name((table_kind)k), "-", "-", "-",
                          "-", "-", path, e.code == ST_ERR_NOTFOUND ? "not created yet" : e.msg);
        }
        delta_snapshot_destroy(s);
        free(path);
    }
    /* checkpoints */
    if (json) st_buf_append_str(out, "],\"checkpoints\":[");
    else st_buf_printf(out, "\n%-40s %7s %12s\n", "checkpoint folder", "files", "bytes");
    for (size_t i = 0; i < sizeof checkpoints / sizeof checkpoints[0]; i++) {
        char *path = st_path_join(root, checkpoints[i] + strlen("data/"));
        int64_t files = 0, bytes = 0;
        int exists;
        checkpoint_usage(path, &files, &bytes, &exists);
        if (json) {
            st_buf_printf(out, "%s{\"path\":", i ? "," : "");
            st_buf_append_json_str(out, path, strlen(path));
            st_buf_printf(out, ",\"exists\":%s,\"files\":%" PRId64 ",\"bytes\":%" PRId64 "}", exists ? "true" : "false",
                          files, bytes);
        } else {
            st_buf_printf(out, "%-40s %7" PRId64 " %12" PRId64 "%s\n", path, files, bytes, exists ? "" : "  (none)");
        }
        free(path);
    }
    if (json) st_buf_append_str(out, "]}\n");
}

int cmd_status(int argc, char **argv)
{
    silver_config sc; /* the pipeline's Kafka defaults: what `smarttech silver` reads */
    silver_config_init(&sc);
    const char *brokers = sc.brokers, *topic = sc.topic, *group = sc.group, *root = "data";
    int json = 0;
    double watch = 0;
    kafka_props *props = kafka_props_new();
    const cli_opt opts[] = {
        CLI_OPT("brokers", 0, CLI_STRING, &brokers, "LIST", "Kafka bootstrap servers"),
        CLI_OPT("topic", 0, CLI_STRING, &topic, "NAME", "topic whose end offsets are shown"),
        CLI_OPT("group", 0, CLI_STRING, &group, "NAME", "consumer group whose lag is shown"),
        CLI_OPT("data", 0, CLI_STRING, &root, "DIR",
                "folder holding output/<table> and checkpoints/<job>; may be s3://bucket/prefix"),
        CLI_OPT("json", 0, CLI_FLAG, &json, NULL, "one JSON object instead of text"),
        CLI_OPT("watch", 0, CLI_DOUBLE, &watch, "SECONDS", "refresh every SECONDS (2 when not given) until Ctrl+C",
                .fmin = 0.01, .fmax = 86400, .implicit = "2", .shown = ""),
        CLI_OPT(NULL, 'X', CLI_KAFKA_PROP, props, NULL, "librdkafka property (repeatable)"),
        {0}};
    const cli_cmd cmd = {"status", NULL, 0, 0,
                         "Topic end offsets, group lag, every table's version/rows/files/bytes/last commit and the\n"
                         "checkpoint folders.",
                         opts, NULL, .store = 1};
    char **args;
    int nargs, code = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (code >= 0) {
        kafka_props_destroy(props);
        return code;
    }
    cli_install_stop_handlers();
    st_buf b = {0};
    do {
        status_once(root, brokers, topic, group, json, props, &b);
        if (watch && !json) fputs("\033[H\033[2J", stdout);
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
        for (int i = 0; watch && i < (int)(watch * 10) && !cli_stop; i++) usleep(100000);
    } while (watch && !cli_stop);
    st_buf_free(&b);
    kafka_props_destroy(props);
    return 0;
}
