/* simulator.c — sensors, rounds, JSON events and fault injection (see simulator.h). */
#include "sim/simulator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot/event_names.h"
#include "sim/sim_internal.h"

#define DUP_RING 16
#define EVENT_MAX 512 /* our events are ~300 bytes; a ring slot holds one */

static const char *const fault_names[IOT_FAULT_COUNT] = {
    "none", "malformed_json", "missing_field", "wrong_type", "impossible_value",
    "fahrenheit", "duplicate", "late", "out_of_order", "future_timestamp", "kpa",
};

/* A complete produced event, kept for re-sending (duplicate) or holding back
 * (out of order). */
typedef struct sim_copy {
    iot_sim_event ev;
    int sensor;
    size_t len;
    char json[EVENT_MAX];
    char eid[96];
} sim_copy;

struct iot_sim {
    iot_sim_config cfg;
    sim_rng rng;
    sim_room *rooms;
    sim_sensor *sensors;
    int nrooms, nsensors;
    int kinds[SIM_KINDS], nkinds;            /* the sensors of a room (sim_kinds indexes) */
    const iot_kind *contract[SIM_KINDS];     /* each sim kind's row of iot/sensor_kinds.h */
    const iot_unit *fault_unit[SIM_KINDS];   /* and the unit of its unit fault, or NULL */
    int *order; /* this round's shuffled sensor order */
    int pos;
    uint64_t produced; /* regular events generated: the clock */
    st_buf json;
    char event_id[96]; /* <sensor_id>:<16 hex boot>:<seq>: at most 47 + 1 + 16 + 1 + 19 */
    sim_copy ring[DUP_RING];
    int ring_len, ring_next;
    sim_copy held;
    int held_countdown; /* > 0 while an out-of-order event waits */
    sim_copy out_copy;  /* storage for a re-sent or released event */
    iot_sim_counts counts;
    /* injected anomalies (anomaly_rate > 0) */
    sim_rng arng;       /* their own generator: the main stream of draws stays as it is */
    int dropped;        /* the last generated reading is kept back (a silent sensor) */
    iot_sim_episode *eps; /* finished episodes not taken yet (a FIFO) */
    size_t eps_head, eps_n, eps_cap;
};

const char *iot_fault_str(iot_fault f)
{
    return (unsigned)f < IOT_FAULT_COUNT ? fault_names[f] : "unknown";
}

void iot_sim_config_init(iot_sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->buildings = 2;
    c->floors = 3;
    c->rooms = 4;
    c->rate = 1000;
    c->start_time_us = 1767571200000000LL; /* 2026-01-05T00:00:00Z, a Monday */
    c->per_room = 1;
}

