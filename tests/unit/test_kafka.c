/* test_kafka.c — src/kafka without a broker: properties, configuration, queueing, timeouts and
 * error messages against an address where nothing listens (127.0.0.1:1). The broker-backed
 * behaviour is covered by tests/integration/test_kafka_*.py. */
#include "check.h"
#include "kafka/kafka.h"
#include "kafka/kafka_internal.h" /* kafka_props_apply, kafka_consumer_conf_new take librdkafka types */

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define NOBODY "127.0.0.1:1"

static void test_props(void)
{
    st_err e;
    kafka_props *p = kafka_props_new();
    CHECK(kafka_props_add_arg(p, "linger.ms=5", &e) == ST_OK);
    CHECK(kafka_props_add_arg(p, "sasl.password=a=b=c", &e) == ST_OK);
    CHECK_STR(kafka_props_get(p, "sasl.password"), "a=b=c");
    CHECK(kafka_props_add_arg(p, "linger.ms=7", &e) == ST_OK);
    CHECK_STR(kafka_props_get(p, "linger.ms"), "7");
    CHECK(kafka_props_get(p, "nope") == NULL);
    CHECK(kafka_props_add_arg(p, "novalue", &e) == ST_ERR_ARG);
    CHECK(strstr(e.msg, "novalue") != NULL);
    CHECK(kafka_props_add_arg(p, "=x", &e) == ST_ERR_ARG);
    CHECK(kafka_props_add_arg(p, "empty=", &e) == ST_OK);
    CHECK_STR(kafka_props_get(p, "empty"), "");
    kafka_props_destroy(p);
    kafka_props_destroy(NULL);

    p = kafka_props_new();
    kafka_props_set(p, "no.such.property", "1");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHECK(kafka_props_apply(p, conf, &e) == ST_ERR_ARG);
    CHECK(strstr(e.msg, "no.such.property") != NULL);
    rd_kafka_conf_destroy(conf);
    kafka_props_destroy(p);
}

/* -X overrides the producer defaults; an invalid one is a clear ST_ERR_ARG. */
static void test_producer_config(void)
{
    st_err e;
    kafka_producer *prod = NULL;
    kafka_props *p = kafka_props_new();
    kafka_props_set(p, "compression.type", "bogus");
    CHECK(kafka_producer_new(&prod, NOBODY, "t", p, &e) == ST_ERR_ARG && prod == NULL);
    CHECK(strstr(e.msg, "compression.type") != NULL);
    CHECK(kafka_producer_new(&prod, "", "t", NULL, &e) == ST_ERR_ARG);
    CHECK(kafka_producer_new(&prod, NOBODY, "", NULL, &e) == ST_ERR_ARG);
    kafka_producer_destroy(NULL);
    kafka_props_destroy(p);
}

/* Nothing listens: sends are queued, a full queue says so, a short flush reports what is left,
 * an abort flag stops the flush, and messages fail after message.timeout.ms. */
static void test_producer_unreachable(void)
{
    st_err e;
    kafka_producer *prod = NULL;
    kafka_producer_stats st;
    kafka_props *p = kafka_props_new();
    kafka_props_set(p, "queue.buffering.max.messages", "10");
    kafka_props_set(p, "message.timeout.ms", "1500");
    CHECK(kafka_producer_new(&prod, NOBODY, "t", p, &e) == ST_OK);
    if (!prod) goto out;
    for (int i = 0; i < 10; i++) CHECK(kafka_producer_send(prod, "k", 1, "v", 1, 0, &e) == ST_OK);
    CHECK(kafka_producer_send(prod, "k", 1, "v", 1, 50, &e) == ST_ERR_STATE);
    CHECK(strstr(e.msg, "queue full") != NULL);
    CHECK(kafka_producer_send(prod, NULL, 0, "v", 1, 0, &e) == ST_ERR_STATE);

    CHECK(kafka_producer_flush(prod, 200, NULL, &e) == ST_ERR_KAFKA);
    CHECK_MSG(strstr(e.msg, "10 messages still queued") != NULL, "%s", e.msg);
    volatile sig_atomic_t stop = 1;
    CHECK(kafka_producer_flush(prod, 5000, &stop, &e) == ST_ERR_INTERRUPTED);

    CHECK(kafka_producer_flush(prod, 10000, NULL, &e) == ST_OK);
    kafka_producer_stats_get(prod, &st);
    CHECK(st.produced == 10);
    CHECK(st.failed == 10);
    CHECK(st.delivered == 0);
    CHECK(st.in_flight == 0);
    CHECK(st.queue_depth == 0);
    CHECK_MSG(strstr(st.last_error, "timed out") != NULL || strstr(st.last_error, "Timed out") != NULL,
              "%s", st.last_error);
out:
    kafka_producer_destroy(prod);
    kafka_props_destroy(p);
}

