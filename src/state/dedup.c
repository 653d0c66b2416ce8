/* dedup.c — the dedup table (open addressing on 64-bit hashes, 12-byte slots) and its objects on
 * the store (dedup.h). */
#include "state/dedup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/hash.h"

#define REC_MAGIC 0x31504444u /* "DDP1" */

/* The log's entry (and a pending id's): full event time, so the log loses nothing. */
typedef struct entry {
    uint64_t hash;
    int64_t time;
} entry;

/* The table: open addressing with linear probing over two parallel arrays, 12 bytes a slot
 * (8 of hash, 0 = empty, and 4 of time) instead of 16 for an {hash, int64 time} struct.
 * times[i] is the event time in milliseconds after base_us, rounded up and clamped to
 * [0, UINT32_MAX] (49.7 days): the time read back is never earlier than the real one (an id is
 * kept up to 1 ms longer, never forgotten early) as long as the ids' times stay within 49 days of
 * the last eviction's watermark, which holds for any delay under ~40 days (eviction passes move
 * base_us every delay/8). The home slot is the hash scaled to the capacity (multiply-shift), so
 * the capacity need not be a power of two: it grows by 1.5x between MAX_LOAD and ~0.53, and an
 * eviction pass that leaves the table under MIN_LOAD rebuilds it at REBUILD_LOAD — between 15
 * and ~24 bytes per live id (dedup_state_bytes tells). Deletion shifts the following entries
 * back (no tombstones), so probes never slow down with churn. */
#define MIN_CAP 1024
#define MAX_LOAD_NUM 4   /* grow above 0.8: a miss then probes ~13 slots, 2 cache lines of hashes */
#define MAX_LOAD_DEN 5
#define MIN_LOAD 0.3
#define REBUILD_LOAD 0.6

/* A compaction is due after this many batch objects (a load reads at most that many), or when
 * the objects hold 4 times more ids than are alive. */
#define COMPACT_OBJECTS 64

struct dedup_state {
    st_store *store;        /* borrowed */
    char *name;             /* the partition's prefix, without '/' */
    int64_t delay_us;
    uint64_t *hashes;
    uint32_t *times;
    size_t cap, live;
    int64_t base_us;        /* times[] origin; INT64_MIN until the first id */
    int64_t max_time;
    int64_t committed_max;  /* max_time of the saved ids (what discard_batch goes back to) */
    entry *pending;
    size_t npending, cappending;
    int64_t last_offset;
    int64_t evicted_wm;     /* watermark of the last eviction pass */
    size_t log_entries;     /* ids in the objects a load would read (dead or alive) */
    size_t log_objects;     /* batch objects since the last snapshot */
};

typedef struct rec_header {
    uint32_t magic;
    uint32_t count;
    int64_t end_offset;
    uint64_t checksum;
} rec_header;

uint64_t dedup_hash(const char *id, size_t len)
{
    uint64_t h = st_hash_mix64(st_fnv1a64(id, len));
    return h ? h : 1; /* 0 marks an empty slot */
}

static uint64_t payload_checksum(const entry *e, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        h ^= e[i].hash + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h ^= (uint64_t)e[i].time + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    }
    return h;
}

