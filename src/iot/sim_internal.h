/* sim_internal.h — private to src/iot: the simulator's generator, sensor and room
 * state, signal model and fast text formatting. */
#ifndef ST_IOT_SIM_INTERNAL_H
#define ST_IOT_SIM_INTERNAL_H

#include <stdint.h>

#include "util/buf.h"

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

enum { SIM_TEMPERATURE = 0, SIM_HUMIDITY, SIM_CO2, SIM_KINDS };
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
    double drift;        /* calibration offset, random walk */
    double drift_sigma;  /* per sqrt(hour) */
    int64_t drift_t;
    int has_battery;
    double battery;      /* % */
    double drain;        /* % per reading */
    int time_fmt;        /* SIM_TIME_* */
    int time_off_min;    /* offset printed with SIM_TIME_OFFSET */
} sim_sensor;

/* The clean reading of sensor s at time t_us (noise included, state advanced). */
double sim_model_read(sim_rng *r, sim_room *room, sim_sensor *s, int64_t t_us);

/* Appends v rounded to `dec` decimals (0..3), no exponent; returns the rounded
 * value exactly as a JSON parser reads that text back. */
double sim_append_fixed(st_buf *b, double v, int dec);
void sim_append_i64(st_buf *b, int64_t v);
/* Appends "YYYY-MM-DDTHH:MM:SS.mmm" then "Z" (off_min == 0 and !force_offset) or
 * "+HH:MM"/"-HH:MM", the wall time being shifted by off_min. */
void sim_append_iso_ms(st_buf *b, int64_t t_us, int off_min, int force_offset);

#endif
