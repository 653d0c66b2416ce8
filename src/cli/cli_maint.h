/* cli_maint.h — the maintenance options that `smarttech silver`, `gold`, `bronze` and
 * `maintain` share (pipeline/maintenance.h does the work): one block of entries for a
 * command's option table (cli/opts.h), their checks and their event lines. The defaults the
 * help shows are maint_config_init's. */
#ifndef ST_CLI_MAINT_H
#define ST_CLI_MAINT_H

#include <stdint.h>

#include "cli/opts.h"
#include "pipeline/job_stats.h"
#include "pipeline/maintenance.h"

typedef struct cli_maint {
    maint_config c;
    int off;                     /* --no-maintenance */
    int quiet;                   /* events: errors only */
    int verbose;                 /* also a line as each step starts (delta_maintain_options.on_step) */
    const char *cmd;             /* "silver", ...: the prefix of event lines */
} cli_maint;

/* The entries of an option table, bound to the cli_maint at m (cli_maint_init first). */
#define CLI_MAINT_OPTS(m)                                                                                        \
    CLI_HEADING("maintenance (on by default: compaction, checkpoints, log clean-up, vacuum beside the job)"),   \
        CLI_OPT("no-maintenance", 0, CLI_FLAG, &(m)->off, NULL,                                                  \
                "leave the tables as written (`smarttech maintain` can run apart)"),                             \
        CLI_OPT("target-file-size", 0, CLI_BYTES, &(m)->c.opt.target_file_size, NULL, "compacted file size",     \
                .min = 1, .max = INT64_MAX),                                                                     \
        CLI_OPT("compact-row-group-size", 0, CLI_BYTES, &(m)->c.opt.row_group_bytes, NULL,                      \
                "compacted row groups (compressed): a compaction holds about one\n"                                \
                "decoded input row group and one output row group in memory",                                     \
                .min = 64 * 1024, .max = INT64_MAX),                                                              \
        CLI_OPT("compact-min-files", 0, CLI_INT, &(m)->c.opt.compact_min_files, NULL,                            \
                "small files in a partition that trigger a compaction", .min = 2, .max = 1000000),               \
        CLI_OPT("compact-after", 0, CLI_DURATION_MS, &(m)->c.opt.compact_after_ms, NULL,                         \
                "also compact once the oldest small file is this old"),                                          \
        CLI_OPT("log-retention", 0, CLI_DURATION_MS, &(m)->c.opt.log_retention_ms, NULL, "_delta_log history kept", \
                .shown = "delta.logRetentionDuration, else 30d"),                                                \
        CLI_OPT("deleted-file-retention", 0, CLI_DURATION_MS, &(m)->c.opt.deleted_file_retention_ms, NULL,       \
                "removed data files kept", .shown = "delta.deletedFileRetentionDuration, else 7d"),              \
        CLI_OPT("allow-short-retention", 0, CLI_FLAG, &(m)->c.opt.allow_short_retention, NULL,                   \
                "allow retentions under 7 days (writers must commit, readers finish\nwell within them)"),        \
        CLI_OPT("maintenance-interval", 0, CLI_DURATION_MS, &(m)->c.interval_ms, NULL,                           \
                "pause between maintenance passes"),                                                             \
        CLI_OPT("maintenance-nice", 0, CLI_INT, &(m)->c.nice, NULL,                                              \
                "the maintenance thread runs N nice levels below the job (0-19):\n"                              \
                "on a saturated machine the data path gets the CPU first",                                       \
                .min = 0, .max = 19)

/* Defaults (pipeline/maintenance.h); events print as "<cmd>: maintenance ...". */
void cli_maint_init(cli_maint *m, const char *cmd);

/* After parsing (and after quiet/verbose are set): 0, or the usage error of cmd (2, message
 * printed) when the options do not go together (a retention under 7 days without
 * --allow-short-retention, ...). */
int cli_maint_finish(cli_maint *m, const cli_cmd *cmd);

/* NULL with --no-maintenance, else the config (borrowed from m), its figures registered on
 * js's metrics (js may be NULL: none). */
const maint_config *cli_maint_config(cli_maint *m, job_stats *js);

#endif
