/* jscan.c — JSON scanning primitives for the event parser (see jscan.h). */
#include "iot/jscan.h"

#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p (p + 4 <= end checked by caller); -1 if not hex. */
static int hex4(const char *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* See jscan.h. Cost: one pass over the string body. */
int js_string(const char *p, const char *end, const char **close, int *has_esc)
{
    *has_esc = 0;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *close = p;
            return JS_OK;
        }
        if (c < 0x20) {
            *close = p;
            return JS_SYNTAX;
        }
        if (c != '\\') {
            p++;
            continue;
        }
        *has_esc = 1;
        if (p + 1 >= end) break;
        char e = p[1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            p += 2;
            continue;
        }
        if (e != 'u' || p + 6 > end) {
            *close = p;
            return JS_SYNTAX;
        }
        int u = hex4(p + 2);
        if (u < 0) {
            *close = p;
            return JS_SYNTAX;
        }
        if (u >= 0xDC00 && u <= 0xDFFF) {
            *close = p;
            return JS_BAD_UTF8; /* lone low surrogate */
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
            int lo = (p + 12 <= end && p[6] == '\\' && p[7] == 'u') ? hex4(p + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                *close = p;
                return JS_BAD_UTF8; /* high surrogate not followed by a low one */
            }
            p += 12;
            continue;
        }
        p += 6;
    }
    *close = end;
    return JS_SYNTAX; /* unterminated */
}

/* See jscan.h. Input was validated by js_string, so escapes are well formed.
 * \uXXXX (6 bytes) yields at most 3 bytes, a pair (12) 4 bytes: never grows. */
size_t js_decode(const char *src, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (src[i] != '\\') {
            out[o++] = src[i++];
            continue;
        }
        char e = src[i + 1];
        i += 2;
        switch (e) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned u = (unsigned)hex4(src + i);
            i += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo = (unsigned)hex4(src + i + 2);
                i += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += st_utf8_encode(u, (uint8_t *)out + o);
            break;
        }
        default: out[o++] = e; break; /* " \ / */
        }
    }
    return o;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10u)

/* See jscan.h. The fast path is Clinger's: a mantissa below 2^53 times or divided by
 * an exactly representable power of ten is one correctly rounded IEEE operation. */
int js_number(const char *p, const char *end, const char **next, jnum *num)
{
    const char *start = p;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !IS_DIGIT(*p)) {
        *next = p;
        return JS_SYNTAX;
    }
    uint64_t mant = 0;
    int nd = 0, exp10 = 0, dropped = 0, is_int = 1;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && IS_DIGIT(*p)) {
            if (nd < 19) mant = mant * 10 + (uint64_t)(*p - '0'), nd++;
            else exp10++, dropped = 1;
            p++;
        }
    }
    if (p < end && *p == '.') {
        is_int = 0;
        p++;
        if (p >= end || !IS_DIGIT(*p)) {
            *next = p;
            return JS_SYNTAX;
        }
        while (p < end && IS_DIGIT(*p)) {
            int d = *p - '0';
            if (mant == 0 && d == 0) exp10--;
            else if (nd < 19) mant = mant * 10 + (uint64_t)d, nd++, exp10--;
            else dropped = 1;
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || !IS_DIGIT(*p)) {
            *next = p;
            return JS_SYNTAX;
        }
        int e = 0;
        while (p < end && IS_DIGIT(*p)) {
            if (e < 100000) e = e * 10 + (*p - '0');
            p++;
        }
        exp10 += eneg ? -e : e;
    }
    *next = p;
    num->is_int = 0;
    num->i = 0;
    if (is_int && !dropped && (mant <= (uint64_t)INT64_MAX || (neg && mant == (uint64_t)INT64_MAX + 1))) {
        num->is_int = 1;
        num->i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
    }
    if (!dropped && mant < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        num->d = neg ? -d : d;
        return JS_OK;
    }
    /* Slow path: strtod on a NUL-terminated copy (the C locale is assumed). */
    size_t n = (size_t)(p - start);
    char small[64];
    char *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp) return JS_SYNTAX;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    num->d = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    return JS_OK;
}

/* See jscan.h. Cost: O(bytes of the value); recursion bounded by depth. */
int js_skip_value(const char *p, const char *end, const char **next, int depth)
{
    p = js_ws(p, end);
    if (p >= end) {
        *next = p;
        return JS_SYNTAX;
    }
    int rc, esc;
    jnum num;
    switch (*p) {
    case '"':
        rc = js_string(p + 1, end, next, &esc);
        if (rc == JS_OK) (*next)++;
        return rc;
    case 't':
        if (end - p >= 4 && !memcmp(p, "true", 4)) return *next = p + 4, JS_OK;
        break;
    case 'f':
        if (end - p >= 5 && !memcmp(p, "false", 5)) return *next = p + 5, JS_OK;
        break;
    case 'n':
        if (end - p >= 4 && !memcmp(p, "null", 4)) return *next = p + 4, JS_OK;
        break;
    case '[':
    case '{': {
        if (depth <= 0) break;
        int obj = *p == '{';
        char close = obj ? '}' : ']';
        p = js_ws(p + 1, end);
        if (p < end && *p == close) return *next = p + 1, JS_OK;
        for (;;) {
            if (obj) {
                if (p >= end || *p != '"') break;
                rc = js_string(p + 1, end, next, &esc);
                if (rc != JS_OK) return rc;
                p = js_ws(*next + 1, end);
                if (p >= end || *p != ':') break;
                p++;
            }
            rc = js_skip_value(p, end, next, depth - 1);
            if (rc != JS_OK) return rc;
            p = js_ws(*next, end);
            if (p < end && *p == ',') {
                p = js_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == close) return *next = p + 1, JS_OK;
            break;
        }
        *next = p;
        return JS_SYNTAX;
    }
    default:
        if (*p == '-' || IS_DIGIT(*p)) return js_number(p, end, next, &num);
        break;
    }
    *next = p;
    return JS_SYNTAX;
}
