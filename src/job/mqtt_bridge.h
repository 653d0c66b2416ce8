/* mqtt_bridge.h — MQTT -> Kafka with no loss: the job behind `smarttech mqtt-bridge`.
 *
 * Subscribes (QoS 1, persistent session: clean start off, fixed client id, so messages published
 * while the bridge is away wait at the broker) and forwards each message to one Kafka topic on
 * the idempotent acks=all producer of src/kafka: key = sensor_id (payload, else topic levels),
 * headers mqtt_topic and mqtt_received_at, timestamp = receive time (src/mqtt mqtt_record).
 * Bad messages (over 1 MiB, not UTF-8, not one JSON object, no sensor id anywhere) are forwarded
 * too, without a key and with the smarttech_reject header: Silver quarantines them with that
 * reason.
 *
 * Acknowledgement. A message's PUBACK leaves only after Kafka confirmed that message. The
 * bridge reads a window of messages (at most max_in_flight, or max_in_flight_bytes of payload),
 * forwards them, waits until every one of them is confirmed, then lets the PUBACKs of the window
 * out together (mqtt.h says how, with libmosquitto 2.0). A crash or a kill loses nothing: the
 * broker redelivers what was not acknowledged, Kafka may then hold a message twice, and Silver's
 * dedup by event_id keeps one (bad messages are quarantined once per copy).
 *
 * Failures. Either broker down: reported, retried with backoff (1 s doubling to 30 s), resumed;
 * memory stays bounded by the window. A failed Kafka delivery drops the MQTT connection without
 * acknowledging anything of it (the broker redelivers); a fatal producer error (idempotence)
 * rebuilds the producer. What retrying cannot fix (bad credentials, a certificate that does not
 * verify, a refused subscription, a bad option) ends the run with ST_ERR_ARG.
 */
#ifndef ST_JOB_MQTT_BRIDGE_H
#define ST_JOB_MQTT_BRIDGE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka.h"
#include "util/err.h"

typedef struct mqtt_bridge_config {
    const char *mqtt_url;           /* mqtt://[user[:password]@]host[:port] or mqtts://... */
    const char *const *mqtt_topics; /* topic filters; default (NULL/0) "smarttech/#" */
    size_t nmqtt_topics;
    int qos;                        /* 1 (default) or 0 (at most once: nothing to acknowledge) */
    const char *client_id;          /* default "smarttech-bridge": the session's name at the broker */
    const char *cafile, *certfile, *keyfile;
    int keepalive_s;                /* default 30 */
    const char *brokers;            /* default localhost:9092 */
    const char *topic;              /* default iot_smartech (created with 3 partitions if missing) */
    const kafka_props *props;       /* -X key=value, applied last; may be NULL */
    size_t max_in_flight;           /* messages read but not confirmed by Kafka; default 5000 (also
                                       the MQTT 5 Receive Maximum asked of the broker, <= 65535) */
    size_t max_in_flight_bytes;     /* payload bytes of those; default 16 MiB */
    int stop_timeout_ms;            /* on stop, how long to wait for Kafka's confirmations; 10 s */
} mqtt_bridge_config;

void mqtt_bridge_config_init(mqtt_bridge_config *c);

typedef struct mqtt_bridge_stats {
    uint64_t received;        /* messages handed over by the MQTT client (redeliveries included) */
    uint64_t forwarded;       /* confirmed by Kafka */
    uint64_t rejected;        /* of those received: forwarded as bad, with the reject header */
    uint64_t acknowledged;    /* PUBACKs let out (QoS 1) */
    uint64_t failed;          /* Kafka deliveries that failed (their messages come again) */
    uint64_t connects;        /* successful MQTT connections */
    uint64_t in_flight;       /* read, not yet confirmed */
    uint64_t in_flight_bytes;
    bool mqtt_connected;
    bool kafka_down;
    char last_error[512];
} mqtt_bridge_stats;

/* Progress: called about once a second with event NULL, and with a line on every notable event
 * (connected, subscribed, broker down or back, delivery failures). */
typedef void (*mqtt_bridge_progress_fn)(const mqtt_bridge_stats *s, const char *event, void *opaque);

/* Runs until *stop becomes non-zero: then stops reading, waits up to stop_timeout_ms for Kafka to
 * confirm what is in flight, acknowledges it and disconnects (the session stays at the broker).
 * ST_OK after a stop; ST_ERR_ARG for a bad option or what retrying cannot fix. stats may be NULL. */
st_code mqtt_bridge_run(const mqtt_bridge_config *c, const volatile sig_atomic_t *stop, mqtt_bridge_progress_fn cb,
                        void *opaque, mqtt_bridge_stats *stats, st_err *e);

#endif
