/* strmap.h — string-keyed map on the one hash table (util/htab.h): the Bronze file source and
 * its checkpoint (file names, content hashes), Delta's path and appId indexes (delta_map).
 *
 * Keys are copied (strmap_new) or borrowed (strmap_new_borrowed: each key must stay valid,
 * unchanged, while it is in the map). Values are opaque pointers owned by the caller unless a
 * free function is given. Entries live in one dense array (iteration walks it; removal moves
 * the last entry into the hole). Cost: O(key length) expected per operation.
 */
#ifndef ST_UTIL_STRMAP_H
#define ST_UTIL_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap;

/* Keys copied. free_value (may be NULL) is called on values replaced, removed or left at destroy. */
strmap *strmap_new(void (*free_value)(void *));
/* Keys borrowed, values not freed. */
strmap *strmap_new_borrowed(void);
void strmap_destroy(strmap *m); /* NULL-safe */
size_t strmap_count(const strmap *m);
/* Value for key, or NULL. */
void *strmap_get(const strmap *m, const char *key);
/* Inserts or replaces (the old value is freed with free_value; a borrowed key is replaced by
 * the one given). */
void strmap_put(strmap *m, const char *key, void *value);
/* Removes key (freeing its value); returns 1 if it was there. */
int strmap_remove(strmap *m, const char *key);
/* Iteration: *pos starts at 0; returns 0 when done. Do not modify the map meanwhile. */
int strmap_next(const strmap *m, size_t *pos, const char **key, void **value);

#endif
