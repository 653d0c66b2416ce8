/* admin.c — topic create/describe, watermarks and committed offsets through one client handle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka/kafka.h"
#include "kafka/kafka_internal.h"
#include "util/buf.h"
#include "util/timeutil.h"

struct kafka_admin {
    rd_kafka_t *rk;
    char *brokers;
    kafka_props *props; /* copy of the caller's -X, for the short-lived consumer handles */
};

/* Metadata requests must never create topics, whatever the cluster's auto-create setting. */
static const char *const admin_defaults[] = {
    "allow.auto.create.topics", "false",
    NULL,
};

/* Transport errors are reported through the failing request; nothing to do here. */
static void admin_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)err;
    (void)reason;
    (void)opaque;
}

/* Milliseconds left until deadline_us (monotonic), at least 1 so librdkafka never waits forever. */
static int ms_left(int64_t deadline_us)
{
    int64_t left = (deadline_us - st_monotonic_us()) / 1000;
    return left < 1 ? 1 : (int)left;
}

/* Plain sleep for retry loops (EINTR just shortens it). */
static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Message for a request that got no answer: the user's first question is "is the broker up?". */
static st_code unreachable(kafka_admin *a, const char *what, int timeout_ms, rd_kafka_resp_err_t err,
                           st_err *e)
{
    return st_err_set(e, ST_ERR_KAFKA, "%s: Kafka brokers %s not reachable within %d ms (%s)", what,
                      a->brokers, timeout_ms, rd_kafka_err2str(err));
}

/* A producer-type handle serves metadata, admin and ListOffsets requests; no I/O yet. */
st_code kafka_admin_new(kafka_admin **out, const char *brokers, const kafka_props *extra, st_err *e)
{
    char why[512];
    rd_kafka_conf_t *conf = NULL;
    *out = NULL;
    st_code rc = kafka_conf_base(&conf, brokers, extra, admin_defaults, e);
    if (rc != ST_OK) return rc;
    rd_kafka_conf_set_error_cb(conf, admin_on_error);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return st_err_set(e, ST_ERR_ARG, "cannot create Kafka admin client for %s: %s", brokers, why);
    }
    kafka_admin *a = st_xcalloc(1, sizeof *a);
    a->rk = rk;
    a->brokers = st_xstrdup(brokers);
    a->props = kafka_props_clone(extra);
    *out = a;
    return ST_OK;
}

/* NULL-safe; waits for librdkafka's threads to end (milliseconds). */
void kafka_admin_destroy(kafka_admin *a)
{
    if (!a) return;
    rd_kafka_destroy(a->rk);
    free(a->brokers);
    kafka_props_destroy(a->props);
    free(a);
}

/* One metadata request for topic. *partitions = count, *ready = every partition has a leader.
 * ST_ERR_NOTFOUND when the cluster does not know the topic. */
static st_code topic_metadata(kafka_admin *a, const char *topic, int timeout_ms, int *partitions,
                              bool *ready, st_err *e)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(a->rk, topic, NULL);
    if (!rkt)
        return st_err_set(e, ST_ERR_ARG, "invalid topic name '%s': %s", topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    rd_kafka_resp_err_t err = rd_kafka_metadata(a->rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err) {
        char what[300];
        snprintf(what, sizeof what, "looking up topic %s", topic);
        return unreachable(a, what, timeout_ms, err, e);
    }
    st_code rc = ST_OK;
    const struct rd_kafka_metadata_topic *t = NULL;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic)) t = &md->topics[i];
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (t->err == 0 && t->partition_cnt == 0)) {
        rc = st_err_set(e, ST_ERR_NOTFOUND, "topic %s does not exist on %s", topic, a->brokers);
    } else if (t->err && t->err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
        rc = st_err_set(e, ST_ERR_KAFKA, "describing topic %s on %s: %s", topic, a->brokers,
                        rd_kafka_err2str(t->err));
    } else {
        *partitions = t->partition_cnt;
        *ready = t->err == 0;
        for (int i = 0; i < t->partition_cnt; i++)
            if (t->partitions[i].leader < 0 || t->partitions[i].err) *ready = false;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* One metadata request; see topic_metadata. */
st_code kafka_admin_topic_partitions(kafka_admin *a, const char *topic, int timeout_ms,
                                     int *partitions, st_err *e)
{
    bool ready;
    return topic_metadata(a, topic, timeout_ms, partitions, &ready, e);
}

/* Sends CreateTopics and waits for its result on a private queue. TOPIC_ALREADY_EXISTS (another
 * creator won the race) counts as success with *created = false. */
static st_code create_topic_request(kafka_admin *a, const char *topic, int partitions, int replication,
                                    int timeout_ms, bool *created, st_err *e)
{
    char why[512];
    st_code rc = ST_OK;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication, why, sizeof why);
    if (!nt) return st_err_set(e, ST_ERR_ARG, "cannot create topic %s: %s", topic, why);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(a->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, NULL, 0);
    rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, NULL, 0);
    rd_kafka_CreateTopics(a->rk, &nt, 1, opt, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (!ev) {
        rc = unreachable(a, "creating topic", timeout_ms, RD_KAFKA_RESP_ERR__TIMED_OUT, e);
        goto done;
    }
    if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
        if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT)
            rc = unreachable(a, "creating topic", timeout_ms, err, e);
        else
            rc = st_err_set(e, ST_ERR_KAFKA, "creating topic %s on %s: %s", topic, a->brokers,
                            rd_kafka_event_error_string(ev));
        goto done;
    }
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    rd_kafka_resp_err_t terr = cnt ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
    if (terr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        *created = false;
    } else if (terr) {
        const char *msg = cnt ? rd_kafka_topic_result_error_string(res[0]) : NULL;
        rc = st_err_set(e, ST_ERR_KAFKA, "creating topic %s (%d partitions, replication %d) on %s: %s",
                        topic, partitions, replication, a->brokers, msg ? msg : rd_kafka_err2str(terr));
    } else {
        *created = true;
    }
