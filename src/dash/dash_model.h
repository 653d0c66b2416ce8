/* dash_model.h — what the dashboard shows, held in memory and fed row by row from the Gold and
 * alerts tables (dash_follow.h does the reading): no query touches a table.
 *
 *   rooms    building -> floor -> room, each with, per sensor type, its Gold 1-minute windows
 *            (avg, min, max, count) of the last `keep` of data time; the latest window gives the
 *            grid's value, coloured by the alert rules of that sensor type:
 *              "alert"  the value fails a rule (alert_rule_fails)
 *              "warn"   within a rule's hysteresis band (neither failing nor recovered)
 *              "ok"     every rule of the type passes; "none": no rule for the type
 *   alerts   every alert_id's open and close rows; open = opened and not closed yet; a
 *            history of the newest `history` rows (open and close), newest first.
 * Data time: "the last hour" is measured back from the newest window_start of the whole model,
 * not the wall clock, so a replayed or simulated past day shows as it was.
 *
 * Bounds: per series at most DASH_MAX_POINTS windows (older ones are dropped first); alerts
 * closed more than `history` rows ago are forgotten. Rooms are as many as the data has.
 * Not thread-safe: the caller locks (dash_server holds one mutex around apply and render).
 * Ownership: the model copies every string it is given; rules are borrowed for its life.
 */
#ifndef ST_DASH_DASH_MODEL_H
#define ST_DASH_DASH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "state/alerts.h"
#include "util/buf.h"
#include "util/err.h"

#define DASH_MAX_POINTS 240
#define DASH_MAX_MINUTES 1440   /* longest series a request may ask for */

typedef struct dash_model dash_model;

/* One Gold row (strings need not be NUL-terminated). */
typedef struct dash_window {
    int64_t start_us, end_us;
    const char *building; size_t building_len;
    int32_t floor;
    const char *room; size_t room_len;
    const char *sensor_type; size_t type_len;
    int64_t count;
    double avg, min, max;
} dash_window;

/* One alerts row (NUL-terminated strings). */
typedef struct dash_alert {
    const char *alert_id, *state, *rule, *sensor_id, *building, *room, *sensor_type;
    int32_t floor;
    double value, threshold;
    int64_t event_time_us, detection_time_us;
} dash_alert;

/* keep_us: data time kept per series (0: 1 h); history: alert rows remembered (0: 200). */
dash_model *dash_model_new(const alert_rules *rules, int64_t keep_us, size_t history);
void dash_model_destroy(dash_model *m); /* NULL-safe */

void dash_model_add_window(dash_model *m, const dash_window *w);
void dash_model_add_alert(dash_model *m, const dash_alert *a);

/* Colour level of a value of sensor_type under the rules: "alert", "warn", "ok" or "none". */
const char *dash_model_level(const dash_model *m, const char *sensor_type, double value);

size_t dash_model_rooms(const dash_model *m);
size_t dash_model_open_alerts(const dash_model *m);

/* Appends the JSON members (no braces) "data_time":..,"rules":[..],"rooms":[..],"alerts":{"open":[..],
 * "history":[..]}. Rooms sorted by building, floor, room; sensor types by name. */
void dash_model_render(const dash_model *m, st_buf *out);

/* Appends {"building":..,"floor":..,"room":..,"minutes":N,"series":{"co2":{"t":[s..],"avg":[..],
 * "min":[..],"max":[..]},..}} with the windows of the last `minutes` of data time (t in Unix
 * seconds of window_start). ST_ERR_NOTFOUND when the room is unknown; minutes is clamped to
 * 1..DASH_MAX_MINUTES. */
st_code dash_model_render_series(const dash_model *m, const char *building, int32_t floor, const char *room,
                                 int minutes, st_buf *out, st_err *e);

#endif
