/* cli_common.h — what the long-running subcommands share: the stop flag set by
 * Ctrl+C/SIGTERM, and the --metrics endpoint of a job. (CLI only: library code takes the flag
 * as a parameter.) The object storage options every command takes (-S, --s3-path-style) are
 * parsed by cli/opts.c. */
#ifndef ST_CLI_COMMON_H
#define ST_CLI_COMMON_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/opts.h"
#include "http/metrics_endpoint.h"
#include "pipeline/job_stats.h"

/* Set to 1 by SIGINT or SIGTERM once cli_install_stop_handlers() ran. */
extern volatile sig_atomic_t cli_stop;

/* Installs SIGINT and SIGTERM handlers that set cli_stop (no SA_RESTART, so blocking calls
 * return early and loops see the flag). */
void cli_install_stop_handlers(void);

/* --metrics HOST:PORT (into a const char *, NULL: none) and --metrics-linger DURATION (into an
 * int64_t of microseconds, 0: none), as the jobs' option tables list them. */
#define CLI_METRICS_OPTS(listen, linger_us)                                                                 \
    CLI_OPT("metrics", 0, CLI_STRING, (listen), "HOST:PORT",                                                \
            "serve /metrics (Prometheus), /healthz, /readyz\n(host 127.0.0.1 when only :PORT is given)", \
            .shown = "none"),                                                                               \
        CLI_OPT("metrics-linger", 0, CLI_DURATION, (linger_us), NULL,                                       \
                "after the job ends, serve /metrics until one more scrape (or DURATION):\n"                 \
                "the scraper sees the final figures of a --once run",                                       \
                .zero = "stop at once")

/* --metrics: starts the endpoint of js on listen and prints its URL ("<cmd>: metrics on
 * http://...") on stderr; listen NULL: nothing, *out = NULL. Returns 0, or 2 after printing the
 * error (bad address, port in use). */
int cli_metrics_start(const char *cmd, const char *listen, job_stats *js, metrics_endpoint **out);

/* Stops the endpoint, after waiting up to linger_us for one more scrape (0: at once). NULL-safe. */
void cli_metrics_stop(metrics_endpoint *ep, int64_t linger_us);

/* The lines of `smarttech --help` about object storage: the environment variables and every
 * -S key. */
void cli_store_usage(FILE *f);

#endif
