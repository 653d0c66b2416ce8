/* file_source.h — the input side of `smarttech bronze`: which files of a directory are
 * ready to be read, and what a file's identity is.
 *
 * Settle rule (files still being written are never read half-way):
 *   - only regular files directly in the directory are considered (no recursion);
 *   - hidden and temporary names are ignored: a leading '.', or a name ending in
 *     ".tmp", ".part", ".crdownload" or "~" (what cp/rsync/browsers/editors and our
 *     own simulator use while a file is incomplete);
 *   - a file is ready once its size, modification time (ns) and inode have stayed the
 *     same across two looks at least `settle_us` apart (default 1 s). A plain `cp` of
 *     a big file keeps changing size and mtime, so it is not ready until the copy
 *     has been quiet for the settle time.
 * A writer that pauses longer than the settle time in the middle of a file defeats
 * any such rule: write under a temporary name and rename, as the simulator does.
 *
 * Identity: the SHA-256 of the file's content (see sha256.h for why). The Bronze job
 * uses it so a renamed or touched file is not ingested again unless its bytes changed.
 *
 * Ownership: lists returned own their entries (file_source_list_free).
 */
#ifndef ST_STREAM_FILE_SOURCE_H
#define ST_STREAM_FILE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct file_source_options {
    int64_t settle_us; /* default 1,000,000 (1 s) */
} file_source_options;

void file_source_options_init(file_source_options *o);

/* A file as it was seen by a poll. */
typedef struct file_source_file {
    char *name;        /* relative to the directory */
    char *path;        /* directory/name */
    int64_t size;
    int64_t mtime_ns;  /* ns since the epoch */
    uint64_t inode;
} file_source_file;

typedef struct file_source_list {
    file_source_file *items;
    size_t count, cap;
} file_source_list;

/* Frees the entries and the array; leaves l empty. NULL-safe. */
void file_source_list_free(file_source_list *l);

/* 1 if the name is hidden or temporary (see above). */
int file_source_name_ignored(const char *name);

typedef struct file_source file_source;

/* dir is copied; it need not exist yet (polls then see no files). opt may be NULL. */
file_source *file_source_new(const char *dir, const file_source_options *opt);
void file_source_destroy(file_source *s); /* NULL-safe */

/* Lists the directory and updates what is known of each file. Appends to `ready` every
 * file that is settled and not marked done, sorted by (mtime, name) — oldest first.
 * *pending (may be NULL) = files seen but not yet settled; *next_us (may be NULL) = the
 * earliest time (same clock as now_us) at which one of them can be ready, 0 if none.
 * Files that vanished are forgotten. Cost: one readdir and one stat per entry.
 * ST_ERR_IO if the directory exists but cannot be read. */
st_code file_source_poll(file_source *s, int64_t now_us, file_source_list *ready, size_t *pending,
                         int64_t *next_us, st_err *e);

/* Marks f (in the state a poll returned it) as done: it is not returned again until its
 * size, mtime or inode change. Unknown names are ignored. */
void file_source_mark_done(file_source *s, const file_source_file *f);

/* SHA-256 (lower-case hex) of the first f->size bytes of f->path, read in 1 MiB
 * chunks. ST_ERR_NOTFOUND if the file is gone, ST_ERR_STATE if it is now shorter,
 * ST_ERR_IO otherwise. Cost: one read of the file. */
st_code file_source_hash(const file_source_file *f, char hex[65], st_err *e);

/* 1 if path still has f's size, mtime and inode (0 if not, or gone). One stat. */
int file_source_unchanged(const file_source_file *f);

#endif
