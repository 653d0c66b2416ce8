/* delta_state.c — the table state: what the log says at one version. Applying actions
 * (add/remove reconciliation, metaData, protocol, txn, commitInfo), the readability check,
 * the accessors and the canonical state JSON. No I/O: log replay (delta_snapshot.c) and the
 * checkpoint reader (delta_checkpoint.c) feed it, and neither calls the other. */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* See delta_internal.h. */
delta_snapshot *delta_snapshot_empty(const char *table_path, st_store *store)
{
    delta_snapshot *s = st_xcalloc(1, sizeof *s);
    s->table_path = st_xstrdup(table_path);
    s->store = store;
    s->version = -1;
    s->checkpoint_version = -1;
    s->created_time = -1;
    s->last_commit_ms = -1;
    return s;
}

/* Frees n strings and the array. */
static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Drops the metaData fields (a new metaData action replaces them all). */
static void clear_metadata(delta_snapshot *s)
{
    free(s->id);
    free(s->name);
    free(s->description);
    free(s->format_provider);
    free(s->schema_string);
    delta_schema_destroy(s->schema);
    free_strv(s->partition_columns, s->npartition);
    free_strv(s->config_keys, s->nconfig);
    free_strv(s->config_vals, s->nconfig);
    s->id = s->name = s->description = s->format_provider = s->schema_string = NULL;
    s->schema = NULL;
    s->partition_columns = s->config_keys = s->config_vals = NULL;
    s->npartition = s->nconfig = 0;
}

/* NULL-safe. */
void delta_snapshot_destroy(delta_snapshot *s)
{
    if (!s) return;
    free(s->table_path);
    free_strv(s->reader_features, s->nreader_features);
    free_strv(s->writer_features, s->nwriter_features);
    clear_metadata(s);
    delta_file_list_free(&s->files);
    delta_map_free(&s->file_index);
    delta_file_list_free(&s->tombstones);
    delta_map_free(&s->tomb_index);
    for (size_t i = 0; i < s->ntxns; i++) free(s->txns[i].app_id);
    free(s->txns);
    free(s->txn_views);
    delta_map_free(&s->txn_index);
    if (s->owns_store) st_store_close(s->store);
    free(s);
}

/* ------------------------------------------------------------------ mutation */

/* Sets appId -> version; O(1) expected (map lookup). */
void delta_state_set_txn(delta_snapshot *s, const char *app_id, int64_t version, int64_t last_updated)
{
    size_t i = delta_map_get(&s->txn_index, app_id);
    if (i == (size_t)-1) {
        if (s->ntxns == s->txn_cap) {
            s->txn_cap = s->txn_cap ? s->txn_cap * 2 : 8;
            s->txns = st_xrealloc(s->txns, s->txn_cap * sizeof *s->txns);
            s->txn_views = st_xrealloc(s->txn_views, s->txn_cap * sizeof *s->txn_views);
        }
        i = s->ntxns++;
        s->txns[i].app_id = st_xstrdup(app_id);
        delta_map_put(&s->txn_index, s->txns[i].app_id, i);
    }
    s->txns[i].version = version;
    s->txns[i].last_updated = last_updated;
    /* views hold the (stable) app_id pointer and copies of the numbers: O(1) update */
    s->txn_views[i].app_id = s->txns[i].app_id;
    s->txn_views[i].version = version;
    s->txn_views[i].last_updated = last_updated;
}

/* Removes entry idx from a list+index pair in O(1) by moving the last entry into it. */
static void list_swap_remove(delta_file_list *l, delta_map *m, size_t idx)
{
    delta_map_del(m, l->items[idx].path);
    delta_file_free(&l->items[idx]);
    size_t last = l->count - 1;
    if (idx != last) {
        l->items[idx] = l->items[last];
        delta_map_put(m, l->items[idx].path, idx);
    }
    l->count--;
}

