/* dict.h — private: dictionary builder for RLE_DICTIONARY pages.
 * Open-addressing hash table (linear probing, load <= 1/2) over entries stored
 * already PLAIN-encoded in `data`, which is the dictionary page body as is.
 * No per-value allocation: arrays grow by doubling.
 * Why not util/htab.h: slots here are 4-byte entry numbers (each entry keeps its hash), a
 * quarter of st_htab's 16-byte slots, so the table of a large dictionary stays in cache. On
 * st_htab the Parquet write benchmark (bench/parquet_write.c, 1M Silver rows) took 11 % more
 * CPU time (measured for issue 12); the hash itself is util/hash.h's finaliser. */
#ifndef ST_PARQUET_DICT_H
#define ST_PARQUET_DICT_H

#include "parquet/parquet.h"
#include "parquet/stats.h"
#include "util/buf.h"

typedef struct pq_dict {
    pq_physical type;
    size_t width;          /* fixed value size in bytes; 0 for BYTE_ARRAY */
    st_buf data;           /* PLAIN-encoded entries */
    uint32_t count;
    uint32_t *slots;       /* entry index + 1; 0 = empty */
    uint32_t mask;         /* slot count - 1 */
    uint32_t *hashes;      /* per entry */
    struct pq_dict_ent {   /* BYTE_ARRAY: what a probe needs, in one place */
        uint32_t hash, off, len;   /* off: the bytes (after the length) in data */
    } *ents;
    uint32_t entries_cap;
} pq_dict;

void pq_dict_init(pq_dict *d, pq_physical type, int type_length);
void pq_dict_free(pq_dict *d);
void pq_dict_reset(pq_dict *d);
/* Maps n values (layout of pq_column_batch.values) to entry indices in idx; new
 * entries are folded into st (so stats cost O(distinct)). Amortised O(n). */
void pq_dict_put(pq_dict *d, const void *values, size_t n, uint32_t *idx, pq_stat_acc *st);

#endif
