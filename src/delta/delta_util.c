/* delta_util.c — small helpers of the Delta module: log keys and file names, UUIDs,
 * path escaping, listing _delta_log through the table's store. */
#include "delta/delta_internal.h"
#include "util/timeutil.h"
#include "util/uri.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ names */

/* Keys inside _delta_log. */
const char *delta_commit_key(char buf[DELTA_KEY_MAX], int64_t version)
{
    snprintf(buf, DELTA_KEY_MAX, DELTA_LOG_DIR "%020lld.json", (long long)version);
    return buf;
}

const char *delta_checkpoint_key(char buf[DELTA_KEY_MAX], int64_t version)
{
    snprintf(buf, DELTA_KEY_MAX, DELTA_LOG_DIR "%020lld.checkpoint.parquet", (long long)version);
    return buf;
}

/* getrandom(2) bytes shaped as a v4 UUID; falls back to time and pid mixing if the
 * kernel call fails (never in practice), which still keeps names unique enough
 * together with put-if-absent commits. */
void delta_uuid(char out[37])
{
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
        for (int i = 0; i < 16; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r[i] = (uint8_t)x;
        }
    }
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[r[i] >> 4];
        out[o++] = hex[r[i] & 15];
    }
    out[o] = '\0';
}

/* Wall clock in ms. */
int64_t delta_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Characters Hive escapes in partition folder names (as Spark does): control
 * characters and " # % ' * / : = ? \ DEL { [ ] ^. */
static int hive_needs_escape(unsigned char c)
{
    return c < 0x20 || c == 0x7f || strchr("\"#%'*/:=?\\{[]^", c) != NULL;
}

/* Appends v with Hive folder escaping (%XX). */
void delta_escape_partition(st_buf *b, const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (hive_needs_escape(*p))
            st_buf_printf(b, "%%%02X", *p);
        else
            st_buf_append_u8(b, *p);
    }
}

/* Appends p percent-encoded except unreserved characters, '/' and '='. */
void delta_uri_encode_path(st_buf *b, const char *p)
{
    for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~/=", *c))
            st_buf_append_u8(b, *c);
        else
            st_buf_printf(b, "%%%02X", *c);
    }
}

/* See delta.h: decodes the log path and joins it to the table path. */
char *delta_file_local_path(const char *table_path, const delta_file *f)
{
    char *dec = st_uri_decode(f->path, NULL);
    st_buf b = {0};
    size_t n = strlen(table_path);
    while (n > 1 && table_path[n - 1] == '/') n--;
    st_buf_append(&b, table_path, n);
    st_buf_append_u8(&b, '/');
    st_buf_append_str(&b, dec);
    free(dec);
    return (char *)st_buf_detach(&b, &(size_t){0});
}

/* See delta.h. Absolute paths (a scheme, or a leading '/') are not keys of this table. */
char *delta_file_key(const delta_file *f)
{
    if (!f->path || f->path[0] == '/' || strstr(f->path, "://") || !strncmp(f->path, "file:", 5)) return NULL;
    return st_uri_decode(f->path, NULL);
}

/* See delta.h. */
pq_reader *delta_file_reader_open(st_store *table, const delta_file *f, st_err *e)
{
    char *key = delta_file_key(f);
    if (!key) {
        st_err_set(e, ST_ERR_UNSUPPORTED, "%s: data file %s has an absolute path (not supported)", st_store_root(table),
                   f->path ? f->path : "(none)");
        return NULL;
    }
    st_source *src;
    st_code rc = st_store_open_source(table, key, &src, e);
    free(key);
    return rc ? NULL : pq_reader_open(src, e);
}

/* Parses a _delta_log file name: "<20 digits>.json" (1), a classic checkpoint
 * "<v>.checkpoint.parquet" (2), a part of a multi-part one "<v>.checkpoint.<10 digits
 * part>.<10 digits total>.parquet" (3, *part and *total set) or a v2 checkpoint
 * "<v>.checkpoint.<uuid>.json|parquet" (4); 0 for anything else. */
