/* delta_internal.h — private structures shared by the files of src/delta/.
 * Not part of the API: only the .c files of src/delta include it. */
#ifndef ST_DELTA_INTERNAL_H
#define ST_DELTA_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "delta/delta.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/strmap.h"

/* ---- string -> index map: util/strmap.h with borrowed keys, the index stored + 1 as the value
 * (so that 0, NULL, means absent). Zeroed = empty; the map is made on the first put. */
typedef struct delta_map {
    strmap *m;
} delta_map;

static inline void delta_map_free(delta_map *m)
{
    strmap_destroy(m->m);
    m->m = NULL;
}
/* Index stored for key, or (size_t)-1. O(1) expected. */
static inline size_t delta_map_get(const delta_map *m, const char *key)
{
    void *v = m->m ? strmap_get(m->m, key) : NULL;
    return v ? (size_t)((uintptr_t)v - 1) : (size_t)-1;
}
/* Inserts or replaces; key must stay valid while in the map. */
static inline void delta_map_put(delta_map *m, const char *key, size_t val)
{
    if (!m->m) m->m = strmap_new_borrowed();
    strmap_put(m->m, key, (void *)(uintptr_t)(val + 1));
}
/* Removes key. No-op when absent. */
static inline void delta_map_del(delta_map *m, const char *key)
{
    if (m->m) strmap_remove(m->m, key);
}

/* ---- owned txn entry */
typedef struct delta_txn_entry {
    char *app_id;
    int64_t version;
    int64_t last_updated;
} delta_txn_entry;

/* ---- the table state (a snapshot; delta_state.c)
 * What the log says at one version, and nothing about how it was read: delta_state.c
 * applies actions to it, delta_snapshot.c (log replay) and delta_checkpoint.c fill it from
 * the files, delta_table.c and the maintenance commands read it. */
struct delta_snapshot {
    char *table_path;         /* the table's root, for messages */
    st_store *store;          /* where it was read from; NULL for a state built in memory */
    int owns_store;           /* closed with the snapshot (delta_snapshot_load opened it) */
    int64_t version;
    int64_t checkpoint_version;
    int has_protocol, has_metadata;
    int min_reader, min_writer;
    char **reader_features;
    size_t nreader_features;
    char **writer_features;
    size_t nwriter_features;
    /* metaData */
    char *id, *name, *description, *format_provider, *schema_string;
    delta_schema *schema;
    char **partition_columns;
    size_t npartition;
    char **config_keys, **config_vals;
    size_t nconfig;
    int64_t created_time;
    /* files */
    delta_file_list files;
    delta_map file_index;
    delta_file_list tombstones;
    delta_map tomb_index;
    int64_t total_bytes;
    /* txns: public views point into entries */
    delta_txn_entry *txns;
    delta_txn *txn_views;
    size_t ntxns, txn_cap;
    delta_map txn_index;
    int64_t last_commit_ms;
    int64_t meta_changes;     /* count of metaData/protocol actions applied */
    int no_tombstones;        /* 1: removes are not remembered (a writer handle that never
                                 checkpoints: its memory does not grow with the removes it sees) */
};

/* An empty state (version -1) named table_path, reading from store (borrowed, may be NULL). */
delta_snapshot *delta_snapshot_empty(const char *table_path, st_store *store);
/* Log replay (delta_snapshot.c): applies the commits after s->version until the next one is
 * missing (incremental refresh: one read per new version plus one that finds nothing). */
st_code delta_snapshot_catch_up(delta_snapshot *s, st_err *e);

/* Applies one action object ({"add":{...}} etc.) to the state. `where` names the file
 * (and line) for messages. Unknown actions are ignored (forward compatible). */
st_code delta_state_apply(delta_snapshot *s, json_t *action, const char *where, st_err *e);
/* Applies a whole commit file's text (newline-delimited JSON). Sets last_commit_ms from
 * commitInfo.timestamp when present. */
st_code delta_state_apply_commit(delta_snapshot *s, const char *text, size_t len, const char *where,
                                 st_err *e);
/* Checks that protocol and metadata are present and readable by us. */
st_code delta_state_check_readable(const delta_snapshot *s, const char *where, st_err *e);
/* Adds/replaces a txn entry. */
void delta_state_set_txn(delta_snapshot *s, const char *app_id, int64_t version, int64_t last_updated);
/* Adds a file (replaces one with the same path; drops a tombstone for it). f is moved in. */
void delta_state_add_file(delta_snapshot *s, delta_file *f);
/* Removes a file by path and records the tombstone (moved in; freed when no_tombstones). */
void delta_state_remove_file(delta_snapshot *s, delta_file *tomb);
/* Forgets the tombstones whose deletionTimestamp is before horizon_ms (INT64_MAX: all).
 * O(tombstones). */
void delta_state_expire_tombstones(delta_snapshot *s, int64_t horizon_ms);

/* ---- log encoding (delta_log.c) */
/* Parses an add/remove object into f (zeroed first). */
st_code delta_file_from_json(json_t *obj, int is_remove, delta_file *f, const char *where, st_err *e);
json_t *delta_file_to_json(const delta_file *f, int is_remove);
void delta_file_free(delta_file *f);
void delta_file_copy(delta_file *dst, const delta_file *src);
/* numRecords out of a stats JSON text, -1 when absent or unparsable. */
int64_t delta_stats_num_records(const char *stats);
/* Encodes the metaData action of a state. */
json_t *delta_metadata_to_json(const delta_snapshot *s);
json_t *delta_protocol_to_json(const delta_snapshot *s);
/* Appends one JSON object as a line (compact, sorted keys not required). */
void delta_json_line(st_buf *b, json_t *obj);

