/* anomaly_internal.h — private to src/state/anomaly*.c: the model's records, shared by the
 * detectors (anomaly.c) and the state file codec (anomaly_save.c). */
#ifndef ST_STATE_ANOMALY_INTERNAL_H
#define ST_STATE_ANOMALY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "iot/sensor_kinds.h"
#include "state/anomaly.h"

enum {
    AN_GAPS = 8,      /* gaps kept for the usual interval (median) */
    AN_RING = 64,     /* 2-minute means kept per sensor: how far room peers may be apart */
    AN_HOURS = 24,    /* daily profile bins (UTC hours) */
    AN_REF_MAX = 64,  /* sensors of a room that take part in its reference */
    AN_MIN_GAPS = 4   /* gaps needed before silences are judged */
};

#define AN_BUCKET_US (120LL * 1000000) /* the 2-minute step of drift and the room reference */

/* An anomaly of one kind being followed for a sensor (stuck, drift, silent). */
typedef struct an_episode {
    int64_t start_us, end_us, readings;
    double score, value, expected, threshold;
    double aux;            /* drift: the usual offset spread; silent: the usual interval (us) */
    int32_t open;
    int32_t mode;          /* drift: DRIFT_ROOM or DRIFT_PROFILE (for the reason) */
    int32_t nref;          /* drift: sensors in the reference */
} an_episode;

enum { DRIFT_NONE = 0, DRIFT_ROOM, DRIFT_PROFILE };

typedef struct an_sensor {
    char *id;
    uint32_t id_len, group, part;
    int64_t n;                       /* in-order readings */
    int64_t last_t;
    double last_v;
    /* usual interval */
    int32_t gaps_ms[AN_GAPS];
    int32_t gap_next, gap_n;
    /* robust level and spread */
    double level, trend, mad, res;   /* trend per second; res: smallest change seen (INFINITY before) */
    int64_t level_t;
    /* a jump being watched (spike or level shift) */
    int32_t pend, pend_sign;
    double pend_peak, pend_pred, pend_z;
    int64_t pend_t0, pend_t1;
    /* flat run */
    int64_t run_pairs, run_t0;
    double run_v, zw, mw;            /* weighted unchanged / all consecutive pairs */
    an_episode ep[ANOMALY_KIND_COUNT];
    /* drift: 2-minute means (ring aligned with the room's cursor), offset to the reference */
    float ring_sum[AN_RING];
    uint8_t ring_n[AN_RING];
    double base, sd;
    int32_t learned, ex_len, ex_sign, ex_mode;
    int64_t ex_start;
    /* daily profile: per UTC hour, the usual hourly mean, its day-to-day spread, days seen */
    float prof_mu[AN_HOURS], prof_mad[AN_HOURS];
    uint8_t prof_days[AN_HOURS];
    double hour_sum;
    int32_t hour_n, hour_skip;
    int64_t hour_id;
} an_sensor;

typedef struct an_group {
    char *building, *room, *type;    /* the room's key with floor (owned) */
    uint64_t hash;                   /* of the key (an_group_hash) */
    int32_t floor;
    const iot_kind *kind;
    uint32_t *members;
    uint32_t n, cap;
    int64_t cursor;                  /* next 2-minute step to judge */
    int64_t head;                    /* newest step any member reached */
    int64_t joined;                  /* step of the newest member's first reading */
} an_group;

typedef struct an_part {
    int32_t id;
    int64_t max_t, pending;          /* max event time as of the last advance / since */
} an_part;

/* An open-addressing index of uint32 positions (value + 1; 0 = empty). */
typedef struct an_index {
    uint32_t *slot;
    size_t cap, n;
} an_index;

struct anomaly_model {
    anomaly_params p;
    an_sensor **s;
    size_t ns, caps;
    an_group **g;
    size_t ng, capg;
    an_part *parts;
    size_t np, capp;
    an_index sidx, gidx;
    size_t open;
    uint64_t ignored;
};

/* 64-bit FNV-1a of a sensor id. */
uint64_t an_sensor_hash(const char *id, size_t n);
/* Hash of a room key (building, floor, room, sensor type). */
uint64_t an_group_hash(const char *b, size_t bl, int32_t floor, const char *r, size_t rl, const char *t, size_t tl);
/* Appends a room (strings taken over), indexes it, returns its position. cursor/head/joined
 * start at INT64_MIN. */
uint32_t an_group_add(anomaly_model *m, char *building, char *room, char *type, int32_t floor);
/* Appends a sensor record (taken over) and indexes it by id; returns its position. */
uint32_t an_sensor_add(anomaly_model *m, an_sensor *s);
/* The slot of partition id, created on first use (max_t = pending = INT64_MIN). */
uint32_t an_part_get(anomaly_model *m, int32_t id);
/* Frees sensors, rooms, partitions and indexes: the model is then empty (parameters kept). */
void an_model_clear(anomaly_model *m);

#endif
