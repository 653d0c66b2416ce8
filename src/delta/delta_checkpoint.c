/* delta_checkpoint.c — Parquet checkpoints and _last_checkpoint. We write classic
 * single-file ones (_delta_log/<v>.checkpoint.parquet); we read those, multi-part ones
 * (<v>.checkpoint.<part>.<total>.parquet) and v2 ones (<v>.checkpoint.<uuid>.json|parquet
 * with sidecars in _delta_log/_sidecars/).
 *
 * The checkpoint has one row per action (txn, add, remove, metaData, protocol), each
 * an optional struct column; exactly one is non-null per row. Maps and lists use the
 * standard three-level Parquet layout (key_value / list.element), which Spark,
 * delta-rs and DuckDB read. Levels are produced here by hand per leaf. */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAST_CHECKPOINT_KEY DELTA_LOG_DIR "_last_checkpoint"

/* ------------------------------------------------------------------ schema */

enum {
    L_TXN_APP, L_TXN_VER, L_TXN_LU,
    L_ADD_PATH, L_ADD_PVK, L_ADD_PVV, L_ADD_SIZE, L_ADD_MT, L_ADD_DC, L_ADD_STATS,
    L_RM_PATH, L_RM_TS, L_RM_DC, L_RM_EXT, L_RM_PVK, L_RM_PVV, L_RM_SIZE,
    L_MD_ID, L_MD_NAME, L_MD_DESC, L_MD_PROV, L_MD_OPTK, L_MD_OPTV, L_MD_SCHEMA, L_MD_PC, L_MD_CONFK,
    L_MD_CONFV, L_MD_CT,
    L_PR_R, L_PR_W,
    NLEAVES
};

#define OPT PQ_OPTIONAL
#define REQ PQ_REQUIRED
#define REP PQ_REPEATED
#define STR(n, r) {n, r, 0, PQ_BYTE_ARRAY, PQ_LOGICAL_STRING, 0, 0, 0, 0, 0}
#define I64(n) {n, OPT, 0, PQ_INT64, PQ_LOGICAL_NONE, 0, 0, 0, 0, 0}
#define I32(n) {n, OPT, 0, PQ_INT32, PQ_LOGICAL_NONE, 0, 0, 0, 0, 0}
#define BOOL(n) {n, OPT, 0, PQ_BOOLEAN, PQ_LOGICAL_NONE, 0, 0, 0, 0, 0}
#define GROUP(n, r, k, lg) {n, r, k, PQ_BOOLEAN, lg, 0, 0, 0, 0, 0}
#define MAP(n) GROUP(n, OPT, 1, PQ_LOGICAL_MAP), GROUP("key_value", REP, 2, PQ_LOGICAL_NONE), STR("key", REQ), STR("value", OPT)

static const pq_schema_node cp_nodes[] = {
    GROUP("txn", OPT, 3, PQ_LOGICAL_NONE), STR("appId", OPT), I64("version"), I64("lastUpdated"),
    GROUP("add", OPT, 6, PQ_LOGICAL_NONE), STR("path", OPT), MAP("partitionValues"), I64("size"),
    I64("modificationTime"), BOOL("dataChange"), STR("stats", OPT),
    GROUP("remove", OPT, 6, PQ_LOGICAL_NONE), STR("path", OPT), I64("deletionTimestamp"), BOOL("dataChange"),
    BOOL("extendedFileMetadata"), MAP("partitionValues"), I64("size"),
    GROUP("metaData", OPT, 8, PQ_LOGICAL_NONE), STR("id", OPT), STR("name", OPT), STR("description", OPT),
    GROUP("format", OPT, 2, PQ_LOGICAL_NONE), STR("provider", OPT), MAP("options"), STR("schemaString", OPT),
    GROUP("partitionColumns", OPT, 1, PQ_LOGICAL_LIST), GROUP("list", REP, 1, PQ_LOGICAL_NONE), STR("element", OPT),
    MAP("configuration"), I64("createdTime"),
    GROUP("protocol", OPT, 2, PQ_LOGICAL_NONE), I32("minReaderVersion"), I32("minWriterVersion"),
};

/* ------------------------------------------------------------------ writing */

typedef struct leaf_buf {
    st_buf def, rep, vals;   /* int16 levels; values: int64/int32/uint8/pq_bytes */
} leaf_buf;

/* Appends one (definition, repetition) level pair to a leaf. */
static void lv(leaf_buf *L, int def, int rep)
{
    int16_t d = (int16_t)def, r = (int16_t)rep;
    st_buf_append(&L->def, &d, sizeof d);
    st_buf_append(&L->rep, &r, sizeof r);
}

