/* delta_vacuum.c — `VACUUM`: delete data files the latest snapshot no longer references
 * once they are older than the retention (tombstone time for removed files, mtime for
 * orphans), and optionally expired log files below an old checkpoint. Also the
 * interval parser shared with the CLI ("168h", "interval 1 week"). */
#include "delta/delta_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <strings.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"

#define DAY_MS (24LL * 3600 * 1000)

/* ------------------------------------------------------------------ intervals */

/* Milliseconds per unit name (singular or plural, short forms), 0 when unknown. */
static double unit_ms(const char *u, size_t n)
{
    static const struct {
        const char *name;
        double ms;
    } units[] = {{"ms", 1},          {"millisecond", 1},  {"milliseconds", 1},    {"s", 1000},
                 {"sec", 1000},      {"second", 1000},    {"seconds", 1000},      {"m", 60000},
                 {"min", 60000},     {"minute", 60000},   {"minutes", 60000},     {"h", 3600000},
                 {"hour", 3600000},  {"hours", 3600000},  {"d", 86400000},        {"day", 86400000},
                 {"days", 86400000}, {"w", 604800000},    {"week", 604800000},    {"weeks", 604800000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == n && strncasecmp(units[i].name, u, n) == 0) return units[i].ms;
    return 0;
}

/* See delta.h. Grammar: ["interval"] number [unit], spaces allowed between; a bare
 * number is seconds. O(length). */
st_code delta_parse_interval_ms(const char *text, int64_t *ms, st_err *e)
{
    if (!text) return st_err_set(e, ST_ERR_ARG, "missing interval");
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    if (strncasecmp(s, "interval", 8) == 0 && isspace((unsigned char)s[8])) s += 8;
    while (isspace((unsigned char)*s)) s++;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || v != v) goto bad;
    s = end;
    while (isspace((unsigned char)*s)) s++;
    const char *u = s;
    while (isalpha((unsigned char)*s)) s++;
    size_t un = (size_t)(s - u);
    while (isspace((unsigned char)*s)) s++;
    if (*s) goto bad;
    double mult = un ? unit_ms(u, un) : 1000;
    if (mult == 0) goto bad;
    double r = v * mult;
    if (r > 9.2e18) goto bad;
    *ms = (int64_t)r;
    return ST_OK;
bad:
    return st_err_set(e, ST_ERR_ARG,
                      "'%s' is not an interval (examples: 168h, 7d, 30m, 3600, \"interval 1 week\")", text);
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
    const char *root;
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

/* Visits folder root/rel recursively (rel "" = the table root), collecting old
 * unreferenced regular files. Symbolic links are neither followed nor deleted. */
static st_code walk_dir(walk *w, const char *rel, st_err *e)
{
    char *dir = *rel ? st_path_join(w->root, rel) : st_xstrdup(w->root);
    DIR *d = opendir(dir);
    if (!d) {
        st_code rc = st_err_set(e, ST_ERR_IO, "vacuum: cannot list %s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    st_code rc = ST_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || is_hidden(de->d_name)) continue;
        char *r2 = *rel ? st_path_join(rel, de->d_name) : st_xstrdup(de->d_name);
        char *full = st_path_join(dir, de->d_name);
        struct stat st;
        if (lstat(full, &st) != 0) {
            if (errno != ENOENT) rc = st_err_set(e, ST_ERR_IO, "vacuum: cannot stat %s: %s", full, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk_dir(w, r2, e);
        } else if (S_ISREG(st.st_mode) && delta_map_get(w->active, r2) == (size_t)-1) {
            size_t ti = delta_map_get(w->tombs, r2);
            int64_t t = ti != (size_t)-1 ? w->snap->tombstones.items[ti].modification_time
                                         : (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
            if (t < w->cutoff) {
                if (w->n == w->cap) {
                    w->cap = w->cap ? w->cap * 2 : 64;
                    w->c = st_xrealloc(w->c, w->cap * sizeof *w->c);
                }
                w->c[w->n].rel = r2;
                w->c[w->n].size = (int64_t)st.st_size;
                w->n++;
                r2 = NULL;
            } else {
                w->kept_recent++;
            }
        }
        free(full);
        free(r2);
    }
    closedir(d);
    free(dir);
    return rc;
}

static int by_rel(const void *a, const void *b)
{
    return strcmp(((const candidate *)a)->rel, ((const candidate *)b)->rel);
}

/* Decoded table-relative path of a log path; NULL for an absolute URI or path (a file
 * outside the folder, or one we could not safely compare). */
static char *relative_path(const char *logpath)
{
    if (logpath[0] == '/' || strstr(logpath, "://") || !strncmp(logpath, "file:", 5)) return NULL;
    return delta_uri_decode(logpath);
}

/* Mtime in ms, -1 when missing. */
static int64_t mtime_ms(const char *p)
{
    return delta_file_mtime_ms(p);
}

/* Retention from the option or the table property (or the default). */
static st_code retention(const delta_snapshot *s, int64_t opt, const char *key, int64_t def, int64_t *out,
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

/* Deletes commits and checkpoints below the newest checkpoint older than the log
 * retention (the state stays reconstructable from that checkpoint on), when their own
 * mtime is older too. Appends the deleted names to r. */
static st_code clean_log(const char *path, int64_t log_cutoff, int dry_run, delta_vacuum_result *r, st_err *e)
{
    int64_t *commits = NULL, *cps = NULL;
    size_t nc = 0, ncp = 0;
    st_code rc = delta_list_log(path, &commits, &nc, &cps, &ncp, e);
    if (rc) return rc;
    int64_t keep = -1; /* the checkpoint the log will start from */
    for (size_t i = 0; i < ncp; i++) {
        char *cp = delta_checkpoint_path(path, cps[i]);
        int64_t m = mtime_ms(cp);
        free(cp);
        if (m >= 0 && m < log_cutoff && cps[i] > keep) keep = cps[i];
    }
    size_t cap = 0;
    for (int pass = 0; pass < 2 && keep > 0; pass++) {
        const int64_t *vs = pass ? cps : commits;
        size_t n = pass ? ncp : nc;
        for (size_t i = 0; i < n; i++) {
            if (vs[i] >= keep) continue;
            char *f = pass ? delta_checkpoint_path(path, vs[i]) : delta_commit_path(path, vs[i]);
            int64_t m = mtime_ms(f);
            if (m >= 0 && m < log_cutoff) {
                if (!dry_run && unlink(f) != 0 && errno != ENOENT) {
                    rc = st_err_set(e, ST_ERR_IO, "vacuum: cannot delete %s: %s", f, strerror(errno));
                    free(f);
                    goto done;
                }
                if (r->nlog_files == cap) {
                    cap = cap ? cap * 2 : 32;
                    r->log_files = st_xrealloc(r->log_files, cap * sizeof(char *));
                }
                const char *slash = strrchr(f, '/');
                r->log_files[r->nlog_files++] = st_xstrdup(slash ? slash + 1 : f);
            }
            free(f);
        }
    }
done:
    free(commits);
    free(cps);
    return rc;
}

/* ------------------------------------------------------------------ entry point */

/* See delta.h. Order: load the snapshot, then list (a file committed after the load
 * is young unless a writer sat on it longer than the retention: the safety margin). */
st_code delta_table_vacuum(const char *path, const delta_vacuum_options *opts, delta_vacuum_result *res,
                           st_err *e)
{
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
    delta_snapshot *s = delta_snapshot_load(path, -1, e);
    if (!s) return e ? e->code : ST_ERR_NOTFOUND;
    if (s->min_writer > 2) {
        rc = st_err_set(e, ST_ERR_UNSUPPORTED,
                        "vacuum %s: writer version %d (table features such as deletion vectors) is not supported", path,
                        s->min_writer);
        goto done;
    }
    if ((rc = retention(s, o.retention_ms, "delta.deletedFileRetentionDuration", 7 * DAY_MS, &r.retention_ms, e)))
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
        char *rel = relative_path(s->files.items[i].path);
        if (!rel) {
            rc = st_err_set(e, ST_ERR_UNSUPPORTED, "vacuum %s: file %s has an absolute path (not supported)", path,
                            s->files.items[i].path);
            goto done;
        }
        keys[nkeys++] = rel;
        delta_map_put(&active, rel, i);
    }
    for (size_t i = 0; i < s->tombstones.count; i++) {
        char *rel = relative_path(s->tombstones.items[i].path);
        if (!rel) continue;
        keys[nkeys++] = rel;
        delta_map_put(&tombs, rel, i);
    }
    w.root = path;
    w.active = &active;
    w.tombs = &tombs;
    w.snap = s;
    w.cutoff = now - r.retention_ms;
    if ((rc = walk_dir(&w, "", e))) goto done;
    if (w.n) qsort(w.c, w.n, sizeof *w.c, by_rel);
    r.files = st_xcalloc(w.n + 1, sizeof *r.files);
    r.sizes = st_xcalloc(w.n + 1, sizeof *r.sizes);
    r.files_kept_recent = w.kept_recent;
    for (size_t i = 0; i < w.n; i++) {
        if (!o.dry_run) {
            char *full = st_path_join(path, w.c[i].rel);
            int bad = unlink(full) != 0 && errno != ENOENT;
            if (bad) rc = st_err_set(e, ST_ERR_IO, "vacuum: cannot delete %s: %s", full, strerror(errno));
            free(full);
            if (bad) goto done;
        }
        r.files[r.nfiles] = w.c[i].rel;
        r.sizes[r.nfiles++] = w.c[i].size;
        r.bytes += w.c[i].size;
        w.c[i].rel = NULL;
    }
    if (o.clean_log) {
        int64_t lr;
        if ((rc = retention(s, o.log_retention_ms, "delta.logRetentionDuration", 30 * DAY_MS, &lr, e))) goto done;
        rc = clean_log(path, now - lr, o.dry_run, &r, e);
    }
done:
    for (size_t i = 0; i < w.n; i++) free(w.c[i].rel);
    free(w.c);
    for (size_t i = 0; i < nkeys; i++) free(keys[i]);
    free(keys);
    delta_map_free(&active);
    delta_map_free(&tombs);
    delta_snapshot_destroy(s);
    if (res) *res = r;
    else delta_vacuum_result_free(&r);
    return rc;
}
