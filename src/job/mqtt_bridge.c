/* mqtt_bridge.c — MQTT in (src/mqtt), Kafka out (src/kafka), PUBACKs after Kafka's confirmation
 * (see mqtt_bridge.h). Wiring only: what a message becomes is mqtt_record_build's business. */
#include "job/mqtt_bridge.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot/event.h"
#include "mqtt/mqtt.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define TOPIC_PARTITIONS 3
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define CONNECT_TIMEOUT_US 30000000  /* CONNACK (and TLS handshake) within this, else retry */
#define SLICE_MS 10                  /* longest wait while messages wait for Kafka */
#define IDLE_MS 100                  /* longest wait when nothing is in flight */
#define PRODUCE_BLOCK_MS 100

/* One message forwarded and not yet confirmed: which connection read it, how big it was. */
typedef struct slot {
    uint64_t epoch;
    size_t bytes;
    struct slot *next;      /* free list */
    struct slot *all_next;  /* every slot ever made (as many as the window held at its fullest) */
} slot;

typedef struct bridge {
    const mqtt_bridge_config *c;
    const volatile sig_atomic_t *stop;
    mqtt_bridge_stats *st;
    mqtt_bridge_progress_fn cb;
    void *opaque;
    mqtt_url url;
    mqtt_client_config mcfg;
    mqtt_client *mc;
    kafka_producer *prod;
    iot_arena *arena;
    slot *free_slots, *all_slots;
    uint64_t epoch;           /* the connection `pending` and `confirmed_unacked` count for */
    size_t pending;           /* read on this connection, not yet confirmed by Kafka */
    size_t confirmed_unacked; /* confirmed, their PUBACK still held */
    bool abandon;             /* a message of this connection will never be confirmed: drop it */
    bool draining;            /* no reads until everything read on this connection is confirmed */
    char where[300];
} bridge;

static const char *const default_topics[] = {"smarttech/#"};

void mqtt_bridge_config_init(mqtt_bridge_config *c)
{
    memset(c, 0, sizeof *c);
    c->qos = 1;
    c->client_id = "smarttech-bridge";
    c->keepalive_s = 30;
    c->brokers = "localhost:9092";
    c->topic = "iot_smartech";
    c->max_in_flight = 5000;
    c->max_in_flight_bytes = 16u << 20;
    c->stop_timeout_ms = 10000;
}

