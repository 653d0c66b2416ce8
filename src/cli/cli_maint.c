/* cli_maint.c — the shared maintenance options and their event lines (see cli_maint.h). */
#include "cli/cli_maint.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Prints what a pass did, on one line. */
static void on_event(const char *table, const delta_maintain_report *r, const st_err *err, void *user)
{
    const cli_maint *m = user;
    if (err) {
        fprintf(stderr, "%s: maintenance: %s (retried on the next pass)\n", m->cmd, err->msg);
        return;
    }
    if (m->quiet) return;
    char line[1024];
    size_t n = (size_t)snprintf(line, sizeof line, "%s: maintenance %s v%" PRId64 ":", m->cmd, table, r->version);
#define ADD(...)                                                                                                       \
    do {                                                                                                               \
        if (n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, __VA_ARGS__);                            \
    } while (0)
    if (r->compaction.version >= 0)
        ADD(" compacted %" PRId64 " files (%.1f MB) into %" PRId64 " at v%" PRId64 ";", r->compaction.files_removed,
            r->compaction.bytes_removed / 1e6, r->compaction.files_added, r->compaction.version);
    if (r->compaction_abandoned) ADD(" compaction abandoned (concurrent writers removed its files);");
    if (r->checkpoint_version >= 0) ADD(" checkpoint v%" PRId64 ";", r->checkpoint_version);
    if (r->log_files_deleted) ADD(" log -%zu files;", r->log_files_deleted);
    if (r->files_vacuumed) ADD(" vacuumed %zu files (%.1f MB);", r->files_vacuumed, r->bytes_vacuumed / 1e6);
    ADD(" %" PRId64 " active files", r->active_files);
#undef ADD
    fprintf(stderr, "%s\n", line);
}

void cli_maint_init(cli_maint *m, const char *cmd)
{
    memset(m, 0, sizeof *m);
    maint_config_init(&m->c);
    m->cmd = cmd;
    m->c.on_event = on_event;
    m->c.user = m;
}

/* A line as a step starts (--verbose), flushed: tests and operators see it at once. */
static void on_step(void *user, const char *table, const char *what)
{
    const cli_maint *m = user;
    fprintf(stderr, "%s: maintenance %s: %s\n", m->cmd, table, what);
    fflush(stderr);
}

int cli_maint_finish(cli_maint *m, const cli_cmd *cmd)
{
    if (m->off) return 0;
    if (m->c.interval_ms <= 0) m->c.interval_ms = 1; /* 0 would spin over the tables: 1 ms at least */
    if (m->verbose) {
        m->c.opt.on_step = on_step;
        m->c.opt.on_step_arg = m;
    }
    st_err e;
    if (delta_maintain_options_check(&m->c.opt, &e) == ST_OK) return 0;
    return cli_usage_error(cmd, "%s", e.msg);
}

const maint_config *cli_maint_config(cli_maint *m, job_stats *js)
{
    if (m->off) return NULL;
    m->c.metrics = js ? job_stats_metrics(js) : NULL;
    return &m->c;
}
