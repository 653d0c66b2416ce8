/* utf8.c — UTF-8 validation (see utf8.h). */
#include "util/utf8.h"

#include <string.h>

size_t st_utf8_valid_prefix(const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        size_t k = st_utf8_seq_len(s + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

long st_utf8_prefix(const uint8_t *s, size_t n, size_t max_cp, int *truncated)
{
    size_t i = 0, cps = 0;
    *truncated = 0;
    while (i < n) {
        if (cps == max_cp) {
            *truncated = 1;
            return (long)i;
        }
        size_t k = st_utf8_seq_len(s + i, n - i);
        if (!k) return -1;
        i += k;
        cps++;
    }
    return (long)i;
}
