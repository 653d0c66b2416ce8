/* dash_server.h — `smarttech dashboard`: one web page for building operators, served by the
 * binary (http/http.h), fed by a thread that follows the tables (dash_follow.h) and, when given,
 * the jobs' --metrics endpoints (dash_scrape.h) every refresh interval.
 *
 * Routes (GET/HEAD only; anything else 404):
 *   /                  the page (web/index.html; script, style and uPlot from /app.js, /app.css,
 *                      /vendor/uplot/..., all compiled in)
 *   /api/state         JSON: rooms with their latest Gold window per sensor type and its colour
 *                      level, the alert rules, open alerts and their history, pipeline health
 *                      (tables: version, rows, files, last commit; quarantine by reason; Silver
 *                      rows/s; and each job endpoint's events/s, lag, readiness), and "seq", which
 *                      grows whenever something changed. Built once per refresh, then copied out.
 *   /api/series?building=B&floor=F&room=R[&minutes=M]   the room's 1-minute windows (avg, min,
 *                      max) per sensor type for the last M minutes of data time (default 60)
 *   /healthz           "ok"
 * Safety: read-only; a token (when set) is required on every route but /healthz, as
 * `Authorization: Bearer T` or `?token=T` (compared in constant time; 401 otherwise); query
 * parameters are checked (ids 1-64 of [A-Za-z0-9_.:-], floor -1000..1000, minutes 1..1440:
 * 400 otherwise). A request never waits for table I/O: it copies what the refresh thread built.
 */
#ifndef ST_DASH_DASH_SERVER_H
#define ST_DASH_DASH_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "dash/dash_follow.h"
#include "util/err.h"

typedef struct dash_options {
    const char *listen;          /* default 127.0.0.1:8080 */
    const char *token;           /* NULL: none (then listen must be a loopback address) */
    dash_paths paths;
    const char *rules_path;      /* NULL: the built-in rules (as config/alerts.conf) */
    const char *const *job_names;/* --metrics-url NAME=URL, njobs of them */
    const char *const *job_urls;
    size_t njobs;
    int64_t refresh_us;          /* default 1 s */
} dash_options;

void dash_options_init(dash_options *o);

typedef struct dash_server dash_server;

/* Loads the rules, reads the tables once (what exists), binds and starts serving.
 * ST_ERR_ARG: a non-loopback listen address without a token, a bad metrics URL. */
st_code dash_server_start(const dash_options *o, dash_server **out, st_err *e);
int dash_server_port(const dash_server *s);
void dash_server_stop(dash_server *s); /* NULL-safe */

#endif
