/* test_iot.c — event parsing/validation (table-driven) and simulator determinism. */
#include "check.h"
#include "iot/event.h"
#include "iot/simulator.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#define NOW_ISO "2026-11-26T10:00:00Z"

static int64_t now_us(void)
{
    int64_t us;
    st_parse_iso_us(NOW_ISO, strlen(NOW_ISO), &us);
    return us;
}

static iot_reason parse(const char *json, iot_event *ev, iot_result *res, iot_arena *a)
{
    iot_parse_opts o;
    iot_parse_opts_init(&o);
    o.now_us = now_us();
    return iot_event_parse(json, strlen(json), &o, a, ev, res);
}

#define BASE_HEAD "{\"schema_version\":1,\"event_id\":\"b01-f2-r05-co2-1:42\",\"sensor_id\":\"b01-f2-r05-co2-1\","
#define GOOD                                                                                               \
    BASE_HEAD "\"building_id\":\"b01\",\"floor\":2,\"room_id\":\"r05\",\"sensor_type\":\"co2\",\"value\":612.4," \
              "\"unit\":\"ppm\",\"event_time\":\"2026-11-26T10:00:00.123Z\",\"seq\":42,\"battery_pct\":93.0}"

/* Builds a variant of a clean temperature event with one field's raw JSON replaced
 * (or removed when val is NULL). */
