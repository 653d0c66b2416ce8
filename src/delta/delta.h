/* delta.h — the whole public API of the Delta Lake module.
 *
 * Written from delta-io/delta PROTOCOL.md (reader version 1, writer version 2).
 * What it does:
 *   - schema (flat: boolean, integer, long, double, string, date, timestamp);
 *   - create/open a table, write Parquet data files from a columnar batch
 *     (Hive-style partition folders, Spark-like names, per-file stats);
 *   - commit add + txn + commitInfo actions atomically (put-if-absent on
 *     _delta_log/NNNNNNNNNNNNNNNNNNNN.json; on conflict re-read the log and retry at
 *     the next version: appends commute);
 *   - snapshots: last checkpoint + JSON commits after it, active files with
 *     add/remove reconciliation, metaData, protocol, txn per appId;
 *   - a Parquet checkpoint every N commits (default 10) plus _last_checkpoint;
 *   - the list of changes between two versions (to tail a table).
 *
 * Ownership, in short:
 *   - objects returned by *_new / *_create / *_open / *_load belong to the caller and
 *     are released by the matching *_destroy (NULL-safe);
 *   - `const` pointers returned by accessors are borrowed from the object and valid
 *     until it is destroyed (for delta_table: until the next call that refreshes it);
 *   - structs passed in (delta_commit_params, delta_txn, delta_file arrays) are
 *     borrowed for the duration of the call only;
 *   - delta_file_list and delta_version_changes own their contents; free them with
 *     delta_file_list_free / delta_changes_free.
 *
 * Storage: a table is a store (store/store.h) rooted at the table's folder or URI; every
 * read and write of the log and of the data files goes through it. Functions taking a
 * table path open the store themselves; long-lived callers keep a store (or a table) and
 * use the *_store variants.
 *
 * Errors: every fallible call returns an st_code and fills st_err with a message
 * naming the table, file or version. ST_ERR_UNSUPPORTED names the protocol version
 * or table feature we do not implement. Nothing here prints or exits.
 *
 * Threads: objects are not thread-safe; use one per thread. Several processes may
 * write one table at the same time (that is what put-if-absent is for).
 */
#ifndef ST_DELTA_H
#define ST_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"
#include "store/store.h"
#include "util/err.h"

/* ------------------------------------------------------------------ schema */

typedef enum delta_type {
    DELTA_TYPE_BOOLEAN = 0,
    DELTA_TYPE_INTEGER,    /* int32 */
    DELTA_TYPE_LONG,       /* int64 */
    DELTA_TYPE_DOUBLE,
    DELTA_TYPE_STRING,     /* UTF-8 */
    DELTA_TYPE_DATE,       /* int32 days since 1970-01-01 */
    DELTA_TYPE_TIMESTAMP,  /* int64 microseconds since the epoch, UTC */
    DELTA_TYPE_OTHER       /* read from a foreign table (decimal, struct, ...): shown, never written */
} delta_type;

/* "boolean", "integer", ... as in Delta's schemaString; "other" for DELTA_TYPE_OTHER. */
const char *delta_type_name(delta_type t);

typedef struct delta_schema delta_schema;