static void report(bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(bridge *b, const char *fmt, ...)
{
    if (!b->cb) return;
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    b->cb(b->st, line, b->opaque);
}

static void on_notice(const char *line, void *opaque)
{
    report(opaque, "%s", line);
}

static slot *slot_get(bridge *b)
{
    slot *s = b->free_slots;
    if (s) {
        b->free_slots = s->next;
    } else {
        s = st_xmalloc(sizeof *s);
        s->all_next = b->all_slots;
        b->all_slots = s;
    }
    return s;
}

static void slot_put(bridge *b, slot *s)
{
    s->next = b->free_slots;
    b->free_slots = s;
}

/* Kafka's verdict on one message (served on this thread by the producer's poll/flush). */
static void on_delivery(void *msg_opaque, bool ok, const char *error, void *cb_opaque)
{
    bridge *b = cb_opaque;
    slot *s = msg_opaque;
    b->st->in_flight--;
    b->st->in_flight_bytes -= s->bytes;
    if (s->epoch == b->epoch) {
        b->pending--;
        if (ok) b->confirmed_unacked++;
        else b->abandon = true;
    }
    if (ok) {
        b->st->forwarded++;
    } else {
        b->st->failed++;
        snprintf(b->st->last_error, sizeof b->st->last_error, "Kafka delivery failed: %s", error ? error : "?");
    }
    slot_put(b, s);
}

/* One MQTT message (called from inside mqtt_client_run): its PUBACK is already queued and held,
 * so whatever happens here the message is either forwarded or its connection abandoned. */
static void on_message(const mqtt_message *m, void *opaque)
{
    bridge *b = opaque;
    b->st->received++;
    iot_arena_reset(b->arena);
    mqtt_record r;
    mqtt_record_build(&r, m->topic, m->topic_len, m->payload, m->len, st_now_us(),
                      kafka_producer_max_message_bytes(b->prod), b->arena);
    kafka_header h[MQTT_RECORD_MAX_HEADERS];
    for (size_t i = 0; i < r.nheaders; i++) h[i] = (kafka_header){r.headers[i].name, r.headers[i].value, r.headers[i].len};
    slot *s = slot_get(b);
    s->epoch = b->epoch;
    s->bytes = r.value_len;
    /* an empty MQTT payload stays an empty value: a NULL one would be a Kafka tombstone */
    kafka_outgoing km = {.key = r.key, .key_len = r.key_len, .value = r.value ? r.value : "", .value_len = r.value_len,
                        .headers = h, .nheaders = r.nheaders, .timestamp_ms = r.timestamp_ms, .opaque = s};
    st_err e;
    st_code rc;
    /* a full local queue cannot outlast the window unless Kafka is down: then wait, as the broker does */
    while ((rc = kafka_producer_produce(b->prod, &km, PRODUCE_BLOCK_MS, &e)) == ST_ERR_STATE && !*b->stop) {
    }
    if (rc != ST_OK) {
        slot_put(b, s);
        b->abandon = true;
        snprintf(b->st->last_error, sizeof b->st->last_error, "%.500s", e.msg);
        return;
    }
    if (r.reject) b->st->rejected++;
    b->pending++;
    b->st->in_flight++;
    b->st->in_flight_bytes += r.value_len;
}

static st_code producer_open(bridge *b, st_err *e)
{
    st_code rc = kafka_producer_new(&b->prod, b->c->brokers, b->c->topic, b->c->props, e);
    if (rc == ST_OK) kafka_producer_set_delivery_cb(b->prod, on_delivery, b);
    return rc;
}

/* After an idempotence fatal error the producer cannot send again: a new one (new producer id);
 * what the old one still held is purged, its delivery reports fail, its connection is dropped. */
static st_code producer_rebuild(bridge *b, const char *why, st_err *e)
{
    report(b, "Kafka producer failed (%s): rebuilding it; unconfirmed MQTT messages will be redelivered", why);
    kafka_producer_destroy(b->prod);
    b->prod = NULL;
    return producer_open(b, e);
}

static void on_topic_notice(const char *line, void *opaque)
{
    report(opaque, "%s", line);
}

/* Everything read on the connection that just ended will come again: forget its counts. */
static void new_epoch(bridge *b)
{
    b->epoch = mqtt_client_epoch(b->mc);
    b->pending = 0;
    b->confirmed_unacked = 0;
    b->draining = false;
    b->abandon = false;
}

/* Stop: no more reads; wait (bounded) until Kafka confirmed what this connection read, let the
 * PUBACKs out and disconnect; otherwise leave them unacknowledged (the broker redelivers). */
static void shut_down(bridge *b)
{
    int64_t deadline = st_monotonic_us() + (int64_t)b->c->stop_timeout_ms * 1000;
    while (b->st->in_flight && st_monotonic_us() < deadline) {
        kafka_producer_flush(b->prod, 100, NULL, NULL);
        if (mqtt_client_epoch(b->mc) != b->epoch) new_epoch(b);
    }
    if (mqtt_client_state(b->mc) != MQTT_DISCONNECTED) {
        if (b->pending == 0 && !b->abandon) {
            b->st->acknowledged += b->confirmed_unacked;
            mqtt_client_disconnect(b->mc, 2000);
        } else {
            mqtt_client_drop(b->mc);
        }
    }
    if (b->st->in_flight)
        report(b, "stopping with %llu messages not confirmed by Kafka: not acknowledged, the MQTT broker will "
                  "redeliver them", (unsigned long long)b->st->in_flight);
}

/* The main loop: connect (with backoff), read a window, wait for Kafka, let the PUBACKs out. */
static st_code run_loop(bridge *b, st_err *e)
{
    const mqtt_bridge_config *c = b->c;
    int backoff_ms = BACKOFF_MIN_MS, fail_backoff_ms = BACKOFF_MIN_MS;
    int64_t next_connect_us = 0, connecting_since = 0, last_progress = st_monotonic_us();
    bool was_connected = false, told_down = false, kafka_down = false;
    st_code rc = ST_OK;
    while (!*b->stop) {
        kafka_producer_poll(b->prod, 0);
        kafka_producer_stats ks;
        kafka_producer_stats_get(b->prod, &ks);
        if (ks.fatal) {
            mqtt_client_drop(b->mc);
            if ((rc = producer_rebuild(b, ks.last_error, e)) != ST_OK) return rc;
            continue;
        }
        if (ks.brokers_down != kafka_down) {
            kafka_down = ks.brokers_down;
            if (kafka_down)
                report(b, "Kafka brokers %s not reachable (%s); holding %llu messages unacknowledged at the MQTT "
                          "broker, retrying", c->brokers, ks.last_error, (unsigned long long)b->st->in_flight);
            else
                report(b, "Kafka brokers %s reachable again", c->brokers);
        }
        b->st->kafka_down = kafka_down;
        if (b->abandon && mqtt_client_state(b->mc) != MQTT_DISCONNECTED) {
            report(b, "%s: dropping the MQTT connection without acknowledging its messages (the broker redelivers "
                      "them in %d s)", b->st->last_error, fail_backoff_ms / 1000);
            mqtt_client_drop(b->mc);
            /* a message Kafka keeps refusing comes back each time: do not spin on it */
            next_connect_us = st_monotonic_us() + (int64_t)fail_backoff_ms * 1000;
            fail_backoff_ms = fail_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : fail_backoff_ms * 2;
        }
        if (mqtt_client_epoch(b->mc) != b->epoch) {
            if (was_connected) {
                report(b, "%s; reconnecting", mqtt_client_last_error(b->mc));
                next_connect_us = st_monotonic_us() + (int64_t)BACKOFF_MIN_MS * 1000;
                backoff_ms = BACKOFF_MIN_MS;
            } else {
                /* ended before its CONNACK (refused, TLS alert, broker going down): back off */
                if (!told_down)
                    report(b, "%s; retrying with backoff (up to %d s)", mqtt_client_last_error(b->mc),
                           BACKOFF_MAX_MS / 1000);
                told_down = true;
                next_connect_us = st_monotonic_us() + (int64_t)backoff_ms * 1000;
                backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
            }
            was_connected = false;
            new_epoch(b);
        }
        int64_t now = st_monotonic_us();
        if (now - last_progress >= 1000000) {
            b->st->mqtt_connected = mqtt_client_state(b->mc) == MQTT_CONNECTED;
            if (b->cb) b->cb(b->st, NULL, b->opaque);
            last_progress = now;
        }
        bool room = b->st->in_flight < c->max_in_flight && b->st->in_flight_bytes < c->max_in_flight_bytes;
        mqtt_state state = mqtt_client_state(b->mc);

        if (state == MQTT_DISCONNECTED) {
            /* with the window full (Kafka away) a connection could not take a message anyway */
            if (now < next_connect_us || !room) {
                if (b->st->in_flight) kafka_producer_flush(b->prod, IDLE_MS, NULL, NULL);
                else kafka_producer_poll(b->prod, IDLE_MS);
                continue;
            }
            if ((rc = mqtt_client_connect(b->mc, e)) == ST_ERR_ARG) return rc;
            if (rc != ST_OK) {
                if (!told_down)
                    report(b, "%s; retrying with backoff (up to %d s)", e->msg, BACKOFF_MAX_MS / 1000);
                told_down = true;
                next_connect_us = now + (int64_t)backoff_ms * 1000;
                backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
                rc = ST_OK;
                continue;
            }
            connecting_since = now;
            new_epoch(b);
            continue;
        }
        if (state == MQTT_CONNECTING && now - connecting_since > CONNECT_TIMEOUT_US) {
            report(b, "no CONNACK from %s within %d s; retrying", b->where, (int)(CONNECT_TIMEOUT_US / 1000000));
            mqtt_client_drop(b->mc);
            continue;
        }
        if (state == MQTT_CONNECTED && !was_connected) {
            was_connected = true;
            told_down = false;
            backoff_ms = BACKOFF_MIN_MS;
            b->st->connects++;
        }

        if (b->draining) {
            if (b->pending) {
                /* flush: no linger, the window is complete */
                kafka_producer_flush(b->prod, SLICE_MS, NULL, NULL);
                if ((rc = mqtt_client_run(b->mc, 0, 0, false, NULL, e)) != ST_OK) return rc;
                continue;
            }
            b->draining = false;
        }
        /* writes only while nothing read on this connection waits for Kafka: then every PUBACK
         * queued so far belongs to a confirmed message */
        bool may_write = b->pending == 0 && !b->abandon;
        size_t budget = room ? c->max_in_flight - b->st->in_flight : 0;
        if (!budget && !(may_write && mqtt_client_want_write(b->mc))) {
            kafka_producer_flush(b->prod, SLICE_MS, NULL, NULL);
            if ((rc = mqtt_client_run(b->mc, 0, 0, false, NULL, e)) != ST_OK) return rc;
            continue;
        }
        if (may_write && b->confirmed_unacked) {
            if (c->qos > 0) b->st->acknowledged += b->confirmed_unacked;
            b->confirmed_unacked = 0;
            fail_backoff_ms = BACKOFF_MIN_MS;
        }
        int timeout = b->pending ? 0 : b->st->in_flight ? SLICE_MS : IDLE_MS;
        size_t got = 0;
        if ((rc = mqtt_client_run(b->mc, timeout, budget, may_write, &got, e)) != ST_OK) return rc;
        /* the socket has nothing more, or the window is full: complete this window */
        if (b->pending && (got == 0 || got >= budget)) b->draining = true;
    }
    shut_down(b);
    return ST_OK;
}

st_code mqtt_bridge_run(const mqtt_bridge_config *c, const volatile sig_atomic_t *stop, mqtt_bridge_progress_fn cb,
                        void *opaque, mqtt_bridge_stats *stats, st_err *e)
{
    mqtt_bridge_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    bridge b = {.c = c, .stop = stop, .st = stats, .cb = cb, .opaque = opaque};
    if (c->max_in_flight < 1 || c->max_in_flight > 65535)
        return st_err_set(e, ST_ERR_ARG, "--max-in-flight must be in 1..65535 (it is also the MQTT Receive Maximum)");
    if (c->qos != 0 && c->qos != 1)
        return st_err_set(e, ST_ERR_ARG, "--qos %d is not supported: use 1 (no loss) or 0 (at most once). QoS 2 "
                          "cannot be acknowledged after Kafka's confirmation with libmosquitto 2.0 (it sends "
                          "PUBREC before the message reaches the bridge)", c->qos);
    st_code rc = mqtt_url_parse(c->mqtt_url, &b.url, e);
    if (rc != ST_OK) return rc;
    mqtt_url_describe(&b.url, b.where, sizeof b.where);
    b.mcfg = (mqtt_client_config){
        .url = &b.url,
        .client_id = c->client_id,
        .persistent = true,
        .keepalive_s = c->keepalive_s,
        .receive_max = (int)c->max_in_flight,
        .cafile = c->cafile,
        .certfile = c->certfile,
        .keyfile = c->keyfile,
        .hold_writes = true,
        .topics = c->nmqtt_topics ? c->mqtt_topics : default_topics,
        .ntopics = c->nmqtt_topics ? c->nmqtt_topics : 1,
        .qos = c->qos,
        .on_message = on_message,
        .on_notice = on_notice,
        .opaque = &b,
    };
    b.arena = iot_arena_new();
    if ((rc = mqtt_client_new(&b.mc, &b.mcfg, e)) == ST_OK && (rc = producer_open(&b, e)) == ST_OK) {
        b.epoch = mqtt_client_epoch(b.mc);
        rc = kafka_topic_ensure(c->brokers, c->topic, TOPIC_PARTITIONS, c->props, 24 * 3600 * 1000, stop,
                                on_topic_notice, &b, e);
        if (rc == ST_ERR_INTERRUPTED) rc = ST_OK;
        else if (rc == ST_OK) rc = run_loop(&b, e);
    }
    mqtt_client_destroy(b.mc);
    kafka_producer_destroy(b.prod);
    while (b.all_slots) {
        slot *s = b.all_slots;
        b.all_slots = s->all_next;
        free(s);
    }
    iot_arena_destroy(b.arena);
    mqtt_url_free(&b.url);
    return rc;
}
