/* delta_table.c — the table handle: create (idempotent), open, incremental refresh,
 * and the commit loop (put-if-absent, re-read and retry on conflict, checkpoints). */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SMARTTECH_TEST_HOOKS
#include "delta/delta_testhook.h"
#endif

/* Ambiguous puts one commit call resolves before it gives up (a storage that keeps failing
 * after writing is not retried 10,000 times). */
#define AMBIGUOUS_RETRIES 3

struct delta_table {
    char *path;                /* the store's root */
    st_store *store;           /* owned; the snapshot borrows it */
    delta_table_options opt;
    delta_snapshot *snap;
    char *warning;
#ifdef SMARTTECH_TEST_HOOKS
    delta_put_fault fault;
    int fault_count;
    void (*before_put)(void *);
    void *before_put_arg;
    char *late_key;              /* DELTA_PUT_AMBIGUOUS_LATE: the put still to land */
    st_buf late_text;
#endif
};

/* Defaults documented in delta.h. */
void delta_table_options_init(delta_table_options *o)
{
    o->checkpoint_interval = 10;
    o->codec = PQ_CODEC_SNAPPY;
    o->max_rows_per_file = 1000000;
    o->row_group_rows = 1048576;
    o->max_commit_attempts = 10000;
    o->tombstone_retention_ms = -1;
    o->track_tombstones = 1;
}

const char *delta_table_path(const delta_table *t) { return t->path; }
st_store *delta_table_store(const delta_table *t) { return t->store; }
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
#ifdef SMARTTECH_TEST_HOOKS
    free(t->late_key);
    st_buf_free(&t->late_text);
#endif
    free(t->path);
    free(t->warning);
    delta_snapshot_destroy(t->snap);
    st_store_close(t->store);
    free(t);
}

/* Replaces the last warning (NULL clears it). */
static void set_warning(delta_table *t, const char *msg)
{
    free(t->warning);
    t->warning = msg ? st_xstrdup(msg) : NULL;
}

/* Loads the latest snapshot into a new handle (full load, once) from a store it owns. */
static delta_table *table_open(st_store *store, const delta_table_options *opt, st_err *e)
{
    delta_snapshot *s = delta_snapshot_load_store(store, NULL, e);
    if (!s) {
        st_store_close(store);
        return NULL;
    }
    delta_table *t = st_xcalloc(1, sizeof *t);
    t->path = st_xstrdup(st_store_root(store));
    t->store = store;
    if (opt) {
        t->opt = *opt;
    } else {
        delta_table_options_init(&t->opt);
        /* without caller options the table's own property decides, as in Spark */
        const char *ci = delta_snapshot_configuration(s, "delta.checkpointInterval");
        if (ci && atoi(ci) > 0) t->opt.checkpoint_interval = atoi(ci);
    }
    if (!t->opt.track_tombstones) {
        s->no_tombstones = 1;
        delta_state_expire_tombstones(s, INT64_MAX); /* those of the checkpoint we loaded */
    }
    t->snap = s;
    return t;
}

