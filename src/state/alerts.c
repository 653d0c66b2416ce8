/* alerts.c — the open/close state machine per (rule, subject) (see alerts.h). */
#include "state/alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/binio.h"
#include "util/hash.h"
#include "util/htab.h"
#include "util/timeutil.h"

#define ALERT_MAGIC 0x414c5431u /* "ALT1" */

typedef struct alert_entry {
    size_t rule;               /* index into the rules */
    char *subject;             /* sensor id (consecutive) or "building/floor/room" (window) */
    int64_t fail_run, ok_run;  /* readings/windows in a row failing / passing */
    int open;
    char *alert_id;            /* of the open alert */
    double bound;              /* bound crossed by the open alert */
} alert_entry;

struct alert_engine {
    const alert_rules *rules;
    st_htab entries;           /* entry_hash -> alert_entry * */
    size_t open;
};

/* ------------------------------------------------------------------ alert lists */

static void event_free(alert_event *a)
{
    free(a->alert_id);
    free(a->rule);
    free(a->sensor_id);
    free(a->building_id);
    free(a->room_id);
    free(a->sensor_type);
}

void alert_list_clear(alert_list *l)
{
    for (size_t i = 0; i < l->count; i++) event_free(&l->items[i]);
    l->count = 0;
}

void alert_list_free(alert_list *l)
{
    if (!l) return;
    alert_list_clear(l);
    free(l->items);
    l->items = NULL;
    l->cap = 0;
}

alert_event *alert_list_push(alert_list *l)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = st_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    alert_event *a = &l->items[l->count++];
    memset(a, 0, sizeof *a);
    return a;
}

/* Appends ,"key":"<ISO-8601 UTC>". */
static void json_time(st_buf *out, const char *key, int64_t us)
{
    char t[48];
    size_t n = st_format_iso_us(us, t, sizeof t, 0);
    st_buf_printf(out, ",\"%s\":", key);
    st_buf_append_json_str(out, t, n);
}

/* Appends [,]"key":"<s escaped>". */
static void json_str(st_buf *out, const char *key, const char *s, int first)
{
    st_buf_printf(out, "%s\"%s\":", first ? "" : ",", key);
    st_buf_append_json_str(out, s, strlen(s));
}

void alert_event_to_json(const alert_event *a, st_buf *out)
{
    st_buf_append_u8(out, '{');
    json_str(out, "alert_id", a->alert_id, 1);
    json_str(out, "state", a->state, 0);
    json_str(out, "rule", a->rule, 0);
    json_str(out, "sensor_id", a->sensor_id, 0);
    json_str(out, "building_id", a->building_id, 0);
    st_buf_printf(out, ",\"floor\":%d", (int)a->floor);
    json_str(out, "room_id", a->room_id, 0);
    json_str(out, "sensor_type", a->sensor_type, 0);
    st_buf_append_str(out, ",\"value\":");
    iot_append_double(out, a->value);
    st_buf_append_str(out, ",\"threshold\":");
    iot_append_double(out, a->threshold);
    json_time(out, "event_time", a->event_time_us);
    json_time(out, "detection_time", a->detection_time_us);
    st_buf_append_u8(out, '}');
}

/* ------------------------------------------------------------------ engine table */

alert_engine *alert_engine_new(const alert_rules *rules)
{
    alert_engine *a = st_xcalloc(1, sizeof *a);
    a->rules = rules;
    return a;
}

static alert_entry *entry_of(uint64_t val) { return (alert_entry *)(uintptr_t)val; }

/* Frees every (rule, subject) entry; the engine is then empty. */
static void clear_entries(alert_engine *a)
{
    size_t pos = 0;
    for (st_hslot *s; (s = st_htab_next(&a->entries, &pos));) {
        alert_entry *x = entry_of(s->val);
        free(x->subject);
        free(x->alert_id);
        free(x);
    }
    st_htab_clear(&a->entries);
    a->open = 0;
}

void alert_engine_destroy(alert_engine *a)
{
    if (!a) return;
    clear_entries(a);
    st_htab_free(&a->entries);
    free(a);
}

size_t alert_engine_open_count(const alert_engine *a) { return a->open; }
size_t alert_engine_size(const alert_engine *a) { return a->entries.count; }

/* Keeps an entry with an open alert or a failing run; frees the others. */
static int keep_busy(void *ctx, const st_hslot *s)
{
    (void)ctx;
    alert_entry *x = entry_of(s->val);
    if (x->open || x->fail_run) return 1;
    free(x->subject);
    free(x->alert_id);
    free(x);
    return 0;
}

/* When not open, ok_run plays no part (only fail_run opens), so !open && fail_run == 0 is the
 * state of a new entry. */
