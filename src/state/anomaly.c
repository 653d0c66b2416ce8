/* anomaly.c — the per-sensor online model and its four detectors (see anomaly.h). */
#include "state/anomaly.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/anomaly_internal.h"
#include "util/hash.h"
#include "util/timeutil.h"

static const int64_t bucket_us = AN_BUCKET_US;
static const int64_t hour_us = 3600LL * 1000000;

/* Holt's smoothing per reading: level gain, trend gain (x level gain), spread memory. */
static const double holt_alpha = 0.3, holt_beta = 0.1, spread_gain = 0.02, clip_spreads = 3.0;
/* Share of unchanged readings: exponential memory in reading pairs. */
static const double flat_memory = 1000.0;
/* A flat run this improbable (-log10) already keeps its readings out of the spread and means. */
static const double frozen_score = 2.0;
/* Offset learning per 2-minute mean: baseline and its spread (memory in steps, 1 h and 2 h). */
static const double base_memory = 30.0, offset_spread_memory = 60.0;
/* An hour enters the daily profile when this many of its 2-minute means were clean. */
static const int hour_min_means = 15;
/* The daily profile forgets over about a week. */
static const int profile_memory_days = 7;

static const char *const kind_names[ANOMALY_KIND_COUNT] = {"stuck", "drift", "spike", "silent"};

const char *anomaly_kind_str(anomaly_kind k)
{
    return (unsigned)k < ANOMALY_KIND_COUNT ? kind_names[k] : "unknown";
}

/* ------------------------------------------------------------------ parameters */

void anomaly_params_init(anomaly_params *p)
{
    p->lateness_us = 120LL * 1000000;
    p->warmup_readings = 30;
    p->stuck_readings = 10;
    p->stuck_score = 6;
    p->spike_score = 8;
    p->spike_return = 4;
    p->spike_readings = 5;
    p->silent_factor = 6;
    p->reference_sensors = 3;
    p->drift_score = 6;
    p->drift_spreads = 4;
    p->drift_buckets = 2;
    p->drift_warmup_buckets = 10;
    p->profile_days = 3;
}

typedef struct param_def {
    const char *name;
    size_t off;
    int is_int;
    double lo, hi;
} param_def;

#define PI_(f, lo, hi) {#f, offsetof(anomaly_params, f), 1, lo, hi}
#define PD_(f, lo, hi) {#f, offsetof(anomaly_params, f), 0, lo, hi}
static const param_def param_defs[] = {
    PI_(warmup_readings, 2, 1e6),     PI_(stuck_readings, 2, 1e6),     PD_(stuck_score, 0.5, 100),
    PD_(spike_score, 2, 1000),        PD_(spike_return, 0.5, 1000),    PI_(spike_readings, 1, 100),
    PD_(silent_factor, 1.5, 1e6),     PI_(reference_sensors, 3, AN_REF_MAX), PD_(drift_score, 1, 1000),
    PD_(drift_spreads, 0, 1000),      PI_(drift_buckets, 1, AN_RING),  PI_(drift_warmup_buckets, 2, 1e6),
    PI_(profile_days, 2, 255),
};
#define NPARAMS (sizeof param_defs / sizeof param_defs[0])

st_code anomaly_params_set(anomaly_params *p, const char *a, st_err *e)
{
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    for (size_t i = 0; i < NPARAMS; i++) {
        const param_def *d = &param_defs[i];
        if (strlen(d->name) != n || memcmp(d->name, a, n)) continue;
        char *end = NULL;
        errno = 0;
        double v = eq ? strtod(eq + 1, &end) : NAN;
        if (!eq || errno || end == eq + 1 || *end || !(v >= d->lo && v <= d->hi) || (d->is_int && v != floor(v)))
            return st_err_set(e, ST_ERR_ARG, "anomaly parameter %s needs %s between %g and %g (got '%s')", d->name,
                              d->is_int ? "a whole number" : "a number", d->lo, d->hi, eq ? eq + 1 : "");
        if (d->is_int)
            *(int *)((char *)p + d->off) = (int)v;
        else
            *(double *)((char *)p + d->off) = v;
        return ST_OK;
    }
    st_buf names = {0};
    for (size_t i = 0; i < NPARAMS; i++) st_buf_printf(&names, "%s%s", i ? ", " : "", param_defs[i].name);
    st_code rc = st_err_set(e, ST_ERR_ARG, "unknown anomaly parameter '%.*s' (known: %s)", (int)(n > 64 ? 64 : n), a,
                            st_buf_cstr(&names));
    st_buf_free(&names);
    return rc;
}

void anomaly_params_describe(const anomaly_params *p, st_buf *out)
{
    for (size_t i = 0; i < NPARAMS; i++) {
        const param_def *d = &param_defs[i];
        if (d->is_int)
            st_buf_printf(out, "%s %d\n", d->name, *(const int *)((const char *)p + d->off));
        else
            st_buf_printf(out, "%s %g\n", d->name, *(const double *)((const char *)p + d->off));
    }
}

/* ------------------------------------------------------------------ registry */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

static int64_t bucket_of(int64_t t) { return floor_div(t, bucket_us); }
static int64_t bucket_start(int64_t b) { return b * bucket_us; }
static int slot_of(int64_t b) { return (int)(b - floor_div(b, AN_RING) * AN_RING); }

