/* delta_util.c — small helpers of the Delta module: a string map, log file names,
 * UUIDs, path escaping, listing _delta_log. */
#include "delta/delta_internal.h"
#include "util/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fsutil.h"

/* ------------------------------------------------------------------ map */

/* FNV-1a: short keys (paths, appIds), good enough spread for linear probing. */
static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)(h ^ (h >> 29));
}

/* Frees the slots (keys are borrowed). NULL-safe fields. */
void delta_map_free(delta_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* Looks key up: O(1) expected with load <= 1/2. */
size_t delta_map_get(const delta_map *m, const char *key)
{
    if (!m->cap) return (size_t)-1;
    size_t mask = m->cap - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        if (!m->keys[i]) return (size_t)-1;
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
    }
}

/* Doubles the slot array and re-inserts: O(count). */
static void map_grow(delta_map *m)
{
    delta_map n = {0};
    n.cap = m->cap ? m->cap * 2 : 64;
    n.keys = st_xcalloc(n.cap, sizeof *n.keys);
    n.vals = st_xcalloc(n.cap, sizeof *n.vals);
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) delta_map_put(&n, m->keys[i], m->vals[i]);
    delta_map_free(m);
    *m = n;
}

/* Inserts or replaces key -> val; doubles the table past half load. */
void delta_map_put(delta_map *m, const char *key, size_t val)
{
    if ((m->count + 1) * 2 > m->cap) map_grow(m);
    size_t mask = m->cap - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        if (!m->keys[i]) {
            m->keys[i] = key;
            m->vals[i] = val;
            m->count++;
            return;
        }
        if (strcmp(m->keys[i], key) == 0) {
            m->keys[i] = key;
            m->vals[i] = val;
            return;
        }
    }
}

/* Removes key with backward-shift deletion (no tombstones), O(cluster length). */
void delta_map_del(delta_map *m, const char *key)
{
    if (!m->cap) return;
    size_t mask = m->cap - 1, i = hash_str(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (!m->keys[i]) return;
        if (strcmp(m->keys[i], key) == 0) break;
    }
    m->keys[i] = NULL;
    m->count--;
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = hash_str(m->keys[j]) & mask;
        /* move j back to i when its home slot is not in (i, j] cyclically */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = NULL;
            i = j;
        }
    }
}

/* ------------------------------------------------------------------ names */

/* Paths inside _delta_log; malloc'd. */
char *delta_log_dir(const char *table_path)
{
    return st_path_join(table_path, "_delta_log");
}

char *delta_commit_path(const char *table_path, int64_t version)
{
    char name[64];
    snprintf(name, sizeof name, "_delta_log/%020lld.json", (long long)version);
    return st_path_join(table_path, name);
}

char *delta_checkpoint_path(const char *table_path, int64_t version)
{
    char name[80];
    snprintf(name, sizeof name, "_delta_log/%020lld.checkpoint.parquet", (long long)version);
    return st_path_join(table_path, name);
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

/* Value of a hex digit, -1 otherwise. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX; a malformed escape is kept literally. */
char *delta_uri_decode(const char *p)
{
    size_t n = strlen(p);
    char *out = st_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* See delta.h: decodes the log path and joins it to the table path. */
char *delta_file_local_path(const char *table_path, const delta_file *f)
{
    char *dec = delta_uri_decode(f->path);
    char *full = st_path_join(table_path, dec);
    free(dec);
    return full;
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

/* qsort comparator. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct cp_part {
    int64_t v;
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
        if (next == p[i].total + 1) st_buf_append(kb, &p[i].v, sizeof p[i].v);
        i = j;
    }
}

/* Sorts a version array and drops duplicates (a version with two kinds of checkpoint). */
static size_t sort_unique(int64_t *v, size_t n)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_i64);
    size_t o = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[o - 1]) v[o++] = v[i];
    return o;
}

/* One readdir pass over _delta_log; O(files in the log). */
st_code delta_list_log(const char *table_path, int64_t **commits, size_t *ncommits, int64_t **checkpoints,
                       size_t *ncheckpoints, st_err *e)
{
    char *dir = delta_log_dir(table_path);
    DIR *d = opendir(dir);
    if (!d) {
        st_code c = st_err_set(e, errno == ENOENT ? ST_ERR_NOTFOUND : ST_ERR_IO, "cannot open %s: %s", dir,
                               errno == ENOENT ? "no such directory (not a Delta table)" : strerror(errno));
        free(dir);
        return c;
    }
    st_buf cb = {0}, kb = {0}, pb = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t v;
        int part = 0, total = 0;
        int k = delta_parse_log_name(de->d_name, &v, &part, &total);
        if (k == 1) st_buf_append(&cb, &v, sizeof v);
        if (k == 2 || k == 4) st_buf_append(&kb, &v, sizeof v);
        if (k == 3) {
            cp_part cp = {v, part, total};
            st_buf_append(&pb, &cp, sizeof cp);
        }
    }
    closedir(d);
    free(dir);
    complete_multipart((cp_part *)(void *)pb.data, pb.len / sizeof(cp_part), &kb);
    st_buf_free(&pb);
    *ncommits = cb.len / sizeof(int64_t);
    size_t l;
    *commits = (int64_t *)st_buf_detach(&cb, &l);
    *ncheckpoints = kb.len / sizeof(int64_t);
    *checkpoints = (int64_t *)st_buf_detach(&kb, &l);
    if (*ncommits) qsort(*commits, *ncommits, sizeof(int64_t), cmp_i64);
    *ncheckpoints = sort_unique(*checkpoints, *ncheckpoints);
    return ST_OK;
}

/* stat(2) mtime in ms, -1 on error. */
int64_t delta_file_mtime_ms(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Newest commit or checkpoint version by one listing; -1 without a log. */
st_code delta_latest_version(const char *table_path, int64_t *version, st_err *e)
{
    int64_t *c = NULL, *k = NULL;
    size_t nc = 0, nk = 0;
    *version = -1;
    st_code rc = delta_list_log(table_path, &c, &nc, &k, &nk, e);
    if (rc == ST_ERR_NOTFOUND) {
        st_err_clear(e);
        rc = ST_OK;
    }
    if (!rc && nc) *version = c[nc - 1];
    if (!rc && nk && k[nk - 1] > *version) *version = k[nk - 1];
    free(c);
    free(k);
    return rc;
}

/* Length in bytes of the first `max_cp` code points of valid UTF-8 s; -1 if s is not
 * valid UTF-8. *truncated says whether the string was longer. */
long delta_utf8_prefix(const uint8_t *s, size_t n, size_t max_cp, int *truncated)
{
    size_t i = 0, cps = 0;
    *truncated = 0;
    while (i < n) {
        if (cps == max_cp) {
            *truncated = 1;
            return (long)i;
        }
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return -1;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80) return -1;
        i += k;
        cps++;
    }
    return (long)i;
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