static char *temp_event(const char *field, const char *val)
{
    static const char *names[] = {"schema_version", "event_id", "sensor_id", "building_id", "floor",      "room_id",
                                  "sensor_type",    "value",    "unit",      "event_time",  "seq",        "battery_pct"};
    static const char *vals[] = {"1",         "\"s-t:1\"", "\"s-t\"",   "\"b01\"", "3",  "\"r01\"",
                                 "\"temperature\"", "21.5", "\"C\"", "\"2026-11-26T09:59:00Z\"", "1", "80.5"};
    st_buf b = {0};
    st_buf_append_u8(&b, '{');
    int first = 1;
    for (int i = 0; i < 12; i++) {
        const char *v = vals[i];
        if (!strcmp(names[i], field)) {
            if (!val) continue;
            v = val;
        }
        st_buf_printf(&b, "%s\"%s\":%s", first ? "" : ",", names[i], v);
        first = 0;
    }
    st_buf_append_u8(&b, '}');
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

static void test_good(void)
{
    iot_event ev;
    iot_result res;
    iot_arena *a = iot_arena_new();
    CHECK(parse(GOOD, &ev, &res, a) == IOT_OK);
    CHECK_STR(res.name, "ok");
    CHECK(ev.event_id.len == 19 && !memcmp(ev.event_id.ptr, "b01-f2-r05-co2-1:42", 19));
    CHECK(ev.floor == 2 && ev.seq == 42 && ev.value == 612.4 && ev.has_battery && ev.battery_pct == 93.0);
    CHECK(ev.schema_version == 1 && !ev.converted_from_f);
    CHECK(ev.event_time_us % 1000000 == 123000);
    char d[16];
    st_format_date(ev.event_date, d, sizeof d);
    CHECK_STR(d, "2026-11-26");
    /* trailing newline / CRLF and unknown fields are fine; schema_version optional */
    CHECK(parse(GOOD "\r\n", &ev, &res, a) == IOT_OK);
    char *j = temp_event("schema_version", NULL);
    CHECK(parse(j, &ev, &res, a) == IOT_OK && ev.schema_version == 1);
    free(j);
    j = temp_event("battery_pct", "null");
    CHECK(parse(j, &ev, &res, a) == IOT_OK && !ev.has_battery && isnan(ev.battery_pct));
    free(j);
    j = temp_event("battery_pct", NULL);
    CHECK(parse(j, &ev, &res, a) == IOT_OK && !ev.has_battery);
    free(j);
    {
        st_buf x = {0};
        st_buf_append_str(&x, "{\"extra\":{\"a\":[1,2,{\"b\":null}]},");
        st_buf_append_str(&x, GOOD + 1);
        CHECK(parse(st_buf_cstr(&x), &ev, &res, a) == IOT_OK);
        st_buf_free(&x);
    }
    /* escapes are decoded into the arena */
    j = temp_event("room_id", "\"r\\u00e9\\n\\ud83d\\ude00\"");
    CHECK(parse(j, &ev, &res, a) == IOT_OK);
    CHECK(ev.room_id.len == 8 && !memcmp(ev.room_id.ptr, "r\xc3\xa9\n\xf0\x9f\x98\x80", 8));
    free(j);
    /* duplicate key: last wins */
    j = temp_event("floor", "1,\"floor\":7");
    CHECK(parse(j, &ev, &res, a) == IOT_OK && ev.floor == 7);
    free(j);
    /* unknown sensor type with a sane unit */
    j = temp_event("sensor_type", "\"pm25\"");
    CHECK(parse(j, &ev, &res, a) == IOT_OK && ev.unit.len == 1);
    free(j);
    iot_arena_destroy(a);
}

static void test_time_and_units(void)
{
    iot_event ev;
    iot_result res;
    char *j;
    /* epoch milliseconds, integer and fractional */
    j = temp_event("event_time", "1764150000123");
    CHECK(parse(j, &ev, &res, NULL) == IOT_OK && ev.event_time_us == 1764150000123000LL);
    free(j);
    j = temp_event("event_time", "1764150000123.5");
    CHECK(parse(j, &ev, &res, NULL) == IOT_OK && ev.event_time_us == 1764150000123500LL);
    free(j);
    /* offsets */
    int64_t z;
    st_parse_iso_us("2026-11-26T08:30:00Z", 20, &z);
    j = temp_event("event_time", "\"2026-11-26T09:30:00+01:00\"");
    CHECK(parse(j, &ev, &res, NULL) == IOT_OK && ev.event_time_us == z);
    free(j);
    j = temp_event("event_time", "\"2026-11-26T03:30:00.000-05:00\"");
    CHECK(parse(j, &ev, &res, NULL) == IOT_OK && ev.event_time_us == z);
    free(j);
    j = temp_event("event_time", "\"2026-11-26T00:30:00-08:00\""); /* date from UTC */
    CHECK(parse(j, &ev, &res, NULL) == IOT_OK);
    char d[16];
    st_format_date(ev.event_date, d, sizeof d);
    CHECK_STR(d, "2026-11-26");
    free(j);
    /* °F -> °C */
    st_buf b = {0};
    st_buf_append_str(&b, "{\"event_id\":\"x:1\",\"sensor_id\":\"x\",\"building_id\":\"b\",\"floor\":0,\"room_id\":\"r\","
                          "\"sensor_type\":\"temperature\",\"value\":71.6,\"unit\":\"F\",\"event_time\":1764150000000,"
                          "\"seq\":0}");
    CHECK(parse(st_buf_cstr(&b), &ev, &res, NULL) == IOT_OK);
    CHECK(ev.converted_from_f && ev.unit.len == 1 && ev.unit.ptr[0] == 'C');
    CHECK(fabs(ev.value - 22.0) < 1e-9 && ev.value == iot_f_to_c(71.6));
    st_buf_free(&b);
    /* 200 F = 93.3 C: impossible after conversion */
    j = temp_event("value", "200,\"unit\":\"F\"");
    CHECK(parse(j, &ev, &res, NULL) == IOT_IMPOSSIBLE_VALUE);
    CHECK_STR(res.name, "impossible_value:temperature");
    free(j);
    /* re-emission round trip */
    iot_arena *a = iot_arena_new();
    CHECK(parse(GOOD, &ev, &res, a) == IOT_OK);
    st_buf out = {0};
    iot_event_to_json(&ev, &out);
    iot_event ev2;
    CHECK(parse(st_buf_cstr(&out), &ev2, &res, a) == IOT_OK);
    CHECK(ev2.value == ev.value && ev2.event_time_us == ev.event_time_us && ev2.seq == ev.seq &&
          ev2.battery_pct == ev.battery_pct && ev2.event_id.len == ev.event_id.len);
    CHECK(strstr((const char *)out.data, "\"event_time\":\"2026-11-26T10:00:00.123Z\"") != NULL);
    st_buf_free(&out);
    iot_arena_destroy(a);
    /* shortest doubles */
    st_buf_append_str(&out, "");
    iot_append_double(&out, 0.1);
    st_buf_append_u8(&out, ' ');
    iot_append_double(&out, 21.0);
    st_buf_append_u8(&out, ' ');
    iot_append_double(&out, iot_f_to_c(71.3));
    CHECK_STR(st_buf_cstr(&out), "0.1 21.0 21.833333333333332");
    st_buf_free(&out);
}

struct bad_case {
    const char *field; /* temp_event variant, or NULL for raw */
    const char *val;   /* raw JSON of the field, NULL = remove it; raw input when field is NULL */
    iot_reason reason;
    const char *name;
};

static const struct bad_case bad[] = {
    {NULL, "", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "   \n", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":1", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\"=1}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":1,}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":01}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":1.}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":\"x\ty\"}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":\"\\x\"}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":tru}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{} {}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "{\"a\":[1,2}", IOT_MALFORMED_JSON, "malformed_json"},
    {NULL, "[1,2]", IOT_NOT_AN_OBJECT, "not_an_object"},
    {NULL, "\"str\"", IOT_NOT_AN_OBJECT, "not_an_object"},
    {NULL, "42", IOT_NOT_AN_OBJECT, "not_an_object"},
    {NULL, "null", IOT_NOT_AN_OBJECT, "not_an_object"},
    {NULL, "{\"a\":\"\xff\"}", IOT_INVALID_UTF8, "invalid_utf8"},
    {NULL, "{\"a\":\"\xc0\xaf\"}", IOT_INVALID_UTF8, "invalid_utf8"},      /* overlong */
    {NULL, "{\"a\":\"\xed\xa0\x80\"}", IOT_INVALID_UTF8, "invalid_utf8"},  /* surrogate */
    {NULL, "{\"a\":\"\xe2\x82\"}", IOT_INVALID_UTF8, "invalid_utf8"},      /* truncated */
    {NULL, "{\"a\":\"\\ud800\"}", IOT_INVALID_UTF8, "invalid_utf8"},       /* lone escape */
    {NULL, "{\"a\":\"\\udc00\\ud800\"}", IOT_INVALID_UTF8, "invalid_utf8"},
    {NULL, "{}", IOT_MISSING_FIELD, "missing_field:event_id"},
    {"schema_version", "2", IOT_UNSUPPORTED_SCHEMA_VERSION, "unsupported_schema_version"},
    {"schema_version", "\"1\"", IOT_WRONG_TYPE, "wrong_type:schema_version"},
    {"event_id", NULL, IOT_MISSING_FIELD, "missing_field:event_id"},
    {"sensor_id", NULL, IOT_MISSING_FIELD, "missing_field:sensor_id"},
    {"building_id", NULL, IOT_MISSING_FIELD, "missing_field:building_id"},
    {"floor", NULL, IOT_MISSING_FIELD, "missing_field:floor"},
    {"room_id", NULL, IOT_MISSING_FIELD, "missing_field:room_id"},
    {"sensor_type", NULL, IOT_MISSING_FIELD, "missing_field:sensor_type"},
    {"value", NULL, IOT_MISSING_FIELD, "missing_field:value"},
    {"value", "null", IOT_MISSING_FIELD, "missing_field:value"},
    {"unit", NULL, IOT_MISSING_FIELD, "missing_field:unit"},
    {"event_time", NULL, IOT_MISSING_FIELD, "missing_field:event_time"},
    {"seq", NULL, IOT_MISSING_FIELD, "missing_field:seq"},
    {"event_id", "7", IOT_WRONG_TYPE, "wrong_type:event_id"},
    {"sensor_id", "[]", IOT_WRONG_TYPE, "wrong_type:sensor_id"},
    {"building_id", "{}", IOT_WRONG_TYPE, "wrong_type:building_id"},
    {"floor", "\"3\"", IOT_WRONG_TYPE, "wrong_type:floor"},
    {"room_id", "true", IOT_WRONG_TYPE, "wrong_type:room_id"},
    {"sensor_type", "1", IOT_WRONG_TYPE, "wrong_type:sensor_type"},
    {"value", "\"21.5\"", IOT_WRONG_TYPE, "wrong_type:value"},
    {"unit", "false", IOT_WRONG_TYPE, "wrong_type:unit"},
    {"event_time", "true", IOT_WRONG_TYPE, "wrong_type:event_time"},
    {"seq", "\"1\"", IOT_WRONG_TYPE, "wrong_type:seq"},
    {"battery_pct", "\"80\"", IOT_WRONG_TYPE, "wrong_type:battery_pct"},
    {"event_id", "\"\"", IOT_INVALID_FIELD, "invalid_field:event_id"},
    {"sensor_type", "\"Temperature\"", IOT_INVALID_FIELD, "invalid_field:sensor_type"},
    {"unit", "\"\"", IOT_INVALID_FIELD, "invalid_field:unit"},
    {"floor", "2.5", IOT_INVALID_FIELD, "invalid_field:floor"},
    {"floor", "5000", IOT_INVALID_FIELD, "invalid_field:floor"},
    {"seq", "-1", IOT_INVALID_FIELD, "invalid_field:seq"},
    {"value", "1e999", IOT_INVALID_FIELD, "invalid_field:value"},
    {"event_time", "\"2026-11-26T09:59:00\"", IOT_INVALID_FIELD, "invalid_field:event_time"},
    {"event_time", "\"yesterday\"", IOT_INVALID_FIELD, "invalid_field:event_time"},
    {"event_time", "\"2026-02-30T09:59:00Z\"", IOT_INVALID_FIELD, "invalid_field:event_time"},
    {"event_time", "-5", IOT_INVALID_FIELD, "invalid_field:event_time"},
    {"unit", "\"K\"", IOT_UNIT_MISMATCH, "unit_mismatch:temperature"},
    {"unit", "\"%\",\"sensor_type\":\"humidity\",\"value\":130", IOT_IMPOSSIBLE_VALUE, "impossible_value:humidity"},
    {"unit", "\"%\",\"sensor_type\":\"humidity\",\"value\":-0.5", IOT_IMPOSSIBLE_VALUE, "impossible_value:humidity"},
    {"unit", "\"ppm\",\"sensor_type\":\"humidity\",\"value\":50", IOT_UNIT_MISMATCH, "unit_mismatch:humidity"},
    {"unit", "\"ppm\",\"sensor_type\":\"co2\",\"value\":20001", IOT_IMPOSSIBLE_VALUE, "impossible_value:co2"},
    {"unit", "\"ppm\",\"sensor_type\":\"co2\",\"value\":-1", IOT_IMPOSSIBLE_VALUE, "impossible_value:co2"},
    {"unit", "\"%\",\"sensor_type\":\"co2\",\"value\":400", IOT_UNIT_MISMATCH, "unit_mismatch:co2"},
    {"value", "85.01", IOT_IMPOSSIBLE_VALUE, "impossible_value:temperature"},
    {"value", "-40.5", IOT_IMPOSSIBLE_VALUE, "impossible_value:temperature"},
    {"battery_pct", "101", IOT_IMPOSSIBLE_VALUE, "impossible_value:battery_pct"},
    {"event_time", "\"2026-11-26T10:05:01Z\"", IOT_FUTURE_TIMESTAMP, "future_timestamp"},
    {"event_time", "\"2026-11-26T11:05:01+01:00\"", IOT_FUTURE_TIMESTAMP, "future_timestamp"},
};

