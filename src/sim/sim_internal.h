/* sim_internal.h — private to src/sim: the simulator's generator, sensor and room
 * state, signal model and fast text formatting. */
#ifndef ST_IOT_SIM_INTERNAL_H
#define ST_IOT_SIM_INTERNAL_H

#include <stdint.h>

#include "sim/simulator.h"
#include "util/buf.h"
#include "util/err.h"

/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
typedef struct sim_rng {
    uint64_t s[4];
    int have_gauss;
    double gauss;
} sim_rng;

void sim_rng_seed(sim_rng *r, uint64_t seed);
uint64_t sim_rng_u64(sim_rng *r);
double sim_rng_unit(sim_rng *r);                    /* [0, 1), 53 bits */
double sim_rng_uniform(sim_rng *r, double lo, double hi);
uint32_t sim_rng_below(sim_rng *r, uint32_t n);      /* [0, n), n > 0 */
double sim_rng_gauss(sim_rng *r);                    /* N(0, 1), polar method */

/* The kinds the simulator has a signal model for (index into sim_kinds). */
enum { SIM_TEMPERATURE = 0, SIM_HUMIDITY, SIM_CO2, SIM_PRESSURE, SIM_KINDS };

/* What the simulator needs per kind besides the contract row (iot/sensor_kinds.h,
 * found by name): the text it writes, its sensors' character and its faults. */
typedef struct sim_kind {
    const char *name;         /* sensor_type, a row of iot/sensor_kinds.h */
    int decimals;             /* of a value in the canonical unit */
    double drift_sigma;       /* calibration random walk, canonical unit per sqrt(hour) */
    double battery_share;     /* fraction of sensors on battery; 1 = all (no draw) */
    double high_lo, high_hi;  /* impossible_value faults: above the range (60 %) ... */
    double low_lo, low_hi;    /* ... or below it, canonical unit */
    iot_fault unit_fault;     /* the fault sending a reading in fault_unit, or IOT_FAULT_NONE */
    const char *fault_unit;   /* an accepted unit of the contract row */
    int fault_decimals;
    double noise;             /* Gaussian sensor noise (sigma), canonical unit */
    double drift_lo, drift_hi;/* injected drift anomalies: total offset range, canonical unit */
} sim_kind;

extern const sim_kind sim_kinds[SIM_KINDS];

/* Reads the kinds of a room, a comma-separated list of sim_kinds names (NULL =
 * SIM_DEFAULT_KINDS), into kinds[0..*n). ST_ERR_ARG names an unknown or repeated kind. */
st_code sim_kinds_parse(const char *list, int kinds[SIM_KINDS], int *n, st_err *e);
enum { SIM_TIME_Z = 0, SIM_TIME_OFFSET, SIM_TIME_EPOCH_MS };

typedef struct sim_room {
    int building;        /* index */
    int tz_min;          /* building's UTC offset in minutes (for office hours) */
    double occ_scale;    /* peak occupancy 0.3..1 */
    double temp_bias;    /* °C */
    double hum_bias;     /* % */
    double co2_per_occ;  /* ppm added at full occupancy */
    double co2;          /* current CO2 level (state) */
    int64_t co2_t;       /* time of that level */
    double p_site;       /* hPa at the building's ground floor, weather aside */
    double p_phase[3];   /* phases of the building's weather components */
} sim_room;

typedef struct sim_sensor {
    char id[48];
    char building_id[8];
    char room_id[8];
    uint8_t id_len, building_len, room_len;
    int floor;
    int kind;
    int room;            /* index into rooms */
    int64_t seq;         /* last seq sent */
    uint64_t boot;       /* this run's boot id (sim_boot_id), part of every event_id */
    double drift;        /* calibration offset, random walk */
    double drift_sigma;  /* per sqrt(hour) */
    int64_t drift_t;
    int has_battery;
    double battery;      /* % */
    double drain;        /* % per reading */
    int time_fmt;        /* SIM_TIME_* */
    int time_off_min;    /* offset printed with SIM_TIME_OFFSET */
    struct sim_anomaly_state {  /* injected anomalies (sim_anomaly.c); unused at rate 0 */
        int64_t next_start;     /* earliest start of the next episode; INT64_MAX: no more */
        int kind;               /* IOT_SIM_ANOMALY_* of the episode going on, NONE when idle */
        int64_t start, end;     /* its scheduled span (spikes: start only) */
        double magnitude;       /* drift: the offset reached at the end; spike: the offset */
        double stuck_reading;   /* stuck: the reading repeated */
        int spike_left;         /* spike: readings still to change */
        int64_t first_t, last_t, readings; /* readings it changed (or kept back) so far */
    } anomaly;
} sim_sensor;

/* The boot id of sensor `index` in a run that starts at start_time_us: what a real
 * device's boot nonce is, so that its event ids "<sensor_id>:<boot>:<seq>" do not
 * repeat across runs although seq restarts at 1 in every run. A pure function, not a
 * draw from the run's generator, so a seed's readings stay what they were. For a fixed
 * index and start time it is a bijection of the seed (an xor with a constant, then
 * splitmix64's invertible finalizer): two seeds never give one sensor one boot id.
 * The start time is mixed in because a paced run starts "now": the same seed run
 * again later sends new readings, which must not be taken for re-sends. */
uint64_t sim_boot_id(uint64_t seed, int64_t start_time_us, uint32_t index);

/* Gives room the weather and site of its building: drawn from its own generator
 * seeded by (seed, building), so every room of a building shares them and the main
 * stream of draws is the same whether pressure sensors are simulated or not. */
void sim_model_room_weather(sim_room *room, uint64_t seed);

/* The clean reading of sensor s at time t_us (noise included, state advanced). */
double sim_model_read(sim_rng *r, sim_room *room, sim_sensor *s, int64_t t_us);

/* Injected anomalies (sim_anomaly.c): the schedule of one sensor, drawn from the run's
 * anomaly generator (never from the main one, so the other readings stay what they are).
 * rate_per_h: episodes per sensor per simulated hour; until_us: no episode may end after
 * it (0: no limit). */
void sim_anomaly_init(struct sim_anomaly_state *a, sim_rng *arng, int64_t start_us, double rate_per_h);
/* Applies the schedule of sensor x to its clean reading at t: may start an episode, changes
 * *reading (stuck, drift, spike) or sets *drop (silent: the reading is not sent). When an
 * episode is over it is written to *done (sensor id included) and 1 is returned. *kind gets
 * the anomaly applied to this reading (IOT_SIM_ANOMALY_NONE when clean). */
int sim_anomaly_step(sim_sensor *x, sim_rng *arng, double rate_per_h, int64_t until_us, int64_t t, double *reading,
                     int *drop, iot_sim_anomaly *kind, iot_sim_episode *done);
/* The run ends: an episode going on that changed readings is written to *done (1). */
int sim_anomaly_finish(sim_sensor *x, iot_sim_episode *done);

/* Appends v rounded to `dec` decimals (0..3), no exponent; returns the rounded
 * value exactly as a JSON parser reads that text back. */
double sim_append_fixed(st_buf *b, double v, int dec);
void sim_append_i64(st_buf *b, int64_t v);
/* Appends "YYYY-MM-DDTHH:MM:SS.mmm" then "Z" (off_min == 0 and !force_offset) or
 * "+HH:MM"/"-HH:MM", the wall time being shifted by off_min. */
void sim_append_iso_ms(st_buf *b, int64_t t_us, int off_min, int force_offset);

#endif
