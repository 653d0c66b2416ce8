/* delta_table.c — the table handle: create (idempotent), open, incremental refresh,
 * and the commit loop (put-if-absent, re-read and retry on conflict, checkpoints). */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"

struct delta_table {
    char *path;
    delta_table_options opt;
    delta_snapshot *snap;
    char *warning;
};

/* Defaults documented in delta.h. */
void delta_table_options_init(delta_table_options *o)
{
    o->checkpoint_interval = 10;
    o->codec = PQ_CODEC_SNAPPY;
    o->max_rows_per_file = 1000000;
    o->row_group_rows = 1048576;
    o->max_commit_attempts = 10000;
}

const char *delta_table_path(const delta_table *t) { return t->path; }
const delta_snapshot *delta_table_snapshot(const delta_table *t) { return t->snap; }
int64_t delta_table_version(const delta_table *t) { return t->snap->version; }
const char *delta_table_last_warning(const delta_table *t) { return t->warning; }

/* Internal accessors for delta_writer.c. */
const delta_table_options *delta_table_opts(const delta_table *t);
const delta_table_options *delta_table_opts(const delta_table *t) { return &t->opt; }

/* NULL-safe. */
void delta_table_destroy(delta_table *t)
{
    if (!t) return;
    free(t->path);
    free(t->warning);
    delta_snapshot_destroy(t->snap);
    free(t);
}

/* Replaces the last warning (NULL clears it). */
static void set_warning(delta_table *t, const char *msg)
{
    free(t->warning);
    t->warning = msg ? st_xstrdup(msg) : NULL;
}

/* Loads the latest snapshot into a new handle (full load, once). */
delta_table *delta_table_open(const char *path, const delta_table_options *opt, st_err *e)
{
    delta_snapshot *s = delta_snapshot_load(path, -1, e);
    if (!s) return NULL;
    delta_table *t = st_xcalloc(1, sizeof *t);
    t->path = st_xstrdup(path);
    if (opt) {
        t->opt = *opt;
    } else {
        delta_table_options_init(&t->opt);
        /* without caller options the table's own property decides, as in Spark */
        const char *ci = delta_snapshot_configuration(s, "delta.checkpointInterval");
        if (ci && atoi(ci) > 0) t->opt.checkpoint_interval = atoi(ci);
    }
    t->snap = s;
    return t;
}

/* Incremental: applies only the commits after the handle's version. */
st_code delta_table_refresh(delta_table *t, st_err *e)
{
    return delta_snapshot_catch_up(t->snap, e);
}

/* An existing table matches a create request when schema and partition columns agree. */
static st_code check_same(delta_table *t, const delta_schema *schema, const char *const *pc, size_t npc, st_err *e)
{
    const delta_snapshot *s = t->snap;
    int same = delta_schema_equal(s->schema, schema) && s->npartition == npc;
    for (size_t i = 0; same && i < npc; i++) same = strcmp(s->partition_columns[i], pc[i]) == 0;
    if (!same)
        return st_err_set(e, ST_ERR_CONFLICT,
                          "table %s already exists with a different schema or partitioning (version %lld)", t->path,
                          (long long)s->version);
    return ST_OK;
}

/* See delta.h. Version 0 is written put-if-absent, so two creators race
 * safely: the loser opens the winner's table and compares schemas. */
