/* delta_batch_internal.h — the batch layout, shared by delta_batch.c (filling) and
 * delta_writer.c (writing). Private to src/delta. */
#ifndef ST_DELTA_BATCH_INTERNAL_H
#define ST_DELTA_BATCH_INTERNAL_H

#include "delta/delta_internal.h"

typedef struct delta_str_ref {
    uint64_t off;       /* into the column's arena */
    uint32_t len;
} delta_str_ref;

typedef struct delta_bcol {
    delta_type type;
    int nullable;
    int borrowed;       /* string column filled by delta_batch_append_string_ref: off holds pointers */
    st_buf valid;       /* one byte per row: 1 value, 0 null */
    st_buf vals;        /* row i at index i: uint8 / int32 / int64 / double / delta_str_ref */
    st_buf arena;       /* string bytes */
    size_t n, nulls;
} delta_bcol;

struct delta_batch {
    delta_schema *schema;
    delta_bcol *cols;
    size_t ncols;
    int misuse_col;     /* first misused column, -1 none */
    char misuse[200];
};

/* Bytes of string s of column c (in the arena, or the caller's memory for a borrowed column). */
static inline const uint8_t *delta_bcol_str(const delta_bcol *c, const delta_str_ref *s)
{
    if (c->borrowed) return s->off ? (const uint8_t *)(uintptr_t)s->off : (const uint8_t *)"";
    return c->arena.data ? c->arena.data + s->off : (const uint8_t *)"";
}

#endif
