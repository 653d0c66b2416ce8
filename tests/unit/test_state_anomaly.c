/* Unit tests of state/anomaly: the four detectors on synthetic series (clean, stuck, spike,
 * level shift, silent, drift against a room and against the daily profile, Kafka-like
 * partition skew), save/load equal to an uninterrupted run, damaged state, bounded memory. */
#include "check.h"
#include "state/anomaly.h"
#include "util/binio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_US 1000000LL
#define MIN_US (60 * S_US)
#define T0 1767571200000000LL /* 2026-01-05T00:00:00Z */

/* ------------------------------------------------------------------ a synthetic world */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static double runit(rng *r) { return (double)(rnext(r) >> 11) * 0x1.0p-53; }

static double rgauss(rng *r)
{
    double u = runit(r), v = runit(r);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* One simulated sensor: base + a daily cycle + noise, quantized to res, every ~interval s.
 * Windows (event time, seconds after T0; 0/0 = none) inject the four kinds. */
typedef struct sensor {
    char id[32], room[8], type[16];
    int partition;
    double base, amp, noise, res, interval;
    double stuck_from, stuck_to, drift_from, drift_to, drift_by, silent_from, silent_to;
    double spike_at, spike_by, shift_at, shift_by;
    int spike_len;
    int64_t next_t;
    double stuck_value;
    int in_stuck, spiked;
} sensor;

static void sensor_init(sensor *s, const char *id, const char *room, const char *type, double base, double amp,
                        double noise, double res)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->room, sizeof s->room, "%s", room);
    snprintf(s->type, sizeof s->type, "%s", type);
    s->base = base;
    s->amp = amp;
    s->noise = noise;
    s->res = res;
    s->interval = 10;
    s->next_t = T0;
}

/* The next reading of s (value quantized), or 0 when it is silent at that time. */
static int sensor_read(sensor *s, rng *r, int64_t t, double *v)
{
    double ts = (double)(t - T0) / 1e6;
    double h = fmod(ts / 3600.0, 24.0);
    double x = s->base + s->amp * sin(2 * M_PI * (h - 9) / 24) + s->noise * rgauss(r);
    if (s->drift_to > s->drift_from && ts >= s->drift_from && ts < s->drift_to)
        x += s->drift_by * (ts - s->drift_from) / (s->drift_to - s->drift_from);
    if (s->shift_by != 0 && ts >= s->shift_at) x += s->shift_by;
    if (s->spike_by != 0 && ts >= s->spike_at && s->spiked < s->spike_len) {
        x += s->spike_by;
        s->spiked++;
    }
    x = round(x / s->res) * s->res;
    if (s->stuck_to > s->stuck_from && ts >= s->stuck_from && ts < s->stuck_to) {
        if (!s->in_stuck) s->stuck_value = x;
        s->in_stuck = 1;
        x = s->stuck_value;
    } else {
        s->in_stuck = 0;
    }
    *v = x;
    return !(s->silent_to > s->silent_from && ts >= s->silent_from && ts < s->silent_to);
}

typedef struct run {
    anomaly_model *m;
    anomaly_list ev;
    int64_t version_us;        /* event time between two advances (a Silver version) */
    int64_t next_advance;
    rng r;
} run;

static void run_init(run *x, uint64_t seed)
{
    memset(x, 0, sizeof *x);
    x->m = anomaly_model_new(NULL);
    x->version_us = 20 * S_US;
    x->next_advance = T0 + x->version_us;
    x->r.s = seed * 2654435761ULL + 1;
}

static void run_free(run *x)
{
    anomaly_list_free(&x->ev);
    anomaly_model_destroy(x->m);
}

static void feed_one(run *x, sensor *s, int64_t t)
{
    double v;
    if (!sensor_read(s, &x->r, t, &v)) return;
    anomaly_reading rd = {{s->id, strlen(s->id)}, {"b01", 3}, {s->room, strlen(s->room)}, {s->type, strlen(s->type)},
                          1, s->partition, v, t};
    anomaly_model_on_reading(x->m, &rd, &x->ev);
}

/* Feeds every sensor in event-time order up to `until` (seconds after T0), advancing the
 * model every version_us of event time, as Gold does at the end of each Silver version. */
