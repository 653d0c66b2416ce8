/* mem_source.h — a record source fed by its caller, for tests and embedding: the records, and a
 * script of what a real source would do around them (group assignments and revocations,
 * re-deliveries, retention, transient problems).
 *
 * Streams 0..n-1 start empty at position 0. Records are appended to a stream's log: data records
 * (Kafka-like: mem_source_add, the next position each) or table rows (Delta-like:
 * mem_source_add_row at a given position, several per position, closed by mem_source_add_done).
 *
 * The script. Control steps (assign, revoke, redeliver, trim, stall, problem) run in the order they were
 * given, one per poll, and only once every record already delivered to the served streams has
 * been taken. A record added while a control step is still pending becomes available when the
 * script reaches it; one added while none is pending is available at once (it was "produced
 * before"). So "add 10, assign, add 5, revoke, assign" plays out in that order whatever the
 * caller's poll sizes.
 *
 * Serving: with group = 0 every stream is served from the start and the handlers are never called
 * (a Delta table, a manual assignment); with group = 1 nothing is served until an assign step, which
 * calls the assigned handler and starts each stream where it said (RECORD_POSITION_DEFAULT: the last
 * committed position, else the stream's first). An assignment replaces the previous one: script a
 * revocation first, as Kafka's eager protocol does. record_source_close revokes what is served.
 *
 * Markers: RECORD_END for a served stream that has delivered everything, once per catch-up, and
 * only when the script has no step left (so a caller stopping at END has seen the whole script).
 * A position outside [first, end] (after a seek, a redelivery or a trim) gives one
 * RECORD_PROBLEM OUT_OF_RANGE for that stream, which then stays silent until it is sought again.
 *
 * Bounds: first = 0 or the trim point; end = the position after the last available record.
 * position_at: the first available data record with timestamp >= the time. id: the name.
 * Threads: every function may be called from any thread (one lock); polls wait on a condition
 * variable, so records added by another thread wake them.
 * Ownership: keys, values, fields and origins are copied; records returned by polls point into
 * the source and stay valid until it is destroyed.
 */
#ifndef ST_SOURCE_MEM_SOURCE_H
#define ST_SOURCE_MEM_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "source/record_source.h"

typedef struct mem_source mem_source;

/* name (copied) names the input in messages and is its id. Never NULL. */
mem_source *mem_source_new(const char *name, int32_t nstreams, int group);

/* Frees m and its record_source view. NULL-safe. */
void mem_source_destroy(mem_source *m);

/* The record_source view of m (borrowed; record_source_destroy on it is mem_source_destroy). */
record_source *mem_source_records(mem_source *m);

/* Appends a data record at the stream's next position (returned). key/value NULL: none. */
int64_t mem_source_add(mem_source *m, int32_t stream, const void *key, size_t key_len, const void *value,
                       size_t value_len, int64_t timestamp_us);

/* Appends a row of typed fields at `position` (not below the stream's last), from origin/row
 * (origin may be NULL). */
void mem_source_add_row(mem_source *m, int32_t stream, int64_t position, const record_value *fields,
                        size_t nfields, const char *origin, int64_t origin_row, int64_t timestamp_us);

/* Appends the RECORD_DONE marker of position. */
void mem_source_add_done(mem_source *m, int32_t stream, int64_t position);

/* Script: the group assigns streams[0..n-1] (NULL: every stream). */
void mem_source_assign(mem_source *m, const int32_t *streams, size_t n);
/* Script: the group takes every served stream back. */
void mem_source_revoke(mem_source *m);
/* Script: stream delivers again from position `from`, unasked (as a zombie fetch or a rewound
 * cursor would): the consumer must skip what it already has. */
void mem_source_redeliver(mem_source *m, int32_t stream, int64_t from);
/* Script: retention removes the positions of stream below `before`. */
void mem_source_trim(mem_source *m, int32_t stream, int64_t before);
/* Script: stream stops delivering, with no marker and no RECORD_END, until it is sought (a
 * client whose fetcher stopped: the records are there, bounds show them, nothing comes). */
void mem_source_stall(mem_source *m, int32_t stream);
/* Script: a RECORD_PROBLEM marker (stream -1) with message (copied). */
void mem_source_problem(mem_source *m, record_problem kind, const char *message);

typedef struct mem_source_stats {
    uint64_t polls, delivered, seeks, commits, assignments, revocations;
    int script_done;     /* every step has run */
} mem_source_stats;

void mem_source_stats_get(mem_source *m, mem_source_stats *out);

/* The position last committed for stream (record_source_commit), -1 when none. */
int64_t mem_source_committed(mem_source *m, int32_t stream);

/* Where the last assignment started stream (the handler's choice), -1 when never assigned. */
int64_t mem_source_assigned_at(mem_source *m, int32_t stream);

#endif
