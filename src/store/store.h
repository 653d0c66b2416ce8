/* store.h — the storage layer: the whole public API of src/store/.
 *
 * Every access to table data (Delta log, checkpoints, Parquet data files) goes through a
 * store, as every file access of SQLite goes through its VFS: a small table of operations
 * with one backend per kind of storage. A store is opened from a URI naming its root:
 *   - a plain path ("data/output/silver_delta", "/tmp/t") or file:///abs/path: the POSIX
 *     backend (store_posix.c);
 *   - s3://bucket/prefix (or s3a://): the S3 backend (store_s3.c), for AWS S3 and the
 *     S3-compatible servers (MinIO, Ceph, s3proxy); settings below.
 * A backend is one file plus one row in the table of store.c.
 * Objects are named by a key relative to the root, '/'-separated, as object stores name
 * them ("_delta_log/00000000000000000012.json", "event_date=2026-11-26/part-...parquet").
 * A key is not empty, does not start or end with '/', and has no empty, "." or ".."
 * component (ST_ERR_ARG otherwise). There are no folders, only keys: writing a key creates
 * what the backend needs (the POSIX backend: mkdir -p of the parent folders).
 *
 * What the operations promise, on every backend:
 *   - a whole write replaces the object atomically: readers see the old or the new bytes;
 *   - put-if-absent creates the object only if no object has the key, atomically: of two
 *     racing writers exactly one succeeds, the other gets ST_ERR_CONFLICT;
 *   - a sink (streaming writer) makes nothing visible before st_sink_close, and the object
 *     appears whole at close; st_sink_abort (or a crash) leaves no object at the key;
 *   - a successful write is durable when it returns (POSIX: fsync of the file and of its
 *     folder; S3: the server's 200);
 *   - listings are sorted by key, byte-wise (memcmp order: "v1" < "v10" < "v2");
 *   - errors name the object (root and key) and say what failed; a missing object is
 *     ST_ERR_NOTFOUND; refused credentials or a denying policy are ST_ERR_DENIED; a write
 *     whose answer was lost (S3: a timeout, 409 on a conditional write) is ST_ERR_AMBIGUOUS:
 *     it may have landed.
 *
 * Ownership: st_store_open, st_store_open_source, st_store_open_sink and the *_uri
 * openers return objects the caller releases with st_store_close / st_source_close /
 * st_sink_close or st_sink_abort (NULL-safe). A store must outlive the sources and sinks
 * opened from it. Lists own their keys (st_list_free).
 * Threads: a store, source or sink is used by one thread at a time (one store per thread,
 * as for the Delta and Parquet objects above). Several processes may share a root: that
 * is what put-if-absent is for.
 */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct st_store st_store;
typedef struct st_source st_source;
typedef struct st_sink st_sink;

/* What a store knows about an object. */
typedef struct st_stat {
    int64_t size;                /* bytes */
    int64_t mtime_ms;            /* last modification, ms since the epoch */
} st_stat;

/* ------------------------------------------------------------------ stores */

/* Opens the store rooted at uri (see the top of this file). Nothing is created or checked
 * on disk or on the server: a root that does not exist yet lists empty, and the first write
 * creates it. ST_ERR_UNSUPPORTED naming the scheme for URIs we have no backend for;
 * ST_ERR_ARG for an empty or malformed URI (or bad S3 settings). */
st_code st_store_open(const char *uri, st_store **out, st_err *e);
void st_store_close(st_store *s);                      /* NULL-safe */

/* The root as given to st_store_open (file:// URIs decoded to their path; s3:// URIs
 * without a trailing '/'). */
const char *st_store_root(const st_store *s);

/* The folder of a store on the local file system (the POSIX backend), NULL for an object
 * store: for what only a local file system offers (a lock file). */
const char *st_store_local_path(const st_store *s);

/* Reads the whole object into out (appended). st may be NULL. ST_ERR_NOTFOUND when there
 * is no object at key. */
