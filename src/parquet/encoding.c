/* encoding.c — RLE/bit-packed hybrid and boolean bit packing (from the
 * parquet-format Encodings.md description). */
#include "parquet/encoding.h"

#include <string.h>

#include "parquet/thrift_compact.h"

int pq_bit_width(uint32_t v)
{
    int w = 0;
    while (v) {
        w++;
        v >>= 1;
    }
    return w;
}

/* RLE run: header (count << 1), then the value in ceil(bit_width/8) bytes LE. */
static void rle_run(st_buf *out, uint32_t value, size_t count, int bw)
{
    tc_write_varint(out, (uint64_t)count << 1);
    int nb = (bw + 7) / 8;
    for (int i = 0; i < nb; i++) st_buf_append_u8(out, (uint8_t)(value >> (8 * i)));
}

/* Appends 8 values bit-packed LSB first: exactly bw bytes. Caller reserved space. */
static inline void pack8(st_buf *out, const uint32_t *g, int bw)
{
    uint8_t *p = out->data + out->len;
    uint64_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 8; i++) {
        acc |= (uint64_t)g[i] << bits;
        bits += bw;
        while (bits >= 8) {
            *p++ = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
    out->len += (size_t)bw;
}

/* Greedy hybrid: RLE for runs of >= 8 equal values, bit-packed groups otherwise.
 * A bit-packed stretch ends at a group boundary where 8 equal values start. T is
 * the element type (uint32_t or int16_t levels); values are taken as unsigned. */
#define DEFINE_RLE_ENCODE(NAME, T, CONV)                                               \
    void NAME(st_buf *out, const T *v, size_t n, int bw)                               \
    {                                                                                  \
        uint32_t grp[8];                                                               \
        size_t i = 0;                                                                  \
        while (i < n) {                                                                \
            size_t j = i + 1;                                                          \
            while (j < n && v[j] == v[i]) j++;                                         \
            if (j - i >= 8 || bw == 0) {                                               \
                rle_run(out, CONV(v[i]), j - i, bw);                                   \
                i = j;                                                                 \
                continue;                                                              \
            }                                                                          \
            size_t g = i;                                                              \
            for (;;) {                                                                 \
                g += 8;                                                                \
                if (g >= n) break;                                                     \
                if (g + 8 <= n) {                                                      \
                    T x = v[g];                                                        \
                    size_t k = 1;                                                      \
                    while (k < 8 && v[g + k] == x) k++;                                \
                    if (k == 8) break;                                                 \
                }                                                                      \
            }                                                                          \
            size_t end = g < n ? g : n;                                                \
            size_t ngroups = (end - i + 7) / 8;                                        \
            tc_write_varint(out, ((uint64_t)ngroups << 1) | 1);                        \
            st_buf_reserve(out, ngroups * (size_t)bw + 8);                             \
            for (size_t s = i; s < i + ngroups * 8; s += 8) {                          \
                for (int k = 0; k < 8; k++)                                            \
                    grp[k] = s + (size_t)k < end ? CONV(v[s + (size_t)k]) : 0;         \
                pack8(out, grp, bw);                                                   \
            }                                                                          \
            i = end;                                                                   \
        }                                                                              \
    }

#define CONV_U32(x) (x)
#define CONV_I16(x) ((uint32_t)(uint16_t)(x))
DEFINE_RLE_ENCODE(pq_rle_encode_u32, uint32_t, CONV_U32)
DEFINE_RLE_ENCODE(pq_rle_encode_i16, int16_t, CONV_I16)

/* ULEB128 varint, bounds-checked; -1 past the end or over 64 bits. */
static int read_uleb(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Decoder: every run header and byte count is checked against the input end. */
#define DEFINE_RLE_DECODE(NAME, T, MAXBW)                                              \
    int NAME(const uint8_t *in, size_t len, int bw, T *out, size_t n)                  \
    {                                                                                  \
        if (bw < 0 || bw > MAXBW) return -1;                                           \
        const uint8_t *p = in, *end = in + len;                                        \
        size_t o = 0;                                                                  \
        int nb = (bw + 7) / 8;                                                         \
        uint64_t mask = bw == 32 ? 0xFFFFFFFFull : ((1ull << bw) - 1);                 \
        while (o < n) {                                                                \
            uint64_t h;                                                                \
            if (read_uleb(&p, end, &h)) return -1;                                     \
            if (h & 1) {                                                               \
                uint64_t groups = h >> 1;                                              \
                if (groups == 0) return -1;                                            \
                if (bw && groups > (uint64_t)(end - p) / (uint64_t)bw) return -1;      \
                size_t nbytes = (size_t)groups * (size_t)bw;                           \
                size_t cnt = groups > (n - o + 7) / 8 ? n - o : (size_t)groups * 8;    \
                if (cnt > n - o) cnt = n - o;                                          \
                uint64_t acc = 0;                                                      \
                int bits = 0;                                                          \
                const uint8_t *q = p;                                                  \
                for (size_t k = 0; k < cnt; k++) {                                     \
                    while (bits < bw) {                                                \
                        acc |= (uint64_t)(*q++) << bits;                               \
                        bits += 8;                                                     \
                    }                                                                  \
                    out[o++] = (T)(acc & mask);                                        \
                    acc >>= bw;                                                        \
                    bits -= bw;                                                        \
                }                                                                      \
                p += nbytes;                                                           \
            } else {                                                                   \
                uint64_t cnt = h >> 1;                                                 \
                if (cnt == 0) return -1;                                               \
                if (nb > end - p) return -1;                                           \
                uint32_t val = 0;                                                      \
                for (int k = 0; k < nb; k++) val |= (uint32_t)p[k] << (8 * k);         \
                p += nb;                                                               \
                size_t m = cnt > n - o ? n - o : (size_t)cnt;                          \
                for (size_t k = 0; k < m; k++) out[o + k] = (T)val;                    \
                o += m;                                                                \
            }                                                                          \
        }                                                                              \
        return 0;                                                                      \
    }

DEFINE_RLE_DECODE(pq_rle_decode_u32, uint32_t, 32)
DEFINE_RLE_DECODE(pq_rle_decode_i16, int16_t, 16)

void pq_bool_pack(st_buf *out, const uint8_t *v, size_t n)
{
    size_t nb = (n + 7) / 8;
    st_buf_reserve(out, nb);
    uint8_t *p = out->data + out->len;
    memset(p, 0, nb);
    for (size_t i = 0; i < n; i++)
        if (v[i]) p[i >> 3] |= (uint8_t)(1u << (i & 7));
    out->len += nb;
}

/* Reads bw (<= 64) bits LSB-first starting at bit position pos of p. */
static inline uint64_t get_bits(const uint8_t *p, size_t pos, int bw)
{
    uint64_t v = 0;
    int got = 0;
    size_t byte = pos >> 3;
    int shift = (int)(pos & 7);
    while (got < bw) {
        uint64_t b = (uint64_t)(p[byte++] >> shift);
        int take = 8 - shift;
        v |= b << got;
        got += take;
        shift = 0;
    }
    return bw == 64 ? v : v & ((1ull << bw) - 1);
}

int pq_delta_decode(const uint8_t *in, size_t len, int width, void *out, size_t n, size_t *used)
{
    const uint8_t *p = in, *end = in + len;
    uint64_t block, nmini, total, zz;
    if (read_uleb(&p, end, &block) || read_uleb(&p, end, &nmini) || read_uleb(&p, end, &total) ||
        read_uleb(&p, end, &zz))
        return -1;
    if (block == 0 || block % 128 || nmini == 0 || block % nmini || (block / nmini) % 32 || nmini > 4096 ||
        block > (1u << 20) || total < n)
        return -1;
    uint64_t vpm = block / nmini;
    uint64_t last = (zz >> 1) ^ (uint64_t)-(int64_t)(zz & 1);
    size_t o = 0;
    if (n == 0) {
        *used = (size_t)(p - in);
        if (total == 0) return 0;
    }
#define PUT(v) (width == 4 ? (void)(((int32_t *)out)[o++] = (int32_t)(uint32_t)(v)) : (void)(((int64_t *)out)[o++] = (int64_t)(v)))
    if (n) PUT(last);
    /* values still encoded in the stream (for *used) */
    uint64_t remaining = total ? total - 1 : 0;
    while (remaining > 0) {
        uint64_t zmin;
        if (read_uleb(&p, end, &zmin)) return -1;
        uint64_t min_delta = (zmin >> 1) ^ (uint64_t)-(int64_t)(zmin & 1);
        if ((uint64_t)(end - p) < nmini) return -1;
        const uint8_t *widths = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && remaining > 0; m++) {
            int bw = widths[m];
            if (bw > width * 8) return -1;
            uint64_t bytes = vpm * (uint64_t)bw / 8;
            if (bytes > (uint64_t)(end - p)) return -1;
            uint64_t cnt = remaining < vpm ? remaining : vpm;
            for (uint64_t k = 0; k < cnt; k++) {
                uint64_t d = bw ? get_bits(p, (size_t)(k * (uint64_t)bw), bw) : 0;
                last = last + min_delta + d;
                if (o < n) PUT(last);
            }
            remaining -= cnt;
            p += bytes;
        }
    }
#undef PUT
    *used = (size_t)(p - in);
    return o == n ? 0 : -1;
}
