/* base64.h — the one base64 encoder: standard alphabet (RFC 4648 section 4: A-Z a-z 0-9 + /)
 * with '=' padding to a multiple of 4 characters, the form Spark, pyarrow and Python's
 * base64.b64decode read. Every user in the project pads (raw values that are not UTF-8 in
 * bronze_kafka and quarantine, binary columns in `parquet cat`); nothing decodes. */
#ifndef ST_UTIL_BASE64_H
#define ST_UTIL_BASE64_H

#include <stddef.h>

#include "util/buf.h"

/* Characters in the encoding of n bytes: 4 * ceil(n / 3). */
static inline size_t st_base64_len(size_t n) { return (n + 2) / 3 * 4; }

/* Appends the base64 of p[0..n) to out (no NUL; p may be NULL when n == 0). One reserve,
 * then 4 characters per 3 bytes written in place: O(n). */
void st_base64_append(st_buf *out, const void *p, size_t n);

#endif
