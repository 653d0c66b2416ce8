/* consumer.c — the one configuration every consumer of the pipeline starts from, and the group
 * member of the streaming jobs (kafka_consumer, see kafka.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka/kafka.h"
#include "kafka/kafka_internal.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* Offsets are committed by the pipeline itself (into the Delta log), never automatically; a new
 * group starts at the beginning; the classic group protocol is librdkafka 2.0.2's only one. */
static const char *const consumer_defaults[] = {
    "enable.auto.commit", "false",
    "enable.auto.offset.store", "false",
    "auto.offset.reset", "earliest",
    "enable.partition.eof", "true",
    "isolation.level", "read_committed",
    "allow.auto.create.topics", "false",
    NULL,
};

/* Defaults above, then -X; group.id from the caller unless -X set one. No I/O. */
st_code kafka_consumer_conf_new(rd_kafka_conf_t **out, const char *brokers, const char *group,
                                const kafka_props *extra, st_err *e)
{
    char why[512];
    rd_kafka_conf_t *conf = NULL;
    *out = NULL;
    if (!group || !*group) return st_err_set(e, ST_ERR_ARG, "no Kafka consumer group given");
    st_code rc = kafka_conf_base(&conf, brokers, extra, consumer_defaults, e);
    if (rc != ST_OK) return rc;
    /* group.id goes last unless -X set it: the caller's group is the point of this call. */
    if (!kafka_props_get(extra, "group.id") &&
        rd_kafka_conf_set(conf, "group.id", group, why, sizeof why) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return st_err_set(e, ST_ERR_ARG, "cannot set group.id=%s: %s", group, why);
    }
    *out = conf;
    return ST_OK;
}

/* ------------------------------------------------------------------ the streaming consumer */

/* The streaming consumer's settings on top of consumer_defaults (kafka.h says why). */
static const char *const streaming_defaults[] = {
    "auto.offset.reset", "error",
    "queued.max.messages.kbytes", "4096",
    "fetch.message.max.bytes", "4194304",
    "fetch.wait.max.ms", "100",
    "session.timeout.ms", "10000",
    "heartbeat.interval.ms", "1000",
    /* a group leader whose metadata did not list the topic yet assigns nothing; the next refresh
     * that lists it rebalances: within 10 s instead of librdkafka's 5 minutes (measured on the
     * 3-broker cluster: "assigned 0 partition(s)" and no record for the test's 120 s) */
    "topic.metadata.refresh.interval.ms", "10000",
    NULL,
};

#define POLL_MAX 1024

struct kafka_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *cq;          /* the consumer queue (records and callbacks) */
    char *brokers, *topic;
    kafka_consumer_handlers h;
    rd_kafka_message_t *held[POLL_MAX]; /* the last poll's messages, until release */
    size_t nheld;
    /* by partition id: assigned here, and the last message seen was its end (fetcher wake-up) */
    unsigned char *assigned, *at_eof;
    int32_t nslots;
    int32_t wake_next;
    int handler_failed;            /* the assigned handler failed during the current poll */
    st_err handler_err;
    int refused;                   /* the brokers refused our credentials or certificate */
    st_err refused_err;
    int closed;
};

/* Grows the per-partition arrays to cover partition p. */
static void slots_cover(kafka_consumer *c, int32_t p)
{
    if (p < c->nslots) return;
    int32_t n = p + 1;
    c->assigned = st_xrealloc(c->assigned, (size_t)n);
    c->at_eof = st_xrealloc(c->at_eof, (size_t)n);
    memset(c->assigned + c->nslots, 0, (size_t)(n - c->nslots));
    memset(c->at_eof + c->nslots, 0, (size_t)(n - c->nslots));
    c->nslots = n;
}

/* Partitions of a librdkafka list as a malloc'd array (NULL when empty). */
static int32_t *list_partitions(const rd_kafka_topic_partition_list_t *l)
{
    if (!l->cnt) return NULL;
    int32_t *p = st_xmalloc((size_t)l->cnt * sizeof *p);
    for (int i = 0; i < l->cnt; i++) p[i] = l->elems[i].partition;
    return p;
}

/* Runs the caller's handler, then hands librdkafka the partitions at the offsets it chose (or
 * nothing when it failed: the failing poll reports the handler's error). */
