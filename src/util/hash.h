/* hash.h — the one byte hash (64-bit FNV-1a) and the one 64-bit finaliser of the project.
 *
 * FNV-1a is what persisted files use (the Gold state file's checksum, the dedup log's id
 * hashes via dedup_hash): its values must never change. Its low bits are weak for short keys,
 * so hash tables index with st_hash_mix64(st_fnv1a64(...)) (MurmurHash3's fmix64).
 * Cost: one multiply per byte; keys here are short (ids, paths, names).
 */
#ifndef ST_UTIL_HASH_H
#define ST_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define ST_FNV64_OFFSET 0xcbf29ce484222325ULL /* FNV-1a 64 offset basis (14695981039346656037) */
/* 1469598103934665603, a digit short of the offset basis: the start value earlier code used for
 * the Gold state file's checksum and the anomaly model's sensor and group hashes. Values that
 * are on disk depend on it, so those keep it (same spread; only the start differs). */
#define ST_FNV64_LEGACY_OFFSET 0x14650FB0739D0383ULL
#define ST_FNV64_PRIME 0x100000001b3ULL       /* FNV 64 prime (1099511628211) */

/* FNV-1a of p[0..n) continued from h (ST_FNV64_OFFSET to start): hashes keys made of parts. */
static inline uint64_t st_fnv1a64_more(uint64_t h, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * ST_FNV64_PRIME;
    return h;
}

/* FNV-1a 64 of p[0..n) (p may be NULL when n == 0). */
static inline uint64_t st_fnv1a64(const void *p, size_t n) { return st_fnv1a64_more(ST_FNV64_OFFSET, p, n); }

/* FNV-1a 64 of a NUL-terminated string (the NUL not included): one pass, no strlen. */
static inline uint64_t st_fnv1a64_str(const char *s)
{
    uint64_t h = ST_FNV64_OFFSET;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * ST_FNV64_PRIME;
    return h;
}

/* MurmurHash3's 64-bit finaliser: every input bit affects every output bit, so the low bits
 * a power-of-two table indexes with are well spread. A bijection (0 maps to 0). */
static inline uint64_t st_hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

#endif
