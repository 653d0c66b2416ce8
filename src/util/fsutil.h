/* fsutil.h — small file-system helpers shared by every module. */
#ifndef ST_UTIL_FSUTIL_H
#define ST_UTIL_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "util/err.h"
#include "util/buf.h"

/* mkdir -p; existing directories are fine. */
st_code st_mkdirs(const char *path, st_err *e);
/* Reads a whole file into out (appends). ST_ERR_NOTFOUND if it does not exist. */
st_code st_read_file(const char *path, st_buf *out, st_err *e);
/* Writes data to path atomically: write to "<path>.tmp.<pid>", fsync, rename over path. */
st_code st_write_file_atomic(const char *path, const void *data, size_t len, st_err *e);
/* Creates path with data only if it does not exist yet (put-if-absent): writes a temp
 * file, fsyncs it, then link(2)s it to path. ST_ERR_CONFLICT if path already exists. */
st_code st_write_file_exclusive(const char *path, const void *data, size_t len, st_err *e);
/* The loops under the helpers above (and the storage layer's POSIX backend): read(2) until
 * end of file, appending to out; write(2) all of data. Both retry EINTR; they return -1 with
 * errno set on failure, 0 on success. */
int st_fd_read_all(int fd, st_buf *out);
int st_fd_write_all(int fd, const void *data, size_t len);
/* fsync(2) of a folder, so that names created, renamed or linked in it survive a crash.
 * -1 with errno set on failure. */
int st_fsync_dir(const char *path);
/* 1 if path exists, 0 otherwise. */
int st_path_exists(const char *path);
/* rm -rf (used by `smarttech reset` and tests). Missing path is fine. */
st_code st_remove_tree(const char *path, st_err *e);
/* Joins a and b with one '/', into a malloc'd string. */
char *st_path_join(const char *a, const char *b);

#endif
