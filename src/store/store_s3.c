/* store_s3.c — the S3 backend of the storage layer: a store is s3://bucket/prefix, a key the
 * rest of the object key. Works with AWS S3 and the S3-compatible servers (MinIO, Ceph RGW,
 * s3proxy), path-style or virtual-hosted (s3_internal.h: settings, addressing, requests).
 *
 * How the promises of store.h are kept:
 *   - a whole write is one PUT (atomic on S3: readers see the old or the new object);
 *   - put-if-absent is a PUT with If-None-Match: * (412: ST_ERR_CONFLICT; 409 or a lost
 *     answer: ST_ERR_AMBIGUOUS, settled by the caller: Delta looks for its txnId);
 *   - a sink keeps up to part_size bytes (8 MiB) in memory: a smaller object is one PUT at
 *     close; a larger one is a multipart upload (parts as they fill, CompleteMultipartUpload
 *     at close), invisible until completed, aborted by st_sink_abort; what a killed writer
 *     leaves is an incomplete upload, which st_store_purge_abandoned aborts;
 *   - a successful write is durable when S3 answers 200;
 *   - listings are ListObjectsV2 (UTF-8 byte order, as store.h wants), from start-after,
 *     page by page; in-progress uploads are never listed;
 *   - sources read the last MiB of the object with the first request (a Parquet footer, or
 *     the whole of a small file: one GET), then byte ranges with If-Match on the ETag, so a
 *     replaced object is noticed rather than mixed.
 * Cost: every operation is at least one HTTP round trip (a few ms on a local server,
 * 10-50 ms on AWS); connections are reused.
 */
#include "store/s3_internal.h"
#include "store/store_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

#define SOURCE_TAIL (1u << 20)   /* first read of a source: its last MiB */

typedef struct s3_store {
    st_store base;
    s3_client *cl;
    char *bucket;
    char *prefix;                /* "" or "a/b/" */
} s3_store;

/* prefix + key, malloc'd. */
static char *object_key(const s3_store *s, const char *key)
{
    size_t p = strlen(s->prefix), k = strlen(key);
    char *o = st_xmalloc(p + k + 1);
    memcpy(o, s->prefix, p);
    memcpy(o + p, key, k + 1);
    return o;
}

/* ------------------------------------------------------------------ store */

static st_code s3_open(const char *location, st_store **out, st_err *e)
{
    *out = NULL;
    s3_store *s = st_xcalloc(1, sizeof *s);
    st_code rc = s3_location_parse(location, &s->bucket, &s->prefix, e);
    if (!rc) rc = s3_client_new(&s->cl, e);
    if (rc) {
        free(s->bucket);
        free(s->prefix);
        free(s);
        return rc;
    }
    s->base.backend = &st_s3_backend;
    st_buf root = {0};
    st_buf_printf(&root, "s3://%s", s->bucket);
    size_t pl = strlen(s->prefix);
    if (pl) st_buf_printf(&root, "/%.*s", (int)(pl - 1), s->prefix);
    st_buf_cstr(&root);
    s->base.root = (char *)st_buf_detach(&root, NULL);
    *out = &s->base;
    return ST_OK;
}

static void s3_close(st_store *st)
{
    s3_store *s = (s3_store *)st;
    s3_client_free(s->cl);
    free(s->bucket);
    free(s->prefix);
    free(st->root);
    free(s);
}

static st_code s3_read(st_store *st, const char *key, uint64_t offset, size_t len, st_buf *out, st_stat *sst,
                       st_err *e)
{
    s3_store *s = (s3_store *)st;
    char *ok = object_key(s, key);
    char range[64];
    int whole = len == SIZE_MAX;
    if (!whole) snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset, offset + len - 1);
    size_t start = out->len;
    s3_request r = {.method = "GET", .bucket = s->bucket, .key = ok, .range = whole ? NULL : range,
                    .idempotent = 1, .out = out};
    s3_response resp;
    st_code rc = s3_client_do(s->cl, &r, &resp, e);
    if (rc && resp.status == 416) {
        st_err_clear(e); /* the range starts at or past the end: nothing to read */
        rc = ST_OK;
    } else if (!rc && !whole && resp.status == 200) {
        /* the server ignored the range and sent the whole object: keep our slice */
        size_t got = out->len - start;
        size_t from = offset < got ? (size_t)offset : got;
        size_t n = got - from < len ? got - from : len;
        memmove(out->data + start, out->data + start + from, n);
        out->len = start + n;
    }
    if (!rc && sst) {
        sst->size = whole ? (int64_t)(out->len - start) : resp.total_size;
        sst->mtime_ms = resp.mtime_ms;
    }
    free(ok);
    return rc;
}

