/* units.c — byte sizes (see units.h). */
#include "util/units.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

int st_parse_bytes(const char *s, int64_t *out)
{
    static const struct {
        const char *name;
        double mult;
    } units[] = {{"", 1},          {"b", 1},          {"k", 1024.0},      {"kb", 1024.0},      {"kib", 1024.0},
                 {"m", 1048576.0}, {"mb", 1048576.0}, {"mib", 1048576.0}, {"g", 1073741824.0}, {"gb", 1073741824.0},
                 {"gib", 1073741824.0}, {"t", 1099511627776.0}, {"tb", 1099511627776.0}, {"tib", 1099511627776.0}};
    if (!isdigit((unsigned char)*s) && *s != '.') return -1; /* no sign, no "inf"/"nan" */
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0)) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].name)) continue;
        double r = v * units[i].mult;
        if (r > 9.2e18 || r != (double)(int64_t)r) return -1;
        *out = (int64_t)r;
        return 0;
    }
    return -1;
}

size_t st_format_bytes(int64_t n, char *out, size_t len)
{
    static const char *names[] = {"", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (n && n % 1024 == 0 && u < 4) n /= 1024, u++;
    int k = snprintf(out, len, "%lld%s", (long long)n, names[u]);
    return k < 0 ? 0 : (size_t)k;
}
