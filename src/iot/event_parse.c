/* event_parse.c — one JSON event -> typed, validated, normalized iot_event
 * (rules and their order in event.h). */
#include "iot/event.h"
#include "iot/event_names.h"
#include "iot/jscan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/timeutil.h"
#include "util/utf8.h"

#define MAX_DEPTH 64
#define MAX_ID_LEN 256
#define MAX_EPOCH_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

enum { JT_ABSENT = 0, JT_STRING, JT_NUMBER, JT_BOOL, JT_NULL, JT_OBJECT, JT_ARRAY };

/* A scanned value of a known field. Strings keep their raw body (escapes undecoded). */
typedef struct jval {
    int type;
    int has_esc;
    const char *p;
    size_t n;
    jnum num;
} jval;

void iot_parse_opts_init(iot_parse_opts *o)
{
    o->max_len = 1u << 20;
    o->now_us = 0;
    o->future_tolerance_us = 5 * 60 * 1000000LL;
}

/* Fills res (when given) and returns r. The detail is formatted only on failure. */
__attribute__((format(printf, 6, 7))) static iot_reason fail(iot_result *res, iot_reason r, iot_field f,
                                                             const char *name, size_t off, const char *fmt, ...)
{
    if (!res) return r;
    res->reason = r;
    res->field = f;
    res->name = name ? name : iot_reason_str(r);
    res->offset = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
    return r;
}

/* Maps a key to its field by length then bytes; IOT_F_NONE for unknown keys. */
static iot_field match_key(const char *k, size_t n)
{
#define K(s, f) \
    if (!memcmp(k, s, n)) return f
    switch (n) {
    case 3: K("seq", IOT_F_SEQ); break;
    case 4: K("unit", IOT_F_UNIT); break;
    case 5:
        K("floor", IOT_F_FLOOR);
        K("value", IOT_F_VALUE);
        break;
    case 7: K("room_id", IOT_F_ROOM_ID); break;
    case 8: K("event_id", IOT_F_EVENT_ID); break;
    case 9: K("sensor_id", IOT_F_SENSOR_ID); break;
    case 10: K("event_time", IOT_F_EVENT_TIME); break;
    case 11:
        K("building_id", IOT_F_BUILDING_ID);
        K("sensor_type", IOT_F_SENSOR_TYPE);
        K("battery_pct", IOT_F_BATTERY_PCT);
        break;
    case 14: K("schema_version", IOT_F_SCHEMA_VERSION); break;
    default: break;
    }
#undef K
    return IOT_F_NONE;
}

static const char *type_name(int t)
{
    static const char *const n[] = {"absent", "a string", "a number", "a boolean", "null", "an object", "an array"};
    return n[t];
}

/* Scans one value into *v (known field). Returns a JS_* code, *next after it. */
static int scan_value(const char *p, const char *end, const char **next, jval *v)
{
    int rc;
    v->has_esc = 0;
    switch (*p) {
    case '"':
        rc = js_string(p + 1, end, next, &v->has_esc);
        if (rc != JS_OK) return rc;
        v->type = JT_STRING;
        v->p = p + 1;
        v->n = (size_t)(*next - (p + 1));
        (*next)++;
        return JS_OK;
    case '{':
    case '[':
        v->type = *p == '{' ? JT_OBJECT : JT_ARRAY;
        return js_skip_value(p, end, next, MAX_DEPTH - 1);
    case 't':
    case 'f':
        v->type = JT_BOOL;
        return js_skip_value(p, end, next, 0);
    case 'n':
        v->type = JT_NULL;
        return js_skip_value(p, end, next, 0);
    default:
        v->type = JT_NUMBER;
        return js_number(p, end, next, &v->num);
    }
}

