/* dash_follow.c — the dashboard's readers of the tables (dash_follow.h). */
#include "dash/dash_follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "iot/event.h"
#include "source/delta_source.h"
#include "util/strmap.h"
#include "util/timeutil.h"

enum { G_START, G_END, G_BUILDING, G_FLOOR, G_ROOM, G_TYPE, G_COUNT, G_AVG, G_MIN, G_MAX, G_N };
static const char *const gold_cols[G_N] = {"window_start", "window_end", "building_id", "floor", "room_id",
                                           "sensor_type", "count", "avg", "min", "max"};
enum { A_ID, A_STATE, A_RULE, A_SENSOR, A_BUILDING, A_FLOOR, A_ROOM, A_TYPE, A_VALUE, A_THRESHOLD, A_EVENT, A_DETECT,
       A_N };
static const char *const alert_cols[A_N] = {"alert_id", "state",  "rule",     "sensor_id", "building_id",
                                            "floor",    "room_id", "sensor_type", "value", "threshold",
                                            "event_time", "detection_time"};
static const char *const quar_cols[1] = {"reason"};

/* A table read as a stream (source/delta_source.h: one stream, positions = versions). */
typedef struct stream {
    record_source *src;
    record *recs;          /* poll buffer */
    size_t done_w, done_a; /* pending rows that belong to completed versions */
} stream;

/* A table whose log is watched for the health panel. */
typedef struct watched {
    const char *name;
    char *path;
    delta_table *t;
    char error[ST_ERR_MSG_MAX];
} watched;

typedef struct pend_window {
    dash_window w;
    char *strs;            /* building, room, type, one allocation */
} pend_window;

enum { W_SILVER, W_QUAR, W_BRONZE_KAFKA, W_GOLD, W_ALERTS, W_N };

struct dash_follow {
    int max_versions;
    stream gold, alerts, quar;
    watched w[W_N];
    pend_window *pw;
    size_t npw, cappw;
    dash_alert *pa;
    size_t npa, cappa;
    strmap *reasons;       /* reason -> (uintptr_t) count */
    strmap *qpend;         /* the same for the quarantine version being read */
    int behind;
    /* Silver rows per second over the last >= 5 s */
    int64_t rate_t0_us, rate_rows0;
    double rate;
};

static char *dup_or_null(const char *s)
{
    return s ? st_xstrdup(s) : NULL;
}

dash_follow *dash_follow_new(const dash_paths *p, int max_versions)
{
    dash_follow *f = st_xcalloc(1, sizeof *f);
    f->max_versions = max_versions > 0 ? max_versions : 100;
    if (p->gold) f->gold.src = delta_source_new(p->gold, gold_cols, G_N);
    if (p->alerts) f->alerts.src = delta_source_new(p->alerts, alert_cols, A_N);
    if (p->quarantine) f->quar.src = delta_source_new(p->quarantine, quar_cols, 1);
    const char *names[W_N] = {"silver", "quarantine", "bronze_kafka", "gold_room_1m", "alerts"};
    const char *paths[W_N] = {p->silver, p->quarantine, p->bronze_kafka, p->gold, p->alerts};
    for (int i = 0; i < W_N; i++) {
        f->w[i].name = names[i];
        f->w[i].path = dup_or_null(paths[i]);
    }
    f->reasons = strmap_new(NULL);
    f->qpend = strmap_new(NULL);
    f->rate_t0_us = -1;
    return f;
}

static void pend_truncate(dash_follow *f, size_t w, size_t a);

static void pend_free(dash_follow *f)
{
    pend_truncate(f, 0, 0);
}

void dash_follow_destroy(dash_follow *f)
{
    if (!f) return;
    pend_free(f);
    free(f->pw);
    free(f->pa);
    stream *ss[3] = {&f->gold, &f->alerts, &f->quar};
    for (int i = 0; i < 3; i++) {
        record_source_destroy(ss[i]->src);
        free(ss[i]->recs);
    }
    for (int i = 0; i < W_N; i++) {
        delta_table_destroy(f->w[i].t);
        free(f->w[i].path);
    }
    strmap_destroy(f->reasons);
    strmap_destroy(f->qpend);
    free(f);
}