delta_table *delta_table_open(const char *path, const delta_table_options *opt, st_err *e)
{
    st_store *store;
    return st_store_open(path, &store, e) ? NULL : table_open(store, opt, e);
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
    st_store *store;
    if (st_store_open(path, &store, e)) return NULL;
    int64_t latest = -1;
    if (delta_latest_version(store, &latest, e)) {
        st_store_close(store);
        return NULL;
    }
    if (latest < 0) {
        delta_snapshot *s = delta_snapshot_empty(st_store_root(store), store);
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
        char key[DELTA_KEY_MAX];
        st_code rc = st_store_put_if_absent(store, delta_commit_key(key, 0), b.data, b.len, e);
        st_buf_free(&b);
        delta_snapshot_destroy(s);
        if (rc && rc != ST_ERR_CONFLICT) {
            st_store_close(store);
            return NULL;
        }
        st_err_clear(e); /* conflict: someone created it first; open and compare below */
    }
    delta_table *t = table_open(store, opt, e);
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

/* The public params plus the removal part of delta_table_commit_with_removes. */
typedef struct commit_req {
    const delta_commit_params *pub;
    const delta_file *removes;
    size_t nremoves;
    int rearrange_only;
    int64_t body_ms;    /* the time written in the txn and remove lines (same on every attempt) */
    char *txn_id;       /* commitInfo.txnId of every attempt: how we recognise our commit in the log */
} commit_req;

/* Refuses a txn whose appId already has a version >= ours (the batch was
 * committed before, by us or another writer): this is what makes replays idempotent.
 * *all_held says whether every txn is held (a re-sent batch) rather than some. */
static st_code check_txns(const delta_table *t, const commit_req *p, int *all_held, st_err *e)
{
    *all_held = 0;
    for (size_t i = 0; i < p->nremoves; i++)
        if (delta_map_get(&t->snap->file_index, p->removes[i].path) == (size_t)-1)
            return st_err_set(e, ST_ERR_CONFLICT, "table %s: file %s to remove is not active (removed concurrently?)",
                              t->path, p->removes[i].path);
    for (size_t i = 0; i < p->pub->ntxns; i++) {
        const delta_txn *x = &p->pub->txns[i];
        int64_t cur = delta_snapshot_txn_version(t->snap, x->app_id);
        if (cur >= x->version) {
            size_t held = 0;
            for (size_t k = 0; k < p->pub->ntxns; k++)
                held += delta_snapshot_txn_version(t->snap, p->pub->txns[k].app_id) >= p->pub->txns[k].version;
            *all_held = held == p->pub->ntxns;
            return st_err_set(e, ST_ERR_CONFLICT,
                              "table %s: txn %s is already at version %lld (>= %lld): this batch was committed "
                              "by another writer",
                              t->path, x->app_id, (long long)cur, (long long)x->version);
        }
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
    json_object_set_new(ci, "txnId", json_string(q->txn_id));
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

/* The txnId every attempt writes: commit_info_json's own "txnId" when it sets one, else a
 * new random UUID. Malloc'd. */
static char *commit_txn_id(const delta_commit_params *p)
{
    char *id = NULL;
    if (p->commit_info_json) {
        json_t *x = json_loads(p->commit_info_json, 0, NULL);
        const char *s = json_string_value(json_object_get(x, "txnId"));
        if (s) id = st_xstrdup(s);
        json_decref(x);
    }
    if (!id) {
        char uuid[37];
        delta_uuid(uuid);
        id = st_xstrdup(uuid);
    }
    return id;
}

/* Put-if-absent of one commit file. ST_ERR_CONFLICT: the version exists; ST_ERR_AMBIGUOUS:
 * may have been written; any other error: nothing was written. */
static st_code put_commit(delta_table *t, const char *key, const st_buf *text, st_err *e)
{
#ifdef SMARTTECH_TEST_HOOKS
    if (t->before_put) t->before_put(t->before_put_arg);
    if (t->late_key) {
        st_store_put_if_absent(t->store, t->late_key, t->late_text.data, t->late_text.len, NULL);
        free(t->late_key);
        t->late_key = NULL;
    }
    if (t->fault_count > 0 && t->fault != DELTA_PUT_NORMAL) {
        t->fault_count--;
        if (t->fault == DELTA_PUT_AMBIGUOUS_LATE) {
            t->late_key = st_xstrdup(key);
            st_buf_reset(&t->late_text);
            st_buf_append(&t->late_text, text->data, text->len);
            return st_err_set(e, ST_ERR_AMBIGUOUS, "cannot create %s/%s: injected timeout (lands later)", t->path, key);
        }
        if (t->fault == DELTA_PUT_FAIL)
            return st_err_set(e, ST_ERR_IO, "cannot create %s/%s: injected fault (nothing written)", t->path, key);
        if (t->fault == DELTA_PUT_AMBIGUOUS_LOST)
            return st_err_set(e, ST_ERR_AMBIGUOUS, "cannot create %s/%s: injected timeout (nothing written)", t->path, key);
        st_code rc = st_store_put_if_absent(t->store, key, text->data, text->len, e);
        if (rc) return rc;
        return st_err_set(e, ST_ERR_AMBIGUOUS, "cannot sync %s/%s: injected fault (the file was written)", t->path, key);
    }
#endif
    return st_store_put_if_absent(t->store, key, text->data, text->len, e);
}

/* Whether version v of the log is the commit with our txnId. */
static st_code commit_is_ours(const delta_table *t, int64_t v, const char *txn_id, int *ours, st_err *e)
{
    delta_version_changes *c = NULL;
    size_t n = 0;
    *ours = 0;
    st_code rc = delta_changes_read(t->store, v, v, &c, &n, e);
    if (rc == ST_OK) *ours = n == 1 && c[0].txn_id && strcmp(c[0].txn_id, txn_id) == 0;
    delta_changes_free(c, n);
    return rc;
}

/* The commit loop behind every entry point (see delta_table_commit in delta.h). Each attempt:
 * txn check, commitInfo for the next version, put-if-absent; a conflict reads the new commits
 * (incremental) and tries again. The add/txn lines are encoded once. `unsettled` is the version
 * of an ambiguous attempt: once the log reaches it, it is either ours (success) or another
 * writer's (ours can never land there, put-if-absent). Cost per attempt: one temp file write
 * + fsync + link; an ambiguous attempt adds the re-read of that version. */
static st_code commit_loop(delta_table *t, commit_req *q, delta_commit_result *r, st_err *e)
{
    const delta_commit_params *p = q->pub;
    st_code rc;
    if ((rc = check_writable(t, e))) return rc;
    const char *ao = delta_snapshot_configuration(t->snap, "delta.appendOnly");
    if (q->nremoves && !q->rearrange_only && ao && !strcmp(ao, "true"))
        return st_err_set(e, ST_ERR_STATE, "table %s is append-only (delta.appendOnly=true): cannot remove files",
                          t->path);
    for (size_t i = 0; i < p->nadds; i++)
        if (!p->adds[i].path || p->adds[i].size < 0)
            return st_err_set(e, ST_ERR_ARG, "table %s: add %zu has no path or a negative size", t->path, i);
    for (size_t i = 0; i < q->nremoves; i++)
        if (!q->removes[i].path)
            return st_err_set(e, ST_ERR_ARG, "table %s: remove %zu has no path", t->path, i);
    for (size_t i = 0; i < p->ntxns; i++)
        if (!p->txns[i].app_id || !*p->txns[i].app_id)
            return st_err_set(e, ST_ERR_ARG, "table %s: txn %zu has no appId", t->path, i);
    /* txn and add lines do not change between attempts: encode them once */
    st_buf body = {0};
    int64_t now = delta_now_ms();
    q->body_ms = now;
    for (size_t i = 0; i < p->ntxns; i++)
        delta_json_line(&body, json_pack("{s:{s:s, s:I, s:I}}", "txn", "appId", p->txns[i].app_id, "version",
                                         (json_int_t)p->txns[i].version, "lastUpdated",
                                         (json_int_t)(p->txns[i].last_updated ? p->txns[i].last_updated : now)));
    for (size_t i = 0; i < q->nremoves; i++) {
        delta_file rm;
        delta_file_copy(&rm, &q->removes[i]);
        rm.modification_time = now;
        rm.data_change = !q->rearrange_only;
        delta_json_line(&body, delta_file_to_json(&rm, 1));
        delta_file_free(&rm);
    }
    for (size_t i = 0; i < p->nadds; i++) {
        delta_file a;
        delta_file_copy(&a, &p->adds[i]);
        a.data_change = !q->rearrange_only;
        delta_json_line(&body, delta_file_to_json(&a, 0));
        delta_file_free(&a);
    }
    st_buf text = {0};
    int64_t meta0 = t->snap->meta_changes;
    /* A handle idle for longer than the log retention while others committed would put its
     * commit into a version the clean-up deleted below a newer checkpoint: put-if-absent
     * succeeds in that hole, and readers, who start from the checkpoint, never see the commit.
     * One small read tells (_last_checkpoint past the handle); catching up then reloads the
     * handle from that checkpoint. A metadata change found on the way is still a conflict
     * (meta0 was taken before). */
    int64_t unsettled = -1;
    if (delta_last_checkpoint_version(t->snap->store) > t->snap->version &&
        (rc = delta_snapshot_catch_up(t->snap, e)))
        goto done;
    int attempts = t->opt.max_commit_attempts > 0 ? t->opt.max_commit_attempts : 1;
    for (int a = 0; a < attempts; a++) {
        if ((rc = check_txns(t, q, &r->txns_held, e))) goto done;
        int64_t v = t->snap->version + 1;
        int64_t ts = delta_now_ms();
        st_buf_reset(&text);
        rc = ST_OK;
        commit_info_line(&text, t, q, ts, v - 1, e, &rc);
        if (rc) goto done;
        st_buf_append(&text, body.data, body.len);
        char key[DELTA_KEY_MAX];
        delta_commit_key(key, v);
        r->attempts++;
        st_err pe;
        st_err_clear(&pe);
        rc = put_commit(t, key, &text, &pe);
        if (rc && e) *e = pe;
        if (rc == ST_OK) {
            apply_own(t, q, v, ts);
            r->version = v;
            set_warning(t, NULL);
            if (t->opt.checkpoint_interval > 0 && v % t->opt.checkpoint_interval == 0 && t->opt.track_tombstones) {
                st_err ce;
                if (delta_table_checkpoint(t, &ce)) set_warning(t, ce.msg);
            }
            goto done;
        }
        if (rc == ST_ERR_AMBIGUOUS) {
            r->ambiguous++;
            unsettled = v;
        } else if (rc != ST_ERR_CONFLICT) {
            goto done;
        }
        /* read what is at v now (another writer's commit, or maybe ours), then try again */
        int was_ambiguous = rc == ST_ERR_AMBIGUOUS;
        if ((rc = delta_snapshot_catch_up(t->snap, e))) goto done;
        if (unsettled >= 0 && t->snap->version >= unsettled) {
            int ours = 0;
            if ((rc = commit_is_ours(t, unsettled, q->txn_id, &ours, e))) goto done;
            if (ours) {
                /* it landed: the catch-up applied it like any other commit */
                r->version = unsettled;
                set_warning(t, NULL);
                goto done;
            }
            unsettled = -1;
        }
        if (was_ambiguous && r->ambiguous >= AMBIGUOUS_RETRIES) {
            rc = ST_ERR_AMBIGUOUS;
            if (e) *e = pe;
            st_err_wrap(e, "table %s: gave up after %d commit attempts with an unknown outcome%s", t->path,
                        r->ambiguous, unsettled >= 0 ? " (the last one may still land)" : "");
            goto done;
        }
        if (t->snap->meta_changes != meta0) {
            rc = st_err_set(e, ST_ERR_CONFLICT, "table %s: metadata or protocol changed concurrently (version %lld)",
                            t->path, (long long)t->snap->version);
            goto done;
        }
        if ((rc = check_writable(t, e))) goto done;
    }
    rc = st_err_set(e, ST_ERR_CONFLICT, "table %s: gave up after %d conflicting commit attempts", t->path, attempts);
done:
    r->maybe_landed = rc != ST_OK && unsettled >= 0;
    if (rc != ST_OK) r->txns_held = r->txns_held && rc == ST_ERR_CONFLICT;
    st_buf_free(&body);
    st_buf_free(&text);
    return rc;
}

/* Runs the commit loop for one request with its own txnId. */
static st_code commit_run(delta_table *t, const delta_commit_params *p, const delta_file *removes, size_t nremoves,
                          int rearrange_only, delta_commit_result *r, st_err *e)
{
    memset(r, 0, sizeof *r);
    r->version = -1;
    commit_req q = {p, removes, nremoves, rearrange_only, 0, commit_txn_id(p)};
    st_code rc = commit_loop(t, &q, r, e);
    free(q.txn_id);
    return rc;
}

/* See delta.h. */
st_code delta_table_commit(delta_table *t, const delta_commit_params *p, int64_t *version, st_err *e)
{
    return delta_table_commit_with_removes(t, p, NULL, 0, 0, version, e);
}

/* See delta.h: the commit loop without the file policy. */
st_code delta_table_commit_with_removes(delta_table *t, const delta_commit_params *p, const delta_file *removes,
                                        size_t nremoves, int rearrange_only, int64_t *version, st_err *e)
{
    delta_commit_result r;
    st_code rc = commit_run(t, p, removes, nremoves, rearrange_only, &r, e);
    if (rc == ST_OK && version) *version = r.version;
    return rc;
}

/* See delta_internal.h. A failure leaves an orphan that vacuum removes once it is older than
 * the retention: not worth failing the caller for. */
void delta_files_delete(st_store *store, const delta_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *key = delta_file_key(&files[i]);
        if (key) st_store_delete(store, key, NULL);
        free(key);
    }
}

/* See delta.h: the commit loop plus what happens to the new files. */
st_code delta_table_commit_files(delta_table *t, const delta_commit_params *p, const delta_file *removes,
                                 size_t nremoves, unsigned flags, delta_commit_result *r, st_err *e)
{
    delta_commit_result lr;
    if (!r) r = &lr;
    st_code rc = commit_run(t, p, removes, nremoves, (flags & DELTA_COMMIT_REARRANGE) != 0, r, e);
    if (rc == ST_OK) return ST_OK;
    int keep = (flags & DELTA_COMMIT_KEEP_FILES) != 0;
    if (r->maybe_landed) {
        if (p->nadds && !keep) st_err_wrap(e, "its %zu new data file(s) are kept (the commit may have landed)", p->nadds);
        return rc;
    }
    if (!keep && p->nadds) {
        delta_files_delete(t->store, p->adds, p->nadds);
        r->files_deleted = 1;
    }
    if (r->txns_held) {
        st_err_clear(e); /* a re-sent batch: already in the table, nothing to do */
        return ST_OK;
    }
    return rc;
}

#ifdef SMARTTECH_TEST_HOOKS
void delta_table_test_fault(delta_table *t, delta_put_fault fault, int count)
{
    t->fault = fault;
    t->fault_count = count;
}

void delta_table_test_before_put(delta_table *t, void (*fn)(void *arg), void *arg)
{
    t->before_put = fn;
    t->before_put_arg = arg;
}
#endif

/* Checkpoint of the handle's current snapshot; expired tombstones leave its memory first, so
 * a long-lived handle holds at most a retention's worth of removes. */
st_code delta_table_checkpoint(delta_table *t, st_err *e)
{
    if (!t->opt.track_tombstones)
        return st_err_set(e, ST_ERR_STATE,
                          "table %s: this handle does not track removed files, it cannot write a checkpoint", t->path);
    int64_t ret;
    st_code rc = delta_retention_ms(t->snap, t->opt.tombstone_retention_ms, "delta.deletedFileRetentionDuration",
                                    DELTA_DEFAULT_FILE_RETENTION_MS, &ret, e);
    if (rc) return rc;
    int64_t horizon = delta_now_ms() - ret;
    delta_state_expire_tombstones(t->snap, horizon);
    return delta_checkpoint_write(t->snap, horizon, e);
}
