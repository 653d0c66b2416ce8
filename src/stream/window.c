/* window.c — tumbling windows with a watermark (see window.h for the semantics). */
#include "stream/window.h"

#include <stdlib.h>
#include <string.h>

#include "stream/binio.h"

#define WIN_MAGIC 0x57494e31u /* "WIN1" */

typedef struct win_entry {
    struct win_entry *next;
    uint64_t hash;
    win_result r;              /* strings owned by the entry */
} win_entry;

struct win_state {
    int64_t width, lateness;
    int64_t max_t;             /* max event time as of the last advance; INT64_MIN before */
    int64_t pending_max;       /* max event time of the readings added since (or INT64_MIN) */
    int64_t flush_mark;        /* INT64_MIN before the first flush */
    win_entry **buckets;
    size_t nbuckets, count;
};

/* floor(t / w) * w for any sign of t. */
static int64_t window_start(int64_t t, int64_t w)
{
    int64_t m = t % w;
    if (m < 0) m += w;
    return t - m;
}

/* FNV-1a step over n bytes, then a separator. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h ^ 0xff; /* separator so ("ab","c") != ("a","bc") */
}

/* Hash of a window key (building, floor, room, type, start). O(key length). */
static uint64_t key_hash(const char *b, size_t bl, int32_t floor, const char *r, size_t rl, const char *t,
                         size_t tl, int64_t start)
{
    uint64_t h = 1469598103934665603ULL;
    h = mix(h, b, bl);
    h = mix(h, &floor, sizeof floor);
    h = mix(h, r, rl);
    h = mix(h, t, tl);
    h = mix(h, &start, sizeof start);
    return h;
}

/* a (NUL-terminated) equals b[0..bl). */
static int str_eq(const char *a, const char *b, size_t bl) { return strlen(a) == bl && !memcmp(a, b, bl); }

win_state *win_state_new(int64_t width_us, int64_t lateness_us)
{
    win_state *w = st_xcalloc(1, sizeof *w);
    w->width = width_us > 0 ? width_us : 60000000;
    w->lateness = lateness_us >= 0 ? lateness_us : 0;
    w->max_t = INT64_MIN;
    w->pending_max = INT64_MIN;
    w->flush_mark = INT64_MIN;
    w->nbuckets = 64;
    w->buckets = st_xcalloc(w->nbuckets, sizeof *w->buckets);
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

/* Frees every entry and empties the table (keeps the bucket array). */
static void clear_entries(win_state *w)
{
    for (size_t i = 0; i < w->nbuckets; i++) {
        win_entry *x = w->buckets[i];
        while (x) {
            win_entry *nx = x->next;
            result_free_strings(&x->r);
            free(x);
            x = nx;
        }
        w->buckets[i] = NULL;
    }
    w->count = 0;
}

void win_state_destroy(win_state *w)
{
    if (!w) return;
    clear_entries(w);
    free(w->buckets);
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
size_t win_state_open_count(const win_state *w) { return w->count; }
int64_t win_state_width(const win_state *w) { return w->width; }

/* Doubles the bucket array when the load factor passes 1. O(entries). */
static void maybe_grow(win_state *w)
{
    if (w->count < w->nbuckets) return;
    size_t nb = w->nbuckets * 2;
    win_entry **b = st_xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < w->nbuckets; i++) {
        win_entry *x = w->buckets[i];
        while (x) {
            win_entry *nx = x->next;
            x->next = b[x->hash & (nb - 1)];
            b[x->hash & (nb - 1)] = x;
            x = nx;
        }
    }
    free(w->buckets);
    w->buckets = b;
    w->nbuckets = nb;
}

/* Links a new entry into its bucket (growing the table first if needed). */
static void insert_entry(win_state *w, win_entry *x)
{
    maybe_grow(w);
    size_t i = x->hash & (w->nbuckets - 1);
    x->next = w->buckets[i];
    w->buckets[i] = x;
    w->count++;
}

win_verdict win_state_add(win_state *w, const win_reading *r, int64_t *window_start_out)
{
    int64_t s = window_start(r->event_time_us, w->width);
    if (window_start_out) *window_start_out = s;
    /* s + width cannot overflow for real timestamps; guard anyway */
    int64_t end = s > INT64_MAX - w->width ? INT64_MAX : s + w->width;
    if (end <= win_state_closed_until(w)) return WIN_LATE;

    uint64_t h = key_hash(r->building_id.ptr, r->building_id.len, r->floor, r->room_id.ptr, r->room_id.len,
                          r->sensor_type.ptr, r->sensor_type.len, s);
    win_entry *x = w->buckets[h & (w->nbuckets - 1)];
    for (; x; x = x->next)
        if (x->hash == h && x->r.start_us == s && x->r.floor == r->floor &&
            str_eq(x->r.building_id, r->building_id.ptr, r->building_id.len) &&
            str_eq(x->r.room_id, r->room_id.ptr, r->room_id.len) &&
            str_eq(x->r.sensor_type, r->sensor_type.ptr, r->sensor_type.len))
            break;
    if (!x) {
        x = st_xcalloc(1, sizeof *x);
        x->hash = h;
        x->r.building_id = st_xstrndup(r->building_id.ptr, r->building_id.len);
        x->r.room_id = st_xstrndup(r->room_id.ptr, r->room_id.len);
        x->r.sensor_type = st_xstrndup(r->sensor_type.ptr, r->sensor_type.len);
        x->r.floor = r->floor;
        x->r.start_us = s;
        x->r.end_us = end;
        x->r.min = x->r.max = r->value;
        x->r.first_us = x->r.last_us = r->event_time_us;
        insert_entry(w, x);
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

void win_state_take_closed(win_state *w, int flush, win_result **out, size_t *n)
{
    int64_t until = win_state_closed_until(w);
    win_result *res = NULL;
    size_t cnt = 0, cap = 0;
    int64_t max_end = INT64_MIN;
    for (size_t i = 0; i < w->nbuckets; i++) {
        win_entry **pp = &w->buckets[i];
        while (*pp) {
            win_entry *x = *pp;
            if (flush || x->r.end_us <= until) {
                if (cnt == cap) {
                    cap = cap ? cap * 2 : 16;
                    res = st_xrealloc(res, cap * sizeof *res);
                }
                x->r.avg = x->r.sum / (double)x->r.count;
                if (x->r.end_us > max_end) max_end = x->r.end_us;
                res[cnt++] = x->r;  /* strings move to the result */
                *pp = x->next;
                free(x);
                w->count--;
            } else {
                pp = &x->next;
            }
        }
    }
    if (flush && max_end > w->flush_mark) w->flush_mark = max_end;
    if (cnt > 1) qsort(res, cnt, sizeof *res, result_cmp);
    *out = res;
    *n = cnt;
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
    binio_put_i64(out, (int64_t)w->count);
    for (size_t i = 0; i < w->nbuckets; i++)
        for (const win_entry *x = w->buckets[i]; x; x = x->next) {
            const win_result *a = &x->r;
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
        x->hash = key_hash(a->building_id, bl, a->floor, a->room_id, rl, a->sensor_type, tl, a->start_us);
        insert_entry(w, x);
    }
    return ST_OK;
}
