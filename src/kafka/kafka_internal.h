/* kafka_internal.h — helpers shared by the .c files of src/kafka; not part of the API. */
#ifndef ST_KAFKA_INTERNAL_H
#define ST_KAFKA_INTERNAL_H

#include "kafka/kafka.h"

/* New conf with bootstrap.servers=brokers, then defaults (NULL-terminated key, value, key, value
 * ... list, may be NULL), then extra (-X, overriding the defaults); librdkafka's log lines are
 * dropped unless extra sets debug. On success the caller owns *out. */
st_code kafka_conf_base(rd_kafka_conf_t **out, const char *brokers, const kafka_props *extra,
                        const char *const *defaults, st_err *e);

/* Deep copy of p (NULL gives an empty list). */
kafka_props *kafka_props_clone(const kafka_props *p);

#endif