static void feed(run *x, sensor *ss, int n, double until)
{
    int64_t end = T0 + (int64_t)(until * 1e6);
    for (;;) {
        int k = -1;
        for (int i = 0; i < n; i++)
            if (k < 0 || ss[i].next_t < ss[k].next_t) k = i;
        if (ss[k].next_t >= end) break;
        int64_t t = ss[k].next_t;
        while (t >= x->next_advance) {
            anomaly_model_advance(x->m, &x->ev);
            x->next_advance += x->version_us;
        }
        feed_one(x, &ss[k], t);
        double jitter = 0.8 + 0.4 * runit(&x->r);
        ss[k].next_t = t + (int64_t)(ss[k].interval * jitter * 1e6);
    }
    anomaly_model_advance(x->m, &x->ev);
}

static int count_events(const anomaly_list *l, anomaly_kind k, const char *state, const char *sensor)
{
    int c = 0;
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].kind == k && (!state || !strcmp(l->items[i].state, state)) &&
            (!sensor || !strcmp(l->items[i].sensor_id, sensor)))
            c++;
    return c;
}

static const anomaly_event *find_event(const anomaly_list *l, anomaly_kind k, const char *state)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].kind == k && !strcmp(l->items[i].state, state)) return &l->items[i];
    return NULL;
}

static void dump(const anomaly_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        fprintf(stderr, "  %s %s score %.1f [%+.0f s, %+.0f s]: %s\n", l->items[i].anomaly_id, l->items[i].state,
                l->items[i].score, (double)(l->items[i].start_us - T0) / 1e6,
                l->items[i].end_us == INT64_MIN ? -1.0 : (double)(l->items[i].end_us - T0) / 1e6, l->items[i].reason);
}

/* A room of three co2 sensors and a temperature sensor of its own. */
static int room_world(sensor *ss)
{
    sensor_init(&ss[0], "r1-co2-1", "r01", "co2", 600, 150, 6, 0.1);
    sensor_init(&ss[1], "r1-co2-2", "r01", "co2", 600, 150, 6, 0.1);
    sensor_init(&ss[2], "r1-co2-3", "r01", "co2", 600, 150, 6, 0.1);
    sensor_init(&ss[3], "r1-temp-1", "r01", "temperature", 21, 1.6, 0.12, 0.01);
    for (int i = 0; i < 4; i++) ss[i].next_t = T0 + i * S_US;
    return 4;
}

/* ------------------------------------------------------------------ tests */

static void test_clean_is_quiet(void)
{
    sensor ss[8];
    int n = room_world(ss);
    run x;
    run_init(&x, 1);
    feed(&x, ss, n, 6 * 3600);
    CHECK_MSG(x.ev.count == 0, "%zu events on a clean series", x.ev.count);
    if (x.ev.count) dump(&x.ev);
    CHECK(anomaly_model_sensor_count(x.m) == 4 && anomaly_model_open_count(x.m) == 0);
    run_free(&x);
}

static void test_stuck(void)
{
    sensor ss[8];
    int n = room_world(ss);
    ss[0].stuck_from = 3600;
    ss[0].stuck_to = 3600 + 14 * 60;
    run x;
    run_init(&x, 2);
    feed(&x, ss, n, 2 * 3600);
    CHECK(count_events(&x.ev, ANOMALY_STUCK, "open", "r1-co2-1") == 1);
    CHECK(count_events(&x.ev, ANOMALY_STUCK, "close", "r1-co2-1") == 1);
    CHECK(x.ev.count == 2);
    const anomaly_event *o = find_event(&x.ev, ANOMALY_STUCK, "open"), *c = find_event(&x.ev, ANOMALY_STUCK, "close");
    if (o && c) {
        CHECK(o->start_us >= T0 + 3600 * S_US && o->start_us < T0 + 3615 * S_US);
        CHECK(c->end_us < T0 + (3600 + 14 * 60) * S_US && c->end_us > T0 + (3600 + 13 * 60) * S_US);
        CHECK(o->score >= 6 && o->threshold == 6 && o->readings == 11 && c->readings > 70);
        CHECK_STR(o->anomaly_id, c->anomaly_id);
        CHECK(!strncmp(o->anomaly_id, "stuck/r1-co2-1/2026-01-05T01:00:0", 33));
        CHECK(strstr(c->reason, "co2 flat at ") && strstr(c->reason, " ppm for 14 min (") &&
              strstr(c->reason, "usual spread "));
        CHECK_STR(o->unit, "ppm");
        CHECK(o->floor == 1 && !strcmp(o->room_id, "r01") && !strcmp(o->building_id, "b01"));
        fprintf(stderr, "stuck: %s\n", c->reason);
    }
    if (x.ev.count != 2) dump(&x.ev);
    run_free(&x);
}