static void test_bad(void)
{
    iot_arena *a = iot_arena_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *j = bad[i].field ? temp_event(bad[i].field, bad[i].val) : NULL;
        const char *in = j ? j : bad[i].val;
        iot_event ev;
        iot_result res;
        iot_reason r = parse(in, &ev, &res, a);
        CHECK_MSG(r == bad[i].reason && !strcmp(res.name, bad[i].name), "case %zu %s: got %s (%s), want %s", i, in,
                  res.name, res.detail, bad[i].name);
        CHECK_MSG(res.detail[0] != '\0', "case %zu has no detail", i);
        free(j);
    }
    /* limits: exactly at 5 min is fine; line too long; NULL result is allowed */
    iot_event ev;
    iot_result res;
    char *j = temp_event("event_time", "\"2026-11-26T10:05:00Z\"");
    CHECK(parse(j, &ev, &res, a) == IOT_OK);
    iot_parse_opts o;
    iot_parse_opts_init(&o);
    o.now_us = now_us();
    o.max_len = 50;
    CHECK(iot_event_parse(j, strlen(j), &o, a, &ev, &res) == IOT_LINE_TOO_LONG);
    CHECK_STR(res.name, "line_too_long");
    o.max_len = 1 << 20;
    o.future_tolerance_us = -1;
    free(j);
    j = temp_event("event_time", "\"2030-11-26T10:05:00Z\"");
    CHECK(iot_event_parse(j, strlen(j), &o, a, &ev, NULL) == IOT_OK);
    free(j);
    /* an escaped string without an arena is refused, not crashed on */
    j = temp_event("room_id", "\"r\\n\"");
    CHECK(parse(j, &ev, &res, NULL) == IOT_INVALID_FIELD);
    free(j);
    /* deep nesting in an unknown field */
    st_buf b = {0};
    st_buf_append_str(&b, "{\"deep\":");
    for (int i = 0; i < 100; i++) st_buf_append_u8(&b, '[');
    for (int i = 0; i < 100; i++) st_buf_append_u8(&b, ']');
    st_buf_append_u8(&b, '}');
    CHECK(parse(st_buf_cstr(&b), &ev, &res, a) == IOT_MALFORMED_JSON);
    st_buf_free(&b);
    iot_arena_destroy(a);
}

