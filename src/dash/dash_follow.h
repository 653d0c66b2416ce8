/* dash_follow.h — the dashboard follows the tables as streams: Gold windows and alert rows
 * with the project's Delta streaming reader (source/delta_source.h: each poll reads only the
 * commits since the last one), and each table's version, rows, files and last commit time from
 * its log (delta_table_refresh: one stat per new version), and quarantine counts by reason
 * (the reason column of the quarantine table, also read as a stream).
 *
 * poll does the I/O and keeps what it read; apply hands it to the model (no I/O: the caller
 * holds its lock only for that). A table that does not exist yet is looked for again at every
 * poll. At most max_versions versions of a table are read per poll, so a long backlog is
 * taken in steps and the dashboard keeps answering meanwhile.
 *
 * Ownership: paths are copied. Not thread-safe: one thread polls and applies.
 */
#ifndef ST_DASH_DASH_FOLLOW_H
#define ST_DASH_DASH_FOLLOW_H

#include <stdint.h>

#include "dash/dash_model.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct dash_paths {
    const char *gold, *alerts, *silver, *quarantine, *bronze_kafka;   /* NULL: not shown */
} dash_paths;

typedef struct dash_follow dash_follow;

dash_follow *dash_follow_new(const dash_paths *p, int max_versions);
void dash_follow_destroy(dash_follow *f); /* NULL-safe */

/* Reads what the tables committed since the last poll. A table that cannot be read is reported
 * in the health ("error") and retried at the next poll; the call only fails on a table whose
 * content the dashboard cannot use (a Gold or alerts table without its columns). */
st_code dash_follow_poll(dash_follow *f, st_err *e);

/* Moves the rows the last poll read into m; returns how many. */
size_t dash_follow_apply(dash_follow *f, dash_model *m);

/* 1 when some table still has versions the last poll did not reach. */
int dash_follow_behind(const dash_follow *f);

/* Appends the JSON members (no braces) "tables":[{"name","path","version","rows","files",
 * "last_commit","error"}..],"quarantine":{"reason":n,..},"silver_rows_per_s":x of the last poll. */
void dash_follow_render_health(const dash_follow *f, st_buf *out);

#endif
