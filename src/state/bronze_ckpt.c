/* bronze_ckpt.c — batch logs, processed index and lock of the Bronze file job. */
#include "state/bronze_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/store.h"
#include "util/strmap.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define INDEX_KEY "processed"

struct bronze_ckpt {
    st_store *store;
    int lock_fd;
    st_buf index_text;  /* the index's JSON lines, as the next write will have them */
    strmap *hashes;   /* sha256 -> (void *)1 */
    strmap *names;    /* "name\x1fsize\x1fmtime" -> malloc'd sha256 */
    size_t nfiles;
    int64_t max_batch;
};

static char *name_key(const char *name, int64_t size, int64_t mtime_ns)
{
    st_buf b = {0};
    st_buf_printf(&b, "%s\x1f%" PRId64 "\x1f%" PRId64, name, size, mtime_ns);
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

void bronze_batch_log_add_file(bronze_batch_log *l, const bronze_ckpt_file *f)
{
    if (l->nfiles == l->capfiles) {
        l->capfiles = l->capfiles ? l->capfiles * 2 : 16;
        l->files = st_xrealloc(l->files, l->capfiles * sizeof *l->files);
    }
    bronze_ckpt_file *d = &l->files[l->nfiles++];
    *d = *f;
    d->name = st_xstrdup(f->name);
}

void bronze_batch_log_free(bronze_batch_log *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->nfiles; i++) free(l->files[i].name);
    free(l->files);
    delta_file_list_free(&l->bronze_adds);
    delta_file_list_free(&l->quarantine_adds);
    memset(l, 0, sizeof *l);
}

/* Adds one index entry to the in-memory maps. */
static void index_add(bronze_ckpt *c, const char *name, int64_t size, int64_t mtime_ns, const char *sha, int64_t batch)
{
    if (!strmap_get(c->hashes, sha)) {
        strmap_put(c->hashes, sha, (void *)1);
        c->nfiles++;
    }
    char *k = name_key(name, size, mtime_ns);
    strmap_put(c->names, k, st_xstrdup(sha));
    free(k);
    if (batch > c->max_batch) c->max_batch = batch;
}

/* Loads `processed`: complete lines only (a line cut by a crash has no newline). */
static st_code load_index(bronze_ckpt *c, st_err *e)
{
    st_buf b = {0};
    st_code rc = st_store_read(c->store, INDEX_KEY, &b, NULL, e);
    if (rc == ST_ERR_NOTFOUND) {
        st_err_clear(e);
        return ST_OK;
    }
    if (rc) return rc;
    size_t pos = 0;
    while (pos < b.len) {
        uint8_t *nl = memchr(b.data + pos, '\n', b.len - pos);
        if (!nl) break;
        size_t n = (size_t)(nl - (b.data + pos));
        json_error_t je;
        json_t *o = json_loadb((const char *)b.data + pos, n, 0, &je);
        pos += n + 1;
        if (!o) continue;
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *sha = json_string_value(json_object_get(o, "sha256"));
        json_t *sz = json_object_get(o, "size"), *mt = json_object_get(o, "mtime_ns"), *bt = json_object_get(o, "batch");
        if (name && sha && strlen(sha) == 64 && json_is_integer(sz) && json_is_integer(mt) && json_is_integer(bt)) {
            index_add(c, name, json_integer_value(sz), json_integer_value(mt), sha, json_integer_value(bt));
            st_buf_append(&c->index_text, b.data + pos - n - 1, n + 1);
        }
        json_decref(o);
    }
    st_buf_free(&b);
    return ST_OK;
}

st_code bronze_ckpt_open(const char *uri, bronze_ckpt **out, st_err *e)
{
    *out = NULL;
    bronze_ckpt *c = st_xcalloc(1, sizeof *c);
    c->lock_fd = -1;
    c->max_batch = -1;
    c->hashes = strmap_new(NULL);
    c->names = strmap_new(free);
    st_code rc = st_store_open(uri, &c->store, e);
    if (rc) goto fail;
    const char *dir = st_store_local_path(c->store);
    if (dir) {
        /* one job per checkpoint: a lock only a local file system can give */
        if ((rc = st_mkdirs(dir, e))) goto fail;
        char *lock_path = st_path_join(dir, "lock");
        c->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (c->lock_fd < 0) {
            rc = st_err_set(e, ST_ERR_IO, "cannot open %s: %s", lock_path, strerror(errno));
            free(lock_path);
            goto fail;
        }
        if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            rc = st_err_set(e, ST_ERR_STATE,
                            "checkpoint %s is in use by another running `smarttech bronze` (%s is locked)", dir,
                            lock_path);
            free(lock_path);
            goto fail;
        }
        free(lock_path);
    }
    if ((rc = load_index(c, e))) goto fail;
    *out = c;
    return ST_OK;
fail:
    bronze_ckpt_close(c);
    return rc;
}