/* FNV-1a over n bytes, then a separator, so ("ab","c") and ("a","bc") differ. */
/* FNV-1a over n more bytes, then a 0xff separator byte so ("ab","c") != ("a","bc"). */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    return st_fnv1a64_more(st_fnv1a64_more(h, p, n), "\xff", 1);
}

uint64_t an_sensor_hash(const char *id, size_t n) { return mix(ST_FNV64_LEGACY_OFFSET, id, n); }

uint64_t an_group_hash(const char *b, size_t bl, int32_t floor, const char *r, size_t rl, const char *t, size_t tl)
{
    uint64_t h = mix(ST_FNV64_LEGACY_OFFSET, b, bl);
    h = mix(h, &floor, sizeof floor);
    h = mix(h, r, rl);
    return mix(h, t, tl);
}

/* Inserts position pos with hash h into an open-addressing index, doubling it past half
 * full (hash_at recomputes the hash of a stored position). */
static void index_add(an_index *x, uint64_t h, uint32_t pos, uint64_t (*hash_at)(const anomaly_model *, uint32_t),
                      const anomaly_model *m)
{
    if (2 * (x->n + 1) > x->cap) {
        an_index old = *x;
        x->cap = old.cap ? old.cap * 2 : 64;
        x->slot = st_xcalloc(x->cap, sizeof *x->slot);
        x->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slot[i]) index_add(x, hash_at(m, old.slot[i] - 1), old.slot[i] - 1, hash_at, m);
        free(old.slot);
    }
    size_t i = h & (x->cap - 1);
    while (x->slot[i]) i = (i + 1) & (x->cap - 1);
    x->slot[i] = pos + 1;
    x->n++;
}

static uint64_t sensor_hash_at(const anomaly_model *m, uint32_t pos)
{
    return an_sensor_hash(m->s[pos]->id, m->s[pos]->id_len);
}

static uint64_t group_hash_at(const anomaly_model *m, uint32_t pos) { return m->g[pos]->hash; }

uint32_t an_group_add(anomaly_model *m, char *building, char *room, char *type, int32_t floor)
{
    an_group *g = st_xcalloc(1, sizeof *g);
    g->building = building;
    g->room = room;
    g->type = type;
    g->floor = floor;
    g->hash = an_group_hash(building, strlen(building), floor, room, strlen(room), type, strlen(type));
    g->kind = iot_kind_find(type, strlen(type));
    g->cursor = g->head = g->joined = INT64_MIN;
    if (m->ng == m->capg) {
        m->capg = m->capg ? m->capg * 2 : 16;
        m->g = st_xrealloc(m->g, m->capg * sizeof *m->g);
    }
    uint32_t pos = (uint32_t)m->ng;
    m->g[m->ng++] = g;
    index_add(&m->gidx, g->hash, pos, group_hash_at, m);
    return pos;
}

uint32_t an_sensor_add(anomaly_model *m, an_sensor *s)
{
    if (m->ns == m->caps) {
        m->caps = m->caps ? m->caps * 2 : 64;
        m->s = st_xrealloc(m->s, m->caps * sizeof *m->s);
    }
    uint32_t pos = (uint32_t)m->ns;
    m->s[m->ns++] = s;
    index_add(&m->sidx, an_sensor_hash(s->id, s->id_len), pos, sensor_hash_at, m);
    return pos;
}

/* O(partitions): they are few. */
uint32_t an_part_get(anomaly_model *m, int32_t id)
{
    for (size_t i = 0; i < m->np; i++)
        if (m->parts[i].id == id) return (uint32_t)i;
    if (m->np == m->capp) {
        m->capp = m->capp ? m->capp * 2 : 8;
        m->parts = st_xrealloc(m->parts, m->capp * sizeof *m->parts);
    }
    m->parts[m->np] = (an_part){id, INT64_MIN, INT64_MIN};
    return (uint32_t)m->np++;
}

/* s[0..n) equals the NUL-terminated a. */
static int str_is(const char *a, const char *s, size_t n) { return strlen(a) == n && !memcmp(a, s, n); }

/* The room of a reading, created on first use. */
static uint32_t group_of(anomaly_model *m, const anomaly_reading *r)
{
    uint64_t h = an_group_hash(r->building_id.ptr, r->building_id.len, r->floor, r->room_id.ptr, r->room_id.len,
                               r->sensor_type.ptr, r->sensor_type.len);
    if (m->gidx.cap)
        for (size_t i = h & (m->gidx.cap - 1); m->gidx.slot[i]; i = (i + 1) & (m->gidx.cap - 1)) {
            const an_group *g = m->g[m->gidx.slot[i] - 1];
            if (g->hash == h && g->floor == r->floor && str_is(g->building, r->building_id.ptr, r->building_id.len) &&
                str_is(g->room, r->room_id.ptr, r->room_id.len) &&
                str_is(g->type, r->sensor_type.ptr, r->sensor_type.len))
                return m->gidx.slot[i] - 1;
        }
    return an_group_add(m, st_xstrndup(r->building_id.ptr, r->building_id.len),
                        st_xstrndup(r->room_id.ptr, r->room_id.len),
                        st_xstrndup(r->sensor_type.ptr, r->sensor_type.len), r->floor);
}

static void group_free(an_group *g)
{
    if (!g) return;
    free(g->building);
    free(g->room);
    free(g->type);
    free(g->members);
    free(g);
}

