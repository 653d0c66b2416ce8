/* htab.c — the out-of-line part of the hash table (see htab.h). */
#include "util/htab.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define MIN_CAP 16

/* Moves every entry into a new array of cap slots (a power of two, roomy enough). O(old cap). */
static void resize(st_htab *t, size_t cap)
{
    st_hslot *old = t->slots;
    size_t oldcap = t->cap;
    t->slots = st_xcalloc(cap, sizeof *t->slots);
    t->cap = cap;
    t->limit = cap * 7 / 10;
    size_t mask = cap - 1;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].hash) continue;
        size_t j = (size_t)old[i].hash & mask;
        while (t->slots[j].hash) j = (j + 1) & mask;
        t->slots[j] = old[i];
    }
    free(old);
}

void st_htab_reserve(st_htab *t, size_t n)
{
    size_t cap = t->cap ? t->cap : MIN_CAP;
    while (n * 10 > cap * 7) cap *= 2;
    if (cap != t->cap) resize(t, cap);
}

void st_htab_remove(st_htab *t, st_hslot *s)
{
    size_t mask = t->cap - 1, i = (size_t)(s - t->slots);
    for (size_t j = (i + 1) & mask; t->slots[j].hash; j = (j + 1) & mask) {
        size_t home = (size_t)t->slots[j].hash & mask;
        /* the entry at j may fill the hole at i when i lies between its home and j */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].hash = 0;
    t->slots[i].val = 0;
    t->count--;
}

void st_htab_retain(st_htab *t, int (*keep)(void *ctx, const st_hslot *s), void *ctx)
{
    if (!t->cap) return;
    st_hslot *old = t->slots;
    size_t oldcap = t->cap, mask = oldcap - 1;
    t->slots = st_xcalloc(oldcap, sizeof *t->slots);
    t->count = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].hash || !keep(ctx, &old[i])) continue;
        size_t j = (size_t)old[i].hash & mask;
        while (t->slots[j].hash) j = (j + 1) & mask;
        t->slots[j] = old[i];
        t->count++;
    }
    free(old);
    size_t cap = oldcap;
    while (cap > MIN_CAP && t->count * 4 < cap) cap /= 2;
    if (cap != oldcap) resize(t, cap);
}

void st_htab_clear(st_htab *t)
{
    if (t->cap) memset(t->slots, 0, t->cap * sizeof *t->slots);
    t->count = 0;
}

void st_htab_free(st_htab *t)
{
    if (!t) return;
    free(t->slots);
    memset(t, 0, sizeof *t);
}