void bronze_ckpt_close(bronze_ckpt *c)
{
    if (!c) return;
    if (c->lock_fd >= 0) close(c->lock_fd);
    strmap_destroy(c->hashes);
    strmap_destroy(c->names);
    st_buf_free(&c->index_text);
    st_store_close(c->store);
    free(c);
}

int bronze_ckpt_has_hash(const bronze_ckpt *c, const char *sha256) { return strmap_get(c->hashes, sha256) != NULL; }

const char *bronze_ckpt_lookup(const bronze_ckpt *c, const char *name, int64_t size, int64_t mtime_ns)
{
    char *k = name_key(name, size, mtime_ns);
    const char *v = strmap_get(c->names, k);
    free(k);
    return v;
}

void bronze_ckpt_remember(bronze_ckpt *c, const char *name, int64_t size, int64_t mtime_ns, const char *sha256)
{
    char *k = name_key(name, size, mtime_ns);
    strmap_put(c->names, k, st_xstrdup(sha256));
    free(k);
}

size_t bronze_ckpt_num_files(const bronze_ckpt *c) { return c->nfiles; }
int64_t bronze_ckpt_index_max_batch(const bronze_ckpt *c) { return c->max_batch; }

/* Parses "<digits>.json" into *n. */
static int log_number(const char *name, int64_t *n)
{
    const char *p = name;
    int64_t v = 0;
    if (*p < '0' || *p > '9') return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10) return 0;
        v = v * 10 + (*p - '0');
    }
    if (strcmp(p, ".json")) return 0;
    *n = v;
    return 1;
}

st_code bronze_ckpt_last_log(const bronze_ckpt *c, int64_t *n, st_err *e)
{
    *n = -1;
    st_list l = {0};
    st_code rc = st_store_list(c->store, "batches/", NULL, 0, &l, e);
    for (size_t i = 0; !rc && i < l.count; i++) {
        int64_t v;
        if (!l.items[i].is_prefix && log_number(l.items[i].key + 8, &v) && v > *n) *n = v;
    }
    st_list_free(&l);
    return rc;
}

st_code bronze_ckpt_prune_logs(bronze_ckpt *c, int64_t below, st_err *e)
{
    st_list l = {0};
    st_code rc = st_store_list(c->store, "batches/", NULL, 0, &l, e);
    for (size_t i = 0; !rc && i < l.count; i++) {
        int64_t v;
        if (l.items[i].is_prefix || !log_number(l.items[i].key + 8, &v) || v >= below) continue;
        rc = st_store_delete(c->store, l.items[i].key, e);
    }
    st_list_free(&l);
    return rc;
}

static char *log_key(int64_t n)
{
    char name[48];
    snprintf(name, sizeof name, "batches/%" PRId64 ".json", n);
    return st_xstrdup(name);
}

/* "<root>/<key>" for messages, malloc'd. */
static char *object_name(const bronze_ckpt *c, const char *key)
{
    return st_path_join(st_store_root(c->store), key);
}

static json_t *adds_to_json(const delta_file_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->count; i++) {
        const delta_file *f = &l->items[i];
        json_t *pv = json_object();
        for (size_t k = 0; k < f->num_partition_values; k++)
            json_object_set_new(pv, f->partition_values[k].name,
                                f->partition_values[k].value ? json_string(f->partition_values[k].value) : json_null());
        json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:b, s:o, s:I, s:o}", "path", f->path, "size",
                                           (json_int_t)f->size, "modificationTime", (json_int_t)f->modification_time,
                                           "dataChange", f->data_change, "stats",
                                           f->stats ? json_string(f->stats) : json_null(), "numRecords",
                                           (json_int_t)f->num_records, "partitionValues", pv));
    }
    return a;
}

st_code bronze_ckpt_write_log(bronze_ckpt *c, const bronze_batch_log *l, st_err *e)
{
    json_t *files = json_array();
    for (size_t i = 0; i < l->nfiles; i++) {
        const bronze_ckpt_file *f = &l->files[i];
        json_array_append_new(files, json_pack("{s:s, s:I, s:I, s:s, s:I, s:I}", "name", f->name, "size",
                                               (json_int_t)f->size, "mtime_ns", (json_int_t)f->mtime_ns, "sha256",
                                               f->sha256, "rows", (json_int_t)f->rows, "quarantined",
                                               (json_int_t)f->quarantined));
    }
    json_t *o = json_pack("{s:I, s:I, s:o, s:o, s:o}", "batch", (json_int_t)l->batch, "ingest_time_us",
                          (json_int_t)l->ingest_time_us, "files", files, "bronze_adds", adds_to_json(&l->bronze_adds),
                          "quarantine_adds", adds_to_json(&l->quarantine_adds));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *key = log_key(l->batch);
    st_code rc = st_store_write(c->store, key, text, strlen(text), e);
    if (rc) st_err_wrap(e, "writing batch log %s", key);
    free(key);
    free(text);
    return rc;
}

