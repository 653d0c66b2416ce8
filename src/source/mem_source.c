/* mem_source.c — the scripted in-memory record source (see mem_source.h). */
#include "source/mem_source.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/timeutil.h"

typedef struct entry {
    record rec;               /* kind DATA or DONE; pointers into the copies below */
    void *key, *value;
    record_value *fields;
    char **strs;              /* copies of the fields' strings */
    char *origin;
} entry;

typedef struct stream {
    entry *e;
    size_t n, cap;
    size_t avail;             /* entries the script has reached */
    size_t next;              /* delivery cursor */
    int64_t first;            /* lowest position still in the log (trim) */
    int64_t committed;        /* -1: none */
    int64_t assigned_at;      /* where the last assignment started it, -1: never assigned */
    int served;
    int end_sent;
    int parked;               /* out of range or stalled: silent until sought */
    int oor_pending;          /* the OUT_OF_RANGE marker is still to be delivered */
    char oor_msg[160];
} stream;

typedef enum step_kind { STEP_ADD, STEP_ASSIGN, STEP_REVOKE, STEP_REDELIVER, STEP_TRIM, STEP_PROBLEM, STEP_STALL } step_kind;

typedef struct step {
    step_kind kind;
    int32_t stream;
    int64_t position;
    int32_t *streams;         /* STEP_ASSIGN: NULL = all */
    size_t nstreams;
    record_problem problem;
    char *msg;
} step;

struct mem_source {
    record_source base;
    char *name;
    int group;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    stream *s;
    int32_t ns;
    step *steps;
    size_t nsteps, capsteps, next_step;
    int32_t rr;               /* stream the next delivery starts with */
    int closed;
    mem_source_stats st;
};

static const record_source_ops mem_source_ops;

static mem_source *of(record_source *s) { return (mem_source *)s; }

static stream *stream_at(mem_source *m, int32_t i) { return i >= 0 && i < m->ns ? &m->s[i] : NULL; }

/* Position after the last available record (the stream's end). */
static int64_t stream_end(const stream *st)
{
    int64_t end = st->avail ? st->e[st->avail - 1].rec.position + 1 : 0;
    return end > st->first ? end : st->first;
}

/* Points the cursor at the first record at or after pos; out of range parks the stream. */
static void stream_seek(stream *st, int32_t id, int64_t pos)
{
    st->end_sent = 0;
    st->parked = st->oor_pending = 0;
    int64_t end = stream_end(st);
    if (pos < st->first || pos > end) {
        st->parked = st->oor_pending = 1;
        snprintf(st->oor_msg, sizeof st->oor_msg, "position %" PRId64 " is not in stream %d (first %" PRId64
                 ", end %" PRId64 ")", pos, (int)id, st->first, end);
        return;
    }
    size_t i = 0;
    while (i < st->n && st->e[i].rec.position < pos) i++;
    st->next = i;
}

/* ------------------------------------------------------------------ building */

