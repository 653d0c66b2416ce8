/* simulate_kafka.c — the Kafka sink of `smarttech simulate` (see simulate_sink.h): key = sensor_id,
 * value = the event JSON, through the idempotent producer of src/kafka.
 *
 * What the user sees on stderr:
 *   - a progress line once per second: events/s, queued, delivered, failed, local queue depth;
 *   - "brokers not reachable ... retrying" when they go away and "reachable again" when they return;
 *     events wait in the local queue meanwhile (bounded by message.timeout.ms, default 5 min,
 *     `-X message.timeout.ms=MS` to change), so a broker that comes back in time loses nothing
 *     and, the producer being idempotent, duplicates nothing;
 *   - at close: the flush of what is queued (a second Ctrl+C abandons it), then the summary line.
 * close() fails (so the command exits 1) when any event was not delivered.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/simulate_sink.h"
#include "kafka/kafka.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define TOPIC_PARTITIONS 3
#define BLOCK_SLICE_MS 100          /* longest wait inside one send attempt when the queue is full */
#define DEFAULT_MSG_TIMEOUT_MS 300000

typedef struct kafka_sink {
    sim_sink base;
    kafka_producer *prod;
    char *brokers;
    char *topic;
    volatile sig_atomic_t *stop;
    int msg_timeout_ms;
    uint64_t unsent;             /* events generated but never queued (stopped while the queue was full) */
    int64_t t0, last_progress_us;
    uint64_t last_produced;
    bool reported_down;
} kafka_sink;

/* Broker-state messages on changes, and the progress line when a second has passed (force:
 * now). Cost: one outq_len call; called every ~100 ms by the simulate loop. */
static void kafka_sink_report(kafka_sink *s, bool force)
{
    kafka_producer_stats st;
    kafka_producer_stats_get(s->prod, &st);
    if (st.brokers_down && !s->reported_down) {
        fprintf(stderr, "simulate: Kafka brokers %s not reachable (%s); retrying with backoff, events wait in "
                        "the queue for up to %d s (message.timeout.ms)\n",
                s->brokers, st.last_error, s->msg_timeout_ms / 1000);
        s->reported_down = true;
    } else if (!st.brokers_down && s->reported_down) {
        fprintf(stderr, "simulate: Kafka brokers %s reachable again; continuing\n", s->brokers);
        s->reported_down = false;
    }
    int64_t now = st_monotonic_us();
    if (!force && now - s->last_progress_us < 1000000) return;
    double dt = (double)(now - s->last_progress_us) / 1e6;
    fprintf(stderr, "simulate: kafka %.0f events/s, queued %llu, delivered %llu, failed %llu, queue depth %d%s\n",
            dt > 0 ? (double)(st.produced - s->last_produced) / dt : 0.0, (unsigned long long)st.produced,
            (unsigned long long)st.delivered, (unsigned long long)st.failed, st.queue_depth,
            st.brokers_down ? " (brokers down, retrying)" : "");
    s->last_progress_us = now;
    s->last_produced = st.produced;
}

/* Queues one event; while the local queue is full, serves delivery reports and reports
 * progress. After Ctrl+C it waits a few seconds more (sim_sink_stop_grace_over), then counts the event unsent. */
static st_code kafka_sink_write(sim_sink *base, const iot_sim_event *ev, st_err *e)
{
    kafka_sink *s = (kafka_sink *)base;
    int64_t stop_seen = 0;
    for (;;) {
        st_code rc = kafka_producer_send(s->prod, ev->key.ptr, ev->key.len, ev->value.ptr, ev->value.len,
                                         BLOCK_SLICE_MS, e);
        if (rc != ST_ERR_STATE) return rc;
        kafka_sink_report(s, false);
        if (sim_sink_stop_grace_over(s->stop, &stop_seen)) {
            s->unsent++;
            return ST_OK;
        }
    }
}

/* Serves delivery reports, prints progress, stops the run on a fatal producer error. */
static st_code kafka_sink_tick(sim_sink *base, st_err *e)
{
    kafka_sink *s = (kafka_sink *)base;
    kafka_producer_poll(s->prod, 0);
    kafka_sink_report(s, false);
    kafka_producer_stats st;
    kafka_producer_stats_get(s->prod, &st);
    if (st.fatal) return st_err_set(e, ST_ERR_KAFKA, "topic %s: %s", s->topic, st.last_error);
    return ST_OK;
}

/* Flushes in 1 s slices (progress between them) until everything has a delivery report or
 * failed by message.timeout.ms; a SIGINT/SIGTERM during the flush abandons what is left. */