/* Admin requests give up within their timeout with a message naming the brokers. */
static void test_admin_unreachable(void)
{
    st_err e;
    kafka_admin *a = NULL;
    int n = 0;
    bool created = true;
    CHECK(kafka_admin_new(&a, NOBODY, NULL, &e) == ST_OK);
    if (!a) return;
    CHECK(kafka_admin_topic_partitions(a, "t", 500, &n, &e) == ST_ERR_KAFKA);
    CHECK_MSG(strstr(e.msg, "not reachable") && strstr(e.msg, NOBODY), "%s", e.msg);
    CHECK(kafka_admin_topic_create(a, "t", 3, 1, 2, 500, &created, &e) == ST_ERR_KAFKA);
    CHECK(!created);
    CHECK_MSG(strstr(e.msg, "not reachable") && !strstr(e.msg, "refused"), "%s", e.msg);
    CHECK(kafka_admin_topic_create(a, "t", 0, 1, 0, 500, &created, &e) == ST_ERR_ARG);
    kafka_partition_offsets *po = (kafka_partition_offsets *)1;
    size_t np = 7;
    CHECK(kafka_admin_watermarks(a, "t", 500, &po, &np, &e) == ST_ERR_KAFKA);
    CHECK(po == NULL && np == 0);
    int64_t off[3];
    CHECK(kafka_admin_committed(a, "g", "t", 500, off, 3, &e) == ST_ERR_KAFKA);
    kafka_admin_destroy(a);
    kafka_admin_destroy(NULL);
}

/* The rule that makes a refused login or certificate fatal, with the reasons librdkafka 2.0.2 gives
 * (seen against the local cluster's SASL_SSL listener), and the look-alikes that must stay
 * transient (a handshake cut short by a restarting broker, a broker that is down). */
static void test_auth_failure_rule(void)
{
    CHECK(kafka_err_is_auth_failure(RD_KAFKA_RESP_ERR__AUTHENTICATION,
                                    "sasl_ssl://localhost:19192/bootstrap: SASL authentication error: Authentication "
                                    "failed during authentication due to invalid credentials with SASL mechanism "
                                    "SCRAM-SHA-512 (after 339ms in state AUTH_REQ)"));
    CHECK(kafka_err_is_auth_failure(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, NULL));
    CHECK(kafka_err_is_auth_failure(RD_KAFKA_RESP_ERR__SSL,
                                    "sasl_ssl://localhost:19192/bootstrap: SSL handshake failed: error:0A000086:SSL "
                                    "routines::certificate verify failed: broker certificate could not be verified"));
    CHECK(!kafka_err_is_auth_failure(RD_KAFKA_RESP_ERR__SSL,
                                     "sasl_ssl://localhost:19092/bootstrap: SSL handshake failed: error:0A000126:SSL "
                                     "routines::unexpected eof while reading (after 13ms in state SSL_HANDSHAKE)"));
    CHECK(!kafka_err_is_auth_failure(RD_KAFKA_RESP_ERR__SSL, NULL));
    CHECK(!kafka_err_is_auth_failure(RD_KAFKA_RESP_ERR__TRANSPORT, "localhost:19092/1: Connect to ipv4#127.0.0.1:19092 "
                                                                   "failed: Connection refused (certificate)"));
    CHECK(!kafka_err_is_auth_failure(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "3/3 brokers are down"));
}

