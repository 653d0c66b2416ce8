/* cmd_bronze.c — `smarttech bronze`: stream the JSON files dropped in an input
 * directory into the Bronze Delta table (src/stream/bronze_job.h), one progress line
 * per batch; SIGINT/SIGTERM stop it between batches. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "stream/bronze_job.h"
#include "util/timeutil.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: smarttech bronze [options]\n"
            "\n"
            "Streams JSON files (JSON Lines, or one JSON array of events) that appear in the input\n"
            "directory into the Bronze Delta table; rows that cannot be typed go to the quarantine\n"
            "table with file, line and reason. Each file is ingested exactly once per content\n"
            "(SHA-256), across crashes and restarts, with no clean-up needed.\n"
            "\n"
            "  --input DIR               input directory (default data/input; created if missing)\n"
            "  --output PATH             Bronze table (default data/output/bronze_output)\n"
            "  --quarantine PATH         quarantine table (default data/output/quarantine_delta)\n"
            "  --checkpoint DIR          checkpoint folder (default data/checkpoints/bronze_checkpoints)\n"
            "  --trigger D               time between polls when idle (default 2s)\n"
            "  --settle D                a file is read once its size and mtime have not changed for D\n"
            "                            (default 1s); names starting with '.' or ending in .tmp, .part,\n"
            "                            .crdownload or ~ are never read\n"
            "  --max-files-per-batch N   at most N files per batch/commit (default 1000; 0 = no limit)\n"
            "  --max-bytes-per-batch N   at most N input bytes per batch (default 268435456; 0 = no limit)\n"
            "  --once                    process what is there (once settled), then exit\n"
            "  --quiet                   no progress lines\n"
            "\n"
            "Durations: 500ms, 2s, 1m, ... Exit status: 0 done or stopped, 1 error, 2 usage.\n");
}

enum { OPT_INPUT = 256, OPT_OUTPUT, OPT_QUAR, OPT_CKPT, OPT_TRIGGER, OPT_SETTLE, OPT_MAXF, OPT_MAXB, OPT_ONCE, OPT_QUIET };

static const struct option long_opts[] = {
    {"input", required_argument, 0, OPT_INPUT},
    {"output", required_argument, 0, OPT_OUTPUT},
    {"quarantine", required_argument, 0, OPT_QUAR},
    {"checkpoint", required_argument, 0, OPT_CKPT},
    {"trigger", required_argument, 0, OPT_TRIGGER},
    {"settle", required_argument, 0, OPT_SETTLE},
    {"max-files-per-batch", required_argument, 0, OPT_MAXF},
    {"max-bytes-per-batch", required_argument, 0, OPT_MAXB},
    {"once", no_argument, 0, OPT_ONCE},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static void on_batch(const bronze_batch_stats *b, void *user)
{
    (void)user;
    char q[32] = "-";
    if (b->quarantine_version >= 0) snprintf(q, sizeof q, "%" PRId64, b->quarantine_version);
    double secs = (double)b->duration_us / 1e6;
    printf("bronze: batch %" PRId64 "%s: files %zu", b->batch, b->recovered ? " (recovered)" : "", b->files);
    if (b->skipped) printf(" (+%zu already ingested)", b->skipped);
    printf(", rows %" PRId64 ", quarantined %" PRId64 ", bronze v%" PRId64 ", quarantine v%s, %.3f s",
           b->rows, b->quarantined, b->bronze_version, q, secs);
    if (secs > 0 && !b->recovered) printf(", %.0f rows/s", (double)(b->rows + b->quarantined) / secs);
    printf("\n");
    fflush(stdout);
}

static void on_warning(const char *msg, void *user)
{
    (void)user;
    fprintf(stderr, "bronze: warning: %s\n", msg);
}

static int parse_count(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0) return -1;
    *out = v;
    return 0;
}

int cmd_bronze(int argc, char **argv)
{
    bronze_config c;
    bronze_config_init(&c);
    int quiet = 0, opt;
    int64_t v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case OPT_INPUT: c.input_dir = optarg; break;
        case OPT_OUTPUT: c.output_path = optarg; break;
        case OPT_QUAR: c.quarantine_path = optarg; break;
        case OPT_CKPT: c.checkpoint_dir = optarg; break;
        case OPT_TRIGGER:
        case OPT_SETTLE:
            if (st_parse_duration_us(optarg, &v) != 0 || v < 0) {
                fprintf(stderr, "smarttech bronze: bad duration '%s' for --%s\n", optarg,
                        opt == OPT_TRIGGER ? "trigger" : "settle");
                return 2;
            }
            if (opt == OPT_TRIGGER) c.trigger_us = v;
            else c.settle_us = v;
            break;
        case OPT_MAXF:
        case OPT_MAXB:
            if (parse_count(optarg, &v) != 0) {
                fprintf(stderr, "smarttech bronze: bad number '%s' for --%s\n", optarg,
                        opt == OPT_MAXF ? "max-files-per-batch" : "max-bytes-per-batch");
                return 2;
            }
            if (opt == OPT_MAXF) c.max_files_per_batch = (size_t)v;
            else c.max_bytes_per_batch = v;
            break;
        case OPT_ONCE: c.once = 1; break;
        case OPT_QUIET: quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "smarttech bronze: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    cli_install_stop_handlers();
    c.stop = &cli_stop;
    c.on_batch = quiet ? NULL : on_batch;
    c.on_warning = on_warning;

    st_err e;
    st_err_clear(&e);
    bronze_job *j = NULL;
    if (bronze_job_new(&c, &j, &e) != ST_OK) {
        fprintf(stderr, "smarttech bronze: %s\n", e.msg);
        return 1;
    }
    if (!quiet) {
        printf("bronze: watching %s -> %s (quarantine %s, checkpoint %s), last batch %" PRId64 "%s\n", c.input_dir,
               c.output_path, c.quarantine_path, c.checkpoint_dir, bronze_job_last_batch(j),
               c.once ? ", --once" : "; Ctrl+C stops between batches");
        fflush(stdout);
    }
    int64_t t0 = st_monotonic_us();
    st_code rc = bronze_job_run(j, &e);
    bronze_job_stats st;
    bronze_job_stats_get(j, &st);
    double secs = (double)(st_monotonic_us() - t0) / 1e6;
    bronze_job_destroy(j);
    if (rc != ST_OK) {
        fprintf(stderr, "smarttech bronze: %s\n", e.msg);
        return 1;
    }
    if (!quiet) {
        printf("bronze: %s: %" PRId64 " batches, %" PRId64 " files (%" PRId64 " skipped as already ingested), %" PRId64
               " rows, %" PRId64 " quarantined in %.2f s\n",
               cli_stop ? "stopped" : "done", st.batches, st.files, st.skipped, st.rows, st.quarantined, secs);
    }
    return 0;
}