static st_code s3_stat(st_store *st, const char *key, st_stat *out, st_err *e)
{
    s3_store *s = (s3_store *)st;
    char *ok = object_key(s, key);
    s3_request r = {.method = "HEAD", .bucket = s->bucket, .key = ok, .idempotent = 1};
    s3_response resp;
    st_code rc = s3_client_do(s->cl, &r, &resp, e);
    if (!rc && out) {
        out->size = resp.content_length;
        out->mtime_ms = resp.mtime_ms;
    }
    free(ok);
    return rc;
}

static st_code s3_del(st_store *st, const char *key, st_err *e)
{
    s3_store *s = (s3_store *)st;
    char *ok = object_key(s, key);
    s3_request r = {.method = "DELETE", .bucket = s->bucket, .key = ok, .idempotent = 1};
    s3_response resp;
    st_code rc = s3_client_do(s->cl, &r, &resp, e);
    if (rc == ST_ERR_NOTFOUND) {
        st_err_clear(e);
        rc = ST_OK;
    }
    free(ok);
    return rc;
}

/* ------------------------------------------------------------------ listing */

/* Whether rel (a key relative to the store) is one store.h can name: objects written by
 * other tools may not be ("a//b", folder markers "a/"), and are left out of listings. */
static int valid_rel_key(const char *k, int is_prefix)
{
    size_t n = strlen(k);
    if (!n || k[0] == '/') return 0;
    if (is_prefix ? k[n - 1] != '/' : k[n - 1] == '/') return 0;
    const char *p = k;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t m = slash ? (size_t)(slash - p) : strlen(p);
        if (!slash && is_prefix) break; /* nothing after the folder's '/' */
        if (m == 0 || (m == 1 && p[0] == '.') || (m == 2 && p[0] == '.' && p[1] == '.')) return 0;
        if (!slash) break;
        p = slash + 1;
        if (!*p && is_prefix) break;
    }
    return 1;
}

/* GET of the bucket with a query built from params (a listing page) into body. */
static st_code get_bucket(s3_store *s, s3_param *params, size_t n, st_buf *body, st_err *e)
{
    st_buf q = {0};
    s3_query(&q, params, n);
    st_buf_reset(body);
    s3_request r = {.method = "GET", .bucket = s->bucket, .query = st_buf_cstr(&q), .idempotent = 1, .out = body};
    s3_response resp;
    st_code rc = s3_client_do(s->cl, &r, &resp, e);
    st_buf_free(&q);
    return rc;
}

static st_code s3_list(st_store *st, const char *prefix, const char *start_after, int recursive, st_list *out,
                       st_err *e)
{
    s3_store *s = (s3_store *)st;
    char *fprefix = object_key(s, prefix);
    char *fafter = start_after ? object_key(s, start_after) : NULL;
    size_t plen = strlen(s->prefix);
    char *token = NULL;
    st_code rc = ST_OK;
    st_buf body = {0};
    do {
        s3_param params[5];
        size_t n = 0;
        params[n++] = (s3_param){"list-type", "2"};
        params[n++] = (s3_param){"prefix", fprefix};
        if (!recursive) params[n++] = (s3_param){"delimiter", "/"};
        if (token) params[n++] = (s3_param){"continuation-token", token};
        else if (fafter) params[n++] = (s3_param){"start-after", fafter};
        s3_list_page page;
        if ((rc = get_bucket(s, params, n, &body, e)) || (rc = s3_parse_list(body.data, body.len, &page, e))) {
            st_err_wrap(e, "listing %s/%s", st->root, prefix);
            break;
        }
        for (size_t i = 0; i < page.entries.count; i++) {
            const st_entry *x = &page.entries.items[i];
            if (strncmp(x->key, s->prefix, plen) || !valid_rel_key(x->key + plen, x->is_prefix)) continue;
            st_list_add(out, x->key + plen, strlen(x->key + plen), x->is_prefix, x->size, x->mtime_ms);
        }
        free(token);
        token = page.truncated && page.next_token ? st_xstrdup(page.next_token) : NULL;
        s3_list_page_free(&page);
    } while (token);
    free(token);
    st_buf_free(&body);
    free(fprefix);
    free(fafter);
    return rc;
}