/* Inserts or replaces f (moved in) by path in a list+index pair. O(1) expected. */
static void list_put(delta_file_list *l, delta_map *m, delta_file *f)
{
    size_t i = delta_map_get(m, f->path);
    if (i != (size_t)-1) {
        delta_map_del(m, l->items[i].path);
        delta_file_free(&l->items[i]);
        l->items[i] = *f;
        delta_map_put(m, l->items[i].path, i);
        return;
    }
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = st_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->count] = *f;
    delta_map_put(m, l->items[l->count].path, l->count);
    l->count++;
}

/* a + b, saturating at the int64 range: a hostile log can hold any sizes and counts, and
 * totals must not overflow (undefined behaviour; found by fuzz_delta_checkpoint). */
static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r)) return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

/* a - b, saturating likewise. */
static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_sub_overflow(a, b, &r)) return r;
    return b < 0 ? INT64_MAX : INT64_MIN;
}

/* Adds f (moved in) as active, replacing a same-path file and dropping its
 * tombstone; keeps total_bytes. O(1) expected. */
void delta_state_add_file(delta_snapshot *s, delta_file *f)
{
    size_t t = delta_map_get(&s->tomb_index, f->path);
    if (t != (size_t)-1) list_swap_remove(&s->tombstones, &s->tomb_index, t);
    size_t i = delta_map_get(&s->file_index, f->path);
    if (i != (size_t)-1) s->total_bytes = sat_sub(s->total_bytes, s->files.items[i].size);
    s->total_bytes = sat_add(s->total_bytes, f->size);
    list_put(&s->files, &s->file_index, f);
    memset(f, 0, sizeof *f);
}

/* Deactivates the file with tomb's path (if active) and keeps tomb (moved in)
 * for the checkpoint. O(1) expected. */
void delta_state_remove_file(delta_snapshot *s, delta_file *tomb)
{
    size_t i = delta_map_get(&s->file_index, tomb->path);
    if (i != (size_t)-1) {
        s->total_bytes = sat_sub(s->total_bytes, s->files.items[i].size);
        list_swap_remove(&s->files, &s->file_index, i);
    }
    if (s->no_tombstones)
        delta_file_free(tomb);
    else
        list_put(&s->tombstones, &s->tomb_index, tomb);
    memset(tomb, 0, sizeof *tomb);
}

/* Swap-removes the expired entries: O(tombstones), no allocation. */
void delta_state_expire_tombstones(delta_snapshot *s, int64_t horizon_ms)
{
    for (size_t i = 0; i < s->tombstones.count;) {
        if (s->tombstones.items[i].modification_time < horizon_ms)
            list_swap_remove(&s->tombstones, &s->tomb_index, i); /* the last entry moved into i */
        else
            i++;
    }
}

/* Strings of a JSON array (non-strings skipped); NULL for none. */
static char **json_strv(json_t *a, size_t *n)
{
    *n = 0;
    if (!json_is_array(a) || !json_array_size(a)) return NULL;
    char **v = st_xcalloc(json_array_size(a), sizeof *v);
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (json_is_string(x)) v[(*n)++] = st_xstrdup(json_string_value(x));
    }
    return v;
}

