/* window.h — tumbling event-time windows per building / floor / room / sensor type,
 * with a watermark, for the Gold job (issue 6).
 *
 * Semantics (docs/gold.md says the same for users):
 *   - A reading with event time t falls in the window [s, s + width) with
 *     s = floor(t / width) * width (floor towards minus infinity, so times before 1970 work).
 *   - Watermark W = (max event time of the readings added before the last
 *     win_state_advance) - lateness; before that W = INT64_MIN. W moves forward only at
 *     win_state_advance, which the Gold job calls at the end of each Silver version (Spark
 *     advances its watermark at the end of each micro-batch): the rows of one Silver commit
 *     come from several Kafka partitions one after the other, not in event-time order, and
 *     must all be judged against the same watermark. Tying the step to Silver versions (not
 *     to micro-batches) keeps the outcome independent of how versions are grouped into
 *     batches, so a restarted job reproduces an uninterrupted one exactly.
 *   - A window is CLOSED once W >= its end, or once a flush covered it (see below).
 *     Closed windows are handed out by win_state_take_closed, each exactly once (append mode).
 *   - A reading is LATE when its window is already closed when it arrives, i.e.
 *     s + width <= max(W, flush_mark). Late readings change nothing (not the windows, not
 *     the watermark); the caller quarantines them.
 *     Note: a reading with t < W whose window is still open is NOT late (it still counts),
 *     unlike Spark, which drops every row older than the watermark.
 *   - Flush (end of a finite input): every open window is closed now and flush_mark becomes
 *     the largest end among them, so a later reading for a window ending at or before that
 *     mark is late. The watermark itself is not changed.
 * Aggregates per window: count, sum (avg = sum / count, summed in arrival order), min, max,
 * first and last event time (min and max of t), and the sensor id of the latest reading.
 *
 * Memory: one entry per open window (keys are copied). Cost: win_state_add is O(key length)
 * expected (hash table); take_closed is O(open windows + k log k) for k closed ones.
 */
#ifndef ST_STREAM_WINDOW_H
#define ST_STREAM_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "iot/event.h"
#include "util/buf.h"
#include "util/err.h"

/* One reading, as the window code needs it (strings borrowed for the call). */
typedef struct win_reading {
    iot_str building_id, room_id, sensor_type, sensor_id;
    int32_t floor;
    int64_t event_time_us;
    double value;
} win_reading;

/* A closed window, ready to become a Gold row. Strings are owned by the result array. */
typedef struct win_result {
    char *building_id, *room_id, *sensor_type, *last_sensor_id;
    int32_t floor;
    int64_t start_us, end_us;
    int64_t count;
    double sum, avg, min, max;
    int64_t first_us, last_us;
} win_result;

typedef enum win_verdict { WIN_ACCEPTED = 0, WIN_LATE = 1 } win_verdict;

typedef struct win_state win_state;

/* width_us > 0, lateness_us >= 0 (checked by the caller). Never NULL. */
win_state *win_state_new(int64_t width_us, int64_t lateness_us);
void win_state_destroy(win_state *w);   /* NULL-safe */

/* Adds a reading (see the semantics above). *window_start (may be NULL) gets s. */
win_verdict win_state_add(win_state *w, const win_reading *r, int64_t *window_start);

/* Moves the watermark up to the readings added so far (end of a Silver version). O(1). */
void win_state_advance(win_state *w);

/* The current watermark (INT64_MIN before the first advance). */
int64_t win_state_watermark(const win_state *w);
/* max(watermark, flush mark): windows ending at or before it are closed. */
int64_t win_state_closed_until(const win_state *w);
int64_t win_state_max_event_time(const win_state *w);    /* as of the last advance; INT64_MIN before */
size_t win_state_open_count(const win_state *w);
int64_t win_state_width(const win_state *w);

/* Removes the closed windows (all of them when flush) and returns them in *out (malloc'd, *n
 * entries; NULL when none), sorted by window start, building, floor, room, sensor type. */
void win_state_take_closed(win_state *w, int flush, win_result **out, size_t *n);
void win_results_free(win_result *r, size_t n);          /* NULL-safe */

/* Serializes the whole state (settings, watermark inputs, open windows) to out. Readings added
 * since the last advance count as advanced in the saved state (save at version boundaries). */
void win_state_save(const win_state *w, st_buf *out);
/* Replaces w's content with a state saved by win_state_save, read from the cursor; what
 * names the file for messages. ST_ERR_FORMAT when damaged; ST_ERR_ARG when the saved
 * width or lateness differ from w's (the job's options changed under an existing checkpoint). */
struct binio_reader;
st_code win_state_load(win_state *w, struct binio_reader *r, st_err *e);

#endif
