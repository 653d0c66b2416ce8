/* store_posix.c — the POSIX backend of the storage layer: a store is a folder, a key a
 * relative path in it.
 *
 * How the promises of store.h are kept:
 *   - writes (whole ones too) go to a hidden temporary file in the key's folder
 *     (".st-tmp-<pid>-<n>-<name>", created O_EXCL), fsync'd, then rename(2)d over the key
 *     (replace) or link(2)ed to it (put-if-absent: link fails with EEXIST when the key
 *     exists, atomically, even between processes and over NFS), and the folder is fsync'd
 *     so the new name survives a crash;
 *   - missing parent folders are created on the first ENOENT (mkdir -p), and their own
 *     parents fsync'd;
 *   - listings skip the temporary files, so an unfinished write is never seen; a writer
 *     killed mid-write leaves one behind, which st_store_purge_abandoned removes;
 *   - symbolic links inside the root are neither listed nor followed by listings.
 * Cost: a whole write is open + write + fsync + close + rename/link + fsync of the folder;
 * a listing reads the folders under the prefix (readdir) and stats only the entries it
 * returns. */
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"

#define TMP_PREFIX ".st-tmp-"

typedef struct px_store {
    st_store base;
} px_store;

/* Path of key under the root ("key" itself when the root is "."), malloc'd. */
static char *full_path(const st_store *s, const char *key)
{
    if (!strcmp(s->root, ".")) return st_xstrdup(key);
    if (!strcmp(s->root, "/")) {
        size_t n = strlen(key);
        char *p = st_xmalloc(n + 2);
        p[0] = '/';
        memcpy(p + 1, key, n + 1);
        return p;
    }
    return st_path_join(s->root, key);
}

/* ST_ERR_NOTFOUND for a missing file or folder, ST_ERR_IO otherwise; the message names
 * the path and says what the system said. */
static st_code os_err(st_err *e, int err, const char *what, const char *path)
{
    return st_err_set(e, err == ENOENT || err == ENOTDIR ? ST_ERR_NOTFOUND : ST_ERR_IO, "cannot %s %s: %s", what,
                      path, err == ENOENT ? "no such file" : strerror(err));
}

/* A failed write is ST_ERR_IO whatever errno says (a missing folder while writing is not
 * "no such object"). */
static st_code write_err(st_err *e, int err, const char *what, const char *path)
{
    return st_err_set(e, ST_ERR_IO, "cannot %s %s: %s", what, path, strerror(err));
}

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static void fill_stat(st_stat *out, const struct stat *st)
{
    if (!out) return;
    out->size = (int64_t)st->st_size;
    out->mtime_ms = mtime_ms(st);
}

static int is_temp(const char *name) { return !strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1); }

/* ------------------------------------------------------------------ store */

static st_code px_open(const char *location, st_store **out, st_err *e)
{
    (void)e;
    px_store *p = st_xcalloc(1, sizeof *p);
    p->base.backend = &st_posix_backend;
    size_t n = strlen(location);
    while (n > 1 && location[n - 1] == '/') n--;
    p->base.root = st_xstrndup(location, n);
    *out = &p->base;
    return ST_OK;
}

static void px_close(st_store *s)
{
    free(s->root);
    free(s);
}

/* Opens key for reading: a regular file, else ST_ERR_NOTFOUND (a folder is not an object). */
static st_code open_object(const char *path, int *fd, struct stat *st, st_err *e)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return os_err(e, errno, "open", path);
    if (fstat(*fd, st) != 0) {
        st_code rc = os_err(e, errno, "stat", path);
        close(*fd);
        return rc;
    }
    if (!S_ISREG(st->st_mode)) {
        close(*fd);
        return st_err_set(e, S_ISDIR(st->st_mode) ? ST_ERR_NOTFOUND : ST_ERR_FORMAT, "cannot open %s: %s", path,
                          S_ISDIR(st->st_mode) ? "it is a folder, not a file" : "not a regular file");
    }
    return ST_OK;
}

