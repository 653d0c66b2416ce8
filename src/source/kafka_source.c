/* kafka_source.c — record_source.h on kafka_consumer (see kafka_source.h). */
#include "source/kafka_source.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define POLL_MAX 1024

typedef struct kafka_source {
    record_source base;
    kafka_consumer *kc;
    char *topic;
    kafka_message msgs[POLL_MAX];
} kafka_source;

static kafka_source *of(record_source *s) { return (kafka_source *)s; }

/* Partitions as record positions, for the handlers (malloc'd, at least one slot). */
static record_position *positions_of(const int32_t *parts, const int64_t *offs, size_t n)
{
    record_position *p = st_xmalloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (record_position){parts[i], offs ? offs[i] : RECORD_POSITION_DEFAULT};
    return p;
}

static st_code on_assigned(void *ctx, const int32_t *parts, int64_t *offs, size_t n, st_err *e)
{
    record_source *s = ctx;
    record_position *p = positions_of(parts, NULL, n);
    st_code rc = record_source_notify_assigned(s, p, n, e);
    for (size_t i = 0; rc == ST_OK && i < n; i++) offs[i] = p[i].position;
    free(p);
    return rc;
}

static void on_revoked(void *ctx, const int32_t *parts, size_t n)
{
    record_position *p = positions_of(parts, NULL, n);
    record_source_notify_revoked(ctx, p, n);
    free(p);
}

static const record_problem problem_of[] = {
    [KAFKA_MSG_OUT_OF_RANGE] = RECORD_PROBLEM_OUT_OF_RANGE,
    [KAFKA_MSG_UNREACHABLE] = RECORD_PROBLEM_UNREACHABLE,
    [KAFKA_MSG_UNKNOWN_TOPIC] = RECORD_PROBLEM_NO_INPUT,
    [KAFKA_MSG_ERROR] = RECORD_PROBLEM_OTHER,
};

static st_code ks_poll(record_source *s, record *out, size_t max, int timeout_ms, size_t *n, st_err *e)
{
    kafka_source *k = of(s);
    size_t got = 0;
    st_code rc = kafka_consumer_poll(k->kc, k->msgs, max < POLL_MAX ? max : POLL_MAX, timeout_ms, &got, e);
    if (rc) return rc;
    for (size_t i = 0; i < got; i++) {
        const kafka_message *m = &k->msgs[i];
        record *r = &out[i];
        memset(r, 0, sizeof *r);
        r->stream = m->partition;
        r->position = m->offset;
        r->timestamp_us = -1;
        if (m->kind == KAFKA_MSG_RECORD) {
            r->kind = RECORD_DATA;
            if (m->timestamp_ms >= 0) r->timestamp_us = m->timestamp_ms * 1000;
            r->key = m->key;
            r->key_len = m->key_len;
            r->value = m->value;
            r->value_len = m->value_len;
            r->handle = m;
        } else if (m->kind == KAFKA_MSG_EOF) {
            r->kind = RECORD_END;
        } else {
            r->kind = RECORD_PROBLEM;
            r->problem = problem_of[m->kind];
            r->value = m->error;
            r->value_len = m->error ? strlen(m->error) : 0;
        }
    }
    *n = got;
    return ST_OK;
}

static bool ks_header(record_source *s, const record *r, const char *name, const void **value, size_t *len)
{
    (void)s;
    return r->handle && kafka_message_header(r->handle, name, value, len);
}

static void ks_release(record_source *s) { kafka_consumer_release(of(s)->kc); }

/* Splits record positions into the consumer's parallel arrays. */
static void split(const record_position *p, size_t n, int32_t **parts, int64_t **offs)
{
    *parts = st_xmalloc((n ? n : 1) * sizeof **parts);
    *offs = st_xmalloc((n ? n : 1) * sizeof **offs);
    for (size_t i = 0; i < n; i++) {
        (*parts)[i] = p[i].stream;
        (*offs)[i] = p[i].position;
    }
}

static st_code ks_seek(record_source *s, const record_position *to, size_t n, st_err *e)
{
    int32_t *parts;
    int64_t *offs;
    split(to, n, &parts, &offs);
    st_code rc = kafka_consumer_seek(of(s)->kc, parts, offs, n, e);
    free(parts);
    free(offs);
    return rc;
}

static void ks_commit(record_source *s, const record_position *done, size_t n)
{
    int32_t *parts;
    int64_t *offs;
    split(done, n, &parts, &offs);
    kafka_consumer_commit(of(s)->kc, parts, offs, n);
    free(parts);
    free(offs);
}

static st_code ks_bounds(record_source *s, int32_t stream, int timeout_ms, int64_t *lo, int64_t *hi, st_err *e)
{
    return kafka_consumer_watermarks(of(s)->kc, stream, timeout_ms, lo, hi, e);
}

/* Kafka timestamps are milliseconds. */
static st_code ks_position_at(record_source *s, int32_t stream, int64_t time_us, int timeout_ms, int64_t *pos,
                              st_err *e)
{
    return kafka_consumer_offset_for_time(of(s)->kc, stream, time_us / 1000, timeout_ms, pos, e);
}

static st_code ks_streams(record_source *s, int timeout_ms, int32_t **out, size_t *n, st_err *e)
{
    return kafka_consumer_partitions(of(s)->kc, timeout_ms, out, n, e);
}

static void ks_close(record_source *s) { kafka_consumer_close(of(s)->kc); }

static void ks_destroy(record_source *s)
{
    kafka_source *k = of(s);
    kafka_consumer_destroy(k->kc);
    free(k->topic);
    free(k);
}

static const record_source_ops kafka_ops = {
    .poll = ks_poll,
    .release = ks_release,
    .seek = ks_seek,
    .commit = ks_commit,
    .bounds = ks_bounds,
    .position_at = ks_position_at,
    .streams = ks_streams,
    .header = ks_header,
    .close = ks_close,
    .destroy = ks_destroy,
};

st_code kafka_source_new(record_source **out, const char *brokers, const char *group, const char *topic,
                         const kafka_props *extra, st_err *e)
{
    *out = NULL;
    kafka_source *k = st_xcalloc(1, sizeof *k);
    k->topic = st_xstrdup(topic ? topic : "");
    k->base.ops = &kafka_ops;
    k->base.kind = "kafka";
    k->base.name = k->topic;
    kafka_consumer_handlers h = {.ctx = &k->base, .assigned = on_assigned, .revoked = on_revoked};
    st_code rc = kafka_consumer_new(&k->kc, brokers, group, topic, extra, &h, e);
    if (rc) {
        free(k->topic);
        free(k);
        return rc;
    }
    *out = &k->base;
    return ST_OK;
}
