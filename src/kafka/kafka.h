/* kafka.h — the project's whole Kafka API, on librdkafka (>= 2.0.2, Debian 12's).
 *
 * Four small parts:
 *   kafka_props     ordered key=value librdkafka properties (the CLI's `-X key=value`)
 *   kafka_producer  idempotent, batching producer bound to one topic, counting delivery reports
 *   kafka_admin     topic create/describe, end offsets per partition, committed offsets of a group
 *   kafka_consumer  a group member on one topic whose positions the caller keeps (rebalance
 *                   handlers, seek, batched poll, offsets commit, watermarks)
 * No librdkafka type appears here: src/kafka/ is the only code that includes librdkafka
 * (kafka_internal.h holds what takes its types).
 *
 * Conventions: every fallible function returns st_code and fills st_err (NULL allowed) with a
 * message naming the brokers/topic involved; ST_ERR_KAFKA for broker/client errors,
 * ST_ERR_NOTFOUND for a missing topic, ST_ERR_ARG for bad properties. _destroy functions accept
 * NULL. Nothing here prints: librdkafka's own log lines are dropped unless the caller passes
 * `-X debug=...`, in which case librdkafka prints them to stderr as usual.
 * Threading: one thread per producer/admin object (librdkafka's internal threads are hidden); the
 * consumer's exceptions are stated below.
 */
#ifndef ST_KAFKA_KAFKA_H
#define ST_KAFKA_KAFKA_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    bool fatal;            /* a fatal error (idempotent producer state, or the brokers refused our
                            * credentials/certificate: kafka_err_is_auth_failure): no more sends */
    char last_error[512];  /* latest error (delivery or client), "" if none */
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

/* One record header: name (NUL-terminated) and value bytes (value NULL with len 0: a null value). */
typedef struct kafka_header {
    const char *name;
    const void *value;
    size_t len;
} kafka_header;

/* A message with everything kafka_producer_send does not carry. All of it is copied by the call. */
typedef struct kafka_outgoing {
    const void *key;              /* NULL: no key (random partition) */
    size_t key_len;
    const void *value;
    size_t value_len;
    const kafka_header *headers;  /* may be NULL when nheaders is 0 */
    size_t nheaders;
    int64_t timestamp_ms;         /* record timestamp; 0: librdkafka's (the time of the call) */
    void *opaque;                 /* handed back to the delivery callback, untouched */
} kafka_outgoing;

/* Called once per message of kafka_producer_produce when its delivery report is served (from
 * kafka_producer_send/produce/poll/flush, on the caller's thread): ok when the brokers acknowledged
 * it (acks=all), else error is librdkafka's reason. Messages queued with kafka_producer_send do
 * not call it. */
typedef void (*kafka_delivery_fn)(void *msg_opaque, bool ok, const char *error, void *cb_opaque);

/* Installs the delivery callback (NULL removes it); set it before the first produce. */
void kafka_producer_set_delivery_cb(kafka_producer *p, kafka_delivery_fn fn, void *cb_opaque);

/* kafka_producer_send with headers, a timestamp and an opaque for the delivery callback. Same
 * blocking, errors and cost (plus one copy of the headers). A message larger than
 * kafka_producer_max_message_bytes is refused with ST_ERR_ARG (nothing queued, no callback). */
st_code kafka_producer_produce(kafka_producer *p, const kafka_outgoing *m, int max_block_ms, st_err *e);

/* The largest message the producer accepts (message.max.bytes: key + value + headers + record
 * overhead); librdkafka's default is 1,000,000, below the broker's default batch limit. */
size_t kafka_producer_max_message_bytes(const kafka_producer *p);

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

/* A client for metadata and admin requests; connects lazily (no error if the broker is down).
 * Every request below starts with a metadata lookup that gives up at once, with ST_ERR_KAFKA and
 * the broker's reason ("... refused the connection: SASL authentication error: ..."), when the
 * brokers refuse our credentials or certificate (kafka_err_is_auth_failure), instead of waiting
 * for timeout_ms and reporting them unreachable. */
st_code kafka_admin_new(kafka_admin **out, const char *brokers, const kafka_props *extra, st_err *e);
void kafka_admin_destroy(kafka_admin *a);

/* Number of partitions of topic, via a metadata request. ST_ERR_NOTFOUND if the topic does not
 * exist; ST_ERR_KAFKA "brokers ... not reachable within N ms" when no broker answers in time. */
st_code kafka_admin_topic_partitions(kafka_admin *a, const char *topic, int timeout_ms,
                                     int *partitions, st_err *e);

/* Creates topic with `partitions` partitions, replication factor `replication` (<= 0: the
 * cluster's default.replication.factor) and topic config min.insync.replicas = min_isr (<= 0: the
 * cluster's default) unless it exists (then *created = false and nothing changes, whatever its
 * settings: check with kafka_admin_topic_partitions). After creating, waits until the metadata
 * shows a leader for every partition, so a producer can use it at once. *created may be NULL.
 * Whole call bounded by timeout_ms. */
