/* fuzz_parquet_pages.c — libFuzzer harness for the Parquet page decoders.
 *
 * Input: a whole Parquet file (seeds: the parquet-testing and golden-table files). The file is
 * opened from memory with pq_reader_open_mem and every column chunk of every row group is
 * decoded (dictionary, data pages v1/v2, every encoding and codec, levels), then every decoded
 * level and value is touched so that ASan checks the buffers the decoders filled.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

static volatile uint64_t pages_sink;

static void touch(const pq_column_data *c)
{
    for (size_t i = 0; i < c->num_levels; i++) {
        if (c->def_levels) pages_sink += (uint64_t)c->def_levels[i];
        if (c->rep_levels) pages_sink += (uint64_t)c->rep_levels[i];
    }
    for (size_t i = 0; i < c->num_values; i++) {
        switch (c->physical) {
        case PQ_BOOLEAN: pages_sink += c->values.boolean[i]; break;
        case PQ_INT32: case PQ_FLOAT: pages_sink += (uint64_t)c->values.i32[i]; break;
        case PQ_INT64: case PQ_DOUBLE: pages_sink += (uint64_t)c->values.i64[i]; break;
        default: {
            const pq_bytes *b = &c->values.bytes[i];
            if (b->len) pages_sink += (uint64_t)b->ptr[0] + b->ptr[b->len - 1];
            if (c->physical == PQ_INT96 && b->len == 12) pages_sink += (uint64_t)pq_int96_to_micros(b->ptr);
            break;
        }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_err e;
    /* a private copy: the reader must not depend on bytes past `size` */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    pq_reader *r = pq_reader_open_mem(copy, size, "fuzz.parquet", &e);
    if (r) {
        int nleaves = pq_reader_num_leaves(r);
        for (int g = 0; g < pq_reader_num_row_groups(r); g++)
            for (int l = 0; l < nleaves; l++) {
                pq_column_data c;
                if (pq_reader_read_column(r, g, l, &c, &e) == ST_OK) touch(&c);
                pq_column_data_free(&c);
            }
    }
    pq_reader_close(r);
    free(copy);
    return 0;
}
