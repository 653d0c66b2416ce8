/* kafka.h — the project's whole Kafka API, on librdkafka (>= 2.0.2, Debian 12's).
 *
 * Three small parts:
 *   kafka_props     ordered key=value librdkafka properties (the CLI's `-X key=value`)
 *   kafka_producer  idempotent, batching producer bound to one topic, counting delivery reports
 *   kafka_admin     topic create/describe, end offsets per partition, committed offsets of a group
 * plus kafka_consumer_conf_new(), the one place that says how our consumers are configured.
 *
 * Conventions: every fallible function returns st_code and fills st_err (NULL allowed) with a
 * message naming the brokers/topic involved; ST_ERR_KAFKA for broker/client errors,
 * ST_ERR_NOTFOUND for a missing topic, ST_ERR_ARG for bad properties. _destroy functions accept
 * NULL. Nothing here prints: librdkafka's own log lines are dropped unless the caller passes
 * `-X debug=...`, in which case librdkafka prints them to stderr as usual.
 * Threading: one thread per producer/admin object (librdkafka's internal threads are hidden).
 */
#ifndef ST_KAFKA_KAFKA_H
#define ST_KAFKA_KAFKA_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "util/err.h"

/* ---------------------------------------------------------------- properties */

typedef struct kafka_props kafka_props;

/* New empty property list. Never NULL (allocation failure aborts, see util/buf.h). */
kafka_props *kafka_props_new(void);
void kafka_props_destroy(kafka_props *p);

/* Sets key to value (copied); a later set of the same key replaces the earlier value. */
void kafka_props_set(kafka_props *p, const char *key, const char *value);

/* Parses "key=value" (the argument of -X). ST_ERR_ARG when '=' is missing or the key is empty.
 * The value may contain '=' (only the first one splits). */
st_code kafka_props_add_arg(kafka_props *p, const char *key_eq_value, st_err *e);

/* Value of key, or NULL. The pointer stays valid until the key is set again or p is destroyed. */
const char *kafka_props_get(const kafka_props *p, const char *key);

/* Applies every property to conf in insertion order. ST_ERR_ARG names the rejected property
 * and librdkafka's reason ("No such configuration property"). p may be NULL (no-op). */
st_code kafka_props_apply(const kafka_props *p, rd_kafka_conf_t *conf, st_err *e);

/* ------------------------------------------------------------------ producer */

typedef struct kafka_producer kafka_producer;

/* Delivery counters. produced = accepted into the local queue; delivered/failed = delivery
 * reports served so far; in_flight = produced - delivered - failed; queue_depth = librdkafka's
 * out queue (messages and requests not yet acknowledged). */
typedef struct kafka_producer_stats {
    uint64_t produced;
    uint64_t delivered;
    uint64_t failed;
    uint64_t in_flight;
    int queue_depth;
    bool brokers_down;     /* last broker event was "all brokers down" and nothing delivered since */
    bool fatal;            /* the idempotent producer hit a fatal error: no more sends */
    char last_error[256];  /* latest error (delivery or client), "" if none */
} kafka_producer_stats;

/* Defaults applied before `extra` (so -X overrides any of them):
 *   enable.idempotence=true, acks=all, compression.type=lz4, linger.ms=20, batch.size=1000000,
 *   batch.num.messages=10000, queue.buffering.max.messages=500000, message.timeout.ms=300000,
 *   partitioner=murmur2_random (the Java client's partitioner: a key lands in the same partition
 *   whichever client produced it).
 * The producer is bound to `topic`; it does not create it (see kafka_admin_topic_create).
 * Creation only validates the configuration: an unreachable broker is not an error here, sends
 * queue up and librdkafka keeps reconnecting with backoff until message.timeout.ms. */
st_code kafka_producer_new(kafka_producer **out, const char *brokers, const char *topic,
                           const kafka_props *extra, st_err *e);

/* Closes without waiting: anything still queued is dropped (call kafka_producer_flush first).
 * NULL-safe. */
void kafka_producer_destroy(kafka_producer *p);

