/* arena.c — bump allocator for decoded event strings (see event.h). */
#include "iot/event.h"

#include <stdlib.h>

typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    char data[];
} arena_block;

struct iot_arena {
    arena_block *head; /* current block first; the oldest (first) block is last */
};

#define ARENA_BLOCK 16384

/* Allocates a block holding at least n bytes. */
static arena_block *block_new(size_t n)
{
    size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    arena_block *b = st_xmalloc(sizeof *b + cap);
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

/* New empty arena with one 16 KiB block. */
iot_arena *iot_arena_new(void)
{
    iot_arena *a = st_xcalloc(1, sizeof *a);
    a->head = block_new(ARENA_BLOCK);
    return a;
}

/* Returns n bytes (8-byte aligned), valid until reset/destroy. O(1) amortised;
 * a request larger than a block gets a block of its own. */
void *iot_arena_alloc(iot_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    arena_block *b = a->head;
    if (b->cap - b->used < n) {
        b = block_new(n);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

/* Frees every block but the oldest and empties it. O(blocks). */
void iot_arena_reset(iot_arena *a)
{
    while (a->head->next) {
        arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
    a->head->used = 0;
}

/* Frees everything. NULL-safe. */
void iot_arena_destroy(iot_arena *a)
{
    if (!a) return;
    while (a->head) {
        arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
    free(a);
}