delta_table *delta_table_create(const char *path, const delta_schema *schema,
                                const char *const *partition_columns, size_t npartition, const char *name,
                                const delta_table_options *opt, st_err *e)
{
    for (size_t i = 0; i < npartition; i++) {
        int idx = delta_schema_find(schema, partition_columns[i]);
        if (idx < 0) {
            st_err_set(e, ST_ERR_ARG, "table %s: partition column %s is not in the schema", path, partition_columns[i]);
            return NULL;
        }
        delta_type ty = delta_schema_field_type(schema, (size_t)idx);
        if (ty == DELTA_TYPE_DOUBLE || ty == DELTA_TYPE_OTHER) {
            st_err_set(e, ST_ERR_ARG, "table %s: partition column %s has type %s (not partitionable here)", path,
                       partition_columns[i], delta_type_name(ty));
            return NULL;
        }
    }
    if (npartition >= delta_schema_num_fields(schema) && npartition > 0) {
        st_err_set(e, ST_ERR_ARG, "table %s: every column is a partition column", path);
        return NULL;
    }
    int64_t latest = -1;
    if (delta_latest_version(path, &latest, e)) return NULL;
    if (latest < 0) {
        char *logdir = delta_log_dir(path);
        st_code rc = st_mkdirs(logdir, e);
        free(logdir);
        if (rc) return NULL;
        delta_snapshot *s = delta_snapshot_empty(path);
        char uuid[37];
        delta_uuid(uuid);
        s->id = st_xstrdup(uuid);
        s->name = name ? st_xstrdup(name) : NULL;
        s->format_provider = st_xstrdup("parquet");
        s->schema = delta_schema_copy(schema);
        s->schema_string = delta_schema_to_json(schema);
        s->npartition = npartition;
        s->partition_columns = st_xcalloc(npartition ? npartition : 1, sizeof(char *));
        for (size_t i = 0; i < npartition; i++) s->partition_columns[i] = st_xstrdup(partition_columns[i]);
        s->created_time = delta_now_ms();
        s->min_reader = 1;
        s->min_writer = 2;
        st_buf b = {0};
        json_t *pcj = json_array();
        for (size_t i = 0; i < npartition; i++) json_array_append_new(pcj, json_string(partition_columns[i]));
        char *pcs = json_dumps(pcj, JSON_COMPACT);
        json_decref(pcj);
        delta_json_line(&b, json_pack("{s:{s:I, s:s, s:{s:s, s:s, s:s}, s:b, s:s, s:s}}", "commitInfo", "timestamp",
                                      (json_int_t)s->created_time, "operation", "CREATE TABLE", "operationParameters",
                                      "partitionBy", pcs, "description", name ? name : "", "isManaged", "false",
                                      "isBlindAppend", 1, "engineInfo", "smarttech-delta/0.1", "txnId", uuid));
        free(pcs);
        delta_json_line(&b, delta_protocol_to_json(s));
        delta_json_line(&b, delta_metadata_to_json(s));
        char *p0 = delta_commit_path(path, 0);
        rc = st_write_file_exclusive(p0, b.data, b.len, e);
        free(p0);
        st_buf_free(&b);
        delta_snapshot_destroy(s);
        if (rc && rc != ST_ERR_CONFLICT) return NULL;
        st_err_clear(e); /* conflict: someone created it first; open and compare below */
    }
    delta_table *t = delta_table_open(path, opt, e);
    if (!t) return NULL;
    if (check_same(t, schema, partition_columns, npartition, e)) {
        delta_table_destroy(t);
        return NULL;
    }
    return t;
}

/* ------------------------------------------------------------------ commit */

/* We write protocol 1/2 tables only. */
static st_code check_writable(const delta_table *t, st_err *e)
{
    const delta_snapshot *s = t->snap;
    if (s->min_writer > 2)
        return st_err_set(e, ST_ERR_UNSUPPORTED, "table %s: writer version %d is not supported (we write 2)", t->path,
                          s->min_writer);
    return ST_OK;
}

/* Refuses a txn whose appId already has a version >= ours (the batch was
 * committed before, by us or another writer): this is what makes replays idempotent. */
/* The public params plus the removal part of delta_table_commit_with_removes. */
typedef struct commit_req {
    const delta_commit_params *pub;
    const delta_file *removes;
    size_t nremoves;
    int rearrange_only;
    int64_t body_ms;    /* the time written in the txn and remove lines (same on every attempt) */
} commit_req;

static st_code check_txns(const delta_table *t, const commit_req *p, st_err *e)
{
    for (size_t i = 0; i < p->nremoves; i++)
        if (delta_map_get(&t->snap->file_index, p->removes[i].path) == (size_t)-1)
            return st_err_set(e, ST_ERR_CONFLICT, "table %s: file %s to remove is not active (removed concurrently?)",
                              t->path, p->removes[i].path);
    for (size_t i = 0; i < p->pub->ntxns; i++) {
        const delta_txn *x = &p->pub->txns[i];
        int64_t cur = delta_snapshot_txn_version(t->snap, x->app_id);
        if (cur >= x->version)
            return st_err_set(e, ST_ERR_CONFLICT,
                              "table %s: txn %s is already at version %lld (>= %lld): this batch was committed "
                              "by another writer",
                              t->path, x->app_id, (long long)cur, (long long)x->version);
    }
    return ST_OK;
}