static void on_assign(kafka_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    size_t n = (size_t)parts->cnt;
    int32_t *ids = list_partitions(parts);
    int64_t *offs = st_xmalloc((n ? n : 1) * sizeof *offs);
    for (size_t i = 0; i < n; i++) offs[i] = -1;
    st_code rc = ST_OK;
    st_err_clear(&c->handler_err);
    if (c->h.assigned) rc = c->h.assigned(c->h.ctx, ids, offs, n, &c->handler_err);
    if (rc) {
        if (c->handler_err.code == ST_OK) c->handler_err.code = rc;
        c->handler_failed = 1;
        rd_kafka_assign(c->rk, NULL);
    } else {
        for (size_t i = 0; i < n; i++) {
            parts->elems[i].offset = offs[i] >= 0 ? offs[i] : RD_KAFKA_OFFSET_INVALID;
            slots_cover(c, ids[i]);
            c->assigned[ids[i]] = 1;
            c->at_eof[ids[i]] = 0;
        }
        rd_kafka_assign(c->rk, parts);
    }
    free(ids);
    free(offs);
}

/* Anything but an assignment takes every partition back (revocation, or a rebalance error). */
static void on_revoke(kafka_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int32_t *ids = list_partitions(parts);
    if (c->h.revoked) c->h.revoked(c->h.ctx, ids, (size_t)parts->cnt);
    free(ids);
    if (c->nslots) memset(c->assigned, 0, (size_t)c->nslots);
    rd_kafka_assign(c->rk, NULL);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(opaque, parts);
    else
        on_revoke(opaque, parts);
}

/* Refused credentials or certificates (kafka_err_is_auth_failure) are fatal: no reconnect fixes
 * them, so the next poll fails with the broker's reason. 1 when err was one. */
static int note_refusal(kafka_consumer *c, int err, const char *reason)
{
    if (!kafka_err_is_auth_failure(err, reason)) return 0;
    if (!c->refused)
        st_err_set(&c->refused_err, ST_ERR_KAFKA,
                   "Kafka brokers %s refused the connection (check sasl.username/sasl.password, ssl.ca.location): %s",
                   c->brokers, reason ? reason : "");
    c->refused = 1;
    return 1;
}

/* Client errors that librdkafka serves as callbacks rather than as consumer error events (a
 * refused SASL login, a certificate that does not verify); served inside our polls. Transport
 * errors also come as events and librdkafka retries them by itself. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    note_refusal(opaque, err, reason);
}

/* Before subscribing: while the brokers answer but do not know the topic yet (created a moment ago:
 * each broker learns of it on its own time), ask again, for up to 10 s. The group leader assigns the
 * partitions it finds in its own metadata, and a leader that did not see the topic yet assigned none
 * (silver then sat idle until librdkafka's next metadata refresh, minutes later). Unreachable
 * brokers or an unknown topic after 10 s: subscribed as before (the poll reports the brokers). */
static void wait_for_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) return;
    int64_t deadline = st_monotonic_us() + 10000000;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR) break;
        int ready = 0;
        for (int i = 0; i < md->topic_cnt; i++) {
            const struct rd_kafka_metadata_topic *t = &md->topics[i];
            if (strcmp(t->topic, topic) || t->err || t->partition_cnt <= 0) continue;
            ready = 1;
            for (int k = 0; k < t->partition_cnt; k++)
                if (t->partitions[k].leader < 0) ready = 0;
        }
        rd_kafka_metadata_destroy(md);
        if (ready || st_monotonic_us() + 200000 >= deadline) break;
        struct timespec nap = {0, 200000000L};
        nanosleep(&nap, NULL);
    }
    rd_kafka_topic_destroy(rkt);
}

st_code kafka_consumer_new(kafka_consumer **out, const char *brokers, const char *group, const char *topic,
                           const kafka_props *extra, const kafka_consumer_handlers *h, st_err *e)
{
    *out = NULL;
    /* the streaming settings, then -X: one list, so that -X debug also keeps librdkafka's logs */
    kafka_props *props = kafka_props_new();
    for (size_t i = 0; streaming_defaults[i]; i += 2) kafka_props_set(props, streaming_defaults[i], streaming_defaults[i + 1]);
    kafka_props_merge(props, extra);
    rd_kafka_conf_t *conf = NULL;
    st_code rc = kafka_consumer_conf_new(&conf, brokers, group, props, e);
    kafka_props_destroy(props);
    if (rc) return rc;
    kafka_consumer *c = st_xcalloc(1, sizeof *c);
    if (h) c->h = *h;
    c->brokers = st_xstrdup(brokers);
    c->topic = st_xstrdup(topic);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, c);
    char errstr[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        rc = st_err_set(e, ST_ERR_KAFKA, "cannot create consumer for %s: %s", brokers, errstr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->cq = rd_kafka_queue_get_consumer(c->rk);
    wait_for_topic(c->rk, topic);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        rc = st_err_set(e, ST_ERR_KAFKA, "cannot subscribe to %s: %s", topic, rd_kafka_err2str(err));
        goto fail;
    }
    *out = c;
    return ST_OK;
fail:
    kafka_consumer_destroy(c);
    return rc;
}

