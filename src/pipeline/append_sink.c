/* append_sink.c — the idempotent append sink (policy in append_sink.h): the txn pre-check,
 * then delta_table_write_files and delta_table_commit_files, which carries the commit and
 * clean-up policy for every writer of new files. */
#include "pipeline/append_sink.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* How many of p's txns t already holds; *first = the index of the first one held. */
static size_t txns_held(const delta_table *t, const append_sink_params *p, size_t *first)
{
    const delta_snapshot *s = delta_table_snapshot(t);
    size_t n = 0;
    for (size_t i = p->ntxns; i-- > 0;)
        if (delta_snapshot_txn_version(s, p->txns[i].app_id) >= p->txns[i].version) {
            n++;
            *first = i;
        }
    return n;
}

/* Rule 1 before any I/O: ST_OK with *skip = 1 when the batch is in the table already. */
static st_code precheck(delta_table *t, const append_sink_params *p, append_sink_result *r, int *skip, st_err *e)
{
    *skip = 0;
    memset(r, 0, sizeof *r);
    r->version = -1;
    if (!p->ntxns || !p->txns)
        return st_err_set(e, ST_ERR_ARG, "table %s: an append needs at least one txn (appId and version)",
                          delta_table_path(t));
    size_t first = 0, held = txns_held(t, p, &first);
    if (held == p->ntxns) {
        r->outcome = APPEND_SINK_SKIPPED;
        r->version = delta_table_version(t);
        *skip = 1;
        return ST_OK;
    }
    if (held)
        return st_err_set(e, ST_ERR_CONFLICT,
                          "table %s already holds %zu of this batch's %zu txns (txn %s is at version %lld, >= %lld): "
                          "another writer committed part of it",
                          delta_table_path(t), held, p->ntxns, p->txns[first].app_id,
                          (long long)delta_snapshot_txn_version(delta_table_snapshot(t), p->txns[first].app_id),
                          (long long)p->txns[first].version);
    return ST_OK;
}

/* The commit of files under delta's policy, and the result. */
static st_code commit(delta_table *t, const delta_file *files, size_t n, const append_sink_params *p,
                      unsigned flags, append_sink_result *r, st_err *e)
{
    delta_commit_params cp = {0};
    cp.adds = files;
    cp.nadds = n;
    cp.txns = p->txns;
    cp.ntxns = p->ntxns;
    cp.operation = p->operation ? p->operation : "STREAMING UPDATE";
    cp.operation_parameters_json = p->operation_parameters_json ? p->operation_parameters_json
                                                                : "{\"outputMode\":\"Append\"}";
    cp.commit_info_json = p->commit_info_json;
    delta_commit_result cr;
    st_code rc = delta_table_commit_files(t, &cp, NULL, 0, flags, &cr, e);
    r->attempts = cr.attempts;
    r->ambiguous = cr.ambiguous;
    if (rc) return rc;
    if (cr.txns_held) {
        r->outcome = APPEND_SINK_SKIPPED;
        r->version = delta_table_version(t);
        return ST_OK;
    }
    r->outcome = APPEND_SINK_COMMITTED;
    r->version = cr.version;
    r->files = n;
    for (size_t i = 0; i < n; i++) r->rows += files[i].num_records > 0 ? files[i].num_records : 0;
    return ST_OK;
}

/* See append_sink.h. */
st_code append_sink_write_batch(delta_table *t, const delta_batch *batch, const append_sink_params *p,
                                append_sink_result *r, st_err *e)
{
    append_sink_result lr;
    if (!r) r = &lr;
    int skip;
    st_code rc = precheck(t, p, r, &skip, e);
    if (rc || skip) return rc;
    delta_file_list adds = {0};
    if ((rc = delta_table_write_files(t, batch, &adds, e)) == ST_OK) /* deletes its files on failure */
        rc = commit(t, adds.items, adds.count, p, 0, r, e);
    delta_file_list_free(&adds);
    return rc;
}

/* A redo from a batch log must not commit a reference to a file that is gone (the table
 * would become unreadable). Cost: one stat per file. */
static st_code check_files_exist(const delta_table *t, const delta_file *files, size_t n, st_err *e)
{
    for (size_t i = 0; i < n; i++) {
        char *key = delta_file_key(&files[i]);
        st_stat st;
        st_err se;
        st_code rc = key ? st_store_stat(delta_table_store(t), key, &st, &se) : ST_ERR_NOTFOUND;
        if (rc == ST_ERR_NOTFOUND)
            st_err_set(e, ST_ERR_STATE, "data file %s/%s to commit is missing (were files removed from the table?)",
                       delta_table_path(t), key ? key : files[i].path);
        else if (rc && e)
            *e = se;
        free(key);
        if (rc) return rc == ST_ERR_NOTFOUND ? ST_ERR_STATE : rc;
    }
    return ST_OK;
}

/* See append_sink.h. */
st_code append_sink_commit_files(delta_table *t, const delta_file *files, size_t nfiles,
                                 const append_sink_params *p, append_sink_result *r, st_err *e)
{
    append_sink_result lr;
    if (!r) r = &lr;
    int skip;
    st_code rc = precheck(t, p, r, &skip, e);
    if (rc || skip) return rc;
    if ((rc = check_files_exist(t, files, nfiles, e))) return rc;
    return commit(t, files, nfiles, p, DELTA_COMMIT_KEEP_FILES, r, e);
}
