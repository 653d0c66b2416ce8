/* admin.c — topic create/describe, watermarks and committed offsets through one client handle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka/kafka.h"
#include "kafka/kafka_internal.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* While no broker is usable, metadata lookups wait in slices of this length and look at the error
 * callback between two slices, so a refused login ends the wait within about this time. */
#define REFUSAL_CHECK_MS 500

struct kafka_admin {
    rd_kafka_t *rk;
    char *brokers;
    kafka_props *props; /* copy of the caller's -X, for the short-lived consumer handles */
    char refused[512];  /* first error the brokers refused us with (kafka_err_is_auth_failure), "" */
};

/* Metadata requests must never create topics, whatever the cluster's auto-create setting. */
static const char *const admin_defaults[] = {
    "allow.auto.create.topics", "false",
    NULL,
};

/* Served by rd_kafka_poll (metadata_wait). Transport errors are reported through the failing
 * request; a refused login or certificate is remembered so the waiting request can stop. */
static void admin_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_admin *a = opaque;
    (void)rk;
    if (!a->refused[0] && kafka_err_is_auth_failure(err, reason))
        snprintf(a->refused, sizeof a->refused, "%s", reason ? reason : rd_kafka_err2str(err));
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
    kafka_admin *a = st_xcalloc(1, sizeof *a);
    rd_kafka_conf_set_opaque(conf, a);
    rd_kafka_conf_set_error_cb(conf, admin_on_error);
    a->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!a->rk) {
        rd_kafka_conf_destroy(conf);
        free(a);
        return st_err_set(e, ST_ERR_ARG, "cannot create Kafka admin client for %s: %s", brokers, why);
    }
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

/* rd_kafka_metadata, made to notice refused logins. It waits first for a usable broker (connected
 * and authenticated) and answers __TRANSPORT if none is within its timeout: while that happens
 * the wait goes in REFUSAL_CHECK_MS slices with the error callback served between them. Once a
 * broker was usable (the request itself timed out) the rest of the time goes to one call, so a
 * slow broker is not asked again and again. *refused = the brokers refused us (a->refused). */
static rd_kafka_resp_err_t metadata_wait(kafka_admin *a, rd_kafka_topic_t *rkt, int timeout_ms,
                                         const struct rd_kafka_metadata **md, bool *refused)
{
    int64_t deadline = st_monotonic_us() + (int64_t)timeout_ms * 1000;
    bool sliced = true;
    *refused = false;
    for (;;) {
        int left = ms_left(deadline);
        int64_t t0 = st_monotonic_us();
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(a->rk, 0, rkt, md, sliced && left > REFUSAL_CHECK_MS ? REFUSAL_CHECK_MS : left);
        rd_kafka_poll(a->rk, 0);
        if (a->refused[0]) {
            if (!err) rd_kafka_metadata_destroy(*md);
            *md = NULL;
            *refused = true;
            return RD_KAFKA_RESP_ERR__AUTHENTICATION;
        }
        if (err != RD_KAFKA_RESP_ERR__TRANSPORT && err != RD_KAFKA_RESP_ERR__TIMED_OUT) return err;
        if (st_monotonic_us() >= deadline) return err;
        if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) sliced = false;
        int spent_ms = (int)((st_monotonic_us() - t0) / 1000);
        if (sliced && spent_ms < REFUSAL_CHECK_MS) { /* gave up early: do not spin */
            int nap = REFUSAL_CHECK_MS - spent_ms;
            sleep_ms(nap < ms_left(deadline) ? nap : ms_left(deadline));
        }
    }
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
    bool refused;
    rd_kafka_resp_err_t err = metadata_wait(a, rkt, timeout_ms, &md, &refused);
    rd_kafka_topic_destroy(rkt);
    if (refused)
        return st_err_set(e, ST_ERR_KAFKA, "looking up topic %s: Kafka brokers %s refused the connection "
                          "(check sasl.username/sasl.password, ssl.ca.location): %s", topic, a->brokers, a->refused);
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

/* "replication 3" or "the cluster's default replication", for messages. */
static const char *replication_text(int replication, char *buf, size_t n)
{
    if (replication > 0) snprintf(buf, n, "replication %d", replication);
    else snprintf(buf, n, "the cluster's default replication");
    return buf;
}

/* Sends CreateTopics and waits for its result on a private queue. TOPIC_ALREADY_EXISTS (another
 * creator won the race) counts as success with *created = false. replication/min_isr <= 0: the
 * cluster's defaults (CreateTopics v4+, Kafka 2.4+). */