delta_schema *delta_schema_new(void);
void delta_schema_destroy(delta_schema *s);                 /* NULL-safe */
delta_schema *delta_schema_copy(const delta_schema *s);
/* Appends a field. Names must be non-empty and unique regardless of case (ST_ERR_ARG). */
st_code delta_schema_add(delta_schema *s, const char *name, delta_type type, int nullable, st_err *e);
size_t delta_schema_num_fields(const delta_schema *s);
const char *delta_schema_field_name(const delta_schema *s, size_t i);
delta_type delta_schema_field_type(const delta_schema *s, size_t i);
int delta_schema_field_nullable(const delta_schema *s, size_t i);
/* For DELTA_TYPE_OTHER: the type as JSON text ("decimal(10,2)", {"type":"struct",...}). */
const char *delta_schema_field_type_json(const delta_schema *s, size_t i);
/* Index of the field named name (exact match), or -1. */
int delta_schema_find(const delta_schema *s, const char *name);
/* Same names, types, nullability, in the same order. */
int delta_schema_equal(const delta_schema *a, const delta_schema *b);
/* Spark's JSON form ({"type":"struct","fields":[...]}); malloc'd, caller frees. */
char *delta_schema_to_json(const delta_schema *s);
/* Parses a schemaString. Types we do not model become DELTA_TYPE_OTHER. */
delta_schema *delta_schema_from_json(const char *json, st_err *e);
/* Parquet schema nodes of the data files: every field except the `nexclude` names in
 * `exclude` (the partition columns), mapped boolean->BOOLEAN, integer->INT32,
 * long->INT64, double->DOUBLE, string->BYTE_ARRAY(STRING), date->INT32(DATE),
 * timestamp->INT64(TIMESTAMP MICROS, UTC); nullable -> OPTIONAL else REQUIRED.
 * *nodes is malloc'd (names borrowed from s); ST_ERR_UNSUPPORTED for DELTA_TYPE_OTHER. */
st_code delta_schema_to_parquet(const delta_schema *s, const char *const *exclude, size_t nexclude,
                                pq_schema_node **nodes, int *nnodes, st_err *e);

/* ------------------------------------------------------------------ files and txns */

typedef struct delta_partition_value {
    char *name;
    char *value;                 /* NULL: the null partition value */
} delta_partition_value;

/* One `add` (or `remove`) action. Paths are as in the log: relative to the table root
 * and URI-encoded (delta_file_key gives the store key, delta_file_reader_open reads one). */
typedef struct delta_file {
    char *path;
    int64_t size;                /* bytes */
    int64_t modification_time;   /* ms since epoch (for a remove: deletionTimestamp) */
    int data_change;
    char *stats;                 /* stats JSON text, NULL if absent */
    int64_t num_records;         /* from stats; -1 when unknown */
    size_t num_partition_values;
    delta_partition_value *partition_values;
} delta_file;

typedef struct delta_file_list {
    delta_file *items;
    size_t count, cap;
} delta_file_list;

/* Frees every file and the array; leaves l empty (reusable). NULL-safe. */
void delta_file_list_free(delta_file_list *l);
/* Appends a deep copy of f. */
void delta_file_list_append_copy(delta_file_list *l, const delta_file *f);
/* Partition value of f for column name; *found says whether the column is there. */
const char *delta_file_partition_value(const delta_file *f, const char *name, int *found);
/* The file's key in the table's store (its path decoded), malloc'd; NULL when the path is
 * absolute (a URI or a path outside the table, which we do not follow). */
char *delta_file_key(const delta_file *f);
/* Opens a Parquet reader of the file, through the table's store. ST_ERR_UNSUPPORTED for an
 * absolute path; otherwise the reader's errors (ST_ERR_NOTFOUND: the file is gone). */
pq_reader *delta_file_reader_open(st_store *table, const delta_file *f, st_err *e);
/* "<table>/<decoded path>", malloc'd; caller frees. For local tables only: code that can
 * reach the table's store uses delta_file_key with it instead. */
char *delta_file_local_path(const char *table_path, const delta_file *f);

/* An application transaction id (txn action): the writer `app_id` has committed up to
 * `version` (for Kafka: the next offset to read). */
typedef struct delta_txn {
    const char *app_id;
    int64_t version;
    int64_t last_updated;        /* ms; 0 = now (on commit) */
} delta_txn;

/* ------------------------------------------------------------------ snapshots */

typedef struct delta_snapshot delta_snapshot;

typedef struct delta_load_options {
    int64_t version;             /* -1 (default): latest */
    int ignore_checkpoints;      /* 1: replay every JSON commit from version 0 */
} delta_load_options;

