/* strmap.c — string map over st_htab (see strmap.h). The table maps a key's hash to the
 * index of its entry; entries sit in a dense array. */
#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/hash.h"
#include "util/htab.h"

typedef struct entry {
    char *key; /* owned unless m->borrowed */
    void *value;
} entry;

struct strmap {
    st_htab index; /* hash(key) -> position in ents */
    entry *ents;
    size_t count, cap;
    int borrowed;
    void (*free_value)(void *);
};

/* What a probe compares a stored position with. */
typedef struct probe {
    const entry *ents;
    const char *key;
} probe;

static int key_eq(const void *p, uint64_t val)
{
    const probe *q = p;
    return !strcmp(q->ents[val].key, q->key);
}

static int pos_eq(const void *p, uint64_t val) { return val == *(const uint64_t *)p; }

static uint64_t key_hash(const char *s) { return st_htab_hash(st_hash_mix64(st_fnv1a64_str(s))); }

static strmap *make(int borrowed, void (*free_value)(void *))
{
    strmap *m = st_xcalloc(1, sizeof *m);
    m->borrowed = borrowed;
    m->free_value = free_value;
    return m;
}

strmap *strmap_new(void (*free_value)(void *)) { return make(0, free_value); }
strmap *strmap_new_borrowed(void) { return make(1, NULL); }

void strmap_destroy(strmap *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->count; i++) {
        if (!m->borrowed) free(m->ents[i].key);
        if (m->free_value) m->free_value(m->ents[i].value);
    }
    free(m->ents);
    st_htab_free(&m->index);
    free(m);
}

size_t strmap_count(const strmap *m) { return m->count; }

void *strmap_get(const strmap *m, const char *key)
{
    probe q = {m->ents, key};
    st_hslot *s = st_htab_find(&m->index, key_hash(key), key_eq, &q);
    return s ? m->ents[s->val].value : NULL;
}

void strmap_put(strmap *m, const char *key, void *value)
{
    probe q = {m->ents, key};
    int found;
    st_hslot *s = st_htab_upsert(&m->index, key_hash(key), key_eq, &q, &found);
    if (found) {
        entry *x = &m->ents[s->val];
        if (m->free_value && x->value != value) m->free_value(x->value);
        x->value = value;
        if (m->borrowed) x->key = (char *)key;
        return;
    }
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->ents = st_xrealloc(m->ents, m->cap * sizeof *m->ents);
    }
    s->val = m->count;
    m->ents[m->count].key = m->borrowed ? (char *)key : st_xstrdup(key);
    m->ents[m->count].value = value;
    m->count++;
}

int strmap_remove(strmap *m, const char *key)
{
    probe q = {m->ents, key};
    st_hslot *s = st_htab_find(&m->index, key_hash(key), key_eq, &q);
    if (!s) return 0;
    size_t i = (size_t)s->val;
    st_htab_remove(&m->index, s);
    if (!m->borrowed) free(m->ents[i].key);
    if (m->free_value) m->free_value(m->ents[i].value);
    uint64_t last = --m->count;
    if (i != last) {
        /* the last entry fills the hole; its slot is found by its position */
        m->ents[i] = m->ents[last];
        st_htab_find(&m->index, key_hash(m->ents[i].key), pos_eq, &last)->val = i;
    }
    return 1;
}

int strmap_next(const strmap *m, size_t *pos, const char **key, void **value)
{
    if (*pos >= m->count) return 0;
    *key = m->ents[*pos].key;
    if (value) *value = m->ents[*pos].value;
    (*pos)++;
    return 1;
}
