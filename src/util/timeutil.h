/* timeutil.h — clocks and UTC timestamp formatting/parsing. */
#ifndef ST_UTIL_TIMEUTIL_H
#define ST_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t st_now_us(void);        /* wall clock, microseconds since the epoch (UTC) */
int64_t st_monotonic_us(void);  /* monotonic clock, microseconds */
/* Monotonic clock at the kernel tick's resolution (a few ms) and a fraction of the cost: for
 * loops that look at the time once per record. */
int64_t st_monotonic_coarse_us(void);

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian, any year). */
int64_t st_days_from_civil(int64_t y, unsigned m, unsigned d);
void st_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* Formats UTC microseconds as "2026-11-26T10:00:00.123456Z" (fraction trimmed to
 * millis when exact, omitted when zero is NOT done: always 6 digits unless ms_only).
 * Returns the length written (buffer of 40 bytes is enough). */
size_t st_format_iso_us(int64_t us, char *out, size_t outlen, int millis_only);
/* Formats days since epoch as "YYYY-MM-DD". */
size_t st_format_date(int64_t days, char *out, size_t outlen);

/* Parses ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM|+HHMM)" (a space is
 * accepted for 'T'; no zone means UTC) to UTC microseconds. Returns 0 on success, -1 if
 * the text is not such a timestamp or a field is out of range. */
int st_parse_iso_us(const char *s, size_t n, int64_t *out_us);

/* Parses a duration like "500ms", "2s", "1m", "10min", "1h", or a bare number of
 * seconds into microseconds. Returns 0 on success, -1 otherwise. */
int st_parse_duration_us(const char *s, int64_t *out_us);

#endif
