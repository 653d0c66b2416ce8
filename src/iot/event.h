/* event.h — the IoT event v1 (README.md, "Data contract"): parse one JSON object,
 * validate and normalize it per the Silver rules, re-emit it as JSON.
 *
 * One call, iot_event_parse(), takes the raw bytes of one event (a Kafka value or
 * one line of a JSON Lines file) and either fills a typed iot_event or says why the
 * event belongs in quarantine, with a stable short reason name ("missing_field:seq")
 * and a human detail message.
 *
 * Cost: a single pass over the bytes with a hand-written scanner (no DOM, no
 * allocation in the common case; a string with backslash escapes is decoded into the
 * caller's arena). Reentrant: no global mutable state, any number of threads may
 * parse at once with their own arenas.
 *
 * Ownership: string fields of iot_event point either into the input buffer or into
 * the iot_arena passed to the parse call; they stay valid while both live (until
 * the input is freed or the arena is reset). `unit` of a known kind points to the
 * kind's static canonical unit.
 *
 * Silver rules (the order in which they are checked, the first failure wins):
 *   1. input longer than opts.max_len               -> "line_too_long"
 *   2. bytes that are not valid UTF-8 (also a lone  -> "invalid_utf8"
 *      \uD800-style escaped surrogate)
 *   3. not one JSON value / a JSON value that is    -> "malformed_json" / "not_an_object"
 *      not an object (trailing spaces, CR, LF ok)
 *   4. schema_version, when present, is 1           -> "wrong_type:schema_version",
 *                                                      "unsupported_schema_version"
 *   5. required fields present (null = absent):     -> "missing_field:<name>"
 *      event_id sensor_id building_id floor room_id sensor_type value unit event_time seq
 *   6. types: strings for ids/type/unit; integral   -> "wrong_type:<name>"
 *      numbers for floor and seq; number for value
 *      and battery_pct; event_time string or number
 *   7. contents: non-empty ids of at most 256 bytes;-> "invalid_field:<name>"
 *      sensor_type [a-z][a-z0-9_]{0,31}; unit 1..16
 *      printable bytes; floor in -1000..1000; seq >= 0;
 *      event_time ISO-8601 with `Z` or an offset, or
 *      epoch milliseconds (a number, 0..year 9999)
 *   8. unit is one the kind accepts (the table of -> "unit_mismatch:<type>"
 *      iot/sensor_kinds.h: temperature C/°C/F/°F,
 *      humidity %, co2 ppm, pressure hPa/kPa);
 *      other types accept any unit that passed rule 7
 *   9. the value is converted to the kind's canonical
 *      unit (°F -> °C: (v - 32) * 5 / 9; kPa -> hPa:
 *      v * 10) and `unit` becomes that unit
 *  10. physically possible (the table: temperature -> "impossible_value:<type>",
 *      -40..85 C, humidity 0..100 %, co2 0..20000  "impossible_value:battery_pct"
 *      ppm, pressure 870..1085 hPa), battery_pct
 *      0..100
 *  11. event_time <= now + future tolerance        -> "future_timestamp"
 * Unknown fields are ignored (the schema stays open). With duplicate keys the
 * last one wins (as Python's json and jansson do).
 */
#ifndef ST_IOT_EVENT_H
#define ST_IOT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "iot/sensor_kinds.h"
#include "util/buf.h"

/* A string that is not NUL-terminated. */
typedef struct iot_str {
    const char *ptr;
    size_t len;
} iot_str;

/* The typed, normalized event (value in the kind's canonical unit: °C, %, ppm, hPa;
 * time in UTC microseconds). */
typedef struct iot_event {
    iot_str event_id;
    iot_str sensor_id;
    iot_str building_id;
    iot_str room_id;
    iot_str sensor_type;
    iot_str unit;             /* normalized: the canonical unit of a known kind */
    int32_t floor;
    int32_t schema_version;   /* 1 (also when the field is absent) */
    double value;             /* normalized value */
    int64_t event_time_us;    /* UTC microseconds since the epoch */
    int32_t event_date;       /* days since 1970-01-01 of event_time (UTC) */
    int64_t seq;
    double battery_pct;       /* NaN when absent or null */
    int has_battery;          /* 1 when battery_pct was given */
    int converted_from_f;     /* 1 when the reading came in °F (only then: see sensor_kinds.h) */
} iot_event;

/* Why an event is rejected. IOT_OK is 0. */
typedef enum iot_reason {
    IOT_OK = 0,
    IOT_LINE_TOO_LONG,
    IOT_INVALID_UTF8,
    IOT_MALFORMED_JSON,
    IOT_NOT_AN_OBJECT,
    IOT_UNSUPPORTED_SCHEMA_VERSION,
    IOT_MISSING_FIELD,
    IOT_WRONG_TYPE,
    IOT_INVALID_FIELD,
    IOT_UNIT_MISMATCH,
    IOT_IMPOSSIBLE_VALUE,
    IOT_FUTURE_TIMESTAMP,
    /* given by the jobs, never by iot_event_parse: */
    IOT_EMPTY_VALUE,          /* "empty_value": a Kafka record with no value (tombstone) */
    IOT_LATE,                 /* "late": Gold, the reading's window was already closed */
    IOT_REASON_COUNT
} iot_reason;