static void test_consumer_conf(void)
{
    st_err e;
    rd_kafka_conf_t *conf = NULL;
    char v[64];
    size_t vn;
    kafka_props *p = kafka_props_new();
    kafka_props_set(p, "auto.offset.reset", "latest");
    CHECK(kafka_consumer_conf_new(&conf, NOBODY, "", p, &e) == ST_ERR_ARG);
    CHECK(kafka_consumer_conf_new(&conf, NOBODY, "silver", p, &e) == ST_OK);
    if (!conf) goto out;
    vn = sizeof v;
    CHECK(rd_kafka_conf_get(conf, "group.id", v, &vn) == RD_KAFKA_CONF_OK);
    CHECK_STR(v, "silver");
    vn = sizeof v;
    CHECK(rd_kafka_conf_get(conf, "enable.auto.commit", v, &vn) == RD_KAFKA_CONF_OK);
    CHECK_STR(v, "false");
    vn = sizeof v;
    CHECK(rd_kafka_conf_get(conf, "auto.offset.reset", v, &vn) == RD_KAFKA_CONF_OK);
    CHECK_STR(v, "largest"); /* librdkafka's name for latest */
    rd_kafka_conf_destroy(conf);
out:
    kafka_props_destroy(p);
}

/* The streaming consumer without a broker: bad settings are refused at creation; polls give no
 * records (client-level transport errors are librdkafka log lines, not consumer events); nothing
 * is known of offsets; close is idempotent and later polls are empty. */
static void test_consumer_unreachable(void)
{
    st_err e;
    kafka_consumer *c = NULL;
    kafka_props *p = kafka_props_new();
    kafka_props_set(p, "no.such.property", "1");
    CHECK(kafka_consumer_new(&c, NOBODY, "g", "t", p, NULL, &e) == ST_ERR_ARG && c == NULL);
    CHECK(strstr(e.msg, "no.such.property") != NULL);
    CHECK(kafka_consumer_new(&c, NOBODY, "", "t", NULL, NULL, &e) == ST_ERR_ARG);
    kafka_props_destroy(p);
    CHECK(kafka_consumer_new(&c, NOBODY, "g", "t", NULL, NULL, &e) == ST_OK && c != NULL);
    if (!c) return;
    kafka_message m[8];
    size_t n = 0, records = 0;
    for (int i = 0; i < 5; i++) {
        CHECK(kafka_consumer_poll(c, m, 8, 100, &n, &e) == ST_OK && n <= 8);
        for (size_t k = 0; k < n; k++) {
            records += m[k].kind == KAFKA_MSG_RECORD;
            CHECK(m[k].kind == KAFKA_MSG_RECORD || m[k].error != NULL);
        }
    }
    CHECK(records == 0);
    int64_t lo, hi;
    CHECK(kafka_consumer_watermarks(c, 0, 0, &lo, &hi, &e) == ST_ERR_NOTFOUND);
    CHECK(kafka_consumer_watermarks(c, 0, 200, &lo, &hi, &e) == ST_ERR_KAFKA && strstr(e.msg, NOBODY));
    int32_t *ids = NULL;
    CHECK(kafka_consumer_partitions(c, 200, &ids, &n, &e) == ST_ERR_KAFKA && ids == NULL && n == 0);
    int32_t part = 0;
    int64_t off = 5;
    kafka_consumer_commit(c, &part, &off, 1); /* not assigned: ignored, no crash */
    kafka_consumer_close(c);
    kafka_consumer_close(c);
    CHECK(kafka_consumer_poll(c, m, 8, 10, &n, &e) == ST_OK && n == 0);
    kafka_consumer_destroy(c);
    kafka_consumer_destroy(NULL);
}

int main(void)
{
    test_props();
    test_producer_config();
    test_producer_unreachable();
    test_admin_unreachable();
    test_auth_failure_rule();
    test_consumer_conf();
    test_consumer_unreachable();
    rd_kafka_wait_destroyed(5000);
    return CHECK_DONE();
}