/* Builds rooms and sensors in layout order, drawing each one's character from rng. */
static void build_layout(iot_sim *s)
{
    const iot_sim_config *c = &s->cfg;
    int per_room = s->nkinds * c->per_room;
    int per_building = c->floors * c->rooms * per_room;
    int nsensors = c->sensors > 0 ? c->sensors : c->buildings * per_building;
    int nbuildings = (nsensors + per_building - 1) / per_building;
    s->nsensors = nsensors;
    s->nrooms = (nsensors + per_room - 1) / per_room;
    s->rooms = st_xcalloc((size_t)s->nrooms, sizeof *s->rooms);
    s->sensors = st_xcalloc((size_t)nsensors, sizeof *s->sensors);
    s->order = st_xmalloc((size_t)nsensors * sizeof *s->order);
    static const int tz_choices[] = {60, 60, 0, 120, -300};
    int tz[256];
    for (int b = 0; b < nbuildings && b < 256; b++) tz[b] = tz_choices[sim_rng_below(&s->rng, 5)];
    int n = 0;
    for (int b = 0; b < nbuildings; b++)
        for (int f = 1; f <= c->floors; f++)
            for (int r = 1; r <= c->rooms; r++) {
                if (n >= nsensors) return;
                int ri = n / per_room;
                sim_room *room = &s->rooms[ri];
                room->building = b;
                room->tz_min = tz[b % 256];
                room->occ_scale = sim_rng_uniform(&s->rng, 0.3, 1.0);
                room->temp_bias = sim_rng_uniform(&s->rng, -1.5, 1.5);
                room->hum_bias = sim_rng_uniform(&s->rng, -6, 6);
                room->co2_per_occ = sim_rng_uniform(&s->rng, 500, 1100);
                room->co2 = 430;
                room->co2_t = c->start_time_us;
                sim_model_room_weather(room, c->seed);
                for (int i = 0; i < per_room && n < nsensors; i++, n++) {
                    sim_sensor *x = &s->sensors[n];
                    int k = s->kinds[i / c->per_room];
                    x->kind = k;
                    x->room = ri;
                    x->floor = f;
                    x->building_len = (uint8_t)snprintf(x->building_id, sizeof x->building_id, "b%02d", (b + 1) % 1000);
                    x->room_len = (uint8_t)snprintf(x->room_id, sizeof x->room_id, "r%02d", r % 1000);
                    x->id_len = (uint8_t)snprintf(x->id, sizeof x->id, "%s-f%d-%s-%s-%d", x->building_id, f,
                                                  x->room_id, sim_kinds[k].name, 1 + i % c->per_room);
                    x->drift_sigma = sim_kinds[k].drift_sigma;
                    x->drift_t = c->start_time_us;
                    x->has_battery = sim_kinds[k].battery_share >= 1 || sim_rng_unit(&s->rng) < sim_kinds[k].battery_share;
                    x->battery = sim_rng_uniform(&s->rng, 55, 100);
                    x->drain = sim_rng_uniform(&s->rng, 0.0002, 0.002);
                    double u = sim_rng_unit(&s->rng);
                    x->time_fmt = u < 0.8 ? SIM_TIME_Z : u < 0.9 ? SIM_TIME_OFFSET : SIM_TIME_EPOCH_MS;
                    x->time_off_min = room->tz_min;
                }
            }
}

/* Fisher-Yates shuffle of the sensor order for a new round. */
static void new_round(iot_sim *s)
{
    for (int i = 0; i < s->nsensors; i++) s->order[i] = i;
    for (int i = s->nsensors - 1; i > 0; i--) {
        int j = (int)sim_rng_below(&s->rng, (uint32_t)i + 1);
        int t = s->order[i];
        s->order[i] = s->order[j];
        s->order[j] = t;
    }
    s->pos = 0;
}

