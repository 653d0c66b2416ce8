#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void st_err_clear(st_err *e)
{
    if (!e) return;
    e->code = ST_OK;
    e->msg[0] = '\0';
}

st_code st_err_set(st_err *e, st_code code, const char *fmt, ...)
{
    if (!e) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return code;
}

st_code st_err_wrap(st_err *e, const char *fmt, ...)
{
    if (!e) return ST_ERR_STATE;
    char prefix[ST_ERR_MSG_MAX], old[ST_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t pl = strlen(prefix);
    if (pl > sizeof e->msg - 3) pl = sizeof e->msg - 3;
    memcpy(e->msg, prefix, pl);
    memcpy(e->msg + pl, ": ", 2);
    size_t ol = strnlen(old, sizeof old);
    if (ol > sizeof e->msg - pl - 3) ol = sizeof e->msg - pl - 3;
    memcpy(e->msg + pl + 2, old, ol);
    e->msg[pl + 2 + ol] = '\0';
    return e->code;
}

const char *st_code_str(st_code code)
{
    switch (code) {
    case ST_OK: return "ok";
    case ST_ERR_ARG: return "argument";
    case ST_ERR_IO: return "io";
    case ST_ERR_FORMAT: return "format";
    case ST_ERR_UNSUPPORTED: return "unsupported";
    case ST_ERR_CONFLICT: return "conflict";
    case ST_ERR_NOTFOUND: return "not-found";
    case ST_ERR_NOMEM: return "out-of-memory";
    case ST_ERR_KAFKA: return "kafka";
    case ST_ERR_STATE: return "state";
    case ST_ERR_INTERRUPTED: return "interrupted";
    case ST_ERR_AMBIGUOUS: return "ambiguous";
    case ST_ERR_DENIED: return "denied";
    }
    return "unknown";
}
