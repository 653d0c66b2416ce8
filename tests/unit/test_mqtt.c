/* test_mqtt.c — the pure parts of src/mqtt: broker URLs, and what the bridge makes of one MQTT
 * message (key from payload or topic, headers, reject reasons). No broker needed. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mqtt/mqtt.h"

/* ------------------------------------------------------------------- url */

static void test_url_ok(void)
{
    mqtt_url u;
    st_err e;
    CHECK(mqtt_url_parse("mqtt://localhost", &u, &e) == ST_OK);
    CHECK_STR(u.host, "localhost");
    CHECK(u.port == 1883 && !u.tls && !u.user && !u.password);
    mqtt_url_free(&u);

    CHECK(mqtt_url_parse("mqtts://broker.example", &u, &e) == ST_OK);
    CHECK(u.tls && u.port == 8883);
    mqtt_url_free(&u);

    CHECK(mqtt_url_parse("MQTT://u:p@127.0.0.1:1884/", &u, &e) == ST_OK);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_STR(u.user, "u");
    CHECK_STR(u.password, "p");
    CHECK(u.port == 1884);
    char d[200];
    mqtt_url_describe(&u, d, sizeof d);
    CHECK_STR(d, "mqtt://u@127.0.0.1:1884"); /* never the password */
    mqtt_url_free(&u);
    CHECK(u.host == NULL && u.user == NULL);

    CHECK(mqtt_url_parse("mqtt://sensor@h", &u, &e) == ST_OK);
    CHECK_STR(u.user, "sensor");
    CHECK(u.password == NULL);
    mqtt_url_free(&u);

    /* escapes, and the last '@' splits userinfo from host */
    CHECK(mqtt_url_parse("mqtt://u%40x:p%3aw%25@h", &u, &e) == ST_OK);
    CHECK_STR(u.user, "u@x");
    CHECK_STR(u.password, "p:w%");
    mqtt_url_free(&u);
    CHECK(mqtt_url_parse("mqtt://a:b@c@h:2", &u, &e) == ST_OK);
    CHECK_STR(u.password, "b@c");
    CHECK_STR(u.host, "h");
    mqtt_url_free(&u);
    CHECK(mqtt_url_parse("mqtt://u:@h", &u, &e) == ST_OK); /* an empty password is a password */
    CHECK(u.password && !u.password[0]);
    mqtt_url_free(&u);

    CHECK(mqtt_url_parse("mqtts://[::1]:8884", &u, &e) == ST_OK);
    CHECK_STR(u.host, "::1");
    CHECK(u.port == 8884);
    mqtt_url_describe(&u, d, sizeof d);
    CHECK_STR(d, "mqtts://[::1]:8884");
    mqtt_url_free(&u);
    mqtt_url_free(NULL);
}

static void test_url_bad(void)
{
    static const char *const bad[] = {
        "tcp://h",         "mqtt://",          "mqtt://h:0",    "mqtt://h:65536", "mqtt://h:12x", "mqtt://h:",
        "mqtt://h/topic",  "mqtt://h?x=1",     "mqtt://:p@h",   "mqtt://u:%zz@h", "mqtt://u%00@h", "mqtt://u%4@h",
        "mqtt://[::1",     "mqtt://[::1]x",    "mqtt://h h",    "mqtt://u@",      "localhost:1883", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mqtt_url u;
        st_err e;
        st_err_clear(&e);
        CHECK_MSG(mqtt_url_parse(bad[i], &u, &e) == ST_ERR_ARG, "'%s' accepted", bad[i]);
        CHECK_MSG(e.msg[0] != '\0', "no message for '%s'", bad[i]);
        CHECK(u.host == NULL && u.user == NULL && u.password == NULL);
    }
    mqtt_url u;
    st_err e;
    CHECK(mqtt_url_parse(NULL, &u, &e) == ST_ERR_ARG);
    CHECK(strstr(e.msg, "mqtt://") != NULL); /* says what the form is */
}

/* ---------------------------------------------------------------- record */

static const char *header(const mqtt_record *r, const char *name, size_t *len)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcmp(r->headers[i].name, name)) {
            *len = r->headers[i].len;
            return r->headers[i].value;
        }
    return NULL;
}

static int key_is(const mqtt_record *r, const char *k)
{
    return r->key && r->key_len == strlen(k) && !memcmp(r->key, k, r->key_len);
}

