/* dedup.h — drop duplicate events by event_id within an event-time watermark.
 *
 * One dedup_state per Kafka partition (duplicates of an event share its key,
 * sensor_id, so they always land in the same partition). Keys are 64-bit hashes
 * of event_id: a false "duplicate" needs two different ids with the same hash,
 * about n^2 / 2^65 for n live ids (3e-8 for a million) — the price of keeping
 * 16 bytes per id instead of the id itself.
 *
 * Watermark = max event time seen - delay (default 10 min). Ids whose event time
 * is older than the watermark are evicted, so memory is bounded by the number of
 * distinct events inside the delay. An event older than the watermark is still
 * checked against what is left (it is not dropped for being late: lateness is the
 * Gold stage's business).
 *
 * Persistence: an append-only state log per partition in the checkpoint folder.
 * dedup_state_save_batch appends the ids admitted by one batch together with the
 * batch's end offset, before that batch is committed to Delta. dedup_state_load
 * replays the log up to a given committed offset and ignores records beyond it
 * (a batch that never committed) and a torn tail, so the state always matches the
 * table. The log is rewritten compactly when mostly dead.
 */
#ifndef ST_STREAM_DEDUP_H
#define ST_STREAM_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct dedup_state dedup_state;

/* path: the partition's state log (created on first save). delay_us: watermark delay. */
dedup_state *dedup_state_new(const char *path, int64_t delay_us);
void dedup_state_destroy(dedup_state *d);   /* NULL-safe */

/* Loads the log, keeping the records whose end offset <= committed_offset; records after it are
 * cut from the file. committed_offset < 0: start empty and truncate the log. */
st_code dedup_state_load(dedup_state *d, int64_t committed_offset, st_err *e);

/* 64-bit hash of an event id (FNV-1a then a finaliser). */
uint64_t dedup_hash(const char *id, size_t len);

/* 1 if the id was already seen (duplicate), 0 if new: the id is then remembered as pending
 * (visible to later checks in the same batch) until dedup_state_save_batch or _discard. */
int dedup_state_check(dedup_state *d, uint64_t id_hash, int64_t event_time_us);

/* Appends the pending ids with the batch's end offset (next offset to read) to the log and
 * fsyncs it; then evicts ids older than the watermark. Call before the Delta commit. */
st_code dedup_state_save_batch(dedup_state *d, int64_t end_offset, st_err *e);

/* Forgets the pending ids (the batch was abandoned). */
void dedup_state_discard_batch(dedup_state *d);

size_t dedup_state_size(const dedup_state *d);        /* live ids */
int64_t dedup_state_watermark(const dedup_state *d);  /* INT64_MIN before any event */

#endif
