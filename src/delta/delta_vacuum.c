/* delta_vacuum.c — `VACUUM`: delete data files the latest snapshot no longer references
 * once they are older than the retention (tombstone time for removed files, mtime for
 * orphans), and optionally expired log files below an old checkpoint. Also the
 * interval parser of retention properties ("168h", "interval 1 week": util's duration
 * grammar, in milliseconds). */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"


/* ------------------------------------------------------------------ intervals */

/* See delta.h: util's duration grammar (st_parse_duration_us), in milliseconds. */
st_code delta_parse_interval_ms(const char *text, int64_t *ms, st_err *e)
{
    int64_t us;
    if (!text) return st_err_set(e, ST_ERR_ARG, "missing interval");
    if (st_parse_duration_us(text, &us) != 0)
        return st_err_set(e, ST_ERR_ARG,
                          "'%s' is not an interval (examples: 168h, 7d, 30m, 3600, \"interval 1 week\")", text);
    *ms = us / 1000;
    return ST_OK;
}

/* ------------------------------------------------------------------ results */

/* Defaults documented in delta.h. */
void delta_vacuum_options_init(delta_vacuum_options *o)
{
    memset(o, 0, sizeof *o);
    o->retention_ms = -1;
    o->log_retention_ms = -1;
}

/* NULL-safe. */
void delta_vacuum_result_free(delta_vacuum_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nfiles; i++) free(r->files[i]);
    free(r->files);
    free(r->sizes);
    for (size_t i = 0; i < r->nlog_files; i++) free(r->log_files[i]);
    free(r->log_files);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ listing */

typedef struct candidate {
    char *rel;
    int64_t size;
} candidate;

typedef struct walk {
    st_store *store;
    const delta_map *active, *tombs;
    const delta_snapshot *snap;
    int64_t cutoff;
    candidate *c;
    size_t n, cap;
    int64_t kept_recent;
} walk;

/* Hidden per Delta/Spark: names starting with '.' or '_' (the log, _change_data,
 * checksums, temp files), except '_'-names with '=' (a partition folder of a column
 * whose name starts with '_'). */
static int is_hidden(const char *name)
{
    return name[0] == '.' || (name[0] == '_' && !strchr(name, '='));
}

/* Visits the folder `prefix` ("" = the table root, else "a=1/") with one listing, collecting
 * old unreferenced files and recursing into the folders that are not hidden. The store
 * lists regular files only: symbolic links are neither followed nor deleted. */
static st_code walk_dir(walk *w, const char *prefix, st_err *e)
{
    st_list l = {0};
    st_code rc = st_store_list(w->store, prefix, NULL, 0, &l, e);
    if (rc && e) st_err_wrap(e, "vacuum");
    size_t plen = strlen(prefix);
    for (size_t i = 0; !rc && i < l.count; i++) {
        st_entry *x = &l.items[i];
        if (is_hidden(x->key + plen)) continue;
        if (x->is_prefix) {
            rc = walk_dir(w, x->key, e);
        } else if (delta_map_get(w->active, x->key) == (size_t)-1) {
            size_t ti = delta_map_get(w->tombs, x->key);
            int64_t t = ti != (size_t)-1 ? w->snap->tombstones.items[ti].modification_time : x->mtime_ms;
            if (t < w->cutoff) {
                if (w->n == w->cap) {
                    w->cap = w->cap ? w->cap * 2 : 64;
                    w->c = st_xrealloc(w->c, w->cap * sizeof *w->c);
                }
                w->c[w->n].rel = x->key;
                w->c[w->n].size = x->size;
                w->n++;
                x->key = NULL; /* moved to the candidate */
            } else {
                w->kept_recent++;
            }
        }
    }
    st_list_free(&l);
    return rc;
}

static int by_rel(const void *a, const void *b)
{
    return strcmp(((const candidate *)a)->rel, ((const candidate *)b)->rel);
}