static st_code px_read(st_store *s, const char *key, uint64_t offset, size_t len, st_buf *out, st_stat *sst,
                       st_err *e)
{
    char *path = full_path(s, key);
    int fd;
    struct stat st;
    st_code rc = open_object(path, &fd, &st, e);
    if (rc) goto done;
    if (len == SIZE_MAX) {
        st_buf_reserve(out, (size_t)st.st_size + 1);
        if (st_fd_read_all(fd, out) != 0) rc = os_err(e, errno, "read", path);
    } else if (offset < (uint64_t)st.st_size) {
        uint64_t left = (uint64_t)st.st_size - offset;
        if (len > left) len = (size_t)left;
        st_buf_reserve(out, len);
        size_t got = 0;
        while (got < len) {
            ssize_t r = pread(fd, out->data + out->len + got, len - got, (off_t)(offset + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                rc = os_err(e, errno, "read", path);
                break;
            }
            if (r == 0) break; /* truncated meanwhile: what exists */
            got += (size_t)r;
        }
        if (!rc) out->len += got;
    }
    if (!rc) fill_stat(sst, &st);
    close(fd);
done:
    free(path);
    return rc;
}

static st_code px_stat(st_store *s, const char *key, st_stat *out, st_err *e)
{
    char *path = full_path(s, key);
    struct stat st;
    st_code rc = ST_OK;
    if (stat(path, &st) != 0) rc = os_err(e, errno, "stat", path);
    else if (!S_ISREG(st.st_mode)) rc = st_err_set(e, ST_ERR_NOTFOUND, "%s is not a file", path);
    else fill_stat(out, &st);
    free(path);
    return rc;
}

static st_code px_del(st_store *s, const char *key, st_err *e)
{
    char *path = full_path(s, key);
    st_code rc = ST_OK;
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR) rc = os_err(e, errno, "delete", path);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------ listing */

typedef struct walk {
    st_store *s;
    const char *after;           /* NULL: no lower bound */
    int recursive;
    int temps;                   /* 1: report only the temporary files (purge), 0: skip them */
    st_list *out;
    st_buf key;                  /* the folder being read, as a key prefix ("" or "a/b/") */
} walk;

/* Whether nothing under folder key dkey ("a/b/") can sort after w->after. */
static int folder_before(const walk *w, const char *dkey, size_t n)
{
    return w->after && strcmp(dkey, w->after) <= 0 && strncmp(w->after, dkey, n) != 0;
}

/* Reads the folder w->key, keeping the names that start with np (NULL: all), recursing into
 * sub-folders when w->recursive. O(names in the folders visited), one stat per entry
 * returned. */
static st_code walk_dir(walk *w, const char *np, st_err *e)
{
    size_t klen = w->key.len;
    char *dir = NULL;
    if (klen) {
        char *k = st_xstrndup((const char *)w->key.data, klen - 1);
        dir = full_path(w->s, k);
        free(k);
    }
    const char *dpath = dir ? dir : w->s->root;
    DIR *d = opendir(dpath);
    if (!d) {
        int err = errno;
        free(dir);
        if (err == ENOENT || err == ENOTDIR) return ST_OK; /* nothing under this prefix */
        return st_err_set(e, ST_ERR_IO, "cannot list %s: %s", dpath, strerror(err));
    }
    size_t nplen = np ? strlen(np) : 0;
    st_code rc = ST_OK;
    while (!rc) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = st_err_set(e, ST_ERR_IO, "cannot list %s: %s", dpath, strerror(errno));
            break;
        }
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        if (nplen && strncmp(name, np, nplen) != 0) continue;
        int tmp = is_temp(name);
        int type = de->d_type;
        struct stat st;
        int have_st = 0;
        if (type == DT_UNKNOWN) {
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue; /* gone meanwhile */
            have_st = 1;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
        }
        w->key.len = klen;
        st_buf_append_str(&w->key, name);
        if (type == DT_DIR) {
            st_buf_append_u8(&w->key, '/');
            const char *dkey = st_buf_cstr(&w->key);
            if (tmp || folder_before(w, dkey, w->key.len)) continue;
            if (w->recursive) {
                rc = walk_dir(w, NULL, e);
            } else if (!w->temps && (!w->after || strcmp(dkey, w->after) > 0)) {
                st_list_add(w->out, dkey, w->key.len, 1, 0, 0);
            }
            continue;
        }
        if (type != DT_REG || tmp != w->temps) continue;
        const char *k = st_buf_cstr(&w->key);
        if (!w->temps && w->after && strcmp(k, w->after) <= 0) continue; /* no stat for skipped names */
        if (!have_st && fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode)) continue;
        st_list_add(w->out, k, w->key.len, 0, (int64_t)st.st_size, mtime_ms(&st));
    }
    closedir(d);
    free(dir);
    w->key.len = klen;
    return rc;
}

