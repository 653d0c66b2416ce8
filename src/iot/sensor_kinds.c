/* sensor_kinds.c — the sensor-kind table (see sensor_kinds.h): add a kind here. */
#include "iot/sensor_kinds.h"

#include <string.h>

/* The one °F formula; the simulator's manifest relies on it being shared. */
double iot_f_to_c(double f)
{
    return (f - 32.0) * 5.0 / 9.0;
}

/* The simulator has always written °F as c * 9 / 5 + 32; keep that operation order so
 * its streams stay byte for byte what they were. */
static double c_to_f(double c)
{
    return c * 9.0 / 5.0 + 32.0;
}

static double kpa_to_hpa(double v)
{
    return v * 10.0;
}

static double hpa_to_kpa(double v)
{
    return v / 10.0;
}

/* Names are string literals: lengths and reason names are made at compile time. */
#define UNIT(NAME, TO, FROM, F) {NAME, sizeof NAME - 1, TO, FROM, F}
#define CANONICAL(NAME) UNIT(NAME, NULL, NULL, 0)
#define KIND(NAME, CANON, LO, HI, UNITS)                                                                  \
    {NAME, sizeof NAME - 1, CANON, sizeof CANON - 1, LO, HI, UNITS, sizeof UNITS / sizeof UNITS[0],          \
     "impossible_value:" NAME, "unit_mismatch:" NAME}

static const iot_unit temperature_units[] = {
    CANONICAL("C"),
    CANONICAL("\xc2\xb0" "C"),
    UNIT("F", iot_f_to_c, c_to_f, 1),
    UNIT("\xc2\xb0" "F", iot_f_to_c, c_to_f, 1),
};
static const iot_unit humidity_units[] = {CANONICAL("%")};
static const iot_unit co2_units[] = {CANONICAL("ppm")};
static const iot_unit pressure_units[] = {
    CANONICAL("hPa"),
    UNIT("kPa", kpa_to_hpa, hpa_to_kpa, 0),
};

/* Ranges: what the physical quantity can be indoors, generously (a reading outside is
 * a broken sensor or a broken sender, not weather). Pressure: the lowest and highest
 * sea-level pressures ever recorded are ~870 and ~1084 hPa; a building well above sea
 * level reads lower, so sites above ~1,000 m would need a wider row. */
static const iot_kind kinds[] = {
    KIND("temperature", "C", -40, 85, temperature_units),
    KIND("humidity", "%", 0, 100, humidity_units),
    KIND("co2", "ppm", 0, 20000, co2_units),
    KIND("pressure", "hPa", 870, 1085, pressure_units),
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* See sensor_kinds.h. A handful of length compares, a memcmp on a length match. */
const iot_kind *iot_kind_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i].name_len == len && !memcmp(kinds[i].name, name, len)) return &kinds[i];
    return NULL;
}

const iot_unit *iot_kind_unit(const iot_kind *k, const char *unit, size_t len)
{
    for (size_t i = 0; i < k->nunits; i++)
        if (k->units[i].name_len == len && !memcmp(k->units[i].name, unit, len)) return &k->units[i];
    return NULL;
}

size_t iot_kind_count(void)
{
    return NKINDS;
}

const iot_kind *iot_kind_at(size_t i)
{
    return i < NKINDS ? &kinds[i] : NULL;
}