static uint32_t time_encode(const dedup_state *d, int64_t t)
{
    if (t <= d->base_us) return 0;
    uint64_t ms = ((uint64_t)t - (uint64_t)d->base_us + 999) / 1000;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static int64_t time_decode(const dedup_state *d, uint32_t r) { return d->base_us + (int64_t)r * 1000; }

static size_t home(const dedup_state *d, uint64_t h)
{
    return (size_t)(((unsigned __int128)h * d->cap) >> 64);
}

static void table_alloc(dedup_state *d, size_t cap)
{
    d->cap = cap;
    d->hashes = st_xcalloc(cap, sizeof *d->hashes);
    d->times = st_xmalloc(cap * sizeof *d->times);
    d->live = 0;
}

dedup_state *dedup_state_new(st_store *store, const char *name, int64_t delay_us)
{
    dedup_state *d = st_xcalloc(1, sizeof *d);
    d->store = store;
    d->name = st_xstrdup(name);
    d->delay_us = delay_us;
    table_alloc(d, MIN_CAP);
    d->base_us = INT64_MIN;
    d->max_time = d->committed_max = INT64_MIN;
    d->last_offset = -1;
    d->evicted_wm = INT64_MIN;
    return d;
}

void dedup_state_destroy(dedup_state *d)
{
    if (!d) return;
    free(d->name);
    free(d->hashes);
    free(d->times);
    free(d->pending);
    free(d);
}

/* Finds the slot of hash h, or the empty slot where it would go. The load stays <= 0.8, so an
 * empty slot always ends the probe. */
static size_t find_slot(const dedup_state *d, uint64_t h)
{
    size_t i = home(d, h);
    for (;;) {
        uint64_t x = d->hashes[i];
        if (x == h || !x) return i;
        if (++i == d->cap) i = 0;
    }
}

/* Moves every entry with decoded time >= min_time into a fresh table of capacity newcap, with
 * base_us moved to new_base (<= every kept time). O(old cap). */
static void rebuild(dedup_state *d, size_t newcap, int64_t min_time, int64_t new_base)
{
    uint64_t *oh = d->hashes;
    uint32_t *ot = d->times;
    size_t oldcap = d->cap;
    int64_t old_base = d->base_us;
    if (newcap < MIN_CAP) newcap = MIN_CAP;
    table_alloc(d, newcap);
    d->base_us = new_base;
    for (size_t i = 0; i < oldcap; i++) {
        if (!oh[i]) continue;
        int64_t t = old_base + (int64_t)ot[i] * 1000;
        if (t < min_time) continue;
        size_t j = find_slot(d, oh[i]);
        d->hashes[j] = oh[i];
        d->times[j] = time_encode(d, t);
        d->live++;
    }
    free(oh);
    free(ot);
}

/* Empties slot i and shifts back the entries after it that may no longer be found (their home
 * is not cyclically within (i, j]). O(cluster). */
static void delete_at(dedup_state *d, size_t i)
{
    size_t j = i;
    for (;;) {
        if (++j == d->cap) j = 0;
        if (!d->hashes[j]) break;
        size_t k = home(d, d->hashes[j]);
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        d->hashes[i] = d->hashes[j];
        d->times[i] = d->times[j];
        i = j;
    }
    d->hashes[i] = 0;
    d->live--;
}

/* Drops ids older than wm in place (no second table), then moves base_us up to wm, or rebuilds
 * smaller when the table is mostly empty. Visits the slots cyclically from an empty one, so an
 * entry shifted back by a deletion lands on the slot being visited or one still ahead. */
static void evict(dedup_state *d, int64_t wm)
{
    size_t s = 0;
    while (d->hashes[s]) s++;
    for (size_t n = 0, i = s; n < d->cap; n++) {
        while (d->hashes[i] && time_decode(d, d->times[i]) < wm) delete_at(d, i);
        if (++i == d->cap) i = 0;
    }
    if (d->cap > MIN_CAP && (double)d->live < MIN_LOAD * (double)d->cap) {
        rebuild(d, (size_t)((double)d->live / REBUILD_LOAD), wm, wm);
        return;
    }
    if (wm <= d->base_us) return;
    /* every kept time is >= wm: re-encode relative to it (keeps the 49-day range ahead) */
    uint64_t shift_ms = ((uint64_t)wm - (uint64_t)d->base_us) / 1000;
    for (size_t i = 0; i < d->cap; i++)
        if (d->hashes[i]) d->times[i] = d->times[i] >= shift_ms ? d->times[i] - (uint32_t)shift_ms : 0;
    d->base_us += (int64_t)shift_ms * 1000;
}

/* Stores h at slot i (found empty by find_slot) or raises the time of the id already there. */
static void put(dedup_state *d, size_t i, uint64_t h, int64_t t)
{
    if (d->base_us == INT64_MIN) d->base_us = t - d->delay_us;
    if (!d->hashes[i]) {
        if ((d->live + 1) * MAX_LOAD_DEN > d->cap * MAX_LOAD_NUM) {
            rebuild(d, d->cap + d->cap / 2, INT64_MIN, d->base_us);
            i = find_slot(d, h);
        }
        d->hashes[i] = h;
        d->times[i] = time_encode(d, t);
        d->live++;
    } else {
        uint32_t r = time_encode(d, t);
        if (r > d->times[i]) d->times[i] = r;
    }
    if (t > d->max_time) d->max_time = t;
}

int64_t dedup_state_watermark(const dedup_state *d)
{
    return d->max_time == INT64_MIN ? INT64_MIN : d->max_time - d->delay_us;
}

size_t dedup_state_size(const dedup_state *d) { return d->live; }

size_t dedup_state_bytes(const dedup_state *d)
{
    return d->cap * (sizeof *d->hashes + sizeof *d->times) + d->cappending * sizeof(entry);
}

int dedup_state_check(dedup_state *d, uint64_t h, int64_t t)
{
    size_t i = find_slot(d, h);
    if (d->hashes[i]) return 1;
    put(d, i, h, t);
    if (d->npending == d->cappending) {
        d->cappending = d->cappending ? d->cappending * 2 : 1024;
        d->pending = st_xrealloc(d->pending, d->cappending * sizeof(entry));
    }
    d->pending[d->npending++] = (entry){h, t};
    return 0;
}

void dedup_state_discard_batch(dedup_state *d)
{
    if (!d->npending) return;
    for (size_t p = 0; p < d->npending; p++) {
        size_t i = find_slot(d, d->pending[p].hash);
        if (d->hashes[i]) delete_at(d, i);
    }
    d->npending = 0;
    d->max_time = d->committed_max;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void append_record(st_buf *b, const entry *ents, size_t n, int64_t end_offset)
{
    rec_header h = {REC_MAGIC, (uint32_t)n, end_offset, payload_checksum(ents, n)};
    st_buf_append(b, &h, sizeof h);
    st_buf_append(b, ents, n * sizeof(entry));
}

/* ------------------------------------------------------------------ objects */

enum { OBJ_IDS = 0, OBJ_SNAP = 1 };

typedef struct obj {
    char *key;
    int64_t end;
    int kind;
} obj;

/* "<name>/<20 digits>.ids|.snap" */
static char *object_key(const dedup_state *d, int64_t end, int kind)
{
    st_buf b = {0};
    st_buf_printf(&b, "%s/%020" PRId64 "%s", d->name, end, kind == OBJ_SNAP ? ".snap" : ".ids");
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

static char *legacy_key(const dedup_state *d)
{
    st_buf b = {0};
    st_buf_printf(&b, "%s.log", d->name);
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

/* Parses the last part of a key as "<20 digits>.ids|.snap". 0 on success. */
static int parse_object(const char *base, int64_t *end, int *kind)
{
    int64_t v = 0;
    int i = 0;
    for (; i < 20; i++) {
        if (base[i] < '0' || base[i] > '9') return -1;
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (base[i] - '0');
    }
    if (!strcmp(base + 20, ".ids")) *kind = OBJ_IDS;
    else if (!strcmp(base + 20, ".snap")) *kind = OBJ_SNAP;
    else return -1;
    *end = v;
    return 0;
}

static int by_end(const void *a, const void *b)
{
    const obj *x = a, *y = b;
    return x->end < y->end ? -1 : x->end > y->end ? 1 : x->kind - y->kind;
}

static void objs_free(obj *o, size_t n)
{
    for (size_t i = 0; i < n; i++) free(o[i].key);
    free(o);
}

/* The partition's objects, sorted by end offset. One listing. */
static st_code list_objects(dedup_state *d, obj **out, size_t *n, st_err *e)
{
    *out = NULL;
    *n = 0;
    st_buf prefix = {0};
    st_buf_printf(&prefix, "%s/", d->name);
    st_list l = {0};
    st_code rc = st_store_list(d->store, st_buf_cstr(&prefix), NULL, 0, &l, e);
    obj *o = st_xmalloc((l.count ? l.count : 1) * sizeof *o);
    size_t k = 0;
    for (size_t i = 0; !rc && i < l.count; i++) {
        const st_entry *x = &l.items[i];
        if (x->is_prefix) continue;
        if (parse_object(x->key + prefix.len, &o[k].end, &o[k].kind)) continue;
        o[k++].key = st_xstrdup(x->key);
    }
    st_list_free(&l);
    st_buf_free(&prefix);
    if (rc) {
        objs_free(o, k);
        return st_err_wrap(e, "reading the dedup state of %s", d->name);
    }
    qsort(o, k, sizeof *o, by_end);
    *out = o;
    *n = k;
    return ST_OK;
}

/* Makes room for `more` new ids before they are put, so the table does not grow while they go in.
 * Needed for records written by compact(): their ids are in slot order, i.e. sorted by home, and
 * sorted ids put into a table smaller than their count pile up in one cluster that every later
 * put probes to its end (a 960,000-id snapshot took minutes instead of milliseconds to load). */
static void reserve(dedup_state *d, size_t more)
{
    size_t need = d->live + more;
    if (need * MAX_LOAD_DEN > d->cap * MAX_LOAD_NUM)
        rebuild(d, (size_t)((double)need / REBUILD_LOAD) + 1, INT64_MIN, d->base_us);
}

/* Replays the records of one object (or of the legacy log) with end offset <= upto. strict:
 * every record must be whole and sound (objects are written atomically); else a bad record
 * ends the replay (the torn tail of an append-only log). */
static st_code replay(dedup_state *d, const st_buf *b, int64_t upto, int strict, const char *key, st_err *e)
{
    size_t pos = 0;
    while (pos < b->len) {
        rec_header h;
        int bad = b->len - pos < sizeof h;
        if (!bad) memcpy(&h, b->data + pos, sizeof h);
        size_t bytes = bad ? 0 : (size_t)h.count * sizeof(entry);
        bad = bad || h.magic != REC_MAGIC || bytes > b->len - pos - sizeof h;
        entry *ents = NULL;
        if (!bad) {
            ents = st_xmalloc(bytes ? bytes : 1);
            memcpy(ents, b->data + pos + sizeof h, bytes);
            bad = payload_checksum(ents, h.count) != h.checksum;
        }
        if (bad) {
            free(ents);
            if (!strict) return ST_OK;
            return st_err_set(e, ST_ERR_FORMAT,
                              "dedup state %s/%s is damaged (delete it to go on: duplicates of the ids it held "
                              "would then be let through)",
                              st_store_root(d->store), key);
        }
        if (h.end_offset <= upto) {
            reserve(d, h.count);
            for (uint32_t i = 0; i < h.count; i++) {
                uint64_t hh = ents[i].hash ? ents[i].hash : 1;
                put(d, find_slot(d, hh), hh, ents[i].time);
            }
            d->log_entries += h.count;
        }
        free(ents);
        pos += sizeof h + bytes;
    }
    return ST_OK;
}

/* Deletes the objects of o (indexes [from, to)) that satisfy keep() == 0. */
static st_code delete_objects(dedup_state *d, const obj *o, size_t n, int64_t before, int64_t after, st_err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (o[i].end >= before && o[i].end <= after) continue;
        st_code rc = st_store_delete(d->store, o[i].key, e);
        if (rc) return rc;
    }
    return ST_OK;
}

/* Writes every live id but the pending ones as <name>/<last_offset>.snap, then deletes the
 * older objects and the legacy log. Only at an offset Silver holds: a later load at or after
 * it finds everything it needs in the snapshot. */
static st_code compact(dedup_state *d, st_err *e)
{
    uint64_t *pend = NULL;
    if (d->npending) {
        pend = st_xmalloc(d->npending * sizeof *pend);
        for (size_t i = 0; i < d->npending; i++) pend[i] = d->pending[i].hash;
        qsort(pend, d->npending, sizeof *pend, cmp_u64);
    }
    entry *live = st_xmalloc((d->live ? d->live : 1) * sizeof(entry));
    size_t n = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->hashes[i] && !(pend && bsearch(&d->hashes[i], pend, d->npending, sizeof *pend, cmp_u64)))
            live[n++] = (entry){d->hashes[i], time_decode(d, d->times[i])};
    free(pend);
    st_buf b = {0};
    append_record(&b, live, n, d->last_offset);
    free(live);
    char *key = object_key(d, d->last_offset, OBJ_SNAP);
    st_code rc = st_store_write(d->store, key, b.data, b.len, e);
    free(key);
    st_buf_free(&b);
    obj *o = NULL;
    size_t no = 0;
    if (!rc) rc = list_objects(d, &o, &no, e);
    /* everything before the snapshot, and older snapshots at its offset: none (one key) */
    for (size_t i = 0; !rc && i < no; i++)
        if (o[i].end < d->last_offset || (o[i].end == d->last_offset && o[i].kind == OBJ_IDS))
            rc = st_store_delete(d->store, o[i].key, e);
    objs_free(o, no);
    if (!rc) {
        char *lk = legacy_key(d);
        rc = st_store_delete(d->store, lk, e);
        free(lk);
    }
    if (rc) return st_err_wrap(e, "compacting the dedup state of %s", d->name);
    d->log_entries = n;
    d->log_objects = 0;
    return ST_OK;
}

st_code dedup_state_seal_batch(dedup_state *d, int64_t end_offset, int64_t committed_offset, dedup_ids *ids,
                               st_err *e)
{
    st_buf_reset(&ids->data);
    ids->end_offset = end_offset;
    ids->count = 0;
    /* The objects hold the ids of every batch since the last snapshot, dead or alive: a snapshot
     * of the live ids alone once they hold twice as many (+ 64 Ki), so the state on the store
     * stays proportional to the ids within the watermark (20,000 ids/s x 10 min = 12 M ids:
     * under 400 MB), each id written about twice. */
    if ((d->log_objects >= COMPACT_OBJECTS || d->log_entries > 2 * d->live + 65536) && d->last_offset >= 0 &&
        d->last_offset == committed_offset) {
        st_code rc = compact(d, e);
        if (rc) return rc;
    }
    if (d->npending) {
        append_record(&ids->data, d->pending, d->npending, end_offset);
        ids->count = d->npending;
        d->log_entries += d->npending;
        d->log_objects++;
    }
    d->npending = 0;
    d->last_offset = end_offset;
    /* An eviction pass rebuilds the table (O(live)): do it when the watermark has moved by an
     * eighth of the delay, so ids live at most delay * 9/8 and a batch rarely pays for it. */
    int64_t wm = dedup_state_watermark(d);
    if (wm != INT64_MIN && (d->evicted_wm == INT64_MIN || wm - d->evicted_wm >= d->delay_us / 8)) {
        evict(d, wm);
        d->evicted_wm = wm;
    }
    d->committed_max = d->max_time;
    return ST_OK;
}

/* One PUT (reads only d's name and store, which never change). */
st_code dedup_ids_write(const dedup_state *d, const dedup_ids *ids, st_err *e)
{
    if (!ids->count) return ST_OK;
    char *key = object_key(d, ids->end_offset, OBJ_IDS);
    st_code rc = st_store_write(d->store, key, ids->data.data, ids->data.len, e);
    free(key);
    if (rc) return st_err_wrap(e, "saving the dedup state of %s", d->name);
    return ST_OK;
}

void dedup_ids_free(dedup_ids *ids)
{
    if (ids) st_buf_free(&ids->data);
}

st_code dedup_state_save_batch(dedup_state *d, int64_t end_offset, int64_t committed_offset, st_err *e)
{
    dedup_ids ids = {0};
    st_code rc = dedup_state_seal_batch(d, end_offset, committed_offset, &ids, e);
    if (!rc) rc = dedup_ids_write(d, &ids, e);
    dedup_ids_free(&ids);
    return rc;
}

st_code dedup_state_load(dedup_state *d, int64_t committed_offset, st_err *e)
{
    free(d->hashes);
    free(d->times);
    table_alloc(d, MIN_CAP);
    d->base_us = INT64_MIN;
    d->npending = 0;
    d->max_time = d->committed_max = INT64_MIN;
    d->log_entries = 0;
    d->log_objects = 0;
    d->last_offset = committed_offset;
    obj *o = NULL;
    size_t n = 0;
    st_code rc = list_objects(d, &o, &n, e);
    if (rc) return rc;
    char *lk = legacy_key(d);
    if (committed_offset < 0) {
        /* a partition Silver never committed: whatever is there belongs to an older run */
        rc = delete_objects(d, o, n, 1, 0, e);
        if (!rc) rc = st_store_delete(d->store, lk, e);
        goto done;
    }
    /* the base: the latest snapshot at or before the committed offset, else the legacy log */
    int64_t base = -1;
    for (size_t i = 0; i < n; i++)
        if (o[i].kind == OBJ_SNAP && o[i].end <= committed_offset) base = o[i].end;
    st_buf b = {0};
    if (base < 0) {
        rc = st_store_read(d->store, lk, &b, NULL, e);
        if (rc == ST_ERR_NOTFOUND) {
            st_err_clear(e);
            rc = ST_OK;
        } else if (!rc) {
            rc = replay(d, &b, committed_offset, 0, lk, e);
        }
    }
    for (size_t i = 0; !rc && i < n; i++) {
        if (o[i].end > committed_offset || o[i].end < base) continue;
        if (o[i].kind == OBJ_SNAP ? o[i].end != base : o[i].end == base) continue;
        st_buf_reset(&b);
        if ((rc = st_store_read(d->store, o[i].key, &b, NULL, e))) break;
        rc = replay(d, &b, committed_offset, 1, o[i].key, e);
        if (o[i].kind == OBJ_IDS) d->log_objects++;
    }
    st_buf_free(&b);
    /* batches that never committed: not ours to keep (their records will be read again) */
    if (!rc) rc = delete_objects(d, o, n, INT64_MIN, committed_offset, e);
done:
    free(lk);
    objs_free(o, n);
    if (rc) return st_err_wrap(e, "loading the dedup state of %s", d->name);
    int64_t wm = dedup_state_watermark(d);
    if (wm != INT64_MIN) evict(d, wm);
    d->evicted_wm = wm;
    d->committed_max = d->max_time;
    return ST_OK;
}
