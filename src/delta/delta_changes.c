/* delta_changes.c — what each commit between two versions added and removed, for
 * jobs that tail a table (Gold reads Silver's new files). */
#include "delta/delta_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frees count entries and the array. NULL-safe. */
void delta_changes_free(delta_version_changes *v, size_t count)
{
    if (!v) return;
    for (size_t i = 0; i < count; i++) {
        free(v[i].operation);
        free(v[i].txn_id);
        delta_file_list_free(&v[i].added);
        delta_file_list_free(&v[i].removed);
    }
    free(v);
}

/* Parses one commit file into c. */
static st_code parse_commit(const char *path, const char *text, size_t len, delta_version_changes *c, st_err *e)
{
    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        line++;
        if (end > pos) {
            json_error_t je;
            json_t *o = json_loadb(text + pos, end - pos, 0, &je);
            if (!o)
                return st_err_set(e, ST_ERR_FORMAT, "%s line %d: invalid JSON (%s): truncated or damaged commit file",
                                  path, line, je.text);
            char where[1200];
            snprintf(where, sizeof where, "%.1100s line %d", path, line);
            json_t *a;
            st_code rc = ST_OK;
            delta_file f;
            if ((a = json_object_get(o, "add"))) {
                if (!(rc = delta_file_from_json(a, 0, &f, where, e))) {
                    delta_file_list_append_copy(&c->added, &f);
                    delta_file_free(&f);
                }
            } else if ((a = json_object_get(o, "remove"))) {
                if (!(rc = delta_file_from_json(a, 1, &f, where, e))) {
                    delta_file_list_append_copy(&c->removed, &f);
                    delta_file_free(&f);
                }
            } else if (json_object_get(o, "metaData") || json_object_get(o, "protocol")) {
                c->metadata_changed = 1;
            } else if ((a = json_object_get(o, "commitInfo"))) {
                json_t *ts = json_object_get(a, "timestamp");
                if (json_is_integer(ts)) c->timestamp_ms = json_integer_value(ts);
                const char *op = json_string_value(json_object_get(a, "operation"));
                if (op && !c->operation) c->operation = st_xstrdup(op);
                const char *id = json_string_value(json_object_get(a, "txnId"));
                if (id && !c->txn_id) c->txn_id = st_xstrdup(id);
            }
            json_decref(o);
            if (rc) return rc;
        }
        pos = end + 1;
    }
    return ST_OK;
}

/* One object read per version (no listing); stops quietly at the first missing version
 * when to_version is -1, errors otherwise (naming the file). */
st_code delta_changes_read(st_store *table, int64_t from_version, int64_t to_version,
                           delta_version_changes **out, size_t *count, st_err *e)
{
    *out = NULL;
    *count = 0;
    const char *tp = st_store_root(table);
    if (from_version < 0) return st_err_set(e, ST_ERR_ARG, "%s: negative start version", tp);
    size_t cap = 0;
    delta_version_changes *v = NULL;
    st_code rc = ST_OK;
    st_buf b = {0};
    for (int64_t ver = from_version; to_version < 0 || ver <= to_version; ver++) {
        char key[DELTA_KEY_MAX], where[1200];
        delta_commit_key(key, ver);
        snprintf(where, sizeof where, "%s/%s", tp, key);
        st_buf_reset(&b);
        st_err le;
        st_stat st = {0, -1};
        rc = st_store_read(table, key, &b, &st, &le);
        if (rc == ST_ERR_NOTFOUND && to_version < 0) {
            rc = ST_OK;
            break;
        }
        if (rc) {
            if (e) *e = le;
            break;
        }
        if (*count == cap) {
            cap = cap ? cap * 2 : 8;
            v = st_xrealloc(v, cap * sizeof *v);
        }
        delta_version_changes *c = &v[(*count)++];
        memset(c, 0, sizeof *c);
        c->version = ver;
        c->timestamp_ms = -1;
        rc = parse_commit(where, (const char *)b.data, b.len, c, e);
        if (!rc && c->timestamp_ms < 0) c->timestamp_ms = st.mtime_ms;
        if (rc) break;
    }
    st_buf_free(&b);
    if (rc) {
        delta_changes_free(v, *count);
        *count = 0;
        return rc;
    }
    *out = v;
    return ST_OK;
}
