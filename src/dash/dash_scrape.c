/* dash_scrape.c — reading the jobs' /metrics for the dashboard (dash_scrape.h). */
#include "dash/dash_scrape.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot/event.h"
#include "util/strmap.h"
#include "util/timeutil.h"

#define MAX_BODY (4u << 20)
#define MAX_TABLES 16

typedef struct table_fig {
    char name[64];
    double version, last_commit;
} table_fig;

typedef struct job_ep {
    char *name, *url;
    int up, ready;
    char error[256];
    double events_in, lag, rate;
    int has_lag;
    double prev_events;
    int64_t prev_us;
    strmap *reasons;      /* reason -> heap double */
    table_fig tables[MAX_TABLES];
    size_t ntables;
} job_ep;

struct dash_scrape {
    job_ep *jobs;
    size_t n;
    CURL *curl;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

dash_scrape *dash_scrape_new(void)
{
    pthread_once(&curl_once, curl_init);
    dash_scrape *s = st_xcalloc(1, sizeof *s);
    return s;
}

void dash_scrape_destroy(dash_scrape *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->jobs[i].name);
        free(s->jobs[i].url);
        strmap_destroy(s->jobs[i].reasons);
    }
    free(s->jobs);
    if (s->curl) curl_easy_cleanup(s->curl);
    free(s);
}

st_code dash_scrape_add(dash_scrape *s, const char *name, const char *url, st_err *e)
{
    if (strncmp(url, "http://", 7))
        return st_err_set(e, ST_ERR_ARG, "metrics URL '%s' of %s: only http:// URLs of the jobs' --metrics", url, name);
    s->jobs = st_xrealloc(s->jobs, (s->n + 1) * sizeof *s->jobs);
    job_ep *j = &s->jobs[s->n++];
    memset(j, 0, sizeof *j);
    j->name = st_xstrdup(name);
    j->url = st_xstrdup(url);
    j->reasons = strmap_new(free);
    j->prev_us = -1;
    snprintf(j->error, sizeof j->error, "not scraped yet");
    return ST_OK;
}

size_t dash_scrape_count(const dash_scrape *s)
{
    return s->n;
}

/* ------------------------------------------------------------------ parsing */

int dash_label_value(const char *l, size_t len, const char *key, char *out, size_t outn)
{
    size_t kl = strlen(key), i = 0;
    while (i < len) {
        while (i < len && (l[i] == ',' || l[i] == ' ')) i++;
        size_t ks = i;
        while (i < len && l[i] != '=') i++;
        if (i + 1 >= len || l[i + 1] != '"') return 0;
        int match = i - ks == kl && !memcmp(l + ks, key, kl);
        i += 2;
        size_t o = 0;
        while (i < len && l[i] != '"') {
            char c = l[i];
            if (c == '\\' && i + 1 < len) {
                c = l[++i];
                if (c == 'n') c = '\n';
            }
            if (match && o + 1 < outn) out[o++] = c;
            i++;
        }
        i++; /* closing quote */
        if (match) {
            if (outn) out[o] = 0;
            return 1;
        }
    }
    return 0;
}

void dash_parse_exposition(const char *t, size_t len, dash_sample_fn fn, void *ctx)
{
    size_t i = 0;
    while (i < len) {
        size_t eol = i;
        while (eol < len && t[eol] != '\n') eol++;
        const char *line = t + i;
        size_t n = eol - i;
        i = eol + 1;
        if (!n || line[0] == '#') continue;
        size_t p = 0;
        while (p < n && line[p] != '{' && line[p] != ' ') p++;
        size_t name_len = p;
        const char *labels = "";
        size_t labels_len = 0;
        if (p < n && line[p] == '{') {
            size_t ls = ++p;
            int inq = 0;
            while (p < n && (inq || line[p] != '}')) {
                if (line[p] == '\\' && inq) p++;
                else if (line[p] == '"') inq = !inq;
                p++;
            }
            if (p >= n) continue;
            labels = line + ls;
            labels_len = p - ls;
            p++;
        }
        while (p < n && line[p] == ' ') p++;
        if (p >= n || !name_len) continue;
        char num[64];
        size_t k = 0;
        while (p < n && line[p] != ' ' && k + 1 < sizeof num) num[k++] = line[p++];
        num[k] = 0;
        char *end;
        double v = strtod(num, &end);
        if (end == num || *end) continue;
        fn(ctx, line, name_len, labels, labels_len, v);
    }
}

static int name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && !memcmp(name, want, n);
}