st_code iot_sim_new(const iot_sim_config *c, iot_sim **out, st_err *e)
{
    *out = NULL;
    int kinds[SIM_KINDS], nkinds;
    st_code rc = sim_kinds_parse(c->kinds, kinds, &nkinds, e);
    if (rc) return rc;
    if (c->sensors < 0 || c->sensors > 1000000)
        return st_err_set(e, ST_ERR_ARG, "--sensors must be between 1 and 1000000 (got %d)", c->sensors);
    if (c->sensors == 0 && (c->buildings < 1 || c->buildings > 999))
        return st_err_set(e, ST_ERR_ARG, "--buildings must be between 1 and 999 (got %d)", c->buildings);
    if (c->floors < 1 || c->floors > 99)
        return st_err_set(e, ST_ERR_ARG, "--floors must be between 1 and 99 (got %d)", c->floors);
    if (c->rooms < 1 || c->rooms > 999)
        return st_err_set(e, ST_ERR_ARG, "--rooms must be between 1 and 999 (got %d)", c->rooms);
    if (c->per_room < 1 || c->per_room > 16)
        return st_err_set(e, ST_ERR_ARG, "--per-room must be between 1 and 16 (got %d)", c->per_room);
    if (!(c->anomaly_rate >= 0 && c->anomaly_rate <= 60))
        return st_err_set(e, ST_ERR_ARG, "--anomalies must be 0..60 episodes per sensor per hour (got %g)",
                          c->anomaly_rate);
    if ((int64_t)c->buildings * c->floors * c->rooms * nkinds * c->per_room > 1000000 && c->sensors == 0)
        return st_err_set(e, ST_ERR_ARG, "layout of %d x %d x %d rooms is over 1000000 sensors", c->buildings,
                          c->floors, c->rooms);
    if (!(c->rate > 0) || c->rate > 1e9)
        return st_err_set(e, ST_ERR_ARG, "simulated rate must be in (0, 1e9] events/s (got %g)", c->rate);
    if (!(c->fault_rate >= 0 && c->fault_rate <= 1))
        return st_err_set(e, ST_ERR_ARG, "--faults must be a fraction in 0..1 (got %g)", c->fault_rate);
    if (c->start_time_us < 0 || c->start_time_us > 253402300799000000LL - 86400000000LL * 400)
        return st_err_set(e, ST_ERR_ARG, "--start-time must be between 1970 and 9598");
    iot_sim *s = st_xcalloc(1, sizeof *s);
    s->cfg = *c;
    s->cfg.kinds = NULL; /* parsed here, not kept */
    memcpy(s->kinds, kinds, sizeof kinds);
    s->nkinds = nkinds;
    for (int k = 0; k < SIM_KINDS; k++) {
        const sim_kind *m = &sim_kinds[k];
        s->contract[k] = iot_kind_find(m->name, strlen(m->name));
        s->fault_unit[k] = m->fault_unit && s->contract[k]
                               ? iot_kind_unit(s->contract[k], m->fault_unit, strlen(m->fault_unit))
                               : NULL;
        if (!s->contract[k] || (m->fault_unit && !s->fault_unit[k])) {
            free(s);
            return st_err_set(e, ST_ERR_STATE, "simulator kind %s has no matching row in iot/sensor_kinds.c", m->name);
        }
    }
    sim_rng_seed(&s->rng, c->seed);
    build_layout(s);
    for (int i = 0; i < s->nsensors; i++) s->sensors[i].boot = sim_boot_id(c->seed, c->start_time_us, (uint32_t)i);
    if (c->anomaly_rate > 0) {
        sim_rng_seed(&s->arng, c->seed ^ 0xA5A5F00DC0FFEE11ULL);
        for (int i = 0; i < s->nsensors; i++)
            sim_anomaly_init(&s->sensors[i].anomaly, &s->arng, c->start_time_us, c->anomaly_rate);
    }
    new_round(s);
    *out = s;
    return ST_OK;
}

void iot_sim_destroy(iot_sim *s)
{
    if (!s) return;
    free(s->rooms);
    free(s->sensors);
    free(s->order);
    free(s->eps);
    st_buf_free(&s->json);
    free(s);
}

/* Queues a finished episode for iot_sim_take_episode. */
static void push_episode(iot_sim *s, const iot_sim_episode *ep)
{
    if (s->eps_n == s->eps_cap) {
        size_t nc = s->eps_cap ? s->eps_cap * 2 : 16;
        iot_sim_episode *ne = st_xmalloc(nc * sizeof *ne);
        for (size_t i = 0; i < s->eps_n; i++) ne[i] = s->eps[(s->eps_head + i) % s->eps_cap];
        free(s->eps);
        s->eps = ne;
        s->eps_cap = nc;
        s->eps_head = 0;
    }
    s->eps[(s->eps_head + s->eps_n++) % s->eps_cap] = *ep;
}

int iot_sim_take_episode(iot_sim *s, iot_sim_episode *out)
{
    if (!s->eps_n) return 0;
    *out = s->eps[s->eps_head];
    s->eps_head = (s->eps_head + 1) % s->eps_cap;
    s->eps_n--;
    return 1;
}

void iot_sim_end(iot_sim *s)
{
    iot_sim_episode ep;
    for (int i = 0; i < s->nsensors; i++)
        if (sim_anomaly_finish(&s->sensors[i], &ep)) push_episode(s, &ep);
}

size_t iot_sim_sensor_count(const iot_sim *s) { return (size_t)s->nsensors; }

static int64_t clock_at(const iot_sim *s, uint64_t k)
{
    return s->cfg.start_time_us + (int64_t)((double)k * 1e6 / s->cfg.rate);
}

int64_t iot_sim_clock_us(const iot_sim *s) { return clock_at(s, s->produced); }

void iot_sim_stats(const iot_sim *s, iot_sim_counts *out) { *out = s->counts; }