st_code kafka_admin_topic_create(kafka_admin *a, const char *topic, int partitions, int replication,
                                 int min_isr, int timeout_ms, bool *created, st_err *e);

/* Watermarks of every partition of topic, ordered by partition. *out is malloc'd (caller frees
 * with free()), *n its length. Cost: one metadata request plus one request per partition. */
st_code kafka_admin_watermarks(kafka_admin *a, const char *topic, int timeout_ms,
                               kafka_partition_offsets **out, size_t *n, st_err *e);

/* Waits for the brokers and creates topic with `partitions` partitions (the cluster's default
 * replication) unless it
 * exists, retrying with backoff (1 s doubling to 10 s) while they are unreachable, for at most
 * max_wait_ms or until *stop becomes non-zero (stop may be NULL; then ST_ERR_INTERRUPTED).
 * notice (may be NULL) is called with a line for the user the first time the brokers do not
 * answer, when they answer again, and when the topic was created. */
typedef void (*kafka_notice_fn)(const char *line, void *opaque);
st_code kafka_topic_ensure(const char *brokers, const char *topic, int partitions, const kafka_props *extra,
                           int max_wait_ms, const volatile int *stop, kafka_notice_fn notice, void *opaque,
                           st_err *e);

/* Committed offsets of consumer group `group` for partitions 0..n-1 of topic, into offsets[]:
 * the next offset the group will read, or -1 where the group has committed nothing. Uses a
 * short-lived consumer handle with that group.id (it does not join the group). */
st_code kafka_admin_committed(kafka_admin *a, const char *group, const char *topic, int timeout_ms,
                              int64_t *offsets, size_t n, st_err *e);

/* ------------------------------------------------------------------ consumer */

/* A member of a consumer group on one topic, for jobs that keep their positions themselves (in
 * the Delta log, as txn actions). The caller says where every assigned partition starts (the
 * `assigned` handler) and seeks after a failed batch; offsets committed to the group are for
 * lag monitoring only. A position that is not in the partition any more is reported as
 * KAFKA_MSG_OUT_OF_RANGE, never skipped (auto.offset.reset=error).
 *
 * Defaults on top of kafka_consumer_conf_new()'s, before `extra` (-X wins):
 *   auto.offset.reset=error; queued.max.messages.kbytes=4096, fetch.message.max.bytes=4194304
 *   (a small prefetch queue per partition bounds memory; see the fetcher wake-up below). Measured on
 *   a 1 M-event drain (issue 17, 2-core machine at load 12-16, one run each): 1 MiB fetches 35-39 s
 *   wall, 4 MiB fetches 20 s, same CPU (~5.6 s) and peak RSS (~115 MiB); a 16 MiB queue was as fast
 *   but doubled peak RSS (245 MiB), 8 MiB queue 27 s. A fetch response may exceed the queue by one
 *   fetch, so memory stays bounded by partitions x 4 MiB + the queue;
 *   fetch.wait.max.ms=100; session.timeout.ms=10000, heartbeat.interval.ms=1000 (a killed member's
 *   partitions move on within ~10 s).
 * Fetcher wake-up: librdkafka 2.0 stops fetching a partition while its local queue is over
 * queued.max.messages.kbytes and looks again only when its broker thread wakes up (up to a second
 * later). With the small queue that pause would idle a job after every batch it takes. Any request
 * to the broker wakes that thread: when a poll finds nothing while an assigned partition has not
 * reached its end, the consumer asks for that partition's end offset (round robin, at most 1 s).
 *
 * Threading: poll, release, seek, close and the handlers run on one thread (the handlers from
 * inside poll). kafka_consumer_commit and kafka_consumer_watermarks with timeout 0 may be called
 * from one other thread at the same time (they only touch librdkafka, which is thread-safe).
 */
typedef struct kafka_consumer kafka_consumer;

typedef enum kafka_msg_kind {
    KAFKA_MSG_RECORD = 0,    /* a record of the topic */
    KAFKA_MSG_EOF,           /* the partition's end was reached (offset = the end offset); once per catch-up */
    KAFKA_MSG_OUT_OF_RANGE,  /* the fetch position is no longer in the partition (recreated, retention) */
    KAFKA_MSG_UNREACHABLE,   /* all brokers down, transport or name resolution failure: librdkafka retries */
    KAFKA_MSG_UNKNOWN_TOPIC, /* the topic or partition does not exist (yet) */
    KAFKA_MSG_ERROR          /* any other consumer error: `error` says which */
} kafka_msg_kind;