static const char *str_or(const record_value *v, char *tmp, size_t n)
{
    if (v->is_null || !v->str) return "";
    size_t l = v->len < n - 1 ? v->len : n - 1;
    memcpy(tmp, v->str, l);
    tmp[l] = 0;
    return tmp;
}

static void on_gold(dash_follow *f, const record_value *v)
{
    if (v[G_START].is_null || v[G_BUILDING].is_null || v[G_ROOM].is_null || v[G_TYPE].is_null || v[G_FLOOR].is_null)
        return; /* not a window we can place */
    if (f->npw == f->cappw) {
        f->cappw = f->cappw ? f->cappw * 2 : 256;
        f->pw = st_xrealloc(f->pw, f->cappw * sizeof *f->pw);
    }
    pend_window *p = &f->pw[f->npw++];
    size_t bl = v[G_BUILDING].len, rl = v[G_ROOM].len, tl = v[G_TYPE].len;
    p->strs = st_xmalloc(bl + rl + tl + 1);
    memcpy(p->strs, v[G_BUILDING].str, bl);
    memcpy(p->strs + bl, v[G_ROOM].str, rl);
    memcpy(p->strs + bl + rl, v[G_TYPE].str, tl);
    dash_window *w = &p->w;
    w->start_us = v[G_START].i64;
    w->end_us = v[G_END].is_null ? w->start_us : v[G_END].i64;
    w->building = p->strs;
    w->building_len = bl;
    w->floor = (int32_t)v[G_FLOOR].i64;
    w->room = p->strs + bl;
    w->room_len = rl;
    w->sensor_type = p->strs + bl + rl;
    w->type_len = tl;
    w->count = v[G_COUNT].is_null ? 0 : v[G_COUNT].i64;
    w->avg = v[G_AVG].is_null ? 0.0 / 0.0 : v[G_AVG].f64;
    w->min = v[G_MIN].is_null ? 0.0 / 0.0 : v[G_MIN].f64;
    w->max = v[G_MAX].is_null ? 0.0 / 0.0 : v[G_MAX].f64;
}

static void on_alert(dash_follow *f, const record_value *v)
{
    if (v[A_ID].is_null || v[A_STATE].is_null) return;
    if (f->npa == f->cappa) {
        f->cappa = f->cappa ? f->cappa * 2 : 64;
        f->pa = st_xrealloc(f->pa, f->cappa * sizeof *f->pa);
    }
    dash_alert *a = &f->pa[f->npa++];
    char tmp[512];
    a->alert_id = st_xstrdup(str_or(&v[A_ID], tmp, sizeof tmp));
    a->state = st_xstrdup(str_or(&v[A_STATE], tmp, sizeof tmp));
    a->rule = st_xstrdup(str_or(&v[A_RULE], tmp, sizeof tmp));
    a->sensor_id = st_xstrdup(str_or(&v[A_SENSOR], tmp, sizeof tmp));
    a->building = st_xstrdup(str_or(&v[A_BUILDING], tmp, sizeof tmp));
    a->room = st_xstrdup(str_or(&v[A_ROOM], tmp, sizeof tmp));
    a->sensor_type = st_xstrdup(str_or(&v[A_TYPE], tmp, sizeof tmp));
    a->floor = v[A_FLOOR].is_null ? 0 : (int32_t)v[A_FLOOR].i64;
    a->value = v[A_VALUE].is_null ? 0.0 / 0.0 : v[A_VALUE].f64;
    a->threshold = v[A_THRESHOLD].is_null ? 0.0 / 0.0 : v[A_THRESHOLD].f64;
    a->event_time_us = v[A_EVENT].is_null ? -1 : v[A_EVENT].i64;
    a->detection_time_us = v[A_DETECT].is_null ? -1 : v[A_DETECT].i64;
}

