#include "stream/dedup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fsutil.h"

#define REC_MAGIC 0x31504444u /* "DDP1" */

typedef struct entry {
    uint64_t hash;  /* 0 marks an empty slot (hash 0 is remapped to 1) */
    int64_t time;
} entry;

struct dedup_state {
    char *path;
    int64_t delay_us;
    entry *slots;
    size_t cap, live;
    int64_t max_time;
    entry *pending;
    size_t npending, cappending;
    int64_t last_offset;
    int64_t evicted_wm;     /* watermark of the last eviction pass */
    size_t log_entries;     /* entries written in the log file (dead or alive) */
};

typedef struct rec_header {
    uint32_t magic;
    uint32_t count;
    int64_t end_offset;
    uint64_t checksum;
} rec_header;

uint64_t dedup_hash(const char *id, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h ? h : 1;
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

dedup_state *dedup_state_new(const char *path, int64_t delay_us)
{
    dedup_state *d = st_xcalloc(1, sizeof *d);
    d->path = st_xstrdup(path);
    d->delay_us = delay_us;
    d->cap = 1024;
    d->slots = st_xcalloc(d->cap, sizeof(entry));
    d->max_time = INT64_MIN;
    d->last_offset = -1;
    d->evicted_wm = INT64_MIN;
    return d;
}

void dedup_state_destroy(dedup_state *d)
{
    if (!d) return;
    free(d->path);
    free(d->slots);
    free(d->pending);
    free(d);
}

/* Finds the slot of hash h, or the empty slot where it would go. */
static size_t find_slot(const dedup_state *d, uint64_t h)
{
    size_t mask = d->cap - 1, i = (size_t)h & mask;
    while (d->slots[i].hash && d->slots[i].hash != h) i = (i + 1) & mask;
    return i;
}

static void rehash(dedup_state *d, size_t newcap, int64_t min_time, const entry *drop, size_t ndrop);

static void insert(dedup_state *d, uint64_t h, int64_t t)
{
    if ((d->live + 1) * 10 > d->cap * 7) rehash(d, d->cap * 2, INT64_MIN, NULL, 0);
    size_t i = find_slot(d, h);
    if (!d->slots[i].hash) {
        d->slots[i].hash = h;
        d->slots[i].time = t;
        d->live++;
    } else if (t > d->slots[i].time) {
        d->slots[i].time = t;
    }
    if (t > d->max_time) d->max_time = t;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Rebuilds the table with capacity newcap, keeping entries with time >= min_time whose hash is
 * not in drop (sorted by hash). O(live). */
static void rehash(dedup_state *d, size_t newcap, int64_t min_time, const entry *drop, size_t ndrop)
{
    entry *old = d->slots;
    size_t oldcap = d->cap;
    uint64_t *dropped = NULL;
    if (ndrop) {
        dropped = st_xmalloc(ndrop * sizeof *dropped);
        for (size_t i = 0; i < ndrop; i++) dropped[i] = drop[i].hash;
        qsort(dropped, ndrop, sizeof *dropped, cmp_u64);
    }
    while (newcap > 1024 && d->live * 4 < newcap) newcap /= 2;
    d->cap = newcap;
    d->slots = st_xcalloc(newcap, sizeof(entry));
    d->live = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].hash || old[i].time < min_time) continue;
        if (dropped && bsearch(&old[i].hash, dropped, ndrop, sizeof *dropped, cmp_u64)) continue;
        size_t j = find_slot(d, old[i].hash);
        d->slots[j] = old[i];
        d->live++;
    }
    free(old);
    free(dropped);
}

int64_t dedup_state_watermark(const dedup_state *d)
{
    return d->max_time == INT64_MIN ? INT64_MIN : d->max_time - d->delay_us;
}

size_t dedup_state_size(const dedup_state *d) { return d->live; }

int dedup_state_check(dedup_state *d, uint64_t h, int64_t t)
{
    size_t i = find_slot(d, h);
    if (d->slots[i].hash) return 1;
    insert(d, h, t);
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
    rehash(d, d->cap, INT64_MIN, d->pending, d->npending);
    d->npending = 0;
    d->max_time = INT64_MIN;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].hash && d->slots[i].time > d->max_time) d->max_time = d->slots[i].time;
}

static st_code write_all(int fd, const void *p, size_t n, const char *path, st_err *e)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return st_err_set(e, ST_ERR_IO, "cannot write dedup state %s: %s", path, strerror(errno));
        }
        b += w;
        n -= (size_t)w;
    }
    return ST_OK;
}