static const char EVENT[] = "{\"schema_version\":1,\"event_id\":\"b01-f2-r05-co2-1:42\",\"sensor_id\":\"b01-f2-r05-co2-1\","
                            "\"building_id\":\"b01\",\"floor\":2,\"room_id\":\"r05\",\"sensor_type\":\"co2\",\"value\":612.4,"
                            "\"unit\":\"ppm\",\"event_time\":\"2026-11-26T10:00:00.123Z\",\"seq\":42}";
#define T_US 1767225600123456LL /* 2026-01-01T00:00:00.123456Z */

static void build(mqtt_record *r, const char *topic, const void *p, size_t n, size_t max_msg, iot_arena *a)
{
    iot_arena_reset(a);
    mqtt_record_build(r, topic, strlen(topic), p, n, T_US, max_msg, a);
}

static void test_record_good(iot_arena *a)
{
    mqtt_record r;
    const char *topic = "smarttech/b01/2/r05/b01-f2-r05-co2-1";
    build(&r, topic, EVENT, strlen(EVENT), 1000000, a);
    CHECK(r.reject == NULL);
    CHECK(key_is(&r, "b01-f2-r05-co2-1"));
    CHECK_STR(r.key_source, "payload");
    CHECK(r.value == EVENT && r.value_len == strlen(EVENT)); /* the payload as it came */
    CHECK(r.timestamp_ms == T_US / 1000);
    CHECK(r.nheaders == 2);
    size_t n = 0;
    const char *h = header(&r, MQTT_HEADER_TOPIC, &n);
    CHECK(h && n == strlen(topic) && !memcmp(h, topic, n));
    h = header(&r, MQTT_HEADER_RECEIVED_AT, &n);
    CHECK(h && n == strlen("2026-01-01T00:00:00.123456Z") && !memcmp(h, "2026-01-01T00:00:00.123456Z", n));
    CHECK(header(&r, IOT_HEADER_REJECT, &n) == NULL);

    /* the payload wins over the topic, and an escaped id is decoded */
    const char esc[] = "{\"sensor_id\":\"s\\u0031-\\\"q\\\"\"}";
    build(&r, "smarttech/b/1/r/other", esc, strlen(esc), 0, a);
    CHECK(key_is(&r, "s1-\"q\""));
    CHECK(!r.reject);
}

static void test_record_topic_fallback(iot_arena *a)
{
    mqtt_record r;
    size_t n;
    const char *p = "{\"event_id\":\"x:1\",\"value\":1}";
    build(&r, "smarttech/b01/2/r05/s-9", p, strlen(p), 0, a);
    CHECK(!r.reject && key_is(&r, "s-9"));
    CHECK_STR(r.key_source, "topic");
    CHECK(r.nheaders == 2);
    /* wrong type, empty, null in the payload: the topic gives it, Silver judges the payload */
    const char *q[] = {"{\"sensor_id\":42}", "{\"sensor_id\":\"\"}", "{\"sensor_id\":null}", "{}"};
    for (size_t i = 0; i < 4; i++) {
        build(&r, "smarttech/b/f/r/from-topic", q[i], strlen(q[i]), 0, a);
        CHECK_MSG(!r.reject && key_is(&r, "from-topic"), "%s", q[i]);
    }
    /* not of the form smarttech/<b>/<f>/<r>/<id>: no key anywhere -> rejected, the reason says which */
    const char *topics[] = {"other/b/f/r/s",     "smarttech/b/f/r",     "smarttech/b/f/r/s/x", "smarttech//f/r/s",
                            "smarttech/b/f/r/",  "smarttech/b/f//s",    "smarttech",           "smarttech/",
                            "smarttech/b/f/r/\xff\xfe"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        build(&r, topics[i], p, strlen(p), 0, a);
        CHECK_MSG(r.reject && !strcmp(r.reject, "missing_field:sensor_id") && !r.key, "topic %s", topics[i]);
    }
    build(&r, "x", "{\"sensor_id\":7}", strlen("{\"sensor_id\":7}"), 0, a);
    CHECK(r.reject && !strcmp(r.reject, "wrong_type:sensor_id"));
    CHECK(strstr(r.detail, "smarttech/<building>/<floor>/<room>/<sensor_id>") != NULL);
    build(&r, "x", "{\"sensor_id\":\"\"}", strlen("{\"sensor_id\":\"\"}"), 0, a);
    CHECK(r.reject && !strcmp(r.reject, "invalid_field:sensor_id"));
    CHECK(r.nheaders == 4);
    const char *v = header(&r, IOT_HEADER_REJECT, &n);
    CHECK(v && n == strlen("invalid_field:sensor_id") && !memcmp(v, "invalid_field:sensor_id", n));
    v = header(&r, IOT_HEADER_REJECT_DETAIL, &n);
    CHECK(v && n == strlen(r.detail) && n > 10);

    /* a 257-byte id is not a key; 256 is */
    char topic[300] = "smarttech/b/f/r/";
    size_t base = strlen(topic);
    memset(topic + base, 'a', 257);
    topic[base + 257] = '\0';
    build(&r, topic, p, strlen(p), 0, a);
    CHECK(r.reject != NULL);
    topic[base + 256] = '\0';
    build(&r, topic, p, strlen(p), 0, a);
    CHECK(!r.reject && r.key_len == 256);
}