/* Dense values of a leaf: strings are borrowed from the snapshot until the write. */
static void v_str(leaf_buf *L, const char *s)
{
    pq_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
    st_buf_append(&L->vals, &b, sizeof b);
}
static void v_i64(leaf_buf *L, int64_t x) { st_buf_append(&L->vals, &x, sizeof x); }
static void v_i32(leaf_buf *L, int32_t x) { st_buf_append(&L->vals, &x, sizeof x); }
/* Boolean value byte. */
static void v_bool(leaf_buf *L, int x)
{
    uint8_t b = x ? 1 : 0;
    st_buf_append(&L->vals, &b, 1);
}

/* Leaves first..last (inclusive) get "parent struct absent". */
static void absent(leaf_buf *L, int first, int last)
{
    for (int i = first; i <= last; i++) lv(&L[i], 0, 0);
}

/* An optional string field of a present struct at definition level d. */
static void f_str(leaf_buf *L, int d, const char *s)
{
    if (s) {
        lv(L, d + 1, 0);
        v_str(L, s);
    } else {
        lv(L, d, 0);
    }
}
/* A present int64 field of a present struct at level d. */
static void f_i64(leaf_buf *L, int d, int64_t x)
{
    lv(L, d + 1, 0);
    v_i64(L, x);
}

/* A map<string,string> field of a present struct at level d (map and key_value add 2). */
static void f_map(leaf_buf *K, leaf_buf *V, int d, size_t n, char *const *keys, char *const *vals,
                  const delta_partition_value *pv)
{
    if (!n) {
        lv(K, d + 1, 0);
        lv(V, d + 1, 0);
        return;
    }
    for (size_t j = 0; j < n; j++) {
        const char *k = pv ? pv[j].name : keys[j];
        const char *v = pv ? pv[j].value : vals[j];
        lv(K, d + 2, j ? 1 : 0);
        v_str(K, k);
        if (v) {
            lv(V, d + 3, j ? 1 : 0);
            v_str(V, v);
        } else {
            lv(V, d + 2, j ? 1 : 0);
        }
    }
}

/* One checkpoint row per action: the action's leaves get values, every other
 * action's leaves get "struct absent" (definition level 0). */
static void row_txn(leaf_buf *L, const delta_txn_entry *t)
{
    f_str(&L[L_TXN_APP], 1, t->app_id);
    f_i64(&L[L_TXN_VER], 1, t->version);
    f_i64(&L[L_TXN_LU], 1, t->last_updated);
    absent(L, L_ADD_PATH, L_PR_W);
}

static void row_add(leaf_buf *L, const delta_file *f)
{
    absent(L, L_TXN_APP, L_TXN_LU);
    f_str(&L[L_ADD_PATH], 1, f->path);
    f_map(&L[L_ADD_PVK], &L[L_ADD_PVV], 1, f->num_partition_values, NULL, NULL, f->partition_values);
    f_i64(&L[L_ADD_SIZE], 1, f->size);
    f_i64(&L[L_ADD_MT], 1, f->modification_time);
    lv(&L[L_ADD_DC], 2, 0);
    v_bool(&L[L_ADD_DC], 0); /* checkpoints carry dataChange=false */
    f_str(&L[L_ADD_STATS], 1, f->stats);
    absent(L, L_RM_PATH, L_PR_W);
}

static void row_remove(leaf_buf *L, const delta_file *f)
{
    absent(L, L_TXN_APP, L_ADD_STATS);
    f_str(&L[L_RM_PATH], 1, f->path);
    f_i64(&L[L_RM_TS], 1, f->modification_time);
    lv(&L[L_RM_DC], 2, 0);
    v_bool(&L[L_RM_DC], 0);
    lv(&L[L_RM_EXT], 2, 0);
    v_bool(&L[L_RM_EXT], 1);
    f_map(&L[L_RM_PVK], &L[L_RM_PVV], 1, f->num_partition_values, NULL, NULL, f->partition_values);
    f_i64(&L[L_RM_SIZE], 1, f->size);
    absent(L, L_MD_ID, L_PR_W);
}

static void row_metadata(leaf_buf *L, const delta_snapshot *s)
{
    absent(L, L_TXN_APP, L_RM_SIZE);
    f_str(&L[L_MD_ID], 1, s->id);
    f_str(&L[L_MD_NAME], 1, s->name);
    f_str(&L[L_MD_DESC], 1, s->description);
    f_str(&L[L_MD_PROV], 2, s->format_provider ? s->format_provider : "parquet");
    f_map(&L[L_MD_OPTK], &L[L_MD_OPTV], 2, 0, NULL, NULL, NULL);
    f_str(&L[L_MD_SCHEMA], 1, s->schema_string);
    /* partitionColumns: list (d 2) -> list (d 3, rep) -> element (d 4) */
    if (!s->npartition) {
        lv(&L[L_MD_PC], 2, 0);
    } else {
        for (size_t j = 0; j < s->npartition; j++) {
            lv(&L[L_MD_PC], 4, j ? 1 : 0);
            v_str(&L[L_MD_PC], s->partition_columns[j]);
        }
    }
    f_map(&L[L_MD_CONFK], &L[L_MD_CONFV], 1, s->nconfig, s->config_keys, s->config_vals, NULL);
    if (s->created_time >= 0)
        f_i64(&L[L_MD_CT], 1, s->created_time);
    else
        lv(&L[L_MD_CT], 1, 0);
    absent(L, L_PR_R, L_PR_W);
}

