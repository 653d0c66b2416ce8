/* dash_model.c — the dashboard's in-memory view of Gold and alerts (dash_model.h). */
#include "dash/dash_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot/event.h"
#include "util/strmap.h"
#include "util/timeutil.h"

typedef struct point {
    int64_t start_us, end_us, count;
    double avg, min, max;
} point;

typedef struct series {
    char *type;
    point *p;           /* sorted by start_us, at most DASH_MAX_POINTS */
    size_t n;
} series;

typedef struct room {
    char *building, *name;
    int32_t floor;
    series *s;          /* sorted by type */
    size_t ns;
} room;

typedef struct alert_rec {
    char *id, *rule, *sensor_id, *building, *room, *sensor_type;
    int32_t floor;
    int open;           /* opened and not closed */
    double value, threshold;          /* of the open row */
    int64_t opened_us, detected_us;   /* event time / detection time of the open row */
    int64_t closed_us;                /* event time of the close row, -1 */
    int64_t last_seq;                 /* history position of its newest row */
} alert_rec;

typedef struct hist_row {
    char *alert_id;
    const char *state;  /* "open" / "close" */
    double value, threshold;
    int64_t event_time_us, detection_time_us;
} hist_row;

struct dash_model {
    const alert_rules *rules;
    int64_t keep_us;
    strmap *rooms;      /* "building\x1ffloor\x1froom" -> room */
    strmap *alerts;     /* alert_id -> alert_rec */
    hist_row *hist;     /* ring of `history` rows */
    size_t history, nhist, hist_head;
    int64_t seq;        /* rows seen */
    int64_t newest_us;  /* newest window_start, INT64_MIN before any */
};

static void room_free(void *v)
{
    room *r = v;
    for (size_t i = 0; i < r->ns; i++) {
        free(r->s[i].type);
        free(r->s[i].p);
    }
    free(r->s);
    free(r->building);
    free(r->name);
    free(r);
}

static void alert_free(void *v)
{
    alert_rec *a = v;
    free(a->id);
    free(a->rule);
    free(a->sensor_id);
    free(a->building);
    free(a->room);
    free(a->sensor_type);
    free(a);
}

dash_model *dash_model_new(const alert_rules *rules, int64_t keep_us, size_t history)
{
    dash_model *m = st_xcalloc(1, sizeof *m);
    m->rules = rules;
    m->keep_us = keep_us > 0 ? keep_us : 3600LL * 1000000;
    m->rooms = strmap_new(room_free);
    m->alerts = strmap_new(alert_free);
    m->history = history ? history : 200;
    m->hist = st_xcalloc(m->history, sizeof *m->hist);
    m->newest_us = INT64_MIN;
    return m;
}

void dash_model_destroy(dash_model *m)
{
    if (!m) return;
    strmap_destroy(m->rooms);
    strmap_destroy(m->alerts);
    for (size_t i = 0; i < m->history; i++) free(m->hist[i].alert_id);
    free(m->hist);
    free(m);
}

static void room_key(st_buf *k, const char *b, size_t bl, int32_t floor, const char *r, size_t rl)
{
    st_buf_reset(k);
    st_buf_append(k, b, bl);
    st_buf_printf(k, "\x1f%d\x1f", (int)floor);
    st_buf_append(k, r, rl);
    st_buf_cstr(k);
}

static series *room_series(room *r, const char *type, size_t tl)
{
    size_t i = 0;
    for (; i < r->ns; i++) {
        int c = strncmp(r->s[i].type, type, tl);
        if (c == 0 && r->s[i].type[tl] == 0) return &r->s[i];
        if (c > 0 || (c == 0 && r->s[i].type[tl])) break;
    }
    r->s = st_xrealloc(r->s, (r->ns + 1) * sizeof *r->s);
    memmove(&r->s[i + 1], &r->s[i], (r->ns - i) * sizeof *r->s);
    r->ns++;
    memset(&r->s[i], 0, sizeof r->s[i]);
    r->s[i].type = st_xstrndup(type, tl);
    return &r->s[i];
}

