/* utf8.h — the one UTF-8 validator of the project (RFC 3629, Unicode table 3-7).
 *
 * Valid means: no overlong forms (C0, C1, E0 80..9F, F0 80..8F), no surrogates
 * (ED A0..BF = U+D800..U+DFFF), nothing above U+10FFFF (F4 90.., F5..FF), no stray
 * continuation byte, no sequence cut by the end of the buffer. Readers downstream
 * (jansson, pyarrow, Spark) reject exactly these, so a string we call valid is one they
 * accept. Nothing here allocates.
 */
#ifndef ST_UTIL_UTF8_H
#define ST_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid UTF-8 sequence that starts s[0..n), or 0 when the bytes there
 * are not one (n >= 1). Inline: it is the inner step of every scan, including the JSON
 * parser's per-event check. */
static inline size_t st_utf8_seq_len(const uint8_t *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    unsigned lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0xC2) return 0; /* continuation byte, or C0/C1 (always overlong) */
    if (c < 0xE0) {
        len = 2;
    } else if (c < 0xF0) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* below: overlong */
        else if (c == 0xED) hi = 0x9F; /* above: surrogates */
    } else if (c < 0xF5) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* below: overlong */
        else if (c == 0xF4) hi = 0x8F; /* above: past U+10FFFF */
    } else {
        return 0;
    }
    if (len > n || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return len;
}

/* Offset of the first byte of s[0..n) that does not start a valid sequence, or n when all of
 * it is valid UTF-8. Cost: one pass; ASCII runs go 8 bytes per step. */
size_t st_utf8_valid_prefix(const void *s, size_t n);

/* 1 if s[0..n) is valid UTF-8 (n == 0 is). */
static inline int st_utf8_valid(const void *s, size_t n) { return st_utf8_valid_prefix(s, n) == n; }

/* Writes code point cp as UTF-8 at out[0..4) and returns its length (1..4). cp must be a
 * scalar value (at most U+10FFFF, not a surrogate): the decoders of escapes (JSON \uXXXX, XML
 * &#...;) check that before, and what they write is then valid for st_utf8_valid. */
static inline size_t st_utf8_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length in bytes of the first max_cp code points of s[0..n), or -1 when those bytes are not
 * valid UTF-8 (bytes past the cut are not read). *truncated says whether s was longer.
 * Used to cut string statistics to a prefix. O(returned length). */
long st_utf8_prefix(const uint8_t *s, size_t n, size_t max_cp, int *truncated);

#endif
