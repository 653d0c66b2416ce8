/* binio.h — a tiny binary codec for the Gold job's state file (window and alert state).
 *
 * Little-endian fixed-width integers, doubles as their IEEE-754 bits (exact round trip),
 * strings as a u32 length plus bytes. The reader checks every length against the end of
 * its buffer: a truncated or damaged state gives ST_ERR_FORMAT, never a read past the end.
 * Writers append to an st_buf (allocation failure aborts, see util/buf.h).
 */
#ifndef ST_STREAM_BINIO_H
#define ST_STREAM_BINIO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

void binio_put_u32(st_buf *b, uint32_t v);
void binio_put_i64(st_buf *b, int64_t v);
void binio_put_f64(st_buf *b, double v);
void binio_put_str(st_buf *b, const char *s, size_t n);   /* s may be NULL when n == 0 */

/* A read cursor over borrowed bytes; `what` names the file in error messages. */
typedef struct binio_reader {
    const uint8_t *p, *end;
    const char *what;
} binio_reader;

st_code binio_get_u32(binio_reader *r, uint32_t *v, st_err *e);
st_code binio_get_i64(binio_reader *r, int64_t *v, st_err *e);
st_code binio_get_f64(binio_reader *r, double *v, st_err *e);
/* Returns a malloc'd NUL-terminated copy in *s (caller frees) and its length in *n (n may be NULL). */
st_code binio_get_str(binio_reader *r, char **s, size_t *n, st_err *e);

#endif
