/* record_reader.h — streams the records (events) of one input file of the Bronze file
 * source: JSON Lines, or one JSON array of events.
 *
 * Format detection: the first byte that is not white space (after an optional UTF-8
 * byte-order mark) decides. '[' -> the file is one JSON array and each element is a
 * record, numbered by its index + 1. Anything else -> JSON Lines: each line is a
 * record, numbered by its line number (1-based); lines that are empty or hold only
 * white space are skipped (they are not events and not errors).
 *
 * Records are not validated here (iot_event_parse does that); the reader only cuts
 * them out, never holding more than max_len + 256 KiB of the file in memory:
 *   - a record longer than max_len is returned as REC_TOO_LONG with its first
 *     REC_SAMPLE_BYTES bytes and its full length, and skipped;
 *   - in an array, structural damage the element scanner can see (a trailing comma,
 *     no closing ']', data after the closing ']') is returned as REC_SYNTAX with a
 *     static detail text and a sample of the bytes concerned.
 * Element boundaries in an array are found by a scanner that tracks strings
 * (with backslash escapes) and bracket depth; an element that is not valid JSON is
 * still cut out and returned as REC_OK for the parser to reject.
 *
 * Ownership: the reader borrows fd (the caller closes it); record bytes point into
 * the reader and stay valid until the next rec_reader_next or rec_reader_destroy.
 */
#ifndef ST_STREAM_RECORD_READER_H
#define ST_STREAM_RECORD_READER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define REC_SAMPLE_BYTES 1024

typedef enum rec_kind {
    REC_OK = 0,   /* a record to parse */
    REC_TOO_LONG, /* longer than max_len: data holds a sample, full_len the length */
    REC_SYNTAX    /* damage around records (arrays only): detail says what */
} rec_kind;

typedef struct rec_record {
    rec_kind kind;
    const char *data;   /* record bytes (not NUL-terminated) or a sample */
    size_t len;
    int64_t full_len;   /* length of the whole record */
    int64_t number;     /* line number, or array element index + 1 */
    const char *detail; /* REC_SYNTAX: static text */
} rec_record;

typedef struct rec_reader rec_reader;

/* Reads at most `limit` bytes of fd (from its current offset); max_len is the longest
 * record accepted (iot_parse_opts.max_len, 1 MiB by default). */
rec_reader *rec_reader_new(int fd, int64_t limit, size_t max_len);
void rec_reader_destroy(rec_reader *r); /* NULL-safe */

/* Next record into *out; *eof = 1 (and out untouched) at the end. ST_ERR_IO on a read
 * error; ST_ERR_STATE when the file ends before `limit` bytes (it was truncated while
 * being read). Cost: O(bytes) overall; an array copies each element once. */
st_code rec_reader_next(rec_reader *r, rec_record *out, int *eof, st_err *e);

/* 1 once the reader has seen the file is a JSON array. */
int rec_reader_is_array(const rec_reader *r);
/* Bytes read from the file so far. */
int64_t rec_reader_bytes_read(const rec_reader *r);

#endif
