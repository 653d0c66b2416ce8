/* strmap.c — open-addressing string map (see strmap.h). */
#include "stream/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static char tombstone_key;
#define TOMB (&tombstone_key)

typedef struct slot {
    char *key;   /* NULL: empty; TOMB: deleted */
    void *value;
    uint64_t hash;
} slot;

struct strmap {
    slot *slots;
    size_t cap, count, used; /* used = live + tombstones */
    void (*free_value)(void *);
};

/* FNV-1a 64 then a final mix: keys are short (names, hex digests). */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

strmap *strmap_new(void (*free_value)(void *))
{
    strmap *m = st_xcalloc(1, sizeof *m);
    m->cap = 16;
    m->slots = st_xcalloc(m->cap, sizeof *m->slots);
    m->free_value = free_value;
    return m;
}

void strmap_destroy(strmap *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key && m->slots[i].key != TOMB) {
            free(m->slots[i].key);
            if (m->free_value) m->free_value(m->slots[i].value);
        }
    }
    free(m->slots);
    free(m);
}

size_t strmap_count(const strmap *m) { return m->count; }

/* Index of key's slot, or of the first free slot where it would go (-1 never: the table
 * always has empty slots because it grows at 3/4). */
static size_t find(const strmap *m, const char *key, uint64_t h, int *found)
{
    size_t mask = m->cap - 1, i = h & mask, first_tomb = SIZE_MAX;
    for (;;) {
        slot *s = &m->slots[i];
        if (!s->key) {
            *found = 0;
            return first_tomb != SIZE_MAX ? first_tomb : i;
        }
        if (s->key == TOMB) {
            if (first_tomb == SIZE_MAX) first_tomb = i;
        } else if (s->hash == h && !strcmp(s->key, key)) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

/* Rehashes into a table of newcap slots, dropping tombstones. O(cap). */
static void grow(strmap *m, size_t newcap)
{
    slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = st_xcalloc(newcap, sizeof *m->slots);
    m->cap = newcap;
    m->used = m->count;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key || old[i].key == TOMB) continue;
        size_t j = old[i].hash & (newcap - 1);
        while (m->slots[j].key) j = (j + 1) & (newcap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void *strmap_get(const strmap *m, const char *key)
{
    int found;
    size_t i = find(m, key, hash_str(key), &found);
    return found ? m->slots[i].value : NULL;
}

void strmap_put(strmap *m, const char *key, void *value)
{
    if ((m->used + 1) * 4 > m->cap * 3) grow(m, m->count * 2 + 1 > m->cap / 2 ? m->cap * 2 : m->cap);
    uint64_t h = hash_str(key);
    int found;
    size_t i = find(m, key, h, &found);
    slot *s = &m->slots[i];
    if (found) {
        if (m->free_value && s->value != value) m->free_value(s->value);
        s->value = value;
        return;
    }
    if (!s->key) m->used++;
    s->key = st_xstrdup(key);
    s->value = value;
    s->hash = h;
    m->count++;
}

int strmap_remove(strmap *m, const char *key)
{
    int found;
    size_t i = find(m, key, hash_str(key), &found);
    if (!found) return 0;
    slot *s = &m->slots[i];
    free(s->key);
    if (m->free_value) m->free_value(s->value);
    s->key = TOMB;
    s->value = NULL;
    m->count--;
    return 1;
}

int strmap_next(const strmap *m, size_t *pos, const char **key, void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        slot *s = &m->slots[*pos];
        if (s->key && s->key != TOMB) {
            *key = s->key;
            if (value) *value = s->value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
