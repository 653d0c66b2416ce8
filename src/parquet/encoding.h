/* encoding.h — private: Parquet value and level encodings.
 *
 * RLE/bit-packed hybrid (levels, dictionary indices, booleans in v2) encoder and
 * decoder, and the bit width helper. PLAIN encoding of fixed-size values is a
 * plain little-endian copy and lives in the column writer/reader.
 */
#ifndef ST_PARQUET_ENCODING_H
#define ST_PARQUET_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Number of bits needed to store max_value (0 -> 0). */
int pq_bit_width(uint32_t max_value);

/* Appends values[0..n) in the RLE/bit-packed hybrid encoding with bit_width (0..32),
 * without any length prefix. Runs of >= 8 equal values become RLE runs, the rest
 * bit-packed groups of 8 (the last group zero-padded). Cost O(n). */
void pq_rle_encode_u32(st_buf *out, const uint32_t *values, size_t n, int bit_width);
/* Same for 16-bit levels. */
void pq_rle_encode_i16(st_buf *out, const int16_t *values, size_t n, int bit_width);

/* Decodes exactly n values from in[0..len) into out. Returns 0 on success, -1 when the
 * input is malformed or ends too early. Values are not range-checked here. */
int pq_rle_decode_u32(const uint8_t *in, size_t len, int bit_width, uint32_t *out, size_t n);
int pq_rle_decode_i16(const uint8_t *in, size_t len, int bit_width, int16_t *out, size_t n);

/* Decodes a DELTA_BINARY_PACKED stream holding at least n values into out (width 4:
 * int32_t, 8: int64_t; arithmetic wraps as the spec says). *used gets the bytes the stream
 * occupies (so a following stream can be found). Returns 0, or -1 when malformed. O(n). */
int pq_delta_decode(const uint8_t *in, size_t len, int width, void *out, size_t n, size_t *used);

/* Packs n booleans (one byte each, 0/1) LSB-first into ceil(n/8) bytes appended to out. */
void pq_bool_pack(st_buf *out, const uint8_t *v, size_t n);

#endif