static void test_spike_and_level_shift(void)
{
    sensor ss[8];
    int n = room_world(ss);
    ss[3].spike_at = 4000;
    ss[3].spike_by = 2.5; /* ~20 spreads of 0.12 C */
    ss[3].spike_len = 2;
    ss[1].shift_at = 5000;
    ss[1].shift_by = 150; /* a jump that stays: not a spike (and a drift of co2-2, which is right) */
    run x;
    run_init(&x, 3);
    feed(&x, ss, n, 2 * 3600);
    CHECK(count_events(&x.ev, ANOMALY_SPIKE, "open", "r1-temp-1") == 1);
    CHECK(count_events(&x.ev, ANOMALY_SPIKE, "close", "r1-temp-1") == 1);
    CHECK(count_events(&x.ev, ANOMALY_SPIKE, NULL, "r1-co2-2") == 0);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, "open", "r1-co2-2") == 1);
    CHECK(count_events(&x.ev, ANOMALY_STUCK, NULL, NULL) == 0 && count_events(&x.ev, ANOMALY_SILENT, NULL, NULL) == 0);
    const anomaly_event *o = find_event(&x.ev, ANOMALY_SPIKE, "open");
    if (o) {
        CHECK(o->readings == 2 && o->score >= 8 && o->start_us >= T0 + 4000 * S_US &&
              o->end_us <= T0 + 4040 * S_US && o->end_us > o->start_us);
        CHECK(fabs(o->value - o->expected) > 2 && strstr(o->reason, "temperature jumped to ") &&
              strstr(o->reason, " C where ") && strstr(o->reason, "for 2 readings, then returned"));
        fprintf(stderr, "spike: %s\n", o->reason);
    }
    const anomaly_event *d = find_event(&x.ev, ANOMALY_DRIFT, "open");
    if (d) {
        CHECK(d->start_us >= T0 + 4920 * S_US && d->start_us <= T0 + 5040 * S_US);
        CHECK(strstr(d->reason, " ppm above its room reference (median of 3 sensors)") != NULL);
        fprintf(stderr, "drift (level shift): %s\n", d->reason);
    }
    run_free(&x);
}

static void test_silent(void)
{
    sensor ss[8];
    int n = room_world(ss);
    ss[2].silent_from = 3000;
    ss[2].silent_to = 3000 + 10 * 60;
    ss[3].silent_from = 2 * 3600 - 5 * 60; /* silent till the end of the input */
    ss[3].silent_to = 1e9;
    run x;
    run_init(&x, 4);
    feed(&x, ss, n, 2 * 3600);
    CHECK(count_events(&x.ev, ANOMALY_SILENT, "open", "r1-co2-3") == 1);
    CHECK(count_events(&x.ev, ANOMALY_SILENT, "close", "r1-co2-3") == 1);
    /* r1-temp-1 went quiet 5 min before the end: with lateness 2 min the watermark saw it */
    CHECK(count_events(&x.ev, ANOMALY_SILENT, "open", "r1-temp-1") == 1);
    CHECK(count_events(&x.ev, ANOMALY_SILENT, "close", "r1-temp-1") == 0);
    CHECK(anomaly_model_open_count(x.m) == 1);
    const anomaly_event *o = find_event(&x.ev, ANOMALY_SILENT, "open"), *c = find_event(&x.ev, ANOMALY_SILENT, "close");
    if (o && c) {
        CHECK(o->start_us < T0 + 3000 * S_US && o->start_us > T0 + 2980 * S_US && o->end_us == INT64_MIN);
        /* judged once the watermark (max - 2 min) is 6 usual intervals past the last reading */
        CHECK(o->event_time_us >= o->start_us + 60 * S_US && o->event_time_us < o->start_us + 90 * S_US);
        CHECK(c->end_us >= T0 + 3600 * S_US && c->end_us < T0 + 3620 * S_US && isnan(c->expected));
        CHECK(c->score > 50 && c->score < 75 && o->threshold == 6);
        CHECK(strstr(c->reason, "no reading for 10 min (usual interval ") &&
              strstr(c->reason, " s), then readings resumed; last value "));
        fprintf(stderr, "silent: %s\n", c->reason);
    }
    /* the end of the input moves no watermark: advancing again reveals nothing new */
    size_t before = x.ev.count;
    anomaly_model_advance(x.m, &x.ev);
    anomaly_model_advance(x.m, &x.ev);
    CHECK(x.ev.count == before);
    run_free(&x);
}