static st_code adds_from_json(json_t *a, delta_file_list *out, const char *path, st_err *e)
{
    if (!json_is_array(a)) return st_err_set(e, ST_ERR_FORMAT, "%s: adds is not an array", path);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *p = json_string_value(json_object_get(v, "path"));
        json_t *pv = json_object_get(v, "partitionValues");
        if (!p || !json_is_integer(json_object_get(v, "size")) || !json_is_object(pv))
            return st_err_set(e, ST_ERR_FORMAT, "%s: add %zu is incomplete", path, i);
        delta_file f = {0};
        f.path = (char *)p;
        f.size = json_integer_value(json_object_get(v, "size"));
        f.modification_time = json_integer_value(json_object_get(v, "modificationTime"));
        f.data_change = json_is_true(json_object_get(v, "dataChange"));
        f.stats = (char *)json_string_value(json_object_get(v, "stats"));
        json_t *nr = json_object_get(v, "numRecords");
        f.num_records = json_is_integer(nr) ? json_integer_value(nr) : -1;
        f.num_partition_values = json_object_size(pv);
        delta_partition_value pvs[16];
        if (f.num_partition_values > 16) return st_err_set(e, ST_ERR_FORMAT, "%s: too many partition values", path);
        size_t k = 0;
        const char *key;
        json_t *val;
        json_object_foreach(pv, key, val) {
            pvs[k].name = (char *)key;
            pvs[k].value = (char *)json_string_value(val);
            k++;
        }
        f.partition_values = pvs;
        delta_file_list_append_copy(out, &f);
    }
    return ST_OK;
}

st_code bronze_ckpt_read_log(const bronze_ckpt *c, int64_t n, bronze_batch_log *out, st_err *e)
{
    memset(out, 0, sizeof *out);
    char *key = log_key(n);
    char *path = object_name(c, key);
    st_buf b = {0};
    json_t *o = NULL;
    st_code rc = st_store_read(c->store, key, &b, NULL, e);
    free(key);
    if (rc) goto done;
    json_error_t je;
    o = json_loadb((const char *)b.data, b.len, 0, &je);
    if (!o) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: %s (line %d)", path, je.text, je.line);
        goto done;
    }
    json_t *files = json_object_get(o, "files");
    if (!json_is_integer(json_object_get(o, "batch")) || json_integer_value(json_object_get(o, "batch")) != n ||
        !json_is_array(files)) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: not a batch log of batch %" PRId64, path, n);
        goto done;
    }
    out->batch = n;
    out->ingest_time_us = json_integer_value(json_object_get(o, "ingest_time_us"));
    size_t i;
    json_t *v;
    json_array_foreach(files, i, v) {
        bronze_ckpt_file f = {0};
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *sha = json_string_value(json_object_get(v, "sha256"));
        if (!name || !sha || strlen(sha) != 64) {
            rc = st_err_set(e, ST_ERR_FORMAT, "%s: file %zu is incomplete", path, i);
            goto done;
        }
        f.name = (char *)name;
        memcpy(f.sha256, sha, 65);
        f.size = json_integer_value(json_object_get(v, "size"));
        f.mtime_ns = json_integer_value(json_object_get(v, "mtime_ns"));
        f.rows = json_integer_value(json_object_get(v, "rows"));
        f.quarantined = json_integer_value(json_object_get(v, "quarantined"));
        bronze_batch_log_add_file(out, &f);
    }
    if ((rc = adds_from_json(json_object_get(o, "bronze_adds"), &out->bronze_adds, path, e))) goto done;
    rc = adds_from_json(json_object_get(o, "quarantine_adds"), &out->quarantine_adds, path, e);
done:
    if (rc) bronze_batch_log_free(out);
    json_decref(o);
    st_buf_free(&b);
    free(path);
    return rc;
}

st_code bronze_ckpt_record(bronze_ckpt *c, const bronze_batch_log *l, st_err *e)
{
    st_buf *b = &c->index_text;
    for (size_t i = 0; i < l->nfiles; i++) {
        const bronze_ckpt_file *f = &l->files[i];
        if (bronze_ckpt_has_hash(c, f->sha256)) continue;
        st_buf_printf(b, "{\"batch\":%" PRId64 ",\"sha256\":\"%s\",\"size\":%" PRId64 ",\"mtime_ns\":%" PRId64 ",\"name\":",
                      l->batch, f->sha256, f->size, f->mtime_ns);
        st_buf_append_json_str(b, f->name, strlen(f->name));
        st_buf_append_str(b, "}\n");
    }
    for (size_t i = 0; i < l->nfiles; i++) {
        const bronze_ckpt_file *f = &l->files[i];
        index_add(c, f->name, f->size, f->mtime_ns, f->sha256, l->batch);
    }
    if (l->batch > c->max_batch) c->max_batch = l->batch;
    st_code rc = st_store_write(c->store, INDEX_KEY, b->data, b->len, e);
    /* nothing lost on failure: the batch logs hold it, and a start-up catches the index up */
    if (rc) return st_err_wrap(e, "writing the processed index of %s", st_store_root(c->store));
    return ST_OK;
}
