/* writer.c — pq_writer: file, row groups and footer (public API in parquet.h).
 *
 * Rows are encoded as they arrive; a row group's column chunks stay in memory until
 * the group is flushed, then go to the sink (store/store.h) one after another: the
 * sink writes them through (POSIX) or uploads them as parts (object storage). The
 * footer is written at close, which closes the sink: the file appears whole then, and
 * an abort leaves nothing. Cost: O(data) time, memory about one compressed row group.
 */
#include <stdlib.h>
#include <string.h>

#include "parquet/codec.h"
#include "parquet/colwriter.h"
#include "parquet/meta.h"
#include "parquet/parquet.h"

struct pq_writer {
    char *path;                /* the sink's name, for messages */
    st_sink *sink;             /* owned; NULL once closed or aborted */
    pq_writer_options opt;
    char *created_by;
    pq_schema schema;
    pq_codec_ctx *cc;
    pq_colwriter **cols;
    int64_t offset;            /* bytes written so far */
    int64_t rg_rows;           /* rows in the open row group */
    int64_t num_rows;
    pq_rg_meta *rgs;
    int nrgs, rgs_cap;
    pq_column_batch *sub;      /* scratch per leaf for splitting batches */
    int failed;
};

void pq_writer_options_init(pq_writer_options *o)
{
    memset(o, 0, sizeof *o);
    o->codec = PQ_CODEC_SNAPPY;
    o->zstd_level = 3;
    o->row_group_rows = 1048576;
    o->page_bytes = 1u << 20;
    o->page_rows = 20000;
    o->dictionary = 1;
    o->dictionary_max_bytes = 1u << 20;
    o->created_by = "smarttech parquet writer";
}

static st_code write_all(pq_writer *w, const void *p, size_t n, st_err *e)
{
    st_code rc = st_sink_write(w->sink, p, n, e);
    if (rc) {
        w->failed = 1;
        return rc;
    }
    w->offset += (int64_t)n;
    return ST_OK;
}

static void free_rgs(pq_writer *w)
{
    for (int g = 0; g < w->nrgs; g++) {
        for (int c = 0; c < w->schema.nleaves; c++) pq_chunk_meta_clear(&w->rgs[g].cols[c]);
        free(w->rgs[g].cols);
    }
    free(w->rgs);
    w->rgs = NULL;
    w->nrgs = 0;
}

static void writer_free(pq_writer *w)
{
    st_sink_abort(w->sink);
    if (w->cols)
        for (int i = 0; i < w->schema.nleaves; i++) pq_colwriter_destroy(w->cols[i]);
    free(w->cols);
    free_rgs(w);
    pq_codec_ctx_destroy(w->cc);
    pq_schema_free(&w->schema);
    free(w->sub);
    free(w->created_by);
    free(w->path);
    free(w);
}

pq_writer *pq_writer_open(st_sink *sink, const pq_schema_node *fields, int nfields, const pq_writer_options *opt,
                          st_err *e)
{
    if (!sink) {
        st_err_set(e, ST_ERR_ARG, "pq_writer_open: no sink");
        return NULL;
    }
    const char *path = st_sink_name(sink);
    pq_writer_options defaults;
    if (!opt) {
        pq_writer_options_init(&defaults);
        opt = &defaults;
    }
    pq_writer *w = st_xcalloc(1, sizeof *w);
    w->sink = sink;
    w->path = st_xstrdup(path);
    if (!pq_codec_can_write(opt->codec)) {
        st_err_set(e, ST_ERR_ARG, "%s: cannot write codec %s (use UNCOMPRESSED, SNAPPY or ZSTD)", path,
                   pq_codec_name(opt->codec));
        goto fail;
    }
    w->opt = *opt;
    w->created_by = st_xstrdup(opt->created_by ? opt->created_by : "smarttech parquet writer");
    w->opt.created_by = w->created_by;
    if (w->opt.row_group_rows <= 0) w->opt.row_group_rows = 1048576;
    if (pq_schema_build(&w->schema, fields, nfields, path, e)) goto fail;
    for (int i = 0; i < w->schema.nleaves; i++)
        if (w->schema.leaves[i].max_def > 255 || w->schema.leaves[i].max_rep > 255) {
            st_err_set(e, ST_ERR_ARG, "%s: column '%s' nested too deeply", path, w->schema.leaves[i].dotted);
            goto fail;
        }
    w->cc = pq_codec_ctx_new();
    w->cols = st_xcalloc((size_t)w->schema.nleaves, sizeof *w->cols);
    for (int i = 0; i < w->schema.nleaves; i++) w->cols[i] = pq_colwriter_new(&w->schema, i, &w->opt, w->cc);
    w->sub = st_xcalloc((size_t)w->schema.nleaves, sizeof *w->sub);
    if (write_all(w, "PAR1", 4, e)) goto fail;
    return w;
fail:
    writer_free(w); /* aborts the sink: nothing is left */
    return NULL;
}