/* One polled message; every pointer is borrowed until the next poll, release, seek or close. */
typedef struct kafka_message {
    kafka_msg_kind kind;
    int32_t partition;       /* -1 for client-wide errors */
    int64_t offset;
    int64_t timestamp_ms;    /* -1: none */
    const void *key;         /* NULL: no key */
    size_t key_len;
    const void *value;       /* NULL: no value (tombstone) */
    size_t value_len;
    const char *error;       /* kinds other than RECORD: librdkafka's text; NULL for records */
    const void *handle;      /* the client's message (kafka_message_header reads its headers) */
} kafka_message;

/* Rebalance handlers, called from inside kafka_consumer_poll. */
typedef struct kafka_consumer_handlers {
    void *ctx;
    /* The group gave this member partitions[0..n-1]: set offsets[i] to where each starts (-1 on
     * entry; left at -1: the group's committed offset). A non-OK return assigns nothing and the
     * poll that ran the handler returns that error. NULL: every partition starts at -1. */
    st_code (*assigned)(void *ctx, const int32_t *partitions, int64_t *offsets, size_t n, st_err *e);
    /* The group takes partitions[0..n-1] back; called before they are unassigned. May be NULL. */
    void (*revoked)(void *ctx, const int32_t *partitions, size_t n);
} kafka_consumer_handlers;

/* A consumer in `group`, subscribed to `topic`. h (copied, may be NULL) gets the rebalances. No
 * I/O yet: the group is joined by the polls (an unreachable broker is reported by them).
 * ST_ERR_ARG for a rejected property, ST_ERR_KAFKA when librdkafka refuses the handle or the
 * subscription. */
st_code kafka_consumer_new(kafka_consumer **out, const char *brokers, const char *group, const char *topic,
                           const kafka_props *extra, const kafka_consumer_handlers *h, st_err *e);

/* Leaves the group: the revoked handler runs for what is assigned. Later polls return nothing.
 * Idempotent; NULL-safe. */
void kafka_consumer_close(kafka_consumer *c);

/* Closes (if not yet) and frees. NULL-safe. */
void kafka_consumer_destroy(kafka_consumer *c);

/* Up to max (at most 1024) messages into out, *n of them. Takes what is queued without waiting;
 * waits up to timeout_ms for one message only when nothing is (rebalance handlers are served
 * meanwhile). Records and events come in the order librdkafka delivered them. Messages of the
 * previous poll are released first. Returns the assigned handler's error when it failed. */
st_code kafka_consumer_poll(kafka_consumer *c, kafka_message *out, size_t max, int timeout_ms, size_t *n,
                            st_err *e);

/* Gives the last poll's messages back to librdkafka now (the next poll would). */
void kafka_consumer_release(kafka_consumer *c);

/* Moves partitions[i] to offsets[i] (assigned partitions only), at most 10 s. Messages fetched
 * before are dropped by librdkafka. ST_ERR_KAFKA names the topic. */
st_code kafka_consumer_seek(kafka_consumer *c, const int32_t *partitions, const int64_t *offsets, size_t n,
                            st_err *e);

/* Commits offsets[i] (the next offset to read) of partitions[i] to the group, asynchronously;
 * errors are ignored (these offsets are for monitoring: `smarttech status` shows the lag). */
void kafka_consumer_commit(kafka_consumer *c, const int32_t *partitions, const int64_t *offsets, size_t n);

/* Low and high watermark (end offset) of partition. timeout_ms > 0: asks the leader;
 * timeout_ms == 0: librdkafka's last known values, no I/O (ST_ERR_NOTFOUND while unknown).
 * ST_ERR_KAFKA names topic, partition and brokers. */
st_code kafka_consumer_watermarks(kafka_consumer *c, int32_t partition, int timeout_ms, int64_t *low,
                                  int64_t *high, st_err *e);

/* The first offset of partition whose timestamp is >= timestamp_ms, or -1 when there is none
 * yet. ST_ERR_KAFKA names the timestamp, topic and partition. */
st_code kafka_consumer_offset_for_time(kafka_consumer *c, int32_t partition, int64_t timestamp_ms,
                                       int timeout_ms, int64_t *offset, st_err *e);

/* Every partition id of the topic (metadata request). *out is malloc'd (caller frees), *n its
 * length. ST_ERR_KAFKA when the metadata cannot be read or names an error for the topic. */
st_code kafka_consumer_partitions(kafka_consumer *c, int timeout_ms, int32_t **out, size_t *n, st_err *e);

/* The value of the last header named `name` of a polled record (kind KAFKA_MSG_RECORD): true with
 * *value and *len set (value NULL for a null header), false when it has no such header.
 * O(headers). Valid as long as the message is (until the next poll, release, seek or close). */
bool kafka_message_header(const kafka_message *m, const char *name, const void **value, size_t *len);

#endif
