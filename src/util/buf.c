#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "smarttech: out of memory allocating %zu bytes\n", n);
    abort();
}

void *st_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *st_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *st_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *st_xstrdup(const char *s)
{
    return st_xstrndup(s, strlen(s));
}

char *st_xstrndup(const char *s, size_t n)
{
    char *p = st_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void st_buf_free(st_buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void st_buf_reset(st_buf *b) { b->len = 0; }

void st_buf_grow(st_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) cap *= 2;
    b->data = st_xrealloc(b->data, cap);
    b->cap = cap;
}

void st_buf_append_str(st_buf *b, const char *s) { st_buf_append(b, s, strlen(s)); }

void st_buf_printf(st_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        st_buf_append(b, tmp, (size_t)n);
        return;
    }
    st_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void st_buf_append_json_str(st_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    st_buf_reserve(b, n + 2);
    st_buf_append_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': st_buf_append(b, "\\\"", 2); break;
        case '\\': st_buf_append(b, "\\\\", 2); break;
        case '\n': st_buf_append(b, "\\n", 2); break;
        case '\r': st_buf_append(b, "\\r", 2); break;
        case '\t': st_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                st_buf_append(b, u, 6);
            } else {
                st_buf_append_u8(b, c);
            }
        }
    }
    st_buf_append_u8(b, '"');
}

const char *st_buf_cstr(st_buf *b)
{
    st_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return (const char *)b->data;
}

uint8_t *st_buf_detach(st_buf *b, size_t *len)
{
    st_buf_cstr(b); /* always NUL-terminated, so text can be detached as a C string */
    uint8_t *d = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
