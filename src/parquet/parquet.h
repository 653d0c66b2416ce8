/* parquet.h — the whole public API of the Parquet module (writer and reader).
 *
 * Written from the public parquet-format specification; no external Parquet library.
 * Layers inside the module (private): thrift compact protocol, encodings (PLAIN,
 * RLE/bit-packed hybrid, dictionary), compression codecs, pages, column chunks,
 * row groups, file footer.
 *
 * Schemas are given as Parquet does in its footer: a depth-first list of nodes
 * under the (implicit) root. A node with num_children > 0 is a group; the next
 * num_children subtrees are its children. Leaves are the columns, numbered 0..n-1
 * in depth-first order. Flat tables are simply a list of leaves.
 *
 * Column data is exchanged per leaf as Dremel levels plus dense values:
 * num_levels entries of definition/repetition levels, and num_values values
 * (only the entries whose definition level equals the leaf's max level carry a
 * value). For a flat REQUIRED column: num_levels == num_values == rows, no levels.
 * For a flat OPTIONAL column: def_levels[i] is 1 (present) or 0 (null).
 *
 * I/O: all of it goes through the storage layer (store/store.h): a writer writes to a
 * sink (the file appears whole when the writer closes, nothing is left when it aborts),
 * a reader reads from a source (random access: footer, then the column chunks it
 * decodes). Open them with st_store_open_sink / st_store_open_source on a store, or
 * st_sink_open_uri / st_source_open_uri for a single file; bytes in memory are read
 * with pq_reader_open_mem.
 *
 * Errors: every fallible call returns an st_code and fills st_err with a message
 * naming the file. Nothing here calls exit() or prints.
 *
 * What is written: data pages v1; PLAIN, RLE_DICTIONARY (PLAIN fallback per column chunk),
 * RLE levels; UNCOMPRESSED/SNAPPY/ZSTD; LogicalType plus the legacy ConvertedType; chunk
 * statistics (null_count, min_value/max_value in TYPE_ORDER, declared by column_orders).
 * What is read: data pages v1 and v2, dictionary pages; PLAIN, PLAIN_/RLE_DICTIONARY, RLE
 * booleans, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
 * BYTE_STREAM_SPLIT; UNCOMPRESSED/SNAPPY/GZIP/ZSTD/LZ4_RAW. Encryption, external column
 * chunks, LZO/BROTLI/LZ4(hadoop) and BIT_PACKED levels give ST_ERR_UNSUPPORTED.
 * Objects are not thread-safe: use one writer or reader per thread.
 */
#ifndef ST_PARQUET_H
#define ST_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Physical types, numbered as in parquet-format's Type enum. */
typedef enum pq_physical {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7
} pq_physical;

/* Logical annotations we write (and the reader reports). */
typedef enum pq_logical {
    PQ_LOGICAL_NONE = 0,
    PQ_LOGICAL_STRING,          /* BYTE_ARRAY, UTF-8 */
    PQ_LOGICAL_DATE,            /* INT32 days since epoch */
    PQ_LOGICAL_TIMESTAMP_MICROS,/* INT64, isAdjustedToUTC=true */
    PQ_LOGICAL_TIMESTAMP_MILLIS,/* INT64, isAdjustedToUTC=true (reader) */
    PQ_LOGICAL_TIMESTAMP_NANOS, /* INT64, isAdjustedToUTC=true (reader) */
    PQ_LOGICAL_TIMESTAMP_MICROS_LOCAL, /* isAdjustedToUTC=false (reader) */
    PQ_LOGICAL_DECIMAL,         /* precision/scale in the node (reader) */
    PQ_LOGICAL_INT,             /* INT(bitwidth, signed) e.g. INT8/INT16 (reader) */
    PQ_LOGICAL_MAP,             /* group annotation */
    PQ_LOGICAL_LIST,            /* group annotation */
    PQ_LOGICAL_JSON,
    PQ_LOGICAL_UUID,
    PQ_LOGICAL_ENUM,
    PQ_LOGICAL_FLOAT16,         /* FIXED_LEN_BYTE_ARRAY(2), IEEE half, little-endian (reader) */
    PQ_LOGICAL_TIME_MILLIS,     /* INT32 milliseconds of the day (reader) */
    PQ_LOGICAL_TIME_MICROS,     /* INT64 microseconds of the day (reader) */
    PQ_LOGICAL_TIME_NANOS,      /* INT64 nanoseconds of the day (reader) */
    PQ_LOGICAL_TIMESTAMP_MILLIS_LOCAL, /* INT64, isAdjustedToUTC=false (reader) */
    PQ_LOGICAL_TIMESTAMP_NANOS_LOCAL   /* INT64, isAdjustedToUTC=false (reader) */
} pq_logical;

typedef enum pq_repetition { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 } pq_repetition;

