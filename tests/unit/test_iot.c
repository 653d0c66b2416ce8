/* test_iot.c — event parsing/validation (table-driven), the sensor-kind table, and
 * simulator determinism. */
#include "check.h"
#include "iot/event.h"
#include "iot/sensor_kinds.h"
#include "sim/sim_internal.h"
#include "sim/simulator.h"
#include "util/hash.h"
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

/* One reading of sensor_type `type` in `unit` with the raw JSON number `value`. The
 * event text lives in a static buffer until the next call (ev->unit may point into it). */
static iot_reason parse_reading(const char *type, const char *unit, const char *value, iot_event *ev, iot_result *res)
{
    static char j[512];
    snprintf(j, sizeof j,
             "{\"event_id\":\"k:1\",\"sensor_id\":\"k\",\"building_id\":\"b\",\"floor\":0,\"room_id\":\"r\","
             "\"sensor_type\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"event_time\":1764150000000,\"seq\":0}",
             type, value, unit);
    return parse(j, ev, res, NULL);
}

static iot_reason parse_reading_d(const char *type, const char *unit, double v, iot_event *ev, iot_result *res)
{
    char num[40];
    snprintf(num, sizeof num, "%.17g", v);
    return parse_reading(type, unit, num, ev, res);
}

static int iot_str_is(iot_str s, const char *lit)
{
    return s.len == strlen(lit) && !memcmp(s.ptr, lit, s.len);
}

/* What the table must say, written out independently of it. */
static const struct want_kind {
    const char *name, *canon;
    const char *units[4];
    double min, max;
} want_kinds[] = {
    {"temperature", "C", {"C", "\xc2\xb0" "C", "F", "\xc2\xb0" "F"}, -40, 85},
    {"humidity", "%", {"%"}, 0, 100},
    {"co2", "ppm", {"ppm"}, 0, 20000},
    {"pressure", "hPa", {"hPa", "kPa"}, 870, 1085},
};
#define N_WANT_KINDS (sizeof want_kinds / sizeof want_kinds[0])

static void test_kinds_table(void)
{
    CHECK(iot_kind_count() == N_WANT_KINDS);
    CHECK(iot_kind_at(iot_kind_count()) == NULL);
    char why[96];
    for (size_t i = 0; i < N_WANT_KINDS; i++) {
        const struct want_kind *w = &want_kinds[i];
        const iot_kind *k = iot_kind_find(w->name, strlen(w->name));
        CHECK_MSG(k != NULL, "no kind %s", w->name);
        if (!k) continue;
        CHECK(iot_kind_at(i) == k);
        CHECK_STR(k->unit, w->canon);
        CHECK(k->unit_len == strlen(w->canon) && k->min == w->min && k->max == w->max);
        snprintf(why, sizeof why, "impossible_value:%s", w->name);
        CHECK_STR(k->impossible_name, why);
        snprintf(why, sizeof why, "unit_mismatch:%s", w->name);
        CHECK_STR(k->mismatch_name, why);
        size_t nu = 0;
        while (nu < 4 && w->units[nu]) nu++;
        CHECK_MSG(k->nunits == nu, "%s has %zu units, want %zu", w->name, k->nunits, nu);
        CHECK(k->nunits > 0 && !strcmp(k->units[0].name, w->canon) && !k->units[0].to_canonical);
        for (size_t u = 0; u < nu; u++) {
            const iot_unit *x = iot_kind_unit(k, w->units[u], strlen(w->units[u]));
            CHECK_MSG(x && !strcmp(x->name, w->units[u]), "%s does not accept %s", w->name, w->units[u]);
            if (!x) continue;
            CHECK(!x->to_canonical == !x->from_canonical);
            CHECK(x->converted_from_f == (strchr(x->name, 'F') != NULL)); /* °F only */
            if (!x->to_canonical) {
                CHECK(!strcmp(x->name, w->canon) || !strcmp(x->name, "\xc2\xb0" "C"));
                continue;
            }
            /* from_canonical inverts to_canonical across the range */
            for (double c = w->min; c <= w->max; c += (w->max - w->min) / 8) {
                double back = x->to_canonical(x->from_canonical(c));
                CHECK_MSG(fabs(back - c) <= 1e-9 * (1 + fabs(c)), "%s %s: %g -> %g", w->name, x->name, c, back);
            }
        }
    }
    /* exact names only: prefixes, longer names, other case are unknown (open) kinds */
    CHECK(iot_kind_find("pressur", 7) == NULL && iot_kind_find("pressures", 9) == NULL);
    CHECK(iot_kind_find("Pressure", 8) == NULL && iot_kind_find("", 0) == NULL);
    const iot_kind *p = iot_kind_find("pressure", 8);
    CHECK(p && !iot_kind_unit(p, "hpa", 3) && !iot_kind_unit(p, "kPa ", 4) && !iot_kind_unit(p, "Pa", 2));
}