static void row_protocol(leaf_buf *L, const delta_snapshot *s)
{
    absent(L, L_TXN_APP, L_MD_CT);
    lv(&L[L_PR_R], 2, 0);
    v_i32(&L[L_PR_R], s->min_reader);
    lv(&L[L_PR_W], 2, 0);
    v_i32(&L[L_PR_W], s->min_writer);
}

/* Version in _last_checkpoint; -1 when missing or unparsable (the caller then lists the
 * whole log). One small object read. */
int64_t delta_last_checkpoint_version(st_store *store)
{
    st_buf b = {0};
    int64_t v = -1;
    if (st_store_read(store, LAST_CHECKPOINT_KEY, &b, NULL, NULL) == ST_OK) {
        json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
        json_t *x = json_object_get(j, "version");
        if (json_is_integer(x) && json_integer_value(x) >= 0) v = json_integer_value(x);
        json_decref(j);
    }
    st_buf_free(&b);
    return v;
}

/* Writes the snapshot as <version>.checkpoint.parquet through a sink of the table's store
 * (readers never see a partial file: it appears whole at close), then moves
 * _last_checkpoint forward. Tombstones deleted before horizon_ms are dropped (expired).
 * Cost: O(files + txns) rows, one file, one small write. */
st_code delta_checkpoint_write(const delta_snapshot *s, int64_t horizon_ms, st_err *e)
{
    if (s->min_reader > 2 || s->min_writer > 6)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "%s: checkpoints of protocol %d/%d are not written by us",
                          s->table_path, s->min_reader, s->min_writer);
    if (!s->store)
        return st_err_set(e, ST_ERR_STATE, "%s: a state built in memory has no store to checkpoint into", s->table_path);
    leaf_buf L[NLEAVES];
    memset(L, 0, sizeof L);
    size_t rows = 0;
    row_protocol(L, s);
    row_metadata(L, s);
    rows += 2;
    for (size_t i = 0; i < s->ntxns; i++, rows++) row_txn(L, &s->txns[i]);
    for (size_t i = 0; i < s->files.count; i++, rows++) row_add(L, &s->files.items[i]);
    for (size_t i = 0; i < s->tombstones.count; i++)
        if (s->tombstones.items[i].modification_time >= horizon_ms) {
            row_remove(L, &s->tombstones.items[i]);
            rows++;
        }
    char key[DELTA_KEY_MAX];
    delta_checkpoint_key(key, s->version);
    st_code rc = ST_OK;
    pq_file_info info = {0};
    pq_writer_options o;
    pq_writer_options_init(&o);
    o.codec = PQ_CODEC_SNAPPY;
    o.row_group_rows = (int64_t)rows + 1;
    st_sink *sink;
    pq_writer *w = st_store_open_sink(s->store, key, ST_SINK_REPLACE, &sink, e)
                       ? NULL
                       : pq_writer_open(sink, cp_nodes, (int)(sizeof cp_nodes / sizeof *cp_nodes), &o, e);
    if (!w) {
        rc = e ? e->code : ST_ERR_IO;
        goto done;
    }
    pq_column_batch cols[NLEAVES];
    for (int i = 0; i < NLEAVES; i++) {
        cols[i].num_levels = L[i].def.len / sizeof(int16_t);
        cols[i].def_levels = (const int16_t *)L[i].def.data;
        int repeated = i == L_ADD_PVK || i == L_ADD_PVV || i == L_RM_PVK || i == L_RM_PVV || i == L_MD_OPTK ||
                       i == L_MD_OPTV || i == L_MD_PC || i == L_MD_CONFK || i == L_MD_CONFV;
        cols[i].rep_levels = repeated ? (const int16_t *)L[i].rep.data : NULL;
        cols[i].values.i64 = (const int64_t *)L[i].vals.data;
    }
    /* value counts depend on the physical type of each leaf */
    {
        int leaf = 0;
        for (size_t n = 0; n < sizeof cp_nodes / sizeof *cp_nodes; n++) {
            if (cp_nodes[n].num_children) continue;
            size_t w8 = cp_nodes[n].physical == PQ_BYTE_ARRAY ? sizeof(pq_bytes)
                        : cp_nodes[n].physical == PQ_INT64   ? 8
                        : cp_nodes[n].physical == PQ_INT32   ? 4
                                                             : 1;
            cols[leaf].num_values = L[leaf].vals.len / w8;
            leaf++;
        }
    }
    if ((rc = pq_writer_write(w, rows, cols, e))) {
        pq_writer_abort(w);
        goto done;
    }
    if ((rc = pq_writer_close(w, &info, e))) goto done;
    if (delta_last_checkpoint_version(s->store) < s->version) {
        char txt[256];
        int n = snprintf(txt, sizeof txt, "{\"version\":%lld,\"size\":%zu,\"sizeInBytes\":%lld,\"numOfAddFiles\":%zu}\n",
                         (long long)s->version, rows, (long long)info.file_size, s->files.count);
        rc = st_store_write(s->store, LAST_CHECKPOINT_KEY, txt, (size_t)n, e);
    }
