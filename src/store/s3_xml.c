/* s3_xml.c — the XML we read from S3 servers (s3_internal.h): a small pull parser and the
 * few documents built on it (ListObjectsV2, ListMultipartUploads, InitiateMultipartUpload,
 * Error).
 *
 * Why not libxml2: we read five flat documents of known shape, element text only. This is
 * ~300 lines with no allocation per element, bounded depth and path, and nothing it does
 * not need (no DTDs, so no entity expansion to guard against); it is fuzzed
 * (fuzz/fuzz_s3_xml.c). Measured on a 1000-key ListObjectsV2 page (300 KB, this 2-core
 * machine at load ~8): 1.1 ms to parse it into entries here, 2.9 ms for libxml2 2.9.14
 * (xmlReadMemory, the tree alone, before walking it), a 1.7 MB library more to link; the
 * request that brings the page takes 10-100 ms, so the dependency, not the speed, decides.
 */
#include "store/s3_internal.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"
#include "util/utf8.h"

#define MAX_DEPTH 32
#define MAX_PATH 512

typedef struct xml_parser {
    const char *p, *end;
    char path[MAX_PATH + 1];
    size_t plen;
    size_t name_at[MAX_DEPTH];   /* where each open element's name starts in path */
    size_t text_at[MAX_DEPTH];   /* where each open element's text starts in text */
    int depth;
    int roots;                   /* root elements seen */
    st_buf text;
    s3_xml_fn fn;
    void *arg;
} xml_parser;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int is_name_end(char c) { return is_space(c) || c == '/' || c == '>' || c == '='; }

/* Position of the first occurrence of lit at or after p, or NULL. */
static const char *find(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    for (; (size_t)(end - p) >= n; p++)
        if (!memcmp(p, lit, n)) return p;
    return NULL;
}

/* Decodes the entity at x->p ('&') into the text buffer and moves past its ';'. */
static st_code entity(xml_parser *x, st_err *e)
{
    const char *semi = memchr(x->p, ';', (size_t)(x->end - x->p) < 16 ? (size_t)(x->end - x->p) : 16);
    if (!semi) return st_err_set(e, ST_ERR_FORMAT, "XML: '&' without an entity");
    const char *n = x->p + 1;
    size_t len = (size_t)(semi - n);
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == len && !memcmp(n, named[i].name, len)) {
            st_buf_append_u8(&x->text, (uint8_t)named[i].c);
            x->p = semi + 1;
            return ST_OK;
        }
    if (len >= 2 && n[0] == '#') {
        int hex = n[1] == 'x';
        const char *d = n + 1 + hex;
        unsigned long cp = 0;
        if (d == semi) return st_err_set(e, ST_ERR_FORMAT, "XML: empty character reference");
        for (; d < semi; d++) {
            int v = *d >= '0' && *d <= '9' ? *d - '0'
                    : hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
                    : hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10
                    : -1;
            if (v < 0) return st_err_set(e, ST_ERR_FORMAT, "XML: bad character reference");
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
            if (cp > 0x10FFFF) return st_err_set(e, ST_ERR_FORMAT, "XML: character reference out of range");
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
            return st_err_set(e, ST_ERR_FORMAT, "XML: invalid character reference");
        uint8_t u[4];
        st_buf_append(&x->text, u, st_utf8_encode((uint32_t)cp, u));
        x->p = semi + 1;
        return ST_OK;
    }
    return st_err_set(e, ST_ERR_FORMAT, "XML: unknown entity '&%.*s;'", (int)len, n);
}

/* Text up to the next '<'. Outside the root element only white space may appear. */
static st_code text(xml_parser *x, st_err *e)
{
    while (x->p < x->end && *x->p != '<') {
        if (x->depth == 0) {
            if (!is_space(*x->p)) return st_err_set(e, ST_ERR_FORMAT, "XML: text outside the root element");
            x->p++;
            continue;
        }
        if (*x->p == '&') {
            st_code rc = entity(x, e);
            if (rc) return rc;
            continue;
        }
        const char *q = x->p;
        while (q < x->end && *q != '<' && *q != '&') q++;
        st_buf_append(&x->text, x->p, (size_t)(q - x->p));
        x->p = q;
    }
    return ST_OK;
}