static void on_quarantine(dash_follow *f, const record_value *v)
{
    char tmp[128] = "";
    /* reasons are "missing_field:event_time" and the like: count by the part before ':' so the
     * panel stays one line per rule, whatever the fields */
    const char *r = str_or(v, tmp, sizeof tmp);
    char *colon = strchr(tmp, ':');
    if (r == tmp && colon) *colon = 0;
    uintptr_t n = (uintptr_t)strmap_get(f->qpend, r[0] ? r : "unknown");
    strmap_put(f->qpend, r[0] ? r : "unknown", (void *)(n + 1));
}

/* Frees the pending rows from index w (windows) and a (alerts) on. */
static void pend_truncate(dash_follow *f, size_t w, size_t a)
{
    size_t nw = f->npw, na = f->npa;
    for (size_t i = w; i < nw; i++) free(f->pw[i].strs);
    for (size_t i = a; i < na; i++) {
        dash_alert *x = &f->pa[i];
        free((char *)x->alert_id);
        free((char *)x->state);
        free((char *)x->rule);
        free((char *)x->sensor_id);
        free((char *)x->building);
        free((char *)x->room);
        free((char *)x->sensor_type);
    }
    f->npw = w;
    f->npa = a;
}

/* Adds the quarantine counts of the version just completed to the totals (keep = 1), or drops
 * them (a version that failed half-way is read again). */
static void qpend_merge(dash_follow *f, int keep)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (keep && strmap_next(f->qpend, &pos, &k, &v))
        strmap_put(f->reasons, k, (void *)((uintptr_t)strmap_get(f->reasons, k) + (uintptr_t)v));
    strmap_destroy(f->qpend);
    f->qpend = strmap_new(NULL);
}

#define POLL_RECORDS 1024

/* Reads up to max_versions new versions of s (a missing table gives nothing). Rows count only
 * with their version's DONE marker: a read that fails half-way through a version restarts that
 * version at the next poll, so its first rows are dropped here rather than taken twice. */
static st_code stream_poll(dash_follow *f, stream *s, void (*fn)(dash_follow *, const record_value *), st_err *e)
{
    if (!s->src) return ST_OK;
    if (!s->recs) s->recs = st_xmalloc(POLL_RECORDS * sizeof *s->recs);
    size_t mark_w = f->npw, mark_a = f->npa;
    int versions = 0, end = 0;
    int64_t last_done = -1;
    st_code rc = ST_OK;
    while (!end && versions < f->max_versions) {
        size_t n = 0;
        rc = record_source_poll(s->src, s->recs, POLL_RECORDS, 0, &n, e);
        if (rc || !n) break;
        for (size_t i = 0; i < n; i++) {
            const record *r = &s->recs[i];
            if (r->kind == RECORD_DATA && r->fields) {
                fn(f, r->fields);
            } else if (r->kind == RECORD_DONE) {
                versions++;
                last_done = r->position;
                qpend_merge(f, 1);
                mark_w = f->npw;
                mark_a = f->npa;
            } else if (r->kind == RECORD_END) {
                end = 1;
            }
        }
        record_source_release(s->src);
    }
    if (rc) {
        pend_truncate(f, mark_w, mark_a);
        qpend_merge(f, 0);
        return rc;
    }
    int64_t lo, hi;
    if (!end && versions >= f->max_versions &&
        (record_source_bounds(s->src, 0, 0, &lo, &hi, NULL) != ST_OK || last_done + 1 < hi))
        f->behind = 1;
    return ST_OK;
}

static void watch_poll(watched *w)
{
    if (!w->path) return;
    st_err e;
    if (!w->t) {
        w->t = delta_table_open(w->path, NULL, &e);
        if (!w->t) {
            snprintf(w->error, sizeof w->error, "%s", e.code == ST_ERR_NOTFOUND ? "no table yet" : e.msg);
            return;
        }
    } else if (delta_table_refresh(w->t, &e) != ST_OK) {
        snprintf(w->error, sizeof w->error, "%s", e.msg);
        return;
    }
    w->error[0] = 0;
}