static st_code create_topic_request(kafka_admin *a, const char *topic, int partitions, int replication,
                                    int min_isr, int timeout_ms, bool *created, st_err *e)
{
    char why[512], rtext[64];
    st_code rc = ST_OK;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication > 0 ? replication : -1,
                                                    why, sizeof why);
    if (!nt) return st_err_set(e, ST_ERR_ARG, "cannot create topic %s: %s", topic, why);
    if (min_isr > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", min_isr);
        rd_kafka_resp_err_t cerr = rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", v);
        if (cerr) {
            rd_kafka_NewTopic_destroy(nt);
            return st_err_set(e, ST_ERR_ARG, "cannot create topic %s: min.insync.replicas=%s: %s", topic, v,
                              rd_kafka_err2str(cerr));
        }
    }
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
        rc = st_err_set(e, ST_ERR_KAFKA, "creating topic %s (%d partitions, %s) on %s: %s", topic, partitions,
                        replication_text(replication, rtext, sizeof rtext), a->brokers,
                        msg ? msg : rd_kafka_err2str(terr));
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
                                 int min_isr, int timeout_ms, bool *created, st_err *e)
{
    int64_t deadline = st_monotonic_us() + (int64_t)timeout_ms * 1000;
    bool made = false, ready = false;
    int n = 0;
    if (created) *created = false;
    if (partitions < 1)
        return st_err_set(e, ST_ERR_ARG, "topic %s: partitions (%d) must be >= 1", topic, partitions);
    st_err probe;
    st_code rc = topic_metadata(a, topic, timeout_ms, &n, &ready, &probe);
    if (rc == ST_OK) return ST_OK;
    if (rc != ST_ERR_NOTFOUND) {
        if (e) *e = probe;
        return rc;
    }
    rc = create_topic_request(a, topic, partitions, replication, min_isr, ms_left(deadline), &made, e);
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

/* The simulator's and the bridge's start-up: the brokers may come up after us. Each attempt is
 * bounded (5 s) so a Ctrl+C or the deadline is seen; only "not reachable" is retried, any other
 * error (bad topic name, authorization, refused credentials or certificate) is returned at once. */
st_code kafka_topic_ensure(const char *brokers, const char *topic, int partitions, const kafka_props *extra,
                           int max_wait_ms, const volatile int *stop, kafka_notice_fn notice, void *opaque,
                           st_err *e)
{
    enum { TRY_MS = 5000 };
    kafka_admin *a = NULL;
    st_err le;
    char line[ST_ERR_MSG_MAX + 128];
    if (!e) e = &le;
    st_code rc = kafka_admin_new(&a, brokers, extra, e);
    if (rc != ST_OK) return rc;
    int64_t deadline = st_monotonic_us() + (int64_t)max_wait_ms * 1000;
    int backoff_ms = 1000;
    bool told = false, created = false;
    for (;;) {
        int64_t left_ms = (deadline - st_monotonic_us()) / 1000;
        int try_ms = left_ms < TRY_MS ? (left_ms > 100 ? (int)left_ms : 100) : TRY_MS;
        rc = kafka_admin_topic_create(a, topic, partitions, 0, 0, try_ms, &created, e); /* the cluster's replication */
        if (rc == ST_OK || !strstr(e->msg, "not reachable")) break;
        if (st_monotonic_us() + (int64_t)backoff_ms * 1000 >= deadline) {
            st_err_wrap(e, "gave up after %d s", max_wait_ms / 1000);
            break;
        }
        if (!told && notice) {
            snprintf(line, sizeof line, "%s; retrying for up to %d s (Ctrl+C to stop)", e->msg, max_wait_ms / 1000);
            notice(line, opaque);
        }
        told = true;
        for (int waited = 0; waited < backoff_ms && !(stop && *stop); waited += 100) sleep_ms(100);
        if (stop && *stop) {
            rc = st_err_set(e, ST_ERR_INTERRUPTED, "stopped while waiting for Kafka brokers %s", brokers);
            break;
        }
        backoff_ms = backoff_ms * 2 > 10000 ? 10000 : backoff_ms * 2;
    }
    if (notice && rc == ST_OK && created) {
        snprintf(line, sizeof line, "created topic %s (%d partitions) on %s", topic, partitions, brokers);
        notice(line, opaque);
    } else if (notice && rc == ST_OK && told) {
        snprintf(line, sizeof line, "Kafka brokers %s reachable; topic %s ready", brokers, topic);
        notice(line, opaque);
    }
    kafka_admin_destroy(a);
    return rc;
}
