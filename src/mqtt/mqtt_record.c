/* mqtt_record.c — one MQTT message -> the Kafka record the bridge forwards (see mqtt.h). */
#include <stdio.h>
#include <string.h>

#include "mqtt/mqtt.h"
#include "util/timeutil.h"
#include "util/utf8.h"

#define MAX_ID_LEN 256
/* What a Kafka record adds to key + value + header bytes, with room to spare: librdkafka refuses a
 * message whose worst-case wire size passes message.max.bytes. */
#define RECORD_OVERHEAD 128
#define HEADER_OVERHEAD 16

/* The sensor id of a topic smarttech/<building>/<floor>/<room>/<sensor_id>: exactly five levels,
 * none empty, the last one 1-256 bytes of UTF-8. Returns its length (0 when the topic is not of
 * that form) and its start in *id. */
static size_t topic_sensor_id(const char *t, size_t n, const char **id)
{
    static const char prefix[] = "smarttech/";
    const size_t plen = sizeof prefix - 1;
    if (n <= plen || memcmp(t, prefix, plen) != 0) return 0;
    const char *p = t + plen, *end = t + n;
    for (int level = 1; level < 4; level++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (!slash || slash == p) return 0;
        p = slash + 1;
    }
    size_t len = (size_t)(end - p);
    if (len == 0 || len > MAX_ID_LEN || memchr(p, '/', len) || !st_utf8_valid(p, len)) return 0;
    *id = p;
    return len;
}

static void add_header(mqtt_record *r, const char *name, const void *value, size_t len)
{
    r->headers[r->nheaders++] = (mqtt_record_header){name, value, len};
}

/* The two reject headers after the common ones; the value stays the payload (or its prefix). */
static void reject(mqtt_record *r, const char *reason)
{
    r->reject = reason;
    r->key = NULL;
    r->key_len = 0;
    r->key_source = NULL;
    add_header(r, IOT_HEADER_REJECT, reason, strlen(reason));
    add_header(r, IOT_HEADER_REJECT_DETAIL, r->detail, strlen(r->detail));
}

/* Size first (a 100 MiB payload is not scanned), then Silver's rules 1-3 and the sensor id. */
void mqtt_record_build(mqtt_record *r, const char *topic, size_t topic_len, const void *payload, size_t len,
                       int64_t received_us, size_t max_message_bytes, iot_arena *arena)
{
    memset(r, 0, sizeof *r);
    r->value = payload;
    r->value_len = len;
    r->timestamp_ms = received_us / 1000;
    size_t tlen = st_format_iso_us(received_us, r->received_at, sizeof r->received_at, 0);
    add_header(r, MQTT_HEADER_TOPIC, topic, topic_len);
    add_header(r, MQTT_HEADER_RECEIVED_AT, r->received_at, tlen);

    /* the largest record this message can make: its payload, a sensor id, the headers */
    size_t wire = RECORD_OVERHEAD + MAX_ID_LEN + len + topic_len + tlen + 2 * HEADER_OVERHEAD +
                  strlen(MQTT_HEADER_TOPIC) + strlen(MQTT_HEADER_RECEIVED_AT);
    if (len > MQTT_RECORD_MAX_PAYLOAD || (max_message_bytes && wire > max_message_bytes)) {
        size_t keep = len < MQTT_RECORD_PREFIX ? len : MQTT_RECORD_PREFIX;
        if (len > MQTT_RECORD_MAX_PAYLOAD)
            snprintf(r->detail, sizeof r->detail, "MQTT payload of %zu bytes is over the %zu-byte limit; its first "
                     "%zu bytes are kept", len, MQTT_RECORD_MAX_PAYLOAD, keep);
        else
            snprintf(r->detail, sizeof r->detail, "MQTT payload of %zu bytes (topic of %zu) does not fit a Kafka "
                     "message of message.max.bytes=%zu; its first %zu bytes are kept", len, topic_len,
                     max_message_bytes, keep);
        r->value_len = keep;
        reject(r, iot_reason_str(IOT_LINE_TOO_LONG));
        return;
    }
    iot_parse_opts po;
    iot_parse_opts_init(&po);
    po.max_len = MQTT_RECORD_MAX_PAYLOAD;
    iot_str sid;
    iot_result res;
    iot_reason why = iot_event_sensor_id(payload, len, &po, arena, &sid, &res);
    if (why == IOT_OK) {
        r->key = sid.ptr;
        r->key_len = sid.len;
        r->key_source = "payload";
        return;
    }
    if (why == IOT_MISSING_FIELD || why == IOT_WRONG_TYPE || why == IOT_INVALID_FIELD) {
        const char *id;
        size_t n = topic_sensor_id(topic, topic_len, &id);
        if (n) {
            /* Silver judges the payload itself (it will name the missing field) */
            r->key = id;
            r->key_len = n;
            r->key_source = "topic";
            return;
        }
        snprintf(r->detail, sizeof r->detail, "%s, and the MQTT topic is not smarttech/<building>/<floor>/<room>/"
                 "<sensor_id>", res.detail);
    } else {
        snprintf(r->detail, sizeof r->detail, "%s", res.detail);
    }
    reject(r, res.name);
}