/* The fields of the contract, in contract order. */
typedef enum iot_field {
    IOT_F_SCHEMA_VERSION = 0,
    IOT_F_EVENT_ID,
    IOT_F_SENSOR_ID,
    IOT_F_BUILDING_ID,
    IOT_F_FLOOR,
    IOT_F_ROOM_ID,
    IOT_F_SENSOR_TYPE,
    IOT_F_VALUE,
    IOT_F_UNIT,
    IOT_F_EVENT_TIME,
    IOT_F_SEQ,
    IOT_F_BATTERY_PCT,
    IOT_F_COUNT,
    IOT_F_NONE = -1
} iot_field;

/* The verdict on one event. `name` is a static string, stable across releases, fit
 * for a quarantine `reason` column: "ok", "malformed_json", "missing_field:seq",
 * "impossible_value:humidity", ... `detail` says what exactly was wrong. */
typedef struct iot_result {
    iot_reason reason;
    iot_field field;          /* the field concerned, or IOT_F_NONE */
    const char *name;
    size_t offset;            /* byte offset of a JSON syntax error, else 0 */
    char detail[160];
} iot_result;

/* Options of the Silver rules. Use iot_parse_opts_init() for defaults. */
typedef struct iot_parse_opts {
    size_t max_len;             /* default 1 MiB (1048576 bytes) */
    int64_t now_us;             /* reference clock for rule 11; 0 = read the wall clock */
    int64_t future_tolerance_us;/* default 5 minutes; negative disables rule 11 */
} iot_parse_opts;

void iot_parse_opts_init(iot_parse_opts *o);

/* A bump allocator for decoded strings: blocks are never moved, so pointers into it
 * stay valid until iot_arena_reset/iot_arena_destroy. Reset is O(blocks) and keeps
 * the first block. */
typedef struct iot_arena iot_arena;
iot_arena *iot_arena_new(void);
void *iot_arena_alloc(iot_arena *a, size_t n);
void iot_arena_reset(iot_arena *a);
void iot_arena_destroy(iot_arena *a); /* NULL-safe */

/* Parses, validates and normalizes one event from buf[0..len) (no NUL needed;
 * trailing whitespace such as "\n" or "\r\n" is fine). On IOT_OK fills *ev; on any
 * other reason *ev is unspecified. res may be NULL. arena may be NULL only if the
 * caller accepts IOT_INVALID_FIELD for strings with escapes (it should pass one).
 * Cost: O(len), no allocation unless a string has escapes. */
iot_reason iot_event_parse(const char *buf, size_t len, const iot_parse_opts *opts, iot_arena *arena,
                           iot_event *ev, iot_result *res);

/* Rules 1 to 3 and the sensor_id field only: what a forwarder (the MQTT bridge) needs to key a
 * record by sensor and to know whether it can be an event at all. IOT_OK with *sensor_id set
 * (decoded into the arena when it has escapes; arena NULL gives invalid_field:sensor_id then)
 * when buf is one JSON object whose sensor_id is a string of 1..256 bytes. Otherwise the
 * reason Silver gives for the same bytes: line_too_long, invalid_utf8, malformed_json,
 * not_an_object (never an event), or missing_field:sensor_id, wrong_type:sensor_id,
 * invalid_field:sensor_id (an object without a usable sensor_id; other fields are not looked
 * at, so Silver may still reject it for another one). Cost: one pass, as iot_event_parse. */
iot_reason iot_event_sensor_id(const char *buf, size_t len, const iot_parse_opts *opts, iot_arena *arena,
                               iot_str *sensor_id, iot_result *res);

/* A verdict given upstream. A forwarder that knows a record is bad but passes it on (so that
 * nothing is dropped silently) adds the Kafka header IOT_HEADER_REJECT with a reason name of
 * the iot_result.name form ("line_too_long", "malformed_json", "missing_field:sensor_id") and
 * IOT_HEADER_REJECT_DETAIL with the detail. Silver quarantines such a record with that reason
 * without parsing it: its value may be only a prefix of what was received. */
#define IOT_HEADER_REJECT "smarttech_reject"
#define IOT_HEADER_REJECT_DETAIL "smarttech_reject_detail"

/* The reason a name like "missing_field:seq" is of (the part before ':' compared with
 * iot_reason_str); IOT_REASON_COUNT when it names none. */
iot_reason iot_reason_from_name(const char *name, size_t len);

/* Stable short name of a reason without its field ("missing_field"). */
const char *iot_reason_str(iot_reason r);
/* Contract name of a field ("event_time"); "" for IOT_F_NONE. */
const char *iot_field_str(iot_field f);

/* Appends ev as one canonical JSON object (contract field order, event_time as
 * ISO-8601 UTC with microseconds, value printed with the fewest digits that read
 * back to the same double, battery_pct omitted when absent). No newline. */
void iot_event_to_json(const iot_event *ev, st_buf *out);

/* Appends the shortest decimal text that reads back (strtod) to exactly v;
 * "null" for NaN or infinities (JSON has no such numbers). */
void iot_append_double(st_buf *out, double v);

#endif