static void append_record(st_buf *b, const entry *ents, size_t n, int64_t end_offset)
{
    rec_header h = {REC_MAGIC, (uint32_t)n, end_offset, payload_checksum(ents, n)};
    st_buf_append(b, &h, sizeof h);
    st_buf_append(b, ents, n * sizeof(entry));
}

/* Rewrites the log as one record holding the live ids (atomic rename). */
static st_code compact(dedup_state *d, st_err *e)
{
    st_buf b = {0};
    entry *live = st_xmalloc((d->live ? d->live : 1) * sizeof(entry));
    size_t n = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].hash) live[n++] = d->slots[i];
    append_record(&b, live, n, d->last_offset);
    st_code rc = st_write_file_atomic(d->path, b.data, b.len, e);
    st_buf_free(&b);
    free(live);
    if (rc == ST_OK) d->log_entries = n;
    return rc;
}

st_code dedup_state_save_batch(dedup_state *d, int64_t end_offset, st_err *e)
{
    st_buf b = {0};
    append_record(&b, d->pending, d->npending, end_offset);
    int fd = open(d->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        st_buf_free(&b);
        return st_err_set(e, ST_ERR_IO, "cannot open dedup state %s: %s", d->path, strerror(errno));
    }
    st_code rc = write_all(fd, b.data, b.len, d->path, e);
    if (rc == ST_OK && fdatasync(fd) != 0)
        rc = st_err_set(e, ST_ERR_IO, "cannot sync dedup state %s: %s", d->path, strerror(errno));
    close(fd);
    st_buf_free(&b);
    if (rc) return rc;
    d->log_entries += d->npending;
    d->npending = 0;
    d->last_offset = end_offset;
    /* An eviction pass rebuilds the table (O(live)): do it when the watermark has moved by an
     * eighth of the delay, so ids live at most delay * 9/8 and a batch rarely pays for it. */
    int64_t wm = dedup_state_watermark(d);
    if (wm != INT64_MIN && (d->evicted_wm == INT64_MIN || wm - d->evicted_wm >= d->delay_us / 8)) {
        rehash(d, d->cap, wm, NULL, 0);
        d->evicted_wm = wm;
    }
    if (d->log_entries > 4 * d->live + 65536) return compact(d, e);
    return ST_OK;
}

st_code dedup_state_load(dedup_state *d, int64_t committed_offset, st_err *e)
{
    free(d->slots);
    d->cap = 1024;
    d->slots = st_xcalloc(d->cap, sizeof(entry));
    d->live = 0;
    d->npending = 0;
    d->max_time = INT64_MIN;
    d->log_entries = 0;
    d->last_offset = committed_offset;
    if (committed_offset < 0) {
        if (unlink(d->path) != 0 && errno != ENOENT)
            return st_err_set(e, ST_ERR_IO, "cannot reset dedup state %s: %s", d->path, strerror(errno));
        return ST_OK;
    }
    st_buf b = {0};
    st_code rc = st_read_file(d->path, &b, e);
    if (rc == ST_ERR_NOTFOUND) {
        st_err_clear(e);
        return ST_OK;
    }
    if (rc) return rc;
    size_t pos = 0, good_end = 0;
    while (pos + sizeof(rec_header) <= b.len) {
        rec_header h;
        memcpy(&h, b.data + pos, sizeof h);
        if (h.magic != REC_MAGIC) break;
        size_t bytes = (size_t)h.count * sizeof(entry);
        if (bytes > b.len - pos - sizeof h) break; /* torn tail */
        if (h.end_offset > committed_offset) break; /* batch never committed */
        entry *ents = st_xmalloc(bytes ? bytes : 1);
        memcpy(ents, b.data + pos + sizeof h, bytes);
        if (payload_checksum(ents, h.count) != h.checksum) {
            free(ents);
            break;
        }
        for (uint32_t i = 0; i < h.count; i++) insert(d, ents[i].hash, ents[i].time);
        free(ents);
        d->log_entries += h.count;
        pos += sizeof h + bytes;
        good_end = pos;
    }
    size_t total = b.len;
    st_buf_free(&b);
    if (good_end < total && truncate(d->path, (off_t)good_end) != 0)
        return st_err_set(e, ST_ERR_IO, "cannot truncate dedup state %s: %s", d->path, strerror(errno));
    int64_t wm = dedup_state_watermark(d);
    if (wm != INT64_MIN) rehash(d, d->cap, wm, NULL, 0);
    d->evicted_wm = wm;
    return ST_OK;
}
