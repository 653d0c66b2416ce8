/* alerts.h — threshold alert rules and the open/close state machine of the Gold job.
 *
 * Rules (config/alerts.conf documents the format; alert_rules_default() gives the same):
 *   co2_high     co2          above 1000     window         hysteresis 50
 *   temperature  temperature  outside 18 26  consecutive 3  hysteresis 0.5
 *   humidity     humidity     outside 30 70  window         hysteresis 2
 * one rule per line: name, sensor type, condition (`above X`, `below X`, `outside LO HI`:
 * failing when value > X, < X, or outside [LO, HI]), evaluation, and an optional
 * `hysteresis H` (default 0): recovering needs the value inside the bounds by at least H.
 * Evaluation:
 *   window          the average of each closed Gold window (per building/floor/room and the
 *                   rule's sensor type) is tested; the alert subject is that room, and the
 *                   alert's sensor_id is the sensor that reported last in the window;
 *   consecutive N   each reading of a sensor is tested, in stream order; the subject is the
 *                   sensor.
 * State machine per (rule, subject), so a long episode gives one alert, not a storm:
 *   - window: OPEN when a window fails while no alert is open; CLOSE when a later window
 *     of that subject recovers.
 *   - consecutive N: OPEN after N failing readings in a row; CLOSE after N recovered readings
 *     in a row while open (a reading in the hysteresis band breaks both runs).
 * Open and close rows share an alert_id, "<rule>/<subject>/<event time of the open,
 * ISO-8601 UTC>", deterministic so a replay reproduces it. value/threshold/event_time are
 * those of the window (avg, window start) or reading that changed the state; threshold is
 * the bound that was crossed (for a close: the same bound as the open).
 * detection_time is the wall clock when the job made the decision (given by the caller).
 *
 * Cost: O(1) expected per reading / window (hash table keyed by rule and subject); memory
 * one entry per (consecutive rule, sensor) and (window rule, room) seen.
 */
#ifndef ST_STREAM_ALERTS_H
#define ST_STREAM_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "state/window.h"
#include "util/buf.h"
#include "util/err.h"

typedef enum alert_op { ALERT_OP_ABOVE = 0, ALERT_OP_BELOW, ALERT_OP_OUTSIDE } alert_op;
typedef enum alert_mode { ALERT_MODE_WINDOW = 0, ALERT_MODE_CONSECUTIVE } alert_mode;

typedef struct alert_rule {
    char name[64];
    char sensor_type[64];
    alert_op op;
    double lo, hi;        /* above X: hi = X; below X: lo = X; outside: [lo, hi] */
    alert_mode mode;
    int n;                /* consecutive readings (>= 1); 1 for window rules */
    double hysteresis;    /* >= 0: a value recovers only when it passes with the bounds moved this
                             far inwards (values in between neither fail nor recover) */
} alert_rule;

typedef struct alert_rules alert_rules;

/* The three default rules above. Never NULL. */
alert_rules *alert_rules_default(void);
/* Parses a rules file. ST_ERR_NOTFOUND when missing; ST_ERR_FORMAT names the file and line
 * (unknown condition, bad number, duplicate rule name, N < 1, LO > HI, ...). An empty file
 * (comments only) gives zero rules: no alerts. */
st_code alert_rules_load(const char *path, alert_rules **out, st_err *e);
/* Same from text (name is used in messages). */
st_code alert_rules_parse(const char *text, size_t len, const char *name, alert_rules **out, st_err *e);
void alert_rules_destroy(alert_rules *r);   /* NULL-safe */
size_t alert_rules_count(const alert_rules *r);
const alert_rule *alert_rules_get(const alert_rules *r, size_t i);
/* 1 when value fails the rule; *bound gets the bound it crossed. NaN never fails. */
int alert_rule_fails(const alert_rule *rule, double value, double *bound);
/* 1 when value passes the rule with the bounds moved inwards by the hysteresis. NaN: 0. */
int alert_rule_recovered(const alert_rule *rule, double value);
/* One line per rule, in the config-file syntax (for the job's start-up message). */
void alert_rules_describe(const alert_rules *r, st_buf *out);

/* One alert row / message. Strings owned by the list that holds it. */
typedef struct alert_event {
    char *alert_id;
    const char *state;        /* "open" or "close" (static) */
    char *rule, *sensor_id, *building_id, *room_id, *sensor_type;
    int32_t floor;
    double value, threshold;
    int64_t event_time_us, detection_time_us;
} alert_event;

typedef struct alert_list {
    alert_event *items;
    size_t count, cap;
} alert_list;

void alert_list_clear(alert_list *l);       /* frees the items, keeps the array */
void alert_list_free(alert_list *l);        /* NULL-safe; leaves l empty */
/* Appends a zeroed alert and returns it; the caller fills it with malloc'd strings, which
 * the list then owns (state points to a static "open"/"close"). Amortised O(1). */
alert_event *alert_list_push(alert_list *l);
/* Appends one alert as a JSON object (no newline): alert_id, state, rule, sensor_id,
 * building_id, floor, room_id, sensor_type, value, threshold, event_time, detection_time
 * (times ISO-8601 UTC with microseconds). */
void alert_event_to_json(const alert_event *a, st_buf *out);

/* A reading for the consecutive rules (strings borrowed for the call). */
typedef struct alert_reading {
    iot_str sensor_id, building_id, room_id, sensor_type;
    int32_t floor;
    double value;
    int64_t event_time_us;
} alert_reading;

typedef struct alert_engine alert_engine;

/* rules are borrowed and must outlive the engine. Never NULL. */
alert_engine *alert_engine_new(const alert_rules *rules);
void alert_engine_destroy(alert_engine *a);  /* NULL-safe */

/* Tests every consecutive rule of the reading's sensor type; appends state changes to out. */
void alert_engine_on_reading(alert_engine *a, const alert_reading *r, int64_t detection_us, alert_list *out);
/* Tests every window rule of the window's sensor type; appends state changes to out. */
void alert_engine_on_window(alert_engine *a, const win_result *w, int64_t detection_us, alert_list *out);

size_t alert_engine_open_count(const alert_engine *a);   /* alerts currently open */
/* Drops the entries that hold nothing (no open alert, no failing run in progress): they are
 * exactly what a subject seen for the first time starts with, so no outcome changes, and the
 * state keeps only subjects with an open alert or a run in progress instead of every subject
 * ever seen (sensors replaced, rooms renamed). O(entries); the job calls it before saving. */
void alert_engine_forget_idle(alert_engine *a);
size_t alert_engine_size(const alert_engine *a);        /* (rule, subject) entries held */

/* Saves / restores the state (per rule and subject: run lengths, open alert), keyed by rule
 * name: after a change of the rules file, state of rules no longer configured is dropped and
 * new rules start clean (an open alert of a kept rule stays open). ST_ERR_FORMAT if damaged. */
void alert_engine_save(const alert_engine *a, st_buf *out);
struct binio_reader;
st_code alert_engine_load(alert_engine *a, struct binio_reader *r, st_err *e);

#endif