static an_sensor *sensor_find(const anomaly_model *m, const char *id, size_t n)
{
    if (!m->sidx.cap) return NULL;
    uint64_t h = an_sensor_hash(id, n);
    for (size_t i = h & (m->sidx.cap - 1); m->sidx.slot[i]; i = (i + 1) & (m->sidx.cap - 1)) {
        an_sensor *s = m->s[m->sidx.slot[i] - 1];
        if (s->id_len == n && !memcmp(s->id, id, n)) return s;
    }
    return NULL;
}

/* A new sensor: its record, its room's membership (from the step of its first reading). */
static an_sensor *sensor_new(anomaly_model *m, const anomaly_reading *r)
{
    an_sensor *s = st_xcalloc(1, sizeof *s);
    s->id = st_xstrndup(r->sensor_id.ptr, r->sensor_id.len);
    s->id_len = (uint32_t)r->sensor_id.len;
    s->res = INFINITY;
    s->hour_id = INT64_MIN;
    s->group = group_of(m, r);
    uint32_t pos = an_sensor_add(m, s);
    an_group *g = m->g[s->group];
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4;
        g->members = st_xrealloc(g->members, g->cap * sizeof *g->members);
    }
    g->members[g->n++] = pos;
    int64_t b = bucket_of(r->event_time_us);
    if (g->cursor == INT64_MIN) {
        g->cursor = g->head = g->joined = b;
    } else {
        int64_t j = b > g->cursor ? b : g->cursor;
        if (j > g->joined) g->joined = j;
    }
    return s;
}

static void sensor_free(an_sensor *s)
{
    if (!s) return;
    free(s->id);
    free(s);
}

/* The robust spread of a sensor's one-step residuals (sigma units), never zero. */
static double spread_of(const an_sensor *s)
{
    double sg = 1.2533 * s->mad;
    double fl = 1e-9 * fmax(1.0, fabs(s->level));
    if (isfinite(s->res) && s->res / 2 > fl) fl = s->res / 2;
    return sg > fl ? sg : fl;
}

/* Median of the positive gaps kept, in microseconds; 0 when too few. */
static double usual_interval_us(const an_sensor *s)
{
    if (s->gap_n < AN_MIN_GAPS) return 0;
    int32_t g[AN_GAPS];
    int n = s->gap_n;
    memcpy(g, s->gaps_ms, sizeof g);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && g[j - 1] > g[j]; j--) {
            int32_t t = g[j];
            g[j] = g[j - 1];
            g[j - 1] = t;
        }
    double med = n % 2 ? g[n / 2] : 0.5 * ((double)g[n / 2 - 1] + g[n / 2]);
    return med * 1000.0;
}

/* Median of v[0..n) (n >= 1), reordering v. Insertion sort: n <= AN_REF_MAX. */
static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int sensor_warm(const anomaly_model *m, const an_sensor *s)
{
    return s->n >= m->p.warmup_readings && s->mad > 0;
}

static int64_t part_watermark(const anomaly_model *m, const an_sensor *s)
{
    const an_part *pt = &m->parts[s->part];
    if (pt->max_t == INT64_MIN) return INT64_MIN;
    return pt->max_t < INT64_MIN + m->p.lateness_us ? INT64_MIN : pt->max_t - m->p.lateness_us;
}

/* ------------------------------------------------------------------ text of the reasons */

/* Decimals to print a sensor's values with: those of its resolution (2 before it is known). */
static int value_decimals(const an_sensor *s)
{
    if (!isfinite(s->res) || s->res <= 0) return 2;
    double d = ceil(-log10(s->res) - 1e-9);
    return d < 0 ? 0 : d > 4 ? 4 : (int)d;
}

/* A spread with two significant digits ("35", "6.1", "0.12"). */
static void put_spread(st_buf *b, double v)
{
    if (fabs(v) >= 100)
        st_buf_printf(b, "%.0f", v);
    else
        st_buf_printf(b, "%.2g", v);
}

static void put_duration(st_buf *b, int64_t us)
{
    double s = (double)us / 1e6;
    if (s < 90)
        st_buf_printf(b, "%.0f s", s);
    else if (s < 90 * 60)
        st_buf_printf(b, "%.0f min", s / 60);
    else
        st_buf_printf(b, "%.1f h", s / 3600);
}

static const char *unit_of(const an_group *g) { return g->kind ? g->kind->unit : ""; }

/* " <unit>" or "" for unitless (open) types. */
static void put_unit(st_buf *b, const an_group *g)
{
    const char *u = unit_of(g);
    if (*u) st_buf_printf(b, " %s", u);
}

/* ------------------------------------------------------------------ events */

static void event_free(anomaly_event *a)
{
    free(a->anomaly_id);
    free(a->sensor_id);
    free(a->building_id);
    free(a->room_id);
    free(a->sensor_type);
    free(a->reason);
}

void anomaly_list_clear(anomaly_list *l)
{
    for (size_t i = 0; i < l->count; i++) event_free(&l->items[i]);
    l->count = 0;
}

void anomaly_list_free(anomaly_list *l)
{
    if (!l) return;
    anomaly_list_clear(l);
    free(l->items);
    l->items = NULL;
    l->cap = 0;
}