static table_fig *table_of(job_ep *j, const char *labels, size_t len)
{
    char t[64];
    if (!dash_label_value(labels, len, "table", t, sizeof t)) return NULL;
    for (size_t i = 0; i < j->ntables; i++)
        if (!strcmp(j->tables[i].name, t)) return &j->tables[i];
    if (j->ntables == MAX_TABLES) return NULL;
    table_fig *f = &j->tables[j->ntables++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", t);
    f->version = -1;
    return f;
}

static void on_sample(void *ctx, const char *name, size_t n, const char *labels, size_t ll, double v)
{
    job_ep *j = ctx;
    if (name_is(name, n, "smarttech_events_in_total")) {
        j->events_in = v;
    } else if (name_is(name, n, "smarttech_consumer_lag")) {
        j->lag += v;
        j->has_lag = 1;
    } else if (name_is(name, n, "smarttech_ready")) {
        j->ready = v == 1;
    } else if (name_is(name, n, "smarttech_quarantined_total")) {
        char r[128];
        if (!dash_label_value(labels, ll, "reason", r, sizeof r)) return;
        double *d = st_xmalloc(sizeof *d);
        *d = v;
        strmap_put(j->reasons, r, d);
    } else if (name_is(name, n, "smarttech_table_version")) {
        table_fig *f = table_of(j, labels, ll);
        if (f) f->version = v;
    } else if (name_is(name, n, "smarttech_table_last_commit_timestamp_seconds")) {
        table_fig *f = table_of(j, labels, ll);
        if (f) f->last_commit = v;
    }
}

/* ------------------------------------------------------------------ fetching */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    st_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > MAX_BODY) return 0; /* aborts the transfer */
    st_buf_append(b, p, n);
    return n;
}

static void fetch(dash_scrape *s, job_ep *j)
{
    if (!s->curl) s->curl = curl_easy_init();
    CURL *c = s->curl;
    st_buf body = {0};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        j->up = 0;
        j->ready = 0;
        if (rc != CURLE_OK)
            snprintf(j->error, sizeof j->error, "%s", err[0] ? err : curl_easy_strerror(rc));
        else
            snprintf(j->error, sizeof j->error, "HTTP %ld", status);
        st_buf_free(&body);
        return;
    }
    j->up = 1;
    j->error[0] = 0;
    j->lag = 0;
    j->has_lag = 0;
    j->ready = 0;
    dash_parse_exposition((const char *)body.data, body.len, on_sample, j);
    st_buf_free(&body);
    int64_t now = st_monotonic_us();
    if (j->prev_us >= 0 && now - j->prev_us >= 900000 && j->events_in >= j->prev_events) {
        j->rate = (j->events_in - j->prev_events) * 1e6 / (double)(now - j->prev_us);
        j->prev_us = now;
        j->prev_events = j->events_in;
    } else if (j->prev_us < 0 || j->events_in < j->prev_events) { /* first scrape, or the job restarted */
        j->prev_us = now;
        j->prev_events = j->events_in;
        j->rate = 0;
    }
}

void dash_scrape_poll(dash_scrape *s)
{
    for (size_t i = 0; i < s->n; i++) fetch(s, &s->jobs[i]);
}

static void json_str(st_buf *b, const char *s)
{
    st_buf_append_json_str(b, s, strlen(s));
}

void dash_scrape_render(const dash_scrape *s, st_buf *b)
{
    st_buf_append_str(b, "\"jobs\":[");
    for (size_t i = 0; i < s->n; i++) {
        const job_ep *j = &s->jobs[i];
        st_buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
        json_str(b, j->name);
        st_buf_append_str(b, ",\"url\":");
        json_str(b, j->url);
        st_buf_printf(b, ",\"up\":%s,\"ready\":%s", j->up ? "true" : "false", j->ready ? "true" : "false");
        if (j->error[0]) {
            st_buf_append_str(b, ",\"error\":");
            json_str(b, j->error);
        }
        st_buf_append_str(b, ",\"events_in\":");
        iot_append_double(b, j->events_in);
        st_buf_append_str(b, ",\"events_per_s\":");
        iot_append_double(b, j->rate);
        st_buf_append_str(b, ",\"lag\":");
        if (j->has_lag)
            iot_append_double(b, j->lag);
        else
            st_buf_append_str(b, "null");
        st_buf_append_str(b, ",\"quarantine\":{");
        size_t pos = 0, k = 0;
        const char *key;
        void *v;
        while (strmap_next(j->reasons, &pos, &key, &v)) {
            if (k++) st_buf_append_u8(b, ',');
            json_str(b, key);
            st_buf_append_u8(b, ':');
            iot_append_double(b, *(double *)v);
        }
        st_buf_append_str(b, "},\"tables\":{");
        for (size_t t = 0; t < j->ntables; t++) {
            if (t) st_buf_append_u8(b, ',');
            json_str(b, j->tables[t].name);
            st_buf_append_str(b, ":{\"version\":");
            iot_append_double(b, j->tables[t].version);
            st_buf_append_str(b, ",\"last_commit\":");
            if (j->tables[t].last_commit > 0) {
                char ts[40];
                st_format_iso_us((int64_t)(j->tables[t].last_commit * 1e6), ts, sizeof ts, 1);
                json_str(b, ts);
            } else {
                st_buf_append_str(b, "null");
            }
            st_buf_append_u8(b, '}');
        }
        st_buf_append_str(b, "}}");
    }
    st_buf_append_u8(b, ']');
}
