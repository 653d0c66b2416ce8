/* delta_writer.c — turns a batch into Parquet data files: rows grouped by partition
 * values (Hive-style folders), one file per group (split at max_rows_per_file), named
 * like Spark's part-NNNNN-<uuid>.c000.<codec>.parquet, with Delta stats computed from
 * the values themselves (numRecords, minValues, maxValues, nullCount). */
#include "delta/delta_batch_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"
#include "util/utf8.h"

const delta_table_options *delta_table_opts(const delta_table *t);


/* ------------------------------------------------------------------ partition values */

/* 1 when rows r and q hold the same value (or both null) in column c. */
static int same_value(const delta_bcol *c, size_t r, size_t q)
{
    if (c->valid.data[r] != c->valid.data[q]) return 0;
    if (!c->valid.data[r]) return 1;
    if (c->type == DELTA_TYPE_STRING) {
        const delta_str_ref *a = &((const delta_str_ref *)c->vals.data)[r], *b = &((const delta_str_ref *)c->vals.data)[q];
        return a->len == b->len && memcmp(delta_bcol_str(c, a), delta_bcol_str(c, b), a->len) == 0;
    }
    size_t w = c->type == DELTA_TYPE_BOOLEAN ? 1 : (c->type == DELTA_TYPE_INTEGER || c->type == DELTA_TYPE_DATE) ? 4 : 8;
    return memcmp(c->vals.data + r * w, c->vals.data + q * w, w) == 0;
}

/* Partition value text of row r in column c (protocol "Partition Value Serialization");
 * returns NULL for null. Uses buf for the text. */
static const char *partition_text(const delta_bcol *c, size_t r, char *buf, size_t n)
{
    if (!c->valid.data[r]) return NULL;
    switch (c->type) {
    case DELTA_TYPE_BOOLEAN: return c->vals.data[r] ? "true" : "false";
    case DELTA_TYPE_INTEGER: snprintf(buf, n, "%d", ((const int32_t *)c->vals.data)[r]); return buf;
    case DELTA_TYPE_LONG: snprintf(buf, n, "%lld", (long long)((const int64_t *)c->vals.data)[r]); return buf;
    case DELTA_TYPE_DATE: st_format_date(((const int32_t *)c->vals.data)[r], buf, n); return buf;
    case DELTA_TYPE_TIMESTAMP: {
        int64_t us = ((const int64_t *)c->vals.data)[r];
        st_format_iso_us(us, buf, n, 0); /* ISO-8601 UTC with microseconds, as the protocol recommends */
        return buf;
    }
    case DELTA_TYPE_STRING: {
        const delta_str_ref *s = &((const delta_str_ref *)c->vals.data)[r];
        size_t l = s->len < n - 1 ? s->len : n - 1;
        memcpy(buf, delta_bcol_str(c, s), l);
        buf[l] = '\0';
        return buf;
    }
    default: return NULL;
    }
}

/* ------------------------------------------------------------------ one file */

typedef struct group {
    st_buf rows;            /* uint32 row indices */
    char **pvals;           /* npart partition value texts (NULL = null) */
    char *key;
} group;

