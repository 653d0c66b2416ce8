/* producer.c — idempotent batching producer bound to one topic, counting delivery reports. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka.h"
#include "kafka/kafka_internal.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* Delivery reports are served every this many sends, so counters stay fresh and the
 * report queue stays short without a poll call per message. */
#define SENDS_PER_POLL 1024
/* Longest single wait while the local queue is full or while flushing. */
#define POLL_SLICE_MS 100

struct kafka_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *brokers;
    char *topic;
    uint64_t produced, delivered, failed;
    bool brokers_down, fatal;
    char last_error[512];
    unsigned since_poll;
    kafka_delivery_fn dr_fn;
    void *dr_opaque;
    size_t max_message_bytes;
};

/* Producer defaults for throughput with per-event durability (see kafka.h); -X overrides. */
static const char *const producer_defaults[] = {
    "enable.idempotence", "true",
    "acks", "all",
    "compression.type", "lz4",
    "linger.ms", "20",
    "batch.size", "1000000",
    "batch.num.messages", "10000",
    "queue.buffering.max.messages", "500000",
    "message.timeout.ms", "300000",
    "partitioner", "murmur2_random",
    NULL,
};

/* Delivery report (served from rd_kafka_poll/flush, on the caller's thread): one per message. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_producer *p = opaque;
    if (m->err) {
        p->failed++;
        snprintf(p->last_error, sizeof p->last_error, "delivery failed: %s", rd_kafka_err2str(m->err));
    } else {
        p->delivered++;
        p->brokers_down = false;
    }
    /* messages of kafka_producer_send carry no opaque: only produce() ones are reported */
    if (p->dr_fn && m->_private)
        p->dr_fn(m->_private, m->err == RD_KAFKA_RESP_ERR_NO_ERROR, m->err ? rd_kafka_err2str(m->err) : NULL,
                 p->dr_opaque);
}

/* Client-level errors (served like delivery reports). Transport errors are informational:
 * librdkafka reconnects with backoff by itself; only a fatal error, or brokers that refuse our
 * credentials or certificate (no reconnect fixes that: the events would wait in the queue until
 * message.timeout.ms), stop the producer. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_producer *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[200];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        p->fatal = true;
        snprintf(p->last_error, sizeof p->last_error, "fatal producer error (%s): %s",
                 rd_kafka_err2name(orig), why);
        return;
    }
    if (kafka_err_is_auth_failure(err, reason)) {
        if (p->fatal) return; /* keep the first reason */
        p->fatal = true;
        snprintf(p->last_error, sizeof p->last_error, "Kafka brokers %s refused the connection (check "
                 "sasl.username/sasl.password, ssl.ca.location): %s", p->brokers, reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) p->brokers_down = true;
    snprintf(p->last_error, sizeof p->last_error, "%s", reason);
}

/* Builds the client; no network I/O happens before the first send. */
st_code kafka_producer_new(kafka_producer **out, const char *brokers, const char *topic,
                           const kafka_props *extra, st_err *e)
{
    char why[512];
    rd_kafka_conf_t *conf = NULL;
    kafka_producer *p = NULL;
    *out = NULL;
    if (!topic || !*topic) return st_err_set(e, ST_ERR_ARG, "no Kafka topic given (--topic NAME)");
    st_code rc = kafka_conf_base(&conf, brokers, extra, producer_defaults, e);
    if (rc != ST_OK) return rc;

    p = st_xcalloc(1, sizeof *p);
    p->brokers = st_xstrdup(brokers);
    p->topic = st_xstrdup(topic);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        rc = st_err_set(e, ST_ERR_ARG, "cannot create Kafka producer for %s: %s", brokers, why);
        goto fail;
    }
    char mmb[32];
    size_t mmb_len = sizeof mmb;
    p->max_message_bytes = 1000000;
    if (rd_kafka_conf_get(rd_kafka_conf(p->rk), "message.max.bytes", mmb, &mmb_len) == RD_KAFKA_CONF_OK)
        p->max_message_bytes = (size_t)strtoull(mmb, NULL, 10);
    p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!p->rkt) {
        rc = st_err_set(e, ST_ERR_KAFKA, "cannot create Kafka topic handle %s: %s", topic,
                        rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    *out = p;
    return ST_OK;
fail:
    kafka_producer_destroy(p);
    return rc;
}

/* Does not flush: what is still queued is dropped (librdkafka purges on destroy). */
void kafka_producer_destroy(kafka_producer *p)
{
    if (!p) return;
    if (p->rkt) rd_kafka_topic_destroy(p->rkt);
    if (p->rk) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
        rd_kafka_destroy(p->rk);
    }
    free(p->brokers);
    free(p->topic);
    free(p);
}

/* Enqueue with copy; on QUEUE_FULL serve reports in short slices until max_block_ms. The
 * headers are built once: rd_kafka_producev takes them over only when it succeeds. */
