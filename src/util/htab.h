/* htab.h — the one hash table of the project: open addressing, linear probing, a
 * power-of-two array of 16-byte slots {hash, val}.
 *
 * The table does not know keys. The caller hashes its key (util/hash.h) and, where two keys
 * may share a hash, says which stored value is the one (an equality callback; st_htab_find and
 * st_htab_upsert are static inline so a constant callback is inlined at the call site and a
 * lookup costs what a hand-written table costs). A value is 64 bits: an index into the
 * caller's array, a pointer (uintptr_t), or data itself (tools/silver_fixture's id set passes
 * no callback: the hash is the key).
 * Silver's dedup table (state/dedup.c) is the one table not built on this: 12-byte slots and a
 * capacity that grows by 1.5x, for the memory its millions of ids take.
 *
 * Hash 0 marks an empty slot: hash with st_htab_hash(), which maps 0 to 1.
 * The table doubles before passing 7/10 full; removal shifts the following entries back
 * (no tombstones, so probes stay short after many removals); st_htab_retain rebuilds and
 * gives memory back when the table falls below 1/4 full.
 * A zeroed st_htab ({0}) is an empty table; st_htab_free releases it (the caller's values
 * are the caller's). Allocation failure aborts (util/buf.h).
 * Slot pointers are valid until the next insert, upsert, remove or retain.
 * Cost: find, insert, upsert, remove O(1) expected; growth and retain O(capacity).
 */
#ifndef ST_UTIL_HTAB_H
#define ST_UTIL_HTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_hslot {
    uint64_t hash; /* 0: empty */
    uint64_t val;
} st_hslot;

typedef struct st_htab {
    st_hslot *slots;
    size_t cap;   /* 0 or a power of two */
    size_t count; /* entries */
    size_t limit; /* entries before the array doubles: 7/10 of cap */
} st_htab;

/* Says whether stored value val belongs to key (the caller's key, as passed to find). */
typedef int (*st_htab_eq_fn)(const void *key, uint64_t val);

/* The hash to store for a computed hash h (0 is reserved for empty slots). */
static inline uint64_t st_htab_hash(uint64_t h) { return h ? h : 1; }

/* Makes room for n entries in all (no growth until then). */
void st_htab_reserve(st_htab *t, size_t n);

/* The slot holding hash h for which eq(key, val) holds (eq NULL: the first slot with hash h),
 * or NULL. h must come from st_htab_hash. */
static inline st_hslot *st_htab_find(const st_htab *t, uint64_t h, st_htab_eq_fn eq, const void *key)
{
    if (!t->count) return NULL;
    st_hslot *slots = t->slots; /* locals: eq may write memory the compiler cannot rule out */
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        st_hslot *s = &slots[i];
        if (!s->hash) return NULL;
        if (s->hash == h && (!eq || eq(key, s->val))) return s;
    }
}

/* Adds (h, val) without looking for an equal entry (find or upsert first when there may be one). */
static inline st_hslot *st_htab_insert(st_htab *t, uint64_t h, uint64_t val)
{
    if (t->count >= t->limit) st_htab_reserve(t, t->count + 1);
    size_t mask = t->cap - 1, i = (size_t)h & mask;
    while (t->slots[i].hash) i = (i + 1) & mask;
    t->slots[i].hash = h;
    t->slots[i].val = val;
    t->count++;
    return &t->slots[i];
}

/* Find-or-add in one probe: the slot of the entry equal to key (*found = 1), or a new slot with
 * hash h and val 0 (*found = 0) whose val the caller sets before any other call on the table
 * (eq may be called on it). May grow the table even when the key is found. */
static inline st_hslot *st_htab_upsert(st_htab *t, uint64_t h, st_htab_eq_fn eq, const void *key, int *found)
{
    if (t->count >= t->limit) st_htab_reserve(t, t->count + 1);
    st_hslot *slots = t->slots;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        st_hslot *s = &slots[i];
        if (!s->hash) {
            s->hash = h;
            s->val = 0;
            t->count++;
            *found = 0;
            return s;
        }
        if (s->hash == h && (!eq || eq(key, s->val))) {
            *found = 1;
            return s;
        }
    }
}

/* Removes the entry in slot s (from find/upsert/next) by shifting its cluster back. */
void st_htab_remove(st_htab *t, st_hslot *s);

/* Keeps only the entries for which keep(ctx, slot) returns non-zero (keep may use the value:
 * a dropped entry's value is the caller's to release), then shrinks the array while it would
 * be less than 1/4 full. O(capacity). */
void st_htab_retain(st_htab *t, int (*keep)(void *ctx, const st_hslot *s), void *ctx);

/* Empties the table, keeping its memory. */
void st_htab_clear(st_htab *t);

/* Releases the slot array; t is then an empty table. NULL-safe. */
void st_htab_free(st_htab *t);

/* Iteration in slot order: *pos starts at 0; returns the next used slot, NULL at the end.
 * Do not change the table meanwhile (except through the values). */
static inline st_hslot *st_htab_next(const st_htab *t, size_t *pos)
{
    for (; *pos < t->cap; (*pos)++)
        if (t->slots[*pos].hash) return &t->slots[(*pos)++];
    return NULL;
}

#endif