done:
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* exists? -> done; else CreateTopics; then poll metadata every 100 ms until every partition has
 * a leader, all within timeout_ms. */
st_code kafka_admin_topic_create(kafka_admin *a, const char *topic, int partitions, int replication,
                                 int timeout_ms, bool *created, st_err *e)
{
    int64_t deadline = st_monotonic_us() + (int64_t)timeout_ms * 1000;
    bool made = false, ready = false;
    int n = 0;
    if (created) *created = false;
    if (partitions < 1 || replication < 1)
        return st_err_set(e, ST_ERR_ARG, "topic %s: partitions (%d) and replication (%d) must be >= 1",
                          topic, partitions, replication);
    st_err probe;
    st_code rc = topic_metadata(a, topic, timeout_ms, &n, &ready, &probe);
    if (rc == ST_OK) return ST_OK;
    if (rc != ST_ERR_NOTFOUND) {
        if (e) *e = probe;
        return rc;
    }
    rc = create_topic_request(a, topic, partitions, replication, ms_left(deadline), &made, e);
    if (rc != ST_OK) return rc;
    if (created) *created = made;
    for (;;) {
        rc = topic_metadata(a, topic, ms_left(deadline), &n, &ready, &probe);
        if (rc == ST_OK && ready) return ST_OK;
        if (rc != ST_OK && rc != ST_ERR_NOTFOUND) {
            if (e) *e = probe;
            return rc;
        }
        if (st_monotonic_us() >= deadline)
            return st_err_set(e, ST_ERR_KAFKA, "topic %s was created on %s but has no leader for every "
                              "partition after %d ms", topic, a->brokers, timeout_ms);
        sleep_ms(100);
    }
}

/* Metadata for the partition count, then one ListOffsets per partition, all within timeout_ms. */
st_code kafka_admin_watermarks(kafka_admin *a, const char *topic, int timeout_ms,
                               kafka_partition_offsets **out, size_t *n, st_err *e)
{
    int64_t deadline = st_monotonic_us() + (int64_t)timeout_ms * 1000;
    int parts = 0;
    bool ready;
    *out = NULL;
    *n = 0;
    st_code rc = topic_metadata(a, topic, timeout_ms, &parts, &ready, e);
    if (rc != ST_OK) return rc;
    kafka_partition_offsets *po = st_xcalloc((size_t)parts ? (size_t)parts : 1, sizeof *po);
    for (int i = 0; i < parts; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err;
        /* A just-created partition can answer "not leader" for a moment: retry until deadline. */
        while ((err = rd_kafka_query_watermark_offsets(a->rk, topic, i, &lo, &hi, ms_left(deadline))) &&
               (err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) &&
               st_monotonic_us() < deadline)
            sleep_ms(100);
        if (err) {
            free(po);
            return st_err_set(e, ST_ERR_KAFKA, "end offsets of %s [%d] on %s: %s", topic, i, a->brokers,
                              rd_kafka_err2str(err));
        }
        po[i] = (kafka_partition_offsets){.partition = i, .low = lo, .high = hi};
    }
    *out = po;
    *n = (size_t)parts;
    return ST_OK;
}

/* OffsetFetch through a throw-away consumer handle with group.id = group (no join). */
st_code kafka_admin_committed(kafka_admin *a, const char *group, const char *topic, int timeout_ms,
                              int64_t *offsets, size_t n, st_err *e)
{
    char why[512];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    st_code rc = kafka_consumer_conf_new(&conf, a->brokers, group, a->props, e);
    if (rc != ST_OK) return rc;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return st_err_set(e, ST_ERR_ARG, "cannot create Kafka consumer for group %s: %s", group, why);
    }
    parts = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) rd_kafka_topic_partition_list_add(parts, topic, (int32_t)i);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, timeout_ms);
    if (err) {
        char what[300];
        snprintf(what, sizeof what, "committed offsets of group %s", group);
        rc = unreachable(a, what, timeout_ms, err, e);
        goto done;
    }
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (tp->err) {
            rc = st_err_set(e, ST_ERR_KAFKA, "committed offset of group %s for %s [%d]: %s", group, topic,
                            tp->partition, rd_kafka_err2str(tp->err));
            goto done;
        }
        offsets[tp->partition] = tp->offset < 0 ? -1 : tp->offset;
    }
done:
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return rc;
}