/* Reads an element name at x->p; *name and *len get it without any namespace prefix. */
static st_code read_name(xml_parser *x, const char **name, size_t *len, st_err *e)
{
    const char *s = x->p;
    while (x->p < x->end && !is_name_end(*x->p) && *x->p != '<') x->p++;
    if (x->p == s) return st_err_set(e, ST_ERR_FORMAT, "XML: element without a name");
    const char *colon = NULL;
    for (const char *q = s; q < x->p; q++)
        if (*q == ':') colon = q;
    if (colon) s = colon + 1;
    if (s == x->p) return st_err_set(e, ST_ERR_FORMAT, "XML: element name ends with ':'");
    *name = s;
    *len = (size_t)(x->p - s);
    return ST_OK;
}

/* Ends the innermost element: callback, then pops it. */
static st_code close_element(xml_parser *x, st_err *e)
{
    int d = --x->depth;
    st_buf_cstr(&x->text);
    x->path[x->plen] = '\0';
    size_t at = x->text_at[d];
    int r = x->fn ? x->fn(x->arg, x->path, (const char *)x->text.data + at, x->text.len - at) : 0;
    if (r) return st_err_set(e, (st_code)r, "XML: stopped at %s", x->path);
    x->text.len = at;
    x->plen = x->name_at[d] ? x->name_at[d] - 1 : 0;
    return ST_OK;
}

/* A start tag at x->p (after '<'): name, attributes (skipped), '>' or "/>". */
static st_code start_tag(xml_parser *x, st_err *e)
{
    if (x->depth == 0 && x->roots++) return st_err_set(e, ST_ERR_FORMAT, "XML: more than one root element");
    if (x->depth == MAX_DEPTH) return st_err_set(e, ST_ERR_FORMAT, "XML: nested deeper than %d", MAX_DEPTH);
    const char *name;
    size_t n;
    st_code rc = read_name(x, &name, &n, e);
    if (rc) return rc;
    size_t need = x->plen + (x->depth ? 1 : 0) + n;
    if (need > MAX_PATH) return st_err_set(e, ST_ERR_FORMAT, "XML: element path longer than %d bytes", MAX_PATH);
    if (x->depth) x->path[x->plen++] = '/';
    x->name_at[x->depth] = x->depth ? x->plen : 0;
    memcpy(x->path + x->plen, name, n);
    x->plen += n;
    x->text_at[x->depth] = x->text.len;
    x->depth++;
    for (;;) {
        while (x->p < x->end && is_space(*x->p)) x->p++;
        if (x->p == x->end) break;
        if (*x->p == '>') {
            x->p++;
            return ST_OK;
        }
        if (*x->p == '/') {
            if (x->end - x->p < 2 || x->p[1] != '>') break;
            x->p += 2;
            return close_element(x, e);
        }
        /* attribute: name = "value" | 'value' */
        const char *s = x->p;
        while (x->p < x->end && !is_name_end(*x->p) && *x->p != '<') x->p++;
        if (x->p == s) break;
        while (x->p < x->end && is_space(*x->p)) x->p++;
        if (x->p == x->end || *x->p != '=') break;
        x->p++;
        while (x->p < x->end && is_space(*x->p)) x->p++;
        if (x->p == x->end || (*x->p != '"' && *x->p != '\'')) break;
        const char *q = memchr(x->p + 1, *x->p, (size_t)(x->end - x->p - 1));
        if (!q) break;
        x->p = q + 1;
    }
    return st_err_set(e, ST_ERR_FORMAT, "XML: malformed start tag of %.*s", (int)n, name);
}

static st_code end_tag(xml_parser *x, st_err *e)
{
    const char *name;
    size_t n;
    st_code rc = read_name(x, &name, &n, e);
    if (rc) return rc;
    while (x->p < x->end && is_space(*x->p)) x->p++;
    if (x->p == x->end || *x->p != '>') return st_err_set(e, ST_ERR_FORMAT, "XML: malformed end tag");
    x->p++;
    if (!x->depth) return st_err_set(e, ST_ERR_FORMAT, "XML: end tag %.*s without a start", (int)n, name);
    size_t at = x->name_at[x->depth - 1];
    if (x->plen - at != n || memcmp(x->path + at, name, n))
        return st_err_set(e, ST_ERR_FORMAT, "XML: end tag %.*s does not close %.*s", (int)n, name,
                          (int)(x->plen - at), x->path + at);
    return close_element(x, e);
}

