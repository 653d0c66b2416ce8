/* delta_log.c — JSON encoding and decoding of log actions (add, remove, metaData,
 * protocol) with jansson. */
#include "delta/delta_internal.h"

#include <stdlib.h>
#include <string.h>

/* Frees the file's strings and zeroes it. NULL-safe. */
void delta_file_free(delta_file *f)
{
    if (!f) return;
    free(f->path);
    free(f->stats);
    for (size_t i = 0; i < f->num_partition_values; i++) {
        free(f->partition_values[i].name);
        free(f->partition_values[i].value);
    }
    free(f->partition_values);
    memset(f, 0, sizeof *f);
}

/* Deep copy of src into dst (dst's old contents are not freed). */
void delta_file_copy(delta_file *dst, const delta_file *src)
{
    *dst = *src;
    dst->path = st_xstrdup(src->path);
    dst->stats = src->stats ? st_xstrdup(src->stats) : NULL;
    dst->partition_values = NULL;
    if (src->num_partition_values) {
        dst->partition_values = st_xcalloc(src->num_partition_values, sizeof(delta_partition_value));
        for (size_t i = 0; i < src->num_partition_values; i++) {
            dst->partition_values[i].name = st_xstrdup(src->partition_values[i].name);
            dst->partition_values[i].value =
                src->partition_values[i].value ? st_xstrdup(src->partition_values[i].value) : NULL;
        }
    }
}

/* Frees every entry and the array. NULL-safe. */
void delta_file_list_free(delta_file_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->count; i++) delta_file_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Grows by doubling; returns the new zeroed slot. */
static delta_file *list_push(delta_file_list *l)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = st_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    delta_file *f = &l->items[l->count++];
    memset(f, 0, sizeof *f);
    return f;
}

/* Appends a deep copy; amortised O(1) plus the copy. */
void delta_file_list_append_copy(delta_file_list *l, const delta_file *f)
{
    delta_file *d = list_push(l);
    delta_file_copy(d, f);
}

/* Linear in the number of partition columns (a handful). */
const char *delta_file_partition_value(const delta_file *f, const char *name, int *found)
{
    for (size_t i = 0; i < f->num_partition_values; i++)
        if (strcmp(f->partition_values[i].name, name) == 0) {
            if (found) *found = 1;
            return f->partition_values[i].value;
        }
    if (found) *found = 0;
    return NULL;
}

/* Parses the stats JSON once: O(stats length). */
int64_t delta_stats_num_records(const char *stats)
{
    if (!stats) return -1;
    json_t *j = json_loads(stats, 0, NULL);
    int64_t n = -1;
    json_t *v = j ? json_object_get(j, "numRecords") : NULL;
    if (json_is_integer(v)) n = json_integer_value(v);
    json_decref(j);
    return n;
}

/* Integer field that may be absent (def) but must be an integer when present. */
static int get_i64(json_t *o, const char *k, int64_t def, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 0;
}

/* Decodes an add (or remove) object; ST_ERR_FORMAT naming `where` for wrong
 * types, ST_ERR_UNSUPPORTED for deletion vectors. */
st_code delta_file_from_json(json_t *obj, int is_remove, delta_file *f, const char *where, st_err *e)
{
    memset(f, 0, sizeof *f);
    const char *kind = is_remove ? "remove" : "add";
    const char *path = json_string_value(json_object_get(obj, "path"));
    if (!json_is_object(obj) || !path)
        return st_err_set(e, ST_ERR_FORMAT, "%s: %s action without a path", where, kind);
    f->path = st_xstrdup(path);
    if (get_i64(obj, "size", is_remove ? 0 : -1, &f->size) ||
        get_i64(obj, is_remove ? "deletionTimestamp" : "modificationTime", 0, &f->modification_time))
        goto bad;
    if (!is_remove && f->size < 0) goto bad;
    json_t *dc = json_object_get(obj, "dataChange");
    f->data_change = dc ? json_is_true(dc) : 1;
    json_t *st = json_object_get(obj, "stats");
    if (json_is_string(st)) f->stats = st_xstrdup(json_string_value(st));
    f->num_records = delta_stats_num_records(f->stats);
    json_t *pv = json_object_get(obj, "partitionValues");
    if (pv && !json_is_null(pv)) {
        if (!json_is_object(pv)) goto bad;
        size_t n = json_object_size(pv);
        f->partition_values = st_xcalloc(n ? n : 1, sizeof(delta_partition_value));
        const char *k;
        json_t *v;
        json_object_foreach(pv, k, v) {
            delta_partition_value *p = &f->partition_values[f->num_partition_values++];
            p->name = st_xstrdup(k);
            if (json_is_string(v))
                p->value = st_xstrdup(json_string_value(v));
            else if (!json_is_null(v))
                goto bad;
        }
    }
    if (!is_remove && json_object_get(obj, "deletionVector") && !json_is_null(json_object_get(obj, "deletionVector"))) {
        st_err_set(e, ST_ERR_UNSUPPORTED, "%s: add %s has a deletion vector (feature deletionVectors unsupported)",
                   where, path);
        delta_file_free(f);
        return ST_ERR_UNSUPPORTED;
    }
    return ST_OK;
bad:
    st_err_set(e, ST_ERR_FORMAT, "%s: %s action for %s has a field of the wrong type", where, kind, path);
    delta_file_free(f);
    return ST_ERR_FORMAT;
}