/* The commitInfo line: rebuilt per attempt (readVersion, timestamp). */
static void commit_info_line(st_buf *b, const delta_table *t, const commit_req *q, int64_t ts,
                             int64_t read_version, st_err *e, st_code *rc)
{
    const delta_commit_params *p = q->pub;
    json_t *ci = json_object();
    json_object_set_new(ci, "timestamp", json_integer(ts));
    json_object_set_new(ci, "operation", json_string(p->operation ? p->operation : "WRITE"));
    json_t *op = NULL;
    if (p->operation_parameters_json) {
        op = json_loads(p->operation_parameters_json, 0, NULL);
        if (!json_is_object(op)) {
            json_decref(op);
            op = NULL;
            *rc = st_err_set(e, ST_ERR_ARG, "table %s: operation_parameters_json is not a JSON object", t->path);
        }
    }
    if (!op) {
        json_t *pcj = json_array();
        for (size_t i = 0; i < t->snap->npartition; i++) json_array_append_new(pcj, json_string(t->snap->partition_columns[i]));
        char *pcs = json_dumps(pcj, JSON_COMPACT);
        json_decref(pcj);
        op = json_pack("{s:s, s:s}", "mode", "Append", "partitionBy", pcs);
        free(pcs);
    }
    json_object_set_new(ci, "operationParameters", op);
    json_object_set_new(ci, "readVersion", json_integer(read_version));
    json_object_set_new(ci, "isolationLevel", json_string("Serializable"));
    json_object_set_new(ci, "isBlindAppend", json_boolean(q->nremoves == 0));
    if (q->rearrange_only) json_object_set_new(ci, "dataChange", json_false());
    int64_t rows = 0, bytes = 0;
    for (size_t i = 0; i < p->nadds; i++) {
        rows += p->adds[i].num_records > 0 ? p->adds[i].num_records : 0;
        bytes += p->adds[i].size;
    }
    char nf[32], nr[32], nb[32];
    snprintf(nf, sizeof nf, "%zu", p->nadds);
    snprintf(nr, sizeof nr, "%lld", (long long)rows);
    snprintf(nb, sizeof nb, "%lld", (long long)bytes);
    json_object_set_new(ci, "operationMetrics",
                        json_pack("{s:s, s:s, s:s}", "numFiles", nf, "numOutputRows", nr, "numOutputBytes", nb));
    json_object_set_new(ci, "engineInfo", json_string("smarttech-delta/0.1"));
    char uuid[37];
    delta_uuid(uuid);
    json_object_set_new(ci, "txnId", json_string(uuid));
    if (p->commit_info_json) {
        json_t *x = json_loads(p->commit_info_json, 0, NULL);
        if (json_is_object(x))
            json_object_update(ci, x);
        else
            *rc = st_err_set(e, ST_ERR_ARG, "table %s: commit_info_json is not a JSON object", t->path);
        json_decref(x);
    }
    delta_json_line(b, json_pack("{s:o}", "commitInfo", ci));
}

/* Applies our own committed actions to the in-memory snapshot (it was at v-1). */
static void apply_own(delta_table *t, const commit_req *q, int64_t v, int64_t ts)
{
    const delta_commit_params *p = q->pub;
    for (size_t i = 0; i < p->ntxns; i++)
        delta_state_set_txn(t->snap, p->txns[i].app_id, p->txns[i].version,
                            p->txns[i].last_updated ? p->txns[i].last_updated : q->body_ms);
    for (size_t i = 0; i < q->nremoves; i++) {
        delta_file f;
        delta_file_copy(&f, &q->removes[i]);
        f.modification_time = q->body_ms;
        f.data_change = !q->rearrange_only;
        delta_state_remove_file(t->snap, &f);
    }
    for (size_t i = 0; i < p->nadds; i++) {
        delta_file f;
        delta_file_copy(&f, &p->adds[i]);
        f.data_change = !q->rearrange_only;
        delta_state_add_file(t->snap, &f);
    }
    t->snap->version = v;
    t->snap->last_commit_ms = ts;
}

/* See delta.h. Each attempt: txn check, commitInfo for the next version,
 * put-if-absent; a conflict reads the new commits (incremental) and tries again. The
 * add/txn lines are encoded once. Cost per attempt: one temp file write + fsync + link. */
st_code delta_table_commit(delta_table *t, const delta_commit_params *p, int64_t *version, st_err *e)
{
    return delta_table_commit_with_removes(t, p, NULL, 0, 0, version, e);
}