int pq_writer_num_leaves(const pq_writer *w) { return w ? w->schema.nleaves : 0; }

int64_t pq_writer_num_rows(const pq_writer *w) { return w ? w->num_rows + w->rg_rows : 0; }

int64_t pq_writer_size_estimate(const pq_writer *w)
{
    if (!w) return 0;
    int64_t n = w->offset + 8;   /* + footer length and magic; the footer itself is small */
    for (int c = 0; c < w->schema.nleaves; c++) n += (int64_t)pq_colwriter_buffered_bytes(w->cols[c]);
    return n;
}

st_code pq_writer_flush_row_group(pq_writer *w, st_err *e)
{
    if (w->failed) return st_err_set(e, ST_ERR_STATE, "%s: writer failed earlier", w->path);
    if (w->rg_rows == 0) return ST_OK;
    if (w->nrgs == w->rgs_cap) {
        w->rgs_cap = w->rgs_cap ? w->rgs_cap * 2 : 8;
        w->rgs = st_xrealloc(w->rgs, (size_t)w->rgs_cap * sizeof *w->rgs);
    }
    pq_rg_meta *rg = &w->rgs[w->nrgs];
    memset(rg, 0, sizeof *rg);
    rg->cols = st_xcalloc((size_t)w->schema.nleaves, sizeof *rg->cols);
    w->nrgs++;
    rg->num_rows = w->rg_rows;
    rg->file_offset = w->offset;
    for (int c = 0; c < w->schema.nleaves; c++) {
        const st_buf *bytes;
        st_code rc = pq_colwriter_finish_chunk(w->cols[c], w->offset, &bytes, &rg->cols[c], e);
        if (!rc) rc = write_all(w, bytes->data, bytes->len, e);
        if (rc) {
            w->failed = 1;
            return st_err_wrap(e, "%s: column '%s'", w->path, w->schema.leaves[c].dotted);
        }
        rg->total_byte_size += rg->cols[c].total_uncompressed;
        rg->total_compressed += rg->cols[c].total_compressed;
    }
    w->num_rows += w->rg_rows;
    w->rg_rows = 0;
    return ST_OK;
}

/* Checks one leaf's batch: level ranges, value count, row count. O(levels). */
static st_code check_batch(const pq_writer *w, int c, size_t num_rows, const pq_column_batch *b, st_err *e)
{
    const pq_leaf_desc *l = &w->schema.leaves[c];
    const char *nm = l->dotted;
    if (l->max_def > 0 && b->num_levels && !b->def_levels)
        return st_err_set(e, ST_ERR_ARG, "%s: column '%s' needs definition levels", w->path, nm);
    if (l->max_rep > 0 && b->num_levels && !b->rep_levels)
        return st_err_set(e, ST_ERR_ARG, "%s: column '%s' needs repetition levels", w->path, nm);
    if (l->max_rep == 0 && b->num_levels != num_rows)
        return st_err_set(e, ST_ERR_ARG, "%s: column '%s' has %zu levels for %zu rows", w->path, nm,
                          b->num_levels, num_rows);
    size_t nv = b->num_levels, rows = b->num_levels;
    if (l->max_def > 0) {
        nv = 0;
        for (size_t i = 0; i < b->num_levels; i++) {
            int16_t d = b->def_levels[i];
            if (d < 0 || d > l->max_def)
                return st_err_set(e, ST_ERR_ARG, "%s: column '%s' definition level %d out of range 0..%d",
                                  w->path, nm, d, l->max_def);
            nv += d == l->max_def;
        }
    }
    if (l->max_rep > 0) {
        rows = 0;
        if (b->num_levels && b->rep_levels[0] != 0)
            return st_err_set(e, ST_ERR_ARG, "%s: column '%s' batch does not start a row", w->path, nm);
        for (size_t i = 0; i < b->num_levels; i++) {
            int16_t r = b->rep_levels[i];
            if (r < 0 || r > l->max_rep)
                return st_err_set(e, ST_ERR_ARG, "%s: column '%s' repetition level %d out of range 0..%d",
                                  w->path, nm, r, l->max_rep);
            rows += r == 0;
        }
        if (rows != num_rows)
            return st_err_set(e, ST_ERR_ARG, "%s: column '%s' has %zu rows, expected %zu", w->path, nm, rows,
                              num_rows);
    }
    if (nv != b->num_values)
        return st_err_set(e, ST_ERR_ARG, "%s: column '%s' has %zu values but its levels define %zu", w->path,
                          nm, b->num_values, nv);
    if (nv && !b->values.i32)
        return st_err_set(e, ST_ERR_ARG, "%s: column '%s' has no value array", w->path, nm);
    return ST_OK;
}