/* Aborts one multipart upload; 404 (already gone) is fine. */
static st_code abort_upload(s3_store *s, const char *okey, const char *upload_id, st_err *e)
{
    s3_param p[1] = {{"uploadId", upload_id}};
    st_buf q = {0};
    s3_query(&q, p, 1);
    s3_request r = {.method = "DELETE", .bucket = s->bucket, .key = okey, .query = st_buf_cstr(&q), .idempotent = 1};
    s3_response resp;
    st_code rc = s3_client_do(s->cl, &r, &resp, e);
    if (rc == ST_ERR_NOTFOUND) {
        st_err_clear(e);
        rc = ST_OK;
    }
    st_buf_free(&q);
    return rc;
}

static st_code s3_purge(st_store *st, const char *prefix, int64_t before_ms, size_t *removed, st_err *e)
{
    s3_store *s = (s3_store *)st;
    char *fprefix = object_key(s, prefix);
    char *key_marker = NULL, *id_marker = NULL;
    st_code rc = ST_OK;
    st_buf body = {0};
    for (;;) {
        s3_param params[4];
        size_t n = 0;
        params[n++] = (s3_param){"uploads", ""};
        params[n++] = (s3_param){"prefix", fprefix};
        if (key_marker) params[n++] = (s3_param){"key-marker", key_marker};
        if (id_marker) params[n++] = (s3_param){"upload-id-marker", id_marker};
        s3_uploads_page page;
        if ((rc = get_bucket(s, params, n, &body, e)) || (rc = s3_parse_uploads(body.data, body.len, &page, e))) break;
        for (size_t i = 0; !rc && i < page.count; i++) {
            const s3_upload *u = &page.items[i];
            if (strncmp(u->key, fprefix, strlen(fprefix)) || u->initiated_ms < 0 || u->initiated_ms >= before_ms)
                continue;
            if (!(rc = abort_upload(s, u->key, u->upload_id, e))) (*removed)++;
        }
        free(key_marker);
        free(id_marker);
        key_marker = page.truncated && page.next_key_marker ? st_xstrdup(page.next_key_marker) : NULL;
        id_marker = page.truncated && page.next_upload_id_marker ? st_xstrdup(page.next_upload_id_marker) : NULL;
        s3_uploads_page_free(&page);
        if (rc || !key_marker) break;
    }
    if (rc) st_err_wrap(e, "aborting abandoned uploads under %s/%s", st->root, prefix);
    free(key_marker);
    free(id_marker);
    st_buf_free(&body);
    free(fprefix);
    return rc;
}

/* ------------------------------------------------------------------ sources */

typedef struct s3_source {
    st_source base;
    s3_store *s;
    char *okey;
    char etag[128];
    st_buf tail;                 /* bytes [tail_off, size) */
    uint64_t tail_off;
} s3_source;

static st_code src_read(st_source *src, uint64_t offset, size_t len, void *dst, st_err *e)
{
    s3_source *p = (s3_source *)src;
    if (offset >= p->tail_off && offset + len <= p->tail_off + p->tail.len) {
        memcpy(dst, p->tail.data + (offset - p->tail_off), len);
        return ST_OK;
    }
    char range[64];
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset, offset + len - 1);
    st_buf b = {0};
    s3_request r = {.method = "GET", .bucket = p->s->bucket, .key = p->okey, .range = range,
                    .if_match = p->etag[0] ? p->etag : NULL, .idempotent = 1, .out = &b};
    s3_response resp;
    st_code rc = s3_client_do(p->s->cl, &r, &resp, e);
    if (rc == ST_ERR_CONFLICT || rc == ST_ERR_NOTFOUND) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: the object was replaced or deleted while being read", src->name);
    } else if (!rc) {
        const uint8_t *d = b.data;
        size_t got = b.len;
        if (resp.status == 200) { /* the whole object */
            if (offset > got) got = 0, d = NULL;
            else d += offset, got -= (size_t)offset;
        }
        if (got < len)
            rc = st_err_set(e, ST_ERR_FORMAT, "%s: %zu bytes at offset %" PRIu64 " asked, %zu received (object changed?)",
                            src->name, len, offset, got);
        else
            memcpy(dst, d, len);
    }
    st_buf_free(&b);
    return rc;
}

static void src_close(st_source *src)
{
    s3_source *p = (s3_source *)src;
    free(p->okey);
    st_buf_free(&p->tail);
    free(p);
}

static const st_source_ops s3_source_ops = {src_read, src_close};

