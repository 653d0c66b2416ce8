/* metrics_endpoint.c — /metrics, /healthz, /readyz of a job (metrics_endpoint.h). */
#include "http/metrics_endpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "util/timeutil.h"

struct metrics_endpoint {
    http_server *srv;
    job_stats *stats;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t started;     /* renderings begun */
    uint64_t answered;    /* the highest `started` number whose rendering is done */
};

static void handle(void *ctx, const http_request *req, http_response *resp)
{
    metrics_endpoint *ep = ctx;
    const char *path = http_request_path(req);
    if (!strcmp(path, "/metrics")) {
        pthread_mutex_lock(&ep->mu);
        uint64_t seq = ++ep->started;
        pthread_mutex_unlock(&ep->mu);
        resp->content_type = METRICS_CONTENT_TYPE;
        metrics_render(job_stats_metrics(ep->stats), &resp->body);
        pthread_mutex_lock(&ep->mu);
        if (seq > ep->answered) ep->answered = seq;
        pthread_cond_broadcast(&ep->cv);
        pthread_mutex_unlock(&ep->mu);
    } else if (!strcmp(path, "/healthz")) {
        http_response_text(resp, 200, "ok\n");
    } else if (!strcmp(path, "/readyz")) {
        char why[512];
        if (job_stats_ready(ep->stats, why, sizeof why))
            http_response_text(resp, 200, "ready\n");
        else
            http_response_text(resp, 503, "not ready: %s\n", why);
    } else if (!strcmp(path, "/")) {
        http_response_text(resp, 200, "smarttech %s: /metrics (Prometheus), /healthz, /readyz\n",
                           job_stats_job(ep->stats));
    } else {
        http_response_text(resp, 404, "not found (routes: /metrics, /healthz, /readyz)\n");
    }
}

st_code metrics_endpoint_start(const char *listen, job_stats *s, metrics_endpoint **out, st_err *e)
{
    metrics_endpoint *ep = st_xcalloc(1, sizeof *ep);
    ep->stats = s;
    pthread_mutex_init(&ep->mu, NULL);
    pthread_cond_init(&ep->cv, NULL);
    http_options o;
    http_options_init(&o);
    o.listen = listen;
    st_code rc = http_server_start(&o, handle, ep, &ep->srv, e);
    if (rc) {
        pthread_mutex_destroy(&ep->mu);
        pthread_cond_destroy(&ep->cv);
        free(ep);
        *out = NULL;
        return st_err_wrap(e, "--metrics");
    }
    *out = ep;
    return ST_OK;
}

int metrics_endpoint_port(const metrics_endpoint *ep)
{
    return ep ? http_server_port(ep->srv) : -1;
}

int metrics_endpoint_wait_scrape(metrics_endpoint *ep, int64_t timeout_us)
{
    if (!ep) return 0;
    struct timespec dl;
    st_deadline_in_us(timeout_us, &dl);
    pthread_mutex_lock(&ep->mu);
    uint64_t mark = ep->started;
    int rc = 0;
    while (ep->answered <= mark && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&ep->cv, &ep->mu, &dl);
    int scraped = ep->answered > mark;
    pthread_mutex_unlock(&ep->mu);
    if (scraped) {
        /* the handler has returned; give the library a moment to send the response out */
        st_sleep_us(200000);
    }
    return scraped;
}

void metrics_endpoint_stop(metrics_endpoint *ep)
{
    if (!ep) return;
    http_server_stop(ep->srv);
    pthread_mutex_destroy(&ep->mu);
    pthread_cond_destroy(&ep->cv);
    free(ep);
}
