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
/* The CLOCK_REALTIME time `us` microseconds from now, as pthread_cond_timedwait takes a deadline. */
struct timespec;
void st_deadline_in_us(int64_t us, struct timespec *out);
/* Sleeps us microseconds (<= 0: returns at once); a signal may shorten it (EINTR is not resumed:
 * callers are retry loops and pacing that look at the clock or a stop flag anyway). */
void st_sleep_us(int64_t us);

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

/* Parses a duration into microseconds: a number (fractions allowed, no sign) and a unit
 * (us, ms, s, m or min, h, d, w, or the words microsecond(s) ... week(s), any case), or a
 * bare number of seconds; Delta's table-property form "interval 1 week" too. The one
 * duration grammar of the project (CLI options, Delta retention properties).
 * Returns 0 on success, -1 for anything else (negative, no number, unknown unit, overflow). */
int st_parse_duration_us(const char *s, int64_t *out_us);

/* Writes us in the largest unit that divides it exactly ("500ms", "2s", "10min", "7d";
 * 0 is "0s"), a form st_parse_duration_us reads back. Returns the length (as snprintf). */
size_t st_format_duration_us(int64_t us, char *out, size_t n);

#endif