void alert_engine_forget_idle(alert_engine *a) { st_htab_retain(&a->entries, keep_busy, NULL); }

/* Hash of (rule index, subject). */
static uint64_t entry_hash(size_t rule, const char *subject, size_t n)
{
    return st_htab_hash(st_hash_mix64(st_fnv1a64(subject, n) ^ (uint64_t)rule));
}

/* A lookup key. */
typedef struct entry_key {
    size_t rule;
    const char *subject;
    size_t n;
} entry_key;

static int entry_eq(const void *k, uint64_t val)
{
    const entry_key *q = k;
    const alert_entry *x = entry_of(val);
    return x->rule == q->rule && strlen(x->subject) == q->n && !memcmp(x->subject, q->subject, q->n);
}

/* Finds or creates the entry of (rule, subject). O(1) expected. */
static alert_entry *entry_get(alert_engine *a, size_t rule, const char *subject, size_t n)
{
    entry_key k = {rule, subject, n};
    int found;
    st_hslot *s = st_htab_upsert(&a->entries, entry_hash(rule, subject, n), entry_eq, &k, &found);
    if (found) return entry_of(s->val);
    alert_entry *x = st_xcalloc(1, sizeof *x);
    x->rule = rule;
    x->subject = st_xstrndup(subject, n);
    s->val = (uintptr_t)x;
    return x;
}

/* ------------------------------------------------------------------ state machine */

typedef struct subject_info {
    const char *sensor_id, *building_id, *room_id, *sensor_type;
    size_t sensor_len, building_len, room_len, type_len;
    int32_t floor;
    double value;
    int64_t event_time_us;
} subject_info;

/* Appends one open/close row for entry x, with the value and time of s. */
static void emit(alert_list *out, const alert_rule *rule, const alert_entry *x, const char *state,
                 const subject_info *s, double bound, int64_t detection_us)
{
    alert_event *ev = alert_list_push(out);
    ev->alert_id = st_xstrdup(x->alert_id);
    ev->state = state;
    ev->rule = st_xstrdup(rule->name);
    ev->sensor_id = st_xstrndup(s->sensor_id, s->sensor_len);
    ev->building_id = st_xstrndup(s->building_id, s->building_len);
    ev->room_id = st_xstrndup(s->room_id, s->room_len);
    ev->sensor_type = st_xstrndup(s->sensor_type, s->type_len);
    ev->floor = s->floor;
    ev->value = s->value;
    ev->threshold = bound;
    ev->event_time_us = s->event_time_us;
    ev->detection_time_us = detection_us;
}

/* Feeds one test outcome to the entry; opens or closes as the rule's N says. */
static void step(alert_engine *a, alert_entry *x, const alert_rule *rule, const subject_info *s,
                 int64_t detection_us, alert_list *out)
{
    double bound = 0;
    int fails = alert_rule_fails(rule, s->value, &bound);
    if (fails) {
        x->fail_run++;
        x->ok_run = 0;
    } else if (alert_rule_recovered(rule, s->value)) {
        x->ok_run++;
        x->fail_run = 0;
    } else { /* inside the hysteresis band: neither */
        x->fail_run = x->ok_run = 0;
    }
    if (!x->open && x->fail_run >= rule->n) {
        char t[48];
        st_format_iso_us(s->event_time_us, t, sizeof t, 0);
        st_buf id = {0};
        st_buf_printf(&id, "%s/%s/%s", rule->name, x->subject, t);
        free(x->alert_id);
        x->alert_id = (char *)st_buf_detach(&id, NULL);
        x->open = 1;
        x->bound = bound;
        a->open++;
        emit(out, rule, x, "open", s, bound, detection_us);
    } else if (x->open && x->ok_run >= rule->n) {
        emit(out, rule, x, "close", s, x->bound, detection_us);
        x->open = 0;
        a->open--;
        free(x->alert_id);
        x->alert_id = NULL;
    }
}

/* The rule applies to sensor type t[0..n). */
static int type_is(const alert_rule *rule, const char *t, size_t n)
{
    return strlen(rule->sensor_type) == n && !memcmp(rule->sensor_type, t, n);
}

void alert_engine_on_reading(alert_engine *a, const alert_reading *r, int64_t detection_us, alert_list *out)
{
    for (size_t i = 0; i < alert_rules_count(a->rules); i++) {
        const alert_rule *rule = alert_rules_get(a->rules, i);
        if (rule->mode != ALERT_MODE_CONSECUTIVE || !type_is(rule, r->sensor_type.ptr, r->sensor_type.len))
            continue;
        subject_info s = {r->sensor_id.ptr, r->building_id.ptr, r->room_id.ptr, r->sensor_type.ptr,
                          r->sensor_id.len, r->building_id.len, r->room_id.len, r->sensor_type.len,
                          r->floor, r->value, r->event_time_us};
        alert_entry *x = entry_get(a, i, r->sensor_id.ptr, r->sensor_id.len);
        step(a, x, rule, &s, detection_us, out);
    }
}

