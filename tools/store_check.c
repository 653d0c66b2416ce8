/* store_check — the storage layer's promises (store/store.h), checked on any store: the same
 * checks on a local folder and on an S3 server (tests/integration/test_s3.py runs them
 * against the local s3proxy in both addressing styles).
 *
 *   store_check contract URI      every check below under URI (use a fresh prefix); prints
 *                                 "ok N checks" and exits 0, or the failures and exits 1
 *   store_check abandon URI KEY   starts a streaming write of 6 MiB (a multipart upload on
 *                                 S3, with -S part_size=5MiB) and exits without closing it:
 *                                 a killed writer
 *   store_check purge URI MS      st_store_purge_abandoned of what is older than MS ms ago;
 *                                 prints the count
 * Object storage options (-S key=value, --s3-path-style) as for smarttech, before the verb.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/buf.h"

static int checks, failures;

#define CHECK(cond, ...)                                                \
    do {                                                                \
        checks++;                                                       \
        if (!(cond)) {                                                  \
            failures++;                                                 \
            fprintf(stderr, "store_check:%d: %s: ", __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                               \
            fputc('\n', stderr);                                        \
        }                                                               \
    } while (0)

static const char *uri;

static st_store *open_store(void)
{
    st_store *s = NULL;
    st_err e;
    if (st_store_open(uri, &s, &e)) {
        fprintf(stderr, "store_check: %s\n", e.msg);
        exit(2);
    }
    return s;
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Byte i of the test pattern. */
static uint8_t pat(uint64_t i, int seed) { return (uint8_t)((i * 2654435761u) >> 13 ^ (uint64_t)seed); }

static void fill(uint8_t *b, uint64_t off, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++) b[i] = pat(off + i, seed);
}

static int same(const st_buf *b, const char *s) { return b->len == strlen(s) && !memcmp(b->data, s, b->len); }