st_code dash_follow_poll(dash_follow *f, st_err *e)
{
    f->behind = 0;
    st_code rc = stream_poll(f, &f->gold, on_gold, e);
    if (rc == ST_OK) rc = stream_poll(f, &f->alerts, on_alert, e);
    if (rc) return rc;
    st_err qe;
    if (stream_poll(f, &f->quar, on_quarantine, &qe) != ST_OK)
        snprintf(f->w[W_QUAR].error, sizeof f->w[W_QUAR].error, "%s", qe.msg);
    for (int i = 0; i < W_N; i++) watch_poll(&f->w[i]);
    const delta_table *st = f->w[W_SILVER].t;
    if (st) {
        int64_t now = st_monotonic_us();
        int64_t rows = delta_snapshot_total_records(delta_table_snapshot(st));
        if (f->rate_t0_us < 0) {
            f->rate_t0_us = now;
            f->rate_rows0 = rows;
        } else if (now - f->rate_t0_us >= 5000000) {
            f->rate = (double)(rows - f->rate_rows0) * 1e6 / (double)(now - f->rate_t0_us);
            f->rate_t0_us = now;
            f->rate_rows0 = rows;
        }
    }
    return ST_OK;
}

size_t dash_follow_apply(dash_follow *f, dash_model *m)
{
    size_t n = f->npw + f->npa;
    for (size_t i = 0; i < f->npw; i++) dash_model_add_window(m, &f->pw[i].w);
    for (size_t i = 0; i < f->npa; i++) dash_model_add_alert(m, &f->pa[i]);
    pend_free(f);
    return n;
}

int dash_follow_behind(const dash_follow *f)
{
    return f->behind;
}

void dash_follow_render_health(const dash_follow *f, st_buf *b)
{
    st_buf_append_str(b, "\"tables\":[");
    int first = 1;
    for (int i = 0; i < W_N; i++) {
        const watched *w = &f->w[i];
        if (!w->path) continue;
        st_buf_append_str(b, first ? "{\"name\":" : ",{\"name\":");
        first = 0;
        st_buf_append_json_str(b, w->name, strlen(w->name));
        st_buf_append_str(b, ",\"path\":");
        st_buf_append_json_str(b, w->path, strlen(w->path));
        if (w->t) {
            const delta_snapshot *s = delta_table_snapshot(w->t);
            char t[40] = "";
            int64_t ms = delta_snapshot_last_commit_ms(s);
            if (ms > 0) st_format_iso_us(ms * 1000, t, sizeof t, 1);
            st_buf_printf(b, ",\"version\":%lld,\"rows\":%lld,\"files\":%zu,\"last_commit\":",
                          (long long)delta_snapshot_version(s), (long long)delta_snapshot_total_records(s),
                          delta_snapshot_num_files(s));
            if (t[0])
                st_buf_append_json_str(b, t, strlen(t));
            else
                st_buf_append_str(b, "null");
        }
        if (w->error[0]) {
            st_buf_append_str(b, ",\"error\":");
            st_buf_append_json_str(b, w->error, strlen(w->error));
        }
        st_buf_append_u8(b, '}');
    }
    st_buf_append_str(b, "],\"quarantine\":{");
    size_t pos = 0;
    const char *k;
    void *v;
    first = 1;
    while (strmap_next(f->reasons, &pos, &k, &v)) {
        if (!first) st_buf_append_u8(b, ',');
        first = 0;
        st_buf_append_json_str(b, k, strlen(k));
        st_buf_printf(b, ":%llu", (unsigned long long)(uintptr_t)v);
    }
    st_buf_append_str(b, "},\"silver_rows_per_s\":");
    iot_append_double(b, f->rate);
}