void delta_load_options_init(delta_load_options *o);

/* Loads the table state at a version: the newest usable checkpoint plus the JSON commits
 * after it. The log is listed from the version _last_checkpoint names (start-after), so
 * opening a table does not read a listing that grows with its history; the whole log is
 * listed only when _last_checkpoint is missing or wrong, or for a version before it.
 * Cost: _last_checkpoint, one listing, the checkpoint file, one read per later commit.
 * ST_ERR_NOTFOUND: no table (no _delta_log/...json) or no such version;
 * ST_ERR_FORMAT: a damaged commit or checkpoint (the message names the file);
 * ST_ERR_UNSUPPORTED: reader version or reader feature we do not implement. */
delta_snapshot *delta_snapshot_load(const char *table_path, int64_t version, st_err *e);
delta_snapshot *delta_snapshot_load_opts(const char *table_path, const delta_load_options *o, st_err *e);
/* Same from the table's store (borrowed: it must outlive the snapshot); o may be NULL. */
delta_snapshot *delta_snapshot_load_store(st_store *table, const delta_load_options *o, st_err *e);
void delta_snapshot_destroy(delta_snapshot *s);
/* The store the snapshot was read from (borrowed), to read its files. */
st_store *delta_snapshot_store(const delta_snapshot *s);

int64_t delta_snapshot_version(const delta_snapshot *s);
/* Version of the checkpoint the snapshot started from, -1 when replayed from JSON only. */
int64_t delta_snapshot_checkpoint_version(const delta_snapshot *s);
int delta_snapshot_min_reader_version(const delta_snapshot *s);
int delta_snapshot_min_writer_version(const delta_snapshot *s);
const char *delta_snapshot_table_id(const delta_snapshot *s);
const char *delta_snapshot_table_name(const delta_snapshot *s);     /* may be NULL */
int64_t delta_snapshot_created_time(const delta_snapshot *s);        /* ms, -1 unknown */
const delta_schema *delta_snapshot_schema(const delta_snapshot *s);
const char *delta_snapshot_schema_string(const delta_snapshot *s);
size_t delta_snapshot_num_partition_columns(const delta_snapshot *s);
const char *delta_snapshot_partition_column(const delta_snapshot *s, size_t i);
/* metaData.configuration[key], or NULL. */
const char *delta_snapshot_configuration(const delta_snapshot *s, const char *key);

/* Active files (unordered). */
size_t delta_snapshot_num_files(const delta_snapshot *s);
const delta_file *delta_snapshot_file(const delta_snapshot *s, size_t i);
int64_t delta_snapshot_total_bytes(const delta_snapshot *s);
/* Sum of numRecords, -1 when any active file lacks stats. */
int64_t delta_snapshot_total_records(const delta_snapshot *s);
/* Remove tombstones kept for the checkpoint (not yet expired). */
size_t delta_snapshot_num_tombstones(const delta_snapshot *s);

size_t delta_snapshot_num_txns(const delta_snapshot *s);
const delta_txn *delta_snapshot_txn(const delta_snapshot *s, size_t i);
/* Latest txn version for app_id, or -1 when the table has none. */
int64_t delta_snapshot_txn_version(const delta_snapshot *s, const char *app_id);

/* commitInfo.timestamp of the snapshot's version (file mtime when absent), ms. */
int64_t delta_snapshot_last_commit_ms(const delta_snapshot *s);

/* Canonical JSON of the whole state (protocol, metadata, files sorted by path with
 * partition values/size/stats, txns sorted by appId) for comparisons; malloc'd.
 * Times that depend on how the state was loaded (commit timestamps) are left out. */
char *delta_snapshot_state_json(const delta_snapshot *s);

/* ------------------------------------------------------------------ changes (tailing) */

