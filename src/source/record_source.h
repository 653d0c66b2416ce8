/* record_source.h — one interface for records, whatever they come from: a Kafka topic
 * (source/kafka_source.h), records given by the caller (source/mem_source.h), a Delta table read
 * as a stream (source/delta_source.h).
 *
 * A source serves one input (a topic, a table, ...) split into streams (Kafka: partitions; a
 * Delta table: one stream, 0). Each record has a position in its stream (Kafka: offset; Delta:
 * table version); positions never go down along a stream except after a seek. A stream's end is
 * the position after its last available record (Kafka: the high watermark).
 *
 * record_source_poll returns a batch of records in the order of their streams. Besides data,
 * a batch carries markers, in their place among the data (a record after a marker is newer than
 * it, so these are records, not callbacks):
 *   RECORD_END      the stream has no more records for now (Kafka: partition EOF); once each
 *                   time the reader catches up; position = the stream's end
 *   RECORD_DONE     every record of `position` has been delivered (sources whose positions hold
 *                   several records: a Delta version, empty ones included); a batch never goes
 *                   past a DONE marker, so a caller can stop exactly at a position
 *   RECORD_PROBLEM  a transient trouble the source keeps retrying (see record_problem); value
 *                   holds the message (NUL-terminated); stream is -1 when it is not about one
 * Fatal conditions are the poll's return code instead.
 *
 * Assignment (sources shared by a group of processes: Kafka). The group decides which streams
 * this process serves. During a poll the `assigned` handler gets the new streams and says where
 * each starts; `revoked` runs before streams are taken away. Sources without a group serve every
 * stream from the start and never call them.
 *
 * Progress: record_source_commit tells the source up to where records are durable downstream
 * (Kafka: the group's committed offsets, for lag monitoring; memory: kept for the caller to
 * look at). Sources never use it to decide what to deliver: the caller seeks.
 *
 * Threads: poll, release, seek, close and the handlers run on the caller's thread (handlers from
 * inside poll). Sources that say so (Kafka, memory) also take record_source_commit and
 * record_source_bounds with timeout 0 from one other thread at the same time (Silver's worker).
 * Ownership: what a record points to is borrowed until the next poll, release, seek or close.
 * Every fallible call returns an st_code and fills st_err (NULL allowed); an operation a source
 * does not have gives ST_ERR_UNSUPPORTED naming the source.
 *
 * Implementations embed `struct record_source` as their first member and fill its ops (SQLite's
 * VFS pattern: a table of operations; NULL entries take the defaults stated below).
 *
 * Not a record source: Bronze's watched folder (source/file_source.h). Its unit of progress is a
 * whole file known by its content hash and committed through a batch log, not a position per
 * stream: a file has no offset to seek to or commit, no group assigns it, and its records come
 * with kinds of their own (too long, damaged array) that the file's batch must see together.
 */
#ifndef ST_SOURCE_RECORD_SOURCE_H
#define ST_SOURCE_RECORD_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* As a start position in the assigned handler: the source's own choice (Kafka: the group's
 * committed offset). */
#define RECORD_POSITION_DEFAULT (-1)

typedef enum record_kind { RECORD_DATA = 0, RECORD_END, RECORD_DONE, RECORD_PROBLEM } record_kind;

typedef enum record_problem {
    RECORD_PROBLEM_NONE = 0,
    RECORD_PROBLEM_UNREACHABLE,   /* the servers cannot be reached (Kafka: all brokers down) */
    RECORD_PROBLEM_NO_INPUT,      /* the input does not exist (yet): unknown topic */
    RECORD_PROBLEM_OUT_OF_RANGE,  /* the stream's position is no longer in the input (retention, recreated) */
    RECORD_PROBLEM_OTHER
} record_problem;

/* One typed value of a row (table sources). */
typedef struct record_value {
    int is_null;
    int64_t i64;          /* BOOLEAN (0/1), INT32, INT64 (dates, timestamps as stored) */
    double f64;           /* DOUBLE (also FLOAT) */
    const char *str;      /* BYTE_ARRAY: not NUL-terminated */
    size_t len;
} record_value;

typedef struct record {
    record_kind kind;
    record_problem problem;   /* RECORD_PROBLEM: which */
    int32_t stream;
    int64_t position;
    int64_t timestamp_us;     /* Kafka: the record's timestamp; Delta: the commit's; < 0: none */
    const void *key;          /* NULL: no key */
    size_t key_len;
    const void *value;        /* NULL: no value (a Kafka tombstone) */
    size_t value_len;
    const record_value *fields; /* table sources: the requested columns, in their order; else NULL */
    size_t nfields;
    const char *origin;       /* where inside the position, when a source knows (Delta: the data
                               * file, relative to the table); NULL otherwise */
    int64_t origin_row;       /* with origin: 0-based row in it */
    const void *handle;       /* the source's own message (record_source_header reads it); may be NULL */
} record;