/* What one regular event looks like before it is written. */
typedef struct plan {
    iot_fault fault;
    int skip;          /* field left out (iot_field) or -1 */
    int mistype;       /* field given the wrong type or -1 */
    int alt_unit;      /* the reading is written in its kind's fault unit (°F, kPa) */
    double forced;     /* impossible value to write when fault == IMPOSSIBLE, else NaN */
    int64_t time_us;   /* event time written */
} plan;

static void key(st_buf *b, int first, const char *k)
{
    if (!first) st_buf_append_u8(b, ',');
    st_buf_append_u8(b, '"');
    st_buf_append_str(b, k);
    st_buf_append(b, "\":", 2);
}

static void qstr(st_buf *b, const char *p, size_t n)
{
    st_buf_append_u8(b, '"');
    st_buf_append(b, p, n);
    st_buf_append_u8(b, '"');
}

/* Writes the event JSON of sensor x per plan p; returns the value as a reader would
 * read the written text (before unit conversion). */
static double write_event(iot_sim *s, sim_sensor *x, const plan *p, double reading, st_buf *b)
{
    double written = NAN;
    int first = 1;
    const sim_kind *m = &sim_kinds[x->kind];
    const iot_unit *alt = p->alt_unit ? s->fault_unit[x->kind] : NULL;
    st_buf_append_u8(b, '{');
    size_t idn = strlen(s->event_id);
    for (int f = IOT_F_SCHEMA_VERSION; f < IOT_F_COUNT; f++) {
        if (f == p->skip) continue;
        if (f == IOT_F_BATTERY_PCT && !x->has_battery) continue;
        int wrong = f == p->mistype;
        key(b, first, iot_field_str((iot_field)f));
        first = 0;
        switch (f) {
        case IOT_F_SCHEMA_VERSION: st_buf_append_u8(b, '1'); break;
        case IOT_F_EVENT_ID: qstr(b, s->event_id, idn); break;
        case IOT_F_SENSOR_ID:
            if (wrong) sim_append_i64(b, (int64_t)(x - s->sensors) + 1);
            else qstr(b, x->id, x->id_len);
            break;
        case IOT_F_BUILDING_ID: qstr(b, x->building_id, x->building_len); break;
        case IOT_F_FLOOR:
            if (wrong) st_buf_append_u8(b, '"');
            sim_append_i64(b, x->floor);
            if (wrong) st_buf_append_u8(b, '"');
            break;
        case IOT_F_ROOM_ID: qstr(b, x->room_id, x->room_len); break;
        case IOT_F_SENSOR_TYPE: st_buf_append_u8(b, '"'), st_buf_append_str(b, m->name), st_buf_append_u8(b, '"'); break;
        case IOT_F_VALUE: {
            double v = !isnan(p->forced) ? p->forced : alt ? alt->from_canonical(reading) : reading;
            if (wrong) st_buf_append_u8(b, '"');
            written = sim_append_fixed(b, v, alt ? m->fault_decimals : m->decimals);
            if (wrong) st_buf_append_u8(b, '"');
            break;
        }
        case IOT_F_UNIT:
            st_buf_append_u8(b, '"');
            st_buf_append_str(b, alt ? alt->name : s->contract[x->kind]->unit);
            st_buf_append_u8(b, '"');
            break;
        case IOT_F_EVENT_TIME:
            if (wrong) {
                st_buf_append_str(b, "true");
            } else if (x->time_fmt == SIM_TIME_EPOCH_MS) {
                sim_append_i64(b, p->time_us / 1000);
            } else {
                st_buf_append_u8(b, '"');
                sim_append_iso_ms(b, p->time_us, x->time_fmt == SIM_TIME_OFFSET ? x->time_off_min : 0,
                                  x->time_fmt == SIM_TIME_OFFSET);
                st_buf_append_u8(b, '"');
            }
            break;
        case IOT_F_SEQ:
            if (wrong) st_buf_append_u8(b, '"');
            sim_append_i64(b, x->seq);
            if (wrong) st_buf_append_u8(b, '"');
            break;
        case IOT_F_BATTERY_PCT:
            if (wrong) st_buf_append_u8(b, '"');
            sim_append_fixed(b, x->battery, 1);
            if (wrong) st_buf_append_u8(b, '"');
            break;
        }
    }
    st_buf_append_u8(b, '}');
    return written;
}