/* "<kind>/<sensor>/<start ISO>": deterministic, so a replay gives the same id. */
static char *make_id(anomaly_kind k, const an_sensor *s, int64_t start_us)
{
    char t[48];
    st_format_iso_us(start_us, t, sizeof t, 0);
    st_buf b = {0};
    st_buf_printf(&b, "%s/%s/%s", kind_names[k], s->id, t);
    return (char *)st_buf_detach(&b, NULL);
}

/* Appends one event for episode ep of sensor s; reason is taken over. */
static void emit(anomaly_list *out, const an_sensor *s, const an_group *g, anomaly_kind k, const char *state,
                 const an_episode *ep, int64_t event_time_us, st_buf *reason)
{
    if (out->count == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 8;
        out->items = st_xrealloc(out->items, out->cap * sizeof *out->items);
    }
    anomaly_event *a = &out->items[out->count++];
    memset(a, 0, sizeof *a);
    a->anomaly_id = make_id(k, s, ep->start_us);
    a->state = state;
    a->kind = k;
    a->sensor_id = st_xstrndup(s->id, s->id_len);
    a->building_id = st_xstrdup(g->building);
    a->room_id = st_xstrdup(g->room);
    a->sensor_type = st_xstrdup(g->type);
    a->unit = unit_of(g);
    a->floor = g->floor;
    a->value = ep->value;
    a->expected = ep->expected;
    a->score = ep->score;
    a->threshold = ep->threshold;
    a->readings = ep->readings;
    a->start_us = ep->start_us;
    a->end_us = ep->end_us;
    a->event_time_us = event_time_us;
    a->reason = (char *)st_buf_detach(reason, NULL);
}

void anomaly_event_to_alert(const anomaly_event *a, int64_t detection_us, alert_list *out)
{
    alert_event *ev = alert_list_push(out);
    st_buf b = {0};
    st_buf_printf(&b, "anomaly:%s", a->anomaly_id);
    ev->alert_id = (char *)st_buf_detach(&b, NULL);
    st_buf_printf(&b, "anomaly:%s", kind_names[a->kind]);
    ev->rule = (char *)st_buf_detach(&b, NULL);
    ev->state = a->state[0] == 'o' ? "open" : "close";
    ev->sensor_id = st_xstrdup(a->sensor_id);
    ev->building_id = st_xstrdup(a->building_id);
    ev->room_id = st_xstrdup(a->room_id);
    ev->sensor_type = st_xstrdup(a->sensor_type);
    ev->floor = a->floor;
    ev->value = a->score;
    ev->threshold = a->threshold;
    ev->event_time_us = a->event_time_us;
    ev->detection_time_us = detection_us;
}

static void open_episode(anomaly_model *m, an_episode *ep)
{
    ep->open = 1;
    m->open++;
}

static void close_episode(anomaly_model *m, an_episode *ep)
{
    ep->open = 0;
    m->open--;
}

/* The reason of a stuck episode. */
static void reason_stuck(st_buf *b, const an_sensor *s, const an_group *g, const an_episode *ep)
{
    st_buf_printf(b, "%s flat at %.*f", g->type, value_decimals(s), ep->value);
    put_unit(b, g);
    st_buf_append_str(b, " for ");
    put_duration(b, ep->end_us - ep->start_us);
    st_buf_printf(b, " (%lld readings); usual spread ", (long long)ep->readings);
    put_spread(b, spread_of(s));
    put_unit(b, g);
}

static void reason_spike(st_buf *b, const an_sensor *s, const an_group *g, const an_episode *ep)
{
    int dec = value_decimals(s);
    st_buf_printf(b, "%s jumped to %.*f", g->type, dec, ep->value);
    put_unit(b, g);
    st_buf_printf(b, " where %.*f was expected (%.0f x the usual spread of ", dec, ep->expected, ep->score);
    put_spread(b, spread_of(s));
    put_unit(b, g);
    st_buf_printf(b, ") for %lld reading%s, then returned", (long long)ep->readings, ep->readings == 1 ? "" : "s");
}

static void reason_drift(st_buf *b, const an_sensor *s, const an_group *g, const an_episode *ep)
{
    double dep = ep->value - ep->expected;
    st_buf_printf(b, "%s %.*f", g->type, value_decimals(s), ep->value);
    put_unit(b, g);
    st_buf_append_str(b, ", ");
    put_spread(b, fabs(dep));
    put_unit(b, g);
    if (ep->mode == DRIFT_ROOM)
        st_buf_printf(b, " %s its room reference (median of %d sensors)", dep >= 0 ? "above" : "below", ep->nref);
    else
        st_buf_printf(b, " %s its usual level at this hour (daily profile)", dep >= 0 ? "above" : "below");
    st_buf_append_str(b, ", departing for ");
    put_duration(b, ep->end_us - ep->start_us);
    st_buf_append_str(b, "; usual offset spread ");
    put_spread(b, ep->aux);
    put_unit(b, g);
}

static void reason_silent(st_buf *b, const an_sensor *s, const an_group *g, const an_episode *ep, int64_t gap_us,
                          int resumed)
{
    st_buf_append_str(b, "no reading for ");
    put_duration(b, gap_us);
    st_buf_append_str(b, " (usual interval ");
    put_duration(b, (int64_t)ep->aux);
    st_buf_printf(b, ")%s; last value %.*f", resumed ? ", then readings resumed" : "", value_decimals(s), ep->value);
    put_unit(b, g);
}

