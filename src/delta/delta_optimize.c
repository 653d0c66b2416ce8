/* delta_optimize.c — small-file compaction (`OPTIMIZE`): plan bins of small files per
 * partition, stream their rows with the Parquet reader into one new file per bin (same
 * schema, exact stats), and commit one version of dataChange=false adds and removes.
 * Re-plans when a concurrent writer removed an input. */
#include "delta/delta_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/uri.h"
#include "util/timeutil.h"
#include "util/utf8.h"

#define DEFAULT_TARGET (128LL * 1024 * 1024)

/* Defaults documented in delta.h. */
void delta_optimize_options_init(delta_optimize_options *o)
{
    memset(o, 0, sizeof *o);
    o->target_size = DEFAULT_TARGET;
    o->min_files = 2;
    o->max_attempts = 5;
}

/* ------------------------------------------------------------------ streaming rewrite
 *
 * A group is rewritten one input row group at a time: each column chunk is decoded,
 * converted only where the input's physical form differs from ours (INT32 widened to
 * long, FLOAT to double, INT96 / millisecond / nanosecond timestamps to microseconds,
 * required <-> optional definition levels, a column missing from an older file as
 * nulls) and appended to one Parquet writer. Memory: one input row group plus the
 * output's open row group (compressed), not the whole group. Delta stats come from the
 * writer's per-column statistics, formatted as delta_writer.c does. */


const delta_table_options *delta_table_opts(const delta_table *t);

/* One output column (a non-partition schema field) while a group is written. */
typedef delta_stats_col out_col;

/* Converted values of one chunk; freed after pq_writer_write. */
typedef struct conv {
    int16_t *defs;
    void *vals;
} conv;

/* Whether physical type ph (leaf node) can be read as Delta type ty. */
static int compatible(delta_type ty, pq_physical ph)
{
    switch (ty) {
    case DELTA_TYPE_BOOLEAN: return ph == PQ_BOOLEAN;
    case DELTA_TYPE_INTEGER:
    case DELTA_TYPE_DATE: return ph == PQ_INT32;
    case DELTA_TYPE_LONG: return ph == PQ_INT64 || ph == PQ_INT32;
    case DELTA_TYPE_DOUBLE: return ph == PQ_DOUBLE || ph == PQ_FLOAT;
    case DELTA_TYPE_STRING: return ph == PQ_BYTE_ARRAY;
    case DELTA_TYPE_TIMESTAMP: return ph == PQ_INT64 || ph == PQ_INT96;
    default: return 0;
    }
}

/* Microseconds from a timestamp leaf value (k-th value of chunk c). */
static int64_t ts_micros(const pq_schema_node *node, const pq_column_data *c, size_t k)
{
    if (c->physical == PQ_INT96) return pq_int96_to_micros(c->values.bytes[k].ptr);
    int64_t x = c->values.i64[k];
    if (node->logical == PQ_LOGICAL_TIMESTAMP_MILLIS) return x * 1000;
    if (node->logical == PQ_LOGICAL_TIMESTAMP_NANOS) return x >= 0 ? x / 1000 : -((-x + 999) / 1000);
    return x;
}

/* Fills out (a chunk of n rows for output column oc) from the decoded input chunk c
 * (NULL: the column is missing from the file: all nulls). Allocations go to cv. */