/* Breaks a complete JSON object so that no JSON parser accepts it. Our events are
 * ASCII, so a cut never splits a UTF-8 sequence. */
static void corrupt(iot_sim *s, st_buf *b)
{
    uint32_t how = sim_rng_below(&s->rng, 3);
    if (how == 0) { /* truncated: any proper prefix of an object is incomplete */
        b->len = 1 + sim_rng_below(&s->rng, (uint32_t)b->len - 2);
    } else if (how == 1) { /* '=' instead of the ':' after a key */
        size_t colons[IOT_F_COUNT], nc = 0;
        int in_str = 0;
        for (size_t i = 0; i < b->len && nc < IOT_F_COUNT; i++) {
            if (b->data[i] == '"') in_str = !in_str;
            else if (!in_str && b->data[i] == ':') colons[nc++] = i;
        }
        b->data[colons[sim_rng_below(&s->rng, (uint32_t)nc)]] = '=';
    } else { /* trailing comma */
        b->data[b->len - 1] = ',';
        st_buf_append_u8(b, '}');
    }
}

/* Picks the fault of a regular event of sensor x, uniformly among those that apply. */
static iot_fault pick_fault(iot_sim *s, const sim_sensor *x)
{
    if (s->cfg.fault_rate <= 0 || sim_rng_unit(&s->rng) >= s->cfg.fault_rate) return IOT_FAULT_NONE;
    iot_fault c[IOT_FAULT_COUNT];
    int n = 0;
    for (int f = IOT_FAULT_MALFORMED_JSON; f < IOT_FAULT_COUNT; f++) {
        if ((f == IOT_FAULT_FAHRENHEIT || f == IOT_FAULT_KPA) && f != (int)sim_kinds[x->kind].unit_fault) continue;
        if (f == IOT_FAULT_DUPLICATE && s->ring_len == 0) continue;
        if (f == IOT_FAULT_OUT_OF_ORDER && s->held_countdown > 0) continue;
        c[n++] = (iot_fault)f;
    }
    return c[sim_rng_below(&s->rng, (uint32_t)n)];
}

static const iot_field missable[] = {IOT_F_EVENT_ID, IOT_F_SENSOR_ID, IOT_F_BUILDING_ID, IOT_F_FLOOR, IOT_F_ROOM_ID,
                                     IOT_F_SENSOR_TYPE, IOT_F_VALUE, IOT_F_UNIT, IOT_F_EVENT_TIME, IOT_F_SEQ};

/* An impossible reading for a sensor kind, above or below the physical range. */
static double impossible_value(iot_sim *s, int kind)
{
    const sim_kind *m = &sim_kinds[kind];
    int high = sim_rng_unit(&s->rng) < 0.6;
    return high ? sim_rng_uniform(&s->rng, m->high_lo, m->high_hi) : sim_rng_uniform(&s->rng, m->low_lo, m->low_hi);
}

/* Generates the next regular event (advancing clock, sensor seq and state) into
 * s->json and *out. `allowed` = 0 forces a clean event. */
