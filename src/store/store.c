/* store.c — the storage layer's front (store.h): URIs to backends, key checks, sorted
 * listings, whole writes as short streams, sources in memory. Backends do only the I/O
 * (store_internal.h); adding one is a file and a row in `backends` below. */
#include "store/store_internal.h"
#include "util/uri.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every backend, by URI scheme. A plain path is "file". */
static const st_backend *const backends[] = {
    &st_posix_backend,
    &st_s3_backend,
};

/* ------------------------------------------------------------------ URIs */

/* Splits uri into its backend and location (malloc'd): "file:///a%20b" -> posix, "/a b";
 * "file:/a" (Hadoop's spelling) -> "/a"; a plain path stays as it is. */
static st_code parse_uri(const char *uri, const st_backend **b, char **location, st_err *e)
{
    *b = NULL;
    *location = NULL;
    if (!uri || !*uri) return st_err_set(e, ST_ERR_ARG, "empty storage location (a path or a URI)");
    const char *sep = strstr(uri, "://");
    size_t slen = 0;
    if (sep) {
        slen = (size_t)(sep - uri);
        for (size_t i = 0; i < slen; i++) {
            char c = uri[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '-' || c == '.'))
                sep = NULL; /* "dir/a://b" is a path */
        }
        if (!slen) sep = NULL;
    }
    if (!sep && !strncmp(uri, "file:/", 6)) {
        sep = uri + 4;
        slen = 4;
    }
    if (!sep) {
        *b = &st_posix_backend;
        *location = st_xstrdup(uri);
        return ST_OK;
    }
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strlen(backends[i]->scheme) == slen && !strncasecmp(backends[i]->scheme, uri, slen)) *b = backends[i];
    if (slen == 3 && !strncasecmp(uri, "s3a", 3)) *b = &st_s3_backend; /* Hadoop's and Spark's name for s3 */
    if (!*b)
        return st_err_set(e, ST_ERR_UNSUPPORTED,
                          "%s: storage scheme '%.*s' is not supported (use a local path, file:///path or "
                          "s3://bucket/prefix)",
                          uri, (int)slen, uri);
    if (*b == &st_posix_backend) {
        const char *path = sep + 1;                 /* "file:/path" */
        if (sep[1] == '/' && sep[2] == '/') {       /* "file://[localhost]/path" */
            path = sep + 3;
            if (!strncmp(path, "localhost/", 10)) path += 9;
            if (*path != '/')
                return st_err_set(e, ST_ERR_ARG, "%s: a file URI names an absolute path (file:///path)", uri);
        }
        size_t o;
        char *loc = st_uri_decode(path, &o);
        if (strlen(loc) != o) {
            free(loc);
            return st_err_set(e, ST_ERR_ARG, "%s: %%00 in a file URI", uri);
        }
        *location = loc;
        return ST_OK;
    }
    const char *rest = sep + 3;
    *location = st_xstrdup(rest);
    return ST_OK;
}

st_code st_store_open(const char *uri, st_store **out, st_err *e)
{
    *out = NULL;
    const st_backend *b;
    char *loc;
    st_code rc = parse_uri(uri, &b, &loc, e);
    if (rc) return rc;
    if (!*loc) {
        free(loc);
        return st_err_set(e, ST_ERR_ARG, "%s: no path", uri);
    }
    rc = b->open(loc, out, e);
    free(loc);
    return rc;
}

void st_store_close(st_store *s)
{
    if (s) s->backend->close(s);
}

const char *st_store_root(const st_store *s) { return s->root; }

const char *st_store_local_path(const st_store *s) { return s->backend == &st_posix_backend ? s->root : NULL; }

/* ------------------------------------------------------------------ keys */

/* A key is '/'-separated components, none empty, "." or "..". With partial_last (a listing
 * prefix) the text after the last '/' may be anything (or nothing). */
