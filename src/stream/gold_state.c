/* gold_state.c — the Gold job's checkpoint files (see gold_state.h). */
#include "stream/gold_state.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/binio.h"
#include "util/fsutil.h"

static const char magic[8] = {'S', 'T', 'G', 'O', 'L', 'D', '0', '1'};

char *gold_state_path(const char *dir, int64_t pos)
{
    st_buf b = {0};
    st_buf_printf(&b, "%s/state-%020lld%s.bin", dir, (long long)gold_pos_version(pos),
                  gold_pos_flushed(pos) ? "-flush" : "");
    return (char *)st_buf_detach(&b, NULL);
}

st_code gold_state_write(const char *dir, int64_t pos, const char *table_id, const st_buf *body, st_err *e)
{
    st_code rc = st_mkdirs(dir, e);
    if (rc) return rc;
    st_buf b = {0};
    st_buf_append(&b, magic, sizeof magic);
    binio_put_i64(&b, pos);
    binio_put_str(&b, table_id, strlen(table_id));
    binio_put_i64(&b, (int64_t)body->len);
    st_buf_append(&b, body->data, body->len);
    binio_put_i64(&b, (int64_t)binio_fnv64(b.data, b.len));
    char *p = gold_state_path(dir, pos);
    rc = st_write_file_atomic(p, b.data, b.len, e);
    free(p);
    st_buf_free(&b);
    return rc;
}

st_code gold_state_read(const char *dir, int64_t pos, const char *table_id, st_buf *out, st_err *e)
{
    char *p = gold_state_path(dir, pos);
    st_buf b = {0};
    st_code rc = st_read_file(p, &b, e);
    if (rc) goto done;
    binio_reader r = {b.data, b.data + b.len, p};
    int64_t fpos = 0, len = 0, sum = 0;
    char *tid = NULL;
    if (b.len < sizeof magic + 8 || memcmp(b.data, magic, sizeof magic)) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: not a Gold state file", p);
        goto done;
    }
    uint64_t want = binio_fnv64(b.data, b.len - 8);
    binio_reader tail = {b.data + b.len - 8, b.data + b.len, p};
    if ((rc = binio_get_i64(&tail, &sum, e))) goto done;
    if ((uint64_t)sum != want) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: checksum mismatch (damaged state file)", p);
        goto done;
    }
    r.p += sizeof magic;
    r.end -= 8;
    if ((rc = binio_get_i64(&r, &fpos, e)) || (rc = binio_get_str(&r, &tid, NULL, e))) goto done;
    if (fpos != pos) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: holds position %lld, not %lld", p, (long long)fpos, (long long)pos);
    } else if (strcmp(tid, table_id)) {
        rc = st_err_set(e, ST_ERR_STATE,
                        "%s: state of Silver table %s, not %s (the checkpoint belongs to another Silver table: "
                        "use another --checkpoint and outputs, or smarttech reset)",
                        p, tid, table_id);
    } else if (!(rc = binio_get_i64(&r, &len, e))) {
        if (len < 0 || len != r.end - r.p)
            rc = st_err_set(e, ST_ERR_FORMAT, "%s: bad body length", p);
        else
            st_buf_append(out, r.p, (size_t)len);
    }
    free(tid);
done:
    st_buf_free(&b);
    free(p);
    return rc;
}

void gold_state_prune(const char *dir, int64_t keep1, int64_t keep2)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (strncmp(n, "state-", 6)) continue;
        int drop = 1;
        if (!strstr(n, ".tmp.")) {
            char *end;
            long long v = strtoll(n + 6, &end, 10);
            int fl = !strcmp(end, "-flush.bin");
            if (fl || !strcmp(end, ".bin")) {
                int64_t pos = gold_pos(v, fl);
                drop = pos != keep1 && pos != keep2;
            }
        }
        if (drop) {
            char *p = st_path_join(dir, n);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
}

int64_t gold_state_kafka_sent(const char *dir)
{
    char *p = st_path_join(dir, "kafka-sent");
    st_buf b = {0};
    int64_t v = INT64_MIN;
    if (st_read_file(p, &b, NULL) == ST_OK) {
        char *end;
        long long x = strtoll(st_buf_cstr(&b), &end, 10);
        if (end != (char *)b.data) v = x;
    }
    st_buf_free(&b);
    free(p);
    return v;
}

st_code gold_state_set_kafka_sent(const char *dir, int64_t pos, st_err *e)
{
    char *p = st_path_join(dir, "kafka-sent");
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%lld\n", (long long)pos);
    st_code rc = st_write_file_atomic(p, txt, (size_t)n, e);
    free(p);
    return rc;
}