typedef struct record_position {
    int32_t stream;
    int64_t position;
} record_position;

typedef struct record_handlers {
    void *ctx;
    /* streams[0..n-1].stream are now served here: set each .position to where it starts
     * (RECORD_POSITION_DEFAULT on entry). A non-OK return assigns nothing, and the poll that ran
     * the handler returns that error. NULL: every stream starts at the source's default. */
    st_code (*assigned)(void *ctx, record_position *streams, size_t n, st_err *e);
    /* streams[0..n-1] are taken away after this returns (.position unused). May be NULL. */
    void (*revoked)(void *ctx, const record_position *streams, size_t n);
} record_handlers;

typedef struct record_source record_source;

typedef struct record_source_ops {
    /* Up to max records into out, *n of them; waits up to timeout_ms when there is nothing. */
    st_code (*poll)(record_source *s, record *out, size_t max, int timeout_ms, size_t *n, st_err *e);
    void (*release)(record_source *s);                                          /* NULL: no-op */
    st_code (*seek)(record_source *s, const record_position *to, size_t n, st_err *e);
    void (*commit)(record_source *s, const record_position *done, size_t n);    /* NULL: no-op */
    st_code (*bounds)(record_source *s, int32_t stream, int timeout_ms, int64_t *lo, int64_t *hi, st_err *e);
    st_code (*position_at)(record_source *s, int32_t stream, int64_t time_us, int timeout_ms, int64_t *pos,
                           st_err *e);
    st_code (*streams)(record_source *s, int timeout_ms, int32_t **out, size_t *n, st_err *e);
    st_code (*id)(record_source *s, const char **id, st_err *e);                /* NULL: the name */
    bool (*header)(record_source *s, const record *r, const char *name, const void **value, size_t *len); /* NULL: none */
    void (*close)(record_source *s);                                            /* NULL: no-op */
    void (*destroy)(record_source *s);
} record_source_ops;

struct record_source {
    const record_source_ops *ops;
    const char *kind;            /* "kafka", "memory", "delta": for messages */
    const char *name;            /* topic, table path, ...: for messages; owned by the implementation */
    record_handlers handlers;    /* set by record_source_set_handlers; zero: none */
};

/* Up to max records into out (caller's array), *n of them (0 when the timeout passed). */
st_code record_source_poll(record_source *s, record *out, size_t max, int timeout_ms, size_t *n, st_err *e);

/* The caller is done with the last poll's records (the next poll would release them too). */
void record_source_release(record_source *s);

/* Moves each to[i].stream so that its next record is the first at or after to[i].position.
 * Records fetched before are dropped. */
st_code record_source_seek(record_source *s, const record_position *to, size_t n, st_err *e);

/* done[i].position (the next position to read) of done[i].stream is durable downstream. No
 * error is returned: the source reports nothing the caller could act on. */
void record_source_commit(record_source *s, const record_position *done, size_t n);

/* The first available position and the end of stream. timeout_ms > 0: may ask a server, waiting
 * at most that long; 0: without asking one (Kafka: what the last fetch responses said;
 * ST_ERR_NOTFOUND while it knows nothing). */
st_code record_source_bounds(record_source *s, int32_t stream, int timeout_ms, int64_t *lo, int64_t *hi, st_err *e);

/* Position of the first record of stream with timestamp >= time_us, or -1 when there is none. */
st_code record_source_position_at(record_source *s, int32_t stream, int64_t time_us, int timeout_ms, int64_t *pos,
                                  st_err *e);

/* Every stream of the input, served here or not. *out malloc'd (caller frees), *n its length. */
st_code record_source_streams(record_source *s, int timeout_ms, int32_t **out, size_t *n, st_err *e);

/* A stable identity of the input (Delta: the table id; Kafka: the topic). Borrowed. */
st_code record_source_id(record_source *s, const char **id, st_err *e);

const char *record_source_name(const record_source *s);

/* The value of the last header named `name` of a data record of the last poll (Kafka record
 * headers): true with *value (NULL for a null header) and *len, false when it has none or the
 * source has no headers. Borrowed like the record. */
bool record_source_header(record_source *s, const record *r, const char *name, const void **value, size_t *len);

/* Sets (copies) the handlers; NULL removes them. */
void record_source_set_handlers(record_source *s, const record_handlers *h);

/* Stops serving: a group source leaves its group (the revoked handler runs for what is
 * assigned); later polls return nothing. Idempotent. */
void record_source_close(record_source *s);

/* Closes (if not yet) and frees. NULL-safe. */
void record_source_destroy(record_source *s);

/* ---- for implementations */

/* Runs the assigned handler (or keeps RECORD_POSITION_DEFAULT everywhere when there is none). */
st_code record_source_notify_assigned(record_source *s, record_position *streams, size_t n, st_err *e);
void record_source_notify_revoked(record_source *s, const record_position *streams, size_t n);

#endif
