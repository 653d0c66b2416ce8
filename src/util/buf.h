/* buf.h — the one growable byte buffer every module uses (no ad-hoc realloc elsewhere).
 *
 * A zeroed st_buf ({0}) is a valid empty buffer. Growth doubles capacity, so
 * appends are amortised O(1). Allocation failure aborts the process with a
 * message: out of memory is not a recoverable condition for this pipeline,
 * and checking every append would hide the real error paths.
 * Ownership: the buffer owns data; st_buf_free releases it (NULL-safe);
 * st_buf_detach hands data to the caller.
 */
#ifndef ST_UTIL_BUF_H
#define ST_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct st_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} st_buf;

void st_buf_free(st_buf *b);
void st_buf_reset(st_buf *b);                       /* len = 0, keeps memory */
/* The growth step of st_buf_reserve (out of line: the appends below inline only their check). */
void st_buf_grow(st_buf *b, size_t extra);
/* Ensures cap >= len + extra. The appends are inline: a row of a batch is a dozen of them, and
 * a call per value (with memcpy of a size the compiler cannot see) was ~7 % of a drain. */
static inline void st_buf_reserve(st_buf *b, size_t extra)
{
    if (b->len + extra > b->cap) st_buf_grow(b, extra);
}
static inline void st_buf_append(st_buf *b, const void *p, size_t n)
{
    if (!n) return;
    st_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void st_buf_append_u8(st_buf *b, uint8_t v)
{
    st_buf_reserve(b, 1);
    b->data[b->len++] = v;
}
void st_buf_append_str(st_buf *b, const char *s);   /* without the NUL */
void st_buf_printf(st_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes and escapes included). */
void st_buf_append_json_str(st_buf *b, const char *s, size_t n);
/* Ensures a NUL after len (not counted in len) and returns data as a C string. */
const char *st_buf_cstr(st_buf *b);
/* Returns data (NUL-terminated after len, even when empty) and leaves b empty; caller frees. */
uint8_t *st_buf_detach(st_buf *b, size_t *len);

/* Allocation helpers that abort with a message on failure (see above). */
void *st_xmalloc(size_t n);
void *st_xcalloc(size_t n, size_t size);
void *st_xrealloc(void *p, size_t n);
char *st_xstrdup(const char *s);
char *st_xstrndup(const char *s, size_t n);

#endif