static st_code check_key(const st_store *s, const char *key, int partial_last, st_err *e)
{
    if (!key) return st_err_set(e, ST_ERR_ARG, "%s: no key", s->root);
    if (!partial_last && !*key) return st_err_set(e, ST_ERR_ARG, "%s: empty key", s->root);
    const char *p = key;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        int last = slash == NULL;
        if (!(last && partial_last) &&
            (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')))
            return st_err_set(e, ST_ERR_ARG,
                              "%s: invalid key '%s' (keys are relative, '/'-separated, without empty, '.' or '..' "
                              "parts)",
                              s->root, key);
        if (last) break;
        p = slash + 1;
    }
    return ST_OK;
}

st_code st_store_read(st_store *s, const char *key, st_buf *out, st_stat *st, st_err *e)
{
    st_code rc = check_key(s, key, 0, e);
    return rc ? rc : s->backend->read(s, key, 0, SIZE_MAX, out, st, e);
}

st_code st_store_read_range(st_store *s, const char *key, uint64_t offset, size_t len, st_buf *out, st_err *e)
{
    st_code rc = check_key(s, key, 0, e);
    if (rc) return rc;
    if (len == 0) return ST_OK;
    if (len == SIZE_MAX) len--; /* SIZE_MAX means "whole object" to backends */
    return s->backend->read(s, key, offset, len, out, NULL, e);
}

st_code st_store_stat(st_store *s, const char *key, st_stat *st, st_err *e)
{
    st_code rc = check_key(s, key, 0, e);
    return rc ? rc : s->backend->stat(s, key, st, e);
}

st_code st_store_delete(st_store *s, const char *key, st_err *e)
{
    st_code rc = check_key(s, key, 0, e);
    return rc ? rc : s->backend->del(s, key, e);
}

/* A whole write is a short stream: one code path for atomicity and durability. */
static st_code put(st_store *s, const char *key, const void *data, size_t len, int flags, st_err *e)
{
    st_sink *k;
    st_code rc = st_store_open_sink(s, key, flags, &k, e);
    if (rc) return rc;
    if ((rc = st_sink_write(k, data, len, e))) {
        st_sink_abort(k);
        return rc;
    }
    return st_sink_close(k, NULL, e);
}

st_code st_store_write(st_store *s, const char *key, const void *data, size_t len, st_err *e)
{
    return put(s, key, data, len, ST_SINK_REPLACE, e);
}

st_code st_store_put_if_absent(st_store *s, const char *key, const void *data, size_t len, st_err *e)
{
    return put(s, key, data, len, ST_SINK_IF_ABSENT, e);
}

/* ------------------------------------------------------------------ listing */

void st_list_add(st_list *l, const char *key, size_t keylen, int is_prefix, int64_t size, int64_t mtime_ms)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = st_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    st_entry *x = &l->items[l->count++];
    x->key = st_xstrndup(key, keylen);
    x->is_prefix = is_prefix;
    x->size = size;
    x->mtime_ms = mtime_ms;
}

void st_list_free(st_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->count; i++) free(l->items[i].key);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Byte-wise key order (strcmp compares as unsigned char). */
static int by_key(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->key, ((const st_entry *)b)->key);
}

/* See store.h. The backend may skip what sorts before start_after; the filter here makes
 * the promise hold whatever it does. O(n log n) in the entries returned. */
st_code st_store_list(st_store *s, const char *prefix, const char *start_after, int flags, st_list *out, st_err *e)
{
    if (!prefix) prefix = "";
    if (start_after && !*start_after) start_after = NULL;
    if (*prefix == '/') return st_err_set(e, ST_ERR_ARG, "%s: list prefix '%s' must be relative", s->root, prefix);
    st_code rc = check_key(s, prefix, 1, e);
    if (rc) return rc;
    size_t first = out->count;
    rc = s->backend->list(s, prefix, start_after, (flags & ST_LIST_RECURSIVE) != 0, out, e);
    size_t plen = strlen(prefix), o = first;
    for (size_t i = first; i < out->count; i++) {
        st_entry *x = &out->items[i];
        if (strncmp(x->key, prefix, plen) != 0 || (start_after && strcmp(x->key, start_after) <= 0)) {
            free(x->key);
            continue;
        }
        out->items[o++] = *x;
    }
    out->count = o;
    if (rc) return rc;
    if (out->count - first > 1) qsort(out->items + first, out->count - first, sizeof *out->items, by_key);
    return ST_OK;
}

st_code st_store_purge_abandoned(st_store *s, const char *prefix, int64_t before_ms, size_t *removed, st_err *e)
{
    size_t n = 0;
    if (!prefix) prefix = "";
    st_code rc = check_key(s, prefix, 1, e);
    if (!rc) rc = s->backend->purge(s, prefix, before_ms, &n, e);
    if (removed) *removed = n;
    return rc;
}

/* ------------------------------------------------------------------ sources */

st_code st_store_open_source(st_store *s, const char *key, st_source **out, st_err *e)
{
    *out = NULL;
    st_code rc = check_key(s, key, 0, e);
    return rc ? rc : s->backend->open_source(s, key, out, e);
}

int64_t st_source_size(const st_source *src) { return src->size; }
const char *st_source_name(const st_source *src) { return src->name; }

st_code st_source_read(st_source *src, uint64_t offset, size_t len, void *dst, st_err *e)
{
    if (offset > (uint64_t)src->size || len > (uint64_t)src->size - offset)
        return st_err_set(e, ST_ERR_FORMAT, "%s: read of %zu bytes at offset %llu is past the end (%lld bytes)",
                          src->name, len, (unsigned long long)offset, (long long)src->size);
    if (!len) return ST_OK;
    return src->ops->read(src, offset, len, dst, e);
}

