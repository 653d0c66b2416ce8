/* delta_source.c — tail a Delta table's added files as records (see delta_source.h).
 *
 * A cursor: the version being read (its changes), the added file open in it, the row group
 * decoded from it and the next row. Each poll resumes there; data of a row group is freed only
 * at the start of a poll that moves past it, so the records of a poll stay valid until the next. */
#include "source/delta_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "parquet/parquet.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

typedef struct delta_source {
    record_source base;
    char *path;
    st_store *store;           /* the table's, opened at first use */
    char **columns;
    size_t ncolumns;
    char *table_id;
    int64_t known_latest;      /* -1 until the first listing */
    delta_source_stats stats;
    /* cursor */
    int64_t next_version;      /* the version being read, or to read next */
    delta_version_changes *ver; /* its changes once loaded (one entry) */
    size_t file_i;             /* next entry of ver->added to look at */
    const delta_file *file;    /* the data file open in r */
    char *local;
    pq_reader *r;
    int *leaf;                 /* leaf index of each requested column in r */
    pq_column_data *cols;      /* the decoded row group */
    size_t *vi;                /* next value index of each column (nulls take none) */
    int group;
    int group_loaded;          /* 1 decoded, 0 not, -1 used up but still pointed to */
    int64_t nrows, k, row_base;
    int end_sent;
    record_value *vals;        /* the fields of one poll's records */
    size_t vals_cap;
} delta_source;

static const record_source_ops delta_ops;

static delta_source *of(record_source *s) { return (delta_source *)s; }

static void free_group(delta_source *d)
{
    for (size_t i = 0; d->cols && i < d->ncolumns; i++) pq_column_data_free(&d->cols[i]);
    d->group_loaded = 0;
}

/* The table's store, opened once (only a malformed or unsupported URI fails). */
static st_code table_store(delta_source *d, st_err *e)
{
    return d->store ? ST_OK : st_store_open(d->path, &d->store, e);
}

static void close_file(delta_source *d)
{
    free_group(d);
    pq_reader_close(d->r);
    d->r = NULL;
    free(d->local);
    d->local = NULL;
    d->file = NULL;
}

/* Drops the cursor's version (after its DONE marker, or on a seek). */
static void drop_version(delta_source *d)
{
    close_file(d);
    delta_changes_free(d->ver, d->ver ? 1 : 0);
    d->ver = NULL;
    d->file_i = 0;
}

/* First call: lists _delta_log from its last checkpoint. Then only probes the next commit
 * keys (st_store_stat), so an idle poll costs O(1) however long the log has grown (commit
 * files are created atomically and versions are contiguous). */
static st_code latest_version(delta_source *d, int64_t *version, st_err *e)
{
    st_code rc = table_store(d, e);
    if (rc) return rc;
    if (d->known_latest < 0) {
        if ((rc = delta_latest_version(d->store, &d->known_latest, e))) return rc;
    } else {
        for (;;) {
            char key[64];
            st_stat st;
            snprintf(key, sizeof key, "_delta_log/%020lld.json", (long long)(d->known_latest + 1));
            st_err se;
            st_code sr = st_store_stat(d->store, key, &st, &se);
            if (sr == ST_ERR_NOTFOUND) break;
            if (sr) { /* storage unreachable: not "nothing new" (the caller reports and waits) */
                if (e) *e = se;
                return sr;
            }
            d->known_latest++;
        }
    }
    *version = d->known_latest;
    return ST_OK;
}

/* Loads the changes of the cursor's version; a remove with dataChange=true is refused. */
static st_code load_version(delta_source *d, st_err *e)
{
    size_t n = 0;
    st_code rc = table_store(d, e);
    if (rc) return rc;
    rc = delta_changes_read(d->store, d->next_version, d->next_version, &d->ver, &n, e);
    if (rc) return rc;
    if (n != 1) {
        delta_changes_free(d->ver, n);
        d->ver = NULL;
        return st_err_set(e, ST_ERR_NOTFOUND, "%s: version %lld is not in the log", d->path,
                          (long long)d->next_version);
    }
    const delta_version_changes *c = d->ver;
    for (size_t k = 0; k < c->removed.count; k++) {
        if (c->removed.items[k].data_change) {
            rc = st_err_set(e, ST_ERR_UNSUPPORTED,
                            "%s: version %lld removes data file %s (dataChange=true, operation %s): a streaming "
                            "read supports appends only; restart from a later version with a new checkpoint",
                            d->path, (long long)c->version, c->removed.items[k].path,
                            c->operation ? c->operation : "?");
            drop_version(d);
            return rc;
        }
        d->stats.ignored_files++;
    }
    d->file_i = 0;
    return ST_OK;
}

/* Opens the next added data file of the version (skipping dataChange=false ones): 1 when one is
 * open, 0 when the version has none left. */
