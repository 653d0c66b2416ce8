/* Unit tests of the Bronze file source's input side: SHA-256, the string map, the
 * record reader (JSON Lines and arrays, limits, damage) and the settle rule. */
#include "check.h"
#include "source/file_source.h"
#include "source/record_reader.h"
#include "util/sha256.h"
#include "util/strmap.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/st_bronze_io_XXXXXX";

static void sha_hex(const void *p, size_t n, char out[65])
{
    st_sha256 c;
    uint8_t d[32];
    st_sha256_init(&c);
    st_sha256_update(&c, p, n);
    st_sha256_final(&c, d);
    st_sha256_hex(d, out);
}

static void test_sha256(void)
{
    char h[65];
    sha_hex("", 0, h);
    CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(m, strlen(m), h);
    CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a' fed in odd-sized pieces */
    st_sha256 c;
    st_sha256_init(&c);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : (left % 7) + 1 + (left % 500);
        if (n > left) n = left;
        st_sha256_update(&c, a, n);
        left -= n;
    }
    uint8_t d[32];
    st_sha256_final(&c, d);
    st_sha256_hex(d, h);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Random inputs of many lengths hashed here and by the system's sha256sum (an
 * independent implementation): covers padding edges and the SHA-NI path. */
static void test_sha256_vs_sha256sum(void)
{
    char *p = st_path_join(dir, "sha.bin");
    uint64_t x = 88172645463325252ULL;
    static const size_t lens[] = {1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        unsigned char *d = st_xmalloc(n);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            d[k] = (unsigned char)x;
        }
        FILE *f = fopen(p, "wb");
        fwrite(d, 1, n, f);
        fclose(f);
        char mine[65], theirs[65] = "";
        sha_hex(d, n, mine);
        char cmd[512];
        snprintf(cmd, sizeof cmd, "sha256sum '%s'", p);
        FILE *ps = popen(cmd, "r");
        if (ps) {
            if (fscanf(ps, "%64s", theirs) != 1) theirs[0] = 0;
            pclose(ps);
        }
        if (theirs[0]) CHECK_MSG(!strcmp(mine, theirs), "length %zu: %s != %s", n, mine, theirs);
        file_source_file ff = {0};
        ff.path = p;
        ff.size = (int64_t)n;
        char viaf[65];
        st_err e;
        CHECK(file_source_hash(&ff, viaf, &e) == ST_OK && !strcmp(viaf, mine));
        free(d);
    }
    unlink(p);
    free(p);
}

static void test_strmap(void)
{
    strmap *m = strmap_new(free);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        strmap_put(m, k, st_xstrdup(k));
    }
    CHECK(strmap_count(m) == 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(k, sizeof k, "key-%d", i);
        CHECK(strmap_remove(m, k) == 1);
    }
    CHECK(strmap_remove(m, "key-0") == 0);
    CHECK(strmap_count(m) == 2500);
    CHECK(strmap_get(m, "key-2") == NULL);
    CHECK_STR((char *)strmap_get(m, "key-4999"), "key-4999");
    strmap_put(m, "key-3", st_xstrdup("three")); /* replace frees the old value */
    CHECK_STR((char *)strmap_get(m, "key-3"), "three");
    size_t pos = 0, n = 0;
    const char *key;
    void *val;
    while (strmap_next(m, &pos, &key, &val)) n++;
    CHECK(n == 2500);
    for (int i = 0; i < 20000; i++) { /* churn: tombstones must not fill the table */
        snprintf(k, sizeof k, "t-%d", i);
        strmap_put(m, k, NULL);
        strmap_remove(m, k);
    }
    CHECK(strmap_count(m) == 2500);
    strmap_destroy(m);
    strmap_destroy(NULL);
}

/* Writes data to dir/name, returns the path (caller frees). */
static char *put(const char *name, const void *data, size_t n)
{
    char *p = st_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
    return p;
}

typedef struct got {
    int kinds[64];
    int64_t numbers[64];
    char *texts[64];
    int64_t full[64];
    int n;
    st_code rc;
    int is_array;
} got;

static void got_free(got *g)
{
    for (int i = 0; i < g->n; i++) free(g->texts[i]);
}

/* Reads every record of `data` (limit = len + extra) with max_len. */
static got read_all(const char *data, size_t len, size_t max_len, int64_t extra)
{
    got g;
    memset(&g, 0, sizeof g);
    char *p = put("rec.json", data, len);
    int fd = open(p, O_RDONLY);
    rec_reader *r = rec_reader_new(fd, (int64_t)len + extra, max_len);
    for (;;) {
        rec_record rec;
        int eof;
        st_err e;
        g.rc = rec_reader_next(r, &rec, &eof, &e);
        if (g.rc || eof) break;
        if (g.n < 64) {
            g.kinds[g.n] = rec.kind;
            g.numbers[g.n] = rec.number;
            g.full[g.n] = rec.full_len;
            g.texts[g.n] = rec.kind == REC_SYNTAX ? st_xstrdup(rec.detail) : st_xstrndup(rec.data, rec.len);
            g.n++;
        }
    }
    g.is_array = rec_reader_is_array(r);
    rec_reader_destroy(r);
    close(fd);
    unlink(p);
    free(p);
    return g;
}