void st_source_close(st_source *src)
{
    if (!src) return;
    st_store *owned = src->owned_store;
    free(src->name);
    src->ops->close(src);
    st_store_close(owned);
}

typedef struct mem_source {
    st_source base;
    const uint8_t *data;
} mem_source;

static st_code mem_read(st_source *src, uint64_t offset, size_t len, void *dst, st_err *e)
{
    (void)e;
    memcpy(dst, ((mem_source *)src)->data + offset, len);
    return ST_OK;
}

static void mem_close(st_source *src) { free(src); }

static const st_source_ops mem_ops = {mem_read, mem_close};

st_source *st_source_mem(const void *data, size_t len, const char *name)
{
    mem_source *m = st_xcalloc(1, sizeof *m);
    m->base.ops = &mem_ops;
    m->base.name = st_xstrdup(name ? name : "<memory>");
    m->base.size = (int64_t)len;
    m->data = data;
    return &m->base;
}

/* Opens the store of uri's parent folder and gives the last part as the key. */
static st_code open_parent(const char *uri, st_store **store, char **key, st_err *e)
{
    *store = NULL;
    *key = NULL;
    const st_backend *b;
    char *loc;
    st_code rc = parse_uri(uri, &b, &loc, e);
    if (rc) return rc;
    char *slash = strrchr(loc, '/');
    const char *name = slash ? slash + 1 : loc;
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
        free(loc);
        return st_err_set(e, ST_ERR_ARG, "%s: names a folder, not a file", uri);
    }
    *key = st_xstrdup(name);
    if (!slash) rc = b->open(".", store, e);
    else if (slash == loc) rc = b->open("/", store, e);
    else {
        *slash = '\0';
        rc = b->open(loc, store, e);
    }
    free(loc);
    if (rc) {
        free(*key);
        *key = NULL;
    }
    return rc;
}

st_code st_source_open_uri(const char *uri, st_source **out, st_err *e)
{
    *out = NULL;
    st_store *s;
    char *key;
    st_code rc = open_parent(uri, &s, &key, e);
    if (rc) return rc;
    rc = st_store_open_source(s, key, out, e);
    free(key);
    if (rc) st_store_close(s);
    else (*out)->owned_store = s;
    return rc;
}

/* ------------------------------------------------------------------ sinks */

st_code st_store_open_sink(st_store *s, const char *key, int flags, st_sink **out, st_err *e)
{
    *out = NULL;
    st_code rc = check_key(s, key, 0, e);
    if (rc) return rc;
    if (flags & ~ST_SINK_IF_ABSENT) return st_err_set(e, ST_ERR_ARG, "%s/%s: unknown sink flags %#x", s->root, key, flags);
    rc = s->backend->open_sink(s, key, flags, out, e);
    if (!rc) (*out)->flags = flags;
    return rc;
}

st_code st_sink_open_uri(const char *uri, int flags, st_sink **out, st_err *e)
{
    *out = NULL;
    st_store *s;
    char *key;
    st_code rc = open_parent(uri, &s, &key, e);
    if (rc) return rc;
    rc = st_store_open_sink(s, key, flags, out, e);
    free(key);
    if (rc) st_store_close(s);
    else (*out)->owned_store = s;
    return rc;
}

st_code st_sink_write(st_sink *k, const void *data, size_t len, st_err *e)
{
    if (k->failed) return st_err_set(e, ST_ERR_STATE, "%s: an earlier write failed", k->name);
    if (!len) return ST_OK;
    st_code rc = k->ops->write(k, data, len, e);
    if (rc) k->failed = 1;
    else k->offset += (int64_t)len;
    return rc;
}

int64_t st_sink_offset(const st_sink *k) { return k->offset; }
const char *st_sink_name(const st_sink *k) { return k->name; }

/* Frees the sink and, for the *_uri openers, its store. */
static void sink_free(st_sink *k)
{
    st_store *owned = k->owned_store;
    free(k->name);
    k->ops->free(k);
    st_store_close(owned);
}

st_code st_sink_close(st_sink *k, st_stat *st, st_err *e)
{
    if (!k) return st_err_set(e, ST_ERR_ARG, "st_sink_close: NULL sink");
    st_code rc = k->failed ? st_err_set(e, ST_ERR_STATE, "%s: not written (an earlier write failed)", k->name)
                           : k->ops->commit(k, st, e);
    if (rc) k->ops->discard(k);
    sink_free(k);
    return rc;
}

void st_sink_abort(st_sink *k)
{
    if (!k) return;
    k->ops->discard(k);
    sink_free(k);
}