/* Splits prefix into its folder ("a/b/") and the start of the names in it. */
static st_code run_walk(walk *w, const char *prefix, st_err *e)
{
    const char *slash = strrchr(prefix, '/');
    if (slash) st_buf_append(&w->key, prefix, (size_t)(slash - prefix + 1));
    st_code rc = walk_dir(w, slash ? slash + 1 : prefix, e);
    st_buf_free(&w->key);
    return rc;
}

static st_code px_list(st_store *s, const char *prefix, const char *start_after, int recursive, st_list *out,
                       st_err *e)
{
    walk w = {.s = s, .after = start_after, .recursive = recursive, .out = out};
    return run_walk(&w, prefix, e);
}

static st_code px_purge(st_store *s, const char *prefix, int64_t before_ms, size_t *removed, st_err *e)
{
    st_list l = {0};
    walk w = {.s = s, .recursive = 1, .temps = 1, .out = &l};
    st_code rc = run_walk(&w, prefix, e);
    for (size_t i = 0; !rc && i < l.count; i++) {
        if (l.items[i].mtime_ms >= before_ms) continue;
        char *path = full_path(s, l.items[i].key);
        if (unlink(path) == 0) (*removed)++;
        else if (errno != ENOENT) rc = os_err(e, errno, "delete", path);
        free(path);
    }
    st_list_free(&l);
    return rc;
}

/* ------------------------------------------------------------------ sources */

typedef struct px_source {
    st_source base;
    int fd;
} px_source;

static st_code src_read(st_source *src, uint64_t offset, size_t len, void *dst, st_err *e)
{
    px_source *p = (px_source *)src;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(p->fd, (uint8_t *)dst + got, len - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return os_err(e, errno, "read", src->name);
        if (r == 0)
            return st_err_set(e, ST_ERR_FORMAT, "%s: the file got shorter while being read (%lld bytes at open)",
                              src->name, (long long)src->size);
        got += (size_t)r;
    }
    return ST_OK;
}

static void src_close(st_source *src)
{
    close(((px_source *)src)->fd);
    free(src);
}

static const st_source_ops px_source_ops = {src_read, src_close};

static st_code px_open_source(st_store *s, const char *key, st_source **out, st_err *e)
{
    char *path = full_path(s, key);
    int fd;
    struct stat st;
    st_code rc = open_object(path, &fd, &st, e);
    if (rc) {
        free(path);
        return rc;
    }
    px_source *p = st_xcalloc(1, sizeof *p);
    p->base.ops = &px_source_ops;
    p->base.name = path;
    p->base.size = (int64_t)st.st_size;
    p->fd = fd;
    *out = &p->base;
    return ST_OK;
}

/* ------------------------------------------------------------------ sinks */

typedef struct px_sink {
    st_sink base;
    int fd;
    char *dir;                   /* folder of the key (where the temporary file is) */
    char *tmp;                   /* NULL once renamed/linked into place or removed */
} px_sink;

/* Folder part of a path ("." for a bare name, "/" for "/x"), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return st_xstrdup(".");
    if (slash == path) return st_xstrdup("/");
    return st_xstrndup(path, (size_t)(slash - path));
}

/* mkdir -p dir, then fsync each folder from its parent up to the root so the new names are
 * durable (a write's fsync of its own folder does not cover the folder's parents). Only
 * on the first write into a new folder. */
static st_code make_dirs(const st_store *s, const char *dir, st_err *e)
{
    st_code rc = st_mkdirs(dir, e);
    if (rc) return rc;
    char *p = st_xstrdup(dir);
    size_t rlen = strlen(s->root);
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash) break;
        *slash = '\0';
        const char *parent = slash == p ? "/" : p;
        st_fsync_dir(parent); /* best effort: the folder exists either way */
        if (slash == p || strlen(p) < rlen) break;
    }
    free(p);
    return ST_OK;
}

