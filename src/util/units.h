/* units.h — byte sizes as people write them ("64k", "128MB", "1GiB"), read and written.
 * (Durations are in timeutil.h.) */
#ifndef ST_UTIL_UNITS_H
#define ST_UTIL_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a size in bytes: a number (fractions allowed, no sign) and an optional unit
 * b, k/kb/kib, m/mb/mib, g/gb/gib, t/tb/tib (any case), all powers of 1024 as Spark's
 * "128MB" settings mean. Returns 0 on success, -1 otherwise (also past INT64_MAX or a
 * fraction of a byte). */
int st_parse_bytes(const char *s, int64_t *out);

/* Writes n in the largest power-of-1024 unit that divides it exactly ("4096" is "4KiB",
 * 268435456 is "256MiB", 1000 is "1000"), a form st_parse_bytes reads back. Returns the
 * length (as snprintf). */
size_t st_format_bytes(int64_t n, char *out, size_t len);

#endif