done:
    pq_file_info_free(&info);
    for (int i = 0; i < NLEAVES; i++) {
        st_buf_free(&L[i].def);
        st_buf_free(&L[i].rep);
        st_buf_free(&L[i].vals);
    }
    return rc;
}

/* ------------------------------------------------------------------ reading */


typedef struct col {
    int leaf;                 /* -1: column absent from this checkpoint */
    int16_t max_def, max_rep;
    pq_column_data d;
    size_t li, vi;            /* level and value cursors */
} col;

static const char *const leaf_paths[NLEAVES] = {
    "txn.appId", "txn.version", "txn.lastUpdated",
    "add.path", "add.partitionValues.*key", "add.partitionValues.*value", "add.size", "add.modificationTime",
    "add.dataChange", "add.stats",
    "remove.path", "remove.deletionTimestamp", "remove.dataChange", "remove.extendedFileMetadata",
    "remove.partitionValues.*key", "remove.partitionValues.*value", "remove.size",
    "metaData.id", "metaData.name", "metaData.description", "metaData.format.provider",
    "metaData.format.options.*key", "metaData.format.options.*value", "metaData.schemaString",
    "metaData.partitionColumns.*element", "metaData.configuration.*key", "metaData.configuration.*value",
    "metaData.createdTime",
    "protocol.minReaderVersion", "protocol.minWriterVersion",
};

/* Leaves the reader looks at beyond what we write: protocol features (a checkpoint's
 * protocol can list reader features we must refuse), deletion vectors (refused), and the
 * sidecar files of a v2 checkpoint. */
enum { X_PR_RF, X_PR_WF, X_ADD_DV, X_SIDECAR, NEXTRA };
static const char *const extra_paths[NEXTRA] = {
    "protocol.readerFeatures.*element", "protocol.writerFeatures.*element", "add.deletionVector.storageType",
    "sidecar.path",
};

/* Physical type leaf i of cp_nodes has (the enum follows cp_nodes' leaf order). */
static pq_physical leaf_type(int i)
{
    int k = 0;
    for (size_t n = 0; n < sizeof cp_nodes / sizeof *cp_nodes; n++)
        if (cp_nodes[n].num_children == 0 && k++ == i) return cp_nodes[n].physical;
    return PQ_BYTE_ARRAY;
}

/* Finds a leaf by exact path, or for "a.b.*k": the first leaf under "a.b." whose last
 * component is k (maps and lists name their middle groups differently per writer). */
static int find_leaf(const pq_reader *r, const char *pat)
{
    const char *star = strchr(pat, '*');
    if (!star) return pq_reader_find_leaf(r, pat);
    size_t plen = (size_t)(star - pat);
    const char *last = star + 1;
    for (int i = 0; i < pq_reader_num_leaves(r); i++) {
        const char *p = pq_reader_leaf(r, i)->path;
        if (strncmp(p, pat, plen) != 0) continue;
        const char *dot = strrchr(p, '.');
        if (dot && strcmp(dot + 1, last) == 0) return i;
    }
    return -1;
}

/* Entry range [*a, *b) of the current row in a column; advances the level cursor. */
static void row_range(col *c, size_t *a, size_t *b)
{
    *a = *b = c->li;
    if (c->leaf < 0 || c->li >= c->d.num_levels) return;
    size_t i = c->li + 1;
    if (c->d.rep_levels)
        while (i < c->d.num_levels && c->d.rep_levels[i] != 0) i++;
    *b = i;
    c->li = i;
}

/* Definition level of entry i (max level when the leaf is required all the way). */
static int16_t def_at(const col *c, size_t i)
{
    return c->d.def_levels ? c->d.def_levels[i] : c->max_def;
}

/* Value index of entry i when walking entries in order: the caller tracks vi. */
static const pq_bytes *take_bytes(col *c, size_t i)
{
    if (def_at(c, i) != c->max_def) return NULL;
    return &c->d.values.bytes[c->vi++];
}

/* malloc'd NUL-terminated copy of a byte string, NULL for NULL. */
static char *dup_bytes(const pq_bytes *b)
{
    return b ? st_xstrndup((const char *)b->ptr, b->len) : NULL;
}

/* Scalar helpers: consume one entry; return 1 when a value is present. */
static int next_i64(col *c, int64_t *out)
{
    size_t a, b;
    row_range(c, &a, &b);
    if (a == b || def_at(c, a) != c->max_def) return 0;
    if (c->d.physical == PQ_INT32)
        *out = c->d.values.i32[c->vi++];
    else
        *out = c->d.values.i64[c->vi++];
    return 1;
}

