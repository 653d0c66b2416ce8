/* dedup.h — drop duplicate events by event_id within an event-time watermark.
 *
 * One dedup_state per Kafka partition (duplicates of an event share its key,
 * sensor_id, so they always land in the same partition). Keys are 64-bit hashes
 * of event_id: a false "duplicate" needs two different ids with the same hash,
 * about n^2 / 2^65 for n live ids (3e-8 for a million) — the price of keeping
 * 12 bytes a slot (hash + 32-bit relative event time in ms; 15–24 bytes per live id with the
 * table's free slots) instead of the id itself.
 *
 * Watermark = max event time seen - delay (default 10 min). Ids whose event time
 * is older than the watermark are evicted, so memory is bounded by the number of
 * distinct events inside the delay. An event older than the watermark is still
 * checked against what is left (it is not dropped for being late: lateness is the
 * Gold stage's business).
 *
 * Persistence: objects on a store (the job's checkpoint: a folder or s3://...), so the state of
 * a partition moves with it when the consumer group hands it to another process on another
 * host. Under the partition's name N ("dedup/iot_smartech-0"):
 *   N/<end offset, 20 digits>.ids    the ids a batch admitted, written (atomically) before
 *                                    that batch is committed to Delta: one object per batch;
 *   N/<end offset>.snap              every live id at that offset (a compaction, written only
 *                                    at an offset Silver holds, then the older objects go);
 *   N.log                            the append-only log of earlier versions (read once as the
 *                                    oldest state, removed by the first compaction).
 * dedup_state_load(committed) takes the latest snapshot at or before the committed offset and
 * the batch objects after it up to that offset, in order; objects past it are batches that
 * never committed and are deleted. So the state always matches the table, whichever process
 * wrote it. Cost: one PUT per batch with new ids; one listing and one GET per object at load
 * (at most ~64 batch objects: a snapshot is written after 64 of them, or when dead ids
 * dominate).
 */
#ifndef ST_STREAM_DEDUP_H
#define ST_STREAM_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct dedup_state dedup_state;

/* store: where the state lives (borrowed: it must outlive d, and is used only inside calls on
 * d). name: the partition's key prefix, without a trailing '/'. delay_us: watermark delay. */
dedup_state *dedup_state_new(st_store *store, const char *name, int64_t delay_us);
void dedup_state_destroy(dedup_state *d);   /* NULL-safe */

/* Loads the state as of committed_offset (see above); objects past it are deleted.
 * committed_offset < 0: start empty and delete every object of the partition.
 * ST_ERR_FORMAT naming the object when one is damaged. */
st_code dedup_state_load(dedup_state *d, int64_t committed_offset, st_err *e);

/* 64-bit hash of an event id (FNV-1a then a finaliser). */
uint64_t dedup_hash(const char *id, size_t len);

/* 1 if the id was already seen (duplicate), 0 if new: the id is then remembered as pending
 * (visible to later checks in the same batch) until dedup_state_save_batch or _discard. */
int dedup_state_check(dedup_state *d, uint64_t id_hash, int64_t event_time_us);

/* Makes the pending ids durable with the batch's end offset (next offset to read): one object
 * (none when the batch admitted no id); then evicts ids older than the watermark. Call before
 * the Delta commit. committed_offset is what Silver holds for the partition now: when the
 * state is exactly that (the previous batch committed), a compaction due is written first,
 * at that offset. Seal then write (below): when the write fails, reload the state before going on. */
st_code dedup_state_save_batch(dedup_state *d, int64_t end_offset, int64_t committed_offset, st_err *e);

/* The same in two steps, for a caller that checks the next batch while this one is written and
 * committed on another thread: seal (on the checking thread; a compaction due is written here)
 * moves the pending ids into *ids and evicts; dedup_ids_write (on any thread, before the Delta
 * commit, while no other call on d runs concurrently with it on the store) writes them. When the
 * write fails, the state in memory holds ids the store does not: reload it (dedup_state_load)
 * before going on. ids: zeroed by the caller before the first seal, reused after, freed with
 * dedup_ids_free. The fields are private. */
typedef struct dedup_ids {
    st_buf data;
    int64_t end_offset;
    size_t count;           /* ids sealed; 0: nothing to write */
} dedup_ids;
st_code dedup_state_seal_batch(dedup_state *d, int64_t end_offset, int64_t committed_offset, dedup_ids *ids,
                               st_err *e);
st_code dedup_ids_write(const dedup_state *d, const dedup_ids *ids, st_err *e);
void dedup_ids_free(dedup_ids *ids);

/* Forgets the pending ids (the batch was abandoned). */
void dedup_state_discard_batch(dedup_state *d);

size_t dedup_state_size(const dedup_state *d);        /* live ids */
/* Heap bytes held by the table and the pending list (divide by dedup_state_size for the bytes
 * per live id that the bench prints). */
size_t dedup_state_bytes(const dedup_state *d);
int64_t dedup_state_watermark(const dedup_state *d);  /* INT64_MIN before any event */

#endif