/* The commit loop behind both entry points (see delta_table_commit above). */
st_code delta_table_commit_with_removes(delta_table *t, const delta_commit_params *p, const delta_file *removes,
                                        size_t nremoves, int rearrange_only, int64_t *version, st_err *e)
{
    commit_req q = {p, removes, nremoves, rearrange_only, 0};
    st_code rc;
    if ((rc = check_writable(t, e))) return rc;
    const char *ao = delta_snapshot_configuration(t->snap, "delta.appendOnly");
    if (nremoves && !rearrange_only && ao && !strcmp(ao, "true"))
        return st_err_set(e, ST_ERR_STATE, "table %s is append-only (delta.appendOnly=true): cannot remove files",
                          t->path);
    for (size_t i = 0; i < p->nadds; i++)
        if (!p->adds[i].path || p->adds[i].size < 0)
            return st_err_set(e, ST_ERR_ARG, "table %s: add %zu has no path or a negative size", t->path, i);
    for (size_t i = 0; i < nremoves; i++)
        if (!removes[i].path)
            return st_err_set(e, ST_ERR_ARG, "table %s: remove %zu has no path", t->path, i);
    for (size_t i = 0; i < p->ntxns; i++)
        if (!p->txns[i].app_id || !*p->txns[i].app_id)
            return st_err_set(e, ST_ERR_ARG, "table %s: txn %zu has no appId", t->path, i);
    /* txn and add lines do not change between attempts: encode them once */
    st_buf body = {0};
    int64_t now = delta_now_ms();
    q.body_ms = now;
    for (size_t i = 0; i < p->ntxns; i++)
        delta_json_line(&body, json_pack("{s:{s:s, s:I, s:I}}", "txn", "appId", p->txns[i].app_id, "version",
                                         (json_int_t)p->txns[i].version, "lastUpdated",
                                         (json_int_t)(p->txns[i].last_updated ? p->txns[i].last_updated : now)));
    for (size_t i = 0; i < nremoves; i++) {
        delta_file r;
        delta_file_copy(&r, &removes[i]);
        r.modification_time = now;
        r.data_change = !rearrange_only;
        delta_json_line(&body, delta_file_to_json(&r, 1));
        delta_file_free(&r);
    }
    for (size_t i = 0; i < p->nadds; i++) {
        delta_file a;
        delta_file_copy(&a, &p->adds[i]);
        a.data_change = !rearrange_only;
        delta_json_line(&body, delta_file_to_json(&a, 0));
        delta_file_free(&a);
    }
    st_buf text = {0};
    int64_t meta0 = t->snap->meta_changes;
    int attempts = t->opt.max_commit_attempts > 0 ? t->opt.max_commit_attempts : 1;
    for (int a = 0; a < attempts; a++) {
        if ((rc = check_txns(t, &q, e))) goto done;
        int64_t v = t->snap->version + 1;
        int64_t ts = delta_now_ms();
        st_buf_reset(&text);
        rc = ST_OK;
        commit_info_line(&text, t, &q, ts, v - 1, e, &rc);
        if (rc) goto done;
        st_buf_append(&text, body.data, body.len);
        char *path = delta_commit_path(t->path, v);
        rc = st_write_file_exclusive(path, text.data, text.len, e);
        free(path);
        if (rc == ST_OK) {
            apply_own(t, &q, v, ts);
            if (version) *version = v;
            set_warning(t, NULL);
            if (t->opt.checkpoint_interval > 0 && v % t->opt.checkpoint_interval == 0) {
                st_err ce;
                if (delta_checkpoint_write(t->snap, &ce)) set_warning(t, ce.msg);
            }
            goto done;
        }
        if (rc != ST_ERR_CONFLICT) goto done;
        /* another writer took version v: read what it did, then try v+1 */
        if ((rc = delta_snapshot_catch_up(t->snap, e))) goto done;
        if (t->snap->meta_changes != meta0) {
            rc = st_err_set(e, ST_ERR_CONFLICT, "table %s: metadata or protocol changed concurrently (version %lld)",
                            t->path, (long long)t->snap->version);
            goto done;
        }
        if ((rc = check_writable(t, e))) goto done;
    }
    rc = st_err_set(e, ST_ERR_CONFLICT, "table %s: gave up after %d conflicting commit attempts", t->path, attempts);
done:
    st_buf_free(&body);
    st_buf_free(&text);
    return rc;
}

/* Checkpoint of the handle's current snapshot. */
st_code delta_table_checkpoint(delta_table *t, st_err *e)
{
    return delta_checkpoint_write(t->snap, e);
}