/* Boolean scalar of the current row; 1 when present. */
static int next_bool(col *c, int *out)
{
    size_t a, b;
    row_range(c, &a, &b);
    if (a == b || def_at(c, a) != c->max_def) return 0;
    *out = c->d.values.boolean[c->vi++];
    return 1;
}

/* String scalar of the current row (malloc'd), NULL when null/absent. */
static char *next_str(col *c)
{
    size_t a, b;
    row_range(c, &a, &b);
    if (a == b) return NULL;
    return dup_bytes(take_bytes(c, a));
}

/* A present-or-absent struct: its first leaf's definition level says (>= level). */
static int16_t peek_def(const col *c)
{
    if (c->leaf < 0 || c->li >= c->d.num_levels) return 0;
    return def_at(c, c->li);
}

/* Map entries of the current row as a JSON object (NULL value -> null). */
static json_t *next_map(col *K, col *V)
{
    size_t a, b, va, vb;
    row_range(K, &a, &b);
    row_range(V, &va, &vb);
    json_t *o = json_object();
    for (size_t i = a; i < b; i++) {
        if (def_at(K, i) != K->max_def) continue;
        char *k = dup_bytes(take_bytes(K, i));
        size_t vi = va + (i - a);
        const pq_bytes *v = vi < vb ? take_bytes(V, vi) : NULL;
        char *vs = dup_bytes(v);
        json_object_set_new(o, k, vs ? json_string(vs) : json_null());
        free(k);
        free(vs);
    }
    return o;
}

/* List elements of the current row as a JSON array (null/empty list -> []). */
static json_t *next_list(col *c)
{
    size_t a, b;
    row_range(c, &a, &b);
    json_t *arr = json_array();
    for (size_t i = a; i < b; i++) {
        if (def_at(c, i) < c->max_def - 1) continue; /* null or empty list */
        char *s = dup_bytes(take_bytes(c, i));
        json_array_append_new(arr, s ? json_string(s) : json_null());
        free(s);
    }
    return arr;
}

/* Sets o[k] = v when v is not NULL; frees v. */
static void set_str(json_t *o, const char *k, char *v)
{
    if (v) json_object_set_new(o, k, json_string(v));
    free(v);
}

/* Skips the current row's entries of a column (keeping its value cursor in step). */
static void skip_row(col *c)
{
    size_t a, b;
    row_range(c, &a, &b);
    for (size_t k = a; k < b; k++)
        if (def_at(c, k) == c->max_def) c->vi++;
}

/* Reconstructs the actions of one row group and applies them. X are the extra leaves
 * (see extra_paths); sidecar paths found are appended to *sidecars (NULL: not wanted). */
