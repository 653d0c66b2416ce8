/* store_internal.h — private to src/store/: the backend interface behind store.h.
 *
 * A backend is one table of operations (st_backend) and one file. store.c checks the
 * arguments (keys, flags), sorts and filters listings, and dispatches; a backend only does
 * the I/O. Each backend allocates its own store struct with `st_store base` as its first
 * member (likewise for sources and sinks), so store.c can hand it back to the backend. */
#ifndef ST_STORE_INTERNAL_H
#define ST_STORE_INTERNAL_H

#include "store/store.h"

typedef struct st_backend st_backend;

struct st_store {
    const st_backend *backend;
    char *root;                  /* as given (file:// decoded), without trailing '/' */
};

typedef struct st_source_ops {
    /* exactly len bytes at offset into dst; the range was checked against size */
    st_code (*read)(st_source *src, uint64_t offset, size_t len, void *dst, st_err *e);
    void (*close)(st_source *src);     /* frees the backend's part (not the base fields) */
} st_source_ops;

struct st_source {
    const st_source_ops *ops;
    char *name;
    int64_t size;
    st_store *owned_store;             /* st_source_open_uri: closed with the source */
};

typedef struct st_sink_ops {
    st_code (*write)(st_sink *k, const void *data, size_t len, st_err *e);
    /* make durable and visible; on failure leave nothing. Does not free. */
    st_code (*commit)(st_sink *k, st_stat *st, st_err *e);
    void (*discard)(st_sink *k);       /* drop what was written (after a failed commit too) */
    void (*free)(st_sink *k);          /* frees the backend's part */
} st_sink_ops;

struct st_sink {
    const st_sink_ops *ops;
    char *name;
    int64_t offset;
    int failed;
    int flags;
    st_store *owned_store;             /* st_sink_open_uri */
};

struct st_backend {
    const char *scheme;                /* "file", "s3" */
    /* location: the URI without "scheme://" (file: the path) */
    st_code (*open)(const char *location, st_store **out, st_err *e);
    void (*close)(st_store *s);
    /* whole object (len == SIZE_MAX) or a range; appends to out; st may be NULL */
    st_code (*read)(st_store *s, const char *key, uint64_t offset, size_t len, st_buf *out, st_stat *st,
                    st_err *e);
    st_code (*stat)(st_store *s, const char *key, st_stat *st, st_err *e);
    st_code (*del)(st_store *s, const char *key, st_err *e);
    /* Appends the entries under prefix that sort after start_after (NULL: all), in any
     * order; store.c sorts. Folders (non-recursive) as "key/" with is_prefix. */
    st_code (*list)(st_store *s, const char *prefix, const char *start_after, int recursive, st_list *out,
                    st_err *e);
    st_code (*purge)(st_store *s, const char *prefix, int64_t before_ms, size_t *removed, st_err *e);
    st_code (*open_source)(st_store *s, const char *key, st_source **out, st_err *e);
    /* flags: ST_SINK_*; whole writes and put-if-absent go through a sink too */
    st_code (*open_sink)(st_store *s, const char *key, int flags, st_sink **out, st_err *e);
};

extern const st_backend st_posix_backend;
extern const st_backend st_s3_backend;

/* Appends an entry (key copied). */
void st_list_add(st_list *l, const char *key, size_t keylen, int is_prefix, int64_t size, int64_t mtime_ms);

#endif