static void test_record_bad(iot_arena *a)
{
    mqtt_record r;
    size_t n;
    const char *topic = "smarttech/b01/2/r05/s1";
    build(&r, topic, "not json", 8, 0, a);
    CHECK(r.reject && !strcmp(r.reject, "malformed_json"));
    CHECK(!r.key && r.value_len == 8); /* forwarded whole, no key even though the topic has one */
    CHECK(r.nheaders == 4);
    build(&r, topic, "[1,2]", 5, 0, a);
    CHECK(r.reject && !strcmp(r.reject, "not_an_object"));
    build(&r, topic, "", 0, 0, a);
    CHECK(r.reject && !strcmp(r.reject, "malformed_json"));
    { const char *u = "{\"sensor_id\":\"a\xc3(\"}"; build(&r, topic, u, strlen(u), 0, a); }
    CHECK(r.reject && !strcmp(r.reject, "invalid_utf8"));
    CHECK(strstr(r.detail, "byte") != NULL);
    { const char *u = "{\"sensor_id\":\"\\ud800\"}"; build(&r, topic, u, strlen(u), 0, a); }
    CHECK(r.reject && !strcmp(r.reject, "invalid_utf8"));

    /* over 1 MiB: only a prefix goes on, the detail has the size */
    size_t big = MQTT_RECORD_MAX_PAYLOAD + 1;
    char *p = malloc(big);
    memset(p, ' ', big);
    memcpy(p, EVENT, strlen(EVENT));
    build(&r, topic, p, big, 0, a);
    CHECK(r.reject && !strcmp(r.reject, "line_too_long"));
    CHECK(r.value == p && r.value_len == MQTT_RECORD_PREFIX && !r.key);
    CHECK(strstr(r.detail, "1048577") != NULL);
    /* exactly 1 MiB is an event for Silver, but not for a Kafka message.max.bytes of 1,000,000 */
    build(&r, topic, p, big - 1, 0, a);
    CHECK(!r.reject && key_is(&r, "b01-f2-r05-co2-1"));
    build(&r, topic, p, big - 1, 1000000, a);
    CHECK(r.reject && !strcmp(r.reject, "line_too_long") && r.value_len == MQTT_RECORD_PREFIX);
    CHECK(strstr(r.detail, "message.max.bytes=1000000") != NULL);
    const char *v = header(&r, IOT_HEADER_REJECT, &n);
    CHECK(v && n == strlen("line_too_long"));
    /* short payloads keep all their bytes as the prefix */
    build(&r, topic, p, 100, 50, a);
    CHECK(r.reject && r.value_len == 100);
    free(p);
}

/* Every reason the bridge gives is one Silver knows (it ignores a reject header otherwise). */
static void test_reasons_known(iot_arena *a)
{
    const char *payloads[] = {"x", "[]", "{\"sensor_id\":1}", "{\"sensor_id\":\"\"}", "{}", "\xff"};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        mqtt_record r;
        build(&r, "t", payloads[i], strlen(payloads[i]), 0, a);
        CHECK(r.reject && iot_reason_from_name(r.reject, strlen(r.reject)) != IOT_REASON_COUNT);
    }
    CHECK(iot_reason_from_name("line_too_long", 13) == IOT_LINE_TOO_LONG);
    CHECK(iot_reason_from_name("missing_field:sensor_id", 23) == IOT_MISSING_FIELD);
    CHECK(iot_reason_from_name("missing", 7) == IOT_REASON_COUNT);
    CHECK(iot_reason_from_name("ok", 2) == IOT_REASON_COUNT);
    CHECK(iot_reason_from_name("", 0) == IOT_REASON_COUNT);
}

int main(void)
{
    iot_arena *a = iot_arena_new();
    test_url_ok();
    test_url_bad();
    test_record_good(a);
    test_record_topic_fallback(a);
    test_record_bad(a);
    test_reasons_known(a);
    iot_arena_destroy(a);
    return CHECK_DONE();
}