st_code pq_writer_write(pq_writer *w, size_t num_rows, const pq_column_batch *cols, st_err *e)
{
    if (!w) return st_err_set(e, ST_ERR_ARG, "pq_writer_write: NULL writer");
    if (w->failed) return st_err_set(e, ST_ERR_STATE, "%s: writer failed earlier", w->path);
    if (!cols) return num_rows ? st_err_set(e, ST_ERR_ARG, "%s: pq_writer_write without column batches", w->path)
                               : ST_OK;
    int nl = w->schema.nleaves;
    for (int c = 0; c < nl; c++) {
        st_code rc = check_batch(w, c, num_rows, &cols[c], e);
        if (rc) return rc;
    }
    /* per-leaf cursors (level, value) */
    size_t *lpos = st_xcalloc((size_t)nl * 2, sizeof(size_t));
    size_t *vpos = lpos + nl;
    size_t done = 0;
    st_code rc = ST_OK;
    while (done < num_rows) {
        size_t take = num_rows - done;
        int64_t room = w->opt.row_group_rows - w->rg_rows;
        if ((int64_t)take > room) take = (size_t)room;
        for (int c = 0; c < nl && !rc; c++) {
            const pq_column_batch *b = &cols[c];
            const pq_leaf_desc *l = &w->schema.leaves[c];
            size_t lend;
            if (l->max_rep == 0) {
                lend = lpos[c] + take;
            } else if (done + take == num_rows) {
                lend = b->num_levels;
            } else {
                /* find the level index where row (done + take) starts */
                size_t rows = 0;
                lend = lpos[c];
                while (lend < b->num_levels) {
                    if (b->rep_levels[lend] == 0) {
                        if (rows == take) break;
                        rows++;
                    }
                    lend++;
                }
            }
            size_t nv = 0;
            rc = pq_colwriter_write(w->cols[c], b, lpos[c], lend, vpos[c], &nv, e);
            lpos[c] = lend;
            vpos[c] += nv;
        }
        if (rc) break;
        w->rg_rows += (int64_t)take;
        done += take;
        if (w->rg_rows >= w->opt.row_group_rows) {
            rc = pq_writer_flush_row_group(w, e);
            if (rc) break;
        }
    }
    free(lpos);
    if (rc) w->failed = 1;
    return rc;
}

st_code pq_writer_close(pq_writer *w, pq_file_info *info, st_err *e)
{
    if (info) memset(info, 0, sizeof *info);
    if (!w) return st_err_set(e, ST_ERR_ARG, "pq_writer_close: NULL writer");
    st_code rc = w->failed ? st_err_set(e, ST_ERR_STATE, "%s: writer failed earlier", w->path) : ST_OK;
    if (!rc) rc = pq_writer_flush_row_group(w, e);
    if (!rc) {
        st_buf foot = {0};
        pq_meta_write_footer(&foot, &w->schema, w->rgs, w->nrgs, w->num_rows, w->created_by);
        uint32_t flen = (uint32_t)foot.len;
        st_buf_append(&foot, &flen, 4);
        st_buf_append(&foot, "PAR1", 4);
        rc = write_all(w, foot.data, foot.len, e);
        st_buf_free(&foot);
    }
    st_stat st = {0};
    st_sink *sink = w->sink;
    w->sink = NULL;
    if (rc) st_sink_abort(sink);
    else rc = st_sink_close(sink, &st, e); /* durable and visible now, or nothing is left */
    if (!rc && info) {
        info->num_rows = w->num_rows;
        info->file_size = w->offset;
        info->mtime_ms = st.mtime_ms;
        info->num_row_groups = w->nrgs;
        info->num_leaves = w->schema.nleaves;
        info->columns = st_xcalloc((size_t)w->schema.nleaves, sizeof *info->columns);
        for (int c = 0; c < w->schema.nleaves; c++) pq_colwriter_file_stats(w->cols[c], &info->columns[c]);
    }
    writer_free(w);
    return rc;
}

void pq_writer_abort(pq_writer *w)
{
    if (w) writer_free(w);
}

void pq_file_info_free(pq_file_info *info)
{
    if (!info) return;
    if (info->columns)
        for (int c = 0; c < info->num_leaves; c++) {
            free(info->columns[c].min_bytes);
            free(info->columns[c].max_bytes);
        }
    free(info->columns);
    memset(info, 0, sizeof *info);
}
