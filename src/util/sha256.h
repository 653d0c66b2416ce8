/* sha256.h — SHA-256 (FIPS 180-4), streaming, for file identity in the Bronze file
 * source. Written from the standard; no outside code.
 *
 * Why SHA-256 and not a 64-bit hash: a file's identity is its content hash, and a
 * collision would silently drop a new file (it would look already ingested). With
 * 256 bits that never happens in practice, and the value is the one `sha256sum`
 * prints, so a user can check a file against the checkpoint by hand.
 * Cost: with the x86 SHA extensions (SHA-NI, detected at run time) about 1.5-2 GB/s
 * per core; without them, portable C at about 100-250 MB/s.
 */
#ifndef ST_STREAM_SHA256_H
#define ST_STREAM_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_sha256 {
    uint32_t h[8];
    uint64_t total;      /* bytes hashed so far */
    uint8_t block[64];
    size_t nblock;       /* bytes pending in block */
} st_sha256;

void st_sha256_init(st_sha256 *c);
void st_sha256_update(st_sha256 *c, const void *data, size_t n);
/* Writes the 32-byte digest; c must be re-initialised before reuse. */
void st_sha256_final(st_sha256 *c, uint8_t out[32]);
/* Lower-case hex of a digest into out (65 bytes: 64 digits and a NUL). */
void st_sha256_hex(const uint8_t digest[32], char out[65]);

#ifdef SMARTTECH_TEST_HOOKS
/* Test builds only: 1 = always use the portable rounds, 0 = use SHA-NI when available.
 * Returns 1 when SHA-NI is in use after the call. Not thread-safe. */
int st_sha256_force_portable(int on);
#endif

#endif