/* Writes rows idx[0..m) to one file and appends its add action. */
static st_code write_one(delta_table *t, const delta_batch *b, const int *is_part, const group *g,
                         const uint32_t *idx, size_t m, int file_no, const pq_schema_node *nodes, int nnodes,
                         delta_file_list *adds, st_err *e)
{
    const delta_snapshot *s = delta_table_snapshot(t);
    const delta_table_options *opt = delta_table_opts(t);
    st_buf rel = {0};
    for (size_t p = 0; p < s->npartition; p++) {
        st_buf_append_str(&rel, s->partition_columns[p]);
        st_buf_append_u8(&rel, '=');
        if (g->pvals[p] && *g->pvals[p])
            delta_escape_partition(&rel, g->pvals[p]);
        else
            st_buf_append_str(&rel, "__HIVE_DEFAULT_PARTITION__");
        st_buf_append_u8(&rel, '/');
    }
    char uuid[37];
    delta_uuid(uuid);
    st_buf_printf(&rel, "part-%05d-%s.c000%s.parquet", file_no, uuid, delta_codec_ext(opt->codec));
    /* the store creates the partition folder with the first file written into it */
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.codec = opt->codec;
    if (opt->row_group_rows > 0) o.row_group_rows = opt->row_group_rows;
    st_code rc = ST_OK;
    pq_file_info info = {0};
    pq_column_batch *cols = st_xcalloc((size_t)nnodes + 1, sizeof *cols);
    int16_t **defs = st_xcalloc((size_t)nnodes + 1, sizeof *defs);
    void **vals = st_xcalloc((size_t)nnodes + 1, sizeof *vals);
    /* stats come from the writer's column statistics: it compares the values once already */
    delta_stats_col *scols = st_xcalloc((size_t)nnodes + 1, sizeof *scols);

    st_sink *sink;
    pq_writer *w = st_store_open_sink(delta_table_store(t), st_buf_cstr(&rel), ST_SINK_REPLACE, &sink, e)
                       ? NULL
                       : pq_writer_open(sink, nodes, nnodes, &o, e);
    if (!w) {
        rc = e ? e->code : ST_ERR_IO;
        goto done;
    }
    int leaf = 0;
    for (size_t ci = 0; ci < b->ncols; ci++) {
        if (is_part[ci]) continue;
        const delta_bcol *c = &b->cols[ci];
        pq_column_batch *pc = &cols[leaf];
        size_t w8 = c->type == DELTA_TYPE_STRING                                      ? sizeof(pq_bytes)
                    : c->type == DELTA_TYPE_BOOLEAN                                   ? 1
                    : (c->type == DELTA_TYPE_INTEGER || c->type == DELTA_TYPE_DATE) ? 4
                                                                                      : 8;
        size_t src_w = c->type == DELTA_TYPE_STRING ? sizeof(delta_str_ref) : w8;
        uint8_t *dst = st_xmalloc(m * w8 + 1);
        vals[leaf] = dst;
        if (c->nullable) {
            defs[leaf] = st_xmalloc(m * sizeof(int16_t) + 1);
            pc->def_levels = defs[leaf];
        }
        size_t nv = 0;
        for (size_t k = 0; k < m; k++) {
            uint32_t r = idx[k];
            int ok = c->valid.data[r];
            if (c->nullable) defs[leaf][k] = (int16_t)ok;
            if (!ok) continue;
            if (c->type == DELTA_TYPE_STRING) {
                const delta_str_ref *sr = &((const delta_str_ref *)c->vals.data)[r];
                pq_bytes pb = {delta_bcol_str(c, sr), sr->len};
                memcpy(dst + nv * w8, &pb, sizeof pb);
            } else {
                memcpy(dst + nv * w8, c->vals.data + (size_t)r * src_w, w8);
            }
            nv++;
        }
        pc->num_levels = m;
        pc->num_values = nv;
        pc->values.i64 = (const int64_t *)dst;
        delta_stats_col *sc = &scols[leaf];
        sc->name = delta_schema_field_name(b->schema, ci);
        sc->type = c->type;
        sc->nullable = c->nullable;
        if (c->type == DELTA_TYPE_DOUBLE)
            for (size_t k = 0; k < nv && !sc->nonfinite; k++)
                if (!isfinite(pc->values.f64[k])) sc->nonfinite = 1;
        leaf++;
    }
    if ((rc = pq_writer_write(w, m, cols, e))) {
        pq_writer_abort(w);
        goto done;
    }
    if ((rc = pq_writer_close(w, &info, e))) goto done;

    char *stxt = delta_stats_json(scols, leaf, &info);
    delta_file f;
    memset(&f, 0, sizeof f);
    st_buf enc = {0};
    delta_uri_encode_path(&enc, st_buf_cstr(&rel));
    f.path = (char *)st_buf_detach(&enc, &(size_t){0});
    f.size = info.file_size;
    f.modification_time = info.mtime_ms > 0 ? info.mtime_ms : delta_now_ms();
    f.data_change = 1;
    f.stats = st_xstrdup(stxt);
    free(stxt);
    f.num_records = (int64_t)m;
    f.num_partition_values = s->npartition;
    f.partition_values = st_xcalloc(s->npartition ? s->npartition : 1, sizeof(delta_partition_value));
    for (size_t p = 0; p < s->npartition; p++) {
        f.partition_values[p].name = st_xstrdup(s->partition_columns[p]);
        f.partition_values[p].value = g->pvals[p] && *g->pvals[p] ? st_xstrdup(g->pvals[p]) : NULL;
    }
    delta_file_list_append_copy(adds, &f);
    delta_file_free(&f);
done:
    free(scols);
    pq_file_info_free(&info);
    for (int i = 0; i <= nnodes; i++) {
        free(defs[i]);
        free(vals[i]);
    }
    free(defs);
    free(vals);
    free(cols);
    st_buf_free(&rel);
    return rc;
}

/* ------------------------------------------------------------------ entry point */

/* See delta.h. Groups rows by partition values (O(rows)), then writes each
 * group in files of at most max_rows_per_file rows. Files are complete (fsync'd by the
 * Parquet writer) before their add action is returned. */