typedef struct delta_version_changes {
    int64_t version;
    int64_t timestamp_ms;        /* commitInfo.timestamp, else file mtime */
    char *operation;             /* commitInfo.operation or NULL */
    char *txn_id;                /* commitInfo.txnId or NULL (which writer's commit this is) */
    delta_file_list added;
    delta_file_list removed;
    int metadata_changed;        /* a metaData or protocol action is in this version */
} delta_version_changes;

/* Reads the JSON commits from_version..to_version (inclusive; to_version -1 = up to the
 * latest existing commit) into *out (count entries, malloc'd). Stops without error at the
 * first version that does not exist yet when to_version is -1. */
st_code delta_changes_read(st_store *table, int64_t from_version, int64_t to_version,
                           delta_version_changes **out, size_t *count, st_err *e);
void delta_changes_free(delta_version_changes *v, size_t count);

/* Latest committed version of a table, -1 when none: _last_checkpoint, then a listing of
 * _delta_log from that version on. */
st_code delta_latest_version(st_store *table, int64_t *version, st_err *e);

/* ------------------------------------------------------------------ row batches */

typedef struct delta_batch delta_batch;

/* A columnar batch with one column per schema field (partition columns included),
 * in schema order. Append one value per column per row; every append is O(1)
 * amortised. A misuse (wrong type for the column, null in a non-nullable column,
 * bad index) is remembered and reported by delta_batch_validate / write. */
delta_batch *delta_batch_new(const delta_schema *schema);   /* schema copied */
void delta_batch_destroy(delta_batch *b);
void delta_batch_clear(delta_batch *b);                     /* 0 rows, keeps memory */
size_t delta_batch_num_rows(const delta_batch *b);          /* length of column 0 */
const delta_schema *delta_batch_schema(const delta_batch *b);
void delta_batch_append_null(delta_batch *b, int col);
void delta_batch_append_bool(delta_batch *b, int col, int v);
void delta_batch_append_int(delta_batch *b, int col, int32_t v);     /* integer, date */
void delta_batch_append_long(delta_batch *b, int col, int64_t v);    /* long, timestamp (us) */
void delta_batch_append_double(delta_batch *b, int col, double v);
void delta_batch_append_string(delta_batch *b, int col, const char *s, size_t len);
/* Same without copying: s must stay valid until the batch is written (delta_table_write_files)
 * or cleared. For large values the caller already holds (raw records). A column takes either
 * copied or borrowed strings until the next clear (mixing is a misuse). */
void delta_batch_append_string_ref(delta_batch *b, int col, const char *s, size_t len);
/* ST_ERR_ARG naming the column when columns differ in length or an append misused it. */
st_code delta_batch_validate(const delta_batch *b, st_err *e);

/* ------------------------------------------------------------------ tables */

typedef struct delta_table delta_table;

typedef struct delta_table_options {
    int checkpoint_interval;     /* default 10; 0 = never checkpoint automatically */
    pq_codec codec;              /* default PQ_CODEC_SNAPPY */
    int64_t max_rows_per_file;   /* default 1,000,000 */
    int64_t row_group_rows;      /* default 1,048,576 */
    int max_commit_attempts;     /* default 10,000 (conflicts under contention) */
    int64_t tombstone_retention_ms; /* -1 (default): the table's delta.deletedFileRetentionDuration,
                                    else 7 days. A checkpoint keeps the removes of files deleted
                                    since then (vacuum ages a removed file by them) and the handle
                                    forgets older ones when it writes a checkpoint. */
    int track_tombstones;        /* default 1. 0: the handle does not remember removed files at all
                                    (its memory does not grow with the compactions it sees); for a
                                    writer that leaves checkpoints to someone else: needs
                                    checkpoint_interval 0, delta_table_checkpoint gives ST_ERR_STATE */
} delta_table_options;

void delta_table_options_init(delta_table_options *o);

