/* delta_batch.c — the columnar row batch the streaming jobs fill before a write.
 * One growable value array per column (nulls keep a zeroed slot so row i is at
 * index i in every column), a validity byte per row, strings in one arena. */
#include "delta/delta_batch_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Empty batch with one column per field of schema (copied). O(fields). */
delta_batch *delta_batch_new(const delta_schema *schema)
{
    delta_batch *b = st_xcalloc(1, sizeof *b);
    b->schema = delta_schema_copy(schema);
    b->ncols = delta_schema_num_fields(schema);
    b->cols = st_xcalloc(b->ncols ? b->ncols : 1, sizeof *b->cols);
    for (size_t i = 0; i < b->ncols; i++) {
        b->cols[i].type = delta_schema_field_type(schema, i);
        b->cols[i].nullable = delta_schema_field_nullable(schema, i);
    }
    b->misuse_col = -1;
    return b;
}

/* Frees the batch and its columns. NULL-safe. */
void delta_batch_destroy(delta_batch *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->ncols; i++) {
        st_buf_free(&b->cols[i].valid);
        st_buf_free(&b->cols[i].vals);
        st_buf_free(&b->cols[i].arena);
    }
    free(b->cols);
    delta_schema_destroy(b->schema);
    free(b);
}

/* Back to 0 rows and no misuse; keeps the column buffers for reuse (no frees). */
void delta_batch_clear(delta_batch *b)
{
    for (size_t i = 0; i < b->ncols; i++) {
        st_buf_reset(&b->cols[i].valid);
        st_buf_reset(&b->cols[i].vals);
        st_buf_reset(&b->cols[i].arena);
        b->cols[i].n = 0;
        b->cols[i].nulls = 0;
        b->cols[i].borrowed = 0;
    }
    b->misuse_col = -1;
    b->misuse[0] = '\0';
}

size_t delta_batch_num_rows(const delta_batch *b) { return b->ncols ? b->cols[0].n : 0; }
const delta_schema *delta_batch_schema(const delta_batch *b) { return b->schema; }

/* Records the first misuse of column col (out of range or the wrong type); returns NULL. Out of
 * line: col_for below is on every append, and only its checks belong there. */
static __attribute__((noinline, cold)) delta_bcol *record_misuse(delta_batch *b, int col, const char *what)
{
    if (b->misuse[0]) return NULL;
    b->misuse_col = col;
    if (col < 0 || (size_t)col >= b->ncols)
        snprintf(b->misuse, sizeof b->misuse, "column index %d out of range (%zu columns)", col, b->ncols);
    else
        snprintf(b->misuse, sizeof b->misuse, "column %s (%s) given a %s value",
                 delta_schema_field_name(b->schema, (size_t)col), delta_type_name(b->cols[col].type), what);
    return NULL;
}

/* The column an append goes to. The first misuse is recorded and the append dropped (the column
 * then comes out short, which validate also reports). */
static inline delta_bcol *col_for(delta_batch *b, int col, int ok_types, const char *what)
{
    if (__builtin_expect(col < 0 || (size_t)col >= b->ncols, 0)) return record_misuse(b, col, what);
    delta_bcol *c = &b->cols[col];
    if (__builtin_expect(!(ok_types & (1 << c->type)), 0)) return record_misuse(b, col, what);
    return c;
}

/* Appends one fixed-width slot and its validity byte; amortised O(1). */
static inline void push(delta_bcol *c, const void *v, size_t w, uint8_t valid)
{
    st_buf_append(&c->vals, v, w);
    st_buf_append_u8(&c->valid, valid);
    c->n++;
}

/* Null in any column type (a zeroed slot keeps rows aligned); a null in a
 * non-nullable column is recorded as misuse. */
