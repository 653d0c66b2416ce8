/* uri.h — percent-decoding of URI paths (Delta log paths, file:// URIs). */
#ifndef ST_UTIL_URI_H
#define ST_UTIL_URI_H

#include <stddef.h>

/* Decodes the %XX escapes of p into a malloc'd string (caller frees); a malformed escape
 * is kept as it is. *len (may be NULL) gets the decoded length, which is less than strlen
 * of the result when p holds %00. O(length). */
char *st_uri_decode(const char *p, size_t *len);

#endif