/* Replaces the metadata from a metaData action; the schemaString must parse. */
static st_code apply_metadata(delta_snapshot *s, json_t *md, const char *where, st_err *e)
{
    const char *id = json_string_value(json_object_get(md, "id"));
    const char *schema = json_string_value(json_object_get(md, "schemaString"));
    if (!json_is_object(md) || !id || !schema)
        return st_err_set(e, ST_ERR_FORMAT, "%s: metaData without id or schemaString", where);
    st_err se;
    delta_schema *sc = delta_schema_from_json(schema, &se);
    if (!sc) return st_err_set(e, se.code, "%s: %s", where, se.msg);
    clear_metadata(s);
    s->schema = sc;
    s->id = st_xstrdup(id);
    s->schema_string = st_xstrdup(schema);
    const char *v;
    if ((v = json_string_value(json_object_get(md, "name")))) s->name = st_xstrdup(v);
    if ((v = json_string_value(json_object_get(md, "description")))) s->description = st_xstrdup(v);
    if ((v = json_string_value(json_object_get(json_object_get(md, "format"), "provider"))))
        s->format_provider = st_xstrdup(v);
    s->partition_columns = json_strv(json_object_get(md, "partitionColumns"), &s->npartition);
    json_t *conf = json_object_get(md, "configuration");
    if (json_is_object(conf) && json_object_size(conf)) {
        size_t n = json_object_size(conf);
        s->config_keys = st_xcalloc(n, sizeof(char *));
        s->config_vals = st_xcalloc(n, sizeof(char *));
        const char *k;
        json_t *x;
        json_object_foreach(conf, k, x) {
            if (!json_is_string(x)) continue;
            s->config_keys[s->nconfig] = st_xstrdup(k);
            s->config_vals[s->nconfig++] = st_xstrdup(json_string_value(x));
        }
    }
    json_t *ct = json_object_get(md, "createdTime");
    s->created_time = json_is_integer(ct) ? json_integer_value(ct) : -1;
    s->has_metadata = 1;
    return ST_OK;
}

/* Applies one action object; add/remove reconcile by path, metaData/protocol
 * replace, txn sets appId -> version. Unknown actions are ignored. */
st_code delta_state_apply(delta_snapshot *s, json_t *action, const char *where, st_err *e)
{
    if (!json_is_object(action)) return st_err_set(e, ST_ERR_FORMAT, "%s: action is not a JSON object", where);
    json_t *a;
    st_code rc;
    if ((a = json_object_get(action, "add"))) {
        delta_file f;
        if ((rc = delta_file_from_json(a, 0, &f, where, e))) return rc;
        delta_state_add_file(s, &f);
    } else if ((a = json_object_get(action, "remove"))) {
        delta_file f;
        if ((rc = delta_file_from_json(a, 1, &f, where, e))) return rc;
        delta_state_remove_file(s, &f);
    } else if ((a = json_object_get(action, "metaData"))) {
        s->meta_changes++;
        return apply_metadata(s, a, where, e);
    } else if ((a = json_object_get(action, "protocol"))) {
        json_t *r = json_object_get(a, "minReaderVersion"), *w = json_object_get(a, "minWriterVersion");
        if (!json_is_integer(r) || !json_is_integer(w))
            return st_err_set(e, ST_ERR_FORMAT, "%s: protocol without minReaderVersion/minWriterVersion", where);
        s->min_reader = (int)json_integer_value(r);
        s->min_writer = (int)json_integer_value(w);
        free_strv(s->reader_features, s->nreader_features);
        free_strv(s->writer_features, s->nwriter_features);
        s->reader_features = json_strv(json_object_get(a, "readerFeatures"), &s->nreader_features);
        s->writer_features = json_strv(json_object_get(a, "writerFeatures"), &s->nwriter_features);
        s->has_protocol = 1;
        s->meta_changes++;
    } else if ((a = json_object_get(action, "txn"))) {
        const char *app = json_string_value(json_object_get(a, "appId"));
        json_t *v = json_object_get(a, "version");
        if (!app || !json_is_integer(v))
            return st_err_set(e, ST_ERR_FORMAT, "%s: txn without appId or version", where);
        json_t *lu = json_object_get(a, "lastUpdated");
        delta_state_set_txn(s, app, json_integer_value(v), json_is_integer(lu) ? json_integer_value(lu) : 0);
    }
    /* commitInfo, cdc, domainMetadata, ...: no table state we keep */
    return ST_OK;
}

/* Applies a newline-delimited commit; a line that is not JSON (e.g. a truncated
 * file) is ST_ERR_FORMAT naming the file and line. O(commit size). */
