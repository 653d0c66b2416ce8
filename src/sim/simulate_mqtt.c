/* simulate_mqtt.c — the MQTT sink of `smarttech simulate` (see simulate_sink.h): each event is
 * published on its sensor's topic smarttech/<building>/<floor>/<room>/<sensor_id>, through the
 * client of src/mqtt.
 *
 * What the user sees on stderr:
 *   - "connected to mqtt://..." and, once a second, events/s, published, acknowledged, in flight;
 *   - when the broker goes away: the reason and "retrying"; QoS 1 messages wait in the client
 *     (at most WINDOW of them: the simulation waits beyond that) and go again after the reconnect,
 *     so a broker restart loses nothing (it may duplicate: Silver's dedup removes those);
 *   - at close: the wait for the last acknowledgements (a second Ctrl+C abandons them).
 * close() fails (exit 1) when a QoS 1 event was not acknowledged. QoS 0 is at most once: an event
 * waits for the connection, but what the network loses is lost.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqtt/mqtt.h"
#include "sim/simulate_sink.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define WINDOW 1000                /* QoS 1 messages published and not yet acknowledged */
#define CLOSE_TIMEOUT_US 300000000 /* the last acknowledgements, at most (5 min, as Kafka's) */
#define BACKOFF_MAX_MS 10000
#define READ_ALL ((size_t)1 << 30)  /* the publisher reads acknowledgements, never messages */

typedef struct mqtt_sink {
    sim_sink base;
    mqtt_url url;
    mqtt_client_config cfg;
    mqtt_client *mc;
    char client_id[64];
    char where[300];
    int qos;
    volatile sig_atomic_t *stop;
    uint64_t published, acked, unsent;
    st_buf topic;
    int64_t t0, last_progress_us, next_connect_us;
    uint64_t last_published;
    int backoff_ms;
    bool told_down, was_connected;
} mqtt_sink;

static void on_published(int mid, void *opaque)
{
    (void)mid;
    ((mqtt_sink *)opaque)->acked++;
}

static void on_notice(const char *line, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "simulate: %s\n", line);
}

static void progress(mqtt_sink *s, bool force)
{
    int64_t now = st_monotonic_us();
    if (!force && now - s->last_progress_us < 1000000) return;
    double dt = (double)(now - s->last_progress_us) / 1e6;
    fprintf(stderr, "simulate: mqtt %.0f events/s, published %llu, %s %llu, in flight %llu%s\n",
            dt > 0 ? (double)(s->published - s->last_published) / dt : 0.0, (unsigned long long)s->published,
            s->qos ? "acknowledged" : "written", (unsigned long long)s->acked,
            (unsigned long long)(s->qos ? s->published - s->acked : 0),
            mqtt_client_state(s->mc) == MQTT_CONNECTED ? "" : " (broker not connected, retrying)");
    s->last_progress_us = now;
    s->last_published = s->published;
}

/* One round: (re)connect when due, else read acknowledgements and write what waits, for up to
 * timeout_ms. ST_ERR_ARG when the broker refuses us for good (credentials, TLS). */
static st_code service(mqtt_sink *s, int timeout_ms, st_err *e)
{
    st_code rc = ST_OK;
    if (mqtt_client_state(s->mc) == MQTT_DISCONNECTED) {
        if (s->was_connected) {
            fprintf(stderr, "simulate: %s; reconnecting\n", mqtt_client_last_error(s->mc));
            s->was_connected = false;
            s->backoff_ms = 500;
            s->next_connect_us = st_monotonic_us() + 500000;
        }
        if (st_monotonic_us() >= s->next_connect_us) {
            rc = mqtt_client_connect(s->mc, e);
            if (rc == ST_ERR_ARG) return rc;
            if (rc != ST_OK) {
                if (!s->told_down) fprintf(stderr, "simulate: %s; retrying (Ctrl+C to stop)\n", e->msg);
                s->told_down = true;
                s->next_connect_us = st_monotonic_us() + (int64_t)s->backoff_ms * 1000;
                s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
                rc = ST_OK;
            }
        }
        if (mqtt_client_state(s->mc) == MQTT_DISCONNECTED) {
            if (timeout_ms > 0) usleep((useconds_t)timeout_ms * 1000);
            progress(s, false);
            return ST_OK;
        }
    }
    rc = mqtt_client_run(s->mc, timeout_ms, READ_ALL, true, NULL, e);
    if (rc == ST_OK && mqtt_client_state(s->mc) == MQTT_CONNECTED && !s->was_connected) {
        s->was_connected = true;
        s->told_down = false;
        s->backoff_ms = 500;
    }
    progress(s, false);
    return rc;
}

/* The sensor's topic: its place from the simulator, not from the (possibly faulty) JSON. */
static void build_topic(mqtt_sink *s, const iot_sim_event *ev)
{
    st_buf_reset(&s->topic);
    st_buf_printf(&s->topic, "smarttech/%.*s/%d/%.*s/%.*s", (int)ev->building_id.len, ev->building_id.ptr, ev->floor,
                  (int)ev->room_id.len, ev->room_id.ptr, (int)ev->sensor_id.len, ev->sensor_id.ptr);
}

/* Waits for room in the window (QoS 1) or for a connection (QoS 0), then publishes. After Ctrl+C
 * an event waits a few more seconds (sim_sink_stop_grace_over) and is then counted as never sent. */