/* A sensor on a partition that lags by an hour is not silent: its partition's watermark lags too. */
static void test_partition_skew(void)
{
    sensor ss[8];
    int n = room_world(ss);
    for (int i = 0; i < n; i++) ss[i].partition = i % 3;
    ss[1].drift_from = 3000;
    ss[1].drift_to = 3000 + 30 * 60;
    ss[1].drift_by = 120;
    run x;
    run_init(&x, 5);
    /* a backlog drained partition after partition, as silver --once does: p0, then p1, then p2 */
    for (int p = 0; p < 3; p++) {
        sensor part[8];
        int k = 0, idx[8];
        for (int i = 0; i < n; i++)
            if (ss[i].partition == p) idx[k] = i, part[k++] = ss[i];
        x.next_advance = T0 + x.version_us;
        feed(&x, part, k, 2 * 3600); /* skew < the 128 minutes of the ring */
        for (int i = 0; i < k; i++) ss[idx[i]] = part[i];
    }
    CHECK(count_events(&x.ev, ANOMALY_SILENT, NULL, NULL) == 0);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, "open", "r1-co2-2") == 1);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, "close", "r1-co2-2") == 1);
    CHECK_MSG(x.ev.count == 2, "%zu events", x.ev.count);
    if (x.ev.count != 2) dump(&x.ev);
    run_free(&x);
}

static void test_drift_room(void)
{
    sensor ss[8];
    int n = room_world(ss);
    ss[0].drift_from = 3000;
    ss[0].drift_to = 3000 + 30 * 60;
    ss[0].drift_by = -150;
    run x;
    run_init(&x, 6);
    feed(&x, ss, n, 3 * 3600);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, "open", "r1-co2-1") == 1);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, "close", "r1-co2-1") == 1);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, NULL, "r1-co2-2") == 0 && count_events(&x.ev, ANOMALY_DRIFT, NULL, "r1-co2-3") == 0);
    CHECK(count_events(&x.ev, ANOMALY_SPIKE, NULL, NULL) == 0);
    const anomaly_event *o = find_event(&x.ev, ANOMALY_DRIFT, "open"), *c = find_event(&x.ev, ANOMALY_DRIFT, "close");
    if (o && c) {
        CHECK(o->start_us >= T0 + 3000 * S_US && o->start_us < T0 + 3000 * S_US + 20 * MIN_US);
        CHECK(c->end_us <= T0 + (3000 + 30 * 60 + 240) * S_US && c->end_us > T0 + (3000 + 25 * 60) * S_US);
        CHECK(o->value < o->expected && o->score >= o->threshold);
        CHECK(strstr(c->reason, "below its room reference (median of 3 sensors), departing for ") != NULL);
        fprintf(stderr, "drift: %s\n", c->reason);
    }
    if (x.ev.count != 2) dump(&x.ev);
    run_free(&x);
}

/* A sensor alone in its room is compared with its daily profile once it has seen 3 days. */
static void test_drift_profile(void)
{
    sensor ss[1];
    sensor_init(&ss[0], "solo-temp", "r09", "temperature", 21, 1.6, 0.12, 0.01);
    ss[0].interval = 30;
    ss[0].drift_from = 4 * 86400 + 10 * 3600;
    ss[0].drift_to = ss[0].drift_from + 40 * 60;
    ss[0].drift_by = 3;
    run x;
    run_init(&x, 7);
    x.version_us = 60 * S_US;
    x.next_advance = T0 + x.version_us;
    feed(&x, ss, 1, 4 * 86400);
    CHECK_MSG(x.ev.count == 0, "%zu events in the clean days", x.ev.count);
    if (x.ev.count) dump(&x.ev);
    feed(&x, ss, 1, 5 * 86400);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, "open", "solo-temp") == 1);
    CHECK(count_events(&x.ev, ANOMALY_DRIFT, "close", "solo-temp") == 1);
    const anomaly_event *o = find_event(&x.ev, ANOMALY_DRIFT, "open");
    if (o) {
        CHECK(o->start_us >= T0 + (int64_t)ss[0].drift_from * S_US && o->start_us < T0 + (int64_t)ss[0].drift_to * S_US);
        CHECK(strstr(o->reason, "above its usual level at this hour (daily profile)") != NULL);
        fprintf(stderr, "profile drift: %s\n", o->reason);
    }
    if (x.ev.count != 2) dump(&x.ev);
    run_free(&x);
}