/* Queues one message (key and value are copied; key may be NULL). Partition: murmur2 hash of
 * the key (see kafka_producer_new), so one key always lands in one partition (NULL key: random).
 * When the local queue is full, serves delivery reports and retries for up to max_block_ms, then
 * returns ST_ERR_STATE ("queue full") so the caller can report progress, check for Ctrl+C and
 * call again. ST_ERR_KAFKA after a fatal producer error or an invalid message.
 * Cost: one copy of key+value; every 1024 calls it also serves pending delivery reports. */
st_code kafka_producer_send(kafka_producer *p, const void *key, size_t key_len, const void *value,
                            size_t value_len, int max_block_ms, st_err *e);

/* Serves delivery reports and client errors for up to timeout_ms (0 = only what is ready). */
void kafka_producer_poll(kafka_producer *p, int timeout_ms);

/* Waits until every queued message has a delivery report, at most timeout_ms, serving reports in
 * 100 ms slices; returns early with ST_ERR_INTERRUPTED when *abort becomes non-zero (abort may be
 * NULL). ST_ERR_KAFKA when messages are still queued at the deadline. Delivered/failed outcomes
 * are in the stats either way. */
st_code kafka_producer_flush(kafka_producer *p, int timeout_ms, const volatile sig_atomic_t *abort,
                             st_err *e);

/* Copies the current counters into *out (served reports only; call poll first for fresh ones). */
void kafka_producer_stats_get(const kafka_producer *p, kafka_producer_stats *out);

/* --------------------------------------------------------------------- admin */

typedef struct kafka_admin kafka_admin;

/* Low/high watermark of one partition: high is the end offset (next offset to be written). */
typedef struct kafka_partition_offsets {
    int32_t partition;
    int64_t low;
    int64_t high;
} kafka_partition_offsets;

/* A client for metadata and admin requests; connects lazily (no error if the broker is down). */
st_code kafka_admin_new(kafka_admin **out, const char *brokers, const kafka_props *extra, st_err *e);
void kafka_admin_destroy(kafka_admin *a);

/* Number of partitions of topic, via a metadata request. ST_ERR_NOTFOUND if the topic does not
 * exist; ST_ERR_KAFKA "brokers ... not reachable within N ms" when no broker answers in time. */
st_code kafka_admin_topic_partitions(kafka_admin *a, const char *topic, int timeout_ms,
                                     int *partitions, st_err *e);

/* Creates topic with `partitions` partitions and replication factor `replication` unless it
 * exists (then *created = false and nothing changes, whatever its partition count: check with
 * kafka_admin_topic_partitions). After creating, waits until the metadata shows the topic, so a
 * producer can use it at once. *created may be NULL. Whole call bounded by timeout_ms. */
st_code kafka_admin_topic_create(kafka_admin *a, const char *topic, int partitions, int replication,
                                 int timeout_ms, bool *created, st_err *e);

/* Watermarks of every partition of topic, ordered by partition. *out is malloc'd (caller frees
 * with free()), *n its length. Cost: one metadata request plus one request per partition. */
st_code kafka_admin_watermarks(kafka_admin *a, const char *topic, int timeout_ms,
                               kafka_partition_offsets **out, size_t *n, st_err *e);

/* Committed offsets of consumer group `group` for partitions 0..n-1 of topic, into offsets[]:
 * the next offset the group will read, or -1 where the group has committed nothing. Uses a
 * short-lived consumer handle with that group.id (it does not join the group). */
st_code kafka_admin_committed(kafka_admin *a, const char *group, const char *topic, int timeout_ms,
                              int64_t *offsets, size_t n, st_err *e);

/* ------------------------------------------------------------------ consumer */

/* Builds the configuration every consumer of the pipeline uses, then applies `extra` (-X):
 *   bootstrap.servers=brokers, group.id=group, enable.auto.commit=false (offsets live in the Delta
 *   log, DESIGN.md), enable.auto.offset.store=false, auto.offset.reset=earliest,
 *   enable.partition.eof=true, isolation.level=read_committed, and the classic group protocol
 *   (the only one librdkafka 2.0.2 speaks). Logs are silenced unless extra sets debug.
 * On success *out is owned by the caller (pass it to rd_kafka_new, which takes it over, or
 * rd_kafka_conf_destroy it). */
st_code kafka_consumer_conf_new(rd_kafka_conf_t **out, const char *brokers, const char *group,
                                const kafka_props *extra, st_err *e);

#endif
