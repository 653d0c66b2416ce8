/* sim_model.c — the simulator's random generator, signal model and number/time
 * text formatting (see sim_internal.h). */
#include "sim/sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/timeutil.h"

/* splitmix64's output function: a bijection of 64-bit words (xor-shifts and odd
 * multipliers are invertible). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) { return mix64(*x += 0x9E3779B97F4A7C15ULL); }

uint64_t sim_boot_id(uint64_t seed, int64_t start_time_us, uint32_t index)
{
    uint64_t k = mix64((uint64_t)start_time_us ^ mix64(0x9E3779B97F4A7C15ULL * ((uint64_t)index + 1)));
    return mix64(seed ^ k);
}

void sim_rng_seed(sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->have_gauss = 0;
    r->gauss = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rng_u64(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_rng_unit(sim_rng *r) { return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53; }

double sim_rng_uniform(sim_rng *r, double lo, double hi) { return lo + (hi - lo) * sim_rng_unit(r); }

/* Lemire's multiply-shift; the tiny bias (< n / 2^32) is irrelevant here. */
uint32_t sim_rng_below(sim_rng *r, uint32_t n)
{
    return (uint32_t)(((sim_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* Marsaglia's polar method; the second value is cached. */
double sim_rng_gauss(sim_rng *r)
{
    if (r->have_gauss) {
        r->have_gauss = 0;
        return r->gauss;
    }
    double u, v, q;
    do {
        u = 2 * sim_rng_unit(r) - 1;
        v = 2 * sim_rng_unit(r) - 1;
        q = u * u + v * v;
    } while (q >= 1 || q == 0);
    double m = sqrt(-2 * log(q) / q);
    r->gauss = v * m;
    r->have_gauss = 1;
    return u * m;
}

/* Per kind: decimals, drift, battery share, impossible values above and below the
 * range, unit fault, noise, the size of injected drift anomalies. The impossible bounds must lie outside the contract's range
 * (test_iot checks it); the °F draws and decimals are those the simulator always had. */
const sim_kind sim_kinds[SIM_KINDS] = {
    [SIM_TEMPERATURE] = {"temperature", 2, 0.01, 1.0, 90, 250, -90, -45, IOT_FAULT_FAHRENHEIT, "F", 2, 0.12, 1.5, 3},
    [SIM_HUMIDITY] = {"humidity", 1, 0.05, 1.0, 101, 180, -30, -1, IOT_FAULT_NONE, NULL, 0, 0.7, 6, 12},
    [SIM_CO2] = {"co2", 1, 0.8, 0.5, 21000, 90000, -900, -1, IOT_FAULT_NONE, NULL, 0, 6.0, 120, 250}, /* some on mains */
    [SIM_PRESSURE] = {"pressure", 2, 0.02, 1.0, 1100, 1500, 0, 850, IOT_FAULT_KPA, "kPa", 3, 0.03, 0.6, 1.2},
};

/* See sim_internal.h. */
st_code sim_kinds_parse(const char *list, int kinds[SIM_KINDS], int *n, st_err *e)
{
    char known[128];
    size_t kn = 0;
    for (int k = 0; k < SIM_KINDS; k++)
        kn += (size_t)snprintf(known + kn, sizeof known - kn, "%s%s", k ? ", " : "", sim_kinds[k].name);
    *n = 0;
    const char *p = list ? list : SIM_DEFAULT_KINDS;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = -1;
        for (int k = 0; k < SIM_KINDS; k++)
            if (strlen(sim_kinds[k].name) == len && !memcmp(sim_kinds[k].name, p, len)) found = k;
        if (found < 0)
            return st_err_set(e, ST_ERR_ARG, "--kinds: '%.*s' is not a sensor type the simulator models (%s)",
                              (int)(len > 64 ? 64 : len), p, known);
        for (int i = 0; i < *n; i++)
            if (kinds[i] == found) return st_err_set(e, ST_ERR_ARG, "--kinds: '%s' is listed twice", sim_kinds[found].name);
        kinds[(*n)++] = found;
        if (!comma) return ST_OK;
        p = comma + 1;
    }
}

static double smoothstep(double a, double b, double x)
{
    if (x <= a) return 0;
    if (x >= b) return 1;
    double t = (x - a) / (b - a);
    return t * t * (3 - 2 * t);
}

/* Occupancy 0..1 of a room at local time: weekdays 08:00-18:30 with ramps and a lunch
 * dip, near zero at night and on weekends. */
static double occupancy(const sim_room *room, int64_t t_us)
{
    int64_t local_s = t_us / 1000000 + room->tz_min * 60;
    int64_t days = local_s >= 0 ? local_s / 86400 : -((-local_s + 86399) / 86400);
    double h = (double)(local_s - days * 86400) / 3600.0;
    int dow = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    if (dow == 0 || dow == 6) return 0.02 * room->occ_scale;
    double o = smoothstep(7.5, 9.0, h) * (1 - smoothstep(17.0, 18.5, h));
    if (h >= 12.0 && h < 13.5) o *= 0.55;
    return room->occ_scale * (0.03 + 0.97 * o);
}

/* Temperature of a room without sensor noise: daily cycle peaking mid-afternoon plus
 * heat from occupants. */
static double room_temp(const sim_room *room, int64_t t_us)
{
    double h = fmod((double)(t_us / 1000000 + room->tz_min * 60) / 3600.0, 24.0);
    return 20.8 + room->temp_bias + 1.6 * sin(2 * M_PI * (h - 9.0) / 24.0) + 1.3 * occupancy(room, t_us);
}

/* Advances the room's CO2 level to t_us: first order towards 420 ppm plus occupants,
 * faster when filling (tau 15 min) than when emptying (tau 30 min). Time going
 * backwards (an out-of-order reading) leaves the state alone. */
static double room_co2(sim_room *room, int64_t t_us)
{
    double target = 420.0 + occupancy(room, t_us) * room->co2_per_occ;
    if (t_us > room->co2_t) {
        double dt_min = (double)(t_us - room->co2_t) / 60e6;
        double tau = target > room->co2 ? 15.0 : 30.0;
        room->co2 = target + (room->co2 - target) * exp(-dt_min / tau);
        room->co2_t = t_us;
    }
    return room->co2;
}

/* The weather: sea-level pressure moving a few hPa over hours as three slow waves
 * (periods that are no multiple of a day, so days differ) with the building's phases. */
static const double weather_amp_hpa[3] = {6.0, 2.5, 0.8};
static const double weather_period_h[3] = {61.0, 23.0, 9.0};

/* See sim_internal.h. Site: 0-350 m above sea level (-0.12 hPa per metre) and a
 * climate offset of +-5 hPa. */
void sim_model_room_weather(sim_room *room, uint64_t seed)
{
    sim_rng w;
    sim_rng_seed(&w, seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(room->building + 1)));
    room->p_site = 1013.25 - 0.12 * sim_rng_uniform(&w, 0, 350) + sim_rng_uniform(&w, -5, 5);
    for (int i = 0; i < 3; i++) room->p_phase[i] = sim_rng_uniform(&w, 0, 2 * M_PI);
}

/* Indoor air pressure of a room: the weather, the semidiurnal atmospheric tide (0.5 hPa,
 * highs near 10:00 and 22:00 local time) and 0.42 hPa less per floor (3.5 m) up. */
static double room_pressure(const sim_room *room, int floor, int64_t t_us)
{
    double h = (double)t_us / 3600e6;
    double p = room->p_site - 0.42 * (floor - 1);
    for (int i = 0; i < 3; i++) p += weather_amp_hpa[i] * sin(2 * M_PI * h / weather_period_h[i] + room->p_phase[i]);
    double local_h = fmod((double)(t_us / 1000000 + room->tz_min * 60) / 3600.0, 24.0);
    return p + 0.5 * cos(2 * M_PI * (local_h - 10.0) / 12.0);
}

/* See sim_internal.h. Cost: a handful of libm calls. */
double sim_model_read(sim_rng *r, sim_room *room, sim_sensor *s, int64_t t_us)
{
    if (t_us > s->drift_t) {
        double dh = (double)(t_us - s->drift_t) / 3600e6;
        s->drift += s->drift_sigma * sqrt(dh) * sim_rng_gauss(r);
        s->drift_t = t_us;
    }
    if (s->has_battery) {
        s->battery -= s->drain;
        if (s->battery < 0) s->battery = 0;
    }
    double v;
    switch (s->kind) {
    case SIM_TEMPERATURE:
        v = room_temp(room, t_us) + s->drift + sim_kinds[s->kind].noise * sim_rng_gauss(r);
        if (v < -20) v = -20;
        if (v > 45) v = 45;
        return v;
    case SIM_HUMIDITY:
        v = 45.0 + room->hum_bias - 2.4 * (room_temp(room, t_us) - 21.0) + s->drift + sim_kinds[s->kind].noise * sim_rng_gauss(r);
        if (v < 5) v = 5;
        if (v > 95) v = 95;
        return v;
    case SIM_PRESSURE:
        v = room_pressure(room, s->floor, t_us) + s->drift + sim_kinds[s->kind].noise * sim_rng_gauss(r);
        if (v < 880) v = 880;
        if (v > 1075) v = 1075;
        return v;
    default:
        v = room_co2(room, t_us) + s->drift + sim_kinds[s->kind].noise * sim_rng_gauss(r);
        if (v < 350) v = 350;
        if (v > 5000) v = 5000;
        return v;
    }
}

static const double pow10_tab[4] = {1, 10, 100, 1000};

void sim_append_i64(st_buf *b, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    st_buf_reserve(b, (size_t)n + 1);
    if (v < 0) b->data[b->len++] = '-';
    while (n) b->data[b->len++] = (uint8_t)tmp[--n];
}

/* See sim_internal.h. k = round(v * 10^dec) is printed as digits with a decimal
 * point; k / 10^dec is exactly what a correct parser returns for that text. */
double sim_append_fixed(st_buf *b, double v, int dec)
{
    int64_t k = llround(v * pow10_tab[dec]);
    int64_t mag = k < 0 ? -k : k;
    int64_t p = (int64_t)pow10_tab[dec];
    if (k < 0) st_buf_append_u8(b, '-');
    sim_append_i64(b, mag / p);
    if (dec > 0) {
        char frac[4];
        int64_t f = mag % p;
        for (int i = dec - 1; i >= 0; i--) {
            frac[i] = (char)('0' + f % 10);
            f /= 10;
        }
        st_buf_append_u8(b, '.');
        st_buf_append(b, frac, (size_t)dec);
    }
    double d = (double)mag / pow10_tab[dec];
    return k < 0 ? -d : d;
}

static void two(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* See sim_internal.h. Years 0..9999 only (the simulator's range). */
void sim_append_iso_ms(st_buf *b, int64_t t_us, int off_min, int force_offset)
{
    int64_t ms = t_us / 1000 - (t_us % 1000 < 0);
    ms += (int64_t)off_min * 60000;
    int64_t secs = ms / 1000 - (ms % 1000 < 0);
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs / 86400 - (secs % 86400 < 0);
    int sod = (int)(secs - days * 86400);
    int64_t y;
    unsigned mo, d;
    st_civil_from_days(days, &y, &mo, &d);
    char t[30];
    two(t, (int)(y / 100));
    two(t + 2, (int)(y % 100));
    t[4] = '-';
    two(t + 5, (int)mo);
    t[7] = '-';
    two(t + 8, (int)d);
    t[10] = 'T';
    two(t + 11, sod / 3600);
    t[13] = ':';
    two(t + 14, sod / 60 % 60);
    t[16] = ':';
    two(t + 17, sod % 60);
    t[19] = '.';
    t[20] = (char)('0' + msec / 100);
    two(t + 21, msec % 100);
    size_t n = 23;
    if (off_min == 0 && !force_offset) {
        t[n++] = 'Z';
    } else {
        int a = off_min < 0 ? -off_min : off_min;
        t[n++] = off_min < 0 ? '-' : '+';
        two(t + n, a / 60);
        t[n + 2] = ':';
        two(t + n + 3, a % 60);
        n += 5;
    }
    st_buf_append(b, t, n);
}
