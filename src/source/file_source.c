/* file_source.c — directory polling with the settle rule, and file identity. */
#include "source/file_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/sha256.h"
#include "util/strmap.h"
#include "util/buf.h"
#include "util/fsutil.h"

/* What the source remembers of one name. */
typedef struct seen {
    int64_t size, mtime_ns;
    uint64_t inode;
    int64_t since_us;   /* when it was first seen in this state */
    int done;           /* marked done in this state */
    uint64_t gen;       /* last poll that saw it */
} seen;

struct file_source {
    char *dir;
    int64_t settle_us;
    strmap *files;      /* name -> seen */
    uint64_t gen;
};

void file_source_options_init(file_source_options *o) { o->settle_us = 1000000; }

void file_source_list_free(file_source_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].name);
        free(l->items[i].path);
    }
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int file_source_name_ignored(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || name[0] == '.') return 1;
    return ends_with(name, n, ".tmp") || ends_with(name, n, ".part") || ends_with(name, n, ".crdownload") ||
           ends_with(name, n, "~");
}

file_source *file_source_new(const char *dir, const file_source_options *opt)
{
    file_source_options d;
    if (!opt) {
        file_source_options_init(&d);
        opt = &d;
    }
    file_source *s = st_xcalloc(1, sizeof *s);
    s->dir = st_xstrdup(dir);
    s->settle_us = opt->settle_us < 0 ? 0 : opt->settle_us;
    s->files = strmap_new(free);
    return s;
}

void file_source_destroy(file_source *s)
{
    if (!s) return;
    strmap_destroy(s->files);
    free(s->dir);
    free(s);
}

static void list_push(file_source_list *l, const char *dir, const char *name, const seen *st)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = st_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    file_source_file *f = &l->items[l->count++];
    f->name = st_xstrdup(name);
    f->path = st_path_join(dir, name);
    f->size = st->size;
    f->mtime_ns = st->mtime_ns;
    f->inode = st->inode;
}

static int cmp_file(const void *a, const void *b)
{
    const file_source_file *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns) return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

st_code file_source_poll(file_source *s, int64_t now_us, file_source_list *ready, size_t *pending,
                         int64_t *next_us, st_err *e)
{
    size_t npending = 0, first_new = ready->count;
    int64_t next = 0;
    if (pending) *pending = 0;
    if (next_us) *next_us = 0;
    DIR *d = opendir(s->dir);
    if (!d) {
        if (errno == ENOENT) return ST_OK;
        return st_err_set(e, ST_ERR_IO, "cannot list input directory %s: %s", s->dir, strerror(errno));
    }
    s->gen++;
    int dfd = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (file_source_name_ignored(de->d_name)) continue;
        struct stat sb;
        if (fstatat(dfd, de->d_name, &sb, 0) != 0 || !S_ISREG(sb.st_mode)) continue;
        int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
        seen *st = strmap_get(s->files, de->d_name);
        if (!st || st->size != (int64_t)sb.st_size || st->mtime_ns != mtime_ns || st->inode != (uint64_t)sb.st_ino) {
            if (!st) {
                st = st_xcalloc(1, sizeof *st);
                strmap_put(s->files, de->d_name, st);
            }
            st->size = (int64_t)sb.st_size;
            st->mtime_ns = mtime_ns;
            st->inode = (uint64_t)sb.st_ino;
            st->since_us = now_us;
            st->done = 0;
        }
        st->gen = s->gen;
        if (st->done) continue;
        if (now_us - st->since_us >= s->settle_us) {
            list_push(ready, s->dir, de->d_name, st);
        } else {
            npending++;
            int64_t at = st->since_us + s->settle_us;
            if (!next || at < next) next = at;
        }
    }
    closedir(d);
    /* Forget names that vanished (a later file of the same name starts afresh). */
    size_t pos = 0;
    const char *key;
    void *val;
    file_source_list gone = {0};
    while (strmap_next(s->files, &pos, &key, &val))
        if (((seen *)val)->gen != s->gen) list_push(&gone, "", key, val);
    for (size_t i = 0; i < gone.count; i++) strmap_remove(s->files, gone.items[i].name);
    file_source_list_free(&gone);
    if (ready->count > first_new)
        qsort(ready->items + first_new, ready->count - first_new, sizeof *ready->items, cmp_file);
    if (pending) *pending = npending;
    if (next_us) *next_us = next;
    return ST_OK;
}

void file_source_mark_done(file_source *s, const file_source_file *f)
{
    seen *st = strmap_get(s->files, f->name);
    if (st && st->size == f->size && st->mtime_ns == f->mtime_ns && st->inode == f->inode) st->done = 1;
}

st_code file_source_hash(const file_source_file *f, char hex[65], st_err *e)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return st_err_set(e, err == ENOENT ? ST_ERR_NOTFOUND : ST_ERR_IO, "cannot open %s: %s", f->path,
                          strerror(err));
    }
    st_code rc = ST_OK;
    size_t cap = 1 << 20;
    uint8_t *buf = st_xmalloc(cap);
    st_sha256 c;
    st_sha256_init(&c);
    int64_t left = f->size;
    while (left > 0) {
        ssize_t n = read(fd, buf, left < (int64_t)cap ? (size_t)left : cap);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = st_err_set(e, ST_ERR_IO, "cannot read %s: %s", f->path, strerror(errno));
            goto done;
        }
        if (n == 0) {
            rc = st_err_set(e, ST_ERR_STATE, "%s is shorter than the %lld bytes seen (changed while read)", f->path,
                            (long long)f->size);
            goto done;
        }
        st_sha256_update(&c, buf, (size_t)n);
        left -= n;
    }
    uint8_t dg[32];
    st_sha256_final(&c, dg);
    st_sha256_hex(dg, hex);
done:
    free(buf);
    close(fd);
    return rc;
}

int file_source_unchanged(const file_source_file *f)
{
    struct stat sb;
    if (stat(f->path, &sb) != 0) return 0;
    int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    return (int64_t)sb.st_size == f->size && mtime_ns == f->mtime_ns && (uint64_t)sb.st_ino == f->inode;
}