void alert_engine_on_window(alert_engine *a, const win_result *w, int64_t detection_us, alert_list *out)
{
    size_t tl = strlen(w->sensor_type);
    for (size_t i = 0; i < alert_rules_count(a->rules); i++) {
        const alert_rule *rule = alert_rules_get(a->rules, i);
        if (rule->mode != ALERT_MODE_WINDOW || !type_is(rule, w->sensor_type, tl)) continue;
        st_buf subj = {0};
        st_buf_printf(&subj, "%s/%d/%s", w->building_id, (int)w->floor, w->room_id);
        const char *sid = w->last_sensor_id ? w->last_sensor_id : "";
        subject_info s = {sid, w->building_id, w->room_id, w->sensor_type, strlen(sid), strlen(w->building_id),
                          strlen(w->room_id), tl, w->floor, w->avg, w->start_us};
        alert_entry *x = entry_get(a, i, (const char *)subj.data, subj.len);
        st_buf_free(&subj);
        step(a, x, rule, &s, detection_us, out);
    }
}

/* ------------------------------------------------------------------ persistence */

void alert_engine_save(const alert_engine *a, st_buf *out)
{
    binio_put_u32(out, ALERT_MAGIC);
    binio_put_i64(out, (int64_t)a->entries.count);
    size_t pos = 0;
    for (st_hslot *s; (s = st_htab_next(&a->entries, &pos));) {
        const alert_entry *x = entry_of(s->val);
        const char *rn = alert_rules_get(a->rules, x->rule)->name;
        binio_put_str(out, rn, strlen(rn));
        binio_put_str(out, x->subject, strlen(x->subject));
        binio_put_i64(out, x->fail_run);
        binio_put_i64(out, x->ok_run);
        binio_put_i64(out, x->open);
        binio_put_str(out, x->alert_id ? x->alert_id : "", x->alert_id ? strlen(x->alert_id) : 0);
        binio_put_f64(out, x->bound);
    }
}

st_code alert_engine_load(alert_engine *a, binio_reader *r, st_err *e)
{
    uint32_t magic;
    int64_t count;
    clear_entries(a);
    if (binio_get_u32(r, &magic, e)) return ST_ERR_FORMAT;
    if (magic != ALERT_MAGIC) return st_err_set(e, ST_ERR_FORMAT, "%s: alert state: bad magic", r->what);
    if (binio_get_i64(r, &count, e)) return ST_ERR_FORMAT;
    if (count < 0 || (uint64_t)count > (uint64_t)(r->end - r->p))
        return st_err_set(e, ST_ERR_FORMAT, "%s: alert state: bad entry count", r->what);
    for (int64_t k = 0; k < count; k++) {
        char *rn = NULL, *subject = NULL, *id = NULL;
        int64_t fail_run = 0, ok_run = 0, open = 0;
        double bound = 0;
        size_t sl = 0;
        st_code rc = binio_get_str(r, &rn, NULL, e);
        if (!rc) rc = binio_get_str(r, &subject, &sl, e);
        if (!rc) rc = binio_get_i64(r, &fail_run, e);
        if (!rc) rc = binio_get_i64(r, &ok_run, e);
        if (!rc) rc = binio_get_i64(r, &open, e);
        if (!rc) rc = binio_get_str(r, &id, NULL, e);
        if (!rc) rc = binio_get_f64(r, &bound, e);
        size_t rule = SIZE_MAX;
        if (!rc)
            for (size_t i = 0; i < alert_rules_count(a->rules); i++)
                if (!strcmp(alert_rules_get(a->rules, i)->name, rn)) rule = i;
        if (!rc && rule != SIZE_MAX) {
            alert_entry *x = st_xcalloc(1, sizeof *x);
            x->rule = rule;
            x->subject = subject;
            subject = NULL;
            x->fail_run = fail_run;
            x->ok_run = ok_run;
            x->open = open != 0;
            x->bound = bound;
            if (x->open) {
                x->alert_id = id;
                id = NULL;
                a->open++;
            }
            st_htab_insert(&a->entries, entry_hash(rule, x->subject, sl), (uintptr_t)x);
        }
        free(rn);
        free(subject);
        free(id);
        if (rc) {
            clear_entries(a);
            return rc;
        }
    }
    return ST_OK;
}