/* ------------------------------------------------------------------ daily profile */

/* Folds the finished hour into its bin (unless too few clean means were seen in it). */
static void profile_fold(an_sensor *s)
{
    if (s->hour_id == INT64_MIN || s->hour_skip || s->hour_n < hour_min_means) return;
    int h = (int)(s->hour_id - floor_div(s->hour_id, AN_HOURS) * AN_HOURS);
    double mean = s->hour_sum / s->hour_n;
    int d = s->prof_days[h];
    if (d == 0) {
        s->prof_mu[h] = (float)mean;
        s->prof_mad[h] = 0;
    } else {
        double w_mad = 1.0 / (d < profile_memory_days ? d : profile_memory_days);
        double w_mu = 1.0 / (d + 1 < profile_memory_days ? d + 1 : profile_memory_days);
        double dev = fabs(mean - s->prof_mu[h]);
        s->prof_mad[h] = (float)(s->prof_mad[h] + w_mad * (dev - s->prof_mad[h]));
        s->prof_mu[h] = (float)(s->prof_mu[h] + w_mu * (mean - s->prof_mu[h]));
    }
    if (d < 255) s->prof_days[h] = (uint8_t)(d + 1);
}

/* Adds a clean 2-minute mean (or marks the hour unclean) to the hour being accumulated. */
static void profile_add(an_sensor *s, int64_t b, double x, int clean)
{
    int64_t hid = floor_div(bucket_start(b), hour_us);
    if (hid != s->hour_id) {
        profile_fold(s);
        s->hour_id = hid;
        s->hour_sum = 0;
        s->hour_n = 0;
        s->hour_skip = 0;
    }
    if (!clean) {
        s->hour_skip = 1;
        return;
    }
    s->hour_sum += x;
    s->hour_n++;
}

/* The profile's expected value and day-to-day spread at time t: linear between the centres
 * of the two nearest hours, both learnt on min_days days. 0 when not available. */
static int profile_at(const an_sensor *s, int64_t t, int min_days, double *mu, double *spread)
{
    double hpos = (double)(t - floor_div(t, 86400LL * 1000000) * 86400LL * 1000000) / (double)hour_us - 0.5;
    int h0 = (int)floor(hpos);
    double f = hpos - h0;
    int a = (h0 + AN_HOURS) % AN_HOURS, c = (h0 + 1 + AN_HOURS) % AN_HOURS;
    if (s->prof_days[a] < min_days || s->prof_days[c] < min_days) return 0;
    *mu = (1 - f) * s->prof_mu[a] + f * s->prof_mu[c];
    *spread = 1.2533 * fmax(s->prof_mad[a], s->prof_mad[c]);
    return 1;
}

/* ------------------------------------------------------------------ drift */

/* Judges one 2-minute mean x of sensor s against expected (d = x - expected), given the
 * spread of such departures; opens, extends or closes the drift episode. */
static void drift_judge(anomaly_model *m, an_sensor *s, const an_group *g, int64_t b, double x, double expected,
                        double offset_spread, int mode, int nref, anomaly_list *out)
{
    const anomaly_params *p = &m->p;
    an_episode *ep = &s->ep[ANOMALY_DRIFT];
    double d = x - expected;
    double thr = fmax(p->drift_score * offset_spread, p->drift_spreads * spread_of(s));
    double lo = thr / 2;
    int sign = d >= 0 ? 1 : -1;
    int64_t bend = bucket_start(b) + bucket_us;
    if (fabs(d) >= lo && s->ex_len > 0 && sign == s->ex_sign) {
        s->ex_len++;
    } else {
        if (ep->open) {
            st_buf why = {0};
            reason_drift(&why, s, g, ep);
            emit(out, s, g, ANOMALY_DRIFT, "close", ep, bucket_start(b), &why);
            close_episode(m, ep);
        }
        s->ex_len = 0;
        if (fabs(d) >= lo) {
            s->ex_len = 1;
            s->ex_sign = sign;
            s->ex_start = bucket_start(b);
        }
    }
    s->ex_mode = s->ex_len ? mode : DRIFT_NONE;
    if (!s->ex_len) return;
    double score = fabs(d) / offset_spread;
    if (!ep->open && s->ex_len >= p->drift_buckets && fabs(d) >= thr) {
        *ep = (an_episode){.start_us = s->ex_start, .end_us = bend, .readings = 0, .score = score, .value = x,
                           .expected = expected, .threshold = thr / offset_spread, .aux = offset_spread,
                           .mode = mode, .nref = nref};
        open_episode(m, ep);
        st_buf why = {0};
        reason_drift(&why, s, g, ep);
        emit(out, s, g, ANOMALY_DRIFT, "open", ep, bend, &why);
    } else if (ep->open) {
        ep->end_us = bend;
        if (score > ep->score) {
            ep->score = score;
            ep->value = x;
            ep->expected = expected;
        }
    }
    if (ep->open) ep->readings += s->ring_n[slot_of(b)];
}

