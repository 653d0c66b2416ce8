/* sensor_kinds.h — the known sensor types as data: one row per kind gives its name,
 * its canonical unit, the units it accepts (each with its conversion to the canonical
 * one and back) and its physical range. Silver rules 8 to 10 (event.h) read this
 * table and nothing else; the simulator finds its kinds here by name.
 *
 *   kind         canonical  accepted units          physical range (canonical, inclusive)
 *   temperature  C          C °C F °F               -40 .. 85
 *   humidity     %          %                       0 .. 100
 *   co2          ppm        ppm                     0 .. 20000
 *   pressure     hPa        hPa kPa (x 10)          870 .. 1085
 *
 * A sensor_type that is not in the table is open: any unit, any value, nothing
 * converted (the schema stays open). Adding a kind is one row in sensor_kinds.c (to
 * simulate it, also a signal model in src/sim keyed by its name).
 *
 * Silver's `converted_from_f` column predates this table and stays as it is: it is
 * true only for a reading that came in °F (the unit rows that say so). A reading in
 * another non-canonical unit (kPa) is converted just the same, with converted_from_f
 * false; its original unit stays in the raw record (bronze_kafka, or the source file).
 *
 * Ownership: every pointer returned points into static, immutable data (valid for the
 * life of the program, safe from any thread).
 */
#ifndef ST_IOT_SENSOR_KINDS_H
#define ST_IOT_SENSOR_KINDS_H

#include <stddef.h>

/* One accepted unit of a kind. */
typedef struct iot_unit {
    const char *name;                   /* as events write it: "C", "\xc2\xb0" "F", "kPa" */
    size_t name_len;
    double (*to_canonical)(double v);   /* NULL: the value is already canonical */
    double (*from_canonical)(double v); /* the inverse, for producers such as the simulator;
                                           NULL when to_canonical is */
    int converted_from_f;               /* what Silver's converted_from_f says for it (°F only) */
} iot_unit;

/* One known sensor kind. */
typedef struct iot_kind {
    const char *name;            /* the sensor_type ("temperature") */
    size_t name_len;
    const char *unit;            /* canonical unit, what Silver stores ("C") */
    size_t unit_len;
    double min, max;             /* physical range in the canonical unit, both inclusive */
    const iot_unit *units;       /* accepted units, the canonical one first */
    size_t nunits;
    const char *impossible_name; /* "impossible_value:<name>" (a quarantine reason) */
    const char *mismatch_name;   /* "unit_mismatch:<name>" */
} iot_kind;

/* The kind named name[0..len), or NULL for an unknown (open) type. O(kinds). */
const iot_kind *iot_kind_find(const char *name, size_t len);

/* The accepted unit of k written unit[0..len), or NULL when k does not accept it.
 * Comparison is exact (bytes, case-sensitive). O(units of k). */
const iot_unit *iot_kind_unit(const iot_kind *k, const char *unit, size_t len);

/* The table, for listings and tests: iot_kind_at(i) for i < iot_kind_count(), NULL
 * past the end. */
size_t iot_kind_count(void);
const iot_kind *iot_kind_at(size_t i);

/* °F to °C exactly as Silver converts it, (f - 32) * 5 / 9, so producers can predict
 * the stored value. */
double iot_f_to_c(double f);

#endif