static void test_lines(void)
{
    const char *d = "\xEF\xBB\xBF{\"a\":1}\n\n  \t\r\n{\"b\":2}\r\n{\"c\":3}";
    got g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.rc == ST_OK && !g.is_array);
    CHECK(g.n == 3);
    CHECK(g.numbers[0] == 1 && g.numbers[1] == 4 && g.numbers[2] == 5);
    CHECK_STR(g.texts[0], "{\"a\":1}");
    CHECK_STR(g.texts[1], "{\"b\":2}\r");
    CHECK_STR(g.texts[2], "{\"c\":3}");
    got_free(&g);

    /* leading blank lines keep their numbers; a line with leading spaces */
    d = "\n\n   {\"x\":1}\n";
    g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.n == 1 && g.numbers[0] == 3);
    got_free(&g);

    /* empty and all-blank files */
    g = read_all("", 0, 1 << 20, 0);
    CHECK(g.rc == ST_OK && g.n == 0);
    got_free(&g);
    g = read_all(" \n\n \n", 4, 1 << 20, 0);
    CHECK(g.rc == ST_OK && g.n == 0);
    got_free(&g);

    /* too long: max_len 10; a 25-byte line in the middle, and one without newline at the end */
    d = "{\"a\":1}\n0123456789012345678901234\n{\"b\":2}\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    g = read_all(d, strlen(d), 10, 0);
    CHECK(g.n == 4);
    CHECK(g.kinds[0] == REC_OK && g.kinds[1] == REC_TOO_LONG && g.kinds[2] == REC_OK && g.kinds[3] == REC_TOO_LONG);
    CHECK(g.full[1] == 25 && g.numbers[1] == 2 && g.numbers[2] == 3 && g.full[3] == 30 && g.numbers[3] == 4);
    CHECK_STR(g.texts[2], "{\"b\":2}");
    got_free(&g);

    /* binary garbage with NULs: cut at newlines, never fails */
    char bin[300];
    for (int i = 0; i < 300; i++) bin[i] = (char)(i * 37 + 11);
    g = read_all(bin, sizeof bin, 1 << 20, 0);
    CHECK(g.rc == ST_OK && g.n >= 1);
    got_free(&g);

    /* a file shorter than announced (truncated while read) */
    d = "{\"a\":1}\n{\"b\":2}\n";
    g = read_all(d, strlen(d), 1 << 20, 5);
    CHECK(g.rc == ST_ERR_STATE && g.n == 2);
    got_free(&g);
}

static void test_lines_big(void)
{
    /* 3 MB of lines of varied length: crosses many refills; max_len 1 MiB with one
     * 1.5 MB line in the middle. */
    st_buf b = {0};
    int64_t lines = 0, ok = 0;
    for (int i = 0; i < 20000; i++) {
        st_buf_printf(&b, "{\"i\":%d,\"pad\":\"%0*d\"}\n", i, i % 200, 0);
        lines++;
    }
    size_t big = 1500000;
    st_buf_reserve(&b, big + 1);
    memset(b.data + b.len, 'z', big);
    b.len += big;
    st_buf_append_u8(&b, '\n');
    lines++;
    for (int i = 0; i < 20000; i++) {
        st_buf_printf(&b, "{\"j\":%d}\n", i);
        lines++;
    }
    char *p = put("big.json", b.data, b.len);
    int fd = open(p, O_RDONLY);
    rec_reader *r = rec_reader_new(fd, (int64_t)b.len, 1 << 20);
    int64_t n = 0, too_long = 0, last = 0, bad_order = 0;
    for (;;) {
        rec_record rec;
        int eof;
        st_err e;
        if (rec_reader_next(r, &rec, &eof, &e) || eof) break;
        n++;
        if (rec.number != last + 1) bad_order++;
        last = rec.number;
        if (rec.kind == REC_TOO_LONG) {
            too_long++;
            CHECK(rec.full_len == (int64_t)big && rec.number == 20001 && rec.len == REC_SAMPLE_BYTES);
        } else if (rec.kind == REC_OK && rec.data[0] == '{' && rec.data[rec.len - 1] == '}') {
            ok++;
        }
    }
    CHECK(n == lines && too_long == 1 && ok == lines - 1 && bad_order == 0);
    CHECK(rec_reader_bytes_read(r) == (int64_t)b.len);
    rec_reader_destroy(r);
    close(fd);
    unlink(p);
    free(p);
    st_buf_free(&b);
}

