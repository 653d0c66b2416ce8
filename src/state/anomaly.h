/* anomaly.h — streaming anomaly detection per sensor for the Gold job (issue 18): a sensor
 * that is stuck, drifts away from its room, spikes, or goes silent.
 *
 * The model is pure (no I/O, no wall clock): readings go in, anomaly events come out, and
 * the whole state saves and loads with Gold's window state, so a restarted job reproduces
 * an uninterrupted one event for event.
 *
 * Per sensor it keeps, in a fixed-size record (anomaly_model_bytes / sensors is printed by
 * Gold; nothing grows with the number of readings):
 *   - a robust level and spread: Holt's linear smoothing (level + trend) of the readings,
 *     updated with residuals clipped at 3 spreads (one wild reading cannot drag it), and
 *     the spread as the mean absolute one-step residual (x 1.2533 = sigma for Gaussian
 *     noise); the smallest change seen is the sensor's resolution;
 *   - the usual interval: median of the last 8 gaps between readings;
 *   - 2-minute means of its readings (a ring of 64, i.e. 128 minutes), from which the
 *     room reference is built: the median over the room's sensors of the same type of
 *     (their mean - their usual offset); a sensor's departure is its mean minus that
 *     reference minus its own usual offset (learned, frozen while it departs);
 *   - a daily profile: the usual 2-minute mean for each UTC hour of the day, learned
 *     over days (a sensor with no room reference is compared with it once an hour has
 *     been seen on `profile_days` days).
 *
 * The four kinds, each with a score (and the threshold it must reach):
 *   stuck   no change larger than the sensor's resolution for more than stuck_readings
 *           readings, and that run improbable for this sensor: score = -log10 of
 *           p^(changes missed), p = the sensor's usual share of unchanged consecutive
 *           readings (so a coarse sensor that often repeats a value needs a longer run);
 *   spike   a reading more than spike_score spreads away from the predicted value
 *           (level + trend) that returns within spike_return spreads of the prediction
 *           within spike_readings readings (a jump that stays is a level shift: the
 *           model follows it, nothing is flagged); score = largest |jump| / spread;
 *   drift   the sensor's 2-minute mean departs from its room reference (at least
 *           reference_sensors sensors of its type in the room, itself included) or,
 *           without one, from its daily profile, by more than drift_score usual offset
 *           spreads and drift_spreads reading spreads, for drift_buckets 2-minute means
 *           in a row; score = departure / usual offset spread;
 *   silent  no reading for more than silent_factor usual intervals: seen when the next
 *           reading comes (the gap in event time), or before, once the watermark of the
 *           sensor's Silver partition has passed its last reading by that much; score =
 *           gap / usual interval. The watermark is per source partition (max event time of the partition -
 *           lateness, moved by anomaly_model_advance at the end of each Silver version),
 *           because a Silver batch drained from a Kafka backlog holds partitions one
 *           after the other, hours apart in event time. The end of the input moves no
 *           watermark: a flush makes no sensor silent.
 * A sensor is judged once it has warmup_readings readings (drift: drift_warmup_buckets
 * 2-minute means). A reading older than the sensor's previous one (late, out of order) is
 * counted and otherwise ignored. The room reference waits (within the 64-mean ring) until
 * every known sensor of the room has passed a 2-minute step, so sensors of one room read
 * from different Kafka partitions at different speeds are still compared at equal times.
 *
 * Each anomaly gives an "open" event when confirmed and a "close" event when it ends
 * (a spike, confirmed when it has returned, gives both at once), sharing an anomaly_id
 * "<kind>/<sensor_id>/<start, ISO-8601 UTC>". Events carry a reason a person can read,
 * e.g. "co2 flat at 612.0 ppm for 14 min (85 readings); usual spread 6.1 ppm".
 *
 * Cost: O(1) expected per reading plus O(room sensors) when a 2-minute step completes;
 * anomaly_model_advance is O(sensors + rooms). Memory: one record per sensor (~1.2 KiB),
 * one per (room, type), one per partition.
 */
#ifndef ST_STATE_ANOMALY_H
#define ST_STATE_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#include "iot/event.h"
#include "state/alerts.h"
#include "util/buf.h"
#include "util/err.h"

typedef enum anomaly_kind {
    ANOMALY_STUCK = 0,
    ANOMALY_DRIFT,
    ANOMALY_SPIKE,
    ANOMALY_SILENT,
    ANOMALY_KIND_COUNT
} anomaly_kind;

/* "stuck", "drift", "spike", "silent". */
const char *anomaly_kind_str(anomaly_kind k);