static st_code sink_write(st_sink *k, const void *data, size_t len, st_err *e)
{
    px_sink *p = (px_sink *)k;
    if (st_fd_write_all(p->fd, data, len) != 0) return write_err(e, errno, "write", k->name);
    return ST_OK;
}

static st_code sink_commit(st_sink *k, st_stat *sst, st_err *e)
{
    px_sink *p = (px_sink *)k;
    struct stat st;
    if (fsync(p->fd) != 0) return write_err(e, errno, "write (fsync)", k->name);
    if (fstat(p->fd, &st) != 0) return write_err(e, errno, "stat", k->name);
    int fd = p->fd;
    p->fd = -1;
    if (close(fd) != 0) return write_err(e, errno, "write (close)", k->name);
    if (k->flags & ST_SINK_IF_ABSENT) {
        if (link(p->tmp, k->name) != 0) {
            if (errno == EEXIST)
                return st_err_set(e, ST_ERR_CONFLICT, "cannot create %s: it exists already (another writer created it first)",
                                  k->name);
            return write_err(e, errno, "create", k->name);
        }
        unlink(p->tmp); /* the object is in place under its name; a leftover would only be garbage */
    } else if (rename(p->tmp, k->name) != 0) {
        return write_err(e, errno, "create", k->name);
    }
    free(p->tmp);
    p->tmp = NULL;
    /* the object is in place: a failure here cannot be undone (see st_sink_close) */
    if (st_fsync_dir(p->dir) != 0)
        return st_err_set(e, ST_ERR_AMBIGUOUS, "cannot sync the folder of %s: %s (the object is in place, maybe not durable)",
                          k->name, strerror(errno));
    fill_stat(sst, &st);
    return ST_OK;
}

static void sink_discard(st_sink *k)
{
    px_sink *p = (px_sink *)k;
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    if (p->tmp) unlink(p->tmp);
    free(p->tmp);
    p->tmp = NULL;
}

static void sink_free(st_sink *k)
{
    px_sink *p = (px_sink *)k;
    sink_discard(k);
    free(p->dir);
    free(p);
}

static const st_sink_ops px_sink_ops = {sink_write, sink_commit, sink_discard, sink_free};

static st_code px_open_sink(st_store *s, const char *key, int flags, st_sink **out, st_err *e)
{
    (void)flags;
    static unsigned counter;
    char *path = full_path(s, key);
    char *dir = dir_of(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    st_buf tmp = {0};
    int fd = -1, made_dirs = 0;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        st_buf_reset(&tmp);
        st_buf_printf(&tmp, "%s/" TMP_PREFIX "%ld-%u-", dir, (long)getpid(),
                      __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        /* keep the temporary name within NAME_MAX: the name part is only a debugging aid */
        size_t used = tmp.len - strlen(dir) - 1, blen = strlen(base);
        if (used + blen > NAME_MAX) blen = NAME_MAX > used ? NAME_MAX - used : 0;
        st_buf_append(&tmp, base, blen);
        fd = open(st_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) break;
        if (errno == EEXIST) continue; /* a stale one from a crashed process with our pid */
        if (errno == ENOENT && !made_dirs) {
            made_dirs = 1;
            st_code rc = make_dirs(s, dir, e);
            if (rc) {
                st_err_wrap(e, "cannot create %s", path);
                goto fail;
            }
            continue;
        }
        write_err(e, errno, "create", path);
        goto fail;
    }
    if (fd < 0) {
        st_err_set(e, ST_ERR_IO, "cannot create %s: no free temporary name in %s", path, dir);
        goto fail;
    }
    px_sink *p = st_xcalloc(1, sizeof *p);
    p->base.ops = &px_sink_ops;
    p->base.name = path;
    p->fd = fd;
    p->dir = dir;
    p->tmp = (char *)st_buf_detach(&tmp, &(size_t){0});
    *out = &p->base;
    return ST_OK;
fail:
    st_buf_free(&tmp);
    free(dir);
    free(path);
    return e ? e->code : ST_ERR_IO;
}

const st_backend st_posix_backend = {
    .scheme = "file",
    .open = px_open,
    .close = px_close,
    .read = px_read,
    .stat = px_stat,
    .del = px_del,
    .list = px_list,
    .purge = px_purge,
    .open_source = px_open_source,
    .open_sink = px_open_sink,
};