st_code st_store_read(st_store *s, const char *key, st_buf *out, st_stat *st, st_err *e);

/* Reads bytes [offset, offset + len) of the object into out (appended); fewer when the
 * object ends first (none when offset is at or past its end). */
st_code st_store_read_range(st_store *s, const char *key, uint64_t offset, size_t len, st_buf *out, st_err *e);

/* Writes the object whole, replacing any previous one atomically. */
st_code st_store_write(st_store *s, const char *key, const void *data, size_t len, st_err *e);

/* Creates the object only if the key is free: ST_ERR_CONFLICT when an object exists
 * (another writer got there first), with a message naming it. ST_ERR_AMBIGUOUS: the
 * outcome is unknown, the object may be in place (see st_sink_close); any other error:
 * nothing was written. The same holds for st_store_write. */
st_code st_store_put_if_absent(st_store *s, const char *key, const void *data, size_t len, st_err *e);

/* Size and modification time. ST_ERR_NOTFOUND when there is no object at key. */
st_code st_store_stat(st_store *s, const char *key, st_stat *st, st_err *e);

/* Deletes the object. A missing object is not an error (as on S3): deleting twice is fine.
 * Not made durable by itself (a delete lost in a crash comes back; callers that delete
 * garbage, like vacuum, just delete it again). */
st_code st_store_delete(st_store *s, const char *key, st_err *e);

/* ------------------------------------------------------------------ object storage settings
 *
 * The S3 backend takes its settings from the standard AWS variables when a store is opened:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or
 * AWS_DEFAULT_REGION; default us-east-1), AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (default
 * https://s3.<region>.amazonaws.com), AWS_CA_BUNDLE. The options below override them.
 *
 * They are process-wide, not an argument of st_store_open: the layers above pass only URIs
 * around (a table path reaches its store through Delta, Parquet, the sources and the jobs),
 * and every s3:// store of one process talks to the same service with the same
 * credentials. The CLI sets them (-S key=value, --s3-path-style) before any store is
 * opened; a store keeps the settings it was opened with. Thread-safe, but meant for start-up. */

/* Sets one setting (keys: st_store_options_help). ST_ERR_ARG naming the key for an unknown
 * key or a bad value (checked here, not at the first open). */
st_code st_store_set_option(const char *key, const char *value, st_err *e);
/* Same from "key=value" (the argument of -S). */
st_code st_store_set_option_arg(const char *key_value, st_err *e);
/* Forgets every setting (back to the environment alone). */
void st_store_clear_options(void);
/* Appends one line per key with what it does (for --help). */
void st_store_options_help(st_buf *out);

/* ------------------------------------------------------------------ listing */

typedef struct st_entry {
    char *key;                   /* full key (prefix included); a folder ends with '/' */
    int is_prefix;               /* 1: a "folder" of a non-recursive listing (size, mtime 0) */
    int64_t size;
    int64_t mtime_ms;
} st_entry;

typedef struct st_list {
    st_entry *items;
    size_t count, cap;
} st_list;

enum {
    ST_LIST_RECURSIVE = 1        /* every key under the prefix, at any depth (no folders) */
};

/* Lists the keys that start with prefix (a string prefix, as on S3: "_delta_log/" or
 * "_delta_log/00000000000000000010.checkpoint."; "" = everything) and sort after
 * start_after (NULL or "" = from the first), sorted byte-wise, into out (appended; free
 * with st_list_free). Without ST_LIST_RECURSIVE, keys in deeper "folders" are summed up
 * as one entry per folder ("prefix/sub/", is_prefix = 1), as S3's delimiter "/" does.
 * A prefix under which nothing exists lists empty (ST_OK). Objects being written (open
 * sinks, or left by a crashed writer) are never listed.
 * Cost: one backend listing (POSIX: the folders under the prefix are read, names at or
 * before start_after are skipped without a stat; S3: ListObjectsV2 pages of 1000 keys from
 * start_after on). */
