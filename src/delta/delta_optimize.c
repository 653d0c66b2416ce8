/* delta_optimize.c — small-file compaction (`OPTIMIZE`): plan bins of small files per
 * partition, read their rows back with the Parquet reader, rewrite each bin as one file
 * through the table writer (same schema, exact stats), and commit one version of
 * dataChange=false adds and removes. Re-plans when a concurrent writer removed an input. */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"

#define DEFAULT_TARGET (128LL * 1024 * 1024)

/* Defaults documented in delta.h. */
void delta_optimize_options_init(delta_optimize_options *o)
{
    memset(o, 0, sizeof *o);
    o->target_size = DEFAULT_TARGET;
    o->min_files = 2;
    o->max_attempts = 5;
}

/* ------------------------------------------------------------------ reading rows back */

/* Appends the partition value text v (NULL = null) of a `count`-row file to column col,
 * typed per the protocol's partition value serialization. ST_ERR_FORMAT on bad text. */
static st_code append_partition(delta_batch *b, int col, delta_type ty, const char *v, int64_t count,
                                const char *where, st_err *e)
{
    if (!v || !*v) {
        /* an empty string is the null partition value (protocol) */
        for (int64_t i = 0; i < count; i++) delta_batch_append_null(b, col);
        return ST_OK;
    }
    char *end = NULL;
    switch (ty) {
    case DELTA_TYPE_BOOLEAN: {
        int x = !strcmp(v, "true") ? 1 : !strcmp(v, "false") ? 0 : -1;
        if (x < 0) break;
        for (int64_t i = 0; i < count; i++) delta_batch_append_bool(b, col, x);
        return ST_OK;
    }
    case DELTA_TYPE_INTEGER: {
        long long x = strtoll(v, &end, 10);
        if (*end || x < INT32_MIN || x > INT32_MAX) break;
        for (int64_t i = 0; i < count; i++) delta_batch_append_int(b, col, (int32_t)x);
        return ST_OK;
    }
    case DELTA_TYPE_LONG: {
        long long x = strtoll(v, &end, 10);
        if (*end) break;
        for (int64_t i = 0; i < count; i++) delta_batch_append_long(b, col, (int64_t)x);
        return ST_OK;
    }
    case DELTA_TYPE_DATE: {
        int y, m, d;
        char tail;
        if (sscanf(v, "%d-%d-%d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31) break;
        int32_t days = (int32_t)st_days_from_civil(y, (unsigned)m, (unsigned)d);
        for (int64_t i = 0; i < count; i++) delta_batch_append_int(b, col, days);
        return ST_OK;
    }
    case DELTA_TYPE_TIMESTAMP: {
        int64_t us;
        if (st_parse_iso_us(v, strlen(v), &us)) break;
        for (int64_t i = 0; i < count; i++) delta_batch_append_long(b, col, us);
        return ST_OK;
    }
    case DELTA_TYPE_STRING:
        for (int64_t i = 0; i < count; i++) delta_batch_append_string(b, col, v, strlen(v));
        return ST_OK;
    default: break;
    }
    return st_err_set(e, ST_ERR_FORMAT, "%s: partition value '%s' is not a valid %s", where, v, delta_type_name(ty));
}

/* Appends one decoded column chunk (n rows) to batch column col. Accepts the physical
 * types our writer and Spark use for each Delta type (INT32 widened to long, FLOAT to
 * double, INT96 and millisecond/nanosecond timestamps to microseconds). */
static st_code append_chunk(delta_batch *b, int col, delta_type ty, const pq_schema_node *node, int16_t max_def,
                            const pq_column_data *c, int64_t n, const char *where, st_err *e)
{
    if ((int64_t)c->num_levels != n)
        return st_err_set(e, ST_ERR_FORMAT, "%s: column %s has %zu values for %lld rows", where, node->name,
                          c->num_levels, (long long)n);
    pq_physical ph = c->physical;
    int ok = 0;
    switch (ty) {
    case DELTA_TYPE_BOOLEAN: ok = ph == PQ_BOOLEAN; break;
    case DELTA_TYPE_INTEGER:
    case DELTA_TYPE_DATE: ok = ph == PQ_INT32; break;
    case DELTA_TYPE_LONG: ok = ph == PQ_INT64 || ph == PQ_INT32; break;
    case DELTA_TYPE_DOUBLE: ok = ph == PQ_DOUBLE || ph == PQ_FLOAT; break;
    case DELTA_TYPE_STRING: ok = ph == PQ_BYTE_ARRAY; break;
    case DELTA_TYPE_TIMESTAMP: ok = ph == PQ_INT64 || ph == PQ_INT96; break;
    default: break;
    }
    if (!ok)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column %s (%s) has an unexpected Parquet physical type %d", where,
                          node->name, delta_type_name(ty), (int)ph);
    size_t vi = 0;
    for (int64_t r = 0; r < n; r++) {
        if (max_def > 0 && c->def_levels[r] < max_def) {
            delta_batch_append_null(b, col);
            continue;
        }
        if (vi >= c->num_values)
            return st_err_set(e, ST_ERR_FORMAT, "%s: column %s has fewer values than levels say", where, node->name);
        size_t k = vi++;
        switch (ty) {
        case DELTA_TYPE_BOOLEAN: delta_batch_append_bool(b, col, c->values.boolean[k]); break;
        case DELTA_TYPE_INTEGER:
        case DELTA_TYPE_DATE: delta_batch_append_int(b, col, c->values.i32[k]); break;
        case DELTA_TYPE_LONG:
            delta_batch_append_long(b, col, ph == PQ_INT32 ? (int64_t)c->values.i32[k] : c->values.i64[k]);
            break;
        case DELTA_TYPE_DOUBLE:
            delta_batch_append_double(b, col, ph == PQ_FLOAT ? (double)c->values.f32[k] : c->values.f64[k]);
            break;
        case DELTA_TYPE_STRING:
            delta_batch_append_string(b, col, (const char *)c->values.bytes[k].ptr, c->values.bytes[k].len);
            break;
        case DELTA_TYPE_TIMESTAMP: {
            int64_t us;
            if (ph == PQ_INT96) {
                us = pq_int96_to_micros(c->values.bytes[k].ptr);
            } else {
                int64_t x = c->values.i64[k];
                if (node->logical == PQ_LOGICAL_TIMESTAMP_MILLIS) us = x * 1000;
                else if (node->logical == PQ_LOGICAL_TIMESTAMP_NANOS) us = x >= 0 ? x / 1000 : -((-x + 999) / 1000);
                else us = x;
            }
            delta_batch_append_long(b, col, us);
            break;
        }
        default: break;
        }
    }
    return ST_OK;
}

/* Appends every row of data file f (table-relative) to b, partition columns filled
 * from f's partition values. Cost: the whole file is decoded, one column chunk at a time. */
static st_code read_file_into(delta_batch *b, const delta_snapshot *s, const char *table_path, const delta_file *f,
                              st_err *e)
{
    char *full = delta_file_local_path(table_path, f);
    st_code rc = ST_OK;
    pq_column_data cd;
    memset(&cd, 0, sizeof cd);
    pq_reader *r = pq_reader_open(full, e);
    if (!r) {
        rc = e ? e->code : ST_ERR_IO;
        goto done;
    }
    const delta_schema *sc = s->schema;
    size_t nf = delta_schema_num_fields(sc);
    int nnodes = 0;
    const pq_schema_node *nodes = pq_reader_schema(r, &nnodes);
    for (int g = 0; g < pq_reader_num_row_groups(r) && !rc; g++) {
        int64_t n = pq_reader_row_group_rows(r, g);
        for (size_t i = 0; i < nf && !rc; i++) {
            const char *name = delta_schema_field_name(sc, i);
            delta_type ty = delta_schema_field_type(sc, i);
            int is_part = 0;
            for (size_t p = 0; p < s->npartition; p++)
                if (!strcmp(s->partition_columns[p], name)) is_part = 1;
            if (is_part) {
                rc = append_partition(b, (int)i, ty, delta_file_partition_value(f, name, NULL), n, full, e);
                continue;
            }
            int leaf = pq_reader_find_leaf(r, name);
            if (leaf < 0) {
                /* a column added to the schema after this file was written: nulls */
                if (!delta_schema_field_nullable(sc, i)) {
                    rc = st_err_set(e, ST_ERR_FORMAT, "%s: non-nullable column %s is missing", full, name);
                    break;
                }
                for (int64_t k = 0; k < n; k++) delta_batch_append_null(b, (int)i);
                continue;
            }
            const pq_leaf_info *li = pq_reader_leaf(r, leaf);
            if (li->max_rep > 0 || li->node < 0 || li->node >= nnodes) {
                rc = st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column %s is nested or repeated", full, name);
                break;
            }
            if ((rc = pq_reader_read_column(r, g, leaf, &cd, e))) break;
            rc = append_chunk(b, (int)i, ty, &nodes[li->node], li->max_def, &cd, n, full, e);
            pq_column_data_free(&cd);
        }
    }
done:
    pq_column_data_free(&cd);
    pq_reader_close(r);
    free(full);
    return rc;
}

/* ------------------------------------------------------------------ planning */

typedef struct bin {
    const delta_file **files; /* borrowed from the snapshot */
    size_t n;
    int64_t bytes;
} bin;

typedef struct partition_group {
    char *key;
    const delta_file **files;
    size_t n, cap;
    int64_t considered;
} partition_group;

typedef struct plan {
    partition_group *parts;
    size_t nparts, cap;
    delta_map index;
    bin *bins;
    size_t nbins, bin_cap;
    int64_t considered, partitions;
} plan;

/* NULL-safe. */
static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->nparts; i++) {
        free(p->parts[i].key);
        free(p->parts[i].files);
    }
    free(p->parts);
    delta_map_free(&p->index);
    for (size_t i = 0; i < p->nbins; i++) free(p->bins[i].files);
    free(p->bins);
    memset(p, 0, sizeof *p);
}

