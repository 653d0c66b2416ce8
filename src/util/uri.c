#include "util/uri.h"

#include <string.h>

#include "util/buf.h"

/* Value of a hex digit, -1 otherwise. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *st_uri_decode(const char *p, size_t *len)
{
    size_t n = strlen(p), o = 0;
    char *out = st_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    if (len) *len = o;
    return out;
}