static st_code kafka_sink_close(sim_sink *base, st_err *e)
{
    kafka_sink *s = (kafka_sink *)base;
    sim_close_guard guard;
    const volatile sig_atomic_t *flush_abort = sim_close_guard_begin(&guard);

    kafka_producer_stats st;
    kafka_producer_stats_get(s->prod, &st);
    if (st.queue_depth > 0)
        fprintf(stderr, "simulate: flushing %d queued events to %s (Ctrl+C again to abandon them)\n",
                st.queue_depth, s->brokers);
    st_err fe;
    st_code frc = ST_OK;
    int64_t deadline = st_monotonic_us() + (int64_t)(s->msg_timeout_ms + 10000) * 1000;
    for (;;) {
        int left_ms = (int)((deadline - st_monotonic_us()) / 1000);
        frc = kafka_producer_flush(s->prod, left_ms < 1000 ? (left_ms > 0 ? left_ms : 0) : 1000, flush_abort, &fe);
        if (frc != ST_ERR_KAFKA || left_ms <= 1000) break;
        kafka_sink_report(s, false);
    }
    sim_close_guard_end(&guard);
    kafka_sink_report(s, true);

    kafka_producer_stats_get(s->prod, &st);
    uint64_t lost = st.failed + st.in_flight + s->unsent;
    if (frc == ST_ERR_INTERRUPTED)
        return st_err_set(e, ST_ERR_KAFKA, "flush abandoned: %llu events not delivered to %s (%llu failed, %llu "
                          "still queued, %llu never queued)", (unsigned long long)lost, s->topic,
                          (unsigned long long)st.failed, (unsigned long long)st.in_flight,
                          (unsigned long long)s->unsent);
    if (lost)
        return st_err_set(e, ST_ERR_KAFKA, "%llu events not delivered to %s on %s (%llu failed, %llu still queued, "
                          "%llu never queued)%s%s", (unsigned long long)lost, s->topic, s->brokers,
                          (unsigned long long)st.failed, (unsigned long long)st.in_flight,
                          (unsigned long long)s->unsent, st.last_error[0] ? "; last error: " : "", st.last_error);
    return ST_OK;
}

/* The summary's output line: delivered, failed, never queued, delivered/s since open. */
static void kafka_sink_describe(sim_sink *base, char *buf, size_t len)
{
    kafka_sink *s = (kafka_sink *)base;
    kafka_producer_stats st;
    kafka_producer_stats_get(s->prod, &st);
    double secs = (double)(st_monotonic_us() - s->t0) / 1e6;
    snprintf(buf, len, "kafka %s topic %s: %llu delivered, %llu failed, %llu never queued (%.0f delivered/s)",
             s->brokers, s->topic, (unsigned long long)st.delivered, (unsigned long long)st.failed,
             (unsigned long long)s->unsent, secs > 0 ? (double)st.delivered / secs : 0.0);
}

/* Frees the sink; anything still queued is dropped (close flushes first). */
static void kafka_sink_destroy(sim_sink *base)
{
    kafka_sink *s = (kafka_sink *)base;
    if (!s) return;
    kafka_producer_destroy(s->prod);
    free(s->brokers);
    free(s->topic);
    free(s);
}

/* Start-up notices of kafka_topic_ensure ("brokers not reachable, retrying", "created topic"). */
static void on_topic_notice(const char *line, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "simulate: %s\n", line);
}

/* Builds the producer with the -X properties, makes sure the topic exists (waiting for the
 * brokers if needed, at most message.timeout.ms). */
st_code sink_kafka_open(sim_sink **out, const sim_sink_opts *o, st_err *e)
{
    const kafka_props *props = o->props;
    kafka_sink *s = NULL;
    st_code rc = ST_OK;
    *out = NULL;
    const char *mt = kafka_props_get(props, "message.timeout.ms");
    int msg_timeout_ms = mt ? atoi(mt) : DEFAULT_MSG_TIMEOUT_MS;
    if (msg_timeout_ms <= 0) msg_timeout_ms = 24 * 3600 * 1000; /* 0 = infinite in librdkafka */

    s = st_xcalloc(1, sizeof *s);
    s->base = (sim_sink){.name = "kafka", .write = kafka_sink_write, .tick = kafka_sink_tick,
                         .close = kafka_sink_close, .describe = kafka_sink_describe, .destroy = kafka_sink_destroy};
    s->brokers = st_xstrdup(o->brokers);
    s->topic = st_xstrdup(o->topic);
    s->stop = o->stop;
    s->msg_timeout_ms = msg_timeout_ms;
    if ((rc = kafka_producer_new(&s->prod, o->brokers, o->topic, props, e)) != ST_OK) goto fail;
    if ((rc = kafka_topic_ensure(o->brokers, o->topic, TOPIC_PARTITIONS, props, msg_timeout_ms, o->stop,
                                 on_topic_notice, NULL, e)) != ST_OK)
        goto fail;
    s->t0 = s->last_progress_us = st_monotonic_us();
    *out = &s->base;
    return ST_OK;
fail:
    if (s) kafka_sink_destroy(&s->base);
    return rc;
}
