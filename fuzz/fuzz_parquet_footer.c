/* fuzz_parquet_footer.c — libFuzzer harness for the Parquet footer (thrift FileMetaData).
 *
 * Input: the footer bytes alone (seeds are footers cut from the corpora by scripts/fuzz);
 * the harness wraps them as "PAR1" <footer> <u32 length> "PAR1" so that every mutation lands
 * in the thrift decoder, the schema builder and the footer checks. Everything the footer
 * exposes is then read back (schema, leaves, chunk info, statistics bytes) without touching
 * pages. An input that already is a whole file (PAR1 ... PAR1) is used as is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

static volatile uint64_t footer_sink;

/* Touches every fact the reader exposes, so that ASan sees any bad pointer in them. */
static void walk_footer(pq_reader *r)
{
    int nnodes, nleaves = pq_reader_num_leaves(r);
    const pq_schema_node *nodes = pq_reader_schema(r, &nnodes);
    for (int i = 0; i < nnodes; i++) footer_sink += strlen(nodes[i].name ? nodes[i].name : "") + (uint64_t)nodes[i].num_children;
    footer_sink += strlen(pq_reader_created_by(r)) + (uint64_t)pq_reader_num_rows(r);
    for (int l = 0; l < nleaves; l++) {
        const pq_leaf_info *li = pq_reader_leaf(r, l);
        footer_sink += strlen(li->path) + (uint64_t)li->max_def + (uint64_t)pq_reader_find_leaf(r, li->path);
    }
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        footer_sink += (uint64_t)pq_reader_row_group_rows(r, g);
        for (int l = 0; l < nleaves; l++) {
            pq_chunk_info ci;
            st_err e;
            if (pq_reader_chunk_info(r, g, l, &ci, &e)) continue;
            for (uint32_t k = 0; ci.min && k < ci.min_len; k++) footer_sink += ci.min[k];
            for (uint32_t k = 0; ci.max && k < ci.max_len; k++) footer_sink += ci.max[k];
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_err e;
    if (size >= 12 && !memcmp(data, "PAR1", 4) && !memcmp(data + size - 4, "PAR1", 4)) {
        pq_reader *r = pq_reader_open_mem(data, size, "fuzz.parquet", &e);
        if (r) walk_footer(r);
        pq_reader_close(r);
        return 0;
    }
    if (size > (1u << 24)) return 0;
    /* the column chunk offsets in a footer point before it: leave room so that some pass */
    size_t pad = 4096, n = pad + size + 8;
    uint8_t *buf = malloc(n);
    if (!buf) return 0;
    memset(buf, 0, pad);
    memcpy(buf, "PAR1", 4);
    memcpy(buf + pad, data, size);
    uint32_t flen = (uint32_t)size;
    memcpy(buf + pad + size, &flen, 4);
    memcpy(buf + pad + size + 4, "PAR1", 4);
    pq_reader *r = pq_reader_open_mem(buf, n, "fuzz.parquet", &e);
    if (r) walk_footer(r);
    pq_reader_close(r);
    free(buf);
    return 0;
}