/* Judges step b of room g (every member has passed it, or it leaves the ring) and clears it. */
static void group_judge(anomaly_model *m, an_group *g, anomaly_list *out)
{
    int64_t b = g->cursor;
    int sl = slot_of(b);
    double y[AN_REF_MAX];
    uint32_t who[AN_REF_MAX];
    double xs[AN_REF_MAX];
    int n = 0, nlearned = 0;
    for (uint32_t i = 0; i < g->n && n < AN_REF_MAX; i++) {
        an_sensor *s = m->s[g->members[i]];
        if (!s->ring_n[sl]) continue;
        who[n] = g->members[i];
        xs[n] = s->ring_sum[sl] / s->ring_n[sl];
        if (s->learned > 0) nlearned++;
        n++;
    }
    int room = n >= m->p.reference_sensors;
    double ref = 0;
    if (room) {
        /* sensors whose offset is learnt make the reference once there are enough of them */
        int k = 0;
        for (int i = 0; i < n; i++) {
            const an_sensor *s = m->s[who[i]];
            if (nlearned < m->p.reference_sensors || s->learned > 0) y[k++] = xs[i] - s->base;
        }
        ref = median(y, k);
    }
    for (int i = 0; i < n; i++) {
        an_sensor *s = m->s[who[i]];
        double x = xs[i];
        int warm = sensor_warm(m, s);
        double sg = spread_of(s);
        double noise = sg / sqrt((double)s->ring_n[sl]);
        if (room) {
            double o = x - ref, d = o - s->base;
            double osp = fmax(1.2533 * s->sd, noise);
            if (warm && s->learned >= m->p.drift_warmup_buckets)
                drift_judge(m, s, g, b, x, ref + s->base, osp, DRIFT_ROOM, n, out);
            else
                s->ex_len = 0;
            if (!s->ex_len && !s->ep[ANOMALY_DRIFT].open) {
                /* learn the usual offset and its spread from clean steps only */
                if (s->learned == 0) {
                    s->base = o;
                } else {
                    double c = 4 * osp;
                    double dc = s->learned >= 5 ? fmax(-c, fmin(c, d)) : d;
                    double gs = 1.0 / fmin(s->learned, offset_spread_memory);
                    s->sd += gs * (fabs(dc) - s->sd);
                    s->base += dc / fmin(s->learned + 1, base_memory);
                }
                s->learned++;
            }
        } else {
            double mu, psp;
            if (warm && profile_at(s, bucket_start(b) + bucket_us / 2, m->p.profile_days, &mu, &psp))
                drift_judge(m, s, g, b, x, mu, fmax(psp, noise), DRIFT_PROFILE, 0, out);
            else if (!s->ep[ANOMALY_DRIFT].open)
                s->ex_len = 0;
        }
        profile_add(s, b, x, !s->ex_len && !s->ep[ANOMALY_DRIFT].open);
    }
    for (uint32_t i = 0; i < g->n; i++) {
        an_sensor *s = m->s[g->members[i]];
        s->ring_sum[sl] = 0;
        s->ring_n[sl] = 0;
    }
    g->cursor++;
}

/* 1 when step b of g can be judged: every member is past it (by its readings or its
 * partition's watermark), and the room has enough sensors for a reference, or has had no
 * new sensor for a whole ring. The wait is for sensors not seen yet: a room whose sensors
 * come from several Kafka partitions, read one after the other from a backlog, meets them
 * hours apart in Silver order (a room with fewer sensors is judged against the daily
 * profile, a ring late at the start). */
static int group_ready(const anomaly_model *m, const an_group *g, int64_t b)
{
    int64_t end = bucket_start(b) + bucket_us;
    for (uint32_t i = 0; i < g->n; i++) {
        const an_sensor *s = m->s[g->members[i]];
        if (s->last_t < end && part_watermark(m, s) < end) return 0;
    }
    return (int)g->n >= m->p.reference_sensors || b >= g->joined + AN_RING;
}

static void group_try(anomaly_model *m, an_group *g, anomaly_list *out)
{
    while (g->cursor <= g->head && group_ready(m, g, g->cursor)) group_judge(m, g, out);
}

/* Adds a clean reading (moved to the step's centre along the trend) to its 2-minute mean. */
static void bucket_add(anomaly_model *m, an_sensor *s, an_group *g, int64_t t, double v, anomaly_list *out)
{
    int64_t b = bucket_of(t);
    if (b < g->cursor) return; /* that step was judged already: this sensor lags its room */
    while (b >= g->cursor + AN_RING) group_judge(m, g, out); /* the ring is full: judge with what is there */
    if (b > g->head) g->head = b;
    int sl = slot_of(b);
    if (s->ring_n[sl] == 255) return;
    double dt = (double)(bucket_start(b) + bucket_us / 2 - t) / 1e6;
    s->ring_sum[sl] += (float)(v + (sensor_warm(m, s) ? s->trend * dt : 0));
    s->ring_n[sl]++;
}

/* ------------------------------------------------------------------ one reading */

/* Holt's update with the residual e of prediction pred (clipped once warm). */
static void holt_update(const anomaly_model *m, an_sensor *s, double pred, double e, double sg, double interval_s,
                        int64_t t, int frozen)
{
    double c = clip_spreads * sg;
    double ec = s->n >= m->p.warmup_readings ? fmax(-c, fmin(c, e)) : e;
    s->level = pred + holt_alpha * ec;
    s->trend += holt_alpha * holt_beta * ec / interval_s;
    s->level_t = t;
    if (!frozen) {
        double g = 1.0 / (double)s->n;
        if (g < spread_gain) g = spread_gain;
        s->mad += g * (fabs(ec) - s->mad);
    }
}

