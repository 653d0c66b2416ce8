/* simulator.h — deterministic building-sensor simulator (issue 3): the producer of the
 * event v1 contract (README, "Data contract").
 *
 * Buildings × floors × rooms × kinds sensors (kinds: temperature, humidity, co2 by
 * default; pressure on request), each with its own id ("b01-f2-r05-co2-1"), seq,
 * calibration drift and battery. A run is one boot of every sensor: seq restarts at 1,
 * and event_id is "<sensor_id>:<boot>:<seq>" with a 16-hex-digit boot id derived from
 * (seed, start time, sensor), so ids are unique across runs with different seeds or start
 * times and identical for identical runs. Signals: a daily temperature cycle plus occupancy
 * heat, humidity anti-correlated with temperature, CO2 approaching an occupancy-driven
 * level (office hours on weekdays) with first-order dynamics, air pressure following
 * the building's weather (a few hPa over hours) and its floor's height, Gaussian
 * noise, batteries draining. Every sensor reports once per round,
 * rounds in a shuffled order; simulated time advances by 1/rate seconds per event.
 *
 * Determinism: one xoshiro256** generator seeded by splitmix64(seed) drives
 * everything, so the same config gives the same events byte for byte (the wall clock
 * is never read here).
 *
 * Fault mode: with probability fault_rate an event carries one fault, chosen
 * uniformly among the kinds that apply to it (fahrenheit only for temperature
 * sensors, kpa only for pressure sensors, duplicate once something can be repeated,
 * one out-of-order event held back at a time). Each event says whether Silver must accept it ("valid") and, if not, the
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
    IOT_FAULT_KPA,              /* pressure sent in kPa: valid after conversion */
    IOT_FAULT_COUNT
} iot_fault;

/* Anomalies the simulator can inject into otherwise valid readings (--anomalies): the
 * ground truth the Gold job's detector is measured against. */
typedef enum iot_sim_anomaly {
    IOT_SIM_ANOMALY_NONE = 0,
    IOT_SIM_ANOMALY_STUCK,      /* the sensor repeats one reading for 5-20 min */
    IOT_SIM_ANOMALY_DRIFT,      /* an offset growing linearly over 20-40 min to the kind's drift size,
                                   then gone (recalibrated) */
    IOT_SIM_ANOMALY_SPIKE,      /* 1-3 readings 12-25 noise sigmas off, inside the physical range */
    IOT_SIM_ANOMALY_SILENT,     /* no reading sent for 3-15 min */
    IOT_SIM_ANOMALY_COUNT
} iot_sim_anomaly;

/* "none", "stuck", "drift", "spike", "silent". */
const char *iot_sim_anomaly_str(iot_sim_anomaly k);

/* One injected episode: the readings it changed (silent: kept back) span start..end. */
typedef struct iot_sim_episode {
    char sensor_id[48];
    iot_sim_anomaly kind;
    int64_t start_us, end_us;   /* event times of its first and last reading */
    int64_t readings;
    double magnitude;           /* drift: final offset; spike: offset; stuck: the value; silent: 0 */
} iot_sim_episode;

/* "none", "malformed_json", "missing_field", "wrong_type", "impossible_value",
 * "fahrenheit", "duplicate", "late", "out_of_order", "future_timestamp", "kpa". */
const char *iot_fault_str(iot_fault f);

typedef struct iot_sim_config {
    uint64_t seed;          /* default 1 */
    int buildings;          /* default 2 */
    int floors;             /* floors per building, default 3 */
    int rooms;              /* rooms per floor, default 4 */
    int sensors;            /* > 0: exactly this many sensors, filling floors × rooms × kinds
                               building after building (buildings is then ignored) */
    const char *kinds;      /* the sensors of each room, comma-separated sensor types with a
                               model here (temperature, humidity, co2, pressure); NULL =
                               SIM_DEFAULT_KINDS. Read by iot_sim_new only */
    double rate;            /* simulated events per second: time step 1/rate; default 1000 */
    int64_t start_time_us;  /* event time of the first event (UTC micros); default
                               2026-01-05T00:00:00Z (a Monday) */
    double fault_rate;      /* fraction of events with a fault, 0..1; default 0 */
    int64_t future_ref_us;  /* future-timestamp faults are at least 1 h after
                               max(simulated time, this); 0 = simulated time only */
    int per_room;           /* sensors of each kind per room, 1..16 (default 1); ids end in -1..-N */
    double anomaly_rate;    /* injected anomaly episodes per sensor per simulated hour (default 0:
                               none, and the stream is what it was without anomalies). Episodes
                               start after the first 20 simulated minutes, a sensor waits 15 min
                               between two, the kind is drawn uniformly */
    int64_t anomaly_until_us; /* no episode ends after this event time (0: no limit) */
} iot_sim_config;

/* The default room: the stream of a seed is what it was before pressure existed. */
#define SIM_DEFAULT_KINDS "temperature,humidity,co2"

void iot_sim_config_init(iot_sim_config *c);

typedef struct iot_sim iot_sim;

/* One produced event and the simulator's own record of it. */
typedef struct iot_sim_event {
    iot_str key;            /* sensor_id: the Kafka key */
    iot_str value;          /* the JSON bytes (no newline) */
    iot_str event_id;       /* also for malformed events: the id it was meant to have */
    iot_str sensor_id;
    iot_str sensor_type;
    iot_str building_id;    /* the sensor's place, whatever the JSON says (faults may drop it): */
    int floor;              /* the MQTT sink's topic smarttech/<building>/<floor>/<room>/<sensor_id> */
    iot_str room_id;
    int64_t event_time_us;  /* event time written in the event (UTC micros) */
    int64_t seq;
    iot_fault fault;
    int valid;              /* Silver must accept it (before deduplication) */
    const char *expected_reason; /* "ok" or the iot_result name Silver must give */
    double norm_value;      /* normalized value (°C, %, ppm, hPa) when valid, else NaN */
    iot_sim_anomaly anomaly;/* the anomaly injected into this reading, or NONE */
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
 * value is the normalized value (shortest round-trip text) or empty when invalid. With an
 * anomaly rate > 0 a last column `anomaly` names the anomaly injected into the event
 * (empty when none); otherwise the format is exactly the one above. */
void iot_sim_manifest_header(const iot_sim *s, st_buf *out);
void iot_sim_manifest_line(const iot_sim *s, const iot_sim_event *ev, st_buf *out);

/* Takes the oldest finished episode not taken yet into *out: 1, or 0 when there is none.
 * Episodes finish when their sensor's first reading after them is generated, or at
 * iot_sim_end. */
int iot_sim_take_episode(iot_sim *s, iot_sim_episode *out);
/* The run ends: episodes still going on finish as they are (take them afterwards). */
void iot_sim_end(iot_sim *s);
/* Episodes, CSV with the header sensor_id,kind,start_us,end_us,readings,magnitude. */
void iot_sim_episodes_header(st_buf *out);
void iot_sim_episode_line(const iot_sim_episode *ep, st_buf *out);

#endif
