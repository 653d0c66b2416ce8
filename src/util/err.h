/* err.h — one error type for the whole code base.
 *
 * Every fallible function returns an st_code (ST_OK == 0) and, on failure, fills an
 * st_err with the same code and a message a user can act on, naming the file or
 * object involved ("cannot create _delta_log/000...12.json: file exists").
 * Passing a NULL st_err is allowed: the code is still returned.
 */
#ifndef ST_UTIL_ERR_H
#define ST_UTIL_ERR_H

#include <stddef.h>

typedef enum st_code {
    ST_OK = 0,
    ST_ERR_ARG,          /* bad argument or option from the caller/user */
    ST_ERR_IO,           /* file system or OS call failed */
    ST_ERR_FORMAT,       /* input is malformed, truncated or inconsistent */
    ST_ERR_UNSUPPORTED,  /* valid input using a feature we do not implement */
    ST_ERR_CONFLICT,     /* put-if-absent lost (another writer committed first) */
    ST_ERR_NOTFOUND,     /* file, table, version or key does not exist */
    ST_ERR_NOMEM,        /* allocation failed */
    ST_ERR_KAFKA,        /* broker or client error */
    ST_ERR_STATE,        /* operation not valid in the current state */
    ST_ERR_INTERRUPTED,  /* stopped by a signal before completion */
    ST_ERR_AMBIGUOUS,    /* the outcome is unknown: the operation may have taken effect (an fsync
                            failed after the write, a timeout); check before undoing anything.
                            Any other failure of a write means nothing was written. */
    ST_ERR_DENIED        /* the storage refused our credentials or its policy denies the access:
                            retrying the same request does not help */
} st_code;

#define ST_ERR_MSG_MAX 1024

typedef struct st_err {
    st_code code;
    char msg[ST_ERR_MSG_MAX];
} st_err;

/* Clears e (code ST_OK, empty message). NULL-safe. */
void st_err_clear(st_err *e);

/* Sets code and printf-style message; returns code so callers can
 * `return st_err_set(e, ST_ERR_IO, "cannot open %s: %s", p, strerror(errno));`. NULL-safe. */
st_code st_err_set(st_err *e, st_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context to an existing message: "writing batch 7: <old message>". Returns e->code. */
st_code st_err_wrap(st_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Short stable name of a code ("io", "format", ...). */
const char *st_code_str(st_code code);

#endif
