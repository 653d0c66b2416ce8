/* stats.h — private: min/max/null-count accumulation in Parquet's type order
 * (signed for INT32/INT64, IEEE order without NaN for FLOAT/DOUBLE, false < true,
 * unsigned bytewise for BYTE_ARRAY). */
#ifndef ST_PARQUET_STATS_H
#define ST_PARQUET_STATS_H

#include "parquet/parquet.h"
#include "util/buf.h"

typedef struct pq_stat_acc {
    pq_physical type;
    int has;                       /* at least one ordered value seen */
    int64_t nulls, levels;
    union { int32_t i32; int64_t i64; float f32; double f64; uint8_t b; } min, max;
    st_buf bmin, bmax;             /* BYTE_ARRAY */
} pq_stat_acc;

void pq_stat_init(pq_stat_acc *s, pq_physical type);
void pq_stat_free(pq_stat_acc *s);
void pq_stat_reset(pq_stat_acc *s);
/* Folds n dense values (in the layout of pq_column_batch.values) into s. O(n). */
void pq_stat_update(pq_stat_acc *s, const void *values, size_t n);
/* One byte array value. */
void pq_stat_update_bytes(pq_stat_acc *s, const uint8_t *p, uint32_t len);
/* Merges src into dst (same type). */
void pq_stat_merge(pq_stat_acc *dst, const pq_stat_acc *src);
/* Encodes min and max as Statistics.min_value/max_value bytes (malloc'd). 0 when absent. */
int pq_stat_encode(const pq_stat_acc *s, uint8_t **min, uint32_t *min_len, uint8_t **max, uint32_t *max_len);
/* Fills the public stats struct (BYTE_ARRAY min/max malloc'd copies). */
void pq_stat_export(const pq_stat_acc *s, pq_column_stats *out);
/* Unsigned lexicographic byte order (shorter prefix first). */
int pq_bytes_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl);

#endif