static st_code open_next_file(delta_source *d, int *opened, st_err *e)
{
    *opened = 0;
    const delta_version_changes *c = d->ver;
    while (d->file_i < c->added.count && !c->added.items[d->file_i].data_change) {
        d->stats.ignored_files++;
        d->file_i++;
    }
    if (d->file_i == c->added.count) return ST_OK;
    d->file = &c->added.items[d->file_i++];
    d->local = delta_file_local_path(d->path, d->file); /* for messages */
    d->r = delta_file_reader_open(d->store, d->file, e);
    if (!d->r) {
        if (e) st_err_wrap(e, "version %lld", (long long)c->version);
        return e ? e->code : ST_ERR_IO;
    }
    for (size_t i = 0; i < d->ncolumns; i++) {
        d->leaf[i] = pq_reader_find_leaf(d->r, d->columns[i]);
        const pq_leaf_info *li = d->leaf[i] >= 0 ? pq_reader_leaf(d->r, d->leaf[i]) : NULL;
        if (!li || li->max_rep > 0)
            return st_err_set(e, ST_ERR_FORMAT, "%s (version %lld): no flat column '%s'", d->local,
                              (long long)c->version, d->columns[i]);
    }
    d->group = 0;
    d->row_base = 0;
    d->nrows = d->k = 0;
    *opened = 1;
    return ST_OK;
}

/* Decodes row group d->group of the open file. */
static st_code load_group(delta_source *d, st_err *e)
{
    d->nrows = pq_reader_row_group_rows(d->r, d->group);
    d->k = 0;
    for (size_t i = 0; i < d->ncolumns; i++) {
        st_code rc = pq_reader_read_column(d->r, d->group, d->leaf[i], &d->cols[i], e);
        if (rc) return rc;
        if ((int64_t)d->cols[i].num_levels != d->nrows)
            return st_err_set(e, ST_ERR_FORMAT, "%s: column '%s' has %zu values in row group %d of %lld rows",
                              d->local, d->columns[i], d->cols[i].num_levels, d->group, (long long)d->nrows);
        d->vi[i] = 0;
    }
    d->group_loaded = 1;
    return ST_OK;
}

/* Fills v from column c at value index vi (the caller handles nulls). */
static void take_value(const pq_column_data *c, size_t vi, record_value *v)
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

/* Row d->k of the decoded group as a record whose fields are vals[0..ncolumns-1]. */
static void take_row(delta_source *d, record_value *vals, record *out)
{
    for (size_t i = 0; i < d->ncolumns; i++) {
        memset(&vals[i], 0, sizeof vals[i]);
        if (d->cols[i].def_levels && d->cols[i].def_levels[d->k] == 0)
            vals[i].is_null = 1;
        else
            take_value(&d->cols[i], d->vi[i]++, &vals[i]);
    }
    const delta_version_changes *c = d->ver;
    *out = (record){.kind = RECORD_DATA, .stream = 0, .position = c->version,
                    .timestamp_us = c->timestamp_ms >= 0 ? c->timestamp_ms * 1000 : -1, .fields = vals,
                    .nfields = d->ncolumns, .origin = d->file->path, .origin_row = d->row_base + d->k};
    d->k++;
    d->stats.rows++;
}

static st_code ds_poll(record_source *s, record *out, size_t max, int timeout_ms, size_t *n, st_err *e)
{
    delta_source *d = of(s);
    *n = 0;
    if (!max) return ST_OK;
    if (d->vals_cap < max * d->ncolumns) {
        d->vals_cap = max * d->ncolumns;
        d->vals = st_xrealloc(d->vals, (d->vals_cap ? d->vals_cap : 1) * sizeof *d->vals);
    }
    if (d->group_loaded == -1) free_group(d); /* spent by the previous poll */
    st_code rc = ST_OK;
    int waited = 0;
    while (*n < max) {
        if (!d->ver) {
            int64_t latest = -1;
            if ((rc = latest_version(d, &latest, e))) break;
            if (d->next_version > latest) {
                if (!d->end_sent) {
                    d->end_sent = 1;
                    out[(*n)++] = (record){.kind = RECORD_END, .position = latest + 1, .timestamp_us = -1};
                    break;
                }
                if (waited || timeout_ms <= 0) break;
                st_sleep_us((int64_t)timeout_ms * 1000);
                waited = 1;
                continue;
            }
            if ((rc = load_version(d, e))) break;
        }
        if (!d->r) {
            int opened = 0;
            if ((rc = open_next_file(d, &opened, e))) break;
            if (!opened) {
                out[(*n)++] = (record){.kind = RECORD_DONE, .position = d->ver->version, .timestamp_us = -1};
                d->stats.versions++;
                drop_version(d);
                d->next_version++;
                d->end_sent = 0;
                break; /* a batch never goes past a DONE marker */
            }
        }
        if (!d->group_loaded) {
            if (d->group == pq_reader_num_row_groups(d->r)) {
                d->stats.files++;
                d->stats.bytes += d->file->size;
                close_file(d);
                continue;
            }
            if ((rc = load_group(d, e))) break;
        }
        while (d->k < d->nrows && *n < max) {
            take_row(d, d->vals + *n * d->ncolumns, &out[*n]);
            (*n)++;
        }
        if (d->k < d->nrows) break;
        /* the group is used up: its values stay for this poll's records, the next poll moves on */
        d->row_base += d->nrows;
        d->nrows = d->k = 0;
        d->group++;
        if (*n) {
            d->group_loaded = -1; /* spent, but this poll's records point into it */
            break;
        }
        free_group(d);
    }
    if (rc) {
        *n = 0;
        drop_version(d); /* a retry starts the version again */
    }
    return rc;
}

