/* metrics_endpoint.h — what `--metrics HOST:PORT` serves for a job (its job_stats):
 *   GET /metrics   the job's registry in the Prometheus text format 0.0.4
 *   GET /healthz   200 "ok": the process is alive (the server threads answer)
 *   GET /readyz    200 "ready", or 503 with the job's reason (job_stats_set_ready)
 *   GET /          a short text index of the above
 * Anything else: 404; methods other than GET/HEAD: 405 (http.h).
 * Ownership: the job_stats is borrowed until metrics_endpoint_stop returns.
 */
#ifndef ST_HTTP_METRICS_ENDPOINT_H
#define ST_HTTP_METRICS_ENDPOINT_H

#include <stdint.h>

#include "pipeline/job_stats.h"
#include "util/err.h"

typedef struct metrics_endpoint metrics_endpoint;

/* Starts serving s on listen ("HOST:PORT"; see http_parse_listen). */
st_code metrics_endpoint_start(const char *listen, job_stats *s, metrics_endpoint **out, st_err *e);
int metrics_endpoint_port(const metrics_endpoint *ep);

/* Waits until a scrape of /metrics that began after this call has been answered, or timeout_us
 * passed: a job that ends (--once) lets its scraper see the final figures. 1 when scraped. */
int metrics_endpoint_wait_scrape(metrics_endpoint *ep, int64_t timeout_us);
void metrics_endpoint_stop(metrics_endpoint *ep); /* NULL-safe */

#endif
