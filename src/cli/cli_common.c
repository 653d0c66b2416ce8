#include "cli/cli_common.h"

#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "store/store.h"
#include "util/buf.h"

volatile sig_atomic_t cli_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

void cli_install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_store_usage(FILE *f)
{
    st_buf b = {0};
    st_store_options_help(&b);
    fprintf(f,
            "object storage (every table, checkpoint and file path may be s3://bucket/prefix):\n"
            "  settings come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,\n"
            "  AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and AWS_CA_BUNDLE; any command takes overrides:\n"
            "  --s3-path-style     path-style addressing (= -S path_style=true)\n"
            "  -S key=value        one setting (repeatable):\n%s",
            st_buf_cstr(&b));
    st_buf_free(&b);
}

int cli_metrics_start(const char *cmd, const char *listen, job_stats *js, metrics_endpoint **out)
{
    *out = NULL;
    if (!listen) return 0;
    st_err e;
    if (metrics_endpoint_start(listen, js, out, &e) != ST_OK) {
        fprintf(stderr, "smarttech %s: %s\n", cmd, e.msg);
        return 2;
    }
    char host[128];
    int port;
    http_parse_listen(listen, host, sizeof host, &port, NULL);
    fprintf(stderr, "%s: metrics on http://%s%s%s:%d/metrics (also /healthz, /readyz)\n", cmd,
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", metrics_endpoint_port(*out));
    return 0;
}

void cli_metrics_stop(metrics_endpoint *ep, int64_t linger_us)
{
    if (ep && linger_us > 0) metrics_endpoint_wait_scrape(ep, linger_us);
    metrics_endpoint_stop(ep);
}