st_code s3_xml_parse(const void *xml, size_t len, s3_xml_fn fn, void *arg, st_err *e)
{
    xml_parser x = {.p = xml, .end = (const char *)xml + len, .fn = fn, .arg = arg};
    st_code rc = ST_OK;
    if (len >= 3 && !memcmp(x.p, "\xEF\xBB\xBF", 3)) x.p += 3; /* byte order mark */
    while (!rc && x.p < x.end) {
        if (*x.p != '<') {
            rc = text(&x, e);
            continue;
        }
        size_t left = (size_t)(x.end - x.p);
        if (left >= 2 && x.p[1] == '?') {
            const char *q = find(x.p + 2, x.end, "?>");
            if (!q) rc = st_err_set(e, ST_ERR_FORMAT, "XML: unterminated declaration");
            else x.p = q + 2;
        } else if (left >= 4 && !memcmp(x.p, "<!--", 4)) {
            const char *q = find(x.p + 4, x.end, "-->");
            if (!q) rc = st_err_set(e, ST_ERR_FORMAT, "XML: unterminated comment");
            else x.p = q + 3;
        } else if (left >= 9 && !memcmp(x.p, "<![CDATA[", 9)) {
            const char *q = find(x.p + 9, x.end, "]]>");
            if (!q) rc = st_err_set(e, ST_ERR_FORMAT, "XML: unterminated CDATA section");
            else if (!x.depth) rc = st_err_set(e, ST_ERR_FORMAT, "XML: CDATA outside the root element");
            else {
                st_buf_append(&x.text, x.p + 9, (size_t)(q - x.p - 9));
                x.p = q + 3;
            }
        } else if (left >= 2 && x.p[1] == '!') {
            rc = st_err_set(e, ST_ERR_FORMAT, "XML: DOCTYPE and other declarations are not accepted");
        } else if (left >= 2 && x.p[1] == '/') {
            x.p += 2;
            rc = end_tag(&x, e);
        } else {
            x.p++;
            rc = start_tag(&x, e);
        }
    }
    if (!rc && x.depth) rc = st_err_set(e, ST_ERR_FORMAT, "XML: document ends inside %s", x.path);
    if (!rc && !x.roots) rc = st_err_set(e, ST_ERR_FORMAT, "XML: no element");
    st_buf_free(&x.text);
    return rc;
}

/* ------------------------------------------------------------------ documents */