/* Creates a table (version 0: protocol 1/2 + metaData + commitInfo CREATE TABLE). When a
 * table already exists at path with the same schema and partition columns it is opened
 * instead (idempotent); a different one gives ST_ERR_CONFLICT. opt may be NULL. */
delta_table *delta_table_create(const char *path, const delta_schema *schema,
                                const char *const *partition_columns, size_t npartition,
                                const char *name, const delta_table_options *opt, st_err *e);
/* Opens an existing table and loads its latest snapshot. opt may be NULL: defaults,
 * with the table's delta.checkpointInterval property when it has one. Removing files
 * from a delta.appendOnly=true table is refused (ST_ERR_STATE). */
delta_table *delta_table_open(const char *path, const delta_table_options *opt, st_err *e);
void delta_table_destroy(delta_table *t);

const char *delta_table_path(const delta_table *t);
/* The table's store (borrowed; valid until the table is destroyed). */
st_store *delta_table_store(const delta_table *t);
/* The table's current snapshot (borrowed; changes on refresh/commit). */
const delta_snapshot *delta_table_snapshot(const delta_table *t);
int64_t delta_table_version(const delta_table *t);
/* Reads the commits made since the handle's version (incremental: one stat per new
 * version, not a replay). */
st_code delta_table_refresh(delta_table *t, st_err *e);

/* Writes the batch's rows as Parquet data files (one or more per partition; rows of
 * each partition keep their order) and appends one pending add action per file to
 * adds. Nothing is visible to readers until delta_table_commit. On failure the files
 * already written by this call are removed. An empty batch writes nothing. */
st_code delta_table_write_files(delta_table *t, const delta_batch *b, delta_file_list *adds, st_err *e);

typedef struct delta_commit_params {
    const delta_file *adds;      /* from delta_table_write_files */
    size_t nadds;
    const delta_txn *txns;       /* appId -> version, committed atomically with the adds */
    size_t ntxns;
    const char *operation;       /* commitInfo.operation; default "WRITE" */
    const char *operation_parameters_json; /* a JSON object text, or NULL ({"mode":"Append"}) */
    const char *commit_info_json;/* a JSON object merged into commitInfo, or NULL */
} delta_commit_params;

/* Commits one version: put-if-absent of the next JSON file; when another writer got
 * there first, reads its commit(s) and retries at the next version. A txn whose appId
 * already has a version >= ours in the table (someone committed that batch) gives
 * ST_ERR_CONFLICT without committing, as does a concurrent metaData/protocol change or
 * a file to remove that is no longer active (another writer removed it).
 * Every attempt of one call writes the same commitInfo.txnId (commit_info_json may set
 * it). A put whose outcome is unknown (ST_ERR_AMBIGUOUS from the storage) is resolved by
 * re-reading the log: the attempted version holding our txnId is success; held by
 * another writer, the commit is retried at the next version; still absent, it is retried
 * at the same version (put-if-absent settles it). After 3 unresolved ambiguous attempts
 * the call fails with ST_ERR_AMBIGUOUS: the commit may still land.
 * After version v with v % checkpoint_interval == 0 a checkpoint is written; its
 * failure does not fail the commit (see delta_table_last_warning). */
st_code delta_table_commit(delta_table *t, const delta_commit_params *p, int64_t *version, st_err *e);

/* delta_table_commit that also removes `nremoves` active files (borrowed; e.g. the
 * small files a compaction replaced). rearrange_only = 1 marks every add and remove
 * dataChange=false (streaming readers skip it). */
st_code delta_table_commit_with_removes(delta_table *t, const delta_commit_params *p, const delta_file *removes,
                                        size_t nremoves, int rearrange_only, int64_t *version, st_err *e);