/* Whether f's partition values match every where entry. */
static int matches(const delta_file *f, const delta_optimize_options *o)
{
    for (size_t i = 0; i < o->nwhere; i++) {
        int found = 0;
        const char *v = delta_file_partition_value(f, o->where[i].name, &found);
        if (v && !*v) v = NULL;
        const char *w = o->where[i].value;
        if (!found) return 0;
        if (!v != !w) return 0;
        if (v && strcmp(v, w)) return 0;
    }
    return 1;
}

/* Oldest first by modification time (ms), then by position in the snapshot's file list
 * (all pointers point into that one array; replayed commits are appended in commit
 * order): the output keeps the insertion order as far as the log tells it. */
static int by_time(const void *a, const void *b)
{
    const delta_file *x = *(const delta_file *const *)a, *y = *(const delta_file *const *)b;
    if (x->modification_time != y->modification_time) return x->modification_time < y->modification_time ? -1 : 1;
    return (x > y) - (x < y);
}

/* Groups the snapshot's active small files by partition, then bin-packs each partition
 * greedily in commit order (a bin closes when the next file would pass the target);
 * bins of one file are dropped (nothing to merge). O(files log files). */
static void plan_make(plan *p, const delta_snapshot *s, const delta_optimize_options *o)
{
    st_buf key = {0};
    for (size_t i = 0; i < s->files.count; i++) {
        const delta_file *f = &s->files.items[i];
        if (!matches(f, o)) continue;
        p->considered++;
        st_buf_reset(&key);
        for (size_t c = 0; c < s->npartition; c++) {
            const char *v = delta_file_partition_value(f, s->partition_columns[c], NULL);
            if (v && *v) st_buf_append_str(&key, v);
            else st_buf_append_u8(&key, 2);
            st_buf_append_u8(&key, 1);
        }
        const char *k = st_buf_cstr(&key);
        size_t gi = delta_map_get(&p->index, k);
        if (gi == (size_t)-1) {
            if (p->nparts == p->cap) {
                /* keys are heap strings owned by the groups: the map stays valid on realloc */
                p->cap = p->cap ? p->cap * 2 : 8;
                p->parts = st_xrealloc(p->parts, p->cap * sizeof *p->parts);
            }
            gi = p->nparts++;
            memset(&p->parts[gi], 0, sizeof p->parts[gi]);
            p->parts[gi].key = st_xstrdup(k);
            delta_map_put(&p->index, p->parts[gi].key, gi);
        }
        partition_group *g = &p->parts[gi];
        g->considered++;
        if (f->size >= o->target_size) continue;
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 16;
            g->files = st_xrealloc(g->files, g->cap * sizeof *g->files);
        }
        g->files[g->n++] = f;
    }
    st_buf_free(&key);
    for (size_t gi = 0; gi < p->nparts; gi++) {
        partition_group *g = &p->parts[gi];
        if (g->n < (size_t)(o->min_files > 1 ? o->min_files : 2)) continue;
        qsort(g->files, g->n, sizeof *g->files, by_time);
        size_t start = 0;
        int used = 0;
        while (start < g->n) {
            size_t end = start;
            int64_t bytes = 0;
            while (end < g->n && (end == start || bytes + g->files[end]->size <= o->target_size))
                bytes += g->files[end++]->size;
            if (end - start >= 2) {
                if (p->nbins == p->bin_cap) {
                    p->bin_cap = p->bin_cap ? p->bin_cap * 2 : 8;
                    p->bins = st_xrealloc(p->bins, p->bin_cap * sizeof *p->bins);
                }
                bin *b = &p->bins[p->nbins++];
                b->n = end - start;
                b->files = st_xmalloc(b->n * sizeof *b->files);
                memcpy(b->files, g->files + start, b->n * sizeof *b->files);
                b->bytes = bytes;
                used = 1;
            }
            start = end;
        }
        p->partitions += used;
    }
}