static st_code convert_chunk(out_col *oc, const pq_schema_node *node, int16_t max_def, const pq_column_data *c,
                             size_t n, pq_column_batch *out, conv *cv, const char *where, st_err *e)
{
    memset(out, 0, sizeof *out);
    out->num_levels = n;
    if (!c) {
        if (!oc->nullable)
            return st_err_set(e, ST_ERR_FORMAT, "%s: non-nullable column %s is missing", where, oc->name);
        cv->defs = st_xcalloc(n + 1, sizeof(int16_t));
        out->def_levels = cv->defs;
        out->values.i64 = (const int64_t *)(cv->vals = st_xmalloc(8));
        return ST_OK;
    }
    if (c->num_levels != n)
        return st_err_set(e, ST_ERR_FORMAT, "%s: column %s has %zu values for %zu rows", where, oc->name,
                          c->num_levels, n);
    if (!compatible(oc->type, c->physical))
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column %s (%s) has an unexpected Parquet physical type %d",
                          where, oc->name, delta_type_name(oc->type), (int)c->physical);
    size_t nv = c->num_values;
    /* definition levels: ours are 0/1 (flat); an input with max_def 0 has no nulls */
    if (max_def > 0 && nv < n && !oc->nullable)
        return st_err_set(e, ST_ERR_FORMAT, "%s: non-nullable column %s holds nulls", where, oc->name);
    if (oc->nullable) {
        cv->defs = st_xmalloc((n + 1) * sizeof(int16_t));
        for (size_t r = 0; r < n; r++) cv->defs[r] = (int16_t)(max_def == 0 || c->def_levels[r] >= max_def);
        out->def_levels = cv->defs;
    }
    out->num_values = nv;
    pq_physical ph = c->physical;
    if (oc->type == DELTA_TYPE_LONG && ph == PQ_INT32) {
        int64_t *v = st_xmalloc((nv + 1) * sizeof *v);
        for (size_t k = 0; k < nv; k++) v[k] = c->values.i32[k];
        out->values.i64 = v;
        cv->vals = v;
    } else if (oc->type == DELTA_TYPE_DOUBLE && ph == PQ_FLOAT) {
        double *v = st_xmalloc((nv + 1) * sizeof *v);
        for (size_t k = 0; k < nv; k++) v[k] = c->values.f32[k];
        out->values.f64 = v;
        cv->vals = v;
    } else if (oc->type == DELTA_TYPE_TIMESTAMP &&
               (ph == PQ_INT96 || node->logical == PQ_LOGICAL_TIMESTAMP_MILLIS ||
                node->logical == PQ_LOGICAL_TIMESTAMP_NANOS)) {
        int64_t *v = st_xmalloc((nv + 1) * sizeof *v);
        for (size_t k = 0; k < nv; k++) v[k] = ts_micros(node, c, k);
        out->values.i64 = v;
        cv->vals = v;
    } else {
        out->values.i64 = c->values.i64; /* same representation: pass the decoded values through */
    }
    if (oc->type == DELTA_TYPE_DOUBLE)
        for (size_t k = 0; k < nv && !oc->nonfinite; k++)
            if (!isfinite(out->values.f64[k])) oc->nonfinite = 1;
    return ST_OK;
}

/* Appends every row of input file f to the writer. Partition columns are not stored
 * in data files (their value is the group's). Cost: decodes the file once. */
static st_code copy_file(pq_writer *w, out_col *cols, int ncols, st_store *table, const delta_file *f,
                         int64_t *rows, st_err *e)
{
    char *full = delta_file_local_path(st_store_root(table), f); /* for messages */
    st_code rc = ST_OK;
    pq_column_data *cd = st_xcalloc((size_t)ncols + 1, sizeof *cd);
    conv *cv = st_xcalloc((size_t)ncols + 1, sizeof *cv);
    pq_column_batch *out = st_xcalloc((size_t)ncols + 1, sizeof *out);
    pq_reader *r = delta_file_reader_open(table, f, e);
    if (!r) {
        rc = e ? e->code : ST_ERR_IO;
        goto done;
    }
    int nnodes = 0;
    const pq_schema_node *nodes = pq_reader_schema(r, &nnodes);
    for (int g = 0; g < pq_reader_num_row_groups(r) && !rc; g++) {
        int64_t n = pq_reader_row_group_rows(r, g);
        for (int i = 0; i < ncols && !rc; i++) {
            int leaf = pq_reader_find_leaf(r, cols[i].name);
            if (leaf < 0) {
                rc = convert_chunk(&cols[i], NULL, 0, NULL, (size_t)n, &out[i], &cv[i], full, e);
                continue;
            }
            const pq_leaf_info *li = pq_reader_leaf(r, leaf);
            if (li->max_rep > 0 || li->max_def > 1 || li->node < 0 || li->node >= nnodes) {
                rc = st_err_set(e, ST_ERR_UNSUPPORTED, "%s: column %s is nested or repeated", full, cols[i].name);
                break;
            }
            if ((rc = pq_reader_read_column(r, g, leaf, &cd[i], e))) break;
            rc = convert_chunk(&cols[i], &nodes[li->node], li->max_def, &cd[i], (size_t)n, &out[i], &cv[i], full, e);
        }
        if (!rc && n > 0) rc = pq_writer_write(w, (size_t)n, out, e);
        if (!rc) *rows += n;
        for (int i = 0; i < ncols; i++) {
            pq_column_data_free(&cd[i]);
            free(cv[i].defs);
            free(cv[i].vals);
            memset(&cv[i], 0, sizeof cv[i]);
        }
    }
done:
    for (int i = 0; i < ncols; i++) pq_column_data_free(&cd[i]);
    free(cd);
    free(cv);
    free(out);
    pq_reader_close(r);
    free(full);
    return rc;
}

/* Rewrites the `n` files of a group as one new file in the folder of the first (its
 * partition folder) and appends its add action (partition values copied from the
 * first input) to adds. On failure the new file is removed. */