/* See delta_internal.h. */
st_code delta_retention_ms(const delta_snapshot *s, int64_t opt, const char *key, int64_t def, int64_t *out,
                           st_err *e)
{
    if (opt >= 0) {
        *out = opt;
        return ST_OK;
    }
    const char *v = delta_snapshot_configuration(s, key);
    if (!v) {
        *out = def;
        return ST_OK;
    }
    st_code rc = delta_parse_interval_ms(v, out, e);
    if (rc) return st_err_set(e, rc, "table %s: property %s='%s' is not an interval", s->table_path, key, v);
    return ST_OK;
}

/* Deletes commits and classic checkpoints below the newest classic checkpoint older than
 * the log retention (the state stays reconstructable from that checkpoint on), when their
 * own mtime is older too. Appends the deleted names to r. One listing of _delta_log. */
static st_code clean_log(st_store *store, int64_t log_cutoff, const delta_vacuum_options *o, delta_vacuum_result *r,
                         st_err *e)
{
    int dry_run = o->dry_run;
    st_list l = {0};
    st_code rc = st_store_list(store, DELTA_LOG_DIR, NULL, 0, &l, e);
    int64_t keep = -1; /* the checkpoint the log will start from */
    for (size_t i = 0; !rc && i < l.count; i++) {
        int64_t v;
        if (!l.items[i].is_prefix && delta_parse_log_name(l.items[i].key + strlen(DELTA_LOG_DIR), &v, NULL, NULL) == 2 &&
            l.items[i].mtime_ms < log_cutoff && v > keep)
            keep = v;
    }
    size_t cap = 0, ndel = 0;
    for (size_t i = 0; !rc && keep > 0 && i < l.count; i++) {
        const st_entry *x = &l.items[i];
        int64_t v;
        int k = x->is_prefix ? 0 : delta_parse_log_name(x->key + strlen(DELTA_LOG_DIR), &v, NULL, NULL);
        ndel += (k == 1 || k == 2) && v < keep && x->mtime_ms < log_cutoff;
    }
    if (o->on_delete && !dry_run && ndel) o->on_delete(o->on_delete_arg, "log files", ndel);
    for (size_t i = 0; !rc && keep > 0 && i < l.count; i++) {
        const st_entry *x = &l.items[i];
        int64_t v;
        const char *name = x->key + strlen(DELTA_LOG_DIR);
        int k = x->is_prefix ? 0 : delta_parse_log_name(name, &v, NULL, NULL);
        if ((k != 1 && k != 2) || v >= keep || x->mtime_ms >= log_cutoff) continue;
        if (!dry_run && (rc = st_store_delete(store, x->key, e))) {
            if (e) st_err_wrap(e, "vacuum");
            break;
        }
        if (r->nlog_files == cap) {
            cap = cap ? cap * 2 : 32;
            r->log_files = st_xrealloc(r->log_files, cap * sizeof(char *));
        }
        r->log_files[r->nlog_files++] = st_xstrdup(name);
    }
    st_list_free(&l);
    return rc;
}

/* ------------------------------------------------------------------ entry point */

/* See delta.h. Order: load the snapshot, then list (a file committed after the load
 * is young unless a writer sat on it longer than the retention: the safety margin). */
st_code delta_table_vacuum(const char *path, const delta_vacuum_options *opts, delta_vacuum_result *res,
                           st_err *e)
{
    if (res) memset(res, 0, sizeof *res);
    delta_snapshot *s = delta_snapshot_load(path, -1, e);
    if (!s) return e ? e->code : ST_ERR_NOTFOUND;
    st_code rc = delta_snapshot_vacuum(s, opts, res, e);
    delta_snapshot_destroy(s);
    return rc;
}

