/* cmd_bronze.c — `smarttech bronze`: stream the JSON files dropped in an input
 * directory into the Bronze Delta table (src/job/bronze_job.h), one progress line
 * per batch; SIGINT/SIGTERM stop it between batches. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/cli_maint.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "job/bronze_job.h"
#include "util/timeutil.h"

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

static int run(bronze_config *cp, int quiet);

int cmd_bronze(int argc, char **argv)
{
    bronze_config c;
    bronze_config_init(&c);
    int quiet = 0;
    const char *metrics_listen = NULL;
    int64_t linger_us = 0;
    cli_maint mo;
    cli_maint_init(&mo, "bronze");
    const cli_opt opts[] = {
        CLI_OPT("input", 0, CLI_STRING, &c.input_dir, "DIR", "input directory, created if missing"),
        CLI_OPT("output", 0, CLI_STRING, &c.output_path, "PATH", "Bronze table"),
        CLI_OPT("quarantine", 0, CLI_STRING, &c.quarantine_path, "PATH", "quarantine table"),
        CLI_OPT("checkpoint", 0, CLI_STRING, &c.checkpoint_dir, "DIR", "checkpoint folder"),
        CLI_OPT("trigger", 0, CLI_DURATION, &c.trigger_us, NULL, "time between polls when idle"),
        CLI_OPT("settle", 0, CLI_DURATION, &c.settle_us, NULL,
                "a file is read once its size and mtime have not changed for this long\n"
                "(names starting with '.' or ending in .tmp, .part, .crdownload or ~: never)"),
        CLI_OPT("max-files-per-batch", 0, CLI_SIZE, &c.max_files_per_batch, NULL, "at most N files per batch/commit",
                .zero = "no limit"),
        CLI_OPT("max-bytes-per-batch", 0, CLI_BYTES, &c.max_bytes_per_batch, NULL,
                "at most this many input bytes per batch (a bigger file goes alone)", .zero = "no limit"),
        CLI_OPT("once", 0, CLI_FLAG, &c.once, NULL, "process what is there (once settled), then exit"),
        CLI_OPT("quiet", 0, CLI_FLAG, &quiet, NULL, "no progress lines"),
        CLI_METRICS_OPTS(&metrics_listen, &linger_us),
        CLI_MAINT_OPTS(&mo),
        {0}};
    const cli_cmd cmd = {"bronze", NULL, 0, 0,
                         "Streams JSON files (JSON Lines, or one JSON array of events) that appear in the input\n"
                         "directory into the Bronze Delta table; rows that cannot be typed go to the quarantine\n"
                         "table with file, line and reason. Each file is ingested exactly once per content\n"
                         "(SHA-256), across crashes and restarts, with no clean-up needed.",
                         opts, "Durations: 500ms, 2s, 1m, ... Exit status: 0 done or stopped, 1 error, 2 usage.", .store = 1};
    char **args;
    int nargs, code = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (code >= 0) return code;
    mo.quiet = quiet;
    if ((code = cli_maint_finish(&mo, &cmd))) return code;

    job_stats *js = job_stats_new("bronze");
    c.maintenance = cli_maint_config(&mo, js);
    metrics_endpoint *ep = NULL;
    if ((code = cli_metrics_start("bronze", metrics_listen, js, &ep))) {
        job_stats_destroy(js);
        return code;
    }
    c.metrics = js;
    code = run(&c, quiet);
    cli_metrics_stop(ep, linger_us);
    job_stats_destroy(js);
    return code;
}

/* The job itself, once the options are parsed. */
static int run(bronze_config *cp, int quiet)
{
    bronze_config c = *cp;
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
