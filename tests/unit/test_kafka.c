/* test_kafka.c — src/kafka without a broker: properties, configuration, queueing, timeouts and
 * error messages against an address where nothing listens (127.0.0.1:1). The broker-backed
 * behaviour is covered by tests/integration/test_kafka_*.py. */
#include "check.h"
#include "kafka/kafka.h"

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
    CHECK(kafka_admin_topic_create(a, "t", 3, 1, 500, &created, &e) == ST_ERR_KAFKA);
    CHECK(!created);
    CHECK(kafka_admin_topic_create(a, "t", 0, 1, 500, &created, &e) == ST_ERR_ARG);
    kafka_partition_offsets *po = (kafka_partition_offsets *)1;
    size_t np = 7;
    CHECK(kafka_admin_watermarks(a, "t", 500, &po, &np, &e) == ST_ERR_KAFKA);
    CHECK(po == NULL && np == 0);
    int64_t off[3];
    CHECK(kafka_admin_committed(a, "g", "t", 500, off, 3, &e) == ST_ERR_KAFKA);
    kafka_admin_destroy(a);
    kafka_admin_destroy(NULL);
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

int main(void)
{
    test_props();
    test_producer_config();
    test_producer_unreachable();
    test_admin_unreachable();
    test_consumer_conf();
    rd_kafka_wait_destroyed(5000);
    return CHECK_DONE();
}
