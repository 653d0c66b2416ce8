/* record_source.c — dispatch to a source's operations, with the defaults of record_source.h. */
#include "source/record_source.h"

#include <string.h>

static st_code unsupported(const record_source *s, const char *what, st_err *e)
{
    return st_err_set(e, ST_ERR_UNSUPPORTED, "the %s source %s cannot %s", s->kind ? s->kind : "record",
                      s->name ? s->name : "", what);
}

st_code record_source_poll(record_source *s, record *out, size_t max, int timeout_ms, size_t *n, st_err *e)
{
    *n = 0;
    return s->ops->poll(s, out, max, timeout_ms, n, e);
}

void record_source_release(record_source *s)
{
    if (s->ops->release) s->ops->release(s);
}

st_code record_source_seek(record_source *s, const record_position *to, size_t n, st_err *e)
{
    if (!s->ops->seek) return unsupported(s, "seek", e);
    return n ? s->ops->seek(s, to, n, e) : ST_OK;
}

void record_source_commit(record_source *s, const record_position *done, size_t n)
{
    if (s->ops->commit && n) s->ops->commit(s, done, n);
}

st_code record_source_bounds(record_source *s, int32_t stream, int timeout_ms, int64_t *lo, int64_t *hi, st_err *e)
{
    if (!s->ops->bounds) return unsupported(s, "tell its bounds", e);
    return s->ops->bounds(s, stream, timeout_ms, lo, hi, e);
}

st_code record_source_position_at(record_source *s, int32_t stream, int64_t time_us, int timeout_ms, int64_t *pos,
                                  st_err *e)
{
    if (!s->ops->position_at) return unsupported(s, "find a position by time", e);
    return s->ops->position_at(s, stream, time_us, timeout_ms, pos, e);
}

st_code record_source_streams(record_source *s, int timeout_ms, int32_t **out, size_t *n, st_err *e)
{
    *out = NULL;
    *n = 0;
    if (!s->ops->streams) return unsupported(s, "list its streams", e);
    return s->ops->streams(s, timeout_ms, out, n, e);
}

st_code record_source_id(record_source *s, const char **id, st_err *e)
{
    if (!s->ops->id) {
        *id = s->name ? s->name : "";
        return ST_OK;
    }
    return s->ops->id(s, id, e);
}

bool record_source_header(record_source *s, const record *r, const char *name, const void **value, size_t *len)
{
    return s->ops->header && r->kind == RECORD_DATA && s->ops->header(s, r, name, value, len);
}

const char *record_source_name(const record_source *s) { return s->name ? s->name : ""; }

void record_source_set_handlers(record_source *s, const record_handlers *h)
{
    if (h)
        s->handlers = *h;
    else
        memset(&s->handlers, 0, sizeof s->handlers);
}

void record_source_close(record_source *s)
{
    if (s->ops->close) s->ops->close(s);
}

void record_source_destroy(record_source *s)
{
    if (!s) return;
    record_source_close(s);
    s->ops->destroy(s);
}

st_code record_source_notify_assigned(record_source *s, record_position *streams, size_t n, st_err *e)
{
    for (size_t i = 0; i < n; i++) streams[i].position = RECORD_POSITION_DEFAULT;
    if (!s->handlers.assigned) return ST_OK;
    return s->handlers.assigned(s->handlers.ctx, streams, n, e);
}

void record_source_notify_revoked(record_source *s, const record_position *streams, size_t n)
{
    if (s->handlers.revoked) s->handlers.revoked(s->handlers.ctx, streams, n);
}