/* Every kind through the parser: each accepted unit converted to the canonical one,
 * range bounds inclusive, the next double outside them impossible, other units refused. */
static void test_kinds_rules(void)
{
    iot_event ev;
    iot_result res;
    char why[96];
    for (size_t i = 0; i < N_WANT_KINDS; i++) {
        const struct want_kind *w = &want_kinds[i];
        const iot_kind *k = iot_kind_find(w->name, strlen(w->name));
        if (!k) continue;
        snprintf(why, sizeof why, "impossible_value:%s", w->name);
        double bounds[4] = {w->min, w->max, nextafter(w->min, -INFINITY), nextafter(w->max, INFINITY)};
        for (int b = 0; b < 4; b++) {
            iot_reason r = parse_reading_d(w->name, w->canon, bounds[b], &ev, &res);
            if (b < 2) {
                CHECK_MSG(r == IOT_OK && ev.value == bounds[b], "%s %.17g: %s %s", w->name, bounds[b], res.name,
                          res.detail);
            } else {
                CHECK_MSG(r == IOT_IMPOSSIBLE_VALUE && !strcmp(res.name, why), "%s %.17g: %s", w->name, bounds[b],
                          res.name);
            }
        }
        for (size_t u = 0; u < 4 && w->units[u]; u++) {
            const iot_unit *x = iot_kind_unit(k, w->units[u], strlen(w->units[u]));
            if (!x) continue;
            double mid = (w->min + w->max) / 2;
            double sent = x->from_canonical ? x->from_canonical(mid) : mid;
            CHECK(parse_reading_d(w->name, w->units[u], sent, &ev, &res) == IOT_OK);
            CHECK_MSG(iot_str_is(ev.unit, w->canon), "%s in %s stored as %.*s", w->name, w->units[u], (int)ev.unit.len,
                      ev.unit.ptr);
            CHECK(ev.value == (x->to_canonical ? x->to_canonical(sent) : sent));
            CHECK(fabs(ev.value - mid) <= 1e-9 * (1 + fabs(mid)));
            CHECK(ev.converted_from_f == (strchr(w->units[u], 'F') != NULL));
        }
        snprintf(why, sizeof why, "unit_mismatch:%s", w->name);
        CHECK(parse_reading(w->name, "zz", "1", &ev, &res) == IOT_UNIT_MISMATCH && !strcmp(res.name, why));
        CHECK_MSG(strstr(res.detail, w->units[0]) && strstr(res.detail, "accepted"), "%s", res.detail);
    }
    /* conversions at the bounds, written as senders write them */
    static const struct {
        const char *type, *unit, *value;
        iot_reason r;
        double want;
    } conv[] = {
        {"pressure", "kPa", "101.325", IOT_OK, 1013.25},
        {"pressure", "kPa", "87", IOT_OK, 870},
        {"pressure", "kPa", "108.5", IOT_OK, 1085},
        {"pressure", "kPa", "86.99", IOT_IMPOSSIBLE_VALUE, 0},
        {"pressure", "kPa", "108.51", IOT_IMPOSSIBLE_VALUE, 0},
        {"pressure", "hPa", "1013.25", IOT_OK, 1013.25},
        {"pressure", "hPa", "101.3", IOT_IMPOSSIBLE_VALUE, 0}, /* kPa value labelled hPa */
        {"pressure", "Pa", "101325", IOT_UNIT_MISMATCH, 0},
        {"pressure", "mbar", "1013", IOT_UNIT_MISMATCH, 0},
        {"temperature", "F", "185", IOT_OK, 85},
        {"temperature", "\xc2\xb0" "F", "-40", IOT_OK, -40},
        {"temperature", "F", "185.1", IOT_IMPOSSIBLE_VALUE, 0},
        {"temperature", "\xc2\xb0" "C", "21.5", IOT_OK, 21.5},
    };
    for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++) {
        iot_reason r = parse_reading(conv[i].type, conv[i].unit, conv[i].value, &ev, &res);
        CHECK_MSG(r == conv[i].r, "%s %s %s: %s (%s)", conv[i].type, conv[i].value, conv[i].unit, res.name, res.detail);
        if (r == IOT_OK && conv[i].r == IOT_OK)
            CHECK_MSG(fabs(ev.value - conv[i].want) < 1e-9, "%s %s %s -> %.17g", conv[i].type, conv[i].value,
                      conv[i].unit, ev.value);
    }
    CHECK(parse_reading("pressure", "kPa", "101.325", &ev, &res) == IOT_OK);
    CHECK(ev.value == 101.325 * 10.0 && !ev.converted_from_f && iot_str_is(ev.unit, "hPa"));
    CHECK(parse_reading("pressure", "kPa", "80", &ev, &res) == IOT_IMPOSSIBLE_VALUE);
    CHECK_STR(res.name, "impossible_value:pressure");
    CHECK_MSG(strstr(res.detail, "800 hPa") && strstr(res.detail, "870..1085"), "%s", res.detail);
    /* unknown kinds stay open: any unit, any value, nothing converted */
    static const char *open_types[] = {"pm25", "pressures", "pressure_diff", "co", "x"};
    for (size_t i = 0; i < sizeof open_types / sizeof open_types[0]; i++) {
        CHECK(parse_reading(open_types[i], "kPa", "-5000000000", &ev, &res) == IOT_OK);
        CHECK(ev.value == -5e9 && iot_str_is(ev.unit, "kPa") && !ev.converted_from_f);
        CHECK(parse_reading(open_types[i], "\xc2\xb5g/m\xc2\xb3", "12.5", &ev, &res) == IOT_OK);
        CHECK(iot_str_is(ev.unit, "\xc2\xb5g/m\xc2\xb3"));
    }
}

