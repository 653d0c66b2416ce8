/* event_json.c — names of reasons and fields, re-emission of events as JSON. */
#include "iot/event.h"
#include "iot/event_names.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

#define FIELDS(X)                                                                                   \
    X(schema_version) X(event_id) X(sensor_id) X(building_id) X(floor) X(room_id) X(sensor_type) \
        X(value) X(unit) X(event_time) X(seq) X(battery_pct)

#define NAME(f) #f,
#define MISSING(f) "missing_field:" #f,
#define WRONG(f) "wrong_type:" #f,
#define INVALID(f) "invalid_field:" #f,
static const char *const field_names[IOT_F_COUNT] = {FIELDS(NAME)};
static const char *const missing_names[IOT_F_COUNT] = {FIELDS(MISSING)};
static const char *const wrong_names[IOT_F_COUNT] = {FIELDS(WRONG)};
static const char *const invalid_names[IOT_F_COUNT] = {FIELDS(INVALID)};

static const char *const reason_names[IOT_REASON_COUNT] = {
    "ok",          "line_too_long",  "invalid_utf8",  "malformed_json",   "not_an_object",   "unsupported_schema_version",
    "missing_field", "wrong_type", "invalid_field", "unit_mismatch", "impossible_value", "future_timestamp",
    "empty_value", "late",
};

/* Stable short name of a reason; "unknown" out of range. O(1). */
const char *iot_reason_str(iot_reason r)
{
    return (unsigned)r < IOT_REASON_COUNT ? reason_names[r] : "unknown";
}

/* Contract name of a field; "" for IOT_F_NONE or out of range. O(1). */
const char *iot_field_str(iot_field f)
{
    return (unsigned)f < IOT_F_COUNT ? field_names[f] : "";
}

/* Combined static names; falls back to the bare reason name. O(1). */
/* Linear over the dozen reason names. */
iot_reason iot_reason_from_name(const char *name, size_t len)
{
    const char *colon = memchr(name, ':', len);
    size_t n = colon ? (size_t)(colon - name) : len;
    for (int r = 1; r < IOT_REASON_COUNT; r++)
        if (strlen(reason_names[r]) == n && !memcmp(reason_names[r], name, n)) return (iot_reason)r;
    return IOT_REASON_COUNT;
}

const char *iot_name_field_reason(iot_reason r, iot_field f)
{
    if ((unsigned)f >= IOT_F_COUNT) return iot_reason_str(r);
    if (r == IOT_MISSING_FIELD) return missing_names[f];
    if (r == IOT_WRONG_TYPE) return wrong_names[f];
    if (r == IOT_INVALID_FIELD) return invalid_names[f];
    return iot_reason_str(r);
}

/* Shortest of %.15g/%.16g/%.17g that reads back exactly. Cost: up to three
 * snprintf + strtod, so keep it off hot paths that can print fixed decimals. */
void iot_append_double(st_buf *out, double v)
{
    if (!isfinite(v)) {
        st_buf_append(out, "null", 4);
        return;
    }
    /* Fast path for readings with at most 3 decimals (most of ours): the text of
     * k / 10^d reads back as the correctly rounded quotient, which is v. */
    static const double p10[4] = {1, 10, 100, 1000};
    if (fabs(v) < 1e12) {
        for (int d = 1; d <= 3; d++) {
            double k = nearbyint(v * p10[d]);
            if (k / p10[d] != v) continue;
            unsigned long long ki = (unsigned long long)fabs(k);
            char t[48];
            int n = sizeof t;
            for (int i = 0; i < d; i++, ki /= 10) t[--n] = (char)('0' + ki % 10);
            t[--n] = '.';
            do t[--n] = (char)('0' + ki % 10), ki /= 10;
            while (ki);
            if (signbit(v)) t[--n] = '-';
            int end = sizeof t;
            while (t[end - 1] == '0' && t[end - 2] != '.') end--;
            st_buf_append(out, t + n, (size_t)(end - n));
            return;
        }
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v) break;
    }
    /* Keep it a JSON number that still looks like a float ("21" -> "21.0"). */
    st_buf_append_str(out, tmp);
    if (!strpbrk(tmp, ".eEn")) st_buf_append(out, ".0", 2);
}

static void append_key_str(st_buf *out, const char *key, iot_str s)
{
    st_buf_append_str(out, key);
    st_buf_append_json_str(out, s.ptr, s.len);
}

/* See event.h. Cost: a few hundred bytes of appends plus two double formats. */
void iot_event_to_json(const iot_event *ev, st_buf *out)
{
    char tmp[48];
    st_buf_printf(out, "{\"schema_version\":%d", (int)ev->schema_version);
    append_key_str(out, ",\"event_id\":", ev->event_id);
    append_key_str(out, ",\"sensor_id\":", ev->sensor_id);
    append_key_str(out, ",\"building_id\":", ev->building_id);
    st_buf_printf(out, ",\"floor\":%d", (int)ev->floor);
    append_key_str(out, ",\"room_id\":", ev->room_id);
    append_key_str(out, ",\"sensor_type\":", ev->sensor_type);
    st_buf_append_str(out, ",\"value\":");
    iot_append_double(out, ev->value);
    append_key_str(out, ",\"unit\":", ev->unit);
    st_format_iso_us(ev->event_time_us, tmp, sizeof tmp, ev->event_time_us % 1000 == 0);
    st_buf_append_str(out, ",\"event_time\":\"");
    st_buf_append_str(out, tmp);
    st_buf_printf(out, "\",\"seq\":%lld", (long long)ev->seq);
    if (ev->has_battery) {
        st_buf_append_str(out, ",\"battery_pct\":");
        iot_append_double(out, ev->battery_pct);
    }
    st_buf_append_u8(out, '}');
}
