/* delta_internal.h — private structures shared by the files of src/delta/.
 * Not part of the API: only the .c files of src/delta include it. */
#ifndef ST_DELTA_INTERNAL_H
#define ST_DELTA_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "delta/delta.h"
#include "util/buf.h"

/* ---- string -> index map (open addressing, linear probing; keys borrowed) */
typedef struct delta_map {
    const char **keys;
    size_t *vals;
    size_t cap, count;
} delta_map;

void delta_map_free(delta_map *m);
/* Index stored for key, or (size_t)-1. O(1) expected. */
size_t delta_map_get(const delta_map *m, const char *key);
/* Inserts or replaces; key must stay valid while in the map. */
void delta_map_put(delta_map *m, const char *key, size_t val);
/* Removes key (backward-shift deletion keeps probes short). No-op when absent. */
void delta_map_del(delta_map *m, const char *key);

/* ---- owned txn entry */
typedef struct delta_txn_entry {
    char *app_id;
    int64_t version;
    int64_t last_updated;
} delta_txn_entry;

/* ---- the table state (a snapshot) */
struct delta_snapshot {
    char *table_path;
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
};

delta_snapshot *delta_snapshot_empty(const char *table_path);
/* Applies the commits after s->version until the next one is missing (incremental
 * refresh: one open per new version plus one failed open). */
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
/* Removes a file by path and records the tombstone (moved in). */
void delta_state_remove_file(delta_snapshot *s, delta_file *tomb);

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

/* ---- paths and names (delta_util.c) */
/* "<table>/_delta_log/%020lld.json" etc.; malloc'd. */
char *delta_commit_path(const char *table_path, int64_t version);
char *delta_checkpoint_path(const char *table_path, int64_t version);
char *delta_log_dir(const char *table_path);
/* Random RFC 4122 version 4 UUID text (36 chars + NUL). */
void delta_uuid(char out[37]);
int64_t delta_now_ms(void);
/* Hive-style escaping of a partition value for a folder name. */
void delta_escape_partition(st_buf *b, const char *v);
/* URI-encodes a relative path for the log (keeps unreserved chars and '/', '='). */
void delta_uri_encode_path(st_buf *b, const char *p);
/* Decodes %XX sequences; malloc'd. */
char *delta_uri_decode(const char *p);
/* Lists the versions in _delta_log: commits (sorted ascending) and classic single-file
 * checkpoints. ST_ERR_NOTFOUND when the folder does not exist. */
/* Kind of a _delta_log file name: 1 commit, 2 classic checkpoint, 3 multi-part checkpoint
 * part (*part of *total), 4 v2 checkpoint (<v>.checkpoint.<uuid>.json|parquet), 0 other. */
int delta_parse_log_name(const char *name, int64_t *v, int *part, int *total);
st_code delta_list_log(const char *table_path, int64_t **commits, size_t *ncommits, int64_t **checkpoints,
                       size_t *ncheckpoints, st_err *e);
/* Mtime of a file in ms, -1 when it cannot be stat'ed. */
int64_t delta_file_mtime_ms(const char *path);

/* ---- checkpoints (delta_checkpoint.c) */
/* Writes <version>.checkpoint.parquet from the state then _last_checkpoint (only
 * moving it forward). */
st_code delta_checkpoint_write(const delta_snapshot *s, st_err *e);
/* Loads a checkpoint file into an empty state. */
st_code delta_checkpoint_read(delta_snapshot *s, int64_t version, st_err *e);
/* Reads _last_checkpoint: its version, or -1 when missing/unreadable (callers then list). */
int64_t delta_last_checkpoint_version(const char *table_path);

/* Length in bytes of the first max_cp code points of valid UTF-8 s, -1 if s is not valid
 * UTF-8; *truncated says whether s was longer (string stats are cut to a prefix). */
long delta_utf8_prefix(const uint8_t *s, size_t n, size_t max_cp, int *truncated);
/* A timestamp (us) as a stats bound: millisecond ISO string, the max rounded up; NULL outside
 * years 0001..9999. */
json_t *delta_stats_ts_json(int64_t us, int round_up);
/* The codec part of a data file name as Spark writes it (".snappy", ".zstd", ...). */
const char *delta_codec_ext(pq_codec c);

#endif
