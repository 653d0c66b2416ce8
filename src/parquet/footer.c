/* footer.c — FileMetaData and PageHeader serialisation and parsing (field ids
 * from parquet-format's parquet.thrift). */
#include "parquet/meta.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ writing */

static void empty_struct_field(tc_writer *w, int16_t id)
{
    tc_field_struct_begin(w, id);
    tc_struct_end(w);
}

/* LogicalType.TIMESTAMP {isAdjustedToUTC, unit} as field 8 of the union. */
static void write_timestamp(tc_writer *w, int utc, int unit /* 1 ms, 2 us, 3 ns */)
{
    tc_field_struct_begin(w, 8);
    tc_field_bool(w, 1, utc);
    tc_field_struct_begin(w, 2);
    empty_struct_field(w, (int16_t)unit);
    tc_struct_end(w);
    tc_struct_end(w);
}

/* Writes converted_type (6), scale/precision (7, 8) and logicalType (10). */
static void write_annotations(tc_writer *w, const pq_schema_node *n)
{
    int ct = -1;
    switch (n->logical) {
    case PQ_LOGICAL_STRING: ct = PQ_CT_UTF8; break;
    case PQ_LOGICAL_DATE: ct = PQ_CT_DATE; break;
    case PQ_LOGICAL_TIMESTAMP_MICROS: ct = PQ_CT_TIMESTAMP_MICROS; break;
    case PQ_LOGICAL_TIMESTAMP_MILLIS: ct = PQ_CT_TIMESTAMP_MILLIS; break;
    case PQ_LOGICAL_DECIMAL: ct = PQ_CT_DECIMAL; break;
    case PQ_LOGICAL_MAP: ct = PQ_CT_MAP; break;
    case PQ_LOGICAL_LIST: ct = PQ_CT_LIST; break;
    case PQ_LOGICAL_JSON: ct = PQ_CT_JSON; break;
    case PQ_LOGICAL_ENUM: ct = PQ_CT_ENUM; break;
    case PQ_LOGICAL_INT:
        switch (n->int_bits) {
        case 8: ct = n->int_signed ? PQ_CT_INT_8 : PQ_CT_UINT_8; break;
        case 16: ct = n->int_signed ? PQ_CT_INT_16 : PQ_CT_UINT_16; break;
        case 32: ct = n->int_signed ? PQ_CT_INT_32 : PQ_CT_UINT_32; break;
        case 64: ct = n->int_signed ? PQ_CT_INT_64 : PQ_CT_UINT_64; break;
        }
        break;
    default: break;
    }
    if (ct >= 0) tc_field_i32(w, 6, ct);
    if (n->logical == PQ_LOGICAL_DECIMAL) {
        tc_field_i32(w, 7, n->scale);
        tc_field_i32(w, 8, n->precision);
    }
    switch (n->logical) {
    case PQ_LOGICAL_STRING: tc_field_struct_begin(w, 10); empty_struct_field(w, 1); tc_struct_end(w); break;
    case PQ_LOGICAL_MAP: tc_field_struct_begin(w, 10); empty_struct_field(w, 2); tc_struct_end(w); break;
    case PQ_LOGICAL_LIST: tc_field_struct_begin(w, 10); empty_struct_field(w, 3); tc_struct_end(w); break;
    case PQ_LOGICAL_ENUM: tc_field_struct_begin(w, 10); empty_struct_field(w, 4); tc_struct_end(w); break;
    case PQ_LOGICAL_DECIMAL:
        tc_field_struct_begin(w, 10);
        tc_field_struct_begin(w, 5);
        tc_field_i32(w, 1, n->scale);
        tc_field_i32(w, 2, n->precision);
        tc_struct_end(w);
        tc_struct_end(w);
        break;
    case PQ_LOGICAL_DATE: tc_field_struct_begin(w, 10); empty_struct_field(w, 6); tc_struct_end(w); break;
    case PQ_LOGICAL_TIMESTAMP_MILLIS: tc_field_struct_begin(w, 10); write_timestamp(w, 1, 1); tc_struct_end(w); break;
    case PQ_LOGICAL_TIMESTAMP_MICROS: tc_field_struct_begin(w, 10); write_timestamp(w, 1, 2); tc_struct_end(w); break;
    case PQ_LOGICAL_TIMESTAMP_NANOS: tc_field_struct_begin(w, 10); write_timestamp(w, 1, 3); tc_struct_end(w); break;
    case PQ_LOGICAL_TIMESTAMP_MICROS_LOCAL:
        tc_field_struct_begin(w, 10);
        write_timestamp(w, 0, 2);
        tc_struct_end(w);
        break;
    case PQ_LOGICAL_INT:
        tc_field_struct_begin(w, 10);
        tc_field_struct_begin(w, 10);
        tc_field_i8(w, 1, (int8_t)n->int_bits);
        tc_field_bool(w, 2, n->int_signed);
        tc_struct_end(w);
        tc_struct_end(w);
        break;
    case PQ_LOGICAL_JSON: tc_field_struct_begin(w, 10); empty_struct_field(w, 12); tc_struct_end(w); break;
    case PQ_LOGICAL_UUID: tc_field_struct_begin(w, 10); empty_struct_field(w, 14); tc_struct_end(w); break;
    default: break;
    }
}