/* The simulator's kinds agree with the contract: each has a row, its impossible values
 * really are outside the range, its fault unit is a non-canonical accepted unit. */
static void test_sim_kinds(void)
{
    for (int k = 0; k < SIM_KINDS; k++) {
        const sim_kind *m = &sim_kinds[k];
        const iot_kind *c = iot_kind_find(m->name, strlen(m->name));
        CHECK_MSG(c != NULL, "simulated kind %s has no contract row", m->name);
        if (!c) continue;
        CHECK_MSG(m->high_lo > c->max && m->high_lo <= m->high_hi, "%s high impossible values", m->name);
        CHECK_MSG(m->low_hi < c->min && m->low_lo <= m->low_hi, "%s low impossible values", m->name);
        CHECK(m->decimals >= 0 && m->decimals <= 3 && m->battery_share > 0 && m->battery_share <= 1);
        CHECK((m->unit_fault == IOT_FAULT_NONE) == (m->fault_unit == NULL));
        if (m->fault_unit) {
            const iot_unit *u = iot_kind_unit(c, m->fault_unit, strlen(m->fault_unit));
            CHECK_MSG(u && u->to_canonical, "%s fault unit %s", m->name, m->fault_unit);
            CHECK(m->fault_decimals >= 0 && m->fault_decimals <= 3);
            CHECK(m->unit_fault == IOT_FAULT_FAHRENHEIT || m->unit_fault == IOT_FAULT_KPA);
        }
    }
    int kinds[SIM_KINDS], n;
    st_err e;
    CHECK(sim_kinds_parse(NULL, kinds, &n, &e) == ST_OK && n == 3 && kinds[0] == SIM_TEMPERATURE &&
          kinds[1] == SIM_HUMIDITY && kinds[2] == SIM_CO2);
    CHECK(sim_kinds_parse("pressure,co2", kinds, &n, &e) == ST_OK && n == 2 && kinds[0] == SIM_PRESSURE);
    static const char *bad_lists[] = {"", "pres", "co2,", ",co2", "co2,co2", "CO2", "co2 ,humidity", "pm25"};
    for (size_t i = 0; i < sizeof bad_lists / sizeof bad_lists[0]; i++) {
        CHECK_MSG(sim_kinds_parse(bad_lists[i], kinds, &n, &e) == ST_ERR_ARG, "'%s' accepted", bad_lists[i]);
        CHECK(strstr(e.msg, "--kinds") != NULL);
    }
    CHECK(strstr(e.msg, "pressure") != NULL); /* the message lists what exists */
}