/* Parses a decimal int64 (whole text). 0 on success. */
static int parse_i64(const char *s, size_t n, int64_t *out)
{
    if (!n || n > 19) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static void set_str(char **dst, const char *s, size_t n)
{
    free(*dst);
    *dst = st_xstrndup(s, n);
}

typedef struct list_ctx {
    s3_list_page *out;
    char *key;
    int64_t size, mtime_ms;
    int bad;                     /* a field of the current entry could not be read */
} list_ctx;

static int list_cb(void *arg, const char *path, const char *t, size_t n)
{
    list_ctx *c = arg;
    if (strncmp(path, "ListBucketResult", 16)) return ST_ERR_FORMAT;
    const char *p = path + 16;
    if (!strcmp(p, "/Contents/Key")) set_str(&c->key, t, n);
    else if (!strcmp(p, "/Contents/Size")) c->bad |= parse_i64(t, n, &c->size) != 0;
    else if (!strcmp(p, "/Contents/LastModified")) {
        int64_t us;
        c->mtime_ms = st_parse_iso_us(t, n, &us) == 0 ? us / 1000 : 0;
    } else if (!strcmp(p, "/Contents")) {
        if (!c->key || c->bad) return ST_ERR_FORMAT;
        st_list_add(&c->out->entries, c->key, strlen(c->key), 0, c->size, c->mtime_ms);
        free(c->key);
        c->key = NULL;
        c->size = c->mtime_ms = 0;
    } else if (!strcmp(p, "/CommonPrefixes/Prefix")) {
        st_list_add(&c->out->entries, t, n, 1, 0, 0);
    } else if (!strcmp(p, "/IsTruncated")) {
        c->out->truncated = n == 4 && !memcmp(t, "true", 4);
    } else if (!strcmp(p, "/NextContinuationToken") && n) {
        set_str(&c->out->next_token, t, n);
    }
    return 0;
}

st_code s3_parse_list(const void *xml, size_t len, s3_list_page *out, st_err *e)
{
    memset(out, 0, sizeof *out);
    list_ctx c = {.out = out};
    st_code rc = s3_xml_parse(xml, len, list_cb, &c, e);
    free(c.key);
    if (!rc && out->truncated && !out->next_token)
        rc = st_err_set(e, ST_ERR_FORMAT, "listing is truncated but has no NextContinuationToken");
    if (rc) {
        st_err_wrap(e, "unreadable ListObjectsV2 answer");
        s3_list_page_free(out);
    }
    return rc;
}

void s3_list_page_free(s3_list_page *p)
{
    if (!p) return;
    st_list_free(&p->entries);
    free(p->next_token);
    memset(p, 0, sizeof *p);
}

typedef struct uploads_ctx {
    s3_uploads_page *out;
    s3_upload cur;
} uploads_ctx;

static int uploads_cb(void *arg, const char *path, const char *t, size_t n)
{
    uploads_ctx *c = arg;
    if (strncmp(path, "ListMultipartUploadsResult", 26)) return ST_ERR_FORMAT;
    const char *p = path + 26;
    s3_uploads_page *o = c->out;
    if (!strcmp(p, "/Upload/Key")) set_str(&c->cur.key, t, n);
    else if (!strcmp(p, "/Upload/UploadId")) set_str(&c->cur.upload_id, t, n);
    else if (!strcmp(p, "/Upload/Initiated")) {
        int64_t us;
        c->cur.initiated_ms = st_parse_iso_us(t, n, &us) == 0 ? us / 1000 : -1;
    } else if (!strcmp(p, "/Upload")) {
        if (!c->cur.key || !c->cur.upload_id) return ST_ERR_FORMAT;
        if (o->count == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 16;
            o->items = st_xrealloc(o->items, o->cap * sizeof *o->items);
        }
        o->items[o->count++] = c->cur;
        memset(&c->cur, 0, sizeof c->cur);
        c->cur.initiated_ms = -1;
    } else if (!strcmp(p, "/IsTruncated")) {
        o->truncated = n == 4 && !memcmp(t, "true", 4);
    } else if (!strcmp(p, "/NextKeyMarker") && n) {
        set_str(&o->next_key_marker, t, n);
    } else if (!strcmp(p, "/NextUploadIdMarker") && n) {
        set_str(&o->next_upload_id_marker, t, n);
    }
    return 0;
}

st_code s3_parse_uploads(const void *xml, size_t len, s3_uploads_page *out, st_err *e)
{
    memset(out, 0, sizeof *out);
    uploads_ctx c = {.out = out, .cur = {.initiated_ms = -1}};
    st_code rc = s3_xml_parse(xml, len, uploads_cb, &c, e);
    free(c.cur.key);
    free(c.cur.upload_id);
    if (!rc && out->truncated && !out->next_key_marker)
        rc = st_err_set(e, ST_ERR_FORMAT, "upload listing is truncated but has no NextKeyMarker");
    if (rc) {
        st_err_wrap(e, "unreadable ListMultipartUploads answer");
        s3_uploads_page_free(out);
    }
    return rc;
}

void s3_uploads_page_free(s3_uploads_page *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->count; i++) {
        free(p->items[i].key);
        free(p->items[i].upload_id);
    }
    free(p->items);
    free(p->next_key_marker);
    free(p->next_upload_id_marker);
    memset(p, 0, sizeof *p);
}

static int upload_id_cb(void *arg, const char *path, const char *t, size_t n)
{
    if (!strcmp(path, "InitiateMultipartUploadResult/UploadId") && n) set_str(arg, t, n);
    return 0;
}

char *s3_parse_upload_id(const void *xml, size_t len, st_err *e)
{
    char *id = NULL;
    if (s3_xml_parse(xml, len, upload_id_cb, &id, e) == ST_OK && id) return id;
    free(id);
    st_err_set(e, ST_ERR_FORMAT, "no UploadId in the answer to CreateMultipartUpload");
    return NULL;
}

typedef struct error_ctx {
    char *code, *msg;
    size_t codelen, msglen;
    int is_error;
} error_ctx;

static int error_cb(void *arg, const char *path, const char *t, size_t n)
{
    error_ctx *c = arg;
    if (!strcmp(path, "Error")) c->is_error = 1;
    else if (!strcmp(path, "Error/Code") && c->codelen) snprintf(c->code, c->codelen, "%.*s", (int)n, t);
    else if (!strcmp(path, "Error/Message") && c->msglen) snprintf(c->msg, c->msglen, "%.*s", (int)n, t);
    return 0;
}

int s3_parse_error(const void *xml, size_t len, char *code, size_t codelen, char *msg, size_t msglen)
{
    if (codelen) code[0] = '\0';
    if (msglen) msg[0] = '\0';
    error_ctx c = {code, msg, codelen, msglen, 0};
    if (!len || s3_xml_parse(xml, len, error_cb, &c, NULL) != ST_OK) {
        if (codelen) code[0] = '\0';
        if (msglen) msg[0] = '\0';
        return 0;
    }
    return c.is_error;
}