static void generate(iot_sim *s, iot_sim_event *out, int allowed)
{
    if (s->pos >= s->nsensors) new_round(s);
    int si = s->order[s->pos++];
    sim_sensor *x = &s->sensors[si];
    int64_t now = clock_at(s, s->produced++);
    x->seq++;
    double reading = sim_model_read(&s->rng, &s->rooms[x->room], x, now);
    iot_sim_anomaly anomaly = IOT_SIM_ANOMALY_NONE;
    s->dropped = 0;
    if (s->cfg.anomaly_rate > 0) {
        iot_sim_episode ep;
        int64_t now_ms = now - ((now % 1000) + 1000) % 1000; /* the event time as written */
        if (sim_anomaly_step(x, &s->arng, s->cfg.anomaly_rate, s->cfg.anomaly_until_us, now_ms, &reading,
                             &s->dropped, &anomaly, &ep))
            push_episode(s, &ep);
    }

    plan p = {.fault = allowed ? pick_fault(s, x) : IOT_FAULT_NONE, .skip = -1, .mistype = -1, .forced = NAN,
              .time_us = now};
    const char *reason = "ok";
    switch (p.fault) {
    case IOT_FAULT_MALFORMED_JSON: reason = "malformed_json"; break;
    case IOT_FAULT_MISSING_FIELD:
        p.skip = missable[sim_rng_below(&s->rng, sizeof missable / sizeof missable[0])];
        reason = iot_name_field_reason(IOT_MISSING_FIELD, (iot_field)p.skip);
        break;
    case IOT_FAULT_WRONG_TYPE: {
        static const iot_field mt[] = {IOT_F_VALUE, IOT_F_FLOOR, IOT_F_SEQ, IOT_F_EVENT_TIME, IOT_F_SENSOR_ID,
                                       IOT_F_BATTERY_PCT};
        int n = x->has_battery ? 6 : 5;
        p.mistype = mt[sim_rng_below(&s->rng, (uint32_t)n)];
        reason = iot_name_field_reason(IOT_WRONG_TYPE, (iot_field)p.mistype);
        break;
    }
    case IOT_FAULT_IMPOSSIBLE_VALUE:
        p.forced = impossible_value(s, x->kind);
        reason = s->contract[x->kind]->impossible_name;
        break;
    case IOT_FAULT_FAHRENHEIT:
    case IOT_FAULT_KPA: p.alt_unit = 1; break;
    case IOT_FAULT_LATE: p.time_us = now - (int64_t)sim_rng_uniform(&s->rng, 60e6, 480e6); break;
    case IOT_FAULT_FUTURE_TIMESTAMP: {
        int64_t base = now > s->cfg.future_ref_us ? now : s->cfg.future_ref_us;
        p.time_us = base + (int64_t)sim_rng_uniform(&s->rng, 3600e6, 48 * 3600e6);
        reason = "future_timestamp";
        break;
    }
    default: break;
    }
    p.time_us -= ((p.time_us % 1000) + 1000) % 1000; /* millisecond precision */

    snprintf(s->event_id, sizeof s->event_id, "%.*s:%016llx:%lld", (int)x->id_len, x->id,
             (unsigned long long)x->boot, (long long)x->seq);
    st_buf_reset(&s->json);
    double written = write_event(s, x, &p, reading, &s->json);
    if (p.fault == IOT_FAULT_MALFORMED_JSON) corrupt(s, &s->json);

    int valid = !strcmp(reason, "ok");
    out->key = (iot_str){x->id, x->id_len};
    out->sensor_id = out->key;
    out->value = (iot_str){(const char *)s->json.data, s->json.len};
    out->event_id = (iot_str){s->event_id, strlen(s->event_id)};
    out->sensor_type = (iot_str){sim_kinds[x->kind].name, strlen(sim_kinds[x->kind].name)};
    out->event_time_us = p.time_us;
    out->seq = x->seq;
    out->building_id = (iot_str){x->building_id, x->building_len};
    out->floor = x->floor;
    out->room_id = (iot_str){x->room_id, x->room_len};
    out->fault = p.fault;
    out->valid = valid;
    out->expected_reason = reason;
    out->norm_value = valid ? (p.alt_unit ? s->fault_unit[x->kind]->to_canonical(written) : written) : NAN;
    out->anomaly = anomaly;
}

/* Copies an event (its JSON and id too) into a slot. O(event bytes). */
static void save(sim_copy *c, const iot_sim_event *ev)
{
    c->ev = *ev;
    c->len = ev->value.len < EVENT_MAX ? ev->value.len : EVENT_MAX;
    memcpy(c->json, ev->value.ptr, c->len);
    size_t n = ev->event_id.len < sizeof c->eid ? ev->event_id.len : sizeof c->eid;
    memcpy(c->eid, ev->event_id.ptr, n);
    c->ev.event_id.len = n;
}

/* Points a slot's event at the slot's own storage. */
static void fix_pointers(sim_copy *c)
{
    c->ev.value.ptr = c->json;
    c->ev.value.len = c->len;
    c->ev.event_id.ptr = c->eid;
}

