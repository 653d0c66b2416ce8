/* delta_snapshot.c — log replay: which checkpoint and commits make a version, read
 * through the table's store and applied to a state (delta_state.c). The log is listed from
 * the last checkpoint on (start-after), so opening a table costs the same at version 10
 * and at version 10 million; catching up reads the next commits by key and lists nothing. */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ loading */

/* Defaults: latest version, use checkpoints. */
void delta_load_options_init(delta_load_options *o)
{
    o->version = -1;
    o->ignore_checkpoints = 0;
}

/* Reads one commit and applies it; ST_ERR_NOTFOUND when the version does not exist. The
 * commit's time is its commitInfo.timestamp, else the file's mtime as the store gives it. */
static st_code apply_version(delta_snapshot *s, int64_t v, st_err *e)
{
    char key[DELTA_KEY_MAX], where[1200];
    delta_commit_key(key, v);
    st_buf b = {0};
    st_stat st = {0, -1};
    st_code rc = st_store_read(s->store, key, &b, &st, e);
    if (!rc) {
        snprintf(where, sizeof where, "%s/%s", s->table_path, key);
        int64_t before = s->last_commit_ms;
        s->last_commit_ms = -1;
        rc = delta_state_apply_commit(s, (const char *)b.data, b.len, where, e);
        if (!rc) {
            s->version = v;
            if (s->last_commit_ms < 0) s->last_commit_ms = st.mtime_ms;
        } else {
            s->last_commit_ms = before;
        }
    }
    st_buf_free(&b);
    return rc;
}

/* The metaData and protocol of a state as text, to tell whether a reload changed them. */
static char *meta_text(const delta_snapshot *s)
{
    json_t *a = json_array();
    if (s->has_metadata) json_array_append_new(a, delta_metadata_to_json(s));
    json_array_append_new(a, delta_protocol_to_json(s));
    char *t = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(a);
    return t;
}

/* The handle fell behind the log's clean-up: the commits after its version were deleted below
 * a newer checkpoint (a writer idle for longer than the log retention while others committed).
 * Its state is replaced by a load from the latest checkpoint. A put-if-absent at the next
 * version would otherwise succeed in the hole and hide the commit below that checkpoint. The
 * metadata counter moves only if the metadata really changed (the commit loop refuses to commit
 * across a metadata change). */
static st_code reload_latest(delta_snapshot *s, st_err *e)
{
    delta_snapshot *n = delta_snapshot_load_store(s->store, NULL, e);
    if (!n) return e ? e->code : ST_ERR_IO;
    char *before = meta_text(s), *after = meta_text(n);
    int64_t meta = s->meta_changes + (strcmp(before, after) != 0);
    free(before);
    free(after);
    if (s->no_tombstones) {
        n->no_tombstones = 1;
        delta_state_expire_tombstones(n, INT64_MAX);
    }
    delta_snapshot old = *s;
    *s = *n;
    *n = old;
    s->owns_store = old.owns_store;
    s->meta_changes = meta;
    n->owns_store = 0; /* the store stays with s */
    delta_snapshot_destroy(n);
    return ST_OK;
}

/* Refresh helper for the table handle: applies versions after s->version until one is
 * missing. Reads the next keys instead of listing: one read per new version plus one that
 * finds nothing (one GET and one 404 on object storage), whatever the log's length, and the
 * small _last_checkpoint to be sure the missing one is the end of the log and not a commit
 * the clean-up deleted (then the state is reloaded from that checkpoint). */
st_code delta_snapshot_catch_up(delta_snapshot *s, st_err *e)
{
    for (;;) {
        st_err le;
        st_code rc = apply_version(s, s->version + 1, &le);
        if (rc == ST_ERR_NOTFOUND) {
            if (s->store && delta_last_checkpoint_version(s->store) > s->version) {
                if ((rc = reload_latest(s, e))) return rc;
                continue;
            }
            return ST_OK;
        }
        if (rc) {
            if (e) *e = le;
            return rc;
        }
    }
}

/* delta_snapshot_load_opts with a version only. */
delta_snapshot *delta_snapshot_load(const char *table_path, int64_t version, st_err *e)
{
    delta_load_options o;
    delta_load_options_init(&o);
    o.version = version;
    return delta_snapshot_load_opts(table_path, &o, e);
}

/* Opens the table's store for the snapshot's lifetime. */
delta_snapshot *delta_snapshot_load_opts(const char *table_path, const delta_load_options *o, st_err *e)
{
    st_store *store;
    if (st_store_open(table_path, &store, e)) return NULL;
    delta_snapshot *s = delta_snapshot_load_store(store, o, e);
    if (!s) st_store_close(store);
    else s->owns_store = 1;
    return s;
}

/* A checkpoint we cannot read (a feature, or no reader in this build) is skipped when the
 * JSON commits from version 0 are all there: lists the whole log (when *l does not hold it
 * already) to see. 1 when replay from 0 is possible (*l then holds the whole log). */