/* Reports a syntax or UTF-8 error found by the scanner at `at`. */
static iot_reason scan_fail(iot_result *res, int rc, const char *buf, const char *end, const char *at,
                            const char *what)
{
    size_t off = (size_t)(at - buf);
    if (rc == JS_BAD_UTF8)
        return fail(res, IOT_INVALID_UTF8, IOT_F_NONE, NULL, off, "unpaired UTF-16 surrogate escape at byte %zu", off);
    if (at >= end)
        return fail(res, IOT_MALFORMED_JSON, IOT_F_NONE, NULL, off, "unexpected end of input at byte %zu (%s)", off,
                    what);
    return fail(res, IOT_MALFORMED_JSON, IOT_F_NONE, NULL, off, "unexpected character '%c' at byte %zu (%s)",
                (*at >= 0x20 && *at < 0x7f) ? *at : '?', off, what);
}

/* Scans the top-level object into vals[] (last duplicate wins). */
static iot_reason scan_object(const char *buf, size_t len, jval *vals, iot_result *res)
{
    const char *end = buf + len, *next;
    const char *p = js_ws(buf, end);
    int rc;
    if (p >= end) return fail(res, IOT_MALFORMED_JSON, IOT_F_NONE, NULL, 0, "empty input");
    if (*p != '{') {
        rc = js_skip_value(p, end, &next, MAX_DEPTH);
        if (rc == JS_OK && js_ws(next, end) == end)
            return fail(res, IOT_NOT_AN_OBJECT, IOT_F_NONE, NULL, 0, "the event is a JSON %s, not an object",
                        *p == '[' ? "array" : *p == '"' ? "string" : (*p == 't' || *p == 'f') ? "boolean"
                                                                : *p == 'n' ? "null" : "number");
        return scan_fail(res, rc == JS_OK ? JS_SYNTAX : rc, buf, end, rc == JS_OK ? js_ws(next, end) : next,
                         "top-level value");
    }
    p = js_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= end || *p != '"') return scan_fail(res, JS_SYNTAX, buf, end, p, "expected a key");
            int esc;
            rc = js_string(p + 1, end, &next, &esc);
            if (rc != JS_OK) return scan_fail(res, rc, buf, end, next, "in a key");
            iot_field f;
            if (!esc) {
                f = match_key(p + 1, (size_t)(next - p - 1));
            } else {
                char k[32];
                size_t kn = (size_t)(next - p - 1);
                f = IOT_F_NONE;
                if (kn <= sizeof k) f = match_key(k, js_decode(p + 1, kn, k));
            }
            p = js_ws(next + 1, end);
            if (p >= end || *p != ':') return scan_fail(res, JS_SYNTAX, buf, end, p, "expected ':'");
            p = js_ws(p + 1, end);
            if (p >= end) return scan_fail(res, JS_SYNTAX, buf, end, p, "expected a value");
            if (f != IOT_F_NONE) {
                rc = scan_value(p, end, &next, &vals[f]);
            } else {
                rc = js_skip_value(p, end, &next, MAX_DEPTH - 1);
            }
            if (rc != JS_OK) return scan_fail(res, rc, buf, end, next, "in a value");
            p = js_ws(next, end);
            if (p < end && *p == ',') {
                p = js_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return scan_fail(res, JS_SYNTAX, buf, end, p, "expected ',' or '}'");
        }
    }
    p = js_ws(p, end);
    if (p != end) return scan_fail(res, JS_SYNTAX, buf, end, p, "after the object");
    return IOT_OK;
}

/* The verdict of an accepted input. */
static iot_reason ok_result(iot_result *res)
{
    if (res) {
        res->reason = IOT_OK;
        res->field = IOT_F_NONE;
        res->name = "ok";
        res->offset = 0;
        res->detail[0] = '\0';
    }
    return IOT_OK;
}

static const iot_parse_opts *opts_or_default(const iot_parse_opts *o, iot_parse_opts *dflt)
{
    if (o) return o;
    iot_parse_opts_init(dflt);
    return dflt;
}