static st_code mqtt_sink_write(sim_sink *base, const iot_sim_event *ev, st_err *e)
{
    mqtt_sink *s = (mqtt_sink *)base;
    int64_t stop_seen = 0;
    build_topic(s, ev);
    for (;;) {
        bool ready = s->qos ? s->published - s->acked < WINDOW : mqtt_client_state(s->mc) == MQTT_CONNECTED;
        if (ready) {
            st_err pe;
            st_code rc = mqtt_client_publish(s->mc, st_buf_cstr(&s->topic), ev->value.ptr, ev->value.len, s->qos, NULL,
                                             &pe);
            if (rc == ST_OK) {
                s->published++;
                return ST_OK;
            }
            if (rc != ST_ERR_IO) {
                if (e) *e = pe;
                return rc;
            }
        }
        st_code rc = service(s, 100, e);
        if (rc != ST_OK) return rc;
        if (sim_sink_stop_grace_over(s->stop, &stop_seen)) {
            s->unsent++;
            return ST_OK;
        }
    }
}

static st_code mqtt_sink_tick(sim_sink *base, st_err *e)
{
    return service((mqtt_sink *)base, 0, e);
}

/* QoS 1: until every event is acknowledged (reconnecting as needed); QoS 0: until written. */
static st_code mqtt_sink_close(sim_sink *base, st_err *e)
{
    mqtt_sink *s = (mqtt_sink *)base;
    sim_close_guard guard;
    const volatile sig_atomic_t *close_abort = sim_close_guard_begin(&guard);
    if (s->qos && s->acked < s->published)
        fprintf(stderr, "simulate: waiting for %llu acknowledgements from %s (Ctrl+C again to abandon them)\n",
                (unsigned long long)(s->published - s->acked), s->where);
    int64_t deadline = st_monotonic_us() + CLOSE_TIMEOUT_US;
    st_code rc = ST_OK;
    while (!*close_abort && st_monotonic_us() < deadline) {
        bool done = s->qos ? s->acked >= s->published
                           : mqtt_client_state(s->mc) != MQTT_CONNECTED || !mqtt_client_want_write(s->mc);
        if (done) break;
        if ((rc = service(s, 100, e)) != ST_OK) break;
    }
    sim_close_guard_end(&guard);
    progress(s, true);
    if (rc != ST_OK) return rc;
    mqtt_client_disconnect(s->mc, 1000);
    uint64_t lost = (s->qos ? s->published - s->acked : 0) + s->unsent;
    if (lost)
        return st_err_set(e, ST_ERR_IO, "%llu events not acknowledged by %s (%llu published and unacknowledged, "
                          "%llu never published)%s", (unsigned long long)lost, s->where,
                          (unsigned long long)(s->qos ? s->published - s->acked : 0), (unsigned long long)s->unsent,
                          *close_abort ? ": abandoned" : "");
    return ST_OK;
}

static void mqtt_sink_describe(sim_sink *base, char *buf, size_t len)
{
    mqtt_sink *s = (mqtt_sink *)base;
    double secs = (double)(st_monotonic_us() - s->t0) / 1e6;
    /* QoS 0 has no acknowledgement: libmosquitto reports such a message once it is written */
    snprintf(buf, len, "mqtt %s QoS %d: %llu published, %llu %s, %llu never published (%.0f published/s)",
             s->where, s->qos, (unsigned long long)s->published, (unsigned long long)s->acked,
             s->qos ? "acknowledged" : "written",
             (unsigned long long)s->unsent, secs > 0 ? (double)s->published / secs : 0.0);
}

static void mqtt_sink_destroy(sim_sink *base)
{
    mqtt_sink *s = (mqtt_sink *)base;
    if (!s) return;
    mqtt_client_destroy(s->mc);
    mqtt_url_free(&s->url);
    st_buf_free(&s->topic);
    free(s);
}

/* Parses the URL, builds the client and connects, waiting (with backoff) for a broker that is
 * not up yet until Ctrl+C; fails at once on what retrying cannot fix. */
st_code sink_mqtt_open(sim_sink **out, const sim_sink_opts *o, st_err *e)
{
    *out = NULL;
    if (o->mqtt_qos != 0 && o->mqtt_qos != 1)
        return st_err_set(e, ST_ERR_ARG, "--qos %d is not supported: use 0 or 1", o->mqtt_qos);
    mqtt_sink *s = st_xcalloc(1, sizeof *s);
    s->base = (sim_sink){.name = "mqtt", .write = mqtt_sink_write, .tick = mqtt_sink_tick, .close = mqtt_sink_close,
                         .describe = mqtt_sink_describe, .destroy = mqtt_sink_destroy};
    s->qos = o->mqtt_qos;
    s->stop = o->stop;
    s->backoff_ms = 500;
    st_code rc = mqtt_url_parse(o->mqtt, &s->url, e);
    if (rc != ST_OK) goto fail;
    mqtt_url_describe(&s->url, s->where, sizeof s->where);
    snprintf(s->client_id, sizeof s->client_id, "smarttech-sim-%ld-%llx", (long)getpid(),
             (unsigned long long)(st_now_us() & 0xffffff));
    s->cfg = (mqtt_client_config){.url = &s->url, .client_id = s->client_id, .cafile = o->mqtt_cafile,
                                  .certfile = o->mqtt_cert, .keyfile = o->mqtt_key, .qos = s->qos,
                                  .on_published = on_published, .on_notice = on_notice, .opaque = s};
    if ((rc = mqtt_client_new(&s->mc, &s->cfg, e)) != ST_OK) goto fail;
    while (mqtt_client_state(s->mc) != MQTT_CONNECTED) {
        if ((rc = service(s, 100, e)) != ST_OK) goto fail;
        if (s->stop && *s->stop) {
            rc = st_err_set(e, ST_ERR_INTERRUPTED, "stopped while waiting for the MQTT broker %s", s->where);
            goto fail;
        }
    }
    s->t0 = s->last_progress_us = st_monotonic_us();
    *out = &s->base;
    return ST_OK;
fail:
    mqtt_sink_destroy(&s->base);
    return rc;
}