/* ------------------------------------------------------------------ committing new files
 *
 * The one policy for "data files written -> one commit -> clean up", used by every writer
 * of new files (pipeline/append_sink.h for the stream jobs, delta_table_optimize):
 *   - landed: the version holding our actions (found directly, or by re-reading the log
 *     after an ambiguous put: the attempted version carries our commitInfo.txnId);
 *   - a conflict (another writer took the version) is re-read and retried at the next
 *     version, as delta_table_commit does;
 *   - txns held: the table already holds every txn of the commit at >= its version (a
 *     re-sent batch, committed before by us or another writer): nothing is committed, the
 *     call succeeds with version -1 and txns_held = 1 (no duplicate);
 *   - known not to have landed (an argument or state error, a conflict that cannot be
 *     retried, a put that failed with nothing written, a re-sent batch): the new add files
 *     are deleted, since no commit can ever reference them;
 *   - may have landed (an ambiguous put the log could not settle, or the re-read failed):
 *     the files are kept (a visible commit may reference them; vacuum removes them once
 *     old if it did not) and maybe_landed = 1. A file is never deleted while a commit
 *     referencing it may become visible.
 * DELTA_COMMIT_KEEP_FILES leaves the files in every case (the caller recorded them in a
 * durable batch log and redoes the same commit from it; the txn check makes that safe).
 * Removing files (removes, DELTA_COMMIT_REARRANGE) is as in delta_table_commit_with_removes. */

#define DELTA_COMMIT_REARRANGE 1u   /* every add and remove dataChange=false (compaction) */
#define DELTA_COMMIT_KEEP_FILES 2u  /* never delete the adds (they belong to the caller's log) */

typedef struct delta_commit_result {
    int64_t version;             /* the version that holds our actions, -1 when none does */
    int txns_held;               /* 1: skipped, the table already had every txn (see above) */
    int maybe_landed;            /* 1: failed, but the commit may still become visible */
    int files_deleted;           /* 1: the add files were deleted (known not to have landed) */
    int attempts;                /* put-if-absent attempts (1 + conflicts + ambiguous retries) */
    int ambiguous;               /* attempts whose outcome had to be read back from the log */
} delta_commit_result;

/* Commits p->adds (files this process has just written, e.g. by delta_table_write_files)
 * with p's txns and commitInfo, plus `nremoves` removes, under the policy above. r may be
 * NULL. Returns ST_OK when committed or when the txns were already held (r tells which);
 * otherwise the error of the commit, its message saying whether the files were kept. */
st_code delta_table_commit_files(delta_table *t, const delta_commit_params *p, const delta_file *removes,
                                 size_t nremoves, unsigned flags, delta_commit_result *r, st_err *e);

/* Writes a checkpoint of the current version now (and _last_checkpoint), with the tombstones
 * of the last tombstone_retention_ms (older ones expire, also from the handle's memory).
 * ST_ERR_ARG when the table's retention property is not an interval; ST_ERR_STATE for a
 * handle opened with track_tombstones 0. */
st_code delta_table_checkpoint(delta_table *t, st_err *e);

/* Message of the last non-fatal problem (e.g. a checkpoint that could not be written),
 * or NULL. */
const char *delta_table_last_warning(const delta_table *t);

/* ------------------------------------------------------------------ maintenance (optimize, vacuum)
 *
 * Compaction and clean-up commands (`smarttech table optimize|vacuum`); see
 * docs/maintenance.md. Both work on a table path, open their own handle and are safe to
 * run while streaming writers append to the same table. */

/* Parses a retention / interval: "168h", "7d", "30m", "90s", "500ms", a bare number of
 * seconds, or Delta's table-property form "interval 1 week" / "interval 30 days" /
 * "1 hour" (units: millisecond(s), second(s), minute(s), hour(s), day(s), week(s)).
 * ST_ERR_ARG naming the text when it is none of these or negative. */
st_code delta_parse_interval_ms(const char *text, int64_t *ms, st_err *e);