static int can_replay_from_zero(st_store *store, int64_t listed_from, delta_log_listing *l)
{
    if (listed_from > 0) {
        delta_log_listing all = {0};
        if (delta_list_log(store, 0, &all, NULL) != ST_OK) return 0;
        delta_log_listing_free(l);
        *l = all;
    }
    return l->ncommits && l->commits[0].version == 0;
}

/* See delta.h. Checkpoint choice: the newest complete one <= the target among those listed
 * from _last_checkpoint on; when _last_checkpoint is missing, damaged or names a checkpoint
 * that is not there, or the target is older, the whole log is listed instead. */
delta_snapshot *delta_snapshot_load_store(st_store *store, const delta_load_options *o, st_err *e)
{
    delta_load_options def;
    if (!o) {
        delta_load_options_init(&def);
        o = &def;
    }
    const char *tp = st_store_root(store);
    delta_log_listing L = {0};
    delta_snapshot *s = NULL;
    int64_t from = 0;
    if (!o->ignore_checkpoints) {
        int64_t lc = delta_last_checkpoint_version(store);
        if (lc > 0 && (o->version < 0 || lc <= o->version)) from = lc;
    }
    st_code rc = delta_list_log(store, from, &L, e);
    if (rc) goto fail;
    if (from > 0 && delta_log_find(L.checkpoints, L.ncheckpoints, from) < 0) {
        /* _last_checkpoint names a checkpoint that is not (completely) there */
        delta_log_listing_free(&L);
        from = 0;
        if ((rc = delta_list_log(store, 0, &L, e))) goto fail;
    }
    if (!L.ncommits && !L.ncheckpoints) {
        st_err_set(e, ST_ERR_NOTFOUND, "%s: not a Delta table (no commit in %s/_delta_log)", tp, tp);
        goto fail;
    }
    int64_t latest = L.ncommits ? L.commits[L.ncommits - 1].version : -1;
    if (L.ncheckpoints && L.checkpoints[L.ncheckpoints - 1].version > latest)
        latest = L.checkpoints[L.ncheckpoints - 1].version;
    int64_t target = o->version >= 0 ? o->version : latest;
    if (target > latest) {
        st_err_set(e, ST_ERR_NOTFOUND, "%s: version %lld does not exist (latest is %lld)", tp, (long long)target,
                   (long long)latest);
        goto fail;
    }
    long cpi = -1;
    if (!o->ignore_checkpoints)
        for (size_t i = L.ncheckpoints; i-- > 0;)
            if (L.checkpoints[i].version <= target) {
                cpi = (long)i;
                break;
            }
    int64_t cp = cpi >= 0 ? L.checkpoints[cpi].version : -1;
    s = delta_snapshot_empty(tp, store);
    if (cp >= 0) {
        int64_t cp_mtime = L.checkpoints[cpi].mtime_ms;
        rc = delta_checkpoint_read(s, cp, e);
        if (rc == ST_ERR_UNSUPPORTED && can_replay_from_zero(store, from, &L)) {
            delta_snapshot_destroy(s);
            s = delta_snapshot_empty(tp, store);
            cp = -1;
            rc = ST_OK;
        }
        if (rc) goto fail;
        if (cp >= 0) {
            s->version = cp;
            s->checkpoint_version = cp;
            long ci = delta_log_find(L.commits, L.ncommits, cp);
            s->last_commit_ms = ci >= 0 ? L.commits[ci].mtime_ms : cp_mtime;
        }
    }
    for (int64_t v = cp + 1; v <= target; v++) {
        if (delta_log_find(L.commits, L.ncommits, v) < 0) {
            char key[DELTA_KEY_MAX];
            st_err_set(e, cp < 0 && v == 0 ? ST_ERR_NOTFOUND : ST_ERR_FORMAT,
                       "%s/%s is missing (the log has a gap before version %lld)", tp, delta_commit_key(key, v),
                       (long long)target);
            goto fail;
        }
        if ((rc = apply_version(s, v, e))) goto fail;
    }
    if ((rc = delta_state_check_readable(s, tp, e))) goto fail;
    delta_log_listing_free(&L);
    return s;
fail:
    delta_log_listing_free(&L);
    delta_snapshot_destroy(s);
    return NULL;
}

/* Newest commit or checkpoint version: the listing from _last_checkpoint on, or of the
 * whole log when that finds nothing (no _last_checkpoint, or a wrong one). -1 without a log. */
st_code delta_latest_version(st_store *table, int64_t *version, st_err *e)
{
    *version = -1;
    int64_t lc = delta_last_checkpoint_version(table);
    delta_log_listing l;
    st_code rc = delta_list_log(table, lc, &l, e);
    if (!rc && lc > 0 && !l.ncommits && !l.ncheckpoints) {
        delta_log_listing_free(&l);
        rc = delta_list_log(table, 0, &l, e);
    }
    if (rc) return rc;
    if (l.ncommits) *version = l.commits[l.ncommits - 1].version;
    if (l.ncheckpoints && l.checkpoints[l.ncheckpoints - 1].version > *version)
        *version = l.checkpoints[l.ncheckpoints - 1].version;
    delta_log_listing_free(&l);
    return ST_OK;
}