typedef struct anomaly_params {
    int64_t lateness_us;       /* partition watermark = its max event time - this; Gold: --lateness */
    int warmup_readings;       /* 30 */
    int stuck_readings;        /* 10: a flat run must be longer than this */
    double stuck_score;        /* 6: -log10 probability of the flat run */
    double spike_score;        /* 8 spreads */
    double spike_return;       /* 4 spreads */
    int spike_readings;        /* 5: a jump lasting longer is a level shift */
    double silent_factor;      /* 6 usual intervals */
    int reference_sensors;     /* 3 sensors of a type in a room for a room reference */
    double drift_score;        /* 6 usual offset spreads */
    double drift_spreads;      /* 4 reading spreads (the departure must pass both) */
    int drift_buckets;         /* 2 2-minute means in a row */
    int drift_warmup_buckets;  /* 10 2-minute means learnt before drift is judged */
    int profile_days;          /* 3 days of an hour before the daily profile is used */
} anomaly_params;

/* The defaults above (lateness 2 minutes). */
void anomaly_params_init(anomaly_params *p);
/* Sets one parameter from "name=value" (the names of the struct fields; lateness_us is
 * Gold's --lateness and not settable here). ST_ERR_ARG names the parameter and its range. */
st_code anomaly_params_set(anomaly_params *p, const char *assignment, st_err *e);
/* One line per parameter, "name value", for start-up messages and docs. */
void anomaly_params_describe(const anomaly_params *p, st_buf *out);

/* A Silver reading (strings borrowed for the call). partition = Silver's source_partition. */
typedef struct anomaly_reading {
    iot_str sensor_id, building_id, room_id, sensor_type;
    int32_t floor;
    int32_t partition;
    double value;
    int64_t event_time_us;
} anomaly_reading;

/* One state change of an anomaly. Strings are owned by the list that holds the event. */
typedef struct anomaly_event {
    char *anomaly_id;
    const char *state;          /* "open" or "close" (static) */
    anomaly_kind kind;
    char *sensor_id, *building_id, *room_id, *sensor_type;
    const char *unit;           /* static: the kind's canonical unit ("ppm"), "" for open types */
    int32_t floor;
    double value;               /* stuck: the flat value; spike: the peak; drift: the 2-minute mean;
                                   silent: the last value */
    double expected;            /* spike: the prediction; drift: the reference; else NaN */
    double score, threshold;    /* threshold = the score that confirms this kind */
    int64_t readings;           /* readings in the episode (silent: 0) */
    int64_t start_us;           /* first reading of the episode (silent: the last before it) */
    int64_t end_us;             /* last reading of it (silent: the first after it); INT64_MIN on
                                   the open event of a silence (not known yet) */
    int64_t event_time_us;      /* event time at which the state changed (a reading, or the
                                   watermark for a silence) */
    char *reason;
} anomaly_event;

typedef struct anomaly_list {
    anomaly_event *items;
    size_t count, cap;
} anomaly_list;

void anomaly_list_clear(anomaly_list *l);   /* frees the items, keeps the array */
void anomaly_list_free(anomaly_list *l);    /* NULL-safe; leaves l empty */

/* Appends the alert of an anomaly event to out: rule "anomaly:<kind>", alert_id
 * "anomaly:<anomaly_id>", the same state, value = score, threshold = the confirming score,
 * event_time = the event's, detection_time as given. */
void anomaly_event_to_alert(const anomaly_event *a, int64_t detection_us, alert_list *out);

typedef struct anomaly_model anomaly_model;

/* p may be NULL (defaults); it is copied. Never NULL. */
anomaly_model *anomaly_model_new(const anomaly_params *p);
void anomaly_model_destroy(anomaly_model *m);   /* NULL-safe */

/* Feeds one reading (in Silver order); appends the state changes it causes to out. */
void anomaly_model_on_reading(anomaly_model *m, const anomaly_reading *r, anomaly_list *out);
/* End of a Silver version: partition watermarks move up to the readings fed so far; the
 * silences they reveal and the 2-minute steps they complete are judged (events to out). */
void anomaly_model_advance(anomaly_model *m, anomaly_list *out);

size_t anomaly_model_sensor_count(const anomaly_model *m);
size_t anomaly_model_open_count(const anomaly_model *m);       /* anomalies currently open */
size_t anomaly_model_bytes(const anomaly_model *m);            /* heap bytes held by the model */
uint64_t anomaly_model_ignored(const anomaly_model *m);        /* readings older than their sensor's last */

/* Serializes the whole state. The parameters are not saved: they come from the job. */
void anomaly_model_save(const anomaly_model *m, st_buf *out);
/* Replaces m's state with one saved by anomaly_model_save. ST_ERR_FORMAT when damaged. */
struct binio_reader;
st_code anomaly_model_load(anomaly_model *m, struct binio_reader *r, st_err *e);

#endif
