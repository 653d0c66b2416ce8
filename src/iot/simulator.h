/* simulator.h — deterministic building-sensor simulator (DESIGN.md, issue 3).
 *
 * Buildings × floors × rooms × {temperature, humidity, co2} sensors, each with its
 * own id ("b01-f2-r05-co2-1"), seq, calibration drift and battery. Signals: a daily
 * temperature cycle plus occupancy heat, humidity anti-correlated with temperature,
 * CO2 approaching an occupancy-driven level (office hours on weekdays) with first-order
 * dynamics, Gaussian noise, batteries draining. Every sensor reports once per round,
 * rounds in a shuffled order; simulated time advances by 1/rate seconds per event.
 *
 * Determinism: one xoshiro256** generator seeded by splitmix64(seed) drives
 * everything, so the same config gives the same events byte for byte (the wall clock
 * is never read here).
 *
 * Fault mode: with probability fault_rate an event carries one fault, chosen
 * uniformly among the kinds that apply to it (fahrenheit only for temperature
 * sensors, duplicate once something can be repeated, one out-of-order event held back
 * at a time). Each event says whether Silver must accept it ("valid") and, if not, the
 * exact iot_result name Silver must give.
 *
 * Ownership: iot_sim_next's out fields point into the simulator and stay valid until
 * the next iot_sim_next or iot_sim_destroy.
 */
#ifndef ST_IOT_SIMULATOR_H
#define ST_IOT_SIMULATOR_H

#include <stddef.h>
#include <stdint.h>

#include "iot/event.h"
#include "util/buf.h"
#include "util/err.h"

typedef enum iot_fault {
    IOT_FAULT_NONE = 0,
    IOT_FAULT_MALFORMED_JSON,   /* truncated, '=' for ':', or trailing comma: invalid */
    IOT_FAULT_MISSING_FIELD,    /* one required field left out: invalid */
    IOT_FAULT_WRONG_TYPE,       /* one field of the wrong JSON type: invalid */
    IOT_FAULT_IMPOSSIBLE_VALUE, /* value outside the physical range: invalid */
    IOT_FAULT_FAHRENHEIT,       /* temperature sent in °F: valid after conversion */
    IOT_FAULT_DUPLICATE,        /* a recent event re-sent byte for byte: valid, dedup drops it */
    IOT_FAULT_LATE,             /* event time 1 to 8 minutes in the past: valid */
    IOT_FAULT_OUT_OF_ORDER,     /* held back and sent 2-6 events later: valid */
    IOT_FAULT_FUTURE_TIMESTAMP, /* event time 1 to 48 hours ahead: invalid */
    IOT_FAULT_COUNT
} iot_fault;

/* "none", "malformed_json", "missing_field", "wrong_type", "impossible_value",
 * "fahrenheit", "duplicate", "late", "out_of_order", "future_timestamp". */
const char *iot_fault_str(iot_fault f);

typedef struct iot_sim_config {
    uint64_t seed;          /* default 1 */
    int buildings;          /* default 2 */
    int floors;             /* floors per building, default 3 */
    int rooms;              /* rooms per floor, default 4 */
    int sensors;            /* > 0: exactly this many sensors, filling floors × rooms × 3
                               types building after building (buildings is then ignored) */
    double rate;            /* simulated events per second: time step 1/rate; default 1000 */
    int64_t start_time_us;  /* event time of the first event (UTC micros); default
                               2026-01-05T00:00:00Z (a Monday) */
    double fault_rate;      /* fraction of events with a fault, 0..1; default 0 */
    int64_t future_ref_us;  /* future-timestamp faults are at least 1 h after
                               max(simulated time, this); 0 = simulated time only */
} iot_sim_config;

void iot_sim_config_init(iot_sim_config *c);

typedef struct iot_sim iot_sim;

/* One produced event and the simulator's own record of it. */
typedef struct iot_sim_event {
    iot_str key;            /* sensor_id: the Kafka key */
    iot_str value;          /* the JSON bytes (no newline) */
    iot_str event_id;       /* also for malformed events: the id it was meant to have */
    iot_str sensor_id;
    iot_str sensor_type;
    int64_t event_time_us;  /* event time written in the event (UTC micros) */
    int64_t seq;
    iot_fault fault;
    int valid;              /* Silver must accept it (before deduplication) */
    const char *expected_reason; /* "ok" or the iot_result name Silver must give */
    double norm_value;      /* normalized value (°C, %, ppm) when valid, else NaN */
} iot_sim_event;

typedef struct iot_sim_counts {
    uint64_t events, valid, invalid;
    uint64_t by_fault[IOT_FAULT_COUNT];
} iot_sim_counts;

/* Checks the config (ST_ERR_ARG with a message naming the option) and builds the
 * sensors. Cost: O(sensors). */
st_code iot_sim_new(const iot_sim_config *c, iot_sim **out, st_err *e);

/* Produces the next event. Never fails. Cost: O(event bytes), no allocation in the
 * steady state. */
void iot_sim_next(iot_sim *s, iot_sim_event *out);

/* Counts of the events produced so far. */
void iot_sim_stats(const iot_sim *s, iot_sim_counts *out);

size_t iot_sim_sensor_count(const iot_sim *s);

/* The simulated clock: event time of the next regular event. */
int64_t iot_sim_clock_us(const iot_sim *s);

void iot_sim_destroy(iot_sim *s); /* NULL-safe */

/* Manifest (the simulator's record of what it sent), CSV with this header line:
 * event_id,sensor_id,valid,fault,reason,value,event_time_us,seq
 * value is the normalized value (shortest round-trip text) or empty when invalid. */
void iot_sim_manifest_header(st_buf *out);
void iot_sim_manifest_line(const iot_sim_event *ev, st_buf *out);

#endif
