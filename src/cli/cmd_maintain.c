/* cmd_maintain.c — `smarttech maintain`: the maintenance the jobs run beside themselves
 * (pipeline/maintenance.h), as a service of its own for tables that other processes write. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/cli_maint.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "util/buf.h"

int cmd_maintain(int argc, char **argv)
{
    cli_maint mo;
    cli_maint_init(&mo, "maintain");
    cli_list tables = {0};
    int once = 0;
    const char *metrics_listen = NULL;
    int64_t linger_us = 0;
    job_stats *js = NULL;
    metrics_endpoint *ep = NULL;
    const cli_opt opts[] = {
        CLI_OPT("table", 0, CLI_LIST, &tables, "PATH",
                "a table to maintain (repeatable; one that does not exist yet\nis picked up once it does)"),
        CLI_OPT("once", 0, CLI_FLAG, &once, NULL, "one pass over every table, then exit (1 if a pass failed)"),
        CLI_OPT("quiet", 0, CLI_FLAG, &mo.quiet, NULL, "print errors only"),
        CLI_OPT("verbose", 0, CLI_FLAG, &mo.verbose, NULL, "also a line as each step starts"),
        CLI_METRICS_OPTS(&metrics_listen, &linger_us),
        CLI_MAINT_OPTS(&mo),
        {0}};
    const cli_cmd cmd = {"maintain", NULL, 0, 0,
                         "Keeps Delta tables bounded while other processes write them: compacts small files\n"
                         "(OPTIMIZE, dataChange=false), checkpoints every delta.checkpointInterval versions,\n"
                         "deletes _delta_log entries past the log retention and data files past the deleted-file\n"
                         "retention (vacuum). The same work `silver`, `gold` and `bronze` do beside themselves\n"
                         "unless --no-maintenance. Safe beside any number of writers and of maintainers that use\n"
                         "the same retentions. Stops on Ctrl+C/SIGTERM after the step in progress.",
                         opts, NULL, .store = 1};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (rc >= 0) goto out;
    if (!tables.n) {
        rc = cli_usage_error(&cmd, "no table (--table PATH, repeatable)");
        goto out;
    }
    if (mo.off) {
        rc = cli_usage_error(&cmd, "--no-maintenance leaves nothing to do");
        goto out;
    }
    if ((rc = cli_maint_finish(&mo, &cmd))) goto out;
    /* --metrics: the smarttech_maintenance_* series per table (pipeline/maintenance.h) and process_*;
     * ready while the passes run */
    js = job_stats_new("maintain");
    const maint_config *mc = cli_maint_config(&mo, js);
    if ((rc = cli_metrics_start("maintain", metrics_listen, js, &ep))) goto out;
    job_stats_set_ready(js, 1, NULL);
    cli_install_stop_handlers();
    size_t n = tables.n;
    maint_table_stats *st = st_xcalloc(n, sizeof *st);
    st_err e;
    st_err_clear(&e);
    st_code src = maint_run(mc, tables.items, n, once, &cli_stop, st, &e);
    rc = src ? 1 : 0;
    if (src) fprintf(stderr, "smarttech maintain: %s\n", e.msg);
    for (size_t i = 0; i < n; i++) {
        if (st[i].version < 0) {
            fprintf(stderr, "maintain: %s: no table yet\n", tables.items[i]);
            continue;
        }
        fprintf(stderr,
                "maintain: %s: v%" PRId64 ", %" PRId64 " active files; %" PRId64 " passes, %" PRId64
                " compactions (%" PRId64 " files), %" PRId64 " checkpoints, %" PRId64 " log files and %" PRId64
                " data files deleted, %" PRId64 " errors\n",
                tables.items[i], st[i].version, st[i].active_files, st[i].passes, st[i].compactions,
                st[i].files_compacted, st[i].checkpoints, st[i].log_files_deleted, st[i].files_vacuumed, st[i].errors);
    }
    free(st);
out:
    cli_metrics_stop(ep, linger_us);
    job_stats_destroy(js);
    cli_list_free(&tables);
    return rc;
}