static st_code apply_row_group(delta_snapshot *s, col *C, col *X, int64_t nrows, const char *where,
                               st_buf *sidecars, st_err *e)
{
    st_code rc = ST_OK;
    for (int64_t r = 0; r < nrows && !rc; r++) {
        int16_t dtxn = peek_def(&C[L_TXN_APP]), dadd = peek_def(&C[L_ADD_PATH]), drm = peek_def(&C[L_RM_PATH]),
                dmd = peek_def(&C[L_MD_ID]), dpr = peek_def(&C[L_PR_R]);
        json_t *act = NULL;
        {
            size_t a, b;
            row_range(&X[X_ADD_DV], &a, &b);
            int has_dv = a < b && def_at(&X[X_ADD_DV], a) == X[X_ADD_DV].max_def;
            if (has_dv) X[X_ADD_DV].vi++;
            if (has_dv && dadd >= 1) {
                rc = st_err_set(e, ST_ERR_UNSUPPORTED,
                                "%s row %lld: add has a deletion vector (feature deletionVectors unsupported)", where,
                                (long long)r);
                break;
            }
            char *sc = next_str(&X[X_SIDECAR]);
            if (sc && sidecars) st_buf_append(sidecars, &sc, sizeof sc);
            else free(sc);
        }
        if (dadd >= 1) {
            delta_file f;
            memset(&f, 0, sizeof f);
            f.path = next_str(&C[L_ADD_PATH]);
            json_t *pv = next_map(&C[L_ADD_PVK], &C[L_ADD_PVV]);
            int64_t x;
            f.size = next_i64(&C[L_ADD_SIZE], &x) ? x : 0;
            f.modification_time = next_i64(&C[L_ADD_MT], &x) ? x : 0;
            int dc = 0;
            f.data_change = next_bool(&C[L_ADD_DC], &dc) ? dc : 0;
            f.stats = next_str(&C[L_ADD_STATS]);
            f.num_records = delta_stats_num_records(f.stats);
            size_t n = json_object_size(pv);
            if (n) {
                f.partition_values = st_xcalloc(n, sizeof(delta_partition_value));
                const char *k;
                json_t *v;
                json_object_foreach(pv, k, v) {
                    f.partition_values[f.num_partition_values].name = st_xstrdup(k);
                    f.partition_values[f.num_partition_values++].value =
                        json_is_string(v) ? st_xstrdup(json_string_value(v)) : NULL;
                }
            }
            json_decref(pv);
            if (!f.path || f.size < 0) {
                delta_file_free(&f);
                rc = st_err_set(e, ST_ERR_FORMAT, "%s row %lld: add without path or with a negative size", where,
                                (long long)r);
                break;
            }
            delta_state_add_file(s, &f);
        } else {
            /* skip this row's entries in the add leaves */
            size_t a, b;
            for (int i = L_ADD_PATH; i <= L_ADD_STATS; i++) {
                row_range(&C[i], &a, &b);
                for (size_t k = a; k < b; k++)
                    if (def_at(&C[i], k) == C[i].max_def) C[i].vi++;
            }
        }
        if (drm >= 1) {
            act = json_object();
            set_str(act, "path", next_str(&C[L_RM_PATH]));
            int64_t x;
            if (next_i64(&C[L_RM_TS], &x)) json_object_set_new(act, "deletionTimestamp", json_integer(x));
            int b;
            if (next_bool(&C[L_RM_DC], &b)) json_object_set_new(act, "dataChange", json_boolean(b));
            next_bool(&C[L_RM_EXT], &b);
            json_object_set_new(act, "partitionValues", next_map(&C[L_RM_PVK], &C[L_RM_PVV]));
            if (next_i64(&C[L_RM_SIZE], &x)) json_object_set_new(act, "size", json_integer(x));
            act = json_pack("{s:o}", "remove", act);
        } else {
            size_t a, b;
            for (int i = L_RM_PATH; i <= L_RM_SIZE; i++) {
                row_range(&C[i], &a, &b);
                for (size_t k = a; k < b; k++)
                    if (def_at(&C[i], k) == C[i].max_def) C[i].vi++;
            }
        }
        json_t *act2 = NULL;
        if (dmd >= 1) {
            json_t *md = json_object();
            set_str(md, "id", next_str(&C[L_MD_ID]));
            set_str(md, "name", next_str(&C[L_MD_NAME]));
            set_str(md, "description", next_str(&C[L_MD_DESC]));
            json_t *fmt = json_object();
            set_str(fmt, "provider", next_str(&C[L_MD_PROV]));
            json_object_set_new(fmt, "options", next_map(&C[L_MD_OPTK], &C[L_MD_OPTV]));
            json_object_set_new(md, "format", fmt);
            set_str(md, "schemaString", next_str(&C[L_MD_SCHEMA]));
            json_object_set_new(md, "partitionColumns", next_list(&C[L_MD_PC]));
            json_object_set_new(md, "configuration", next_map(&C[L_MD_CONFK], &C[L_MD_CONFV]));
            int64_t x;
            if (next_i64(&C[L_MD_CT], &x)) json_object_set_new(md, "createdTime", json_integer(x));
            act2 = json_pack("{s:o}", "metaData", md);
        } else {
            size_t a, b;
            for (int i = L_MD_ID; i <= L_MD_CT; i++) {
                row_range(&C[i], &a, &b);
                for (size_t k = a; k < b; k++)
                    if (def_at(&C[i], k) == C[i].max_def) C[i].vi++;
            }
        }
        json_t *act3 = NULL;
        if (dpr >= 1) {
            int64_t rv = 0, wv = 0;
            next_i64(&C[L_PR_R], &rv);
            next_i64(&C[L_PR_W], &wv);
            act3 = json_pack("{s:{s:I, s:I}}", "protocol", "minReaderVersion", (json_int_t)rv, "minWriterVersion",
                             (json_int_t)wv);
            json_t *rf = next_list(&X[X_PR_RF]), *wf = next_list(&X[X_PR_WF]);
            json_t *pr = json_object_get(act3, "protocol");
            if (json_array_size(rf)) json_object_set(pr, "readerFeatures", rf);
            if (json_array_size(wf)) json_object_set(pr, "writerFeatures", wf);
            json_decref(rf);
            json_decref(wf);
        } else {
            int64_t x;
            next_i64(&C[L_PR_R], &x);
            next_i64(&C[L_PR_W], &x);
            skip_row(&X[X_PR_RF]);
            skip_row(&X[X_PR_WF]);
        }
        json_t *act4 = NULL;
        if (dtxn >= 1) {
            json_t *t = json_object();
            set_str(t, "appId", next_str(&C[L_TXN_APP]));
            int64_t x;
            if (next_i64(&C[L_TXN_VER], &x)) json_object_set_new(t, "version", json_integer(x));
            if (next_i64(&C[L_TXN_LU], &x)) json_object_set_new(t, "lastUpdated", json_integer(x));
            act4 = json_pack("{s:o}", "txn", t);
        } else {
            int64_t x;
            size_t a, b;
            row_range(&C[L_TXN_APP], &a, &b);
            if (a < b && def_at(&C[L_TXN_APP], a) == C[L_TXN_APP].max_def) C[L_TXN_APP].vi++;
            next_i64(&C[L_TXN_VER], &x);
            next_i64(&C[L_TXN_LU], &x);
        }
        char w[1200];
        snprintf(w, sizeof w, "%s row %lld", where, (long long)r);
        json_t *acts[4] = {act, act2, act3, act4};
        for (int i = 0; i < 4; i++) {
            if (acts[i] && !rc) rc = delta_state_apply(s, acts[i], w, e);
            json_decref(acts[i]);
        }
    }
    return rc;
}