int delta_parse_log_name(const char *name, int64_t *v, int *part, int *total)
{
    if (strlen(name) < 21) return 0;
    int64_t x = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        x = x * 10 + (name[i] - '0');
    }
    *v = x;
    const char *rest = name + 20;
    if (strcmp(rest, ".json") == 0) return 1;
    if (strncmp(rest, ".checkpoint.", 12) != 0) return 0;
    rest += 12;
    if (strcmp(rest, "parquet") == 0) return 2;
    size_t n = strlen(rest);
    if (n == 29 && rest[10] == '.' && strcmp(rest + 21, ".parquet") == 0) {
        int p = 0, t = 0;
        for (int i = 0; i < 10; i++) {
            if (rest[i] < '0' || rest[i] > '9' || rest[11 + i] < '0' || rest[11 + i] > '9') return 0;
            p = p * 10 + (rest[i] - '0');
            t = t * 10 + (rest[11 + i] - '0');
            if (p > 100000 || t > 100000) return 0;
        }
        if (p < 1 || t < 1 || p > t) return 0;
        if (part) *part = p;
        if (total) *total = t;
        return 3;
    }
    /* v2: one more name component (a UUID), then .json or .parquet */
    const char *dot = strchr(rest, '.');
    if (!dot || dot == rest) return 0;
    if (strcmp(dot, ".json") == 0 || strcmp(dot, ".parquet") == 0) return 4;
    return 0;
}

typedef struct cp_part {
    int64_t v, mtime_ms;
    int part, total;
} cp_part;

/* qsort comparator: by version, total, part. */
static int cmp_part(const void *a, const void *b)
{
    const cp_part *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    if (x->total != y->total) return x->total < y->total ? -1 : 1;
    return (x->part > y->part) - (x->part < y->part);
}

/* Appends to kb the versions whose multi-part checkpoint has all its parts 1..total
 * (an incomplete one, e.g. a writer that died half-way, must be ignored). */
static void complete_multipart(cp_part *p, size_t n, st_buf *kb)
{
    if (n) qsort(p, n, sizeof *p, cmp_part);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int next = 1;
        while (j < n && p[j].v == p[i].v && p[j].total == p[i].total) {
            if (p[j].part == next) next++;
            j++;
        }
        if (next == p[i].total + 1) {
            delta_log_version lv = {p[i].v, p[i].mtime_ms};
            st_buf_append(kb, &lv, sizeof lv);
        }
        i = j;
    }
}

/* qsort comparator. */
static int cmp_version(const void *a, const void *b)
{
    int64_t x = ((const delta_log_version *)a)->version, y = ((const delta_log_version *)b)->version;
    return x < y ? -1 : x > y;
}

/* Sorts a version array and drops duplicates (a version with two kinds of checkpoint). */
static size_t sort_unique(delta_log_version *v, size_t n)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_version);
    size_t o = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i].version != v[o - 1].version) v[o++] = v[i];
    return o;
}

/* See delta_internal.h. The start-after key "_delta_log/<from, 20 digits>" sorts before
 * every file of version `from` ("<from>.json", "<from>.checkpoint...") and after every
 * earlier one. O(listed files). */
st_code delta_list_log(st_store *store, int64_t from, delta_log_listing *out, st_err *e)
{
    memset(out, 0, sizeof *out);
    char after[DELTA_KEY_MAX];
    if (from > 0) snprintf(after, sizeof after, DELTA_LOG_DIR "%020lld", (long long)from);
    st_list l = {0};
    st_code rc = st_store_list(store, DELTA_LOG_DIR, from > 0 ? after : NULL, 0, &l, e);
    if (rc) {
        st_list_free(&l);
        return rc;
    }
    st_buf cb = {0}, kb = {0}, pb = {0};
    for (size_t i = 0; i < l.count; i++) {
        if (l.items[i].is_prefix) continue;
        int64_t v;
        int part = 0, total = 0;
        int k = delta_parse_log_name(l.items[i].key + strlen(DELTA_LOG_DIR), &v, &part, &total);
        delta_log_version lv = {v, l.items[i].mtime_ms};
        if (k == 1) st_buf_append(&cb, &lv, sizeof lv);
        if (k == 2 || k == 4) st_buf_append(&kb, &lv, sizeof lv);
        if (k == 3) {
            cp_part cp = {v, l.items[i].mtime_ms, part, total};
            st_buf_append(&pb, &cp, sizeof cp);
        }
    }
    st_list_free(&l);
    complete_multipart((cp_part *)(void *)pb.data, pb.len / sizeof(cp_part), &kb);
    st_buf_free(&pb);
    size_t len;
    out->ncommits = cb.len / sizeof(delta_log_version);
    out->commits = (delta_log_version *)(void *)st_buf_detach(&cb, &len);
    out->ncheckpoints = kb.len / sizeof(delta_log_version);
    out->checkpoints = (delta_log_version *)(void *)st_buf_detach(&kb, &len);
    out->ncommits = sort_unique(out->commits, out->ncommits);
    out->ncheckpoints = sort_unique(out->checkpoints, out->ncheckpoints);
    return ST_OK;
}

