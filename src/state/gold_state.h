/* gold_state.h — the Gold job's checkpoint objects (private to the stream module), on the
 * checkpoint's store (a folder or s3://...).
 *
 * state-<V 20 digits>.bin or state-<V>-flush.bin: the job's whole state after the batch that
 * reached Silver version V (and flushed, for -flush): counters, window state, alert state,
 * Kafka outbox; a magic header, the Silver table id, and an FNV-1a checksum at the end, so a
 * damaged or foreign object is refused, never half-used. Written atomically (the store's
 * whole write). kafka-sent: the last position whose alerts Kafka acknowledged.
 * Positions order states: pos = 2 * V + flushed.
 */
#ifndef ST_STREAM_GOLD_STATE_H
#define ST_STREAM_GOLD_STATE_H

#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

static inline int64_t gold_pos(int64_t v, int flushed) { return 2 * v + (flushed ? 1 : 0); }
static inline int64_t gold_pos_version(int64_t pos) { return pos >= 0 ? pos / 2 : -((1 - pos) / 2); }
static inline int gold_pos_flushed(int64_t pos) { return (int)(pos & 1); }

/* "state-<V>[-flush].bin", malloc'd. */
char *gold_state_key(int64_t pos);
/* Writes body (already serialized) with header and checksum, atomically. */
st_code gold_state_write(st_store *s, int64_t pos, const char *table_id, const st_buf *body, st_err *e);
/* Reads the state of pos into out (body only, header and checksum checked). ST_ERR_NOTFOUND
 * when missing; ST_ERR_FORMAT when damaged; ST_ERR_STATE when it belongs to another table. */
st_code gold_state_read(st_store *s, int64_t pos, const char *table_id, st_buf *out, st_err *e);
/* Deletes every state object except keep1 and keep2 (and leftovers of older versions: names
 * starting with "state-" that are not states). Best effort: one listing, one delete each. */
void gold_state_prune(st_store *s, int64_t keep1, int64_t keep2);
/* kafka-sent marker: INT64_MIN when absent. */
int64_t gold_state_kafka_sent(st_store *s);
st_code gold_state_set_kafka_sent(st_store *s, int64_t pos, st_err *e);
/* Removes the marker (a fresh start). */
void gold_state_clear_kafka_sent(st_store *s);

#endif