/* ColumnChunk with its ColumnMetaData and Statistics (min_value/max_value, null_count). */
static void write_chunk(tc_writer *w, const pq_schema *s, int leaf, const pq_chunk_meta *c)
{
    const pq_leaf_desc *l = &s->leaves[leaf];
    tc_struct_begin(w);                                   /* ColumnChunk */
    tc_field_i64(w, 2, c->dictionary_page_offset >= 0 ? c->dictionary_page_offset : c->data_page_offset);
    tc_field_struct_begin(w, 3);                          /* ColumnMetaData */
    tc_field_i32(w, 1, (int32_t)c->type);
    int nenc = 0;
    for (int b = 0; b < 32; b++) nenc += (c->encodings >> b) & 1;
    tc_field_list_begin(w, 2, TC_I32, (uint32_t)nenc);
    for (int b = 0; b < 32; b++)
        if ((c->encodings >> b) & 1) tc_write_i32(w, b);
    tc_field_list_begin(w, 3, TC_BINARY, (uint32_t)l->path_len);
    for (int k = 0; k < l->path_len; k++) {
        const char *nm = s->nodes[l->path_nodes[k]].name;
        tc_write_binary(w, nm, strlen(nm));
    }
    tc_field_i32(w, 4, (int32_t)c->codec);
    tc_field_i64(w, 5, c->num_values);
    tc_field_i64(w, 6, c->total_uncompressed);
    tc_field_i64(w, 7, c->total_compressed);
    tc_field_i64(w, 9, c->data_page_offset);
    if (c->dictionary_page_offset >= 0) tc_field_i64(w, 11, c->dictionary_page_offset);
    if (c->has_null_count || c->min) {
        tc_field_struct_begin(w, 12);                     /* Statistics */
        if (c->has_null_count) tc_field_i64(w, 3, c->null_count);
        if (c->min && c->max) {
            tc_field_binary(w, 5, c->max, c->max_len);
            tc_field_binary(w, 6, c->min, c->min_len);
            tc_field_bool(w, 7, 1);                       /* is_max_value_exact: never truncated */
            tc_field_bool(w, 8, 1);                       /* is_min_value_exact */
        }
        tc_struct_end(w);
    }
    tc_struct_end(w);                                     /* ColumnMetaData */
    tc_struct_end(w);                                     /* ColumnChunk */
}