/* One GET of the object's last MiB gives its size, ETag and footer (or all of it). */
static st_code s3_open_source(st_store *st, const char *key, st_source **out, st_err *e)
{
    s3_store *s = (s3_store *)st;
    s3_source *p = st_xcalloc(1, sizeof *p);
    p->s = s;
    p->okey = object_key(s, key);
    char range[32];
    snprintf(range, sizeof range, "bytes=-%u", SOURCE_TAIL);
    s3_request r = {.method = "GET", .bucket = s->bucket, .key = p->okey, .range = range, .idempotent = 1,
                    .out = &p->tail};
    s3_response resp;
    st_code rc = s3_client_do(s->cl, &r, &resp, e);
    int64_t size = -1;
    if (!rc && resp.status == 206 && resp.total_size >= (int64_t)p->tail.len) size = resp.total_size;
    else if (!rc) size = (int64_t)p->tail.len; /* 200: the whole object */
    else if (resp.status == 416) {
        /* an empty object has no last byte to give */
        st_err_clear(e);
        st_stat sst;
        if (!(rc = s3_stat(st, key, &sst, e))) size = sst.size;
    }
    if (!rc && size < 0) rc = st_err_set(e, ST_ERR_FORMAT, "s3://%s/%s: no object size in the answer", s->bucket, p->okey);
    if (rc) {
        src_close(&p->base);
        return rc;
    }
    snprintf(p->etag, sizeof p->etag, "%s", resp.etag);
    p->tail_off = (uint64_t)size - p->tail.len;
    p->base.ops = &s3_source_ops;
    p->base.size = size;
    st_buf name = {0};
    st_buf_printf(&name, "%s/%s", st->root, key);
    st_buf_cstr(&name);
    p->base.name = (char *)st_buf_detach(&name, NULL);
    *out = &p->base;
    return ST_OK;
}

/* ------------------------------------------------------------------ sinks */

typedef struct s3_sink {
    st_sink base;
    s3_store *s;
    char *okey;
    size_t part_size;
    st_buf buf;                  /* bytes not uploaded yet (< part_size) */
    char *upload_id;             /* NULL until the first part */
    st_buf parts;                /* <Part> elements of the uploaded parts */
    int nparts;
} s3_sink;

static void xml_escape(st_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') st_buf_append_str(b, "&amp;");
        else if (*s == '<') st_buf_append_str(b, "&lt;");
        else if (*s == '>') st_buf_append_str(b, "&gt;");
        else st_buf_append_u8(b, (uint8_t)*s);
    }
}

static st_code start_upload(s3_sink *k, st_err *e)
{
    st_buf body = {0};
    s3_param p[1] = {{"uploads", ""}};
    st_buf q = {0};
    s3_query(&q, p, 1);
    s3_request r = {.method = "POST", .bucket = k->s->bucket, .key = k->okey, .query = st_buf_cstr(&q),
                    .idempotent = 1, .out = &body};
    s3_response resp;
    st_code rc = s3_client_do(k->s->cl, &r, &resp, e);
    if (!rc && !(k->upload_id = s3_parse_upload_id(body.data, body.len, e))) rc = ST_ERR_FORMAT;
    st_buf_free(&q);
    st_buf_free(&body);
    return rc;
}

/* Uploads buf as the next part and empties it. */
static st_code upload_part(s3_sink *k, st_err *e)
{
    st_code rc = k->upload_id ? ST_OK : start_upload(k, e);
    if (rc) return rc;
    char num[16];
    snprintf(num, sizeof num, "%d", k->nparts + 1);
    s3_param p[2] = {{"partNumber", num}, {"uploadId", k->upload_id}};
    st_buf q = {0};
    s3_query(&q, p, 2);
    s3_request r = {.method = "PUT", .bucket = k->s->bucket, .key = k->okey, .query = st_buf_cstr(&q),
                    .body = k->buf.data, .body_len = k->buf.len, .idempotent = 1};
    s3_response resp;
    rc = s3_client_do(k->s->cl, &r, &resp, e);
    if (!rc && !resp.etag[0]) rc = st_err_set(e, ST_ERR_FORMAT, "%s: part %s uploaded without an ETag", k->base.name, num);
    if (!rc) {
        k->nparts++;
        st_buf_printf(&k->parts, "<Part><PartNumber>%d</PartNumber><ETag>", k->nparts);
        xml_escape(&k->parts, resp.etag);
        st_buf_append_str(&k->parts, "</ETag></Part>");
        st_buf_reset(&k->buf);
    }
    st_buf_free(&q);
    return rc;
}

