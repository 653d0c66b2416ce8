/* gold_state.c — the Gold job's checkpoint files (see gold_state.h). */
#include "state/gold_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/binio.h"
#include "util/hash.h"

static const char magic[8] = {'S', 'T', 'G', 'O', 'L', 'D', '0', '1'};

#define KAFKA_SENT "kafka-sent"

char *gold_state_key(int64_t pos)
{
    st_buf b = {0};
    st_buf_printf(&b, "state-%020lld%s.bin", (long long)gold_pos_version(pos), gold_pos_flushed(pos) ? "-flush" : "");
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

st_code gold_state_write(st_store *s, int64_t pos, const char *table_id, const st_buf *body, st_err *e)
{
    st_buf b = {0};
    st_buf_append(&b, magic, sizeof magic);
    binio_put_i64(&b, pos);
    binio_put_str(&b, table_id, strlen(table_id));
    binio_put_i64(&b, (int64_t)body->len);
    st_buf_append(&b, body->data, body->len);
    binio_put_i64(&b, (int64_t)st_fnv1a64_more(ST_FNV64_LEGACY_OFFSET, b.data, b.len)); /* files written before load */
    char *k = gold_state_key(pos);
    st_code rc = st_store_write(s, k, b.data, b.len, e);
    free(k);
    st_buf_free(&b);
    return rc;
}

st_code gold_state_read(st_store *s, int64_t pos, const char *table_id, st_buf *out, st_err *e)
{
    char *k = gold_state_key(pos);
    st_buf name = {0};
    st_buf_printf(&name, "%s/%s", st_store_root(s), k);
    const char *p = st_buf_cstr(&name);
    st_buf b = {0};
    st_code rc = st_store_read(s, k, &b, NULL, e);
    if (rc) goto done;
    binio_reader r = {b.data, b.data + b.len, p};
    int64_t fpos = 0, len = 0, sum = 0;
    char *tid = NULL;
    if (b.len < sizeof magic + 8 || memcmp(b.data, magic, sizeof magic)) {
        rc = st_err_set(e, ST_ERR_FORMAT, "%s: not a Gold state file", p);
        goto done;
    }
    uint64_t want = st_fnv1a64_more(ST_FNV64_LEGACY_OFFSET, b.data, b.len - 8);
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
    st_buf_free(&name);
    free(k);
    return rc;
}

void gold_state_prune(st_store *s, int64_t keep1, int64_t keep2)
{
    st_list l = {0};
    if (st_store_list(s, "state-", NULL, 0, &l, NULL)) return;
    for (size_t i = 0; i < l.count; i++) {
        const char *n = l.items[i].key;
        if (l.items[i].is_prefix) continue;
        int drop = 1;
        char *end;
        long long v = strtoll(n + 6, &end, 10);
        int fl = !strcmp(end, "-flush.bin");
        if (end != n + 6 && (fl || !strcmp(end, ".bin"))) {
            int64_t pos = gold_pos(v, fl);
            drop = pos != keep1 && pos != keep2;
        }
        if (drop) st_store_delete(s, n, NULL);
    }
    st_list_free(&l);
}

int64_t gold_state_kafka_sent(st_store *s)
{
    st_buf b = {0};
    int64_t v = INT64_MIN;
    if (st_store_read(s, KAFKA_SENT, &b, NULL, NULL) == ST_OK) {
        char *end;
        long long x = strtoll(st_buf_cstr(&b), &end, 10);
        if (end != (char *)b.data) v = x;
    }
    st_buf_free(&b);
    return v;
}

st_code gold_state_set_kafka_sent(st_store *s, int64_t pos, st_err *e)
{
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%lld\n", (long long)pos);
    return st_store_write(s, KAFKA_SENT, txt, (size_t)n, e);
}

void gold_state_clear_kafka_sent(st_store *s) { st_store_delete(s, KAFKA_SENT, NULL); }