void dash_model_add_window(dash_model *m, const dash_window *w)
{
    st_buf k = {0};
    room_key(&k, w->building, w->building_len, w->floor, w->room, w->room_len);
    room *r = strmap_get(m->rooms, (const char *)k.data);
    if (!r) {
        r = st_xcalloc(1, sizeof *r);
        r->building = st_xstrndup(w->building, w->building_len);
        r->name = st_xstrndup(w->room, w->room_len);
        r->floor = w->floor;
        strmap_put(m->rooms, (const char *)k.data, r);
    }
    st_buf_free(&k);
    series *s = room_series(r, w->sensor_type, w->type_len);
    point np = {w->start_us, w->end_us, w->count, w->avg, w->min, w->max};
    /* windows come in order of their close; a late one is inserted in place, a repeated one
     * (the same window written again) replaces its twin */
    size_t at = s->n;
    while (at > 0 && s->p[at - 1].start_us > np.start_us) at--;
    if (at > 0 && s->p[at - 1].start_us == np.start_us) {
        s->p[at - 1] = np;
    } else {
        if (s->n == DASH_MAX_POINTS) {
            if (at == 0) return; /* older than everything kept */
            memmove(&s->p[0], &s->p[1], (s->n - 1) * sizeof *s->p);
            s->n--;
            at--;
        } else {
            s->p = st_xrealloc(s->p, (s->n + 1) * sizeof *s->p);
        }
        memmove(&s->p[at + 1], &s->p[at], (s->n - at) * sizeof *s->p);
        s->p[at] = np;
        s->n++;
    }
    /* drop what fell out of the kept span of this series */
    size_t drop = 0;
    int64_t newest = s->p[s->n - 1].start_us;
    while (drop < s->n && s->p[drop].start_us < newest - m->keep_us) drop++;
    if (drop) {
        memmove(&s->p[0], &s->p[drop], (s->n - drop) * sizeof *s->p);
        s->n -= drop;
    }
    if (np.start_us > m->newest_us) m->newest_us = np.start_us;
}

void dash_model_add_alert(dash_model *m, const dash_alert *a)
{
    if (!a->alert_id || !a->state) return;
    int open = !strcmp(a->state, "open");
    hist_row *h = &m->hist[m->hist_head];
    if (h->alert_id) {
        /* the oldest history row leaves; its alert is forgotten when that was its newest row
         * and it is closed (an open alert stays, however old) */
        alert_rec *old = strmap_get(m->alerts, h->alert_id);
        if (old && !old->open && old->last_seq <= m->seq - (int64_t)m->history) strmap_remove(m->alerts, h->alert_id);
        free(h->alert_id);
    }
    alert_rec *r = strmap_get(m->alerts, a->alert_id);
    if (!r) {
        r = st_xcalloc(1, sizeof *r);
        r->id = st_xstrdup(a->alert_id);
        r->rule = st_xstrdup(a->rule ? a->rule : "");
        r->sensor_id = st_xstrdup(a->sensor_id ? a->sensor_id : "");
        r->building = st_xstrdup(a->building ? a->building : "");
        r->room = st_xstrdup(a->room ? a->room : "");
        r->sensor_type = st_xstrdup(a->sensor_type ? a->sensor_type : "");
        r->floor = a->floor;
        r->closed_us = -1;
        strmap_put(m->alerts, a->alert_id, r);
    }
    if (open) {
        r->open = r->closed_us < 0; /* a close read before its open (other table order) wins */
        r->value = a->value;
        r->threshold = a->threshold;
        r->opened_us = a->event_time_us;
        r->detected_us = a->detection_time_us;
    } else {
        r->open = 0;
        r->closed_us = a->event_time_us;
    }
    r->last_seq = m->seq++;
    h->alert_id = st_xstrdup(a->alert_id);
    h->state = open ? "open" : "close";
    h->value = a->value;
    h->threshold = a->threshold;
    h->event_time_us = a->event_time_us;
    h->detection_time_us = a->detection_time_us;
    m->hist_head = (m->hist_head + 1) % m->history;
    if (m->nhist < m->history) m->nhist++;
}

const char *dash_model_level(const dash_model *m, const char *sensor_type, double value)
{
    const char *level = "none";
    for (size_t i = 0; m->rules && i < alert_rules_count(m->rules); i++) {
        const alert_rule *r = alert_rules_get(m->rules, i);
        if (strcmp(r->sensor_type, sensor_type)) continue;
        double bound;
        if (alert_rule_fails(r, value, &bound)) return "alert";
        if (!alert_rule_recovered(r, value))
            level = "warn";
        else if (strcmp(level, "warn"))
            level = "ok";
    }
    return level;
}

size_t dash_model_rooms(const dash_model *m)
{
    return strmap_count(m->rooms);
}

size_t dash_model_open_alerts(const dash_model *m)
{
    size_t n = 0, pos = 0;
    const char *k;
    void *v;
    while (strmap_next(m->alerts, &pos, &k, &v)) n += ((alert_rec *)v)->open;
    return n;
}