/* Keys of a listing joined with ' ' (folders as "k/"). */
static char *joined(const st_list *l)
{
    st_buf b = {0};
    for (size_t i = 0; i < l->count; i++) st_buf_printf(&b, "%s%s", i ? " " : "", l->items[i].key);
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

static void check_list(st_store *s, const char *prefix, const char *after, int flags, const char *want)
{
    st_list l = {0};
    st_err e;
    st_code rc = st_store_list(s, prefix, after, flags, &l, &e);
    CHECK(rc == ST_OK, "list %s: %s", prefix, e.msg);
    char *got = joined(&l);
    CHECK(!strcmp(got, want), "list '%s' after '%s' (%s): got [%s], want [%s]", prefix, after ? after : "",
          flags ? "recursive" : "folders", got, want);
    free(got);
    st_list_free(&l);
}

static void test_objects(st_store *s)
{
    st_err e;
    st_buf b = {0};
    st_stat st;
    const char *k = "o/event_date=2026-11-26/part 1+\xc3\xa9~x.json";
    CHECK(st_store_write(s, k, "hello, object", 13, &e) == ST_OK, "%s", e.msg);
    CHECK(st_store_read(s, k, &b, &st, &e) == ST_OK && same(&b, "hello, object") && st.size == 13, "%s", e.msg);
    CHECK(st_store_stat(s, k, &st, &e) == ST_OK && st.size == 13 && st.mtime_ms > now_ms() - 600000,
          "stat: %s", e.msg);
    st_buf_reset(&b);
    CHECK(st_store_read_range(s, k, 7, 6, &b, &e) == ST_OK && same(&b, "object"), "range: %s", e.msg);
    st_buf_reset(&b);
    CHECK(st_store_read_range(s, k, 7, 100, &b, &e) == ST_OK && same(&b, "object"), "range past the end");
    st_buf_reset(&b);
    CHECK(st_store_read_range(s, k, 13, 5, &b, &e) == ST_OK && b.len == 0, "range at the end: %zu", b.len);
    CHECK(st_store_read_range(s, k, 50, 5, &b, &e) == ST_OK && b.len == 0, "range past the end: %zu", b.len);
    CHECK(st_store_write(s, k, "replaced", 8, &e) == ST_OK, "%s", e.msg);
    st_buf_reset(&b);
    CHECK(st_store_read(s, k, &b, NULL, &e) == ST_OK && same(&b, "replaced"), "replace");
    CHECK(st_store_delete(s, k, &e) == ST_OK && st_store_delete(s, k, &e) == ST_OK, "delete twice: %s", e.msg);
    CHECK(st_store_read(s, k, &b, NULL, &e) == ST_ERR_NOTFOUND && strstr(e.msg, "o/event_date"), "read deleted: %s",
          e.msg);
    CHECK(st_store_stat(s, k, &st, &e) == ST_ERR_NOTFOUND, "stat deleted: %s", e.msg);
    /* empty objects */
    CHECK(st_store_write(s, "o/empty", "", 0, &e) == ST_OK, "%s", e.msg);
    st_buf_reset(&b);
    CHECK(st_store_read(s, "o/empty", &b, &st, &e) == ST_OK && b.len == 0 && st.size == 0, "empty: %s", e.msg);
    st_source *src = NULL;
    CHECK(st_store_open_source(s, "o/empty", &src, &e) == ST_OK && src && st_source_size(src) == 0, "%s", e.msg);
    st_source_close(src);
    CHECK(st_store_open_source(s, "o/none", &src, &e) == ST_ERR_NOTFOUND && !src, "%s", e.msg);
    /* put-if-absent */
    CHECK(st_store_put_if_absent(s, "o/v0", "first", 5, &e) == ST_OK, "%s", e.msg);
    CHECK(st_store_put_if_absent(s, "o/v0", "second", 6, &e) == ST_ERR_CONFLICT && strstr(e.msg, "o/v0"), "%s",
          e.msg);
    st_buf_reset(&b);
    CHECK(st_store_read(s, "o/v0", &b, NULL, &e) == ST_OK && same(&b, "first"), "put-if-absent kept the first");
    st_buf_free(&b);
}

typedef struct racer {
    pthread_barrier_t *gate;
    int id;
    st_code rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    st_store *s = open_store(); /* one store per thread, as store.h wants */
    char body[32];
    int n = snprintf(body, sizeof body, "writer %d", r->id);
    pthread_barrier_wait(r->gate);
    st_err e;
    r->rc = st_store_put_if_absent(s, "race/00000000000000000001.json", body, (size_t)n, &e);
    if (r->rc && r->rc != ST_ERR_CONFLICT) fprintf(stderr, "store_check: racer %d: %s\n", r->id, e.msg);
    st_store_close(s);
    return NULL;
}

static void test_race(st_store *s)
{
    enum { N = 8 };
    pthread_t t[N];
    racer r[N];
    pthread_barrier_t gate;
    pthread_barrier_init(&gate, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){&gate, i, ST_OK};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    int won = -1, lost = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc == ST_OK) won = won < 0 ? i : 100;
        lost += r[i].rc == ST_ERR_CONFLICT;
    }
    pthread_barrier_destroy(&gate);
    CHECK(won >= 0 && won < N && lost == N - 1, "racing put-if-absent: winner %d, %d conflicts", won, lost);
    st_buf b = {0};
    st_err e;
    char want[32];
    snprintf(want, sizeof want, "writer %d", won);
    CHECK(st_store_read(s, "race/00000000000000000001.json", &b, NULL, &e) == ST_OK && same(&b, want),
          "the winner's bytes");
    st_buf_free(&b);
}

typedef struct filler {
    int from, to;
} filler;

static void *fill_keys(void *arg)
{
    filler *f = arg;
    st_store *s = open_store();
    st_err e;
    for (int i = f->from; i < f->to; i++) {
        char k[32];
        snprintf(k, sizeof k, "p/k%04d", i);
        if (st_store_write(s, k, k, strlen(k), &e)) fprintf(stderr, "store_check: %s\n", e.msg);
    }
    st_store_close(s);
    return NULL;
}

