/* dash_server.c — the dashboard's HTTP routes and refresh thread (dash_server.h). */
#include "dash/dash_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash/dash_model.h"
#include "dash/dash_scrape.h"
#include "dash/web_assets.h"
#include "http/http.h"
#include "state/alerts.h"
#include "util/timeutil.h"

struct dash_server {
    dash_options o;
    char *token;
    http_server *srv;
    alert_rules *rules;
    dash_model *model;
    dash_follow *follow;
    dash_scrape *scrape;
    pthread_t th;
    int th_started;
    pthread_mutex_t mu;     /* model and state_json; held for memory work only */
    pthread_cond_t cv;
    int quit;
    char *state_json;       /* the latest /api/state body */
    size_t state_len;
    uint64_t seq;
    char last_error[ST_ERR_MSG_MAX];
};

void dash_options_init(dash_options *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->refresh_us = 1000000;
}

/* Builds the /api/state body from the model (under the lock) and the health parts; seq grows
 * when the model changed (the page redraws the grid and alerts only then). */
static void build_state(dash_server *s, int changed)
{
    st_buf b = {0};
    char now[40];
    st_format_iso_us(st_now_us(), now, sizeof now, 1);
    pthread_mutex_lock(&s->mu);
    if (changed) s->seq++;
    st_buf_printf(&b, "{\"seq\":%llu,\"generated_at\":\"%s\",", (unsigned long long)s->seq, now);
    dash_model_render(s->model, &b);
    pthread_mutex_unlock(&s->mu);
    st_buf_append_str(&b, ",\"health\":{");
    dash_follow_render_health(s->follow, &b);
    st_buf_append_u8(&b, ',');
    dash_scrape_render(s->scrape, &b);
    if (s->last_error[0]) {
        st_buf_append_str(&b, ",\"error\":");
        st_buf_append_json_str(&b, s->last_error, strlen(s->last_error));
    }
    st_buf_append_str(&b, "}}");
    size_t len;
    char *json = (char *)st_buf_detach(&b, &len);
    pthread_mutex_lock(&s->mu);
    free(s->state_json);
    s->state_json = json;
    s->state_len = len;
    pthread_mutex_unlock(&s->mu);
}

/* One refresh: the tables' new commits (I/O, no lock), applied to the model (lock), the jobs'
 * endpoints (I/O, no lock), then the state body. */
static void refresh(dash_server *s)
{
    st_err e;
    if (dash_follow_poll(s->follow, &e) != ST_OK)
        snprintf(s->last_error, sizeof s->last_error, "%s", e.msg);
    else
        s->last_error[0] = 0;
    pthread_mutex_lock(&s->mu);
    size_t applied = dash_follow_apply(s->follow, s->model);
    pthread_mutex_unlock(&s->mu);
    dash_scrape_poll(s->scrape);
    build_state(s, applied > 0 || !s->state_json);
}

static void *refresh_main(void *arg)
{
    dash_server *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->quit) {
        pthread_mutex_unlock(&s->mu);
        int64_t t0 = st_monotonic_us();
        refresh(s);
        int64_t wait = dash_follow_behind(s->follow) ? 0 : s->o.refresh_us - (st_monotonic_us() - t0);
        pthread_mutex_lock(&s->mu);
        if (wait > 0 && !s->quit) {
            struct timespec dl;
            st_deadline_in_us(wait, &dl);
            pthread_cond_timedwait(&s->cv, &s->mu, &dl);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------------ requests */

static int token_ok(const dash_server *s, const http_request *r)
{
    if (!s->token) return 1;
    const char *given = http_request_arg(r, "token");
    const char *auth = http_request_header(r, "Authorization");
    if (!given && auth && !strncmp(auth, "Bearer ", 7)) given = auth + 7;
    if (!given) return 0;
    /* constant time in the token's length: no early exit on the first differing byte */
    size_t n = strlen(s->token), m = strlen(given);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(s->token[i] ^ (i < m ? given[i] : 0));
    return diff == 0;
}

static int id_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-' || c == ':'))
            return 0;
    }
    return 1;
}

static int int_arg(const char *v, long lo, long hi, long *out)
{
    if (!v || !*v || strlen(v) > 8) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > hi) return 0;
    *out = x;
    return 1;
}

static const web_asset *asset_find(const char *path)
{
    if (!strcmp(path, "/")) path = "/index.html";
    for (size_t i = 0; i < web_assets_count; i++)
        if (!strcmp(web_assets[i].path, path)) return &web_assets[i];
    return NULL;
}