static void close_stuck(anomaly_model *m, an_sensor *s, an_group *g, int64_t t, anomaly_list *out)
{
    an_episode *ep = &s->ep[ANOMALY_STUCK];
    st_buf why = {0};
    reason_stuck(&why, s, g, ep);
    emit(out, s, g, ANOMALY_STUCK, "close", ep, t, &why);
    close_episode(m, ep);
}

/* Opens the silence of s since its last reading, seen at event time `at` (a watermark, or
 * the reading that ends it). */
static void open_silent(anomaly_model *m, an_sensor *s, an_group *g, double interval, int64_t at, anomaly_list *out)
{
    an_episode *ep = &s->ep[ANOMALY_SILENT];
    *ep = (an_episode){.start_us = s->last_t, .end_us = INT64_MIN, .readings = 0,
                       .score = (double)(at - s->last_t) / interval, .value = s->last_v, .expected = NAN,
                       .threshold = m->p.silent_factor, .aux = interval};
    open_episode(m, ep);
    st_buf why = {0};
    reason_silent(&why, s, g, ep, at - s->last_t, 0);
    emit(out, s, g, ANOMALY_SILENT, "open", ep, at, &why);
}

static void close_silent(anomaly_model *m, an_sensor *s, an_group *g, int64_t t, anomaly_list *out)
{
    an_episode *ep = &s->ep[ANOMALY_SILENT];
    ep->end_us = t;
    ep->score = (double)(t - ep->start_us) / ep->aux;
    st_buf why = {0};
    reason_silent(&why, s, g, ep, t - ep->start_us, 1);
    emit(out, s, g, ANOMALY_SILENT, "close", ep, t, &why);
    close_episode(m, ep);
}

void anomaly_model_on_reading(anomaly_model *m, const anomaly_reading *r, anomaly_list *out)
{
    const anomaly_params *p = &m->p;
    int64_t t = r->event_time_us;
    double v = r->value;
    an_sensor *s = sensor_find(m, r->sensor_id.ptr, r->sensor_id.len);
    if (!s) s = sensor_new(m, r);
    an_group *g = m->g[s->group];
    if (s->n == 0 || m->parts[s->part].id != r->partition) s->part = an_part_get(m, r->partition);
    an_part *pt = &m->parts[s->part];
    if (t > pt->pending) pt->pending = t;
    if (!isfinite(v) || (s->n > 0 && t < s->last_t)) {
        m->ignored++;
        return;
    }
    if (s->n == 0) {
        s->level = s->last_v = v;
        s->level_t = s->last_t = t;
        s->n = 1;
        bucket_add(m, s, g, t, v, out);
        group_try(m, g, out);
        return;
    }
    int64_t gap = t - s->last_t;
    double interval = usual_interval_us(s);
    int long_gap = interval > 0 && (double)gap > p->silent_factor * interval;
    if (!s->ep[ANOMALY_SILENT].open && long_gap && s->n >= p->warmup_readings)
        open_silent(m, s, g, interval, t, out); /* a silence no watermark saw (it fell within one Silver version) */
    if (s->ep[ANOMALY_SILENT].open) close_silent(m, s, g, t, out);
    if (gap > 0) {
        s->gaps_ms[s->gap_next] = gap / 1000 > INT32_MAX ? INT32_MAX : (int32_t)(gap / 1000);
        s->gap_next = (s->gap_next + 1) % AN_GAPS;
        if (s->gap_n < AN_GAPS) s->gap_n++;
    }

    /* stuck: a run of consecutive readings that do not change by more than the resolution */
    double dv = fabs(v - s->last_v);
    if (dv > 1e-9 * fmax(1.0, fabs(v)) && dv < s->res) s->res = dv;
    int flat = dv <= (isfinite(s->res) ? s->res * 1.0001 : 0);
    double keep = 1 - 1 / flat_memory;
    s->zw *= keep;
    s->mw *= keep;
    if (flat) {
        if (s->run_pairs == 0) {
            s->run_t0 = s->last_t;
            s->run_v = s->last_v;
        }
        s->run_pairs++;
    } else {
        if (s->ep[ANOMALY_STUCK].open) close_stuck(m, s, g, t, out);
        if (s->run_pairs < p->stuck_readings) { /* an ordinary repeat: part of the sensor's habit */
            s->zw += (double)s->run_pairs;
            s->mw += (double)s->run_pairs;
        }
        s->mw += 1;
        s->run_pairs = 0;
    }
    double run_score = (double)s->run_pairs * log10((s->mw + 2) / (s->zw + 1));
    int warm = sensor_warm(m, s);
    an_episode *st = &s->ep[ANOMALY_STUCK];
    if (flat && warm) {
        if (!st->open && s->run_pairs + 1 > p->stuck_readings && run_score >= p->stuck_score) {
            *st = (an_episode){.start_us = s->run_t0, .end_us = t, .readings = s->run_pairs + 1, .score = run_score,
                               .value = s->run_v, .expected = NAN, .threshold = p->stuck_score};
            open_episode(m, st);
            st_buf why = {0};
            reason_stuck(&why, s, g, st);
            emit(out, s, g, ANOMALY_STUCK, "open", st, t, &why);
        } else if (st->open) {
            st->end_us = t;
            st->readings = s->run_pairs + 1;
            st->score = run_score;
        }
    }
    int frozen = run_score >= frozen_score;

    /* level, spread and spikes */
    int accepted = 0;
    if (long_gap) { /* after a silence the signal may be anywhere: start again from here */
        s->level = v;
        s->trend = 0;
        s->level_t = t;
        s->pend = 0;
        accepted = 1;
    } else {
        double dt = (double)(t - s->level_t) / 1e6;
        double is = interval > 0 ? interval / 1e6 : (dt > 0 ? dt : 1);
        double tdt = dt > 3 * is ? 3 * is : dt;
        double pred = s->level + s->trend * tdt;
        double sg = spread_of(s);
        double e = v - pred, z = e / sg;
        an_episode sp;
        if (s->pend) {
            if (fabs(e) <= p->spike_return * sg) { /* back: it was a spike */
                sp = (an_episode){.start_us = s->pend_t0, .end_us = s->pend_t1, .readings = s->pend,
                                  .score = s->pend_z, .value = s->pend_peak, .expected = s->pend_pred,
                                  .threshold = p->spike_score};
                st_buf why = {0};
                reason_spike(&why, s, g, &sp);
                emit(out, s, g, ANOMALY_SPIKE, "open", &sp, t, &why);
                reason_spike(&why, s, g, &sp);
                emit(out, s, g, ANOMALY_SPIKE, "close", &sp, t, &why);
                s->pend = 0;
                holt_update(m, s, pred, e, sg, is, t, frozen);
                accepted = 1;
            } else if (s->pend < p->spike_readings) {
                s->pend++;
                s->pend_t1 = t;
                if (fabs(z) > s->pend_z) {
                    s->pend_z = fabs(z);
                    s->pend_peak = v;
                    s->pend_pred = pred;
                }
            } else { /* it stayed: a level shift, which the model follows */
                s->pend = 0;
                s->level = v;
                s->trend = 0;
                s->level_t = t;
                accepted = 1;
            }
        } else if (warm && !frozen && fabs(z) >= p->spike_score) {
            s->pend = 1;
            s->pend_sign = z > 0 ? 1 : -1;
            s->pend_t0 = s->pend_t1 = t;
            s->pend_peak = v;
            s->pend_pred = pred;
            s->pend_z = fabs(z);
        } else {
            holt_update(m, s, pred, e, sg, is, t, frozen);
            accepted = 1;
        }
    }
    s->last_t = t;
    s->last_v = v;
    s->n++;
    if (accepted && !frozen) bucket_add(m, s, g, t, v, out);
    group_try(m, g, out);
}