void delta_batch_append_null(delta_batch *b, int col)
{
    delta_bcol *c = col_for(b, col, 0xff, "null");
    if (!c) return;
    if (!c->nullable && !b->misuse[0]) {
        b->misuse_col = col;
        snprintf(b->misuse, sizeof b->misuse, "column %s is not nullable but got a null",
                 delta_schema_field_name(b->schema, (size_t)col));
    }
    static const uint8_t zero[16];
    size_t w = c->type == DELTA_TYPE_STRING ? sizeof(delta_str_ref)
               : (c->type == DELTA_TYPE_BOOLEAN)                              ? 1
               : (c->type == DELTA_TYPE_INTEGER || c->type == DELTA_TYPE_DATE) ? 4
                                                                               : 8;
    push(c, zero, w, 0);
    c->nulls++;
}

static void misuse_mixed(delta_batch *b, int col)
{
    if (b->misuse[0]) return;
    b->misuse_col = col;
    snprintf(b->misuse, sizeof b->misuse, "column %s mixes copied and borrowed strings",
             delta_schema_field_name(b->schema, (size_t)col));
}

/* Typed appends: the value goes in when the column has that type, else the
 * misuse is recorded and the value dropped. Strings are copied into the arena. */
void delta_batch_append_bool(delta_batch *b, int col, int v)
{
    delta_bcol *c = col_for(b, col, 1 << DELTA_TYPE_BOOLEAN, "boolean");
    uint8_t x = v ? 1 : 0;
    if (c) push(c, &x, 1, 1);
}

void delta_batch_append_int(delta_batch *b, int col, int32_t v)
{
    delta_bcol *c = col_for(b, col, 1 << DELTA_TYPE_INTEGER | 1 << DELTA_TYPE_DATE, "int32");
    if (c) push(c, &v, 4, 1);
}

void delta_batch_append_long(delta_batch *b, int col, int64_t v)
{
    delta_bcol *c = col_for(b, col, 1 << DELTA_TYPE_LONG | 1 << DELTA_TYPE_TIMESTAMP, "int64");
    if (c) push(c, &v, 8, 1);
}

void delta_batch_append_double(delta_batch *b, int col, double v)
{
    delta_bcol *c = col_for(b, col, 1 << DELTA_TYPE_DOUBLE, "double");
    if (c) push(c, &v, 8, 1);
}

void delta_batch_append_string(delta_batch *b, int col, const char *s, size_t len)
{
    delta_bcol *c = col_for(b, col, 1 << DELTA_TYPE_STRING, "string");
    if (!c) return;
    if (len > UINT32_MAX) len = UINT32_MAX;
    if (c->borrowed) {
        misuse_mixed(b, col);
        return;
    }
    delta_str_ref r = {c->arena.len, (uint32_t)len};
    if (len) st_buf_append(&c->arena, s, len);
    push(c, &r, sizeof r, 1);
}

/* Like delta_batch_append_string without the copy: the batch keeps the pointer. A column
 * takes either copied or borrowed strings, not both (misuse). */
void delta_batch_append_string_ref(delta_batch *b, int col, const char *s, size_t len)
{
    delta_bcol *c = col_for(b, col, 1 << DELTA_TYPE_STRING, "string");
    if (!c) return;
    if (!c->borrowed && c->arena.len) {
        misuse_mixed(b, col);
        return;
    }
    c->borrowed = 1;
    if (len > UINT32_MAX) len = UINT32_MAX;
    delta_str_ref r = {(uint64_t)(uintptr_t)(len ? s : ""), (uint32_t)len};
    push(c, &r, sizeof r, 1);
}

/* ST_ERR_ARG for a recorded misuse or columns of different lengths. O(columns). */
st_code delta_batch_validate(const delta_batch *b, st_err *e)
{
    if (b->misuse_col >= 0 || b->misuse[0]) return st_err_set(e, ST_ERR_ARG, "batch: %s", b->misuse);
    for (size_t i = 1; i < b->ncols; i++)
        if (b->cols[i].n != b->cols[0].n)
            return st_err_set(e, ST_ERR_ARG, "batch: column %s has %zu values but column %s has %zu",
                              delta_schema_field_name(b->schema, i), b->cols[i].n,
                              delta_schema_field_name(b->schema, 0), b->cols[0].n);
    return ST_OK;
}