/* Emits a saved event through out_copy (so its slot can be reused at once). */
static void emit_copy(iot_sim *s, const sim_copy *c, iot_fault fault, iot_sim_event *out)
{
    s->out_copy = *c;
    fix_pointers(&s->out_copy);
    *out = s->out_copy.ev;
    out->fault = fault;
}

/* Books an emitted event in the counts and, when it is a clean valid original,
 * in the ring of events a duplicate may repeat. */
static void account(iot_sim *s, const iot_sim_event *ev)
{
    s->counts.events++;
    s->counts.by_fault[ev->fault]++;
    if (ev->valid) s->counts.valid++;
    else s->counts.invalid++;
    if (ev->valid && ev->fault != IOT_FAULT_DUPLICATE && ev->value.len < EVENT_MAX) {
        save(&s->ring[s->ring_next], ev);
        s->ring_next = (s->ring_next + 1) % DUP_RING;
        if (s->ring_len < DUP_RING) s->ring_len++;
    }
}

/* See simulator.h. Order of business: release a held-back event when its turn has
 * come; otherwise make a regular event, which may turn into a duplicate of a recent
 * one (no new reading) or be held back (out of order) in favour of a clean one. A
 * reading of a silent sensor (injected anomaly) is generated (so every draw happens as
 * without anomalies) but not sent: the next one is made instead. */
void iot_sim_next(iot_sim *s, iot_sim_event *out)
{
    if (s->held_countdown > 0 && --s->held_countdown == 0) {
        emit_copy(s, &s->held, IOT_FAULT_OUT_OF_ORDER, out);
        account(s, out);
        return;
    }
    /* A duplicate is decided before the reading: it replaces it. The draw order is
     * fixed, so the stream stays deterministic. */
    do
        generate(s, out, 1);
    while (s->dropped && out->fault != IOT_FAULT_DUPLICATE && out->fault != IOT_FAULT_OUT_OF_ORDER);
    if (out->fault == IOT_FAULT_DUPLICATE) {
        /* The regular event just generated is dropped (its seq stays unused, as when a
         * device retries instead of sending its next reading). */
        const sim_copy *c = &s->ring[sim_rng_below(&s->rng, (uint32_t)s->ring_len)];
        emit_copy(s, c, IOT_FAULT_DUPLICATE, out);
    } else if (out->fault == IOT_FAULT_OUT_OF_ORDER) {
        if (!s->dropped) { /* a silent sensor's reading is not held back: it is never sent */
            save(&s->held, out);
            s->held_countdown = 2 + (int)sim_rng_below(&s->rng, 5);
        }
        do
            generate(s, out, 0);
        while (s->dropped);
    }
    account(s, out);
}

void iot_sim_manifest_header(const iot_sim *s, st_buf *out)
{
    st_buf_append_str(out, s->cfg.anomaly_rate > 0 ? "event_id,sensor_id,valid,fault,reason,value,event_time_us,seq,anomaly\n"
                                                   : "event_id,sensor_id,valid,fault,reason,value,event_time_us,seq\n");
}

/* One CSV line; ids never hold commas or quotes (simulator-made). */
void iot_sim_manifest_line(const iot_sim *s, const iot_sim_event *ev, st_buf *out)
{
    st_buf_append(out, ev->event_id.ptr, ev->event_id.len);
    st_buf_append_u8(out, ',');
    st_buf_append(out, ev->sensor_id.ptr, ev->sensor_id.len);
    st_buf_append_str(out, ev->valid ? ",1," : ",0,");
    st_buf_append_str(out, iot_fault_str(ev->fault));
    st_buf_append_u8(out, ',');
    st_buf_append_str(out, ev->expected_reason);
    st_buf_append_u8(out, ',');
    if (ev->valid) iot_append_double(out, ev->norm_value);
    st_buf_append_u8(out, ',');
    sim_append_i64(out, ev->event_time_us);
    st_buf_append_u8(out, ',');
    sim_append_i64(out, ev->seq);
    if (s->cfg.anomaly_rate > 0) {
        st_buf_append_u8(out, ',');
        if (ev->anomaly != IOT_SIM_ANOMALY_NONE) st_buf_append_str(out, iot_sim_anomaly_str(ev->anomaly));
    }
    st_buf_append_u8(out, '\n');
}