static void test_out_of_order_ignored(void)
{
    anomaly_model *m = anomaly_model_new(NULL);
    anomaly_list ev = {0};
    anomaly_reading rd = {{"s1", 2}, {"b", 1}, {"r", 1}, {"co2", 3}, 0, 0, 500, T0};
    for (int i = 0; i < 50; i++) {
        rd.event_time_us = T0 + i * 10 * S_US;
        rd.value = 500 + (i % 7);
        anomaly_model_on_reading(m, &rd, &ev);
    }
    rd.event_time_us = T0 + 100 * S_US; /* older than the last one */
    rd.value = 9000;
    anomaly_model_on_reading(m, &rd, &ev);
    CHECK(anomaly_model_ignored(m) == 1 && ev.count == 0);
    anomaly_list_free(&ev);
    anomaly_model_destroy(m);
}

/* Compares two event lists on everything but nothing wall-clock (there is none in the model). */
static int same_events(const anomaly_list *a, const anomaly_list *b)
{
    if (a->count != b->count) return 0;
    for (size_t i = 0; i < a->count; i++) {
        const anomaly_event *x = &a->items[i], *y = &b->items[i];
        if (strcmp(x->anomaly_id, y->anomaly_id) || strcmp(x->state, y->state) || x->start_us != y->start_us ||
            x->end_us != y->end_us || x->score != y->score || x->readings != y->readings || strcmp(x->reason, y->reason))
            return 0;
    }
    return 1;
}

static sensor *eventful_world(int *n)
{
    static sensor ss[8];
    *n = room_world(ss);
    ss[0].stuck_from = 2000;
    ss[0].stuck_to = 2000 + 15 * 60;
    ss[1].drift_from = 4000;
    ss[1].drift_to = 4000 + 30 * 60;
    ss[1].drift_by = 120;
    ss[2].silent_from = 3000;
    ss[2].silent_to = 3600;
    ss[3].spike_at = 5000;
    ss[3].spike_by = -3;
    ss[3].spike_len = 1;
    return ss;
}

/* Save at an arbitrary point, load into a fresh model, go on: the same events as one run. */
static void test_save_load_equals_uninterrupted(void)
{
    int n;
    sensor *ss = eventful_world(&n);
    sensor copy[8];
    memcpy(copy, ss, sizeof copy);
    run a;
    run_init(&a, 8);
    feed(&a, ss, n, 3 * 3600);
    CHECK(count_events(&a.ev, ANOMALY_STUCK, "close", NULL) == 1 && count_events(&a.ev, ANOMALY_DRIFT, "close", NULL) == 1 &&
          count_events(&a.ev, ANOMALY_SILENT, "close", NULL) == 1 && count_events(&a.ev, ANOMALY_SPIKE, "close", NULL) == 1);
    if (a.ev.count != 8) dump(&a.ev);

    run b;
    run_init(&b, 8);
    memcpy(ss, copy, sizeof copy);
    double cuts[] = {2200, 3300, 4500, 6000, 3 * 3600};
    for (int k = 0; k < 5; k++) {
        feed(&b, ss, n, cuts[k]);
        st_buf buf = {0};
        anomaly_model_save(b.m, &buf);
        anomaly_model_destroy(b.m);
        b.m = anomaly_model_new(NULL);
        binio_reader r = {buf.data, buf.data + buf.len, "state"};
        st_err e;
        CHECK(anomaly_model_load(b.m, &r, &e) == ST_OK && r.p == r.end);
        st_buf again = {0};
        anomaly_model_save(b.m, &again);
        CHECK(again.len == buf.len && !memcmp(again.data, buf.data, buf.len));
        st_buf_free(&again);
        st_buf_free(&buf);
    }
    CHECK_MSG(same_events(&a.ev, &b.ev), "%zu events uninterrupted, %zu with restarts", a.ev.count, b.ev.count);
    CHECK(anomaly_model_open_count(a.m) == anomaly_model_open_count(b.m));

    /* damaged states are refused whole, and leave an empty model (ASan checks the frees) */
    st_buf buf = {0};
    anomaly_model_save(a.m, &buf);
    for (size_t cut = 0; cut < buf.len; cut += buf.len / 97 + 1) {
        anomaly_model *m = anomaly_model_new(NULL);
        binio_reader r = {buf.data, buf.data + cut, "cut"};
        st_err e;
        CHECK(anomaly_model_load(m, &r, &e) == ST_ERR_FORMAT);
        CHECK(anomaly_model_sensor_count(m) == 0);
        anomaly_model_destroy(m);
    }
    buf.data[0] ^= 1;
    anomaly_model *m = anomaly_model_new(NULL);
    binio_reader r = {buf.data, buf.data + buf.len, "magic"};
    st_err e;
    CHECK(anomaly_model_load(m, &r, &e) == ST_ERR_FORMAT && strstr(e.msg, "bad magic"));
    anomaly_model_destroy(m);
    st_buf_free(&buf);
    run_free(&a);
    run_free(&b);
}

