/* window.c — tumbling windows with a watermark (see window.h for the semantics). */
#include "state/window.h"

#include <stdlib.h>
#include <string.h>

#include "util/binio.h"
#include "util/hash.h"
#include "util/htab.h"

#define WIN_MAGIC 0x57494e31u /* "WIN1" */

typedef struct win_entry {
    win_result r;              /* strings owned by the entry */
} win_entry;

struct win_state {
    int64_t width, lateness;
    int64_t max_t;             /* max event time as of the last advance; INT64_MIN before */
    int64_t pending_max;       /* max event time of the readings added since (or INT64_MIN) */
    int64_t flush_mark;        /* INT64_MIN before the first flush */
    st_htab open;              /* key_hash -> win_entry * */
};

/* floor(t / w) * w for any sign of t. */
static int64_t window_start(int64_t t, int64_t w)
{
    int64_t m = t % w;
    if (m < 0) m += w;
    return t - m;
}

/* FNV-1a over n more bytes, then a separator so ("ab","c") != ("a","bc"). */
static uint64_t mix(uint64_t h, const void *p, size_t n) { return st_fnv1a64_more(h, p, n) ^ 0xff; }

/* Hash of a window key (building, floor, room, type, start). O(key length). */
static uint64_t key_hash(const char *b, size_t bl, int32_t floor, const char *r, size_t rl, const char *t,
                         size_t tl, int64_t start)
{
    uint64_t h = ST_FNV64_OFFSET;
    h = mix(h, b, bl);
    h = mix(h, &floor, sizeof floor);
    h = mix(h, r, rl);
    h = mix(h, t, tl);
    h = mix(h, &start, sizeof start);
    return st_htab_hash(st_hash_mix64(h));
}

/* a (NUL-terminated) equals b[0..bl). */
static int str_eq(const char *a, const char *b, size_t bl) { return strlen(a) == bl && !memcmp(a, b, bl); }

static win_entry *entry_of(uint64_t val) { return (win_entry *)(uintptr_t)val; }

/* A lookup key: the reading's window. */
typedef struct win_key {
    const win_reading *r;
    int64_t start;
} win_key;

static int key_eq(const void *k, uint64_t val)
{
    const win_key *q = k;
    const win_result *a = &entry_of(val)->r;
    return a->start_us == q->start && a->floor == q->r->floor &&
           str_eq(a->building_id, q->r->building_id.ptr, q->r->building_id.len) &&
           str_eq(a->room_id, q->r->room_id.ptr, q->r->room_id.len) &&
           str_eq(a->sensor_type, q->r->sensor_type.ptr, q->r->sensor_type.len);
}

win_state *win_state_new(int64_t width_us, int64_t lateness_us)
{
    win_state *w = st_xcalloc(1, sizeof *w);
    w->width = width_us > 0 ? width_us : 60000000;
    w->lateness = lateness_us >= 0 ? lateness_us : 0;
    w->max_t = INT64_MIN;
    w->pending_max = INT64_MIN;
    w->flush_mark = INT64_MIN;
    return w;
}

/* Frees the strings a win_result owns. */
static void result_free_strings(win_result *r)
{
    free(r->building_id);
    free(r->room_id);
    free(r->sensor_type);
    free(r->last_sensor_id);
}

/* Frees every entry and empties the table (keeps its memory). */
static void clear_entries(win_state *w)
{
    size_t pos = 0;
    for (st_hslot *s; (s = st_htab_next(&w->open, &pos));) {
        result_free_strings(&entry_of(s->val)->r);
        free(entry_of(s->val));
    }
    st_htab_clear(&w->open);
}

void win_state_destroy(win_state *w)
{
    if (!w) return;
    clear_entries(w);
    st_htab_free(&w->open);
    free(w);
}

void win_state_advance(win_state *w)
{
    if (w->pending_max > w->max_t) w->max_t = w->pending_max;
    w->pending_max = INT64_MIN;
}

int64_t win_state_watermark(const win_state *w)
{
    if (w->max_t == INT64_MIN) return INT64_MIN;
    return w->max_t < INT64_MIN + w->lateness ? INT64_MIN : w->max_t - w->lateness;
}

int64_t win_state_closed_until(const win_state *w)
{
    int64_t wm = win_state_watermark(w);
    return wm > w->flush_mark ? wm : w->flush_mark;
}