st_code delta_table_write_files(delta_table *t, const delta_batch *b, delta_file_list *adds, st_err *e)
{
    const delta_snapshot *s = delta_table_snapshot(t);
    const delta_table_options *opt = delta_table_opts(t);
    st_code rc;
    if (s->min_writer > 2)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "table %s: writer version %d is not supported (we write 2)",
                          delta_table_path(t), s->min_writer);
    if ((rc = delta_batch_validate(b, e))) return rc;
    if (!delta_schema_equal(b->schema, s->schema))
        return st_err_set(e, ST_ERR_ARG, "table %s: the batch schema differs from the table schema",
                          delta_table_path(t));
    size_t n = delta_batch_num_rows(b);
    if (n == 0) return ST_OK;
    if (n > UINT32_MAX) return st_err_set(e, ST_ERR_ARG, "table %s: batch of %zu rows is too large", delta_table_path(t), n);

    int *is_part = st_xcalloc(b->ncols, sizeof *is_part);
    int *pidx = st_xcalloc(s->npartition ? s->npartition : 1, sizeof *pidx);
    for (size_t p = 0; p < s->npartition; p++) {
        pidx[p] = delta_schema_find(b->schema, s->partition_columns[p]);
        if (pidx[p] >= 0) is_part[pidx[p]] = 1;
    }
    pq_schema_node *nodes = NULL;
    int nnodes = 0;
    group *groups = NULL;
    size_t ngroups = 0, cap = 0;
    delta_map gmap = {0};
    size_t first_new = adds->count;
    if ((rc = delta_schema_to_parquet(b->schema, (const char *const *)s->partition_columns, s->npartition, &nodes,
                                      &nnodes, e)))
        goto done;

    /* group rows by partition values; O(rows * partition columns) */
    st_buf key = {0};
    char tmp[1024];
    size_t cur = 0; /* the group of the row before */
    for (size_t r = 0; r < n; r++) {
        /* rows come in runs of one partition (a batch's events share their date): a row like the
         * one before it joins its group without formatting its key (a snprintf per row) */
        int same = r > 0;
        for (size_t p = 0; same && p < s->npartition; p++) same = same_value(&b->cols[pidx[p]], r, r - 1);
        if (same) {
            uint32_t r32 = (uint32_t)r;
            st_buf_append(&groups[cur].rows, &r32, sizeof r32);
            continue;
        }
        st_buf_reset(&key);
        for (size_t p = 0; p < s->npartition; p++) {
            const char *v = partition_text(&b->cols[pidx[p]], r, tmp, sizeof tmp);
            if (v) st_buf_append_str(&key, v);
            else st_buf_append_u8(&key, 2);
            st_buf_append_u8(&key, 1);
        }
        const char *k = st_buf_cstr(&key);
        size_t gi = delta_map_get(&gmap, k);
        if (gi == (size_t)-1) {
            if (ngroups == cap) {
                cap = cap ? cap * 2 : 4;
                groups = st_xrealloc(groups, cap * sizeof *groups);
                /* keys are heap strings owned by groups: the map stays valid */
            }
            gi = ngroups++;
            group *g = &groups[gi];
            memset(g, 0, sizeof *g);
            g->key = st_xstrdup(k);
            g->pvals = st_xcalloc(s->npartition ? s->npartition : 1, sizeof(char *));
            for (size_t p = 0; p < s->npartition; p++) {
                const char *v = partition_text(&b->cols[pidx[p]], r, tmp, sizeof tmp);
                g->pvals[p] = v ? st_xstrdup(v) : NULL;
            }
            delta_map_put(&gmap, g->key, gi);
        }
        uint32_t r32 = (uint32_t)r;
        st_buf_append(&groups[gi].rows, &r32, sizeof r32);
        cur = gi;
    }
    st_buf_free(&key);

    int file_no = 0;
    size_t per_file = opt->max_rows_per_file > 0 ? (size_t)opt->max_rows_per_file : n;
    for (size_t gi = 0; gi < ngroups && !rc; gi++) {
        const uint32_t *idx = (const uint32_t *)groups[gi].rows.data;
        size_t m = groups[gi].rows.len / sizeof(uint32_t);
        for (size_t off = 0; off < m && !rc; off += per_file) {
            size_t cnt = m - off < per_file ? m - off : per_file;
            rc = write_one(t, b, is_part, &groups[gi], idx + off, cnt, file_no++, nodes, nnodes, adds, e);
        }
    }
    if (rc) {
        /* remove the files this call wrote: nothing was committed */
        delta_files_delete(delta_table_store(t), adds->items + first_new, adds->count - first_new);
        for (size_t i = first_new; i < adds->count; i++) delta_file_free(&adds->items[i]);
        adds->count = first_new;
    }
done:
    for (size_t gi = 0; gi < ngroups; gi++) {
        st_buf_free(&groups[gi].rows);
        for (size_t p = 0; p < s->npartition; p++) free(groups[gi].pvals[p]);
        free(groups[gi].pvals);
        free(groups[gi].key);
    }
    free(groups);
    delta_map_free(&gmap);
    free(nodes);
    free(is_part);
    free(pidx);
    return rc;
}