st_code delta_state_apply_commit(delta_snapshot *s, const char *text, size_t len, const char *where, st_err *e)
{
    if (len == 0) return st_err_set(e, ST_ERR_FORMAT, "%s: commit file is empty", where);
    size_t pos = 0;
    int line = 0, actions = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        line++;
        size_t a = pos, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        if (b > a) {
            json_error_t je;
            json_t *obj = json_loadb(text + a, b - a, 0, &je);
            if (!obj)
                return st_err_set(e, ST_ERR_FORMAT, "%s line %d: invalid JSON (%s): truncated or damaged commit file",
                                  where, line, je.text);
            char w[1200];
            snprintf(w, sizeof w, "%s line %d", where, line);
            st_code rc = delta_state_apply(s, obj, w, e);
            json_t *ci = json_object_get(obj, "commitInfo");
            if (ci && json_is_integer(json_object_get(ci, "timestamp")))
                s->last_commit_ms = json_integer_value(json_object_get(ci, "timestamp"));
            json_decref(obj);
            if (rc) return rc;
            actions++;
        }
        pos = end + 1;
    }
    /* a last line without '\n' is accepted when it is complete JSON (some writers omit it) */
    if (!actions) return st_err_set(e, ST_ERR_FORMAT, "%s: commit file has no actions", where);
    return ST_OK;
}

/* Reader features we can honour: v2Checkpoint (delta_checkpoint.c reads v2 checkpoints
 * and their sidecars). The others (deletion vectors, column mapping, ...) change how a
 * snapshot or its files must be read. */
static int reader_feature_supported(const char *f)
{
    return strcmp(f, "v2Checkpoint") == 0;
}

/* Protocol/metadata present and within what we read: reader 1-2, reader 3
 * only without features, no column mapping. Names the version or feature otherwise. */
st_code delta_state_check_readable(const delta_snapshot *s, const char *where, st_err *e)
{
    if (!s->has_protocol) return st_err_set(e, ST_ERR_FORMAT, "%s: no protocol action in the log", where);
    if (!s->has_metadata) return st_err_set(e, ST_ERR_FORMAT, "%s: no metaData action in the log", where);
    if (s->min_reader > 3 || s->min_reader < 1)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: reader version %d is not supported (we read 1 and 2)", where,
                          s->min_reader);
    if (s->min_reader == 3)
        for (size_t i = 0; i < s->nreader_features; i++)
            if (!reader_feature_supported(s->reader_features[i]))
                return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: reader feature %s is not supported", where,
                                  s->reader_features[i]);
    const char *cm = delta_snapshot_configuration(s, "delta.columnMapping.mode");
    if (cm && strcmp(cm, "none") != 0)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: reader feature columnMapping (mode %s) is not supported", where,
                          cm);
    return ST_OK;
}

/* ------------------------------------------------------------------ accessors */

int64_t delta_snapshot_version(const delta_snapshot *s) { return s->version; }
int64_t delta_snapshot_checkpoint_version(const delta_snapshot *s) { return s->checkpoint_version; }
int delta_snapshot_min_reader_version(const delta_snapshot *s) { return s->min_reader; }
int delta_snapshot_min_writer_version(const delta_snapshot *s) { return s->min_writer; }
const char *delta_snapshot_table_id(const delta_snapshot *s) { return s->id; }
const char *delta_snapshot_table_name(const delta_snapshot *s) { return s->name; }
int64_t delta_snapshot_created_time(const delta_snapshot *s) { return s->created_time; }
const delta_schema *delta_snapshot_schema(const delta_snapshot *s) { return s->schema; }
const char *delta_snapshot_schema_string(const delta_snapshot *s) { return s->schema_string; }
size_t delta_snapshot_num_partition_columns(const delta_snapshot *s) { return s->npartition; }
const char *delta_snapshot_partition_column(const delta_snapshot *s, size_t i) { return s->partition_columns[i]; }
size_t delta_snapshot_num_files(const delta_snapshot *s) { return s->files.count; }
const delta_file *delta_snapshot_file(const delta_snapshot *s, size_t i) { return &s->files.items[i]; }
int64_t delta_snapshot_total_bytes(const delta_snapshot *s) { return s->total_bytes; }
size_t delta_snapshot_num_tombstones(const delta_snapshot *s) { return s->tombstones.count; }
size_t delta_snapshot_num_txns(const delta_snapshot *s) { return s->ntxns; }
const delta_txn *delta_snapshot_txn(const delta_snapshot *s, size_t i) { return &s->txn_views[i]; }
int64_t delta_snapshot_last_commit_ms(const delta_snapshot *s) { return s->last_commit_ms; }
st_store *delta_snapshot_store(const delta_snapshot *s) { return s->store; }

