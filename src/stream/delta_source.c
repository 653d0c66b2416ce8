/* delta_source.c — tail a Delta table's added files (see delta_source.h). */
#include "stream/delta_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "parquet/parquet.h"
#include "util/buf.h"
#include "util/fsutil.h"

struct delta_source {
    char *path;
    char **columns;
    size_t ncolumns;
    char *table_id;
    int64_t known_latest;      /* -1 until the first listing */
    delta_source_stats stats;
};

delta_source *delta_source_new(const char *table_path, const char *const *columns, size_t ncolumns)
{
    delta_source *s = st_xcalloc(1, sizeof *s);
    s->path = st_xstrdup(table_path);
    s->known_latest = -1;
    s->ncolumns = ncolumns;
    s->columns = st_xcalloc(ncolumns ? ncolumns : 1, sizeof *s->columns);
    for (size_t i = 0; i < ncolumns; i++) s->columns[i] = st_xstrdup(columns[i]);
    return s;
}

void delta_source_destroy(delta_source *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->ncolumns; i++) free(s->columns[i]);
    free(s->columns);
    free(s->path);
    free(s->table_id);
    free(s);
}

const delta_source_stats *delta_source_get_stats(const delta_source *s) { return &s->stats; }

st_code delta_source_table_id(delta_source *s, const char **id, st_err *e)
{
    if (!s->table_id) {
        delta_snapshot *snap = delta_snapshot_load(s->path, -1, e);
        if (!snap) return e ? e->code : ST_ERR_NOTFOUND;
        const char *tid = delta_snapshot_table_id(snap);
        s->table_id = st_xstrdup(tid ? tid : "");
        delta_snapshot_destroy(snap);
    }
    *id = s->table_id;
    return ST_OK;
}

/* First call: lists _delta_log. Then only probes the next commit files with stat(2), so an
 * idle poll costs O(1) however long the log has grown (commit files are created atomically
 * and versions are contiguous). */
st_code delta_source_latest_version(delta_source *s, int64_t *version, st_err *e)
{
    if (s->known_latest < 0) {
        st_code rc = delta_latest_version(s->path, &s->known_latest, e);
        if (rc) return rc;
    } else {
        char p[4200];
        for (;;) {
            snprintf(p, sizeof p, "%s/_delta_log/%020lld.json", s->path, (long long)(s->known_latest + 1));
            if (!st_path_exists(p)) break;
            s->known_latest++;
        }
    }
    *version = s->known_latest;
    return ST_OK;
}

/* Fills v from column c at value index vi (the caller handles nulls). */
static void take_value(const pq_column_data *c, size_t vi, delta_source_value *v)
{
    switch (c->physical) {
    case PQ_BOOLEAN: v->i64 = c->values.boolean[vi]; break;
    case PQ_INT32: v->i64 = c->values.i32[vi]; break;
    case PQ_INT64: v->i64 = c->values.i64[vi]; break;
    case PQ_FLOAT: v->f64 = c->values.f32[vi]; break;
    case PQ_DOUBLE: v->f64 = c->values.f64[vi]; break;
    default:
        v->str = (const char *)c->values.bytes[vi].ptr;
        v->len = c->values.bytes[vi].len;
        break;
    }
}