st_code kafka_producer_produce(kafka_producer *p, const kafka_outgoing *m, int max_block_ms, st_err *e)
{
    int64_t start = -1;
    rd_kafka_headers_t *hdrs = NULL;
    if (m->nheaders) {
        hdrs = rd_kafka_headers_new(m->nheaders);
        for (size_t i = 0; i < m->nheaders; i++)
            rd_kafka_header_add(hdrs, m->headers[i].name, -1, m->headers[i].value, (ssize_t)m->headers[i].len);
    }
    st_code rc;
    for (;;) {
        if (p->fatal) {
            rc = st_err_set(e, ST_ERR_KAFKA, "topic %s: %s", p->topic, p->last_error);
            break;
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(p->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)(uintptr_t)m->value, m->value_len),
            RD_KAFKA_V_KEY(m->key, m->key ? m->key_len : 0), RD_KAFKA_V_TIMESTAMP(m->timestamp_ms),
            RD_KAFKA_V_OPAQUE(m->opaque), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            hdrs = NULL;
            p->produced++;
            if (++p->since_poll >= SENDS_PER_POLL) {
                p->since_poll = 0;
                rd_kafka_poll(p->rk, 0);
            }
            rc = ST_OK;
            break;
        }
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            rc = st_err_set(e, ST_ERR_ARG, "message of %zu bytes is over message.max.bytes (%zu) for topic %s",
                            m->key_len + m->value_len, p->max_message_bytes, p->topic);
            break;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rc = st_err_set(e, ST_ERR_KAFKA, "cannot queue message for topic %s: %s", p->topic,
                            rd_kafka_err2str(err));
            break;
        }
        int64_t now = st_monotonic_us();
        if (start < 0) start = now;
        int64_t left_ms = max_block_ms - (now - start) / 1000;
        if (left_ms <= 0) {
            rc = st_err_set(e, ST_ERR_STATE, "topic %s: local producer queue full (%d messages)", p->topic,
                            rd_kafka_outq_len(p->rk));
            break;
        }
        rd_kafka_poll(p->rk, left_ms < POLL_SLICE_MS ? (int)left_ms : POLL_SLICE_MS);
    }
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    return rc;
}

/* The plain form: no headers, no timestamp, no opaque. */
st_code kafka_producer_send(kafka_producer *p, const void *key, size_t key_len, const void *value,
                            size_t value_len, int max_block_ms, st_err *e)
{
    kafka_outgoing m = {.key = key, .key_len = key_len, .value = value, .value_len = value_len};
    return kafka_producer_produce(p, &m, max_block_ms, e);
}

void kafka_producer_set_delivery_cb(kafka_producer *p, kafka_delivery_fn fn, void *cb_opaque)
{
    p->dr_fn = fn;
    p->dr_opaque = cb_opaque;
}

size_t kafka_producer_max_message_bytes(const kafka_producer *p)
{
    return p->max_message_bytes;
}

/* Thin wrapper: delivery reports and errors are served on the caller's thread. */
void kafka_producer_poll(kafka_producer *p, int timeout_ms)
{
    rd_kafka_poll(p->rk, timeout_ms);
}

/* rd_kafka_flush in slices so an abort flag (second Ctrl+C) is noticed within 100 ms. */
st_code kafka_producer_flush(kafka_producer *p, int timeout_ms, const volatile sig_atomic_t *abort,
                             st_err *e)
{
    int64_t deadline = st_monotonic_us() + (int64_t)timeout_ms * 1000;
    while (rd_kafka_outq_len(p->rk) > 0) {
        if (abort && *abort)
            return st_err_set(e, ST_ERR_INTERRUPTED, "topic %s: flush interrupted with %d messages queued",
                              p->topic, rd_kafka_outq_len(p->rk));
        int64_t left_ms = (deadline - st_monotonic_us()) / 1000;
        if (left_ms <= 0) break;
        rd_kafka_flush(p->rk, left_ms < POLL_SLICE_MS ? (int)left_ms : POLL_SLICE_MS);
    }
    rd_kafka_poll(p->rk, 0);
    int left = rd_kafka_outq_len(p->rk);
    if (left > 0)
        return st_err_set(e, ST_ERR_KAFKA, "topic %s: %d messages still queued after %d ms (brokers %s%s%s)",
                          p->topic, left, timeout_ms, p->brokers, p->last_error[0] ? ": " : "",
                          p->last_error);
    return ST_OK;
}

/* Snapshot of the counters plus librdkafka's current out-queue length; O(1). */
void kafka_producer_stats_get(const kafka_producer *p, kafka_producer_stats *out)
{
    memset(out, 0, sizeof *out);
    out->produced = p->produced;
    out->delivered = p->delivered;
    out->failed = p->failed;
    out->in_flight = p->produced - p->delivered - p->failed;
    out->queue_depth = rd_kafka_outq_len(p->rk);
    out->brokers_down = p->brokers_down;
    out->fatal = p->fatal;
    snprintf(out->last_error, sizeof out->last_error, "%s", p->last_error);
}