/* Reads one checkpoint Parquet file (classic, a part of a multi-part one, a v2 top-level
 * file or a v2 sidecar) into s. Leaves are found by name, so checkpoints from Spark or
 * delta-rs load too; a leaf of an unexpected physical type is a damaged file (never read
 * as another type). Sidecar paths of a v2 file are appended to *sidecars (may be NULL).
 * A damaged file gives the reader's error naming the path. Takes src over (closed here). */
static st_code read_checkpoint_file(delta_snapshot *s, st_source *src, st_buf *sidecars, st_err *e)
{
    st_code rc = ST_OK;
    col C[NLEAVES], X[NEXTRA];
    memset(C, 0, sizeof C);
    memset(X, 0, sizeof X);
    char path[1100];
    snprintf(path, sizeof path, "%s", st_source_name(src));
    pq_reader *r = pq_reader_open(src, e);
    if (!r) {
        rc = e ? e->code : ST_ERR_FORMAT;
        if (e && !strstr(e->msg, "checkpoint")) st_err_wrap(e, "reading checkpoint %s", path);
        goto done;
    }
    int nnodes, found = 0;
    const pq_schema_node *nodes = pq_reader_schema(r, &nnodes);
    for (int i = 0; i < NLEAVES + NEXTRA; i++) {
        col *c = i < NLEAVES ? &C[i] : &X[i - NLEAVES];
        const char *lp = i < NLEAVES ? leaf_paths[i] : extra_paths[i - NLEAVES];
        c->leaf = find_leaf(r, lp);
        if (c->leaf < 0) continue;
        const pq_leaf_info *li = pq_reader_leaf(r, c->leaf);
        c->max_def = li->max_def;
        c->max_rep = li->max_rep;
        pq_physical want = i < NLEAVES ? leaf_type(i) : PQ_BYTE_ARRAY, got = nodes[li->node].physical;
        if (got != want && !(want == PQ_INT64 && got == PQ_INT32) && !(want == PQ_INT32 && got == PQ_INT64)) {
            rc = st_err_set(e, ST_ERR_FORMAT, "%s: damaged checkpoint: column %s has an unexpected type", path,
                            li->path);
            goto done;
        }
        found += i == L_ADD_PATH || i == L_RM_PATH || i == L_MD_ID || i == L_PR_R || i == L_TXN_APP ||
                 i == NLEAVES + X_SIDECAR;
    }
    if (!found) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: not a Delta checkpoint (no add/remove/metaData/protocol columns)", path);
        goto done;
    }
    for (int g = 0; g < pq_reader_num_row_groups(r) && !rc; g++) {
        for (int i = 0; i < NLEAVES + NEXTRA && !rc; i++) {
            col *c = i < NLEAVES ? &C[i] : &X[i - NLEAVES];
            c->li = c->vi = 0;
            if (c->leaf < 0) continue;
            rc = pq_reader_read_column(r, g, c->leaf, &c->d, e);
        }
        if (!rc) rc = apply_row_group(s, C, X, pq_reader_row_group_rows(r, g), path, sidecars, e);
        for (int i = 0; i < NLEAVES; i++) pq_column_data_free(&C[i].d);
        for (int i = 0; i < NEXTRA; i++) pq_column_data_free(&X[i].d);
    }
done:
    pq_reader_close(r);
    return rc;
}

/* Opens a checkpoint file by key and reads it (read_checkpoint_file). */
static st_code read_checkpoint_key(delta_snapshot *s, const char *key, st_buf *sidecars, st_err *e)
{
    st_source *src;
    st_code rc = st_store_open_source(s->store, key, &src, e);
    if (rc) {
        if (e) st_err_wrap(e, "reading checkpoint");
        return rc;
    }
    return read_checkpoint_file(s, src, sidecars, e);
}

st_code delta_checkpoint_read_source(delta_snapshot *s, st_source *src, st_err *e)
{
    return read_checkpoint_file(s, src, NULL, e);
}

/* Reads a v2 checkpoint in JSON: its actions go through the commit decoder (which
 * ignores checkpointMetadata and sidecar); sidecar paths are collected on a second pass. */