st_code st_store_list(st_store *s, const char *prefix, const char *start_after, int flags, st_list *out, st_err *e);
void st_list_free(st_list *l);                         /* NULL-safe; leaves l empty */

/* Removes what crashed or killed writers left behind under prefix (POSIX: temporary files
 * of sinks never closed; S3: incomplete multipart uploads) when older than before_ms (ms
 * since the epoch): a sink still being written is younger. *removed (may be NULL) gets
 * the count. Cost: a recursive listing of the prefix. */
st_code st_store_purge_abandoned(st_store *s, const char *prefix, int64_t before_ms, size_t *removed, st_err *e);

/* ------------------------------------------------------------------ sources: random-access reads */

/* Opens the object for reads at any offset (a Parquet file: footer first, then column
 * chunks). Its size is fixed at open. ST_ERR_NOTFOUND when there is no object at key. */
st_code st_store_open_source(st_store *s, const char *key, st_source **out, st_err *e);

/* Opens one object named by a full URI or path (its parent folder becomes the store, which
 * the source keeps open): for commands that take a file, not a table. */
st_code st_source_open_uri(const char *uri, st_source **out, st_err *e);

/* A source over bytes in memory (borrowed: they must outlive the source); name is used in
 * messages. For the fuzzers and for data already in memory. Never fails. */
st_source *st_source_mem(const void *data, size_t len, const char *name);

int64_t st_source_size(const st_source *src);
/* The object's name for messages ("<root>/<key>"). */
const char *st_source_name(const st_source *src);
/* Reads exactly len bytes at offset into dst. Past the end (the caller's offsets are wrong,
 * or the object changed): ST_ERR_FORMAT naming the object. */
st_code st_source_read(st_source *src, uint64_t offset, size_t len, void *dst, st_err *e);
void st_source_close(st_source *src);                  /* NULL-safe */

/* ------------------------------------------------------------------ sinks: streaming writes */

enum {
    ST_SINK_REPLACE = 0,         /* at close, replace any object at the key */
    ST_SINK_IF_ABSENT = 1        /* at close, ST_ERR_CONFLICT if an object exists (and nothing changes) */
};

/* Starts writing an object. Nothing is visible at key (nor listed) until st_sink_close.
 * POSIX: a hidden temporary file in the key's folder, renamed (or linked, for
 * ST_SINK_IF_ABSENT) into place at close. S3: up to the part size (8 MiB) in memory and
 * one PUT at close; past it a multipart upload, completed at close. */
st_code st_store_open_sink(st_store *s, const char *key, int flags, st_sink **out, st_err *e);

/* Same with a full URI or path (its parent folder becomes the store, kept by the sink). */
st_code st_sink_open_uri(const char *uri, int flags, st_sink **out, st_err *e);

/* Appends len bytes. After a failure the sink only accepts st_sink_abort/close (which then
 * fail and leave nothing). Cost: POSIX writes through to the file (callers buffer). */
st_code st_sink_write(st_sink *k, const void *data, size_t len, st_err *e);
/* Bytes written so far. */
int64_t st_sink_offset(const st_sink *k);
const char *st_sink_name(const st_sink *k);

/* Makes the object durable and visible at its key, fills st (may be NULL) and frees the
 * sink, whatever the outcome. On failure nothing is left (the key keeps its old object, or
 * none), with two exceptions, both ST_ERR_AMBIGUOUS ("may have landed"): when only the last
 * step failed (POSIX: the fsync of the folder after the rename; the object is in place,
 * maybe not durable), and when the answer to the last request was lost (S3: a timeout or a
 * broken connection after the request was sent, a 409 to a conditional write; the object
 * may or may not exist). A replace is retried by the S3 backend until it is known, so it
 * fails ambiguous only after the retries. ST_ERR_CONFLICT for ST_SINK_IF_ABSENT when the
 * key was taken. */
st_code st_sink_close(st_sink *k, st_stat *st, st_err *e);

/* Drops everything written and frees the sink; the key is untouched. NULL-safe. */
void st_sink_abort(st_sink *k);

#endif
