/* kafka_source.h — a Kafka topic as a record source: the group member of kafka/kafka.h behind
 * record_source.h.
 *
 * streams = the topic's partitions, positions = offsets, timestamp = the record's Kafka timestamp,
 * key and value as produced. The group assigns the streams (the assigned handler says where each
 * starts); consumer errors become RECORD_PROBLEM markers (all brokers down / transport /
 * resolve: UNREACHABLE; unknown topic: NO_INPUT; a position no longer in the partition:
 * OUT_OF_RANGE; anything else: OTHER) and partition EOF a RECORD_END marker. commit sends the
 * group offsets (monitoring only), bounds are the partition's watermarks, id is the topic.
 * A poll returns at most 1024 records. Threads: commit and bounds with timeout 0 may run on a
 * second thread beside the polling one (librdkafka is thread-safe). Ownership: record_source.h.
 */
#ifndef ST_SOURCE_KAFKA_SOURCE_H
#define ST_SOURCE_KAFKA_SOURCE_H

#include "kafka/kafka.h"
#include "source/record_source.h"
#include "util/err.h"

/* A member of `group` subscribed to `topic` on brokers; extra = -X properties (may be NULL).
 * No I/O yet. Errors: kafka_consumer_new's. */
st_code kafka_source_new(record_source **out, const char *brokers, const char *group, const char *topic,
                         const kafka_props *extra, st_err *e);

#endif
