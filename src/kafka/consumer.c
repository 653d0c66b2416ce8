/* consumer.c — the one configuration every consumer of the pipeline starts from. */
#include "kafka/kafka.h"
#include "kafka/kafka_internal.h"

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