typedef struct delta_optimize_options {
    int64_t target_size;         /* bytes of an output file; default 128 MiB. Files at least this
                                    big are left alone. */
    int min_files;               /* default 2: a partition with fewer small files is skipped */
    const delta_partition_value *where; /* only partitions whose values equal these (borrowed; a
                                    NULL value matches the null partition); NULL = every partition */
    size_t nwhere;
    int max_attempts;            /* default 5: re-plans after a concurrent remove of an input */
    /* Planning for automatic compaction (delta_maintain.h); all 0 by default, which packs every
     * partition that has min_files small files whole, as OPTIMIZE does. */
    int tiered;                  /* 1: small = under half the target (a file of half the target
                                    or more is done: two never fit one output); a partition
                                    with min_files small files merges only its
                                    smallest files, smallest first, each joining while it is at
                                    most twice the files taken before it together: a row is
                                    rewritten at most log1.5(target / first file size) times in
                                    all, instead of once per run while its file is small */
    int64_t compact_after_ms;    /* > 0: a partition with fewer than min_files small files is also
                                    compacted once its oldest small file (modificationTime) is this
                                    old (tiered: merging what the tiered rule allows, when that bin
                                    holds a file this old: a file the rule leaves out ages by
                                    design and triggers nothing), and, tiered,
                                    one whose newest small file is this old (no new file for that
                                    long: it has gone quiet) is packed whole; 2 small files or more */
    int64_t now_ms;              /* the clock of compact_after_ms; 0: now */
    int64_t row_group_bytes;     /* > 0: output row groups of about this many bytes (estimated from
                                    the inputs' rows and sizes), which bounds the memory of a large
                                    rewrite; 0: the table's row_group_rows */
#ifdef SMARTTECH_TEST_HOOKS
    /* Test builds only: called after the new files are written, before each commit attempt. */
    void (*before_commit)(void *arg);
    void *before_commit_arg;
#endif
    /* Progress: called when a plan has work, before its files are written (files to merge,
     * output files). May be NULL. */
    void (*on_plan)(void *arg, int64_t files, int64_t bins);
    void *on_plan_arg;
} delta_optimize_options;

void delta_optimize_options_init(delta_optimize_options *o);

typedef struct delta_optimize_result {
    int64_t version;             /* the OPTIMIZE version; -1 when there was nothing to compact */
    int64_t read_version;        /* version the committed plan was made from */
    int64_t files_considered;    /* active files in the selected partitions */
    int64_t files_removed, files_added;
    int64_t bytes_removed, bytes_added;
    int64_t rows;                /* rows rewritten */
    int64_t partitions;          /* partitions compacted */
    int64_t bins;                /* output groups (one file each) */
    int attempts;                /* plans tried (1 + conflicts retried) */
} delta_optimize_result;

/* Compacts the table at path: in each partition (or the unpartitioned table) the active
 * files smaller than target_size are bin-packed in commit order into groups of about
 * target_size bytes; each group of 2+ files is read (pq_reader) and rewritten as one file
 * with the same schema, partition values (the original text) and exact stats. ONE version
 * commits every new file as an add and every input as a remove, all dataChange=false
 * (rows are unchanged; streaming readers skip it), operation "OPTIMIZE" with Spark-like
 * operationParameters (predicate, zOrderBy) and operationMetrics (numAddedFiles, ...).
 * Concurrent appends commute (the commit is retried at the next version); when another
 * writer removed one of our inputs the written files are deleted and the plan is redone
 * from the new state, at most max_attempts times, then ST_ERR_CONFLICT.
 * Nothing to compact is success with r->version = -1. ST_ERR_UNSUPPORTED for column types
 * or table features we cannot rewrite. Cost: reads and rewrites every selected small
 * file, streaming (memory: one input row group plus the output's open row group).
 * r may be NULL; o NULL = defaults. */
st_code delta_table_optimize(const char *path, const delta_optimize_options *o, delta_optimize_result *r,
                             st_err *e);
/* delta_table_optimize on an open handle (refreshed first, incrementally), for a caller that
 * compacts the same table again and again: no full load per run. */