/* Every prefix of a valid event is malformed (never a crash, never accepted). */
static void test_prefixes(void)
{
    size_t n = strlen(GOOD);
    for (size_t i = 0; i < n; i++) {
        char *p = malloc(i ? i : 1); /* exact size: ASan catches any over-read */
        memcpy(p, GOOD, i);
        iot_event ev;
        iot_result res;
        iot_reason r = iot_event_parse(p, i, NULL, NULL, &ev, &res);
        CHECK_MSG(r == IOT_MALFORMED_JSON, "prefix %zu: %s", i, res.name);
        free(p);
    }
}

static void test_numbers(void)
{
    static const char *nums[] = {"0", "-0", "1", "21.37", "0.001", "1e3", "1E-3", "-12.5e+2", "123456789012345678",
                                 "1234567890123456789012", "0.30000000000000004", "2.2250738585072014e-308",
                                 "17976931348623157e292", "4.9e-324", "9007199254740993", "0.1", "612.4"};
    iot_arena *a = iot_arena_new();
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        iot_parse_opts o;
        iot_parse_opts_init(&o);
        o.now_us = now_us();
        iot_event ev;
        iot_result res;
        /* sensor type "x" has no physical range, so any number is accepted */
        st_buf b = {0};
        st_buf_printf(&b, "{\"event_id\":\"x:1\",\"sensor_id\":\"x\",\"building_id\":\"b\",\"floor\":0,\"room_id\":\"r\","
                          "\"sensor_type\":\"x\",\"value\":%s,\"unit\":\"u\",\"event_time\":0,\"seq\":0}",
                      nums[i]);
        iot_reason r = iot_event_parse((const char *)b.data, b.len, &o, a, &ev, &res);
        CHECK_MSG(r == IOT_OK, "%s: %s", nums[i], res.detail);
        CHECK_MSG(ev.value == strtod(nums[i], NULL), "%s parsed as %.17g", nums[i], ev.value);
        st_buf_free(&b);
    }
    iot_arena_destroy(a);
}