static void test_arrays(void)
{
    const char *d = "  [ {\"a\":\"x,]}\\\"[\"} , {\"b\":[1,2,{\"c\":3}]},\n 42 ,\"s\" ]  \n";
    got g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.rc == ST_OK && g.is_array);
    CHECK(g.n == 4);
    CHECK_STR(g.texts[0], "{\"a\":\"x,]}\\\"[\"}");
    CHECK_STR(g.texts[1], "{\"b\":[1,2,{\"c\":3}]}");
    CHECK_STR(g.texts[2], "42");
    CHECK_STR(g.texts[3], "\"s\"");
    CHECK(g.numbers[0] == 1 && g.numbers[3] == 4);
    got_free(&g);

    g = read_all("[]", 2, 1 << 20, 0);
    CHECK(g.rc == ST_OK && g.n == 0 && g.is_array);
    got_free(&g);

    /* trailing comma */
    d = "[{\"a\":1},]";
    g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.n == 2 && g.kinds[0] == REC_OK && g.kinds[1] == REC_SYNTAX && g.numbers[1] == 2);
    got_free(&g);

    /* not closed: the complete element is still returned, then the damage */
    d = "[{\"a\":1},{\"b\":2}";
    g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.n == 3 && g.kinds[1] == REC_OK && g.kinds[2] == REC_SYNTAX && g.numbers[2] == 3);
    CHECK_STR(g.texts[1], "{\"b\":2}");
    got_free(&g);
    d = "[{\"a\":1},";
    g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.n == 2 && g.kinds[1] == REC_SYNTAX);
    got_free(&g);

    /* data after the closing bracket */
    d = "[{\"a\":1}] {\"b\":2}\n";
    g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.n == 2 && g.kinds[1] == REC_SYNTAX && g.numbers[1] == 2);
    got_free(&g);

    /* element longer than max_len (10) */
    d = "[{\"a\":\"0123456789\"},{}]";
    g = read_all(d, strlen(d), 10, 0);
    CHECK(g.n == 2 && g.kinds[0] == REC_TOO_LONG && g.full[0] == 18 && g.kinds[1] == REC_OK);
    got_free(&g);

    /* unbalanced: never crashes, the parser gets the bytes */
    d = "[{\"a\":1]}, {\"b\":\"unterminated";
    g = read_all(d, strlen(d), 1 << 20, 0);
    CHECK(g.rc == ST_OK && g.n >= 1);
    got_free(&g);
}

static void test_arrays_big(void)
{
    st_buf b = {0};
    st_buf_append_str(&b, "[\n");
    for (int i = 0; i < 30000; i++) st_buf_printf(&b, "%s{\"i\":%d,\"s\":\"a,b]c\"}", i ? ",\n" : "", i);
    st_buf_append_str(&b, "\n]\n");
    char *p = put("arr.json", b.data, b.len);
    int fd = open(p, O_RDONLY);
    rec_reader *r = rec_reader_new(fd, (int64_t)b.len, 1 << 20);
    int n = 0, good = 0;
    for (;;) {
        rec_record rec;
        int eof;
        st_err e;
        if (rec_reader_next(r, &rec, &eof, &e) || eof) break;
        char want[64];
        int wl = snprintf(want, sizeof want, "{\"i\":%d,\"s\":\"a,b]c\"}", n);
        if (rec.kind == REC_OK && rec.len == (size_t)wl && !memcmp(rec.data, want, (size_t)wl) && rec.number == n + 1)
            good++;
        n++;
    }
    CHECK(n == 30000 && good == 30000);
    rec_reader_destroy(r);
    close(fd);
    unlink(p);
    free(p);
    st_buf_free(&b);
}

static int in_list(const file_source_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].name, name)) return 1;
    return 0;
}

