/* kafka_internal.h — what takes librdkafka's types: shared by the .c files of src/kafka (and
 * their unit test); not part of the API. */
#ifndef ST_KAFKA_INTERNAL_H
#define ST_KAFKA_INTERNAL_H

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "kafka/kafka.h"

/* New conf with bootstrap.servers=brokers, then defaults (NULL-terminated key, value, key, value
 * ... list, may be NULL), then extra (-X, overriding the defaults); librdkafka's log lines are
 * dropped unless extra sets debug. On success the caller owns *out. */
st_code kafka_conf_base(rd_kafka_conf_t **out, const char *brokers, const kafka_props *extra,
                        const char *const *defaults, st_err *e);

/* Applies every property to conf in insertion order. ST_ERR_ARG names the rejected property
 * and librdkafka's reason ("No such configuration property"). p may be NULL (no-op). */
st_code kafka_props_apply(const kafka_props *p, rd_kafka_conf_t *conf, st_err *e);

/* Deep copy of p (NULL gives an empty list). */
kafka_props *kafka_props_clone(const kafka_props *p);

/* Sets every property of src in dst, in src's order (a key already in dst takes src's value). */
void kafka_props_merge(kafka_props *dst, const kafka_props *src);

/* Builds the configuration every consumer of the pipeline uses, then applies `extra` (-X):
 *   bootstrap.servers=brokers, group.id=group, enable.auto.commit=false (offsets live in the Delta
 *   log as txn actions), enable.auto.offset.store=false, auto.offset.reset=earliest,
 *   enable.partition.eof=true, isolation.level=read_committed, and the classic group protocol
 *   (the only one librdkafka 2.0.2 speaks). Logs are silenced unless extra sets debug.
 * On success *out is owned by the caller (pass it to rd_kafka_new, which takes it over, or
 * rd_kafka_conf_destroy it). */
st_code kafka_consumer_conf_new(rd_kafka_conf_t **out, const char *brokers, const char *group,
                                const kafka_props *extra, st_err *e);

/* True when a client error (librdkafka code and its reason text, as error callbacks and consumer
 * error events give them) is one that reconnecting cannot fix, so the job should stop with the
 * reason instead of retrying forever: the brokers refused our SASL credentials
 * (RD_KAFKA_RESP_ERR__AUTHENTICATION, SASL_AUTHENTICATION_FAILED), or the TLS handshake failed
 * on the broker's certificate (RD_KAFKA_RESP_ERR__SSL whose reason mentions the certificate:
 * unknown CA, wrong host name, expired). Other TLS handshake failures ("unexpected eof" while a
 * broker restarts) stay transient. reason may be NULL. */
bool kafka_err_is_auth_failure(rd_kafka_resp_err_t err, const char *reason);

#endif