/* Runs a simulator and returns a hash of all its output. */
static uint64_t sim_hash(uint64_t seed, double faults, int n, int check_parse)
{
    iot_sim_config c;
    iot_sim_config_init(&c);
    c.seed = seed;
    c.fault_rate = faults;
    iot_sim *s;
    st_err e;
    CHECK(iot_sim_new(&c, &s, &e) == ST_OK);
    uint64_t h = 1469598103934665603ULL;
    iot_arena *a = iot_arena_new();
    iot_parse_opts o;
    iot_parse_opts_init(&o);
    int mismatches = 0;
    for (int i = 0; i < n; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        for (size_t k = 0; k < ev.value.len; k++) h = (h ^ (uint8_t)ev.value.ptr[k]) * 1099511628211ULL;
        if (check_parse) {
            o.now_us = iot_sim_clock_us(s);
            iot_event pe;
            iot_result res;
            iot_reason r = iot_event_parse(ev.value.ptr, ev.value.len, &o, a, &pe, &res);
            int ok = (r == IOT_OK) == ev.valid && !strcmp(res.name, ev.expected_reason);
            if (ok && ev.valid) {
                ok = pe.value == ev.norm_value && pe.event_time_us == ev.event_time_us && pe.seq == ev.seq &&
                     pe.event_id.len == ev.event_id.len && !memcmp(pe.event_id.ptr, ev.event_id.ptr, ev.event_id.len);
            }
            if (!ok && mismatches++ < 5)
                fprintf(stderr, "event %d (%s): parser says %s (%s), simulator expected %s: %.*s\n", i,
                        iot_fault_str(ev.fault), res.name, res.detail, ev.expected_reason, (int)ev.value.len,
                        ev.value.ptr);
            iot_arena_reset(a);
        }
    }
    CHECK(mismatches == 0);
    iot_sim_counts cnt;
    iot_sim_stats(s, &cnt);
    CHECK(cnt.events == (uint64_t)n && cnt.valid + cnt.invalid == (uint64_t)n);
    if (faults > 0)
        for (int f = 1; f < IOT_FAULT_COUNT; f++) CHECK_MSG(cnt.by_fault[f] > 0, "no %s fault", iot_fault_str((iot_fault)f));
    iot_arena_destroy(a);
    iot_sim_destroy(s);
    return h;
}

