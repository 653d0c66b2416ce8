/* strmap.h — a small string-keyed hash map (open addressing, linear probing) used by
 * the Bronze file source and its checkpoint (file names, content hashes).
 *
 * Keys are copied; values are opaque pointers owned by the caller unless a free
 * function is given to strmap_new. Cost: O(1) expected per operation; the table
 * doubles when 3/4 full. Deletion uses tombstones.
 */
#ifndef ST_STREAM_STRMAP_H
#define ST_STREAM_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap;

/* free_value (may be NULL) is called on values replaced, removed or left at destroy. */
strmap *strmap_new(void (*free_value)(void *));
void strmap_destroy(strmap *m); /* NULL-safe */
size_t strmap_count(const strmap *m);
/* Value for key, or NULL. */
void *strmap_get(const strmap *m, const char *key);
/* Inserts or replaces (the old value is freed with free_value). */
void strmap_put(strmap *m, const char *key, void *value);
/* Removes key (freeing its value); returns 1 if it was there. */
int strmap_remove(strmap *m, const char *key);
/* Iteration: *pos starts at 0; returns 0 when done. Do not modify the map meanwhile. */
int strmap_next(const strmap *m, size_t *pos, const char **key, void **value);

#endif
