/* meta.h — private: Parquet metadata structures (footer, page headers) as we
 * write and read them, and their Thrift compact serialisation (footer.c). */
#ifndef ST_PARQUET_META_H
#define ST_PARQUET_META_H

#include <stdint.h>

#include "parquet/schema.h"
#include "parquet/thrift_compact.h"

enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };
enum {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9
};
/* Legacy ConvertedType values. */
enum {
    PQ_CT_UTF8 = 0, PQ_CT_MAP = 1, PQ_CT_MAP_KEY_VALUE = 2, PQ_CT_LIST = 3, PQ_CT_ENUM = 4,
    PQ_CT_DECIMAL = 5, PQ_CT_DATE = 6, PQ_CT_TIME_MILLIS = 7, PQ_CT_TIME_MICROS = 8,
    PQ_CT_TIMESTAMP_MILLIS = 9, PQ_CT_TIMESTAMP_MICROS = 10, PQ_CT_UINT_8 = 11, PQ_CT_UINT_16 = 12,
    PQ_CT_UINT_32 = 13, PQ_CT_UINT_64 = 14, PQ_CT_INT_8 = 15, PQ_CT_INT_16 = 16, PQ_CT_INT_32 = 17,
    PQ_CT_INT_64 = 18, PQ_CT_JSON = 19, PQ_CT_BSON = 20, PQ_CT_INTERVAL = 21
};

/* One column chunk's metadata. min/max are the encoded statistic bytes (owned). */
typedef struct pq_chunk_meta {
    pq_physical type;
    pq_codec codec;
    int64_t num_values;            /* level entries, nulls included */
    int64_t total_uncompressed, total_compressed;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1: none */
    uint32_t encodings;            /* bit mask of PQ_ENC_* */
    int has_null_count;
    int64_t null_count;
    uint8_t *min, *max;            /* NULL when absent */
    uint32_t min_len, max_len;
    int path_ok;                   /* reader: path_in_schema matched the leaf */
} pq_chunk_meta;

typedef struct pq_rg_meta {
    int64_t num_rows;
    int64_t total_byte_size;
    int64_t total_compressed;
    int64_t file_offset;
    pq_chunk_meta *cols;           /* nleaves entries */
} pq_rg_meta;

typedef struct pq_file_meta {
    int32_t version;
    int64_t num_rows;
    pq_schema schema;
    pq_rg_meta *rgs;
    int nrgs;
    char *created_by;
} pq_file_meta;

/* Page header fields we use (v1 and v2 data pages, dictionary pages). */
typedef struct pq_page_header {
    int type;
    int32_t uncompressed_size, compressed_size;
    int32_t num_values;            /* data: level entries; dictionary: entries */
    int32_t encoding;
    int32_t def_encoding, rep_encoding;
    /* v2 */
    int32_t num_nulls, num_rows;
    int32_t def_bytes, rep_bytes;
    int is_compressed;
} pq_page_header;

/* Serialises FileMetaData (schema with root "schema", row groups, created_by,
 * column orders) into out. Cost O(columns * row groups). */
void pq_meta_write_footer(st_buf *out, const pq_schema *s, const pq_rg_meta *rgs, int nrgs, int64_t num_rows,
                          const char *created_by);
/* Serialises a page header. */
void pq_meta_write_page_header(st_buf *out, const pq_page_header *h);

/* Parses FileMetaData from buf[0..len). ST_ERR_FORMAT naming ctx when malformed,
 * ST_ERR_UNSUPPORTED when encrypted. On success fm is filled (free with pq_file_meta_free). */
st_code pq_meta_parse_footer(const uint8_t *buf, size_t len, const char *ctx, pq_file_meta *fm, st_err *e);
void pq_file_meta_free(pq_file_meta *fm);
void pq_chunk_meta_clear(pq_chunk_meta *c);

/* Parses a page header at buf[0..len); *hlen gets its size. -1 when malformed. */
int pq_meta_parse_page_header(const uint8_t *buf, size_t len, pq_page_header *h, size_t *hlen);

#endif
