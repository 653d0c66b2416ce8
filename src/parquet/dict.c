/* dict.c — open-addressing dictionary (see dict.h). */
#include "parquet/dict.h"

#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

/* 64-bit finaliser (avalanche) folded to 32 bits: the slot hash. */
static inline uint32_t mix64(uint64_t x) { return (uint32_t)st_hash_mix64(x); }

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* Tail of 0..7 bytes as one word, with at most two loads (overlapping for 4..7). */
static inline uint64_t load_tail(const uint8_t *p, uint32_t n)
{
    if (n >= 4) return (uint64_t)load32(p) | ((uint64_t)load32(p + n - 4) << 32);
    uint64_t w = 0;
    if (n) w = (uint64_t)p[0] | ((uint64_t)p[n >> 1] << 8) | ((uint64_t)p[n - 1] << 16);
    return w;
}

/* Word-at-a-time hash of a byte string: O(len / 8), no libc calls. */
static inline uint32_t hash_bytes(const uint8_t *p, uint32_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    while (n >= 8) {
        h = (h ^ load64(p)) * 0x100000001b3ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    h = (h ^ load_tail(p, n)) * 0x9E3779B97F4A7C15ULL;
    return mix64(h);
}

/* Byte equality for the short strings dictionaries hold: 8-byte words, then an
 * overlapping last word (n >= 8) or two overlapping 4-byte words (4..7). */
static inline int bytes_eq(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    if (n >= 8) {
        uint32_t k = 0;
        for (; k + 8 <= n; k += 8)
            if (load64(a + k) != load64(b + k)) return 0;
        return k == n || load64(a + n - 8) == load64(b + n - 8);
    }
    if (n >= 4) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
    for (uint32_t k = 0; k < n; k++)
        if (a[k] != b[k]) return 0;
    return 1;
}

void pq_dict_init(pq_dict *d, pq_physical type, int type_length)
{
    memset(d, 0, sizeof *d);
    d->type = type;
    switch (type) {
    case PQ_INT32: case PQ_FLOAT: d->width = 4; break;
    case PQ_INT64: case PQ_DOUBLE: d->width = 8; break;
    case PQ_INT96: d->width = 12; break;
    case PQ_FIXED_LEN_BYTE_ARRAY: d->width = (size_t)type_length; break;
    default: d->width = 0; break;
    }
}

void pq_dict_free(pq_dict *d)
{
    if (!d) return;
    st_buf_free(&d->data);
    free(d->slots);
    free(d->hashes);
    free(d->ents);
    memset(d, 0, sizeof *d);
}

void pq_dict_reset(pq_dict *d)
{
    st_buf_reset(&d->data);
    d->count = 0;
    if (d->slots) memset(d->slots, 0, ((size_t)d->mask + 1) * sizeof *d->slots);
}

/* Doubles the slot table (1024 at first) and re-inserts every entry: O(entries). */
static void grow_slots(pq_dict *d)
{
    uint32_t nslots = d->slots ? (d->mask + 1) * 2 : 1024;
    free(d->slots);
    d->slots = st_xcalloc(nslots, sizeof *d->slots);
    d->mask = nslots - 1;
    for (uint32_t i = 0; i < d->count; i++) {
        uint32_t s = d->hashes[i] & d->mask;
        while (d->slots[s]) s = (s + 1) & d->mask;
        d->slots[s] = i + 1;
    }
}

static inline void ensure_entry(pq_dict *d)
{
    if (!d->slots || (size_t)(d->count + 1) * 2 > (size_t)d->mask + 1) grow_slots(d);
    if (d->count == d->entries_cap) {
        d->entries_cap = d->entries_cap ? d->entries_cap * 2 : 1024;
        d->hashes = st_xrealloc(d->hashes, (size_t)d->entries_cap * sizeof *d->hashes);
        if (!d->width) d->ents = st_xrealloc(d->ents, (size_t)d->entries_cap * sizeof *d->ents);
    }
}

/* BYTE_ARRAY lookup/insert: hash, linear probe comparing hash then bytes. */
static void put_bytes(pq_dict *d, const pq_bytes *v, size_t n, uint32_t *idx, pq_stat_acc *st)
{
    if (!d->slots) grow_slots(d);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = v[i].ptr;
        uint32_t len = v[i].len;
        uint32_t h = hash_bytes(p, len);
        uint32_t s = h & d->mask;
        for (;;) {
            uint32_t e = d->slots[s];
            if (!e) break;
            e--;
            const struct pq_dict_ent *en = &d->ents[e];
            if (en->hash == h && en->len == len && bytes_eq(d->data.data + en->off, p, len)) {
                idx[i] = e;
                goto next;
            }
            s = (s + 1) & d->mask;
        }
        ensure_entry(d);
        /* the table may have grown: find the free slot again */
        s = h & d->mask;
        while (d->slots[s]) s = (s + 1) & d->mask;
        {
            uint32_t e = d->count++;
            st_buf_reserve(&d->data, 4 + (size_t)len);
            memcpy(d->data.data + d->data.len, &len, 4);
            d->data.len += 4;
            d->ents[e].off = (uint32_t)d->data.len;
            d->ents[e].len = len;
            d->ents[e].hash = h;
            if (len) memcpy(d->data.data + d->data.len, p, len);
            d->data.len += len;
            d->hashes[e] = h;
            d->slots[s] = e + 1;
            idx[i] = e;
            if (st) pq_stat_update_bytes(st, p, len);
        }
    next:;
    }
}

#define PUT_FIXED(T, HASH)                                                         \
    do {                                                                           \
        const T *v = values;                                                       \
        for (size_t i = 0; i < n; i++) {                                           \
            T x = v[i];                                                            \
            uint64_t bits = 0;                                                     \
            memcpy(&bits, &x, sizeof x);                                           \
            uint32_t h = HASH;                                                     \
            if (!d->slots) grow_slots(d);                                          \
            uint32_t s = h & d->mask;                                              \
            const T *ents = (const T *)d->data.data;                               \
            uint32_t e;                                                            \
            for (;;) {                                                             \
                e = d->slots[s];                                                   \
                if (!e) break;                                                     \
                if (memcmp(&ents[e - 1], &x, sizeof x) == 0) break;                \
                s = (s + 1) & d->mask;                                             \
            }                                                                      \
            if (e) {                                                               \
                idx[i] = e - 1;                                                    \
                continue;                                                          \
            }                                                                      \
            ensure_entry(d);                                                       \
            s = h & d->mask;                                                       \
            while (d->slots[s]) s = (s + 1) & d->mask;                             \
            e = d->count++;                                                        \
            st_buf_append(&d->data, &x, sizeof x);                                 \
            d->hashes[e] = h;                                                      \
            d->slots[s] = e + 1;                                                   \
            idx[i] = e;                                                            \
            if (st) pq_stat_update(st, &x, 1);                                     \
        }                                                                          \
    } while (0)

void pq_dict_put(pq_dict *d, const void *values, size_t n, uint32_t *idx, pq_stat_acc *st)
{
    switch (d->type) {
    case PQ_INT32: PUT_FIXED(int32_t, mix64(bits * 0x9E3779B97F4A7C15ULL)); break;
    case PQ_FLOAT: PUT_FIXED(float, mix64(bits * 0x9E3779B97F4A7C15ULL)); break;
    case PQ_INT64: PUT_FIXED(int64_t, mix64(bits)); break;
    case PQ_DOUBLE: PUT_FIXED(double, mix64(bits)); break;
    case PQ_BYTE_ARRAY: put_bytes(d, values, n, idx, st); break;
    default: break;   /* not dictionary-encoded (the column writer never asks) */
    }
}