void pq_meta_write_footer(st_buf *out, const pq_schema *s, const pq_rg_meta *rgs, int nrgs, int64_t num_rows,
                          const char *created_by)
{
    tc_writer w;
    tc_writer_init(&w, out);
    tc_struct_begin(&w);
    tc_field_i32(&w, 1, 1);
    tc_field_list_begin(&w, 2, TC_STRUCT, (uint32_t)s->nnodes + 1);
    tc_struct_begin(&w);                                  /* root */
    tc_field_string(&w, 4, "schema");
    tc_field_i32(&w, 5, s->num_top);
    tc_struct_end(&w);
    for (int i = 0; i < s->nnodes; i++) {
        const pq_schema_node *n = &s->nodes[i];
        tc_struct_begin(&w);
        if (n->num_children == 0) {
            tc_field_i32(&w, 1, (int32_t)n->physical);
            if (n->physical == PQ_FIXED_LEN_BYTE_ARRAY) tc_field_i32(&w, 2, n->type_length);
        }
        tc_field_i32(&w, 3, (int32_t)n->repetition);
        tc_field_string(&w, 4, n->name);
        if (n->num_children > 0) tc_field_i32(&w, 5, n->num_children);
        write_annotations(&w, n);
        tc_struct_end(&w);
    }
    tc_field_i64(&w, 3, num_rows);
    tc_field_list_begin(&w, 4, TC_STRUCT, (uint32_t)nrgs);
    for (int g = 0; g < nrgs; g++) {
        const pq_rg_meta *rg = &rgs[g];
        tc_struct_begin(&w);
        tc_field_list_begin(&w, 1, TC_STRUCT, (uint32_t)s->nleaves);
        for (int c = 0; c < s->nleaves; c++) write_chunk(&w, s, c, &rg->cols[c]);
        tc_field_i64(&w, 2, rg->total_byte_size);
        tc_field_i64(&w, 3, rg->num_rows);
        tc_field_i64(&w, 5, rg->file_offset);
        tc_field_i64(&w, 6, rg->total_compressed);
        tc_field_i16(&w, 7, (int16_t)g);
        tc_struct_end(&w);
    }
    tc_field_string(&w, 6, created_by);
    tc_field_list_begin(&w, 7, TC_STRUCT, (uint32_t)s->nleaves);
    for (int c = 0; c < s->nleaves; c++) {
        tc_struct_begin(&w);                              /* ColumnOrder union */
        empty_struct_field(&w, 1);                        /* TYPE_ORDER */
        tc_struct_end(&w);
    }
    tc_struct_end(&w);
}

void pq_meta_write_page_header(st_buf *out, const pq_page_header *h)
{
    tc_writer w;
    tc_writer_init(&w, out);
    tc_struct_begin(&w);
    tc_field_i32(&w, 1, h->type);
    tc_field_i32(&w, 2, h->uncompressed_size);
    tc_field_i32(&w, 3, h->compressed_size);
    if (h->type == PQ_PAGE_DATA) {
        tc_field_struct_begin(&w, 5);
        tc_field_i32(&w, 1, h->num_values);
        tc_field_i32(&w, 2, h->encoding);
        tc_field_i32(&w, 3, PQ_ENC_RLE);
        tc_field_i32(&w, 4, PQ_ENC_RLE);
        tc_struct_end(&w);
    } else if (h->type == PQ_PAGE_DICTIONARY) {
        tc_field_struct_begin(&w, 7);
        tc_field_i32(&w, 1, h->num_values);
        tc_field_i32(&w, 2, h->encoding);
        tc_struct_end(&w);
    } else if (h->type == PQ_PAGE_DATA_V2) {
        tc_field_struct_begin(&w, 8);
        tc_field_i32(&w, 1, h->num_values);
        tc_field_i32(&w, 2, h->num_nulls);
        tc_field_i32(&w, 3, h->num_rows);
        tc_field_i32(&w, 4, h->encoding);
        tc_field_i32(&w, 5, h->def_bytes);
        tc_field_i32(&w, 6, h->rep_bytes);
        if (!h->is_compressed) tc_field_bool(&w, 7, 0);
        tc_struct_end(&w);
    }
    tc_struct_end(&w);
}

void pq_chunk_meta_clear(pq_chunk_meta *c)
{
    if (!c) return;
    free(c->min);
    free(c->max);
    c->min = c->max = NULL;
}
