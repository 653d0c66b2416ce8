#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

st_code st_mkdirs(const char *path, st_err *e)
{
    char *p = st_xstrdup(path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                st_err_set(e, ST_ERR_IO, "cannot create directory %s: %s", p, strerror(errno));
                free(p);
                return ST_ERR_IO;
            }
            p[i] = c;
        }
    }
    free(p);
    return ST_OK;
}

int st_fd_read_all(int fd, st_buf *out)
{
    for (;;) {
        st_buf_reserve(out, 65536);
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) return 0;
        out->len += (size_t)r;
    }
}

int st_fd_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int st_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

st_code st_read_file(const char *path, st_buf *out, st_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return st_err_set(e, errno == ENOENT ? ST_ERR_NOTFOUND : ST_ERR_IO, "cannot open %s: %s",
                          path, strerror(errno));
    if (st_fd_read_all(fd, out) != 0) {
        st_err_set(e, ST_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return ST_ERR_IO;
    }
    close(fd);
    return ST_OK;
}

static st_code write_tmp(const char *tmp, const void *data, size_t len, st_err *e)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return st_err_set(e, ST_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    if (st_fd_write_all(fd, data, len) != 0) {
        st_err_set(e, ST_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return ST_ERR_IO;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        st_err_set(e, ST_ERR_IO, "cannot flush %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return ST_ERR_IO;
    }
    return ST_OK;
}

st_code st_write_file_atomic(const char *path, const void *data, size_t len, st_err *e)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    st_code rc = write_tmp(tmp, data, len, e);
    if (rc) return rc;
    if (rename(tmp, path) != 0) {
        st_err_set(e, ST_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return ST_ERR_IO;
    }
    return ST_OK;
}

st_code st_write_file_exclusive(const char *path, const void *data, size_t len, st_err *e)
{
    char tmp[4096];
    static unsigned counter;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    st_code rc = write_tmp(tmp, data, len, e);
    if (rc) return rc;
    if (link(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        if (err == EEXIST)
            return st_err_set(e, ST_ERR_CONFLICT, "cannot create %s: file exists (another writer committed first)", path);
        return st_err_set(e, ST_ERR_IO, "cannot create %s: %s", path, strerror(err));
    }
    unlink(tmp);
    return ST_OK;
}

int st_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

st_code st_remove_tree(const char *path, st_err *e)
{
    if (!st_path_exists(path)) return ST_OK;
    if (nftw(path, rm_cb, 64, FTW_DEPTH | FTW_PHYS) != 0)
        return st_err_set(e, ST_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return ST_OK;
}

char *st_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    char *p = st_xmalloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}