static void test_simulator(void)
{
    CHECK(sim_hash(7, 0.1, 5000, 1) == sim_hash(7, 0.1, 5000, 0));
    CHECK(sim_hash(7, 0.1, 2000, 0) != sim_hash(8, 0.1, 2000, 0));
    sim_hash(3, 0.0, 3000, 1);
    sim_hash(11, 0.5, 20000, 1);

    /* ids, layout and --sensors */
    iot_sim_config c;
    iot_sim_config_init(&c);
    c.sensors = 10;
    iot_sim *s;
    st_err e;
    CHECK(iot_sim_new(&c, &s, &e) == ST_OK);
    CHECK(iot_sim_sensor_count(s) == 10);
    int seen_co2 = 0;
    for (int i = 0; i < 10; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        if (ev.key.len == 16 && !memcmp(ev.key.ptr, "b01-f1-r01-co2-1", 16)) seen_co2 = 1;
        CHECK(ev.fault == IOT_FAULT_NONE && ev.valid);
    }
    CHECK(seen_co2);
    iot_sim_destroy(s);
    iot_sim_config_init(&c);
    c.fault_rate = 1.5;
    CHECK(iot_sim_new(&c, &s, &e) == ST_ERR_ARG && s == NULL);
    CHECK(strstr(e.msg, "--faults") != NULL);
    iot_sim_destroy(NULL);

    /* signals: CO2 higher at 11:00 on a weekday than at 03:00; humidity falls as temperature rises */
    iot_sim_config_init(&c);
    c.buildings = 1;
    c.floors = 1;
    c.rooms = 1;
    c.rate = 3.0 / 60; /* every sensor once a minute */
    iot_sim_new(&c, &s, &e);
    double co2_night = 0, co2_day = 0;
    for (int i = 0; i < 3 * 60 * 24; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        int hour = (int)((ev.event_time_us / 3600000000LL) % 24);
        if (ev.sensor_type.ptr[0] == 'c' && hour == 3) co2_night = ev.norm_value;
        if (ev.sensor_type.ptr[0] == 'c' && hour == 11) co2_day = ev.norm_value;
    }
    CHECK_MSG(co2_day > co2_night + 200, "co2 day %g night %g", co2_day, co2_night);
    iot_sim_destroy(s);
}