/* Linear in the configuration size (a few entries). */
const char *delta_snapshot_configuration(const delta_snapshot *s, const char *key)
{
    for (size_t i = 0; i < s->nconfig; i++)
        if (strcmp(s->config_keys[i], key) == 0) return s->config_vals[i];
    return NULL;
}

/* O(files). */
int64_t delta_snapshot_total_records(const delta_snapshot *s)
{
    int64_t n = 0;
    for (size_t i = 0; i < s->files.count; i++) {
        if (s->files.items[i].num_records < 0) return -1;
        n = sat_add(n, s->files.items[i].num_records);
    }
    return n;
}

/* O(1) expected. */
int64_t delta_snapshot_txn_version(const delta_snapshot *s, const char *app_id)
{
    size_t i = delta_map_get(&s->txn_index, app_id);
    return i == (size_t)-1 ? -1 : s->txns[i].version;
}

/* qsort comparators for the canonical state JSON. */
static int cmp_file_ptr(const void *a, const void *b)
{
    const delta_file *x = *(const delta_file *const *)a, *y = *(const delta_file *const *)b;
    return strcmp(x->path, y->path);
}

static int cmp_txn(const void *a, const void *b)
{
    return strcmp(((const delta_txn_entry *)a)->app_id, ((const delta_txn_entry *)b)->app_id);
}

/* Files (or tombstones) sorted by path, without dataChange (a checkpoint sets
 * it to false). O(n log n). */
static json_t *files_json(const delta_file_list *l, int tomb)
{
    const delta_file **v = st_xcalloc(l->count ? l->count : 1, sizeof *v);
    for (size_t i = 0; i < l->count; i++) v[i] = &l->items[i];
    qsort(v, l->count, sizeof *v, cmp_file_ptr);
    json_t *a = json_array();
    for (size_t i = 0; i < l->count; i++) {
        json_t *f = delta_file_to_json(v[i], tomb);
        json_t *inner = json_object_get(f, tomb ? "remove" : "add");
        json_object_del(inner, "dataChange");
        json_object_del(inner, "extendedFileMetadata");
        json_array_append(a, inner);
        json_decref(f);
    }
    free(v);
    return a;
}

/* See delta.h; O(files log files). */
char *delta_snapshot_state_json(const delta_snapshot *s)
{
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(s->version));
    json_t *p = delta_protocol_to_json(s);
    json_object_set(root, "protocol", json_object_get(p, "protocol"));
    json_decref(p);
    if (s->has_metadata) {
        json_t *m = delta_metadata_to_json(s);
        json_object_set(root, "metaData", json_object_get(m, "metaData"));
        json_decref(m);
    }
    json_object_set_new(root, "files", files_json(&s->files, 0));
    json_object_set_new(root, "tombstones", files_json(&s->tombstones, 1));
    delta_txn_entry *t = st_xcalloc(s->ntxns ? s->ntxns : 1, sizeof *t);
    if (s->ntxns) memcpy(t, s->txns, s->ntxns * sizeof *t);
    qsort(t, s->ntxns, sizeof *t, cmp_txn);
    json_t *ta = json_array();
    for (size_t i = 0; i < s->ntxns; i++)
        json_array_append_new(ta, json_pack("{s:s, s:I, s:I}", "appId", t[i].app_id, "version",
                                            (json_int_t)t[i].version, "lastUpdated", (json_int_t)t[i].last_updated));
    free(t);
    json_object_set_new(root, "txns", ta);
    char *txt = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    char *out = st_xstrdup(txt);
    free(txt);
    return out;
}
