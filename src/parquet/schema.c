/* schema.c — schema tree walk: leaves, paths and max levels. */
#include "parquet/schema.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

typedef struct walk {
    pq_schema *s;
    int pos;
    int stack[PQ_MAX_NESTING];
    const char *ctx;
    st_err *e;
} walk;

/* Consumes the subtree at w->pos (depth d, parent levels def/rep). Cost O(nodes * depth). */
static st_code walk_node(walk *w, int d, int16_t def, int16_t rep)
{
    pq_schema *s = w->s;
    if (w->pos >= s->nnodes)
        return st_err_set(w->e, ST_ERR_FORMAT, "%s: schema ends inside a group", w->ctx);
    if (d >= PQ_MAX_NESTING)
        return st_err_set(w->e, ST_ERR_FORMAT, "%s: schema nested deeper than %d levels", w->ctx, PQ_MAX_NESTING);
    int idx = w->pos++;
    pq_schema_node *n = &s->nodes[idx];
    if ((int)n->repetition < 0 || n->repetition > PQ_REPEATED)
        return st_err_set(w->e, ST_ERR_FORMAT, "%s: field '%s' has a bad repetition", w->ctx, n->name);
    if (n->repetition != PQ_REQUIRED) def++;
    if (n->repetition == PQ_REPEATED) rep++;
    w->stack[d] = idx;
    if (n->num_children < 0)
        return st_err_set(w->e, ST_ERR_FORMAT, "%s: field '%s' has a negative child count", w->ctx, n->name);
    if (n->num_children > 0) {
        if (n->num_children > s->nnodes - w->pos)
            return st_err_set(w->e, ST_ERR_FORMAT, "%s: group '%s' claims %d children, only %d nodes follow",
                              w->ctx, n->name, n->num_children, s->nnodes - w->pos);
        for (int c = 0; c < n->num_children; c++) {
            st_code rc = walk_node(w, d + 1, def, rep);
            if (rc) return rc;
        }
        return ST_OK;
    }
    if ((int)n->physical < 0 || n->physical > PQ_FIXED_LEN_BYTE_ARRAY)
        return st_err_set(w->e, ST_ERR_FORMAT, "%s: column '%s' has an unknown physical type %d", w->ctx,
                          n->name, (int)n->physical);
    if (n->physical == PQ_FIXED_LEN_BYTE_ARRAY && n->type_length <= 0)
        return st_err_set(w->e, ST_ERR_FORMAT, "%s: column '%s' has a bad type_length", w->ctx, n->name);
    s->leaves = st_xrealloc(s->leaves, (size_t)(s->nleaves + 1) * sizeof *s->leaves);
    pq_leaf_desc *l = &s->leaves[s->nleaves++];
    memset(l, 0, sizeof *l);
    l->node = idx;
    l->max_def = def;
    l->max_rep = rep;
    l->path_len = d + 1;
    l->path_nodes = st_xmalloc((size_t)(d + 1) * sizeof(int));
    st_buf b = {0};
    for (int k = 0; k <= d; k++) {
        l->path_nodes[k] = w->stack[k];
        if (k) st_buf_append_u8(&b, '.');
        st_buf_append_str(&b, s->nodes[w->stack[k]].name);
    }
    st_buf_cstr(&b);
    l->dotted = (char *)st_buf_detach(&b, NULL);
    return ST_OK;
}

st_code pq_schema_build(pq_schema *s, const pq_schema_node *fields, int nfields, const char *ctx, st_err *e)
{
    memset(s, 0, sizeof *s);
    if (nfields <= 0 || !fields) return st_err_set(e, ST_ERR_ARG, "%s: schema has no fields", ctx);
    s->nodes = st_xcalloc((size_t)nfields, sizeof *s->nodes);
    s->nnodes = nfields;
    for (int i = 0; i < nfields; i++) {
        s->nodes[i] = fields[i];
        s->nodes[i].name = st_xstrdup(fields[i].name ? fields[i].name : "");
    }
    for (int i = 0; i < nfields; i++)
        if (!s->nodes[i].name[0]) {
            pq_schema_free(s);
            return st_err_set(e, ST_ERR_ARG, "%s: schema field %d has no name", ctx, i);
        }
    walk w = {.s = s, .ctx = ctx, .e = e};
    while (w.pos < nfields) {
        st_code rc = walk_node(&w, 0, 0, 0);
        if (rc) {
            pq_schema_free(s);
            return rc;
        }
        s->num_top++;
    }
    return ST_OK;
}

void pq_schema_free(pq_schema *s)
{
    if (!s) return;
    for (int i = 0; i < s->nnodes; i++) free((char *)s->nodes[i].name);
    free(s->nodes);
    for (int i = 0; i < s->nleaves; i++) {
        free(s->leaves[i].path_nodes);
        free(s->leaves[i].dotted);
    }
    free(s->leaves);
    memset(s, 0, sizeof *s);
}
