/* mqtt.h — the project's whole MQTT API, on libmosquitto (>= 2.0.11, Debian 12's); the only place
 * that calls it. Three parts:
 *   mqtt_url      mqtt://[user[:password]@]host[:port] and mqtts://... (percent-decoded userinfo)
 *   mqtt_record   what the bridge makes of one MQTT message: Kafka key, value, headers, or the
 *                 reason it is bad (pure: no I/O, unit-tested)
 *   mqtt_client   one connection (MQTT 5) driven by the caller's loop, with writes that can be held
 *
 * Why writes are held. QoS 1 loses nothing only if the PUBACK leaves after the message is safe
 * downstream (for the bridge: Kafka acknowledged it). libmosquitto 2.0 has no manual
 * acknowledgement (mosquitto_manual_ack arrives after 2.0.x; Debian 12 ships 2.0.11): it queues
 * the PUBACK before calling on_message. In its threaded mode (mosquitto_threaded_set) a queued
 * packet is not written at once but by the next mosquitto_loop_write, which this client calls
 * only when the caller allows writes. So the bridge reads a window of messages, forwards them,
 * waits until Kafka confirmed every one of them, and only then lets the queue out: the PUBACKs
 * (and keep-alive pings) of a window leave together. A connection dropped while writes are held
 * takes its unsent PUBACKs with it (mosquitto_reconnect discards unsent packets) and the broker
 * redelivers those messages. Cost: no PUBACK or ping leaves while Kafka is slow; a Kafka outage
 * longer than 1.5 x keepalive makes the broker drop the connection (the client reconnects, the
 * broker redelivers). The same is relied upon through the public API only; tests/integration/
 * test_mqtt.py checks the behaviour end to end (kill -9 while messages wait for Kafka).
 *
 * Conventions: st_code + st_err as everywhere (util/err.h); ST_ERR_ARG for what retrying cannot
 * fix (bad URL, unreadable TLS file, bad credentials, certificate that does not verify, refused
 * subscription), ST_ERR_IO for what may pass (connection refused or lost, broker restarting).
 * Nothing here prints: notices go to the caller's callback. One thread per client.
 */
#ifndef ST_MQTT_MQTT_H
#define ST_MQTT_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iot/event.h"
#include "util/err.h"

/* ----------------------------------------------------------------------- url */

typedef struct mqtt_url {
    bool tls;        /* mqtts:// */
    char *host;      /* IPv6 without its brackets */
    int port;        /* default 1883, 8883 with mqtts:// */
    char *user;      /* NULL when absent; percent-decoded */
    char *password;  /* NULL when absent; percent-decoded */
} mqtt_url;

/* Parses mqtt://[user[:password]@]host[:port][/] or mqtts://...; host may be [v6]. Characters
 * such as '@', ':' or '/' in the user or password are written %40, %3A, %2F. On success the
 * caller frees with mqtt_url_free; on failure *out holds nothing to free and e says what is
 * wrong ("expected mqtt://[user[:password]@]host[:port]"). */
st_code mqtt_url_parse(const char *text, mqtt_url *out, st_err *e);
void mqtt_url_free(mqtt_url *u); /* NULL-safe; leaves *u zeroed */

/* "mqtt://user@host:1883" (no password) for messages; always NUL-terminated. */
void mqtt_url_describe(const mqtt_url *u, char *buf, size_t n);

/* -------------------------------------------------------------------- record */

/* Kafka header names the bridge adds to every record (with IOT_HEADER_REJECT and
 * IOT_HEADER_REJECT_DETAIL of iot/event.h on bad messages). */
#define MQTT_HEADER_TOPIC "mqtt_topic"             /* the MQTT topic, as received */
#define MQTT_HEADER_RECEIVED_AT "mqtt_received_at" /* receive time, "2026-01-05T10:00:00.123456Z" */

/* Payloads over this are bad (Silver's 1 MiB limit); their first MQTT_RECORD_PREFIX bytes are
 * forwarded so the quarantine row shows what they were. */
#define MQTT_RECORD_MAX_PAYLOAD ((size_t)1 << 20)
#define MQTT_RECORD_PREFIX 4096
#define MQTT_RECORD_MAX_HEADERS 4

typedef struct mqtt_record_header {
    const char *name;
    const void *value;
    size_t len;
} mqtt_record_header;

/* The Kafka record of one MQTT message. Pointers refer to the message (topic, payload), to the
 * record itself or to the arena given to mqtt_record_build: valid while all three live. */
typedef struct mqtt_record {
    const void *key;          /* sensor_id; NULL for a bad message */
    size_t key_len;
    const void *value;        /* the payload, or its first MQTT_RECORD_PREFIX bytes when too large */
    size_t value_len;
    const char *reject;       /* NULL, or the reason name (Silver's: "line_too_long", "invalid_utf8",
                                 "malformed_json", "not_an_object", "missing_field:sensor_id", ...) */
    const char *key_source;   /* "payload", "topic" or NULL */
    int64_t timestamp_ms;     /* the receive time: the Kafka record timestamp */
    mqtt_record_header headers[MQTT_RECORD_MAX_HEADERS];
    size_t nheaders;
    char detail[320];         /* why it is bad, for IOT_HEADER_REJECT_DETAIL */
    char received_at[40];
} mqtt_record;