/* See delta.h: the vacuum proper, against a snapshot the caller loaded just before. */
st_code delta_snapshot_vacuum(const delta_snapshot *s, const delta_vacuum_options *opts, delta_vacuum_result *res,
                              st_err *e)
{
    const char *path = s->table_path;
    delta_vacuum_options o;
    if (opts) o = *opts;
    else delta_vacuum_options_init(&o);
    delta_vacuum_result r;
    memset(&r, 0, sizeof r);
    st_code rc = ST_OK;
    delta_map active = {0}, tombs = {0};
    char **keys = NULL;
    size_t nkeys = 0;
    walk w;
    memset(&w, 0, sizeof w);
    if (res) memset(res, 0, sizeof *res);
    if (s->no_tombstones)
        return st_err_set(e, ST_ERR_STATE, "vacuum %s: the snapshot does not carry its tombstones", path);
    if (s->min_writer > 2) {
        rc = st_err_set(e, ST_ERR_UNSUPPORTED,
                        "vacuum %s: writer version %d (table features such as deletion vectors) is not supported", path,
                        s->min_writer);
        goto done;
    }
    if ((rc = delta_retention_ms(s, o.retention_ms, "delta.deletedFileRetentionDuration",
                                 DELTA_DEFAULT_FILE_RETENTION_MS, &r.retention_ms, e)))
        goto done;
    if (r.retention_ms < DELTA_VACUUM_MIN_RETENTION_MS && !o.force) {
        rc = st_err_set(e, ST_ERR_ARG,
                        "vacuum %s: a retention of %lld ms is below the 1 hour safety minimum: files that concurrent "
                        "writers have written but not yet committed look unreferenced and would be deleted, and "
                        "readers of older versions would lose theirs (use --force only when no writer is running)",
                        path, (long long)r.retention_ms);
        goto done;
    }
    int64_t now = o.now_ms > 0 ? o.now_ms : delta_now_ms();
    r.version = s->version;

    keys = st_xcalloc(s->files.count + s->tombstones.count + 1, sizeof *keys);
    for (size_t i = 0; i < s->files.count; i++) {
        char *rel = delta_file_key(&s->files.items[i]);
        if (!rel) {
            rc = st_err_set(e, ST_ERR_UNSUPPORTED, "vacuum %s: file %s has an absolute path (not supported)", path,
                            s->files.items[i].path);
            goto done;
        }
        keys[nkeys++] = rel;
        delta_map_put(&active, rel, i);
    }
    for (size_t i = 0; i < s->tombstones.count; i++) {
        char *rel = delta_file_key(&s->tombstones.items[i]);
        if (!rel) continue;
        keys[nkeys++] = rel;
        delta_map_put(&tombs, rel, i);
    }
    st_store *store = delta_snapshot_store(s);
    w.store = store;
    w.active = &active;
    w.tombs = &tombs;
    w.snap = s;
    w.cutoff = now - r.retention_ms;
    if (!o.log_only && (rc = walk_dir(&w, "", e))) goto done;
    if (w.n) qsort(w.c, w.n, sizeof *w.c, by_rel);
    r.files = st_xcalloc(w.n + 1, sizeof *r.files);
    r.sizes = st_xcalloc(w.n + 1, sizeof *r.sizes);
    r.files_kept_recent = w.kept_recent;
    if (o.on_delete && !o.dry_run && w.n) o.on_delete(o.on_delete_arg, "data files", w.n);
    for (size_t i = 0; i < w.n; i++) {
        if (!o.dry_run && (rc = st_store_delete(store, w.c[i].rel, e))) {
            if (e) st_err_wrap(e, "vacuum");
            goto done;
        }
        r.files[r.nfiles] = w.c[i].rel;
        r.sizes[r.nfiles++] = w.c[i].size;
        r.bytes += w.c[i].size;
        w.c[i].rel = NULL;
    }
    if (!o.dry_run && !o.log_only) {
        /* half-written files of killed writers: never visible, so the same rule as orphans */
        size_t nab = 0;
        rc = st_store_purge_abandoned(store, "", w.cutoff, &nab, e);
        r.abandoned_writes = (int64_t)nab;
        if (rc) goto done;
    }
    if (o.clean_log || o.log_only) {
        int64_t lr;
        if ((rc = delta_retention_ms(s, o.log_retention_ms, "delta.logRetentionDuration",
                                     DELTA_DEFAULT_LOG_RETENTION_MS, &lr, e)))
            goto done;
        rc = clean_log(store, now - lr, &o, &r, e);
    }
done:
    for (size_t i = 0; i < w.n; i++) free(w.c[i].rel);
    free(w.c);
    for (size_t i = 0; i < nkeys; i++) free(keys[i]);
    free(keys);
    delta_map_free(&active);
    delta_map_free(&tombs);
    if (res) *res = r;
    else delta_vacuum_result_free(&r);
    return rc;
}
