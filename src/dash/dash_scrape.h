/* dash_scrape.h — the dashboard reads the jobs' own --metrics endpoints (when given) for its
 * pipeline-health panel: events/s, lag, quarantine by reason, table versions and commit times
 * as the jobs count them. HTTP through libcurl (timeouts: 1 s to connect, 2 s in all; at most
 * 4 MiB of text); the Prometheus text format parsed for the smarttech_* families below only.
 *
 * Ownership: names and URLs are copied. Not thread-safe: one thread polls; render may run on
 * another only under the caller's lock (dash_server holds it).
 */
#ifndef ST_DASH_DASH_SCRAPE_H
#define ST_DASH_DASH_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct dash_scrape dash_scrape;

dash_scrape *dash_scrape_new(void);
void dash_scrape_destroy(dash_scrape *s); /* NULL-safe */

/* Adds a job endpoint: name ("silver") and URL ("http://127.0.0.1:9101/metrics", http only).
 * ST_ERR_ARG for another scheme. */
st_code dash_scrape_add(dash_scrape *s, const char *name, const char *url, st_err *e);
size_t dash_scrape_count(const dash_scrape *s);

/* Fetches every endpoint once (an unreachable one is marked down, not an error). */
void dash_scrape_poll(dash_scrape *s);

/* Appends the JSON member "jobs":[{"name","url","up","error","ready","events_in","events_per_s",
 * "lag","quarantine":{..},"tables":{"silver":{"version","last_commit"},..}},..]. */
void dash_scrape_render(const dash_scrape *s, st_buf *out);

/* Parses exposition text: calls fn for each sample line (name, the raw label text between the
 * braces or "", value). Comment and malformed lines are skipped. For the unit tests too. */
typedef void (*dash_sample_fn)(void *ctx, const char *name, size_t name_len, const char *labels, size_t labels_len,
                               double value);
void dash_parse_exposition(const char *text, size_t len, dash_sample_fn fn, void *ctx);

/* The value of label `key` in a raw label text (a="x",b="y"), unescaped into out; 0 when absent. */
int dash_label_value(const char *labels, size_t len, const char *key, char *out, size_t outn);

#endif