/* Rules 1 to 3: size, UTF-8, one JSON object scanned into vals[]. */
static iot_reason scan_checked(const char *buf, size_t len, const iot_parse_opts *opts, jval *vals, iot_result *res)
{
    if (len > opts->max_len)
        return fail(res, IOT_LINE_TOO_LONG, IOT_F_NONE, NULL, 0, "event of %zu bytes is over the %zu-byte limit", len,
                    opts->max_len);
    size_t bad = st_utf8_valid_prefix(buf, len);
    if (bad < len)
        return fail(res, IOT_INVALID_UTF8, IOT_F_NONE, NULL, bad, "invalid UTF-8 byte 0x%02x at byte %zu",
                    (unsigned char)buf[bad], bad);
    memset(vals, 0, IOT_F_COUNT * sizeof *vals);
    return scan_object(buf, len, vals, res);
}

/* Decoded string of a JT_STRING value: the raw body, or a decoded copy in the arena. */
static int get_str(const jval *v, iot_arena *arena, iot_str *out)
{
    if (!v->has_esc) {
        out->ptr = v->p;
        out->len = v->n;
        return 0;
    }
    if (!arena) return -1;
    char *d = iot_arena_alloc(arena, v->n ? v->n : 1);
    out->len = js_decode(v->p, v->n, d);
    out->ptr = d;
    return 0;
}