/* Encodes {"add":{...}} or {"remove":{...}} with the fields Spark writes. */
json_t *delta_file_to_json(const delta_file *f, int is_remove)
{
    json_t *pv = json_object();
    for (size_t i = 0; i < f->num_partition_values; i++)
        json_object_set_new(pv, f->partition_values[i].name,
                            f->partition_values[i].value ? json_string(f->partition_values[i].value) : json_null());
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(f->path));
    if (is_remove) {
        json_object_set_new(o, "deletionTimestamp", json_integer(f->modification_time));
        json_object_set_new(o, "dataChange", json_boolean(f->data_change));
        json_object_set_new(o, "extendedFileMetadata", json_true());
        json_object_set_new(o, "partitionValues", pv);
        json_object_set_new(o, "size", json_integer(f->size));
    } else {
        json_object_set_new(o, "partitionValues", pv);
        json_object_set_new(o, "size", json_integer(f->size));
        json_object_set_new(o, "modificationTime", json_integer(f->modification_time));
        json_object_set_new(o, "dataChange", json_boolean(f->data_change));
        if (f->stats) json_object_set_new(o, "stats", json_string(f->stats));
    }
    return json_pack("{s:o}", is_remove ? "remove" : "add", o);
}

/* Encodes the metaData action of the state. */
json_t *delta_metadata_to_json(const delta_snapshot *s)
{
    json_t *pc = json_array();
    for (size_t i = 0; i < s->npartition; i++) json_array_append_new(pc, json_string(s->partition_columns[i]));
    json_t *conf = json_object();
    for (size_t i = 0; i < s->nconfig; i++) json_object_set_new(conf, s->config_keys[i], json_string(s->config_vals[i]));
    json_t *md = json_object();
    json_object_set_new(md, "id", json_string(s->id));
    if (s->name) json_object_set_new(md, "name", json_string(s->name));
    if (s->description) json_object_set_new(md, "description", json_string(s->description));
    json_object_set_new(md, "format", json_pack("{s:s, s:{}}", "provider",
                                                s->format_provider ? s->format_provider : "parquet", "options"));
    json_object_set_new(md, "schemaString", json_string(s->schema_string));
    json_object_set_new(md, "partitionColumns", pc);
    json_object_set_new(md, "configuration", conf);
    if (s->created_time >= 0) json_object_set_new(md, "createdTime", json_integer(s->created_time));
    return json_pack("{s:o}", "metaData", md);
}

/* Encodes the protocol action (feature lists only for reader 3 / writer 7). */
json_t *delta_protocol_to_json(const delta_snapshot *s)
{
    json_t *p = json_pack("{s:i, s:i}", "minReaderVersion", s->min_reader, "minWriterVersion", s->min_writer);
    if (s->min_reader >= 3) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->nreader_features; i++) json_array_append_new(a, json_string(s->reader_features[i]));
        json_object_set_new(p, "readerFeatures", a);
    }
    if (s->min_writer >= 7) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->nwriter_features; i++) json_array_append_new(a, json_string(s->writer_features[i]));
        json_object_set_new(p, "writerFeatures", a);
    }
    return json_pack("{s:o}", "protocol", p);
}

/* Compact one-line JSON plus '\n'; consumes obj. */
void delta_json_line(st_buf *b, json_t *obj)
{
    char *txt = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    st_buf_append_str(b, txt);
    st_buf_append_u8(b, '\n');
    free(txt);
    json_decref(obj);
}