static st_code sink_write(st_sink *sk, const void *data, size_t len, st_err *e)
{
    s3_sink *k = (s3_sink *)sk;
    const uint8_t *d = data;
    while (len) {
        size_t n = k->part_size - k->buf.len;
        if (n > len) n = len;
        st_buf_append(&k->buf, d, n);
        d += n;
        len -= n;
        if (k->buf.len == k->part_size) {
            st_code rc = upload_part(k, e);
            if (rc) return rc;
        }
    }
    return ST_OK;
}

static st_code complete_upload(s3_sink *k, st_err *e)
{
    st_buf body = {0}, q = {0}, out = {0};
    st_buf_append_str(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    st_buf_append(&body, k->parts.data, k->parts.len);
    st_buf_append_str(&body, "</CompleteMultipartUpload>");
    s3_param p[1] = {{"uploadId", k->upload_id}};
    s3_query(&q, p, 1);
    int if_absent = (k->base.flags & ST_SINK_IF_ABSENT) != 0;
    s3_request r = {.method = "POST", .bucket = k->s->bucket, .key = k->okey, .query = st_buf_cstr(&q),
                    .body = body.data, .body_len = body.len, .if_none_match = if_absent,
                    .idempotent = !if_absent, .error_in_200 = 1, .out = &out};
    s3_response resp;
    st_code rc = s3_client_do(k->s->cl, &r, &resp, e);
    if (rc == ST_ERR_NOTFOUND && resp.attempts > 1 && !if_absent) {
        /* an earlier attempt completed it and the answer was lost: the object says so */
        st_err se;
        st_stat sst;
        if (s3_stat(&k->s->base, k->okey + strlen(k->s->prefix), &sst, &se) == ST_OK && sst.size == k->base.offset) {
            st_err_clear(e);
            rc = ST_OK;
        }
    }
    if (!rc) {
        free(k->upload_id);
        k->upload_id = NULL;
    }
    st_buf_free(&body);
    st_buf_free(&q);
    st_buf_free(&out);
    return rc;
}

static st_code sink_commit(st_sink *sk, st_stat *sst, st_err *e)
{
    s3_sink *k = (s3_sink *)sk;
    st_code rc;
    int if_absent = (sk->flags & ST_SINK_IF_ABSENT) != 0;
    if (!k->upload_id) {
        s3_request r = {.method = "PUT", .bucket = k->s->bucket, .key = k->okey, .body = k->buf.data,
                        .body_len = k->buf.len, .if_none_match = if_absent, .idempotent = !if_absent};
        s3_response resp;
        rc = s3_client_do(k->s->cl, &r, &resp, e);
    } else {
        rc = k->buf.len ? upload_part(k, e) : ST_OK;
        if (!rc) rc = complete_upload(k, e);
    }
    if (rc == ST_ERR_CONFLICT)
        st_err_set(e, ST_ERR_CONFLICT, "cannot create %s: it exists already (another writer created it first)",
                   sk->name);
    if (!rc && sst) {
        sst->size = sk->offset;
        sst->mtime_ms = st_now_us() / 1000;
    }
    return rc;
}

static void sink_discard(st_sink *sk)
{
    s3_sink *k = (s3_sink *)sk;
    if (k->upload_id) abort_upload(k->s, k->okey, k->upload_id, NULL); /* a leftover is purge's */
    free(k->upload_id);
    k->upload_id = NULL;
    st_buf_free(&k->buf);
}

static void sink_free(st_sink *sk)
{
    s3_sink *k = (s3_sink *)sk;
    sink_discard(sk);
    st_buf_free(&k->parts);
    free(k->okey);
    free(k);
}

static const st_sink_ops s3_sink_ops = {sink_write, sink_commit, sink_discard, sink_free};

static st_code s3_open_sink(st_store *st, const char *key, int flags, st_sink **out, st_err *e)
{
    (void)flags;
    (void)e;
    s3_store *s = (s3_store *)st;
    s3_sink *k = st_xcalloc(1, sizeof *k);
    k->s = s;
    k->okey = object_key(s, key);
    k->part_size = s3_client_config(s->cl)->part_size;
    k->base.ops = &s3_sink_ops;
    st_buf name = {0};
    st_buf_printf(&name, "%s/%s", st->root, key);
    st_buf_cstr(&name);
    k->base.name = (char *)st_buf_detach(&name, NULL);
    *out = &k->base;
    return ST_OK;
}

const st_backend st_s3_backend = {
    .scheme = "s3",
    .open = s3_open,
    .close = s3_close,
    .read = s3_read,
    .stat = s3_stat,
    .del = s3_del,
    .list = s3_list,
    .purge = s3_purge,
    .open_source = s3_open_source,
    .open_sink = s3_open_sink,
};