static void test_list(st_store *s)
{
    st_err e;
    static const char *const keys[] = {"l/v2", "l/a", "l/b/c", "l/b/d/e", "l/v10", "l/v1", "l/\xc3\xa9", "l/Z",
                                       "lz"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CHECK(st_store_write(s, keys[i], "x", 1, &e) == ST_OK, "%s", e.msg);
    check_list(s, "l/", NULL, ST_LIST_RECURSIVE, "l/Z l/a l/b/c l/b/d/e l/v1 l/v10 l/v2 l/\xc3\xa9");
    check_list(s, "l/", NULL, 0, "l/Z l/a l/b/ l/v1 l/v10 l/v2 l/\xc3\xa9");
    check_list(s, "l/", "l/v1", ST_LIST_RECURSIVE, "l/v10 l/v2 l/\xc3\xa9");
    check_list(s, "l/", "l/a", 0, "l/b/ l/v1 l/v10 l/v2 l/\xc3\xa9");
    check_list(s, "l/v", NULL, 0, "l/v1 l/v10 l/v2");
    check_list(s, "l/b/", NULL, 0, "l/b/c l/b/d/");
    check_list(s, "l", NULL, 0, "l/ lz");
    check_list(s, "nothing/", NULL, ST_LIST_RECURSIVE, "");
    st_list l = {0};
    CHECK(st_store_list(s, "l/", NULL, ST_LIST_RECURSIVE, &l, &e) == ST_OK && l.count == 8 && l.items[0].size == 1 &&
              l.items[0].mtime_ms > now_ms() - 600000,
          "sizes and times in listings");
    st_list_free(&l);

    /* more keys than one page of ListObjectsV2 (1000) */
    enum { NKEYS = 1100, NT = 8 };
    pthread_t t[NT];
    filler f[NT];
    for (int i = 0; i < NT; i++) {
        f[i] = (filler){i * NKEYS / NT, (i + 1) * NKEYS / NT};
        pthread_create(&t[i], NULL, fill_keys, &f[i]);
    }
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    CHECK(st_store_list(s, "p/", NULL, 0, &l, &e) == ST_OK && l.count == NKEYS, "%zu keys listed: %s", l.count,
          e.msg);
    int sorted = 1;
    for (size_t i = 1; i < l.count; i++) sorted &= strcmp(l.items[i - 1].key, l.items[i].key) < 0;
    CHECK(sorted, "page after page, in order");
    st_list_free(&l);
    CHECK(st_store_list(s, "p/", "p/k0999", 0, &l, &e) == ST_OK && l.count == 100 && !strcmp(l.items[0].key, "p/k1000"),
          "start-after past the first page: %zu", l.count);
    st_list_free(&l);
}

static void test_sinks(st_store *s)
{
    st_err e;
    st_sink *k = NULL;
    st_buf b = {0};
    st_stat st;
    /* small: invisible until close */
    CHECK(st_store_open_sink(s, "k/small", ST_SINK_REPLACE, &k, &e) == ST_OK, "%s", e.msg);
    CHECK(st_sink_write(k, "ab", 2, &e) == ST_OK && st_sink_write(k, "cd", 2, &e) == ST_OK, "%s", e.msg);
    CHECK(st_store_stat(s, "k/small", &st, &e) == ST_ERR_NOTFOUND, "visible before close");
    check_list(s, "k/", NULL, ST_LIST_RECURSIVE, "");
    CHECK(st_sink_close(k, &st, &e) == ST_OK && st.size == 4, "%s", e.msg);
    CHECK(st_store_read(s, "k/small", &b, NULL, &e) == ST_OK && same(&b, "abcd"), "sink content");
    /* aborted: nothing */
    CHECK(st_store_open_sink(s, "k/aborted", ST_SINK_REPLACE, &k, &e) == ST_OK, "%s", e.msg);
    st_sink_write(k, "zz", 2, &e);
    st_sink_abort(k);
    CHECK(st_store_stat(s, "k/aborted", &st, &e) == ST_ERR_NOTFOUND, "aborted sink left an object");
    /* if-absent over an existing key: conflict, the old object stays */
    CHECK(st_store_open_sink(s, "k/small", ST_SINK_IF_ABSENT, &k, &e) == ST_OK, "%s", e.msg);
    st_sink_write(k, "new", 3, &e);
    CHECK(st_sink_close(k, NULL, &e) == ST_ERR_CONFLICT, "if-absent sink over a key: %s", e.msg);
    st_buf_reset(&b);
    CHECK(st_store_read(s, "k/small", &b, NULL, &e) == ST_OK && same(&b, "abcd"), "kept");

    /* large: past the part size (5 MiB for the test: a 3-part multipart upload on S3) */
    const size_t total = 11u << 20, chunk = 1u << 20;
    uint8_t *d = malloc(chunk);
    CHECK(st_store_open_sink(s, "k/large.bin", ST_SINK_REPLACE, &k, &e) == ST_OK, "%s", e.msg);
    for (size_t off = 0; off < total; off += chunk) {
        fill(d, off, chunk, 1);
        CHECK(st_sink_write(k, d, chunk, &e) == ST_OK, "%s", e.msg);
    }
    CHECK(st_store_stat(s, "k/large.bin", &st, &e) == ST_ERR_NOTFOUND, "large sink visible before close");
    CHECK(st_sink_close(k, &st, &e) == ST_OK && st.size == (int64_t)total, "%s", e.msg);
    st_buf_reset(&b);
    CHECK(st_store_read(s, "k/large.bin", &b, &st, &e) == ST_OK && b.len == total, "%zu bytes", b.len);
    int ok = b.len == total;
    for (size_t i = 0; ok && i < total; i++) ok = b.data[i] == pat(i, 1);
    CHECK(ok, "large object content");
    /* a large aborted sink leaves nothing either */
    CHECK(st_store_open_sink(s, "k/large-aborted", ST_SINK_REPLACE, &k, &e) == ST_OK, "%s", e.msg);
    for (int i = 0; i < 6; i++) st_sink_write(k, d, chunk, &e);
    st_sink_abort(k);
    CHECK(st_store_stat(s, "k/large-aborted", &st, &e) == ST_ERR_NOTFOUND, "aborted large sink");
    size_t removed = 99;
    CHECK(st_store_purge_abandoned(s, "k/", now_ms() + 60000, &removed, &e) == ST_OK && removed == 0,
          "abort left %zu uploads: %s", removed, e.msg);

    /* sources: random reads of the large object, inside and outside the first request's tail */
    st_source *src = NULL;
    CHECK(st_store_open_source(s, "k/large.bin", &src, &e) == ST_OK && st_source_size(src) == (int64_t)total, "%s",
          e.msg);
    const uint64_t at[] = {0, 5u << 20, total - 100, total - (2u << 20), 12345};
    for (size_t i = 0; src && i < sizeof at / sizeof at[0]; i++) {
        size_t n = 100;
        uint8_t got[100], want[100];
        fill(want, at[i], n, 1);
        CHECK(st_source_read(src, at[i], n, got, &e) == ST_OK && !memcmp(got, want, n), "source at %llu: %s",
              (unsigned long long)at[i], e.msg);
    }
    uint8_t x;
    CHECK(src && st_source_read(src, total, 1, &x, &e) == ST_ERR_FORMAT, "read past the end");
    if (src && !st_store_local_path(s)) {
        /* an object store: the object replaced under an open source is noticed, not mixed */
        CHECK(st_store_write(s, "k/large.bin", "short", 5, &e) == ST_OK, "%s", e.msg);
        CHECK(st_source_read(src, 0, 100, d, &e) == ST_ERR_FORMAT && strstr(e.msg, "replaced"), "%s", e.msg);
    }
    st_source_close(src);
    free(d);
    st_buf_free(&b);
}

static int contract(void)
{
    st_err e;
    /* multipart from 5 MiB on, so the 11 MiB object above takes three parts */
    if (st_store_set_option("part_size", "5MiB", &e)) {
        fprintf(stderr, "store_check: %s\n", e.msg);
        return 2;
    }
    st_store *s = open_store();
    test_objects(s);
    test_race(s);
    test_list(s);
    test_sinks(s);
    st_store_close(s);
    if (failures) {
        fprintf(stderr, "store_check: %d of %d checks failed on %s\n", failures, checks, uri);
        return 1;
    }
    printf("ok %d checks on %s\n", checks, uri);
    return 0;
}

static int abandon(const char *key)
{
    st_err e;
    st_store_set_option("part_size", "5MiB", NULL);
    st_store *s = open_store();
    st_sink *k;
    if (st_store_open_sink(s, key, ST_SINK_REPLACE, &k, &e)) {
        fprintf(stderr, "store_check: %s\n", e.msg);
        return 1;
    }
    uint8_t *d = calloc(1, 1u << 20);
    for (int i = 0; i < 6; i++)
        if (st_sink_write(k, d, 1u << 20, &e)) {
            fprintf(stderr, "store_check: %s\n", e.msg);
            return 1;
        }
    printf("abandoned %s/%s after 6 MiB\n", st_store_root(s), key);
    fflush(stdout);
    _exit(0); /* as a killed writer: no close, no abort */
}

static int purge(const char *ms)
{
    st_err e;
    st_store *s = open_store();
    size_t n = 0;
    st_code rc = st_store_purge_abandoned(s, "", now_ms() - atoll(ms), &n, &e);
    st_store_close(s);
    if (rc) {
        fprintf(stderr, "store_check: %s\n", e.msg);
        return 1;
    }
    printf("%zu\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    st_err e;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--s3-path-style")) st_store_set_option("path_style", "true", NULL);
        else if (!strcmp(argv[i], "-S") && i + 1 < argc) {
            if (st_store_set_option_arg(argv[++i], &e)) {
                fprintf(stderr, "store_check: %s\n", e.msg);
                return 2;
            }
        } else break;
    }
    if (argc - i >= 2) uri = argv[i + 1];
    if (argc - i == 2 && !strcmp(argv[i], "contract")) return contract();
    if (argc - i == 3 && !strcmp(argv[i], "abandon")) return abandon(argv[i + 2]);
    if (argc - i == 3 && !strcmp(argv[i], "purge")) return purge(argv[i + 2]);
    fprintf(stderr, "usage: store_check [-S k=v] [--s3-path-style] contract URI | abandon URI KEY | purge URI MS\n");
    return 2;
}