/* ---- log keys and names (delta_util.c): keys are relative to the table's store */
#define DELTA_LOG_DIR "_delta_log/"
#define DELTA_KEY_MAX 96
/* "_delta_log/%020lld.json" and "_delta_log/%020lld.checkpoint.parquet" into buf. */
const char *delta_commit_key(char buf[DELTA_KEY_MAX], int64_t version);
const char *delta_checkpoint_key(char buf[DELTA_KEY_MAX], int64_t version);
/* Random RFC 4122 version 4 UUID text (36 chars + NUL). */
void delta_uuid(char out[37]);
int64_t delta_now_ms(void);
/* Hive-style escaping of a partition value for a folder name. */
void delta_escape_partition(st_buf *b, const char *v);
/* URI-encodes a relative path for the log (keeps unreserved chars and '/', '='). */
void delta_uri_encode_path(st_buf *b, const char *p);
/* Kind of a _delta_log file name: 1 commit, 2 classic checkpoint, 3 multi-part checkpoint
 * part (*part of *total), 4 v2 checkpoint (<v>.checkpoint.<uuid>.json|parquet), 0 other. */
int delta_parse_log_name(const char *name, int64_t *v, int *part, int *total);

/* A version in the log and the modification time of its file (of the first part of a
 * multi-part checkpoint). */
typedef struct delta_log_version {
    int64_t version;
    int64_t mtime_ms;
} delta_log_version;

/* The commits and checkpoints of a log listing, each sorted by version (checkpoints: one
 * entry per version that has a complete one, of any kind). */
typedef struct delta_log_listing {
    delta_log_version *commits, *checkpoints;
    size_t ncommits, ncheckpoints;
} delta_log_listing;

/* Lists the files of _delta_log of versions >= from (from <= 0: all of it) with one store
 * listing (start-after "_delta_log/<from>"). With from = the last checkpoint the cost does
 * not grow with the table's history on object storage (a POSIX folder is still read whole
 * by readdir, but only the names from `from` on are stat'ed and kept). An empty or missing
 * _delta_log gives an empty listing. */
st_code delta_list_log(st_store *store, int64_t from, delta_log_listing *out, st_err *e);
void delta_log_listing_free(delta_log_listing *l);
/* Index of version v in a sorted array, or -1 (binary search). */
long delta_log_find(const delta_log_version *v, size_t n, int64_t version);

/* ---- retentions (delta_vacuum.c) */
/* The retention to apply: opt when >= 0, else the table property `key` (an interval, see
 * delta_parse_interval_ms), else def. ST_ERR_ARG naming the table and property when the
 * property is not an interval. */
st_code delta_retention_ms(const delta_snapshot *s, int64_t opt, const char *key, int64_t def, int64_t *out,
                           st_err *e);
#define DELTA_DEFAULT_FILE_RETENTION_MS (7LL * 24 * 3600 * 1000)
#define DELTA_DEFAULT_LOG_RETENTION_MS (30LL * 24 * 3600 * 1000)

/* ---- new data files (delta_table.c) */
/* Deletes the data files of `files` (this writer's, never referenced by a visible commit);
 * errors are ignored (an orphan is vacuum's). */
void delta_files_delete(st_store *store, const delta_file *files, size_t n);

/* ---- checkpoints (delta_checkpoint.c) */
/* Writes <version>.checkpoint.parquet of the state into its store (atomically: readers see
 * a complete file or none), then _last_checkpoint (only moving it forward). Tombstones
 * deleted before horizon_ms are left out (expired). */
st_code delta_checkpoint_write(const delta_snapshot *s, int64_t horizon_ms, st_err *e);
/* Loads the checkpoint of `version` (classic, v2 or multi-part) into an empty state. */
st_code delta_checkpoint_read(delta_snapshot *s, int64_t version, st_err *e);
/* Loads one checkpoint Parquet file from src (closed here) into s; sidecar paths it names
 * are ignored. The fuzzer's entry point. */
st_code delta_checkpoint_read_source(delta_snapshot *s, st_source *src, st_err *e);
/* Reads _last_checkpoint: its version, or -1 when missing/unreadable (callers then list). */
int64_t delta_last_checkpoint_version(st_store *store);

/* A timestamp (us) as a stats bound: millisecond ISO string, the max rounded up; NULL outside
 * years 0001..9999. */
json_t *delta_stats_ts_json(int64_t us, int round_up);
/* A data file column as its Delta `stats` describe it. nonfinite: a NaN or +-Inf double was
 * written (then no bounds: NaN has no order, +-Inf is not JSON). */
typedef struct delta_stats_col {
    const char *name;
    delta_type type;
    int nullable;
    int nonfinite;
} delta_stats_col;
/* The Delta `stats` JSON text (malloc'd) of a file from the Parquet writer's per-column
 * statistics (cols[i] is leaf i): numRecords, minValues/maxValues (strings cut to 32 code points,
 * a max only when exact, as Spark does), nullCount. O(columns): the writer kept the bounds. */
char *delta_stats_json(const delta_stats_col *cols, int ncols, const pq_file_info *info);
/* The codec part of a data file name as Spark writes it (".snappy", ".zstd", ...). */
const char *delta_codec_ext(pq_codec c);

#endif