/* Mutated simulator events (bytes flipped, inserted, cut) in exact-size heap buffers:
 * under ASan any read past the end or crash fails; every verdict must be a known
 * reason with a name and, when not OK, a detail. */
static void test_mutations(void)
{
    iot_sim_config c;
    iot_sim_config_init(&c);
    c.seed = 99;
    c.fault_rate = 0.3;
    iot_sim *s;
    CHECK(iot_sim_new(&c, &s, NULL) == ST_OK);
    iot_arena *a = iot_arena_new();
    uint64_t x = 12345;
    static const char pool[] = "{}[]\",:\\u0123456789eE+-.tfn \x01\xc3\xa9\xff\xed\xa0";
    int bad_verdicts = 0, disagreements = 0, objects = 0;
    for (int i = 0; i < 20000; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        size_t n = ev.value.len;
        char *p = malloc(n + 8);
        memcpy(p, ev.value.ptr, n);
        int muts = 1 + (int)(x % 3);
        for (int m = 0; m < muts && n > 0; m++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(x >> 33) % n;
            char ch = pool[(x >> 20) % (sizeof pool - 1)];
            switch ((x >> 10) % 3) {
            case 0: p[at] = ch; break;
            case 1:
                memmove(p + at + 1, p + at, n - at);
                p[at] = ch;
                n++;
                break;
            default: n = at; break;
            }
        }
        char *exact = malloc(n ? n : 1);
        memcpy(exact, p, n);
        free(p);
        iot_event pe;
        iot_result res;
        iot_reason r = iot_event_parse(exact, n, NULL, a, &pe, &res);
        if ((unsigned)r >= IOT_REASON_COUNT || !res.name || (r != IOT_OK && !res.detail[0])) bad_verdicts++;
        /* Differential check of the scanner against jansson: both must agree on
         * whether the bytes are one JSON object (number range errors aside). */
        json_error_t je;
        json_t *j = json_loadb(exact, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
        int ours = !(r == IOT_MALFORMED_JSON || r == IOT_NOT_AN_OBJECT || r == IOT_INVALID_UTF8);
        int theirs = j && json_is_object(j);
        objects += theirs;
        if (ours != theirs && !strstr(je.text, "overflow") && !strstr(je.text, "too big")) {
            if (disagreements++ < 5)
                fprintf(stderr, "scanner says %s, jansson says %s: %.*s\n", res.name, j ? "object" : je.text, (int)n,
                        exact);
        }
        json_decref(j);
        free(exact);
        iot_arena_reset(a);
    }
    CHECK(bad_verdicts == 0);
    CHECK(disagreements == 0);
    CHECK_MSG(objects > 2000 && objects < 18000, "%d of 20000 mutants still objects", objects);
    iot_arena_destroy(a);
    iot_sim_destroy(s);
}

int main(void)
{
    test_good();
    test_time_and_units();
    test_bad();
    test_prefixes();
    test_numbers();
    test_simulator();
    test_mutations();
    return CHECK_DONE();
}