static st_code rewrite_group(delta_table *t, const delta_file *const *files, size_t n, int64_t rg_rows,
                             delta_file_list *adds, int64_t *rows_out, st_err *e)
{
    const delta_snapshot *s = delta_table_snapshot(t);
    const delta_table_options *topt = delta_table_opts(t);
    st_code rc;
    pq_schema_node *nodes = NULL;
    int nnodes = 0;
    if ((rc = delta_schema_to_parquet(s->schema, (const char *const *)s->partition_columns, s->npartition, &nodes,
                                      &nnodes, e)))
        return rc;
    out_col *cols = st_xcalloc((size_t)nnodes + 1, sizeof *cols);
    for (int i = 0; i < nnodes; i++) {
        int fi = delta_schema_find(s->schema, nodes[i].name);
        cols[i].name = nodes[i].name;
        cols[i].type = delta_schema_field_type(s->schema, (size_t)fi);
        cols[i].nullable = delta_schema_field_nullable(s->schema, (size_t)fi);
    }
    /* the folder of the first input (decoded), then a Spark-like name */
    char *dec = st_uri_decode(files[0]->path, NULL);
    char *slash = strrchr(dec, '/');
    st_buf rel = {0};
    if (slash) st_buf_append(&rel, dec, (size_t)(slash - dec + 1));
    free(dec);
    char uuid[37];
    delta_uuid(uuid);
    st_buf_printf(&rel, "part-00000-%s.c000%s.parquet", uuid, delta_codec_ext(topt->codec));
    pq_writer_options wo;
    pq_writer_options_init(&wo);
    wo.codec = topt->codec;
    if (topt->row_group_rows > 0) wo.row_group_rows = topt->row_group_rows;
    if (rg_rows > 0 && rg_rows < wo.row_group_rows) wo.row_group_rows = rg_rows;
    pq_file_info info;
    memset(&info, 0, sizeof info);
    int64_t rows = 0;
    st_sink *sink;
    pq_writer *w = st_store_open_sink(delta_table_store(t), st_buf_cstr(&rel), ST_SINK_REPLACE, &sink, e)
                       ? NULL
                       : pq_writer_open(sink, nodes, nnodes, &wo, e);
    if (!w) {
        rc = e ? e->code : ST_ERR_IO;
        goto done;
    }
    for (size_t k = 0; k < n && !rc; k++) rc = copy_file(w, cols, nnodes, delta_table_store(t), files[k], &rows, e);
    if (rc) {
        pq_writer_abort(w); /* leaves nothing */
        goto done;
    }
    if ((rc = pq_writer_close(w, &info, e))) goto done;
    delta_file f;
    memset(&f, 0, sizeof f);
    st_buf enc = {0};
    delta_uri_encode_path(&enc, st_buf_cstr(&rel));
    f.path = (char *)st_buf_detach(&enc, &(size_t){0});
    f.size = info.file_size;
    f.modification_time = info.mtime_ms > 0 ? info.mtime_ms : delta_now_ms();
    f.data_change = 0;
    f.stats = delta_stats_json(cols, nnodes, &info);
    f.num_records = info.num_rows;
    f.num_partition_values = files[0]->num_partition_values;
    f.partition_values = st_xcalloc(f.num_partition_values ? f.num_partition_values : 1, sizeof *f.partition_values);
    for (size_t i = 0; i < f.num_partition_values; i++) {
        /* the original text: the rewrite cannot change how a value is spelled */
        f.partition_values[i].name = st_xstrdup(files[0]->partition_values[i].name);
        f.partition_values[i].value =
            files[0]->partition_values[i].value ? st_xstrdup(files[0]->partition_values[i].value) : NULL;
    }
    delta_file_list_append_copy(adds, &f);
    delta_file_free(&f);
    *rows_out += rows;
done:
    pq_file_info_free(&info);
    st_buf_free(&rel);
    free(cols);
    free(nodes);
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
        const char *w = o->where[i].value && *o->where[i].value ? o->where[i].value : NULL;
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

/* Appends a bin of the n files (copied pointers) to the plan. */
static void add_bin(plan *p, const delta_file *const *files, size_t n, int64_t bytes)
{
    if (p->nbins == p->bin_cap) {
        p->bin_cap = p->bin_cap ? p->bin_cap * 2 : 8;
        p->bins = st_xrealloc(p->bins, p->bin_cap * sizeof *p->bins);
    }
    bin *b = &p->bins[p->nbins++];
    b->n = n;
    b->files = st_xmalloc(n * sizeof *b->files);
    memcpy(b->files, files, n * sizeof *b->files);
    qsort(b->files, n, sizeof *b->files, by_time); /* rows keep the commit order within the bin */
    b->bytes = bytes;
}

/* Packs the partition's small files whole: in commit order, a bin closes when the next file
 * would pass the target; bins of one file are dropped (nothing to merge). */
static void plan_whole(plan *p, partition_group *g, int64_t target)
{
    qsort(g->files, g->n, sizeof *g->files, by_time);
    size_t start = 0;
    while (start < g->n) {
        size_t end = start;
        int64_t bytes = 0;
        while (end < g->n && (end == start || bytes + g->files[end]->size <= target)) bytes += g->files[end++]->size;
        if (end - start >= 2) add_bin(p, g->files + start, end - start, bytes);
        start = end;
    }
}

/* Smallest first, then commit order. */
static int by_size(const void *a, const void *b)
{
    const delta_file *x = *(const delta_file *const *)a, *y = *(const delta_file *const *)b;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return by_time(a, b);
}

/* One bin of the smallest files: each joins while it is at most twice as big as the files
 * taken so far together (and the bin stays within the target). The biggest input is then at
 * most 2/3 of the output, so a row's file grows by half at least each time it is rewritten:
 * a row is rewritten at most log1.5(target / its first file's size) times. What is left are
 * files each more than twice all smaller ones together: at most log3(target / smallest) of
 * them, fewer than a min_files of 32, so the count trigger does not fire on them again. */
static void plan_tiered(plan *p, partition_group *g, int64_t target)
{
    qsort(g->files, g->n, sizeof *g->files, by_size);
    size_t start = 0, n = 0;
    int64_t bytes = 0;
    while (start + n < g->n) {
        int64_t next = g->files[start + n]->size;
        if (n == 0 || (next <= 2 * bytes && bytes + next <= target)) {
            bytes += next;
            n++;
            continue;
        }
        if (n >= 2) break;
        /* a file alone, more than half the size of the next: it is one of the files left, and the
         * bin starts again from the next (stopping here would leave every bigger small file
         * unmerged behind one tiny file, and the count trigger firing on them for ever) */
        start++;
        n = 0;
        bytes = 0;
    }
    if (n >= 2) add_bin(p, g->files + start, n, bytes);
}

/* The age trigger: the partition's oldest small file was written compact_after_ms ago (newest:
 * every small file was, the partition has gone quiet). */
static int aged(const partition_group *g, const delta_optimize_options *o, int64_t now, int newest)
{
    if (o->compact_after_ms <= 0) return 0;
    int64_t t = newest ? INT64_MIN : INT64_MAX;
    for (size_t i = 0; i < g->n; i++) {
        int64_t m = g->files[i]->modification_time;
        if (newest ? m > t : m < t) t = m;
    }
    return now - t >= o->compact_after_ms;
}

/* Whether the bin holds a file written at least compact_after_ms ago. */
static int bin_aged(const bin *b, const delta_optimize_options *o, int64_t now)
{
    for (size_t i = 0; i < b->n; i++)
        if (now - b->files[i]->modification_time >= o->compact_after_ms) return 1;
    return 0;
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
        /* tiered: a file of half the target or more is done. Two of them never fit one output, so
         * counting them as small would let them pile up past min_files as the table grows (one per
         * 64-128 MiB of data), and the count trigger would then fire on every pass, merging
         * only the newest few files each time. */
        if (f->size >= (o->tiered ? o->target_size / 2 : o->target_size)) continue;
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 16;
            g->files = st_xrealloc(g->files, g->cap * sizeof *g->files);
        }
        g->files[g->n++] = f;
    }
    st_buf_free(&key);
    int64_t now = o->now_ms > 0 ? o->now_ms : delta_now_ms();
    size_t min_files = (size_t)(o->min_files > 1 ? o->min_files : 2);
    for (size_t gi = 0; gi < p->nparts; gi++) {
        partition_group *g = &p->parts[gi];
        if (g->n < 2) continue;
        size_t before = p->nbins;
        int triggered = g->n >= min_files || aged(g, o, now, 0);
        if (!o->tiered) {
            if (triggered) plan_whole(p, g, o->target_size);
        } else if (aged(g, o, now, 1)) {
            plan_whole(p, g, o->target_size); /* quiet: nothing more will join, pack it all */
        } else if (g->n >= min_files) {
            plan_tiered(p, g, o->target_size);
        } else if (triggered) {
            /* the age trigger is for small files left lying: a file the tiered rule keeps out of
             * every bin (more than twice all smaller ones) grows old by design, and must not make
             * every pass merge the newest few files of a busy partition (measured in the soak: a
             * third of the commits were OPTIMIZEs of 2-3 fresh files). So the bin itself must
             * hold a file that old. */
            plan_tiered(p, g, o->target_size);
            if (p->nbins > before && !bin_aged(&p->bins[p->nbins - 1], o, now)) {
                free(p->bins[p->nbins - 1].files);
                p->nbins--;
            }
        }
        p->partitions += p->nbins > before;
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

/* Rows per output row group for about row_group_bytes, from the bin's rows per byte (0: the
 * table's setting, also when the inputs carry no row counts). */
static int64_t bin_row_group_rows(const bin *b, int64_t row_group_bytes)
{
    if (row_group_bytes <= 0) return 0;
    int64_t rows = 0, bytes = 0;
    for (size_t k = 0; k < b->n; k++) {
        if (b->files[k]->num_records < 0) return 0;
        rows += b->files[k]->num_records;
        bytes += b->files[k]->size;
    }
    if (rows <= 0 || bytes <= 0) return 0;
    double r = (double)row_group_bytes * (double)rows / (double)bytes;
    return r < 1024 ? 1024 : r > 1e12 ? 0 : (int64_t)r;
}

/* Rewrites every bin of the plan into adds (one file per bin). */
static st_code write_bins(delta_table *t, const plan *p, int64_t row_group_bytes, delta_file_list *adds,
                          int64_t *rows, st_err *e)
{
    st_code rc = ST_OK;
    for (size_t bi = 0; bi < p->nbins && !rc; bi++)
        rc = rewrite_group(t, p->bins[bi].files, p->bins[bi].n, bin_row_group_rows(&p->bins[bi], row_group_bytes),
                           adds, rows, e);
    return rc;
}

/* See delta.h: a handle of its own for one run. */
st_code delta_table_optimize(const char *path, const delta_optimize_options *opts, delta_optimize_result *res,
                             st_err *e)
{
    if (opts && opts->target_size <= 0)
        return st_err_set(e, ST_ERR_ARG, "optimize %s: target size must be positive", path);
    /* NULL options: the table's own delta.checkpointInterval applies */
    delta_table *t = delta_table_open(path, NULL, e);
    if (!t) {
        if (res) {
            memset(res, 0, sizeof *res);
            res->version = -1;
        }
        return e ? e->code : ST_ERR_NOTFOUND;
    }
    st_code rc = delta_table_compact(t, opts, res, e);
    delta_table_destroy(t);
    return rc;
}

/* See delta.h. One attempt = plan from the handle's snapshot, write, commit through
 * delta_table_commit_files (the one policy for new files: deleted when the commit is known
 * not to have landed, kept when it may have); a conflict (an input removed, metadata
 * changed) refreshes and re-plans. */
st_code delta_table_compact(delta_table *t, const delta_optimize_options *opts, delta_optimize_result *res,
                            st_err *e)
{
    const char *path = delta_table_path(t);
    delta_optimize_options o;
    if (opts) o = *opts;
    else delta_optimize_options_init(&o);
    delta_optimize_result r;
    memset(&r, 0, sizeof r);
    r.version = -1;
    if (res) *res = r;
    if (o.target_size <= 0) return st_err_set(e, ST_ERR_ARG, "optimize %s: target size must be positive", path);
    if (o.max_attempts < 1) o.max_attempts = 1;

    st_code rc = delta_table_refresh(t, e);
    if (rc) return rc;
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
        if (o.on_plan) {
            int64_t nf = 0;
            for (size_t bi = 0; bi < p.nbins; bi++) nf += (int64_t)p.bins[bi].n;
            o.on_plan(o.on_plan_arg, nf, (int64_t)p.nbins);
        }
        if ((rc = write_bins(t, &p, o.row_group_bytes, &adds, &rows, e))) {
            delta_files_delete(delta_table_store(t), adds.items, adds.count); /* never committed */
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
#ifdef SMARTTECH_TEST_HOOKS
        if (o.before_commit) o.before_commit(o.before_commit_arg);
#endif
        delta_commit_params cp = {adds.items, adds.count, NULL, 0, "OPTIMIZE", params, metrics};
        delta_commit_result cr;
        rc = delta_table_commit_files(t, &cp, removes.items, removes.count, DELTA_COMMIT_REARRANGE, &cr, e);
        if (rc == ST_OK) {
            r.version = cr.version;
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
        delta_file_list_free(&adds); /* deleted or kept by the commit policy */
        if (rc != ST_ERR_CONFLICT) goto done;
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
    if (res) *res = r;
    return rc;
}