static void json_str(st_buf *b, const char *s)
{
    st_buf_append_json_str(b, s, strlen(s));
}

static void json_num(st_buf *b, double v)
{
    iot_append_double(b, v); /* NaN/Inf -> null */
}

static void json_time(st_buf *b, int64_t us)
{
    if (us == INT64_MIN || us < 0) {
        st_buf_append_str(b, "null");
        return;
    }
    char t[40];
    st_format_iso_us(us, t, sizeof t, 1);
    json_str(b, t);
}

static int room_cmp(const void *a, const void *b)
{
    const room *x = *(room *const *)a, *y = *(room *const *)b;
    int c = strcmp(x->building, y->building);
    if (c) return c;
    if (x->floor != y->floor) return x->floor < y->floor ? -1 : 1;
    return strcmp(x->name, y->name);
}

static room **sorted_rooms(const dash_model *m, size_t *n)
{
    *n = strmap_count(m->rooms);
    room **v = st_xmalloc((*n ? *n : 1) * sizeof *v);
    size_t pos = 0, i = 0;
    const char *k;
    void *val;
    while (strmap_next(m->rooms, &pos, &k, &val)) v[i++] = val;
    qsort(v, *n, sizeof *v, room_cmp);
    return v;
}

static int alert_cmp(const void *a, const void *b)
{
    const alert_rec *x = *(alert_rec *const *)a, *y = *(alert_rec *const *)b;
    if (x->opened_us != y->opened_us) return x->opened_us > y->opened_us ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void render_alert_subject(st_buf *b, const alert_rec *r)
{
    st_buf_append_str(b, "\"alert_id\":");
    json_str(b, r->id);
    st_buf_append_str(b, ",\"rule\":");
    json_str(b, r->rule);
    st_buf_append_str(b, ",\"sensor_id\":");
    json_str(b, r->sensor_id);
    st_buf_append_str(b, ",\"building\":");
    json_str(b, r->building);
    st_buf_printf(b, ",\"floor\":%d,\"room\":", (int)r->floor);
    json_str(b, r->room);
    st_buf_append_str(b, ",\"sensor_type\":");
    json_str(b, r->sensor_type);
}

void dash_model_render(const dash_model *m, st_buf *b)
{
    st_buf_append_str(b, "\"data_time\":");
    json_time(b, m->newest_us);
    st_buf_append_str(b, ",\"rules\":[");
    for (size_t i = 0; m->rules && i < alert_rules_count(m->rules); i++) {
        const alert_rule *r = alert_rules_get(m->rules, i);
        st_buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
        json_str(b, r->name);
        st_buf_append_str(b, ",\"sensor_type\":");
        json_str(b, r->sensor_type);
        st_buf_printf(b, ",\"op\":\"%s\",\"lo\":",
                      r->op == ALERT_OP_ABOVE ? "above" : r->op == ALERT_OP_BELOW ? "below" : "outside");
        json_num(b, r->op == ALERT_OP_ABOVE ? -1.0 / 0.0 : r->lo);
        st_buf_append_str(b, ",\"hi\":");
        json_num(b, r->op == ALERT_OP_BELOW ? 1.0 / 0.0 : r->hi);
        st_buf_append_str(b, ",\"hysteresis\":");
        json_num(b, r->hysteresis);
        st_buf_append_u8(b, '}');
    }
    st_buf_append_str(b, "],\"rooms\":[");
    size_t n;
    room **rs = sorted_rooms(m, &n);
    for (size_t i = 0; i < n; i++) {
        room *r = rs[i];
        st_buf_append_str(b, i ? ",{\"building\":" : "{\"building\":");
        json_str(b, r->building);
        st_buf_printf(b, ",\"floor\":%d,\"room\":", (int)r->floor);
        json_str(b, r->name);
        st_buf_append_str(b, ",\"sensors\":{");
        for (size_t j = 0; j < r->ns; j++) {
            const series *s = &r->s[j];
            if (!s->n) continue;
            const point *p = &s->p[s->n - 1];
            if (j) st_buf_append_u8(b, ',');
            json_str(b, s->type);
            st_buf_append_str(b, ":{\"avg\":");
            json_num(b, p->avg);
            st_buf_append_str(b, ",\"min\":");
            json_num(b, p->min);
            st_buf_append_str(b, ",\"max\":");
            json_num(b, p->max);
            st_buf_printf(b, ",\"count\":%lld,\"window_start\":", (long long)p->count);
            json_time(b, p->start_us);
            st_buf_printf(b, ",\"level\":\"%s\"}", dash_model_level(m, s->type, p->avg));
        }
        st_buf_append_str(b, "}}");
    }
    free(rs);
    /* open alerts, newest opened first */
    size_t na = strmap_count(m->alerts), k = 0, pos = 0;
    alert_rec **open = st_xmalloc((na ? na : 1) * sizeof *open);
    const char *key;
    void *v;
    while (strmap_next(m->alerts, &pos, &key, &v))
        if (((alert_rec *)v)->open) open[k++] = v;
    qsort(open, k, sizeof *open, alert_cmp);
    st_buf_append_str(b, "],\"alerts\":{\"open\":[");
    for (size_t i = 0; i < k; i++) {
        st_buf_append_str(b, i ? ",{" : "{");
        render_alert_subject(b, open[i]);
        st_buf_append_str(b, ",\"value\":");
        json_num(b, open[i]->value);
        st_buf_append_str(b, ",\"threshold\":");
        json_num(b, open[i]->threshold);
        st_buf_append_str(b, ",\"opened\":");
        json_time(b, open[i]->opened_us);
        st_buf_append_str(b, ",\"detected\":");
        json_time(b, open[i]->detected_us);
        st_buf_append_u8(b, '}');
    }
    free(open);
    st_buf_append_str(b, "],\"history\":[");
    for (size_t i = 0; i < m->nhist; i++) {
        const hist_row *h = &m->hist[(m->hist_head + m->history - 1 - i) % m->history];
        const alert_rec *r = strmap_get(m->alerts, h->alert_id);
        st_buf_append_str(b, i ? ",{" : "{");
        if (r) {
            render_alert_subject(b, r);
        } else {
            st_buf_append_str(b, "\"alert_id\":");
            json_str(b, h->alert_id);
        }
        st_buf_printf(b, ",\"state\":\"%s\",\"value\":", h->state);
        json_num(b, h->value);
        st_buf_append_str(b, ",\"threshold\":");
        json_num(b, h->threshold);
        st_buf_append_str(b, ",\"event_time\":");
        json_time(b, h->event_time_us);
        st_buf_append_str(b, ",\"detection_time\":");
        json_time(b, h->detection_time_us);
        st_buf_append_u8(b, '}');
    }
    st_buf_append_str(b, "]}");
}

st_code dash_model_render_series(const dash_model *m, const char *building, int32_t floor, const char *room_name,
                                 int minutes, st_buf *b, st_err *e)
{
    st_buf k = {0};
    room_key(&k, building, strlen(building), floor, room_name, strlen(room_name));
    room *r = strmap_get(m->rooms, (const char *)k.data);
    st_buf_free(&k);
    if (!r) return st_err_set(e, ST_ERR_NOTFOUND, "no room %s/%d/%s in Gold", building, (int)floor, room_name);
    if (minutes < 1) minutes = 1;
    if (minutes > DASH_MAX_MINUTES) minutes = DASH_MAX_MINUTES;
    int64_t from = m->newest_us - (int64_t)minutes * 60 * 1000000;
    st_buf_append_str(b, "{\"building\":");
    json_str(b, r->building);
    st_buf_printf(b, ",\"floor\":%d,\"room\":", (int)r->floor);
    json_str(b, r->name);
    st_buf_printf(b, ",\"minutes\":%d,\"series\":{", minutes);
    for (size_t j = 0; j < r->ns; j++) {
        const series *s = &r->s[j];
        size_t i0 = 0;
        while (i0 < s->n && s->p[i0].start_us < from) i0++;
        if (j) st_buf_append_u8(b, ',');
        json_str(b, s->type);
        static const char *const cols[] = {"t", "avg", "min", "max"};
        st_buf_append_u8(b, ':');
        for (int c = 0; c < 4; c++) {
            st_buf_printf(b, "%s\"%s\":[", c ? "," : "{", cols[c]);
            for (size_t i = i0; i < s->n; i++) {
                if (i > i0) st_buf_append_u8(b, ',');
                const point *p = &s->p[i];
                if (c == 0)
                    st_buf_printf(b, "%lld", (long long)(p->start_us / 1000000));
                else
                    json_num(b, c == 1 ? p->avg : c == 2 ? p->min : p->max);
            }
            st_buf_append_u8(b, ']');
        }
        st_buf_append_u8(b, '}');
    }
    st_buf_append_str(b, "}}");
    return ST_OK;
}