/* The state per sensor does not grow with the readings. */
static void test_memory_bounded(void)
{
    sensor ss[8];
    int n = room_world(ss);
    run x;
    run_init(&x, 9);
    feed(&x, ss, n, 1800);
    size_t b1 = anomaly_model_bytes(x.m);
    st_buf s1 = {0};
    anomaly_model_save(x.m, &s1);
    feed(&x, ss, n, 12 * 3600);
    size_t b2 = anomaly_model_bytes(x.m);
    st_buf s2 = {0};
    anomaly_model_save(x.m, &s2);
    fprintf(stderr, "memory: %zu bytes for %zu sensors (%zu per sensor), state %zu bytes\n", b2,
            anomaly_model_sensor_count(x.m), b2 / anomaly_model_sensor_count(x.m), s2.len);
    CHECK(b1 == b2 && s1.len == s2.len);
    CHECK(b2 / 4 < 2048);
    st_buf_free(&s1);
    st_buf_free(&s2);
    run_free(&x);
}

static void test_params_and_alerts(void)
{
    anomaly_params p;
    anomaly_params_init(&p);
    st_err e;
    CHECK(anomaly_params_set(&p, "silent_factor=8", &e) == ST_OK && p.silent_factor == 8);
    CHECK(anomaly_params_set(&p, "stuck_readings=20", &e) == ST_OK && p.stuck_readings == 20);
    CHECK(anomaly_params_set(&p, "stuck_readings=2.5", &e) == ST_ERR_ARG && strstr(e.msg, "whole number"));
    CHECK(anomaly_params_set(&p, "spike_score=x", &e) == ST_ERR_ARG);
    CHECK(anomaly_params_set(&p, "reference_sensors=2", &e) == ST_ERR_ARG);
    CHECK(anomaly_params_set(&p, "nope=1", &e) == ST_ERR_ARG && strstr(e.msg, "known: warmup_readings"));
    CHECK(anomaly_params_set(&p, "lateness_us=1", &e) == ST_ERR_ARG);
    st_buf d = {0};
    anomaly_params_describe(&p, &d);
    CHECK(strstr(st_buf_cstr(&d), "silent_factor 8\n") && strstr(st_buf_cstr(&d), "stuck_readings 20\n"));
    st_buf_free(&d);
    CHECK_STR(anomaly_kind_str(ANOMALY_SILENT), "silent");

    int n;
    sensor *ss = eventful_world(&n);
    run x;
    run_init(&x, 10);
    feed(&x, ss, n, 2700);
    const anomaly_event *o = find_event(&x.ev, ANOMALY_STUCK, "open");
    CHECK(o != NULL);
    if (o) {
        alert_list al = {0};
        anomaly_event_to_alert(o, 42, &al);
        CHECK(al.count == 1);
        const alert_event *a = &al.items[0];
        CHECK(!strncmp(a->alert_id, "anomaly:stuck/r1-co2-1/", 23) && !strcmp(a->rule, "anomaly:stuck"));
        CHECK(!strcmp(a->state, "open") && a->value == o->score && a->threshold == 6 && a->detection_time_us == 42);
        CHECK(a->event_time_us == o->event_time_us && !strcmp(a->sensor_type, "co2") && a->floor == 1);
        alert_list_free(&al);
    }
    run_free(&x);
}

int main(void)
{
    test_clean_is_quiet();
    test_stuck();
    test_spike_and_level_shift();
    test_silent();
    test_partition_skew();
    test_drift_room();
    test_drift_profile();
    test_out_of_order_ignored();
    test_save_load_equals_uninterrupted();
    test_memory_bounded();
    test_params_and_alerts();
    return CHECK_DONE();
}
