/* jscan.h — private to src/iot: the small pieces of a JSON scanner the event parser
 * is built from (RFC 8259 grammar, strict UTF-8). Nothing here allocates. */
#ifndef ST_IOT_JSCAN_H
#define ST_IOT_JSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Outcome of a scan step. */
enum { JS_OK = 0, JS_SYNTAX = 1, JS_BAD_UTF8 = 2 };

/* A scanned JSON number: its double value, and its exact integer when the literal
 * has no fraction nor exponent and fits in int64 (is_int). */
typedef struct jnum {
    double d;
    int64_t i;
    int is_int;
} jnum;

/* Skips JSON whitespace (space, tab, CR, LF). */
static inline const char *js_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* p points just after an opening quote. Finds the closing quote, checking escapes
 * (including surrogate pairing of \u escapes) and that no raw control byte occurs.
 * On JS_OK *close points at the closing quote and *has_esc says whether a backslash
 * occurred. On error *close points at the offending byte. */
int js_string(const char *p, const char *end, const char **close, int *has_esc);

/* Decodes the body of a string that js_string accepted (src[0..n), escapes inside)
 * into out (at least n bytes: decoding never grows). Returns the decoded length. */
size_t js_decode(const char *src, size_t n, char *out);

/* Scans a number starting at p. On JS_OK fills *num and *next. Exact (correctly
 * rounded) for up to 15 significant digits and |exponent| <= 22 without libc; other
 * literals go through strtod on a copy. */
int js_number(const char *p, const char *end, const char **next, jnum *num);

/* Skips any JSON value starting at p (after whitespace), nesting at most `depth`
 * levels. On JS_OK *next points after it; on error at the offending byte. */
int js_skip_value(const char *p, const char *end, const char **next, int depth);

#endif