static void ds_release(record_source *s)
{
    delta_source *d = of(s);
    if (d->group_loaded == -1) free_group(d);
}

static st_code ds_seek(record_source *s, const record_position *to, size_t n, st_err *e)
{
    delta_source *d = of(s);
    for (size_t i = 0; i < n; i++) {
        if (to[i].stream != 0 || to[i].position < 0)
            return st_err_set(e, ST_ERR_ARG, "%s: a Delta source has one stream (0) of versions >= 0", d->path);
        drop_version(d);
        d->next_version = to[i].position;
        d->end_sent = 0;
    }
    return ST_OK;
}

static st_code ds_bounds(record_source *s, int32_t stream, int timeout_ms, int64_t *lo, int64_t *hi, st_err *e)
{
    (void)timeout_ms;
    delta_source *d = of(s);
    if (stream != 0) return st_err_set(e, ST_ERR_NOTFOUND, "%s: a Delta source has one stream (0)", d->path);
    int64_t latest = -1;
    st_code rc = latest_version(d, &latest, e);
    if (rc) return rc;
    *lo = 0;
    *hi = latest + 1;
    return ST_OK;
}

static st_code ds_streams(record_source *s, int timeout_ms, int32_t **out, size_t *n, st_err *e)
{
    (void)s;
    (void)timeout_ms;
    (void)e;
    *out = st_xcalloc(1, sizeof **out);
    *n = 1;
    return ST_OK;
}

static st_code ds_id(record_source *s, const char **id, st_err *e)
{
    delta_source *d = of(s);
    if (!d->table_id) {
        if (table_store(d, e)) return e ? e->code : ST_ERR_ARG;
        delta_snapshot *snap = delta_snapshot_load_store(d->store, NULL, e);
        if (!snap) return e ? e->code : ST_ERR_NOTFOUND;
        const char *tid = delta_snapshot_table_id(snap);
        d->table_id = st_xstrdup(tid ? tid : "");
        delta_snapshot_destroy(snap);
    }
    *id = d->table_id;
    return ST_OK;
}

static void ds_destroy(record_source *s)
{
    delta_source *d = of(s);
    drop_version(d);
    for (size_t i = 0; i < d->ncolumns; i++) free(d->columns[i]);
    free(d->columns);
    free(d->leaf);
    free(d->cols);
    free(d->vi);
    free(d->vals);
    st_store_close(d->store);
    free(d->path);
    free(d->table_id);
    free(d);
}

static const record_source_ops delta_ops = {
    .poll = ds_poll,
    .release = ds_release,
    .seek = ds_seek,
    .bounds = ds_bounds,
    .streams = ds_streams,
    .id = ds_id,
    .destroy = ds_destroy,
};

record_source *delta_source_new(const char *table_path, const char *const *columns, size_t ncolumns)
{
    delta_source *d = st_xcalloc(1, sizeof *d);
    d->path = st_xstrdup(table_path);
    d->known_latest = -1;
    d->ncolumns = ncolumns;
    size_t nc = ncolumns ? ncolumns : 1;
    d->columns = st_xcalloc(nc, sizeof *d->columns);
    for (size_t i = 0; i < ncolumns; i++) d->columns[i] = st_xstrdup(columns[i]);
    d->leaf = st_xcalloc(nc, sizeof *d->leaf);
    d->cols = st_xcalloc(nc, sizeof *d->cols);
    d->vi = st_xcalloc(nc, sizeof *d->vi);
    d->base.ops = &delta_ops;
    d->base.kind = "delta";
    d->base.name = d->path;
    return &d->base;
}

const delta_source_stats *delta_source_get_stats(const record_source *s)
{
    return s && s->ops == &delta_ops ? &((const delta_source *)s)->stats : NULL;
}