static st_code read_v2_json(delta_snapshot *s, const char *key, st_buf *sidecars, st_err *e)
{
    st_buf text = {0};
    char where[1200];
    snprintf(where, sizeof where, "%s/%s", s->table_path, key);
    st_code rc = st_store_read(s->store, key, &text, NULL, e);
    if (!rc) rc = delta_state_apply_commit(s, (const char *)text.data, text.len, where, e);
    for (size_t i = 0; !rc && i < text.len;) {
        size_t j = i;
        while (j < text.len && text.data[j] != '\n') j++;
        json_t *line = json_loadb((const char *)text.data + i, j - i, 0, NULL);
        json_t *p = json_object_get(json_object_get(line, "sidecar"), "path");
        if (json_is_string(p)) {
            char *sc = st_xstrdup(json_string_value(p));
            st_buf_append(sidecars, &sc, sizeof sc);
        }
        json_decref(line);
        i = j + 1;
    }
    st_buf_free(&text);
    return rc;
}

/* Frees a list of malloc'd sidecar names. */
static void free_sidecars(st_buf *sidecars)
{
    char **sc = (char **)(void *)sidecars->data;
    for (size_t i = 0; i < sidecars->len / sizeof(char *); i++) free(sc[i]);
    st_buf_free(sidecars);
}

/* Reads the sidecar files a v2 checkpoint names (_delta_log/_sidecars/<name>), then frees
 * the list. Only plain file names are followed (no directories, no URIs). */
static st_code read_sidecars(delta_snapshot *s, st_buf *sidecars, st_err *e)
{
    char **sc = (char **)(void *)sidecars->data;
    size_t n = sidecars->len / sizeof(char *);
    st_code rc = ST_OK;
    st_buf key = {0};
    for (size_t i = 0; i < n && !rc; i++) {
        if (strchr(sc[i], '/') || strstr(sc[i], "..") || !sc[i][0]) {
            rc = st_err_set(e, ST_ERR_UNSUPPORTED, "%s: sidecar path '%s' is not a file name in _delta_log/_sidecars",
                            s->table_path, sc[i]);
            break;
        }
        st_buf_reset(&key);
        st_buf_printf(&key, DELTA_LOG_DIR "_sidecars/%s", sc[i]);
        rc = read_checkpoint_key(s, st_buf_cstr(&key), NULL, e);
    }
    st_buf_free(&key);
    free_sidecars(sidecars);
    return rc;
}

/* See delta_internal.h: finds what kind of checkpoint `version` has (classic file first,
 * then a v2 one, then a complete multi-part set) and loads it into an empty state.
 * Cost: the classic file when it exists, else one listing of the version's checkpoint
 * files (prefix "_delta_log/<version>.checkpoint."), then the files themselves. */
st_code delta_checkpoint_read(delta_snapshot *s, int64_t version, st_err *e)
{
    char key[DELTA_KEY_MAX];
    delta_checkpoint_key(key, version);
    st_source *src;
    st_err le;
    st_code rc = st_store_open_source(s->store, key, &src, &le);
    if (rc == ST_OK) return read_checkpoint_file(s, src, NULL, e);
    if (rc != ST_ERR_NOTFOUND) {
        if (e) {
            *e = le;
            st_err_wrap(e, "reading checkpoint");
        }
        return rc;
    }
    char prefix[DELTA_KEY_MAX];
    snprintf(prefix, sizeof prefix, DELTA_LOG_DIR "%020lld.checkpoint.", (long long)version);
    st_list l = {0};
    if ((rc = st_store_list(s->store, prefix, NULL, 0, &l, e))) {
        st_list_free(&l);
        return rc;
    }
    const char *v2 = NULL;
    int total = 0;
    for (size_t i = 0; i < l.count; i++) {
        int64_t v;
        int part, tot;
        int k = delta_parse_log_name(l.items[i].key + strlen(DELTA_LOG_DIR), &v, &part, &tot);
        if (v != version) continue;
        if (k == 4) v2 = l.items[i].key;
        if (k == 3 && tot > total) total = tot;   /* delta_list_log offered only complete sets */
    }
    st_buf sidecars = {0};
    if (v2) {
        size_t n = strlen(v2);
        rc = n > 5 && !strcmp(v2 + n - 5, ".json") ? read_v2_json(s, v2, &sidecars, e)
                                                   : read_checkpoint_key(s, v2, &sidecars, e);
        if (!rc) rc = read_sidecars(s, &sidecars, e);
        else free_sidecars(&sidecars);
    } else if (total > 0) {
        rc = ST_OK;
        for (int p = 1; p <= total && !rc; p++) {
            char pk[DELTA_KEY_MAX];
            snprintf(pk, sizeof pk, DELTA_LOG_DIR "%020lld.checkpoint.%010d.%010d.parquet", (long long)version, p, total);
            rc = read_checkpoint_key(s, pk, NULL, e);
        }
    } else {
        rc = st_err_set(e, ST_ERR_NOTFOUND, "%s/_delta_log: no checkpoint file for version %lld", s->table_path,
                        (long long)version);
    }
    st_list_free(&l);
    return rc;
}