void kafka_consumer_release(kafka_consumer *c)
{
    for (size_t i = 0; i < c->nheld; i++) rd_kafka_message_destroy(c->held[i]);
    c->nheld = 0;
}

void kafka_consumer_close(kafka_consumer *c)
{
    if (!c || c->closed || !c->rk) return;
    kafka_consumer_release(c);
    c->closed = 1;
    if (c->cq) rd_kafka_queue_destroy(c->cq);
    c->cq = NULL;
    rd_kafka_consumer_close(c->rk); /* serves the revocation through rebalance_cb */
}

void kafka_consumer_destroy(kafka_consumer *c)
{
    if (!c) return;
    kafka_consumer_close(c);
    if (c->rk) rd_kafka_destroy(c->rk);
    free(c->assigned);
    free(c->at_eof);
    free(c->brokers);
    free(c->topic);
    free(c);
}

/* Asks for the end offset of the next assigned partition that has not reached its end: the
 * request wakes the broker thread that stopped fetching it (kafka.h). Blocks up to 1 s. */
static void wake_fetcher(kafka_consumer *c)
{
    for (int32_t i = 0; i < c->nslots; i++) {
        int32_t p = (c->wake_next + i) % c->nslots;
        if (!c->assigned[p] || c->at_eof[p]) continue;
        int64_t lo, hi;
        rd_kafka_query_watermark_offsets(c->rk, c->topic, p, &lo, &hi, 1000);
        c->wake_next = p + 1;
        return;
    }
}

/* What a librdkafka message is, with its partition's end-of-partition flag kept up to date. */
static void convert(kafka_consumer *c, const rd_kafka_message_t *m, kafka_message *o)
{
    memset(o, 0, sizeof *o);
    o->handle = m;
    o->partition = m->partition;
    o->offset = m->offset;
    o->timestamp_ms = -1;
    int known = m->partition >= 0 && m->partition < c->nslots;
    switch (m->err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        o->kind = KAFKA_MSG_RECORD;
        o->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
        o->key = m->key;
        o->key_len = m->key_len;
        o->value = m->payload;
        o->value_len = m->len;
        if (known) c->at_eof[m->partition] = 0;
        return;
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        o->kind = KAFKA_MSG_EOF;
        if (known) c->at_eof[m->partition] = 1;
        break;
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE: o->kind = KAFKA_MSG_OUT_OF_RANGE; break;
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__RESOLVE: o->kind = KAFKA_MSG_UNREACHABLE; break;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC: o->kind = KAFKA_MSG_UNKNOWN_TOPIC; break;
    default: o->kind = KAFKA_MSG_ERROR; break;
    }
    o->error = rd_kafka_message_errstr(m);
}

st_code kafka_consumer_poll(kafka_consumer *c, kafka_message *out, size_t max, int timeout_ms, size_t *n,
                            st_err *e)
{
    *n = 0;
    kafka_consumer_release(c);
    if (c->closed) return ST_OK;
    if (max > POLL_MAX) max = POLL_MAX;
    if (!max) return ST_OK;
    c->handler_failed = 0;
    /* one queue lock for up to max messages instead of one per message; it would wait the whole
     * timeout to fill the array: take what is there, and block on a single message only when
     * nothing is (rebalance callbacks are served by both calls) */
    ssize_t got = rd_kafka_consume_batch_queue(c->cq, 0, c->held, max);
    if (got <= 0) {
        c->held[0] = rd_kafka_consumer_poll(c->rk, timeout_ms);
        got = c->held[0] ? 1 : 0;
    }
    c->nheld = (size_t)got;
    for (size_t k = 0; k < c->nheld; k++)
        if (c->held[k]->err) note_refusal(c, c->held[k]->err, rd_kafka_message_errstr(c->held[k]));
    if (c->refused) {
        kafka_consumer_release(c);
        if (e) *e = c->refused_err;
        return c->refused_err.code;
    }
    if (c->handler_failed) {
        kafka_consumer_release(c);
        if (e) *e = c->handler_err;
        return c->handler_err.code;
    }
    if (!got) {
        wake_fetcher(c);
        return ST_OK;
    }
    for (size_t k = 0; k < c->nheld; k++) convert(c, c->held[k], &out[k]);
    *n = c->nheld;
    return ST_OK;
}

/* A librdkafka partition list of topic from parallel arrays (offsets may be NULL). */
static rd_kafka_topic_partition_list_t *make_list(const char *topic, const int32_t *parts, const int64_t *offs,
                                                  size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n ? (int)n : 1);
    for (size_t i = 0; i < n; i++) rd_kafka_topic_partition_list_add(l, topic, parts[i])->offset = offs ? offs[i] : 0;
    return l;
}