st_code delta_table_compact(delta_table *t, const delta_optimize_options *o, delta_optimize_result *r, st_err *e);

#define DELTA_VACUUM_MIN_RETENTION_MS (3600LL * 1000) /* below this only with force */

typedef struct delta_vacuum_options {
    int64_t retention_ms;        /* -1 (default): the table's delta.deletedFileRetentionDuration,
                                    else 7 days */
    int dry_run;                 /* list, delete nothing */
    int force;                   /* allow retention < DELTA_VACUUM_MIN_RETENTION_MS */
    int clean_log;               /* also delete expired _delta_log commits/checkpoints (see below) */
    int64_t log_retention_ms;    /* -1 (default): delta.logRetentionDuration, else 30 days */
    int64_t now_ms;              /* 0 (default): the clock; the maintainer passes its pass's time */
    int log_only;                /* only the _delta_log clean-up of clean_log: no data file is
                                    listed nor deleted (the retention check still applies) */
    /* Progress: called before deleting, with what ("data files", "log files") and how many.
     * May be NULL; not called on a dry run or when there is nothing to delete. */
    void (*on_delete)(void *arg, const char *what, size_t n);
    void *on_delete_arg;
} delta_vacuum_options;

void delta_vacuum_options_init(delta_vacuum_options *o);

typedef struct delta_vacuum_result {
    char **files;                /* table-relative paths deleted (or, dry run, to delete), sorted */
    int64_t *sizes;              /* bytes, parallel to files */
    size_t nfiles;
    int64_t bytes;
    char **log_files;            /* _delta_log file names deleted (clean_log), sorted */
    size_t nlog_files;
    int64_t retention_ms;        /* the retention applied */
    int64_t version;             /* snapshot version the vacuum kept */
    int64_t files_kept_recent;   /* unreferenced files still within the retention */
    int64_t abandoned_writes;    /* leftovers of writers killed mid-write, removed (not in files) */
} delta_vacuum_result;

/* Frees the lists in r (NULL-safe); leaves it zeroed. */
void delta_vacuum_result_free(delta_vacuum_result *r);

/* Deletes files under the table folder that the latest snapshot does not reference and
 * that are older than the retention: a file with a remove tombstone in the snapshot is
 * old when its deletionTimestamp is; any other unreferenced file (an orphan left by a
 * writer that crashed before committing, or a tombstone already expired from the log)
 * when its mtime is. Never touches _delta_log, hidden names (starting with '.' or '_',
 * except partition folders like _x=1), or folders. A retention below one hour is refused
 * (ST_ERR_ARG) unless force: a concurrent writer's files are unreferenced until it
 * commits, so a short retention can delete data a running writer is about to commit,
 * and readers of older versions lose their files. clean_log additionally deletes JSON
 * commits and checkpoints of versions below the newest checkpoint that is itself older
 * than the log retention, when the files are older than it too (the table and time
 * travel after that checkpoint stay readable). Only tables with writer version <= 2
 * (no deletion vectors) are vacuumed. What killed writers left half-written (never visible,
 * see st_store_purge_abandoned) is removed past the same retention. Cost: one listing per
 * folder outside _delta_log (each entry with its size and time), one more of _delta_log
 * with clean_log.
 * r (may be NULL) is filled on failure too (what was deleted so far): free it always. */
st_code delta_table_vacuum(const char *path, const delta_vacuum_options *o, delta_vacuum_result *r, st_err *e);
/* The same against a snapshot the caller holds (e.g. delta_table_snapshot of a handle it has
 * just refreshed: what is committed after that is young, which is the safety margin). The
 * snapshot must carry its tombstones (a handle with track_tombstones 0 would let recently
 * removed files be aged by their mtime). */
st_code delta_snapshot_vacuum(const delta_snapshot *s, const delta_vacuum_options *o, delta_vacuum_result *r,
                              st_err *e);

#endif