/* Maps one message: key = the payload's sensor_id (iot_event_sensor_id: Silver's rules 1-3, so
 * a message the bridge calls malformed Silver would call malformed too), else the last level of
 * a topic smarttech/<building>/<floor>/<room>/<sensor_id> (exactly five non-empty levels, the
 * last one 1-256 bytes of UTF-8). A message is bad, forwarded with no key and the reject header,
 * when its payload is over MQTT_RECORD_MAX_PAYLOAD or would make a Kafka message over
 * max_message_bytes (the producer's message.max.bytes; 0 = no such limit), is not UTF-8, is not
 * one JSON object, or has no usable sensor_id in the payload nor in the topic.
 * The arena holds a decoded sensor_id with escapes (reset it between messages).
 * Cost: one scan of the payload, no allocation unless the sensor_id has escapes. */
void mqtt_record_build(mqtt_record *r, const char *topic, size_t topic_len, const void *payload, size_t len,
                       int64_t received_us, size_t max_message_bytes, iot_arena *arena);

/* -------------------------------------------------------------------- client */

typedef struct mqtt_client mqtt_client;

/* A received message; every pointer is valid during the callback only. */
typedef struct mqtt_message {
    const char *topic;
    size_t topic_len;
    const void *payload;
    size_t len;
    int qos;
    bool retain;
} mqtt_message;

typedef struct mqtt_client_config {
    const mqtt_url *url;
    const char *client_id;         /* NULL: a random one (only without persistent) */
    bool persistent;               /* resume the broker-side session: clean start off, session
                                      never expires, so QoS 1 messages wait while we are away */
    int keepalive_s;               /* default (0) 30 */
    int receive_max;               /* QoS 1 messages the broker may send before we acknowledge
                                      (MQTT 5 Receive Maximum, 1..65535); 0 = libmosquitto's 20 */
    const char *cafile;            /* mqtts://: CA to verify the broker with (NULL: the system's) */
    const char *certfile;          /* client certificate and its key (both or neither) */
    const char *keyfile;
    bool hold_writes;              /* nothing is written unless mqtt_client_run is told to */
    const char *const *topics;     /* subscribed to after every connect (NULL/0: none) */
    size_t ntopics;
    int qos;                       /* of the subscriptions, 0 or 1 */
    void (*on_message)(const mqtt_message *m, void *opaque);
    void (*on_published)(int mid, void *opaque);   /* our QoS 1 publish was acknowledged */
    void (*on_notice)(const char *line, void *opaque); /* connected, subscribed, warnings */
    void *opaque;
} mqtt_client_config;

typedef enum mqtt_state {
    MQTT_DISCONNECTED = 0,  /* never connected, lost, or dropped */
    MQTT_CONNECTING,        /* TCP (and TLS) up, CONNECT queued, no CONNACK yet */
    MQTT_CONNECTED          /* CONNACK accepted (subscriptions requested) */
} mqtt_state;

/* Checks the options (URL, TLS files readable, topics valid, qos) and builds the client; no
 * network I/O. c and what it points to must outlive the client. */
st_code mqtt_client_new(mqtt_client **out, const mqtt_client_config *c, st_err *e);
void mqtt_client_destroy(mqtt_client *c); /* closes without writing anything queued; NULL-safe */

/* Opens the TCP connection (blocking: immediate on a local network, up to the system's connect
 * timeout on an unreachable host) and queues CONNECT. Anything still queued from an earlier
 * connection is dropped first. ST_ERR_IO (refused, unreachable, DNS) or ST_ERR_ARG (TLS set-up).
 * Then call mqtt_client_run until the state is MQTT_CONNECTED. */
st_code mqtt_client_connect(mqtt_client *c, st_err *e);

/* Closes the connection at once, writing nothing of what is queued (held PUBACKs included). */
void mqtt_client_drop(mqtt_client *c);

/* Writes what is queued and closes so that the broker reads all of it (half-close, then waits for
 * the broker's side to close), for at most timeout_ms; the session stays, if persistent. Only when
 * every queued packet may go out. */
void mqtt_client_disconnect(mqtt_client *c, int timeout_ms);

/* One round of the connection: writes what is queued when `write` (first, before reading),
 * waits up to timeout_ms for the socket, reads and handles up to max_messages PUBLISH packets
 * (on_message is called for each; 0 = read nothing, not even a CONNACK), and keeps the
 * connection alive. Never writes after it handed a message to on_message. *nread (may be NULL)
 * gets the number of messages handled. Returns ST_OK while connected or when the connection was
 * lost (then the state is MQTT_DISCONNECTED and mqtt_client_last_error says why: reconnect
 * later), ST_ERR_ARG on what retrying cannot fix (e says what). One read may go over
 * max_messages by what one TLS record holds (16 KiB of messages). */
st_code mqtt_client_run(mqtt_client *c, int timeout_ms, size_t max_messages, bool write, size_t *nread, st_err *e);

/* Publishes one message (copied). QoS 1 messages wait in the client while disconnected and are
 * sent again after a reconnect until acknowledged (on_published). *mid may be NULL.
 * ST_ERR_IO for QoS 0 while disconnected; ST_ERR_ARG for a bad topic or an oversized payload. */
st_code mqtt_client_publish(mqtt_client *c, const char *topic, const void *payload, size_t len, int qos, int *mid,
                            st_err *e);

mqtt_state mqtt_client_state(const mqtt_client *c);

/* Incremented each time a connection ends (lost, dropped, refused): a message received under
 * one epoch can only be acknowledged on that connection. Starts at 1. */
uint64_t mqtt_client_epoch(const mqtt_client *c);

/* True when packets wait to be written (held PUBACKs, pings, publishes). */
bool mqtt_client_want_write(const mqtt_client *c);

/* Why the last connection ended or failed ("" if none). */
const char *mqtt_client_last_error(const mqtt_client *c);

#endif