void anomaly_model_advance(anomaly_model *m, anomaly_list *out)
{
    for (size_t i = 0; i < m->np; i++)
        if (m->parts[i].pending > m->parts[i].max_t) m->parts[i].max_t = m->parts[i].pending;
    for (size_t i = 0; i < m->ns; i++) {
        an_sensor *s = m->s[i];
        if (s->ep[ANOMALY_SILENT].open || s->n < m->p.warmup_readings) continue;
        double interval = usual_interval_us(s);
        if (interval <= 0) continue;
        int64_t wm = part_watermark(m, s);
        if (wm == INT64_MIN || (double)(wm - s->last_t) <= m->p.silent_factor * interval) continue;
        open_silent(m, s, m->g[s->group], interval, wm, out);
    }
    for (size_t i = 0; i < m->ng; i++) group_try(m, m->g[i], out);
}

/* ------------------------------------------------------------------ model */

anomaly_model *anomaly_model_new(const anomaly_params *p)
{
    anomaly_model *m = st_xcalloc(1, sizeof *m);
    if (p)
        m->p = *p;
    else
        anomaly_params_init(&m->p);
    return m;
}

void an_model_clear(anomaly_model *m)
{
    for (size_t i = 0; i < m->ns; i++) sensor_free(m->s[i]);
    for (size_t i = 0; i < m->ng; i++) group_free(m->g[i]);
    free(m->s);
    free(m->g);
    free(m->parts);
    free(m->sidx.slot);
    free(m->gidx.slot);
    memset(&m->sidx, 0, sizeof m->sidx);
    memset(&m->gidx, 0, sizeof m->gidx);
    m->s = NULL;
    m->g = NULL;
    m->parts = NULL;
    m->ns = m->caps = m->ng = m->capg = m->np = m->capp = 0;
    m->open = 0;
    m->ignored = 0;
}

void anomaly_model_destroy(anomaly_model *m)
{
    if (!m) return;
    an_model_clear(m);
    free(m);
}

size_t anomaly_model_sensor_count(const anomaly_model *m) { return m->ns; }
size_t anomaly_model_open_count(const anomaly_model *m) { return m->open; }
uint64_t anomaly_model_ignored(const anomaly_model *m) { return m->ignored; }

size_t anomaly_model_bytes(const anomaly_model *m)
{
    size_t b = sizeof *m + m->caps * sizeof *m->s + m->capg * sizeof *m->g + m->capp * sizeof *m->parts +
               (m->sidx.cap + m->gidx.cap) * sizeof(uint32_t);
    for (size_t i = 0; i < m->ns; i++) b += sizeof(an_sensor) + m->s[i]->id_len + 1;
    for (size_t i = 0; i < m->ng; i++) {
        const an_group *g = m->g[i];
        b += sizeof *g + strlen(g->building) + strlen(g->room) + strlen(g->type) + 3 + g->cap * sizeof *g->members;
    }
    return b;
}