/* [a-z][a-z0-9_]{0,31} */
static int valid_type_name(iot_str s)
{
    if (s.len < 1 || s.len > 32 || s.ptr[0] < 'a' || s.ptr[0] > 'z') return 0;
    for (size_t i = 1; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

/* 1..16 bytes, no control bytes (UTF-8 was checked already). */
static int valid_unit(iot_str s)
{
    if (s.len < 1 || s.len > 16) return 0;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f) return 0;
    return 1;
}

/* See event.h: rules 1-3, then the checks of rules 5-7 for sensor_id alone. */
iot_reason iot_event_sensor_id(const char *buf, size_t len, const iot_parse_opts *opts, iot_arena *arena,
                               iot_str *sensor_id, iot_result *res)
{
    iot_parse_opts dflt;
    opts = opts_or_default(opts, &dflt);
    jval v[IOT_F_COUNT];
    iot_reason r = scan_checked(buf, len, opts, v, res);
    if (r != IOT_OK) return r;
    const jval *sv = &v[IOT_F_SENSOR_ID];
    const iot_field f = IOT_F_SENSOR_ID;
    sensor_id->ptr = NULL;
    sensor_id->len = 0;
    if (sv->type == JT_ABSENT || sv->type == JT_NULL)
        return fail(res, IOT_MISSING_FIELD, f, iot_name_field_reason(IOT_MISSING_FIELD, f), 0,
                    "required field 'sensor_id' is %s", sv->type == JT_NULL ? "null" : "missing");
    if (sv->type != JT_STRING)
        return fail(res, IOT_WRONG_TYPE, f, iot_name_field_reason(IOT_WRONG_TYPE, f), 0,
                    "field 'sensor_id' is %s, expected a string", type_name(sv->type));
    if (get_str(sv, arena, sensor_id) || sensor_id->len == 0 || sensor_id->len > MAX_ID_LEN)
        return fail(res, IOT_INVALID_FIELD, f, iot_name_field_reason(IOT_INVALID_FIELD, f), 0,
                    "field 'sensor_id' is %s", !arena && sv->has_esc ? "escaped but no arena was given"
                                               : sensor_id->len ? "longer than 256 bytes" : "empty");
    return ok_result(res);
}

/* Integral number within [lo, hi] -> *out; -1 not integral/out of range. */
static int get_int(const jnum *n, int64_t lo, int64_t hi, int64_t *out)
{
    if (n->is_int) {
        if (n->i < lo || n->i > hi) return -1;
        *out = n->i;
        return 0;
    }
    if (!isfinite(n->d) || n->d != floor(n->d) || n->d < (double)lo || n->d > (double)hi) return -1;
    *out = (int64_t)n->d;
    return 0;
}

/* ISO-8601 with a zone ('Z' or an offset after the seconds): no zone is refused
 * because it would silently mean the sender's local time. */
static int parse_time_str(iot_str s, int64_t *us)
{
    if (s.len < 20) return -1;
    int zoned = s.ptr[s.len - 1] == 'Z' || s.ptr[s.len - 1] == 'z';
    for (size_t i = 19; i < s.len && !zoned; i++) zoned = s.ptr[i] == '+' || s.ptr[i] == '-';
    if (!zoned) return -1;
    return st_parse_iso_us(s.ptr, s.len, us);
}

static int64_t floordiv64(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static const iot_field required[] = {IOT_F_EVENT_ID, IOT_F_SENSOR_ID, IOT_F_BUILDING_ID, IOT_F_FLOOR,
                                     IOT_F_ROOM_ID,  IOT_F_SENSOR_TYPE, IOT_F_VALUE,   IOT_F_UNIT,
                                     IOT_F_EVENT_TIME, IOT_F_SEQ};
#define N_REQUIRED (sizeof required / sizeof required[0])

/* Expected JSON type of each field for rule 6 (event_time also takes a number). */
static int want_type(iot_field f)
{
    switch (f) {
    case IOT_F_SCHEMA_VERSION:
    case IOT_F_FLOOR:
    case IOT_F_VALUE:
    case IOT_F_SEQ:
    case IOT_F_BATTERY_PCT: return JT_NUMBER;
    default: return JT_STRING;
    }
}

/* Rule 8's verdict, naming the units the kind accepts. Off the hot path. */
static iot_reason unit_mismatch(iot_result *res, const iot_kind *k, const iot_event *ev)
{
    char units[64];
    size_t n = 0;
    units[0] = '\0';
    for (size_t i = 0; i < k->nunits; i++) {
        int w = snprintf(units + n, sizeof units - n, "%s%s", i ? ", " : "", k->units[i].name);
        if (w < 0 || (size_t)w >= sizeof units - n) break;
        n += (size_t)w;
    }
    return fail(res, IOT_UNIT_MISMATCH, IOT_F_UNIT, k->mismatch_name, 0, "unit '%.*s' does not fit %s (accepted: %s)",
                (int)ev->unit.len, ev->unit.ptr, k->name, units);
}

/* See event.h. */
iot_reason iot_event_parse(const char *buf, size_t len, const iot_parse_opts *opts, iot_arena *arena,
                           iot_event *ev, iot_result *res)
{
    iot_parse_opts dflt;
    opts = opts_or_default(opts, &dflt);
    jval v[IOT_F_COUNT];
    iot_reason r = scan_checked(buf, len, opts, v, res);
    if (r != IOT_OK) return r;

    /* 4. schema_version */
    ev->schema_version = 1;
    if (v[IOT_F_SCHEMA_VERSION].type != JT_ABSENT && v[IOT_F_SCHEMA_VERSION].type != JT_NULL) {
        int64_t sv;
        if (v[IOT_F_SCHEMA_VERSION].type != JT_NUMBER)
            return fail(res, IOT_WRONG_TYPE, IOT_F_SCHEMA_VERSION, iot_name_field_reason(IOT_WRONG_TYPE, IOT_F_SCHEMA_VERSION),
                        0, "schema_version is %s, expected a number", type_name(v[IOT_F_SCHEMA_VERSION].type));
        if (get_int(&v[IOT_F_SCHEMA_VERSION].num, 1, 1, &sv))
            return fail(res, IOT_UNSUPPORTED_SCHEMA_VERSION, IOT_F_SCHEMA_VERSION, NULL, 0,
                        "schema_version %g is not supported (only 1)", v[IOT_F_SCHEMA_VERSION].num.d);
    }
    /* 5. required fields */
    for (size_t i = 0; i < N_REQUIRED; i++) {
        iot_field f = required[i];
        if (v[f].type == JT_ABSENT || v[f].type == JT_NULL)
            return fail(res, IOT_MISSING_FIELD, f, iot_name_field_reason(IOT_MISSING_FIELD, f), 0,
                        "required field '%s' is %s", iot_field_str(f), v[f].type == JT_NULL ? "null" : "missing");
    }
    /* 6. types */
    for (int f = IOT_F_EVENT_ID; f < IOT_F_COUNT; f++) {
        int t = v[f].type;
        if (t == JT_ABSENT || t == JT_NULL) continue; /* only battery_pct can get here */
        int ok = t == want_type((iot_field)f) || (f == IOT_F_EVENT_TIME && t == JT_NUMBER);
        if (!ok)
            return fail(res, IOT_WRONG_TYPE, (iot_field)f, iot_name_field_reason(IOT_WRONG_TYPE, (iot_field)f), 0,
                        "field '%s' is %s, expected %s", iot_field_str((iot_field)f), type_name(t),
                        f == IOT_F_EVENT_TIME ? "an ISO-8601 string or epoch milliseconds"
                                              : type_name(want_type((iot_field)f)));
    }
    /* 7. contents */
    static const iot_field strs[] = {IOT_F_EVENT_ID, IOT_F_SENSOR_ID, IOT_F_BUILDING_ID, IOT_F_ROOM_ID,
                                     IOT_F_SENSOR_TYPE, IOT_F_UNIT};
    iot_str *dst[] = {&ev->event_id, &ev->sensor_id, &ev->building_id, &ev->room_id, &ev->sensor_type, &ev->unit};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        iot_field f = strs[i];
        if (get_str(&v[f], arena, dst[i]))
            return fail(res, IOT_INVALID_FIELD, f, iot_name_field_reason(IOT_INVALID_FIELD, f), 0,
                        "field '%s' has escapes but no arena was given to decode them", iot_field_str(f));
        if (dst[i]->len == 0 || dst[i]->len > MAX_ID_LEN)
            return fail(res, IOT_INVALID_FIELD, f, iot_name_field_reason(IOT_INVALID_FIELD, f), 0,
                        "field '%s' is %s", iot_field_str(f), dst[i]->len ? "longer than 256 bytes" : "empty");
    }
    if (!valid_type_name(ev->sensor_type))
        return fail(res, IOT_INVALID_FIELD, IOT_F_SENSOR_TYPE, iot_name_field_reason(IOT_INVALID_FIELD, IOT_F_SENSOR_TYPE),
                    0, "sensor_type '%.*s' is not of the form [a-z][a-z0-9_]{0,31}", (int)ev->sensor_type.len,
                    ev->sensor_type.ptr);
    if (!valid_unit(ev->unit))
        return fail(res, IOT_INVALID_FIELD, IOT_F_UNIT, iot_name_field_reason(IOT_INVALID_FIELD, IOT_F_UNIT), 0,
                    "unit must be 1 to 16 printable bytes");
    int64_t iv;
    if (get_int(&v[IOT_F_FLOOR].num, -1000, 1000, &iv))
        return fail(res, IOT_INVALID_FIELD, IOT_F_FLOOR, iot_name_field_reason(IOT_INVALID_FIELD, IOT_F_FLOOR), 0,
                    "floor %g is not an integer in -1000..1000", v[IOT_F_FLOOR].num.d);
    ev->floor = (int32_t)iv;
    if (get_int(&v[IOT_F_SEQ].num, 0, INT64_MAX, &iv))
        return fail(res, IOT_INVALID_FIELD, IOT_F_SEQ, iot_name_field_reason(IOT_INVALID_FIELD, IOT_F_SEQ), 0,
                    "seq %g is not a non-negative integer", v[IOT_F_SEQ].num.d);
    ev->seq = iv;
    ev->value = v[IOT_F_VALUE].num.d;
    if (!isfinite(ev->value))
        return fail(res, IOT_INVALID_FIELD, IOT_F_VALUE, iot_name_field_reason(IOT_INVALID_FIELD, IOT_F_VALUE), 0,
                    "value overflows a double");
    ev->has_battery = v[IOT_F_BATTERY_PCT].type == JT_NUMBER;
    ev->battery_pct = ev->has_battery ? v[IOT_F_BATTERY_PCT].num.d : NAN;
    const jval *tv = &v[IOT_F_EVENT_TIME];
    if (tv->type == JT_STRING) {
        iot_str ts;
        if (get_str(tv, arena, &ts) || parse_time_str(ts, &ev->event_time_us))
            return fail(res, IOT_INVALID_FIELD, IOT_F_EVENT_TIME,
                        iot_name_field_reason(IOT_INVALID_FIELD, IOT_F_EVENT_TIME), 0,
                        "event_time '%.*s' is not ISO-8601 with 'Z' or an offset", (int)(tv->n > 40 ? 40 : tv->n),
                        tv->p);
    } else {
        int64_t ms;
        if (tv->num.is_int) {
            if (tv->num.i < 0 || tv->num.i > MAX_EPOCH_MS) goto bad_epoch;
            ms = tv->num.i;
            ev->event_time_us = ms * 1000;
        } else {
            if (!(tv->num.d >= 0 && tv->num.d <= (double)MAX_EPOCH_MS)) goto bad_epoch;
            ev->event_time_us = llround(tv->num.d * 1000.0);
        }
    }
    ev->event_date = (int32_t)floordiv64(ev->event_time_us, 86400000000LL);

    /* 8. unit per known kind, 9. conversion to its canonical unit, 10. its range */
    const iot_kind *kind = iot_kind_find(ev->sensor_type.ptr, ev->sensor_type.len);
    ev->converted_from_f = 0;
    if (kind) {
        const iot_unit *u = iot_kind_unit(kind, ev->unit.ptr, ev->unit.len);
        if (!u) return unit_mismatch(res, kind, ev);
        if (u->to_canonical) ev->value = u->to_canonical(ev->value);
        ev->converted_from_f = u->converted_from_f;
        ev->unit.ptr = kind->unit;
        ev->unit.len = kind->unit_len;
        if (!(ev->value >= kind->min && ev->value <= kind->max))
            return fail(res, IOT_IMPOSSIBLE_VALUE, IOT_F_VALUE, kind->impossible_name, 0,
                        "%s value %g %s is outside %g..%g", kind->name, ev->value, kind->unit, kind->min, kind->max);
    }
    if (ev->has_battery && !(ev->battery_pct >= 0 && ev->battery_pct <= 100))
        return fail(res, IOT_IMPOSSIBLE_VALUE, IOT_F_BATTERY_PCT, "impossible_value:battery_pct", 0,
                    "battery_pct %g is outside 0..100", ev->battery_pct);
    /* 11. future */
    if (opts->future_tolerance_us >= 0) {
        int64_t now = opts->now_us ? opts->now_us : st_now_us();
        if (ev->event_time_us > now + opts->future_tolerance_us) {
            char a[40], b[40];
            st_format_iso_us(ev->event_time_us, a, sizeof a, 1);
            st_format_iso_us(now, b, sizeof b, 1);
            return fail(res, IOT_FUTURE_TIMESTAMP, IOT_F_EVENT_TIME, NULL, 0,
                        "event_time %s is more than %llds after now (%s)", a,
                        (long long)(opts->future_tolerance_us / 1000000), b);
        }
    }
    return ok_result(res);

bad_epoch:
    return fail(res, IOT_INVALID_FIELD, IOT_F_EVENT_TIME, iot_name_field_reason(IOT_INVALID_FIELD, IOT_F_EVENT_TIME), 0,
                "event_time %g is not epoch milliseconds in 0..9999-12-31", tv->num.d);
}