/* ------------------------------------------------------------------ commit info */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Spark-like OPTIMIZE operationParameters: predicate as a JSON-array string. */
static char *operation_parameters(const delta_optimize_options *o)
{
    json_t *preds = json_array();
    if (o->nwhere) {
        st_buf b = {0};
        st_buf_append_u8(&b, '(');
        for (size_t i = 0; i < o->nwhere; i++) {
            if (i) st_buf_append_str(&b, " AND ");
            if (o->where[i].value)
                st_buf_printf(&b, "%s = '%s'", o->where[i].name, o->where[i].value);
            else
                st_buf_printf(&b, "%s IS NULL", o->where[i].name);
        }
        st_buf_append_u8(&b, ')');
        json_array_append_new(preds, json_string(st_buf_cstr(&b)));
        st_buf_free(&b);
    }
    char *ptxt = json_dumps(preds, JSON_COMPACT);
    json_decref(preds);
    json_t *op = json_pack("{s:s, s:s, s:s, s:s}", "predicate", ptxt, "zOrderBy", "[]", "clusterBy", "[]", "auto",
                           "false");
    free(ptxt);
    char *txt = json_dumps(op, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(op);
    return txt;
}

/* operationMetrics as Spark writes them for OPTIMIZE (every value a decimal string). */
static char *operation_metrics(const plan *p, const delta_file_list *adds, int64_t removed_files,
                               int64_t removed_bytes)
{
    int64_t added_bytes = 0;
    int64_t *sz = st_xmalloc((adds->count ? adds->count : 1) * sizeof *sz);
    for (size_t i = 0; i < adds->count; i++) {
        sz[i] = adds->items[i].size;
        added_bytes += sz[i];
    }
    qsort(sz, adds->count, sizeof *sz, cmp_i64);
    json_t *m = json_object();
    char buf[32];
#define MET(k, v)                                                                                                      \
    do {                                                                                                               \
        snprintf(buf, sizeof buf, "%lld", (long long)(v));                                                             \
        json_object_set_new(m, k, json_string(buf));                                                                   \
    } while (0)
    size_t n = adds->count;
    MET("numRemovedFiles", removed_files);
    MET("numRemovedBytes", removed_bytes);
    MET("numAddedFiles", n);
    MET("numAddedBytes", added_bytes);
    MET("minFileSize", n ? sz[0] : 0);
    MET("p25FileSize", n ? sz[(n - 1) / 4] : 0);
    MET("p50FileSize", n ? sz[(n - 1) / 2] : 0);
    MET("p75FileSize", n ? sz[3 * (n - 1) / 4] : 0);
    MET("maxFileSize", n ? sz[n - 1] : 0);
    MET("numBatches", p->nbins ? 1 : 0);
    MET("totalConsideredFiles", p->considered);
    MET("totalFilesSkipped", p->considered - removed_files);
    MET("numDeletionVectorsRemoved", 0);
    json_object_set_new(m, "preserveInsertionOrder", json_string("true"));
#undef MET
    free(sz);
    json_t *ci = json_pack("{s:o}", "operationMetrics", m);
    char *txt = json_dumps(ci, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ci);
    return txt;
}

/* ------------------------------------------------------------------ entry point */

/* Replaces the partition values of add a by a copy of src's (the original text, so the
 * rewrite cannot change how a value is spelled, e.g. a timestamp's format). */
static void copy_partition_values(delta_file *a, const delta_file *src)
{
    for (size_t i = 0; i < a->num_partition_values; i++) {
        free(a->partition_values[i].name);
        free(a->partition_values[i].value);
    }
    free(a->partition_values);
    a->num_partition_values = src->num_partition_values;
    a->partition_values = st_xcalloc(src->num_partition_values ? src->num_partition_values : 1,
                                     sizeof *a->partition_values);
    for (size_t i = 0; i < src->num_partition_values; i++) {
        a->partition_values[i].name = st_xstrdup(src->partition_values[i].name);
        a->partition_values[i].value = src->partition_values[i].value ? st_xstrdup(src->partition_values[i].value)
                                                                       : NULL;
    }
}

/* Deletes the files of adds (never committed) and empties the list. */
static void unlink_adds(const char *table_path, delta_file_list *adds)
{
    for (size_t i = 0; i < adds->count; i++) {
        char *p = delta_file_local_path(table_path, &adds->items[i]);
        unlink(p);
        free(p);
    }
    delta_file_list_free(adds);
}

/* Rewrites every bin of the plan into adds (one file per bin). */
static st_code write_bins(delta_table *t, const plan *p, delta_file_list *adds, int64_t *rows, st_err *e)
{
    const delta_snapshot *s = delta_table_snapshot(t);
    st_code rc = ST_OK;
    for (size_t bi = 0; bi < p->nbins && !rc; bi++) {
        const bin *bn = &p->bins[bi];
        delta_batch *b = delta_batch_new(s->schema);
        for (size_t k = 0; k < bn->n && !rc; k++) rc = read_file_into(b, s, delta_table_path(t), bn->files[k], e);
        size_t first = adds->count;
        if (!rc) rc = delta_table_write_files(t, b, adds, e);
        if (!rc) {
            *rows += (int64_t)delta_batch_num_rows(b);
            for (size_t i = first; i < adds->count; i++) copy_partition_values(&adds->items[i], bn->files[0]);
        }
        delta_batch_destroy(b);
    }
    return rc;
}

/* See delta.h. One attempt = plan from the handle's snapshot, write, commit; a
 * conflict (an input removed, metadata changed) deletes our new files, refreshes and
 * re-plans. Files written by an attempt that failed otherwise are deleted too, except
 * when the commit itself failed with an I/O error (then it may have landed: the files
 * are left for vacuum rather than risk deleting committed data). */
st_code delta_table_optimize(const char *path, const delta_optimize_options *opts, delta_optimize_result *res,
                             st_err *e)
{
    delta_optimize_options o;
    if (opts) o = *opts;
    else delta_optimize_options_init(&o);
    if (o.target_size <= 0) return st_err_set(e, ST_ERR_ARG, "optimize %s: target size must be positive", path);
    if (o.max_attempts < 1) o.max_attempts = 1;
    delta_optimize_result r;
    memset(&r, 0, sizeof r);
    r.version = -1;

    /* the table's own checkpoint interval, and one output file per bin whatever its rows */
    delta_table_options topt;
    delta_table_options_init(&topt);
    topt.max_rows_per_file = INT64_MAX;
    delta_snapshot *s0 = delta_snapshot_load(path, -1, e);
    if (!s0) return e ? e->code : ST_ERR_NOTFOUND;
    const char *ci = delta_snapshot_configuration(s0, "delta.checkpointInterval");
    if (ci && atoi(ci) > 0) topt.checkpoint_interval = atoi(ci);
    delta_snapshot_destroy(s0);
    delta_table *t = delta_table_open(path, &topt, e);
    if (!t) return e ? e->code : ST_ERR_NOTFOUND;

    st_code rc = ST_OK;
    plan p;
    memset(&p, 0, sizeof p);
    delta_file_list adds = {0}, removes = {0};
    char *params = NULL, *metrics = NULL;
    for (int attempt = 1; attempt <= o.max_attempts; attempt++) {
        r.attempts = attempt;
        const delta_snapshot *s = delta_table_snapshot(t);
        if (s->min_writer > 2) {
            rc = st_err_set(e, ST_ERR_UNSUPPORTED, "optimize %s: writer version %d is not supported (we write 2)",
                            path, s->min_writer);
            goto done;
        }
        for (size_t i = 0; i < delta_schema_num_fields(s->schema); i++)
            if (delta_schema_field_type(s->schema, i) == DELTA_TYPE_OTHER) {
                rc = st_err_set(e, ST_ERR_UNSUPPORTED, "optimize %s: column %s has type %s, which we cannot rewrite",
                                path, delta_schema_field_name(s->schema, i), delta_schema_field_type_json(s->schema, i));
                goto done;
            }
        for (size_t i = 0; i < o.nwhere; i++) {
            size_t c = 0;
            while (c < s->npartition && strcmp(s->partition_columns[c], o.where[i].name)) c++;
            if (c == s->npartition) {
                rc = st_err_set(e, ST_ERR_ARG, "optimize %s: %s is not a partition column", path, o.where[i].name);
                goto done;
            }
        }
        plan_free(&p);
        plan_make(&p, s, &o);
        r.read_version = s->version;
        r.files_considered = p.considered;
        if (p.nbins == 0) {
            rc = ST_OK;
            goto done;
        }
        int64_t rows = 0;
        if ((rc = write_bins(t, &p, &adds, &rows, e))) {
            unlink_adds(path, &adds);
            goto done;
        }
        delta_file_list_free(&removes);
        int64_t rbytes = 0;
        for (size_t bi = 0; bi < p.nbins; bi++)
            for (size_t k = 0; k < p.bins[bi].n; k++) {
                delta_file_list_append_copy(&removes, p.bins[bi].files[k]);
                rbytes += p.bins[bi].files[k]->size;
            }
        free(params);
        free(metrics);
        params = operation_parameters(&o);
        metrics = operation_metrics(&p, &adds, (int64_t)removes.count, rbytes);
        if (o.before_commit) o.before_commit(o.before_commit_arg);
        delta_commit_params cp = {adds.items, adds.count, NULL, 0, "OPTIMIZE", params, metrics};
        int64_t v = -1;
        rc = delta_table_commit_with_removes(t, &cp, removes.items, removes.count, 1, &v, e);
        if (rc == ST_OK) {
            r.version = v;
            r.files_removed = (int64_t)removes.count;
            r.bytes_removed = rbytes;
            r.files_added = (int64_t)adds.count;
            for (size_t i = 0; i < adds.count; i++) r.bytes_added += adds.items[i].size;
            r.rows = rows;
            r.partitions = p.partitions;
            r.bins = (int64_t)p.nbins;
            delta_file_list_free(&adds);
            goto done;
        }
        if (rc != ST_ERR_CONFLICT) {
            if (rc != ST_ERR_IO) unlink_adds(path, &adds);
            goto done;
        }
        unlink_adds(path, &adds);
        if (attempt == o.max_attempts) break;
        /* someone removed an input (or changed the metadata): start over from the new state */
        if ((rc = delta_table_refresh(t, e))) goto done;
        st_err_clear(e);
    }
    if (rc == ST_ERR_CONFLICT) {
        char last[ST_ERR_MSG_MAX];
        snprintf(last, sizeof last, "%s", e ? e->msg : "conflict");
        rc = st_err_set(e, ST_ERR_CONFLICT,
                        "optimize %s: gave up after %d attempts: concurrent writers kept removing the files being "
                        "compacted (last: %.600s)",
                        path, o.max_attempts, last);
    }
done:
    delta_file_list_free(&adds);
    delta_file_list_free(&removes);
    free(params);
    free(metrics);
    plan_free(&p);
    delta_table_destroy(t);
    if (res) *res = r;
    return rc;
}