typedef enum pq_codec {
    PQ_CODEC_UNCOMPRESSED = 0,
    PQ_CODEC_SNAPPY = 1,
    PQ_CODEC_GZIP = 2,
    PQ_CODEC_LZO = 3,
    PQ_CODEC_BROTLI = 4,
    PQ_CODEC_LZ4 = 5,
    PQ_CODEC_ZSTD = 6,
    PQ_CODEC_LZ4_RAW = 7
} pq_codec;

typedef struct pq_schema_node {
    const char *name;
    pq_repetition repetition;
    int num_children;        /* > 0: group node */
    pq_physical physical;    /* leaves only */
    pq_logical logical;
    int32_t type_length;     /* FIXED_LEN_BYTE_ARRAY */
    int32_t precision, scale;/* DECIMAL */
    int32_t int_bits;        /* PQ_LOGICAL_INT: 8, 16, 32, 64 */
    int int_signed;          /* PQ_LOGICAL_INT */
} pq_schema_node;

typedef struct pq_bytes {
    const uint8_t *ptr;
    uint32_t len;
} pq_bytes;

/* One leaf column's worth of data, for writing (borrowed) or read back (owned by
 * pq_column_data below). values holds num_values dense values of the leaf's type:
 * BOOLEAN as one uint8_t (0/1) per value, INT96 and FIXED_LEN_BYTE_ARRAY as pq_bytes. */
typedef struct pq_column_batch {
    size_t num_levels;
    size_t num_values;
    const int16_t *def_levels;   /* NULL when the leaf's max definition level is 0 */
    const int16_t *rep_levels;   /* NULL when the leaf's max repetition level is 0 */
    union {
        const uint8_t *boolean;
        const int32_t *i32;
        const int64_t *i64;
        const float *f32;
        const double *f64;
        const pq_bytes *bytes;
    } values;
} pq_column_batch;

/* ------------------------------------------------------------------ writer */

typedef struct pq_writer pq_writer;

typedef struct pq_writer_options {
    pq_codec codec;             /* default PQ_CODEC_SNAPPY; UNCOMPRESSED, SNAPPY, ZSTD written */
    int zstd_level;             /* default 3 */
    int64_t row_group_rows;     /* rows per row group before an automatic flush; default 1,048,576 */
    size_t page_bytes;          /* target uncompressed data page size; default 1 MiB */
    size_t page_rows;           /* max level entries per data page (cut at row starts); default 20,000
                                   (as Arrow: small early pages keep dictionary indices narrow) */
    int dictionary;             /* 1 (default): RLE_DICTIONARY, falls back to PLAIN per column chunk
                                   when the dictionary grows past dictionary_max_bytes, or early when
                                   more than 80% of a chunk's first 10,000 values are distinct */
    size_t dictionary_max_bytes;/* default 1 MiB */
    const char *created_by;     /* default "smarttech parquet writer" */
} pq_writer_options;

void pq_writer_options_init(pq_writer_options *o);

/* Prepares a writer for the schema that writes the file to sink. The writer owns the sink
 * from this call on, whatever its outcome: pq_writer_close closes it, pq_writer_abort and
 * a failed open abort it. fields/nfields describe the nodes under the root (see top of
 * file); they are copied. Messages name the file by the sink's name. */
pq_writer *pq_writer_open(st_sink *sink, const pq_schema_node *fields, int nfields,
                          const pq_writer_options *opt, st_err *e);

int pq_writer_num_leaves(const pq_writer *w);

/* Appends num_rows rows: cols[i] is leaf i's data for those rows (num_levels counts
 * level entries, which equals num_rows when the leaf has no repetition). Data is
 * encoded immediately (the caller's memory may be reused on return). A row group is
 * flushed automatically when it reaches row_group_rows. */
st_code pq_writer_write(pq_writer *w, size_t num_rows, const pq_column_batch *cols, st_err *e);

/* Rough size the file would have if closed now: bytes already written plus the open row
 * group's compressed pages, dictionaries and unflushed page data (uncompressed). For callers
 * that roll files at a target size. O(leaves). */
int64_t pq_writer_size_estimate(const pq_writer *w);

/* Rows written so far (flushed row groups and the open one). */
int64_t pq_writer_num_rows(const pq_writer *w);

/* Ends the current row group now (no-op when it is empty). */
st_code pq_writer_flush_row_group(pq_writer *w, st_err *e);

/* Per-leaf statistics of the whole file, for Delta `stats`. min/max are absent
 * (has_min_max == 0) when every value is null or the type has no order we record
 * (nested leaves may still report them). For DOUBLE, NaN is ignored for min/max. */
typedef struct pq_column_stats {
    int64_t null_count;          /* level entries without a value (nulls, empty lists/maps) */
    int64_t num_values;          /* level entries, nulls included (= rows for flat columns) */
    int has_min_max;
    union { int32_t i32; int64_t i64; double f64; uint8_t boolean; } min, max;
    uint8_t *min_bytes, *max_bytes;  /* BYTE_ARRAY: owned copies */
    uint32_t min_len, max_len;
} pq_column_stats;