/* Runs a simulator (kinds: NULL = the default room) and returns a hash of all its output. */
static uint64_t sim_hash(uint64_t seed, double faults, int n, int check_parse, const char *kinds)
{
    iot_sim_config c;
    iot_sim_config_init(&c);
    c.seed = seed;
    c.fault_rate = faults;
    c.kinds = kinds;
    iot_sim *s;
    st_err e;
    CHECK(iot_sim_new(&c, &s, &e) == ST_OK);
    uint64_t h = ST_FNV64_OFFSET;
    iot_arena *a = iot_arena_new();
    iot_parse_opts o;
    iot_parse_opts_init(&o);
    int mismatches = 0;
    for (int i = 0; i < n; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        h = st_fnv1a64_more(h, ev.value.ptr, ev.value.len);
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
    /* every fault occurs, except a unit fault of a kind that is not simulated */
    int has_pressure = kinds && strstr(kinds, "pressure"), has_temperature = !kinds || strstr(kinds, "temperature");
    for (int f = 1; f < IOT_FAULT_COUNT; f++) {
        int applies = (f != IOT_FAULT_KPA || has_pressure) && (f != IOT_FAULT_FAHRENHEIT || has_temperature);
        if (faults > 0 && applies) CHECK_MSG(cnt.by_fault[f] > 0, "no %s fault", iot_fault_str((iot_fault)f));
        if (!applies) CHECK_MSG(cnt.by_fault[f] == 0, "%s fault without its kind", iot_fault_str((iot_fault)f));
    }
    iot_arena_destroy(a);
    iot_sim_destroy(s);
    return h;
}

static void test_simulator(void)
{
    CHECK(sim_hash(7, 0.1, 5000, 1, NULL) == sim_hash(7, 0.1, 5000, 0, NULL));
    CHECK(sim_hash(7, 0.1, 2000, 0, NULL) != sim_hash(8, 0.1, 2000, 0, NULL));
    sim_hash(3, 0.0, 3000, 1, NULL);
    sim_hash(11, 0.5, 20000, 1, NULL);
    /* the default room spelled out is the default stream; pressure rooms are repeatable
     * too and every event (kPa ones included) is what the parser makes of it */
    CHECK(sim_hash(7, 0.1, 3000, 0, "temperature,humidity,co2") == sim_hash(7, 0.1, 3000, 0, NULL));
    const char *all = "temperature,humidity,co2,pressure";
    CHECK(sim_hash(7, 0.1, 5000, 1, all) == sim_hash(7, 0.1, 5000, 0, all));
    CHECK(sim_hash(7, 0.1, 3000, 0, all) != sim_hash(7, 0.1, 3000, 0, NULL));
    sim_hash(11, 0.5, 20000, 1, all);
    sim_hash(5, 0.6, 8000, 1, "pressure");

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

    /* a room with every kind: one sensor each; an unknown kind is an argument error */
    iot_sim_config_init(&c);
    c.buildings = 1;
    c.floors = 1;
    c.rooms = 2;
    c.kinds = "temperature,humidity,co2,pressure";
    CHECK(iot_sim_new(&c, &s, &e) == ST_OK && iot_sim_sensor_count(s) == 8);
    int pressure_ids = 0;
    for (int i = 0; i < 8; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        pressure_ids += ev.key.len == 21 && !memcmp(ev.key.ptr, "b01-f1-r0", 9) && !memcmp(ev.key.ptr + 10, "-pressure-1", 11);
    }
    CHECK(pressure_ids == 2);
    iot_sim_destroy(s);
    c.kinds = "temperature,wind";
    CHECK(iot_sim_new(&c, &s, &e) == ST_ERR_ARG && s == NULL && strstr(e.msg, "'wind'"));

    /* pressure: a day of one reading a minute per sensor, 2 buildings x 3 floors. It
     * drifts with the weather (a few hPa over the day, smoothly), higher floors read
     * lower, and every reading is a possible one in hPa. */
    iot_sim_config_init(&c);
    c.buildings = 2;
    c.floors = 3;
    c.rooms = 1;
    c.kinds = "pressure";
    c.rate = 6.0 / 60;
    CHECK(iot_sim_new(&c, &s, &e) == ST_OK);
    double lo[6], hi[6], sum[6], last[6], max_step = 0;
    int cnt[6] = {0}, wrong_unit = 0;
    for (int i = 0; i < 6 * 60 * 24; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        int b = ev.key.ptr[2] - '1', f = ev.key.ptr[5] - '1', x = b * 3 + f;
        double v = ev.norm_value;
        wrong_unit += strstr(ev.value.ptr, "\"unit\":\"hPa\"") == NULL;
        if (!cnt[x]) lo[x] = hi[x] = v, sum[x] = 0;
        else if (fabs(v - last[x]) > max_step) max_step = fabs(v - last[x]);
        lo[x] = fmin(lo[x], v), hi[x] = fmax(hi[x], v), sum[x] += v, last[x] = v, cnt[x]++;
    }
    CHECK(wrong_unit == 0);
    CHECK_MSG(max_step < 0.5, "pressure jumped %g hPa in a minute", max_step);
    for (int x = 0; x < 6; x++) {
        CHECK(cnt[x] == 60 * 24 && lo[x] >= 870 && hi[x] <= 1085);
        CHECK_MSG(hi[x] - lo[x] > 2 && hi[x] - lo[x] < 40, "sensor %d: %g..%g hPa in a day", x, lo[x], hi[x]);
    }
    for (int b = 0; b < 2; b++) {
        double d = sum[b * 3] / cnt[b * 3] - sum[b * 3 + 2] / cnt[b * 3 + 2];
        CHECK_MSG(d > 0.5 && d < 1.3, "floor 1 - floor 3 = %g hPa", d);
    }
    iot_sim_destroy(s);
}


/* The first round of a run (every sensor once, seq 1): ids "<sensor_id>:<16 hex boot>:1". */
static void first_round_ids(uint64_t seed, int64_t start_us, char ids[10][96])
{
    iot_sim_config c;
    iot_sim_config_init(&c);
    c.sensors = 10;
    c.seed = seed;
    c.start_time_us = start_us;
    iot_sim *s;
    CHECK(iot_sim_new(&c, &s, NULL) == ST_OK);
    for (int i = 0; i < 10; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        CHECK(ev.seq == 1 && ev.event_id.len < 96);
        CHECK(ev.event_id.len == ev.key.len + 19 && !memcmp(ev.event_id.ptr, ev.key.ptr, ev.key.len));
        CHECK(ev.event_id.ptr[ev.key.len] == ':' && !memcmp(ev.event_id.ptr + ev.key.len + 17, ":1", 2));
        for (size_t k = ev.key.len + 1; k < ev.key.len + 17; k++) CHECK(strchr("0123456789abcdef", ev.event_id.ptr[k]));
        snprintf(ids[i], 96, "%.*s", (int)ev.event_id.len, ev.event_id.ptr);
    }
    iot_sim_destroy(s);
}

/* seq restarts at 1 in every run; the boot id keeps ids of different runs apart (issue 11). */
static void test_simulator_ids_across_runs(void)
{
    int64_t t0 = 1767571200000000LL;
    char a[10][96], b[10][96], c[10][96], d[10][96];
    first_round_ids(7, t0, a);
    first_round_ids(7, t0, b);
    first_round_ids(8, t0, c);
    first_round_ids(7, t0 + 86400000000LL, d);
    for (int i = 0; i < 10; i++) {
        CHECK(!strcmp(a[i], b[i]));
        for (int j = 0; j < 10; j++) CHECK(strcmp(a[i], c[j]) && strcmp(a[i], d[j]));
    }
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

/* --per-room and --anomalies: ids -1..-N per kind and room; rate 0 is the stream of old;
 * every injected episode is in the events as it says (stuck: one value; silent: nothing
 * sent; spike and drift: readings changed), repeatably, and none ends after `until`. */
static void test_simulator_anomalies(void)
{
    iot_sim_config c;
    iot_sim_config_init(&c);
    c.buildings = 1;
    c.floors = 1;
    c.rooms = 2;
    c.per_room = 3;
    iot_sim *s;
    st_err e;
    CHECK(iot_sim_new(&c, &s, &e) == ST_OK && iot_sim_sensor_count(s) == 18);
    int seen3 = 0;
    for (int i = 0; i < 18; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        seen3 += ev.key.len == 19 && !memcmp(ev.key.ptr, "b01-f1-r02-humidity-3", 19);
        seen3 += ev.key.len == 16 && !memcmp(ev.key.ptr, "b01-f1-r01-co2-3", 16);
    }
    CHECK(seen3 == 1);
    iot_sim_destroy(s);
    c.per_room = 17;
    CHECK(iot_sim_new(&c, &s, &e) == ST_ERR_ARG && strstr(e.msg, "--per-room"));
    c.per_room = 1;
    c.anomaly_rate = -1;
    CHECK(iot_sim_new(&c, &s, &e) == ST_ERR_ARG && strstr(e.msg, "--anomalies"));

    /* 2 simulated hours, 18 sensors every 10 s, many episodes */
    iot_sim_config_init(&c);
    c.buildings = 1;
    c.floors = 1;
    c.rooms = 2;
    c.per_room = 3;
    c.rate = 1.8;
    c.anomaly_rate = 2;
    c.fault_rate = 0.02;
    int64_t until = c.start_time_us + 110 * 60 * 1000000LL;
    c.anomaly_until_us = until;
    uint64_t hashes[2];
    int per_kind[IOT_SIM_ANOMALY_COUNT] = {0};
    for (int rep = 0; rep < 2; rep++) {
        CHECK(iot_sim_new(&c, &s, &e) == ST_OK);
        enum { N = 12960 };
        static iot_sim_event evs[N];
        static char ids[N][32];
        static double vals[N];
        uint64_t h = ST_FNV64_OFFSET;
        iot_sim_episode eps[400];
        int neps = 0;
        for (int i = 0; i < N; i++) {
            iot_sim_event ev;
            iot_sim_next(s, &ev);
            h = st_fnv1a64_more(h, ev.value.ptr, ev.value.len);
            evs[i] = ev;
            snprintf(ids[i], sizeof ids[i], "%.*s", (int)ev.sensor_id.len, ev.sensor_id.ptr);
            vals[i] = ev.norm_value;
            while (neps < 400 && iot_sim_take_episode(s, &eps[neps])) neps++;
        }
        iot_sim_end(s);
        while (neps < 400 && iot_sim_take_episode(s, &eps[neps])) neps++;
        hashes[rep] = h;
        for (int k = 0; k < neps && rep == 0; k++) {
            const iot_sim_episode *ep = &eps[k];
            per_kind[ep->kind]++;
            CHECK(ep->end_us <= until && ep->start_us >= c.start_time_us + 20 * 60 * 1000000LL);
            CHECK(ep->readings >= 1 && ep->end_us >= ep->start_us);
            int inside = 0, flagged = 0;
            double first = NAN;
            int same = 1;
            for (int i = 0; i < N; i++) {
                if (strcmp(ids[i], ep->sensor_id) || evs[i].fault != IOT_FAULT_NONE) continue;
                if (evs[i].event_time_us < ep->start_us || evs[i].event_time_us > ep->end_us) continue;
                inside++;
                flagged += evs[i].anomaly == ep->kind;
                if (isnan(first)) first = vals[i];
                else if (vals[i] != first) same = 0;
            }
            if (ep->kind == IOT_SIM_ANOMALY_SILENT) CHECK_MSG(inside == 0, "%d readings sent while silent", inside);
            else CHECK_MSG(inside == flagged && inside > 0, "%s: %d readings, %d flagged", iot_sim_anomaly_str(ep->kind), inside, flagged);
            if (ep->kind == IOT_SIM_ANOMALY_STUCK) CHECK(same && first == ep->magnitude);
            if (ep->kind == IOT_SIM_ANOMALY_SPIKE) CHECK(ep->readings <= 3 && fabs(ep->magnitude) > 0);
        }
        iot_sim_destroy(s);
    }
    CHECK(hashes[0] == hashes[1]);
    for (int k = 1; k < IOT_SIM_ANOMALY_COUNT; k++)
        CHECK_MSG(per_kind[k] >= 5, "%d %s episodes", per_kind[k], iot_sim_anomaly_str((iot_sim_anomaly)k));
    st_buf b = {0};
    iot_sim_episode ep = {"b01-f1-r01-co2-2", IOT_SIM_ANOMALY_DRIFT, 5, 9, 3, -1.5};
    iot_sim_episodes_header(&b);
    iot_sim_episode_line(&ep, &b);
    CHECK_STR(st_buf_cstr(&b), "sensor_id,kind,start_us,end_us,readings,magnitude\nb01-f1-r01-co2-2,drift,5,9,3,-1.5\n");
    st_buf_free(&b);

    /* rate 0 spelled out is the stream without anomalies */
    iot_sim_config_init(&c);
    c.seed = 7;
    c.fault_rate = 0.1;
    c.anomaly_rate = 0;
    uint64_t h0 = sim_hash(7, 0.1, 3000, 0, NULL);
    CHECK(iot_sim_new(&c, &s, &e) == ST_OK);
    uint64_t h = ST_FNV64_OFFSET;
    for (int i = 0; i < 3000; i++) {
        iot_sim_event ev;
        iot_sim_next(s, &ev);
        h = st_fnv1a64_more(h, ev.value.ptr, ev.value.len);
        CHECK(ev.anomaly == IOT_SIM_ANOMALY_NONE);
    }
    CHECK(h == h0);
    iot_sim_destroy(s);
}

int main(void)
{
    test_good();
    test_time_and_units();
    test_bad();
    test_prefixes();
    test_numbers();
    test_kinds_table();
    test_kinds_rules();
    test_sim_kinds();
    test_simulator();
    test_simulator_ids_across_runs();
    test_simulator_anomalies();
    test_mutations();
    return CHECK_DONE();
}