static void test_file_source(void)
{
    CHECK(file_source_name_ignored(".hidden.json"));
    CHECK(file_source_name_ignored("a.json.tmp"));
    CHECK(file_source_name_ignored("a.part"));
    CHECK(file_source_name_ignored("a.crdownload"));
    CHECK(file_source_name_ignored("a.json~"));
    CHECK(!file_source_name_ignored("a.json"));
    CHECK(!file_source_name_ignored("tmp.json"));

    char *sub = st_path_join(dir, "in");
    file_source_options o;
    file_source_options_init(&o);
    CHECK(o.settle_us == 1000000);
    file_source *s = file_source_new(sub, &o);
    file_source_list l = {0};
    size_t pending;
    int64_t next;
    st_err e;
    /* missing directory: no files, no error */
    CHECK(file_source_poll(s, 0, &l, &pending, &next, &e) == ST_OK && l.count == 0 && pending == 0);
    CHECK(st_mkdirs(sub, &e) == ST_OK);
    char *a = st_path_join(sub, "a.json"), *t = st_path_join(sub, ".b.json.tmp"), *c = st_path_join(sub, "c.json");
    FILE *f = fopen(a, "w");
    fputs("{}\n", f);
    fclose(f);
    f = fopen(t, "w");
    fputs("{}\n", f);
    fclose(f);
    char *dd = st_path_join(sub, "adir");
    mkdir(dd, 0755);
    int64_t now = 1000000000;
    CHECK(file_source_poll(s, now, &l, &pending, &next, &e) == ST_OK);
    CHECK(l.count == 0 && pending == 1 && next == now + 1000000);
    CHECK(file_source_poll(s, now + 999999, &l, &pending, &next, &e) == ST_OK && l.count == 0 && pending == 1);
    CHECK(file_source_poll(s, now + 1000000, &l, &pending, &next, &e) == ST_OK);
    CHECK(l.count == 1 && pending == 0 && in_list(&l, "a.json"));
    CHECK(l.count == 1 && l.items[0].size == 3);
    char hex[65];
    CHECK(file_source_hash(&l.items[0], hex, &e) == ST_OK);
    CHECK_STR(hex, "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"); /* sha256("{}\n") */
    CHECK(file_source_unchanged(&l.items[0]));
    /* the file grows: not ready again until it settles anew */
    f = fopen(a, "a");
    fputs("{\"x\":1}\n", f);
    fclose(f);
    CHECK(!file_source_unchanged(&l.items[0]));
    file_source_list_free(&l);
    CHECK(file_source_poll(s, now + 1500000, &l, &pending, &next, &e) == ST_OK && l.count == 0 && pending == 1);
    CHECK(file_source_poll(s, now + 2600000, &l, &pending, &next, &e) == ST_OK && l.count == 1);
    file_source_mark_done(s, &l.items[0]);
    file_source_list_free(&l);
    /* done: not returned again; a second file; ordering by mtime then name */
    f = fopen(c, "w");
    fputs("[]", f);
    fclose(f);
    CHECK(file_source_poll(s, now + 3000000, &l, &pending, &next, &e) == ST_OK && l.count == 0 && pending == 1);
    CHECK(file_source_poll(s, now + 4000000, &l, &pending, &next, &e) == ST_OK && l.count == 1 && in_list(&l, "c.json"));
    file_source_list_free(&l);
    /* removed and re-created under the same name: a new file */
    unlink(a);
    CHECK(file_source_poll(s, now + 4100000, &l, &pending, &next, &e) == ST_OK && l.count == 1);
    file_source_list_free(&l);
    f = fopen(a, "w");
    fputs("{}\n", f);
    fclose(f);
    CHECK(file_source_poll(s, now + 4200000, &l, &pending, &next, &e) == ST_OK && pending == 1);
    file_source_list_free(&l);
    CHECK(file_source_poll(s, now + 5200000, &l, &pending, &next, &e) == ST_OK && in_list(&l, "a.json"));
    /* hashing a file that became shorter / vanished */
    size_t ia = 0;
    while (ia < l.count && strcmp(l.items[ia].name, "a.json")) ia++;
    CHECK(ia < l.count && l.count == 2); /* c.json was never marked done */
    if (ia < l.count) {
        file_source_file g = l.items[ia];
        g.size = 100;
        CHECK(file_source_hash(&g, hex, &e) == ST_ERR_STATE);
        unlink(a);
        CHECK(file_source_hash(&l.items[ia], hex, &e) == ST_ERR_NOTFOUND);
    }
    file_source_list_free(&l);
    file_source_destroy(s);
    file_source_destroy(NULL);
    free(a);
    free(t);
    free(c);
    free(dd);
    free(sub);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
#ifdef SMARTTECH_TEST_HOOKS
    int ni = st_sha256_force_portable(0);
    fprintf(stderr, "sha256: SHA-NI %s\n", ni ? "in use" : "not available");
    test_sha256();
    test_sha256_vs_sha256sum();
    st_sha256_force_portable(1);
    test_sha256();
    test_sha256_vs_sha256sum();
    st_sha256_force_portable(0);
#else
    test_sha256();
    test_sha256_vs_sha256sum();
    CHECK_SKIP_NO_HOOKS("sha256 portable rounds where SHA-NI is available");
#endif
    test_strmap();
    test_lines();
    test_lines_big();
    test_arrays();
    test_arrays_big();
    test_file_source();
    st_err e;
    st_remove_tree(dir, &e);
    return CHECK_DONE();
}