typedef struct pq_file_info {
    int64_t num_rows;
    int64_t file_size;
    int64_t mtime_ms;                /* the file's modification time, as its store gives it */
    int num_row_groups;
    int num_leaves;
    pq_column_stats *columns;        /* num_leaves entries, owned */
} pq_file_info;

/* Flushes, writes the footer and closes the sink (the file is durable and visible when
 * this returns ST_OK), fills info (may be NULL) and frees the writer, whatever the
 * outcome. On failure nothing is left at the file's key. */
st_code pq_writer_close(pq_writer *w, pq_file_info *info, st_err *e);

/* Frees the writer and aborts its sink (nothing is left). NULL-safe. */
void pq_writer_abort(pq_writer *w);

void pq_file_info_free(pq_file_info *info);

/* ------------------------------------------------------------------ reader */

typedef struct pq_reader pq_reader;

/* Opens and validates the footer of a file read from src, which the reader owns from this
 * call on (closed by pq_reader_close, or here on failure). Every length and offset read
 * from the file is checked; a damaged file gives ST_ERR_FORMAT naming it, a feature we do
 * not implement (encryption, ...) gives ST_ERR_UNSUPPORTED naming the feature. Cost: one
 * read of the file's last 64 KiB (plus the first 4 bytes and the rest of a larger footer
 * when the file is bigger); then one read per column chunk decoded. */
pq_reader *pq_reader_open(st_source *src, st_err *e);
/* Same over a buffer (borrowed: must outlive the reader); name is used in messages. */
pq_reader *pq_reader_open_mem(const uint8_t *data, size_t len, const char *name, st_err *e);
void pq_reader_close(pq_reader *r);   /* NULL-safe */

int64_t pq_reader_num_rows(const pq_reader *r);
int pq_reader_num_row_groups(const pq_reader *r);
int64_t pq_reader_row_group_rows(const pq_reader *r, int row_group);

/* Schema nodes under the root, depth-first (owned by the reader). */
const pq_schema_node *pq_reader_schema(const pq_reader *r, int *nfields);

typedef struct pq_leaf_info {
    const char *path;          /* dotted path from the root, e.g. "add.partitionValues.key_value.key" */
    int node;                  /* index into pq_reader_schema() */
    int16_t max_def, max_rep;
} pq_leaf_info;

int pq_reader_num_leaves(const pq_reader *r);
const pq_leaf_info *pq_reader_leaf(const pq_reader *r, int leaf);
/* Index of the leaf with this dotted path, or -1. */
int pq_reader_find_leaf(const pq_reader *r, const char *path);

/* A decoded column chunk. All memory owned; free with pq_column_data_free. */
typedef struct pq_column_data {
    pq_physical physical;
    size_t num_levels, num_values;
    int16_t *def_levels;       /* NULL when max_def == 0 */
    int16_t *rep_levels;       /* NULL when max_rep == 0 */
    union {
        uint8_t *boolean;
        int32_t *i32;
        int64_t *i64;
        float *f32;
        double *f64;
        pq_bytes *bytes;       /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY, INT96 (12 bytes) */
    } values;
    void *arena;               /* private: storage behind values/bytes */
} pq_column_data;

/* created_by string of the footer ("" when absent; owned by the reader). */
const char *pq_reader_created_by(const pq_reader *r);

/* Footer facts about one column chunk (for `smarttech parquet info`). */
typedef struct pq_chunk_info {
    pq_codec codec;
    int64_t num_values;          /* level entries */
    int64_t null_count;          /* -1 when the footer has none */
    int64_t total_compressed, total_uncompressed;
    uint32_t encodings;          /* bit mask: 1u << parquet-format Encoding number */
    const uint8_t *min, *max;    /* raw statistics bytes (PLAIN form), NULL when absent; owned by the reader */
    uint32_t min_len, max_len;
} pq_chunk_info;

st_code pq_reader_chunk_info(const pq_reader *r, int row_group, int leaf, pq_chunk_info *out, st_err *e);

/* Legacy INT96 timestamp (8 bytes nanoseconds of the day, then 4 bytes Julian day, both
 * little-endian; written by Spark/Impala) -> microseconds since the Unix epoch (floor; wraps
 * around in 64 bits as Spark does, which is how Spark-written years past 2262 read back). */
int64_t pq_int96_to_micros(const uint8_t *b12);

/* Reads and decodes leaf `leaf` of row group `row_group`. The whole column chunk is
 * decoded at once (memory ~ its uncompressed size); chunks of more than 2^28 level
 * entries are refused (ST_ERR_UNSUPPORTED). */
st_code pq_reader_read_column(pq_reader *r, int row_group, int leaf, pq_column_data *out, st_err *e);
void pq_column_data_free(pq_column_data *c);  /* NULL-safe, leaves *c zeroed */

#endif