static void handle(void *ctx, const http_request *req, http_response *resp)
{
    dash_server *s = ctx;
    const char *path = http_request_path(req);
    if (!strcmp(path, "/healthz")) {
        http_response_text(resp, 200, "ok\n");
        return;
    }
    if (!token_ok(s, req)) {
        http_response_text(resp, 401, "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN\n");
        resp->headers[0][0] = "WWW-Authenticate";
        resp->headers[0][1] = "Bearer realm=\"smarttech dashboard\"";
        return;
    }
    if (!strcmp(path, "/api/state")) {
        resp->content_type = "application/json";
        pthread_mutex_lock(&s->mu);
        st_buf_append(&resp->body, s->state_json ? s->state_json : "{}", s->state_json ? s->state_len : 2);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (!strcmp(path, "/api/series")) {
        const char *b = http_request_arg(req, "building"), *r = http_request_arg(req, "room");
        const char *m = http_request_arg(req, "minutes");
        long floor, minutes = 60;
        if (!id_ok(b) || !id_ok(r) || !int_arg(http_request_arg(req, "floor"), -1000, 1000, &floor) ||
            (m && !int_arg(m, 1, DASH_MAX_MINUTES, &minutes))) {
            http_response_text(resp, 400,
                               "bad query: building and room are 1-64 of [A-Za-z0-9_.:-], floor -1000..1000, "
                               "minutes 1..%d\n",
                               DASH_MAX_MINUTES);
            return;
        }
        st_err e;
        resp->content_type = "application/json";
        pthread_mutex_lock(&s->mu);
        st_code rc = dash_model_render_series(s->model, b, (int32_t)floor, r, (int)minutes, &resp->body, &e);
        pthread_mutex_unlock(&s->mu);
        if (rc) http_response_text(resp, 404, "%s\n", e.msg);
        return;
    }
    const web_asset *a = asset_find(path);
    if (!a) {
        http_response_text(resp, 404, "not found\n");
        return;
    }
    resp->content_type = a->content_type;
    st_buf_append(&resp->body, a->data, a->len);
    resp->headers[0][0] = "Content-Security-Policy";
    resp->headers[0][1] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                          "frame-ancestors 'none'";
    resp->headers[1][0] = "Referrer-Policy";
    resp->headers[1][1] = "no-referrer";
}

st_code dash_server_start(const dash_options *o, dash_server **out, st_err *e)
{
    *out = NULL;
    char host[128];
    int port;
    st_code rc = http_parse_listen(o->listen, host, sizeof host, &port, e);
    if (rc) return st_err_wrap(e, "--listen");
    if (!http_host_is_loopback(host) && (!o->token || !*o->token))
        return st_err_set(e, ST_ERR_ARG,
                          "--listen %s is not a loopback address: give --token (every request must then carry it)",
                          o->listen);
    if (o->token && strlen(o->token) < 8)
        return st_err_set(e, ST_ERR_ARG, "--token must be at least 8 characters");
    dash_server *s = st_xcalloc(1, sizeof *s);
    s->o = *o;
    if (s->o.refresh_us <= 0) s->o.refresh_us = 1000000;
    s->token = o->token && *o->token ? st_xstrdup(o->token) : NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (o->rules_path)
        rc = alert_rules_load(o->rules_path, &s->rules, e);
    else
        s->rules = alert_rules_default();
    s->scrape = dash_scrape_new();
    for (size_t i = 0; rc == ST_OK && i < o->njobs; i++) rc = dash_scrape_add(s->scrape, o->job_names[i], o->job_urls[i], e);
    if (rc) {
        dash_server_stop(s);
        return rc;
    }
    s->model = dash_model_new(s->rules, 0, 0);
    s->follow = dash_follow_new(&o->paths, 200);
    refresh(s); /* the page has something from the first request on */
    http_options ho;
    http_options_init(&ho);
    ho.listen = o->listen;
    rc = http_server_start(&ho, handle, s, &s->srv, e);
    if (rc == ST_OK) {
        if (pthread_create(&s->th, NULL, refresh_main, s) == 0)
            s->th_started = 1;
        else
            rc = st_err_set(e, ST_ERR_STATE, "cannot start the dashboard's refresh thread");
    }
    if (rc) {
        dash_server_stop(s);
        return rc;
    }
    *out = s;
    return ST_OK;
}

int dash_server_port(const dash_server *s)
{
    return s ? http_server_port(s->srv) : -1;
}

void dash_server_stop(dash_server *s)
{
    if (!s) return;
    http_server_stop(s->srv); /* no handler runs after this */
    if (s->th_started) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
    }
    dash_follow_destroy(s->follow);
    dash_scrape_destroy(s->scrape);
    dash_model_destroy(s->model);
    alert_rules_destroy(s->rules);
    free(s->state_json);
    free(s->token);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
