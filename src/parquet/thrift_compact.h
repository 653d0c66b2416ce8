/* thrift_compact.h — private: the Thrift compact protocol, just what Parquet's
 * footer and page headers need (structs, lists, i16/i32/i64, bool, binary, double).
 *
 * Writer: appends into an st_buf; it tracks the last field id per nesting level
 * so field headers use the 4-bit delta form when they can.
 * Reader: every length and count is checked against the bytes that remain; an
 * error sets r->err (sticky) and further reads return zeros, so callers check
 * once after decoding a whole struct. Nesting is limited to TC_MAX_DEPTH.
 */
#ifndef ST_PARQUET_THRIFT_COMPACT_H
#define ST_PARQUET_THRIFT_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum {
    TC_STOP = 0,
    TC_TRUE = 1,
    TC_FALSE = 2,
    TC_BYTE = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12
};

#define TC_MAX_DEPTH 32

typedef struct tc_writer {
    st_buf *out;
    int depth;
    int16_t last[TC_MAX_DEPTH];
} tc_writer;

void tc_writer_init(tc_writer *w, st_buf *out);
/* Top-level or list-element struct: opens a field-id scope. */
void tc_struct_begin(tc_writer *w);
/* Writes the stop byte and closes the scope. */
void tc_struct_end(tc_writer *w);
void tc_field_i32(tc_writer *w, int16_t id, int32_t v);
void tc_field_i16(tc_writer *w, int16_t id, int16_t v);
void tc_field_i64(tc_writer *w, int16_t id, int64_t v);
void tc_field_bool(tc_writer *w, int16_t id, int v);
void tc_field_i8(tc_writer *w, int16_t id, int8_t v);
void tc_field_binary(tc_writer *w, int16_t id, const void *p, size_t n);
void tc_field_string(tc_writer *w, int16_t id, const char *s);
/* Field header of a nested struct followed by tc_struct_begin. Close with tc_struct_end. */
void tc_field_struct_begin(tc_writer *w, int16_t id);
/* Field header of a list plus the list header; then write `size` elements. */
void tc_field_list_begin(tc_writer *w, int16_t id, int elem_type, uint32_t size);
/* List elements (no field header). */
void tc_write_i32(tc_writer *w, int32_t v);
void tc_write_i64(tc_writer *w, int64_t v);
void tc_write_binary(tc_writer *w, const void *p, size_t n);
void tc_write_varint(st_buf *b, uint64_t v);

typedef struct tc_reader {
    const uint8_t *p, *end;
    int err;                 /* sticky: 1 after any malformed input */
    int depth;
    int16_t last[TC_MAX_DEPTH];
} tc_reader;

void tc_reader_init(tc_reader *r, const uint8_t *p, size_t n);
/* Opens a struct scope (call before reading its fields). */
void tc_read_struct_begin(tc_reader *r);
void tc_read_struct_end(tc_reader *r);
/* Reads a field header: returns 0 at the stop byte (or on error), else 1 with
 * *type and *id set. A bool field's value is in its type (TC_TRUE/TC_FALSE). */
int tc_read_field(tc_reader *r, int *type, int16_t *id);
int32_t tc_read_i32(tc_reader *r);   /* also reads i16 */
int8_t tc_read_i8(tc_reader *r);     /* TC_BYTE: one raw byte */
int64_t tc_read_i64(tc_reader *r);
double tc_read_double(tc_reader *r);
/* Returns a pointer into the input and its length (not copied). */
const uint8_t *tc_read_binary(tc_reader *r, uint32_t *len);
/* Reads a list (or set) header; *size is bounded by the bytes left. */
void tc_read_list_begin(tc_reader *r, int *elem_type, uint32_t *size);
/* Value of a bool field given its header type, or of a bool list element. */
int tc_read_bool(tc_reader *r, int type, int in_list);
/* Skips one value of the given type (recursively, depth-limited). */
void tc_skip(tc_reader *r, int type);
/* Bytes consumed so far from the start given to tc_reader_init. */
size_t tc_reader_offset(const tc_reader *r, const uint8_t *start);

#endif