int64_t win_state_max_event_time(const win_state *w) { return w->max_t; }
size_t win_state_open_count(const win_state *w) { return w->open.count; }
int64_t win_state_width(const win_state *w) { return w->width; }

win_verdict win_state_add(win_state *w, const win_reading *r, int64_t *window_start_out)
{
    int64_t s = window_start(r->event_time_us, w->width);
    if (window_start_out) *window_start_out = s;
    /* s + width cannot overflow for real timestamps; guard anyway */
    int64_t end = s > INT64_MAX - w->width ? INT64_MAX : s + w->width;
    if (end <= win_state_closed_until(w)) return WIN_LATE;

    uint64_t h = key_hash(r->building_id.ptr, r->building_id.len, r->floor, r->room_id.ptr, r->room_id.len,
                          r->sensor_type.ptr, r->sensor_type.len, s);
    win_key k = {r, s};
    int found;
    st_hslot *slot = st_htab_upsert(&w->open, h, key_eq, &k, &found);
    win_entry *x;
    if (found) {
        x = entry_of(slot->val);
    } else {
        x = st_xcalloc(1, sizeof *x);
        slot->val = (uintptr_t)x;
        x->r.building_id = st_xstrndup(r->building_id.ptr, r->building_id.len);
        x->r.room_id = st_xstrndup(r->room_id.ptr, r->room_id.len);
        x->r.sensor_type = st_xstrndup(r->sensor_type.ptr, r->sensor_type.len);
        x->r.floor = r->floor;
        x->r.start_us = s;
        x->r.end_us = end;
        x->r.min = x->r.max = r->value;
        x->r.first_us = x->r.last_us = r->event_time_us;
    }
    win_result *a = &x->r;
    a->count++;
    a->sum += r->value;
    if (r->value < a->min) a->min = r->value;
    if (r->value > a->max) a->max = r->value;
    if (r->event_time_us < a->first_us) a->first_us = r->event_time_us;
    if (r->event_time_us >= a->last_us) {
        a->last_us = r->event_time_us;
        free(a->last_sensor_id);
        a->last_sensor_id = st_xstrndup(r->sensor_id.ptr, r->sensor_id.len);
    }
    if (r->event_time_us > w->pending_max) w->pending_max = r->event_time_us;
    return WIN_ACCEPTED;
}

/* Order of emitted windows: start, building, floor, room, sensor type. */
static int result_cmp(const void *pa, const void *pb)
{
    const win_result *a = pa, *b = pb;
    if (a->start_us != b->start_us) return a->start_us < b->start_us ? -1 : 1;
    int c = strcmp(a->building_id, b->building_id);
    if (c) return c;
    if (a->floor != b->floor) return a->floor < b->floor ? -1 : 1;
    if ((c = strcmp(a->room_id, b->room_id))) return c;
    return strcmp(a->sensor_type, b->sensor_type);
}

/* What take_closed collects while the table is rebuilt without the closed windows. */
typedef struct closing {
    int flush;
    int64_t until, max_end;
    win_result *res;
    size_t cnt, cap;
} closing;

/* Keeps an open window; moves a closed one (its strings too) to c->res. */
static int keep_open(void *p, const st_hslot *s)
{
    closing *c = p;
    win_entry *x = entry_of(s->val);
    if (!c->flush && x->r.end_us > c->until) return 1;
    if (c->cnt == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->res = st_xrealloc(c->res, c->cap * sizeof *c->res);
    }
    x->r.avg = x->r.sum / (double)x->r.count;
    if (x->r.end_us > c->max_end) c->max_end = x->r.end_us;
    c->res[c->cnt++] = x->r;
    free(x);
    return 0;
}

void win_state_take_closed(win_state *w, int flush, win_result **out, size_t *n)
{
    closing c = {flush, win_state_closed_until(w), INT64_MIN, NULL, 0, 0};
    st_htab_retain(&w->open, keep_open, &c);
    if (flush && c.max_end > w->flush_mark) w->flush_mark = c.max_end;
    if (c.cnt > 1) qsort(c.res, c.cnt, sizeof *c.res, result_cmp);
    *out = c.res;
    *n = c.cnt;
}

void win_results_free(win_result *r, size_t n)
{
    if (!r) return;
    for (size_t i = 0; i < n; i++) result_free_strings(&r[i]);
    free(r);
}