mem_source *mem_source_new(const char *name, int32_t nstreams, int group)
{
    mem_source *m = st_xcalloc(1, sizeof *m);
    m->base.ops = &mem_source_ops;
    m->base.kind = "memory";
    m->name = st_xstrdup(name ? name : "memory");
    m->base.name = m->name;
    m->group = group;
    m->ns = nstreams > 0 ? nstreams : 0;
    m->s = st_xcalloc((size_t)(m->ns ? m->ns : 1), sizeof *m->s);
    for (int32_t i = 0; i < m->ns; i++) {
        m->s[i].committed = m->s[i].assigned_at = -1;
        m->s[i].served = !group;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    return m;
}

record_source *mem_source_records(mem_source *m) { return &m->base; }

void mem_source_destroy(mem_source *m)
{
    if (!m) return;
    for (int32_t i = 0; i < m->ns; i++) {
        stream *st = &m->s[i];
        for (size_t k = 0; k < st->n; k++) {
            entry *en = &st->e[k];
            free(en->key);
            free(en->value);
            for (size_t f = 0; f < en->rec.nfields; f++) free(en->strs[f]);
            free(en->strs);
            free(en->fields);
            free(en->origin);
        }
        free(st->e);
    }
    for (size_t i = 0; i < m->nsteps; i++) {
        free(m->steps[i].streams);
        free(m->steps[i].msg);
    }
    free(m->steps);
    free(m->s);
    free(m->name);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

static step *push_step(mem_source *m, step_kind kind)
{
    if (m->nsteps == m->capsteps) {
        m->capsteps = m->capsteps ? m->capsteps * 2 : 16;
        m->steps = st_xrealloc(m->steps, m->capsteps * sizeof *m->steps);
    }
    step *s = &m->steps[m->nsteps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    return s;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *c = st_xmalloc(n ? n : 1);
    if (n) memcpy(c, p, n);
    return c;
}

/* Appends an entry to stream i (lock held): available now unless a control step is pending. */
static entry *append(mem_source *m, int32_t i)
{
    stream *st = stream_at(m, i);
    if (!st) return NULL;
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        st->e = st_xrealloc(st->e, st->cap * sizeof *st->e);
    }
    entry *en = &st->e[st->n++];
    memset(en, 0, sizeof *en);
    en->rec.stream = i;
    en->rec.timestamp_us = -1;
    if (m->next_step == m->nsteps)
        st->avail = st->n;
    else
        push_step(m, STEP_ADD)->stream = i;
    pthread_cond_broadcast(&m->cv);
    return en;
}

int64_t mem_source_add(mem_source *m, int32_t stream_id, const void *key, size_t key_len, const void *value,
                       size_t value_len, int64_t timestamp_us)
{
    pthread_mutex_lock(&m->mu);
    stream *st = stream_at(m, stream_id);
    int64_t pos = -1;
    if (st) {
        pos = st->n ? st->e[st->n - 1].rec.position + 1 : st->first;
        entry *en = append(m, stream_id);
        en->rec.kind = RECORD_DATA;
        en->rec.position = pos;
        en->rec.timestamp_us = timestamp_us;
        if (key) {
            en->key = dup_bytes(key, key_len);
            en->rec.key = en->key;
            en->rec.key_len = key_len;
        }
        if (value) {
            en->value = dup_bytes(value, value_len);
            en->rec.value = en->value;
            en->rec.value_len = value_len;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return pos;
}

void mem_source_add_row(mem_source *m, int32_t stream_id, int64_t position, const record_value *fields,
                        size_t nfields, const char *origin, int64_t origin_row, int64_t timestamp_us)
{
    pthread_mutex_lock(&m->mu);
    entry *en = append(m, stream_id);
    if (en) {
        en->rec.kind = RECORD_DATA;
        en->rec.position = position;
        en->rec.timestamp_us = timestamp_us;
        en->fields = st_xcalloc(nfields ? nfields : 1, sizeof *en->fields);
        en->strs = st_xcalloc(nfields ? nfields : 1, sizeof *en->strs);
        for (size_t f = 0; f < nfields; f++) {
            en->fields[f] = fields[f];
            if (fields[f].str) {
                en->strs[f] = dup_bytes(fields[f].str, fields[f].len);
                en->fields[f].str = en->strs[f];
            }
        }
        en->rec.fields = en->fields;
        en->rec.nfields = nfields;
        if (origin) en->origin = st_xstrdup(origin);
        en->rec.origin = en->origin;
        en->rec.origin_row = origin_row;
    }
    pthread_mutex_unlock(&m->mu);
}

void mem_source_add_done(mem_source *m, int32_t stream_id, int64_t position)
{
    pthread_mutex_lock(&m->mu);
    entry *en = append(m, stream_id);
    if (en) {
        en->rec.kind = RECORD_DONE;
        en->rec.position = position;
    }
    pthread_mutex_unlock(&m->mu);
}

void mem_source_assign(mem_source *m, const int32_t *streams, size_t n)
{
    pthread_mutex_lock(&m->mu);
    step *s = push_step(m, STEP_ASSIGN);
    if (streams) {
        s->streams = dup_bytes(streams, n * sizeof *streams);
        s->nstreams = n;
    }
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void mem_source_revoke(mem_source *m)
{
    pthread_mutex_lock(&m->mu);
    push_step(m, STEP_REVOKE);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void push_positioned(mem_source *m, step_kind kind, int32_t stream_id, int64_t position)
{
    pthread_mutex_lock(&m->mu);
    step *s = push_step(m, kind);
    s->stream = stream_id;
    s->position = position;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void mem_source_redeliver(mem_source *m, int32_t stream_id, int64_t from)
{
    push_positioned(m, STEP_REDELIVER, stream_id, from);
}

void mem_source_trim(mem_source *m, int32_t stream_id, int64_t before)
{
    push_positioned(m, STEP_TRIM, stream_id, before);
}

void mem_source_stall(mem_source *m, int32_t stream_id)
{
    push_positioned(m, STEP_STALL, stream_id, 0);
}

void mem_source_problem(mem_source *m, record_problem kind, const char *message)
{
    pthread_mutex_lock(&m->mu);
    step *s = push_step(m, STEP_PROBLEM);
    s->problem = kind;
    s->msg = st_xstrdup(message ? message : "");
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void mem_source_stats_get(mem_source *m, mem_source_stats *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->st;
    out->script_done = m->next_step == m->nsteps;
    pthread_mutex_unlock(&m->mu);
}

/* A stream's committed and assigned-at positions, read under the lock (-1: unknown stream). */
static void stream_marks(mem_source *m, int32_t stream_id, int64_t *committed, int64_t *assigned_at)
{
    pthread_mutex_lock(&m->mu);
    stream *st = stream_at(m, stream_id);
    *committed = st ? st->committed : -1;
    *assigned_at = st ? st->assigned_at : -1;
    pthread_mutex_unlock(&m->mu);
}

int64_t mem_source_committed(mem_source *m, int32_t stream_id)
{
    int64_t c, a;
    stream_marks(m, stream_id, &c, &a);
    return c;
}

int64_t mem_source_assigned_at(mem_source *m, int32_t stream_id)
{
    int64_t c, a;
    stream_marks(m, stream_id, &c, &a);
    return a;
}

/* ------------------------------------------------------------------ serving */

/* Takes available records of the served streams (lock held), round robin from m->rr. Stops at a
 * DONE marker: a batch never goes past one. */
static size_t deliver(mem_source *m, record *out, size_t max)
{
    size_t n = 0;
    for (int32_t k = 0; k < m->ns && n < max; k++) {
        int32_t i = (m->rr + k) % m->ns;
        stream *st = &m->s[i];
        if (!st->served) continue;
        if (!st->parked && st->next < st->avail && st->e[st->next].rec.position < st->first)
            stream_seek(st, i, st->e[st->next].rec.position); /* trimmed under the cursor */
        if (st->oor_pending) {
            st->oor_pending = 0;
            out[n++] = (record){.kind = RECORD_PROBLEM, .problem = RECORD_PROBLEM_OUT_OF_RANGE, .stream = i,
                                .position = -1, .timestamp_us = -1, .value = st->oor_msg,
                                .value_len = strlen(st->oor_msg)};
            continue;
        }
        if (st->parked) continue;
        while (st->next < st->avail && n < max) {
            const entry *en = &st->e[st->next];
            out[n++] = en->rec;
            st->next++;
            st->end_sent = 0;
            if (en->rec.kind == RECORD_DONE) {
                m->rr = (i + 1) % m->ns;
                return n;
            }
        }
    }
    if (m->ns) m->rr = (m->rr + 1) % m->ns;
    return n;
}

/* END markers for served streams that delivered everything, once the script is over. */
static size_t end_markers(mem_source *m, record *out, size_t max)
{
    size_t n = 0;
    if (m->next_step < m->nsteps) return 0;
    for (int32_t i = 0; i < m->ns && n < max; i++) {
        stream *st = &m->s[i];
        if (!st->served || st->parked || st->end_sent || st->next < st->avail) continue;
        st->end_sent = 1;
        out[n++] = (record){.kind = RECORD_END, .stream = i, .position = stream_end(st), .timestamp_us = -1};
    }
    return n;
}

/* Runs an assign step: the handler (without the lock: it may call back into the source) says
 * where each stream starts. */
static st_code run_assign(mem_source *m, const step *sp, st_err *e)
{
    size_t n = sp->streams ? sp->nstreams : (size_t)m->ns;
    record_position *p = st_xmalloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i].stream = sp->streams ? sp->streams[i] : (int32_t)i;
    m->st.assignments++;
    pthread_mutex_unlock(&m->mu);
    st_code rc = record_source_notify_assigned(&m->base, p, n, e);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; rc == ST_OK && i < n; i++) {
        stream *st = stream_at(m, p[i].stream);
        if (!st) continue;
        st->served = 1;
        int64_t pos = p[i].position;
        if (pos == RECORD_POSITION_DEFAULT) pos = st->committed >= 0 ? st->committed : st->first;
        st->assigned_at = pos;
        stream_seek(st, p[i].stream, pos);
    }
    free(p);
    return rc;
}

static void run_revoke(mem_source *m)
{
    size_t n = 0;
    record_position *p = st_xmalloc((size_t)(m->ns ? m->ns : 1) * sizeof *p);
    for (int32_t i = 0; i < m->ns; i++)
        if (m->s[i].served) p[n++] = (record_position){i, RECORD_POSITION_DEFAULT};
    if (!n) { /* nothing served: no revocation, as in Kafka */
        free(p);
        return;
    }
    m->st.revocations++;
    pthread_mutex_unlock(&m->mu);
    record_source_notify_revoked(&m->base, p, n);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n; i++) m->s[p[i].stream].served = 0;
    free(p);
}

/* Runs the next control step (lock held); a problem step gives its marker in *out. */
static st_code run_step(mem_source *m, record *out, size_t *n, st_err *e)
{
    step *sp = &m->steps[m->next_step++];
    stream *st = stream_at(m, sp->stream);
    switch (sp->kind) {
    case STEP_ADD: break;
    case STEP_ASSIGN: return m->group ? run_assign(m, sp, e) : ST_OK;
    case STEP_REVOKE:
        if (m->group) run_revoke(m);
        break;
    case STEP_REDELIVER:
        if (st) stream_seek(st, sp->stream, sp->position);
        break;
    case STEP_TRIM:
        if (st && sp->position > st->first) st->first = sp->position;
        break;
    case STEP_STALL:
        if (st) {
            st->parked = 1; /* no marker: a fetcher that stopped says nothing */
            st->oor_pending = 0;
        }
        break;
    case STEP_PROBLEM:
        out[(*n)++] = (record){.kind = RECORD_PROBLEM, .problem = sp->problem, .stream = -1, .position = -1,
                               .timestamp_us = -1, .value = sp->msg, .value_len = strlen(sp->msg)};
        break;
    }
    return ST_OK;
}

/* Waits on the condition variable up to ms (lock held). */
static void wait_ms(mem_source *m, int ms)
{
    struct timespec ts;
    st_deadline_in_us((int64_t)ms * 1000, &ts);
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}

static st_code ms_poll(record_source *s, record *out, size_t max, int timeout_ms, size_t *n, st_err *e)
{
    mem_source *m = of(s);
    st_code rc = ST_OK;
    int waited = 0;
    pthread_mutex_lock(&m->mu);
    m->st.polls++;
    while (!m->closed && max) {
        *n = deliver(m, out, max);
        if (*n) break;
        if (m->next_step < m->nsteps) {
            if (m->steps[m->next_step].kind == STEP_ADD) {
                while (m->next_step < m->nsteps && m->steps[m->next_step].kind == STEP_ADD) {
                    stream *st = stream_at(m, m->steps[m->next_step++].stream);
                    if (st) st->avail++;
                }
                continue;
            }
            rc = run_step(m, out, n, e);
            break;
        }
        *n = end_markers(m, out, max);
        if (*n || waited || timeout_ms <= 0) break;
        wait_ms(m, timeout_ms);
        waited = 1;
    }
    for (size_t i = 0; i < *n; i++)
        if (out[i].kind == RECORD_DATA) m->st.delivered++;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static st_code ms_seek(record_source *s, const record_position *to, size_t n, st_err *e)
{
    mem_source *m = of(s);
    st_code rc = ST_OK;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n; i++) {
        stream *st = stream_at(m, to[i].stream);
        if (!st) {
            rc = st_err_set(e, ST_ERR_ARG, "memory source %s has no stream %d", m->name, (int)to[i].stream);
            break;
        }
        stream_seek(st, to[i].stream, to[i].position);
    }
    m->st.seeks++;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void ms_commit(record_source *s, const record_position *done, size_t n)
{
    mem_source *m = of(s);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n; i++) {
        stream *st = stream_at(m, done[i].stream);
        if (st) st->committed = done[i].position;
    }
    m->st.commits++;
    pthread_mutex_unlock(&m->mu);
}

static st_code ms_bounds(record_source *s, int32_t stream_id, int timeout_ms, int64_t *lo, int64_t *hi, st_err *e)
{
    (void)timeout_ms;
    mem_source *m = of(s);
    pthread_mutex_lock(&m->mu);
    stream *st = stream_at(m, stream_id);
    if (st) {
        *lo = st->first;
        *hi = stream_end(st);
    }
    pthread_mutex_unlock(&m->mu);
    return st ? ST_OK : st_err_set(e, ST_ERR_NOTFOUND, "memory source %s has no stream %d", m->name, (int)stream_id);
}

static st_code ms_position_at(record_source *s, int32_t stream_id, int64_t time_us, int timeout_ms, int64_t *pos,
                              st_err *e)
{
    (void)timeout_ms;
    mem_source *m = of(s);
    pthread_mutex_lock(&m->mu);
    stream *st = stream_at(m, stream_id);
    *pos = -1;
    for (size_t i = 0; st && i < st->avail; i++) {
        const record *r = &st->e[i].rec;
        if (r->kind == RECORD_DATA && r->position >= st->first && r->timestamp_us >= time_us) {
            *pos = r->position;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st ? ST_OK : st_err_set(e, ST_ERR_NOTFOUND, "memory source %s has no stream %d", m->name, (int)stream_id);
}

static st_code ms_streams(record_source *s, int timeout_ms, int32_t **out, size_t *n, st_err *e)
{
    (void)timeout_ms;
    (void)e;
    mem_source *m = of(s);
    *out = st_xmalloc((size_t)(m->ns ? m->ns : 1) * sizeof **out);
    for (int32_t i = 0; i < m->ns; i++) (*out)[i] = i;
    *n = (size_t)m->ns;
    return ST_OK;
}

static void ms_close(record_source *s)
{
    mem_source *m = of(s);
    pthread_mutex_lock(&m->mu);
    if (!m->closed) {
        if (m->group) run_revoke(m);
        m->closed = 1;
    }
    pthread_mutex_unlock(&m->mu);
}

static void ms_destroy(record_source *s) { mem_source_destroy(of(s)); }

static const record_source_ops mem_source_ops = {
    .poll = ms_poll,
    .seek = ms_seek,
    .commit = ms_commit,
    .bounds = ms_bounds,
    .position_at = ms_position_at,
    .streams = ms_streams,
    .close = ms_close,
    .destroy = ms_destroy,
};