st_code kafka_consumer_seek(kafka_consumer *c, const int32_t *partitions, const int64_t *offsets, size_t n,
                            st_err *e)
{
    if (!n) return ST_OK;
    kafka_consumer_release(c);
    rd_kafka_topic_partition_list_t *l = make_list(c->topic, partitions, offsets, n);
    st_code rc = ST_OK;
    rd_kafka_error_t *err = rd_kafka_seek_partitions(c->rk, l, 10000);
    if (err) {
        rc = st_err_set(e, ST_ERR_KAFKA, "cannot seek %s: %s", c->topic, rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
    for (size_t i = 0; i < n; i++)
        if (partitions[i] >= 0 && partitions[i] < c->nslots) c->at_eof[partitions[i]] = 0;
    return rc;
}

void kafka_consumer_commit(kafka_consumer *c, const int32_t *partitions, const int64_t *offsets, size_t n)
{
    if (!n || c->closed) return;
    rd_kafka_topic_partition_list_t *l = make_list(c->topic, partitions, offsets, n);
    rd_kafka_commit(c->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
}

st_code kafka_consumer_watermarks(kafka_consumer *c, int32_t partition, int timeout_ms, int64_t *low,
                                  int64_t *high, st_err *e)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err;
    if (timeout_ms > 0) {
        /* A partition's leader may not know a topic created a moment ago (each broker learns of
         * it from the controller on its own time), and leadership moves: those answers are
         * asked again until the timeout, not taken as the job's end. */
        int64_t deadline = st_monotonic_us() + (int64_t)timeout_ms * 1000;
        for (;;) {
            int64_t left_ms = (deadline - st_monotonic_us()) / 1000;
            err = rd_kafka_query_watermark_offsets(c->rk, c->topic, partition, &lo, &hi,
                                                   left_ms > 0 ? (int)left_ms : 1);
            int transient = err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                            err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                            err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
            if (!transient || st_monotonic_us() + 200000 >= deadline) break;
            struct timespec nap = {0, 200000000L};
            nanosleep(&nap, NULL);
        }
    } else {
        err = rd_kafka_get_watermark_offsets(c->rk, c->topic, partition, &lo, &hi);
        if (!err && hi < 0)
            return st_err_set(e, ST_ERR_NOTFOUND, "end offset of %s [%d] not known yet", c->topic, (int)partition);
    }
    if (err)
        return st_err_set(e, ST_ERR_KAFKA, "cannot read offsets of %s [%d] from %s: %s", c->topic, (int)partition,
                          c->brokers, rd_kafka_err2str(err));
    *low = lo;
    *high = hi;
    return ST_OK;
}

st_code kafka_consumer_offset_for_time(kafka_consumer *c, int32_t partition, int64_t timestamp_ms,
                                       int timeout_ms, int64_t *offset, st_err *e)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset = timestamp_ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(c->rk, l, timeout_ms);
    int64_t v = l->elems[0].offset;
    if (!err) err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return st_err_set(e, ST_ERR_KAFKA, "cannot find the offset of timestamp %" PRId64 " in %s [%d]: %s",
                          timestamp_ms, c->topic, (int)partition, rd_kafka_err2str(err));
    *offset = v < 0 ? -1 : v;
    return ST_OK;
}

st_code kafka_consumer_partitions(kafka_consumer *c, int timeout_ms, int32_t **out, size_t *n, st_err *e)
{
    *out = NULL;
    *n = 0;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, c->topic, NULL);
    if (!rkt)
        return st_err_set(e, ST_ERR_ARG, "invalid topic name '%s': %s", c->topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    rd_kafka_resp_err_t err = rd_kafka_metadata(c->rk, 0, rkt, &md, timeout_ms);
    st_code rc = ST_OK;
    if (!err && md->topic_cnt != 1) err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (!err) err = md->topics[0].err;
    if (err) {
        rc = st_err_set(e, ST_ERR_KAFKA, "cannot read the partitions of %s from %s: %s", c->topic, c->brokers,
                        rd_kafka_err2str(err));
    } else {
        const struct rd_kafka_metadata_topic *t = &md->topics[0];
        *out = st_xmalloc((size_t)(t->partition_cnt ? t->partition_cnt : 1) * sizeof **out);
        for (int i = 0; i < t->partition_cnt; i++) (*out)[i] = t->partitions[i].id;
        *n = (size_t)t->partition_cnt;
    }
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* rd_kafka_message_headers parses the headers lazily on first use; the last one wins, as with
 * Kafka's own Headers.lastHeader. */
bool kafka_message_header(const kafka_message *km, const char *name, const void **value, size_t *len)
{
    const rd_kafka_message_t *m = km->handle;
    rd_kafka_headers_t *h = NULL;
    if (!m || rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h) return false;
    return rd_kafka_header_get_last(h, name, value, len) == RD_KAFKA_RESP_ERR_NO_ERROR;
}