/* Writes a C string (NULL as empty). */
static void put_cstr(st_buf *b, const char *s) { binio_put_str(b, s, s ? strlen(s) : 0); }

void win_state_save(const win_state *w, st_buf *out)
{
    binio_put_u32(out, WIN_MAGIC);
    binio_put_i64(out, w->width);
    binio_put_i64(out, w->lateness);
    binio_put_i64(out, w->pending_max > w->max_t ? w->pending_max : w->max_t);
    binio_put_i64(out, w->flush_mark);
    binio_put_i64(out, (int64_t)w->open.count);
    size_t pos = 0;
    for (st_hslot *s; (s = st_htab_next(&w->open, &pos));) {
        const win_result *a = &entry_of(s->val)->r;
        put_cstr(out, a->building_id);
        binio_put_i64(out, a->floor);
        put_cstr(out, a->room_id);
        put_cstr(out, a->sensor_type);
        put_cstr(out, a->last_sensor_id);
        binio_put_i64(out, a->start_us);
        binio_put_i64(out, a->count);
        binio_put_f64(out, a->sum);
        binio_put_f64(out, a->min);
        binio_put_f64(out, a->max);
        binio_put_i64(out, a->first_us);
        binio_put_i64(out, a->last_us);
    }
}

st_code win_state_load(win_state *w, binio_reader *r, st_err *e)
{
    uint32_t magic;
    int64_t width, lateness, max_t, flush_mark, count;
    clear_entries(w);
    if (binio_get_u32(r, &magic, e)) return ST_ERR_FORMAT;
    if (magic != WIN_MAGIC) return st_err_set(e, ST_ERR_FORMAT, "%s: window state: bad magic", r->what);
    if (binio_get_i64(r, &width, e) || binio_get_i64(r, &lateness, e) || binio_get_i64(r, &max_t, e) ||
        binio_get_i64(r, &flush_mark, e) || binio_get_i64(r, &count, e))
        return ST_ERR_FORMAT;
    if (width != w->width || lateness != w->lateness)
        return st_err_set(e, ST_ERR_ARG,
                          "%s: checkpoint was made with window %lld us and lateness %lld us, not %lld/%lld "
                          "(use the same --window/--lateness, or start over with a new checkpoint and outputs)",
                          r->what, (long long)width, (long long)lateness, (long long)w->width,
                          (long long)w->lateness);
    if (count < 0 || (uint64_t)count > (uint64_t)(r->end - r->p))
        return st_err_set(e, ST_ERR_FORMAT, "%s: window state: bad window count %lld", r->what, (long long)count);
    w->max_t = max_t;
    w->pending_max = INT64_MIN;
    w->flush_mark = flush_mark;
    for (int64_t i = 0; i < count; i++) {
        win_entry *x = st_xcalloc(1, sizeof *x);
        win_result *a = &x->r;
        int64_t floor = 0;
        size_t bl = 0, rl = 0, tl = 0;
        st_code rc = binio_get_str(r, &a->building_id, &bl, e);
        if (!rc) rc = binio_get_i64(r, &floor, e);
        if (!rc) rc = binio_get_str(r, &a->room_id, &rl, e);
        if (!rc) rc = binio_get_str(r, &a->sensor_type, &tl, e);
        if (!rc) rc = binio_get_str(r, &a->last_sensor_id, NULL, e);
        if (!rc) rc = binio_get_i64(r, &a->start_us, e);
        if (!rc) rc = binio_get_i64(r, &a->count, e);
        if (!rc) rc = binio_get_f64(r, &a->sum, e);
        if (!rc) rc = binio_get_f64(r, &a->min, e);
        if (!rc) rc = binio_get_f64(r, &a->max, e);
        if (!rc) rc = binio_get_i64(r, &a->first_us, e);
        if (!rc) rc = binio_get_i64(r, &a->last_us, e);
        if (rc) {
            result_free_strings(a);
            free(x);
            clear_entries(w);
            return rc;
        }
        a->floor = (int32_t)floor;
        a->end_us = a->start_us + w->width;
        st_htab_insert(&w->open, key_hash(a->building_id, bl, a->floor, a->room_id, rl, a->sensor_type, tl, a->start_us),
                       (uintptr_t)x);
    }
    return ST_OK;
}