/* Reads one data file and calls row_fn per row. Cost: footer + requested column chunks. */
static st_code read_file(delta_source *s, int64_t version, const delta_file *f, delta_source_row_fn row_fn,
                         void *ctx, st_err *e)
{
    char *local = delta_file_local_path(s->path, f);
    st_code rc = ST_OK;
    pq_reader *r = pq_reader_open(local, e);
    size_t nc = s->ncolumns;
    int *leaf = st_xcalloc(nc ? nc : 1, sizeof *leaf);
    pq_column_data *cols = st_xcalloc(nc ? nc : 1, sizeof *cols);
    size_t *vi = st_xcalloc(nc ? nc : 1, sizeof *vi);
    delta_source_value *vals = st_xcalloc(nc ? nc : 1, sizeof *vals);
    int64_t row_base = 0;
    if (!r) {
        rc = e ? e->code : ST_ERR_IO;
        if (e) st_err_wrap(e, "version %lld", (long long)version);
        goto done;
    }
    for (size_t i = 0; i < nc; i++) {
        leaf[i] = pq_reader_find_leaf(r, s->columns[i]);
        const pq_leaf_info *li = leaf[i] >= 0 ? pq_reader_leaf(r, leaf[i]) : NULL;
        if (!li || li->max_rep > 0) {
            rc = st_err_set(e, ST_ERR_FORMAT, "%s (version %lld): no flat column '%s'", local, (long long)version,
                            s->columns[i]);
            goto done;
        }
    }
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        int64_t nrows = pq_reader_row_group_rows(r, g);
        for (size_t i = 0; i < nc; i++) {
            rc = pq_reader_read_column(r, g, leaf[i], &cols[i], e);
            if (rc) goto done;
            if ((int64_t)cols[i].num_levels != nrows) {
                rc = st_err_set(e, ST_ERR_FORMAT, "%s: column '%s' has %zu values in row group %d of %lld rows",
                                local, s->columns[i], cols[i].num_levels, g, (long long)nrows);
                goto done;
            }
            vi[i] = 0;
        }
        for (int64_t k = 0; k < nrows; k++) {
            for (size_t i = 0; i < nc; i++) {
                memset(&vals[i], 0, sizeof vals[i]);
                if (cols[i].def_levels && cols[i].def_levels[k] == 0) {
                    vals[i].is_null = 1;
                    continue;
                }
                take_value(&cols[i], vi[i]++, &vals[i]);
            }
            delta_source_pos pos = {version, f->path, row_base + k};
            if (row_fn && (rc = row_fn(ctx, &pos, vals, e))) goto done;
            s->stats.rows++;
        }
        row_base += nrows;
        for (size_t i = 0; i < nc; i++) pq_column_data_free(&cols[i]);
    }
    s->stats.files++;
    s->stats.bytes += f->size;
done:
    for (size_t i = 0; i < nc; i++) pq_column_data_free(&cols[i]);
    free(cols);
    free(vi);
    free(vals);
    free(leaf);
    pq_reader_close(r);
    free(local);
    return rc;
}

st_code delta_source_read(delta_source *s, int64_t from_version, int64_t to_version, delta_source_row_fn row_fn,
                          delta_source_version_fn version_fn, void *ctx, st_err *e)
{
    if (to_version < from_version) return ST_OK;
    delta_version_changes *ch = NULL;
    size_t n = 0;
    st_code rc = delta_changes_read(s->path, from_version, to_version, &ch, &n, e);
    if (rc) return rc;
    if ((int64_t)n != to_version - from_version + 1) {
        rc = st_err_set(e, ST_ERR_NOTFOUND, "%s: versions %lld..%lld are not all in the log", s->path,
                        (long long)from_version, (long long)to_version);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const delta_version_changes *c = &ch[i];
        for (size_t k = 0; k < c->removed.count; k++) {
            if (c->removed.items[k].data_change) {
                rc = st_err_set(e, ST_ERR_UNSUPPORTED,
                                "%s: version %lld removes data file %s (dataChange=true, operation %s): a streaming "
                                "read supports appends only; restart from a later version with a new checkpoint",
                                s->path, (long long)c->version, c->removed.items[k].path,
                                c->operation ? c->operation : "?");
                goto done;
            }
            s->stats.ignored_files++;
        }
        for (size_t k = 0; k < c->added.count; k++) {
            const delta_file *f = &c->added.items[k];
            if (!f->data_change) {
                s->stats.ignored_files++;
                continue;
            }
            if ((rc = read_file(s, c->version, f, row_fn, ctx, e))) goto done;
        }
        s->stats.versions++;
        if (version_fn && (rc = version_fn(ctx, c->version, e))) goto done;
    }
done:
    delta_changes_free(ch, n);
    return rc;
}