void delta_log_listing_free(delta_log_listing *l)
{
    free(l->commits);
    free(l->checkpoints);
    memset(l, 0, sizeof *l);
}

long delta_log_find(const delta_log_version *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].version < x) lo = mid + 1;
        else if (v[mid].version > x) hi = mid;
        else return (long)mid;
    }
    return -1;
}

/* Division rounding toward minus infinity. */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Timestamps as Spark writes them in stats: millisecond ISO strings. The max is
 * rounded UP to the next millisecond so it stays an upper bound (Spark truncates,
 * which can exclude rows with sub-millisecond parts). Years outside 0001..9999 are
 * left out (no stats for that column). */
json_t *delta_stats_ts_json(int64_t us, int round_up)
{
    int64_t ms = round_up ? -floordiv(-us, 1000) : floordiv(us, 1000);
    int64_t lo = -62135596800000LL, hi = 253402300799999LL;
    if (ms < lo || ms > hi) return NULL;
    char buf[48];
    st_format_iso_us(ms * 1000, buf, sizeof buf, 1);
    return json_string(buf);
}

/* File-name codec part as Spark writes it. */
const char *delta_codec_ext(pq_codec c)
{
    switch (c) {
    case PQ_CODEC_SNAPPY: return ".snappy";
    case PQ_CODEC_ZSTD: return ".zstd";
    case PQ_CODEC_GZIP: return ".gz";
    case PQ_CODEC_LZ4_RAW: return ".lz4raw";
    default: return "";
    }
}

#define STATS_PREFIX_CP 32 /* code points kept for string min/max, like Spark */

/* See delta_internal.h. */
char *delta_stats_json(const delta_stats_col *cols, int ncols, const pq_file_info *info)
{
    json_t *mins = json_object(), *maxs = json_object(), *nulls = json_object();
    for (int i = 0; i < ncols && i < info->num_leaves; i++) {
        const pq_column_stats *st = &info->columns[i];
        const delta_stats_col *c = &cols[i];
        json_object_set_new(nulls, c->name, json_integer(st->null_count));
        if (!st->has_min_max || c->type == DELTA_TYPE_BOOLEAN) continue;
        json_t *mn = NULL, *mx = NULL;
        char a[32], b[32];
        int trunc;
        long l;
        switch (c->type) {
        case DELTA_TYPE_INTEGER:
            mn = json_integer(st->min.i32);
            mx = json_integer(st->max.i32);
            break;
        case DELTA_TYPE_DATE:
            st_format_date(st->min.i32, a, sizeof a);
            st_format_date(st->max.i32, b, sizeof b);
            mn = json_string(a);
            mx = json_string(b);
            break;
        case DELTA_TYPE_LONG:
            mn = json_integer(st->min.i64);
            mx = json_integer(st->max.i64);
            break;
        case DELTA_TYPE_TIMESTAMP:
            mn = delta_stats_ts_json(st->min.i64, 0);
            mx = delta_stats_ts_json(st->max.i64, 1);
            break;
        case DELTA_TYPE_DOUBLE:
            if (c->nonfinite) break; /* NaN has no order, +-Inf is not JSON */
            mn = json_real(st->min.f64 == 0 ? -0.0 : st->min.f64);
            mx = json_real(st->max.f64 == 0 ? 0.0 : st->max.f64);
            break;
        case DELTA_TYPE_STRING:
            /* a prefix of the min is still a lower bound; a truncated max is not */
            l = st_utf8_prefix(st->min_bytes, st->min_len, STATS_PREFIX_CP, &trunc);
            if (l >= 0) mn = json_stringn((const char *)st->min_bytes, (size_t)l);
            l = st_utf8_prefix(st->max_bytes, st->max_len, STATS_PREFIX_CP, &trunc);
            if (l >= 0 && !trunc) mx = json_stringn((const char *)st->max_bytes, (size_t)l);
            break;
        default: break;
        }
        if (mn) json_object_set_new(mins, c->name, mn);
        if (mx) json_object_set_new(maxs, c->name, mx);
    }
    json_t *stats = json_pack("{s:I, s:o, s:o, s:o}", "numRecords", (json_int_t)info->num_rows, "minValues", mins,
                              "maxValues", maxs, "nullCount", nulls);
    char *txt = json_dumps(stats, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(stats);
    return txt;
}
