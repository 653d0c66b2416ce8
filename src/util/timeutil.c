#include "util/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t st_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t st_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void st_sleep_us(int64_t us)
{
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Howard Hinnant's civil-date algorithms (public domain description). */
int64_t st_monotonic_coarse_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t st_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void st_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

size_t st_format_iso_us(int64_t us, char *out, size_t outlen, int millis_only)
{
    int64_t secs = floordiv(us, 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = floordiv(secs, 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    st_civil_from_days(days, &y, &m, &d);
    int n;
    if (millis_only)
        n = snprintf(out, outlen, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)(frac / 1000));
    else
        n = snprintf(out, outlen, "%04lld-%02u-%02uT%02d:%02d:%02d.%06dZ", (long long)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
    return n < 0 ? 0 : (size_t)n;
}

size_t st_format_date(int64_t days, char *out, size_t outlen)
{
    int64_t y;
    unsigned m, d;
    st_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, outlen, "%04lld-%02u-%02u", (long long)y, m, d);
    return n < 0 ? 0 : (size_t)n;
}

static int digits(const char *s, size_t n, size_t *i, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    *out = v;
    return 0;
}

int st_parse_iso_us(const char *s, size_t n, int64_t *out_us)
{
    size_t i = 0;
    int Y, M, D, h, mi, sec;
    if (digits(s, n, &i, 4, &Y) || i >= n || s[i++] != '-') return -1;
    if (digits(s, n, &i, 2, &M) || i >= n || s[i++] != '-') return -1;
    if (digits(s, n, &i, 2, &D)) return -1;
    if (i >= n || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return -1;
    i++;
    if (digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':') return -1;
    if (digits(s, n, &i, 2, &mi) || i >= n || s[i++] != ':') return -1;
    if (digits(s, n, &i, 2, &sec)) return -1;
    int64_t frac_us = 0;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        i++;
        int nd = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nd < 6) frac_us = frac_us * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0) return -1;
        for (int k = nd; k < 6; k++) frac_us *= 10;
    }
    int64_t offset_s = 0;
    if (i < n) {
        if (s[i] == 'Z' || s[i] == 'z') {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int sign = s[i] == '-' ? -1 : 1;
            i++;
            int oh, om = 0;
            if (digits(s, n, &i, 2, &oh)) return -1;
            if (i < n && s[i] == ':') i++;
            if (i < n && digits(s, n, &i, 2, &om)) return -1;
            if (oh > 23 || om > 59) return -1;
            offset_s = sign * (oh * 3600 + om * 60);
        } else {
            return -1;
        }
    }
    if (i != n) return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60) return -1;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap) return -1;
    if (sec == 60) sec = 59; /* leap second: clamp */
    int64_t days = st_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *out_us = secs * 1000000 + frac_us;
    return 0;
}

/* Microseconds per unit name (singular or plural, short forms, any case), 0 when unknown. */
static double unit_us(const char *u, size_t n)
{
    static const struct {
        const char *name;
        double us;
    } units[] = {{"us", 1},           {"microsecond", 1},  {"microseconds", 1},  {"ms", 1e3},
                 {"millisecond", 1e3}, {"milliseconds", 1e3}, {"s", 1e6},         {"sec", 1e6},
                 {"second", 1e6},     {"seconds", 1e6},    {"m", 60e6},          {"min", 60e6},
                 {"minute", 60e6},    {"minutes", 60e6},   {"h", 3600e6},        {"hour", 3600e6},
                 {"hours", 3600e6},   {"d", 86400e6},      {"day", 86400e6},     {"days", 86400e6},
                 {"w", 604800e6},     {"week", 604800e6},  {"weeks", 604800e6}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == n && strncasecmp(units[i].name, u, n) == 0) return units[i].us;
    return 0;
}

/* Grammar: ["interval"] number [unit], spaces allowed between; a bare number is seconds.
 * O(length). */
int st_parse_duration_us(const char *text, int64_t *out_us)
{
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    if (strncasecmp(s, "interval", 8) == 0 && isspace((unsigned char)s[8])) s += 8;
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s) && *s != '.') return -1; /* no sign, no "inf"/"nan" */
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0)) return -1;
    s = end;
    while (isspace((unsigned char)*s)) s++;
    const char *u = s;
    while (isalpha((unsigned char)*s)) s++;
    size_t un = (size_t)(s - u);
    while (isspace((unsigned char)*s)) s++;
    if (*s) return -1;
    double mult = un ? unit_us(u, un) : 1e6;
    if (mult == 0 || v * mult > 9.2e18) return -1;
    *out_us = (int64_t)(v * mult);
    return 0;
}

size_t st_format_duration_us(int64_t us, char *out, size_t n)
{
    static const struct {
        const char *unit;
        int64_t us;
    } units[] = {{"d", 86400000000LL}, {"h", 3600000000LL}, {"min", 60000000}, {"s", 1000000}, {"ms", 1000}};
    int neg = us < 0;
    uint64_t a = neg ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    const char *unit = "us";
    uint64_t div = 1;
    for (size_t i = 0; a && i < sizeof units / sizeof units[0]; i++)
        if (a % (uint64_t)units[i].us == 0) {
            unit = units[i].unit, div = (uint64_t)units[i].us;
            break;
        }
    if (!a) unit = "s";
    int k = snprintf(out, n, "%s%llu%s", neg ? "-" : "", (unsigned long long)(a / div), unit);
    return k < 0 ? 0 : (size_t)k;
}

void st_deadline_in_us(int64_t us, struct timespec *out)
{
    clock_gettime(CLOCK_REALTIME, out);
    if (us < 0) us = 0;
    out->tv_sec += (time_t)(us / 1000000);
    out->tv_nsec += (long)(us % 1000000) * 1000;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}
