#include "check.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/htab.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/units.h"
#include "util/uri.h"
#include "util/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static void test_time(void)
{
    int64_t us;
    CHECK(st_parse_iso_us("2026-11-26T10:00:00.123Z", 24, &us) == 0);
    char out[64];
    st_format_iso_us(us, out, sizeof out, 1);
    CHECK_STR(out, "2026-11-26T10:00:00.123Z");
    CHECK(st_parse_iso_us("2026-11-26T11:00:00.123+01:00", 29, &us) == 0);
    st_format_iso_us(us, out, sizeof out, 0);
    CHECK_STR(out, "2026-11-26T10:00:00.123000Z");
    CHECK(st_parse_iso_us("1969-12-31T23:59:59.5Z", 22, &us) == 0);
    CHECK(us == -500000);
    st_format_iso_us(us, out, sizeof out, 0);
    CHECK_STR(out, "1969-12-31T23:59:59.500000Z");
    CHECK(st_parse_iso_us("2026-02-30T00:00:00Z", 20, &us) == -1);
    CHECK(st_parse_iso_us("not a time", 10, &us) == -1);
    st_format_date(0, out, sizeof out);
    CHECK_STR(out, "1970-01-01");
    st_format_date(-1, out, sizeof out);
    CHECK_STR(out, "1969-12-31");
    int64_t d;
    CHECK(st_parse_duration_us("2s", &d) == 0 && d == 2000000);
    CHECK(st_parse_duration_us("500ms", &d) == 0 && d == 500000);
    CHECK(st_parse_duration_us("10min", &d) == 0 && d == 600000000);
    CHECK(st_parse_duration_us("x", &d) == -1);
}

/* The one duration grammar (CLI options and Delta retention properties) and its printer. */
static void test_durations(void)
{
    int64_t d = -7;
    CHECK(st_parse_duration_us("90", &d) == 0 && d == 90000000);            /* bare number: seconds */
    CHECK(st_parse_duration_us("0.5s", &d) == 0 && d == 500000);
    CHECK(st_parse_duration_us("250us", &d) == 0 && d == 250);
    CHECK(st_parse_duration_us("1m", &d) == 0 && d == 60000000);
    CHECK(st_parse_duration_us("1h", &d) == 0 && d == 3600000000LL);
    CHECK(st_parse_duration_us("7d", &d) == 0 && d == 7 * 86400000000LL);
    CHECK(st_parse_duration_us("1w", &d) == 0 && d == 7 * 86400000000LL);
    CHECK(st_parse_duration_us("interval 1 week", &d) == 0 && d == 7 * 86400000000LL);
    CHECK(st_parse_duration_us("  2 HOURS ", &d) == 0 && d == 7200000000LL);
    CHECK(st_parse_duration_us("1e3ms", &d) == 0 && d == 1000000);
    CHECK(st_parse_duration_us("0s", &d) == 0 && d == 0);
    d = -7;
    const char *bad[] = {"", " ", "5x", "-1s", "+1s", "nan", "inf", "s", "1 fortnight", "a week", "1e30s", "interval",
                         "1s2", "1 s s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_MSG(st_parse_duration_us(bad[i], &d) == -1, "'%s'", bad[i]);
    CHECK(d == -7); /* untouched on failure */
    char out[32];
    struct {
        int64_t us;
        const char *text;
    } fmt[] = {{0, "0s"}, {1, "1us"}, {500000, "500ms"}, {2000000, "2s"}, {90000000, "90s"}, {600000000, "10min"},
               {3600000000LL, "1h"}, {7 * 86400000000LL, "7d"}, {1500, "1500us"}, {-2000000, "-2s"}};
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        st_format_duration_us(fmt[i].us, out, sizeof out);
        CHECK_STR(out, fmt[i].text);
        if (fmt[i].us >= 0) CHECK(st_parse_duration_us(out, &d) == 0 && d == fmt[i].us); /* reads back */
    }
}

static void test_bytes(void)
{
    int64_t n = -7;
    CHECK(st_parse_bytes("4096", &n) == 0 && n == 4096);
    CHECK(st_parse_bytes("64k", &n) == 0 && n == 65536);
    CHECK(st_parse_bytes("128MB", &n) == 0 && n == 128LL << 20); /* powers of 1024, as Spark's settings */
    CHECK(st_parse_bytes("1GiB", &n) == 0 && n == 1LL << 30);
    CHECK(st_parse_bytes("1.5k", &n) == 0 && n == 1536);
    CHECK(st_parse_bytes("2tb", &n) == 0 && n == 2LL << 40);
    CHECK(st_parse_bytes("0", &n) == 0 && n == 0);
    const char *bad[] = {"", "-1", "0.3", "12XB", "1e30", "k", "1 k", "inf", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_MSG(st_parse_bytes(bad[i], &n) == -1, "'%s'", bad[i]);
    char out[32];
    st_format_bytes(268435456, out, sizeof out);
    CHECK_STR(out, "256MiB");
    st_format_bytes(4096, out, sizeof out);
    CHECK_STR(out, "4KiB");
    st_format_bytes(1000, out, sizeof out);
    CHECK_STR(out, "1000");
    st_format_bytes(0, out, sizeof out);
    CHECK_STR(out, "0");
    st_format_bytes(128LL << 20, out, sizeof out);
    CHECK(st_parse_bytes(out, &n) == 0 && n == 128LL << 20);
}

static void test_buf(void)
{
    st_buf b = {0};
    for (int i = 0; i < 1000; i++) st_buf_printf(&b, "%d,", i);
    CHECK(b.len > 1000);
    st_buf_reset(&b);
    st_buf_append_json_str(&b, "a\"b\n\x01", 5);
    CHECK_STR(st_buf_cstr(&b), "\"a\\\"b\\n\\u0001\"");
    st_buf_free(&b);
    st_buf_free(&b);
}

static void test_fs(void)
{
    char dir[] = "/tmp/st_util_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *sub = st_path_join(dir, "a/b/c");
    st_err e;
    CHECK(st_mkdirs(sub, &e) == ST_OK);
    char *f = st_path_join(sub, "x.json");
    CHECK(st_write_file_exclusive(f, "hi", 2, &e) == ST_OK);
    CHECK(st_write_file_exclusive(f, "ho", 2, &e) == ST_ERR_CONFLICT);
    st_buf b = {0};
    CHECK(st_read_file(f, &b, &e) == ST_OK && b.len == 2);
    st_buf_free(&b);
    CHECK(st_read_file("/nonexistent/zz", &b, &e) == ST_ERR_NOTFOUND);
    CHECK(st_remove_tree(dir, &e) == ST_OK);
    CHECK(!st_path_exists(dir));
    free(sub);
    free(f);
}

/* ------------------------------------------------------------------ UTF-8 */

/* Reference decoder, written from RFC 3629 section 4 in the plainest way (bit patterns, then
 * the code point's range), independent of utf8.h: length of the valid sequence at s, or 0. */
static size_t ref_utf8_len(const uint8_t *s, size_t n)
{
    uint32_t cp, min;
    size_t len;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) len = 2, cp = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0) len = 3, cp = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0) len = 4, cp = s[0] & 0x07, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static int valid(const char *s) { return st_utf8_valid(s, strlen(s)); }

static void test_utf8(void)
{
    /* valid: ASCII, 2/3/4 bytes, the first and last code point of each length, U+10FFFF */
    CHECK(st_utf8_valid("", 0) && st_utf8_valid(NULL, 0));
    CHECK(valid("plain ascii, longer than eight bytes"));
    CHECK(valid("\xC3\xA9") && valid("\xE2\x82\xAC") && valid("\xF0\x90\x8D\x88"));
    CHECK(valid("\xC2\x80") && valid("\xDF\xBF"));                 /* U+0080, U+07FF */
    CHECK(valid("\xE0\xA0\x80") && valid("\xEF\xBF\xBF"));         /* U+0800, U+FFFF */
    CHECK(valid("\xF0\x90\x80\x80") && valid("\xF4\x8F\xBF\xBF")); /* U+10000, U+10FFFF (the max) */
    CHECK(valid("\xED\x9F\xBF") && valid("\xEE\x80\x80"));         /* U+D7FF, U+E000 around the surrogates */
    CHECK(st_utf8_valid("a\0b", 3));                               /* NUL is a character */
    /* overlong forms */
    CHECK(!valid("\xC0\x80") && !valid("\xC1\xBF") && !valid("\xE0\x80\x80") && !valid("\xE0\x9F\xBF"));
    CHECK(!valid("\xF0\x80\x80\x80") && !valid("\xF0\x8F\xBF\xBF"));
    /* surrogates (CESU-8 style pairs too) */
    CHECK(!valid("\xED\xA0\x80") && !valid("\xED\xBF\xBF") && !valid("\xED\xA0\xBD\xED\xB2\xA9"));
    /* past U+10FFFF, and bytes never used */
    CHECK(!valid("\xF4\x90\x80\x80") && !valid("\xF5\x80\x80\x80") && !valid("\xF7\xBF\xBF\xBF"));
    CHECK(!valid("\xF8\x88\x80\x80\x80") && !valid("\xFE") && !valid("\xFF"));
    /* stray continuation bytes, a lead byte followed by a non-continuation */
    CHECK(!valid("\x80") && !valid("a\xBF") && !valid("\xC3\x28") && !valid("\xE2\x28\xA1") && !valid("\xE2\x82\x28"));
    CHECK(!valid("\xF0\x90\x28\xBC"));
    /* truncated sequences: at the end, and cut by the length passed */
    CHECK(!valid("\xC3") && !valid("\xE2\x82") && !valid("\xF0\x90\x8D") && !valid("a\xE2\x82"));
    CHECK(!st_utf8_valid("\xF0\x90\x8D\x88", 3) && st_utf8_valid("\xF0\x90\x8D\x88", 4));
    /* offsets of the first bad byte, inside and after the 8-byte ASCII steps */
    CHECK(st_utf8_valid_prefix("abc\xC3", 4) == 3);
    CHECK(st_utf8_valid_prefix("abcde\xFF" "abcdefghij", 16) == 5);
    CHECK(st_utf8_valid_prefix("abcdefghijklm\xED\xA0\x80xyz", 19) == 13);
    CHECK(st_utf8_valid_prefix("abcdefgh\xC3\xA9ijklmnop\x80", 19) == 18);
    CHECK(st_utf8_valid_prefix("\xE2\x82\xAC\xE2\x82", 5) == 3);

    /* every 1- and 2-byte input, every 3-byte input with an E0..EF lead, and 4-byte inputs
     * with every F0..F4 lead and second byte against the reference decoder */
    int bad = 0;
    uint8_t b[4];
    for (unsigned x = 0; x < 65536; x++) {
        b[0] = (uint8_t)(x >> 8), b[1] = (uint8_t)x;
        if (st_utf8_seq_len(b, 1) != ref_utf8_len(b, 1) || st_utf8_seq_len(b, 2) != ref_utf8_len(b, 2)) bad++;
    }
    for (unsigned x = 0xE00000; x <= 0xEFFFFF; x++) {
        b[0] = (uint8_t)(x >> 16), b[1] = (uint8_t)(x >> 8), b[2] = (uint8_t)x;
        if (st_utf8_seq_len(b, 3) != ref_utf8_len(b, 3) || st_utf8_seq_len(b, 2) != 0) bad++;
    }
    for (unsigned lead = 0xF0; lead <= 0xFF; lead++)
        for (unsigned x = 0; x < 65536; x++) {
            b[0] = (uint8_t)lead, b[1] = (uint8_t)(x >> 8), b[2] = (uint8_t)(x >> 1 | 0x80), b[3] = (uint8_t)x;
            if (st_utf8_seq_len(b, 4) != ref_utf8_len(b, 4) || st_utf8_seq_len(b, 3) != 0) bad++;
        }
    CHECK_MSG(bad == 0, "%d inputs differ from the reference decoder", bad);

    /* prefixes of whole code points (string statistics) */
    const uint8_t *s = (const uint8_t *)"a\xC3\xA9\xE2\x82\xAC\xF0\x90\x8D\x88";
    int trunc = -1;
    CHECK(st_utf8_prefix(s, 10, 2, &trunc) == 3 && trunc == 1);
    CHECK(st_utf8_prefix(s, 10, 3, &trunc) == 6 && trunc == 1);
    CHECK(st_utf8_prefix(s, 10, 4, &trunc) == 10 && trunc == 0);
    CHECK(st_utf8_prefix(s, 10, 32, &trunc) == 10 && trunc == 0);
    CHECK(st_utf8_prefix(s, 0, 32, &trunc) == 0 && trunc == 0);
    CHECK(st_utf8_prefix((const uint8_t *)"ab\xC0\x80", 4, 32, &trunc) == -1);      /* overlong */
    CHECK(st_utf8_prefix((const uint8_t *)"ab\xED\xA0\x80", 5, 32, &trunc) == -1);  /* surrogate */
    CHECK(st_utf8_prefix((const uint8_t *)"ab\xF0\x90", 4, 32, &trunc) == -1);      /* truncated */
    CHECK(st_utf8_prefix((const uint8_t *)"ab\xFF", 3, 2, &trunc) == 2 && trunc == 1); /* past the cut: unread */

    /* the encoder: known forms at each length's edges, and every scalar value round trips */
    uint8_t u[4];
    CHECK(st_utf8_encode(0x24, u) == 1 && u[0] == 0x24);
    CHECK(st_utf8_encode(0xE9, u) == 2 && !memcmp(u, "\xC3\xA9", 2));
    CHECK(st_utf8_encode(0x20AC, u) == 3 && !memcmp(u, "\xE2\x82\xAC", 3));
    CHECK(st_utf8_encode(0x10348, u) == 4 && !memcmp(u, "\xF0\x90\x8D\x88", 4));
    CHECK(st_utf8_encode(0x10FFFF, u) == 4 && !memcmp(u, "\xF4\x8F\xBF\xBF", 4));
    bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp == 0xD800) cp = 0xE000; /* surrogates are not scalar values */
        size_t n = st_utf8_encode(cp, u);
        if (n != (cp < 0x80 ? 1u : cp < 0x800 ? 2u : cp < 0x10000 ? 3u : 4u) || st_utf8_seq_len(u, n) != n) bad++;
    }
    CHECK_MSG(bad == 0, "%d code points do not encode to one valid sequence of their length", bad);
}

/* ------------------------------------------------------------------ base64 */

static void check_b64(const char *in, size_t n, const char *want)
{
    st_buf b = {0};
    st_buf_append_str(&b, ">");
    st_base64_append(&b, in, n);
    CHECK_STR(st_buf_cstr(&b) + 1, want);
    CHECK(b.data[0] == '>' && b.len == 1 + st_base64_len(n));
    st_buf_free(&b);
}

static void test_base64(void)
{
    /* RFC 4648 section 10: every padding case ("==", "=", none) */
    check_b64("", 0, "");
    check_b64("f", 1, "Zg==");
    check_b64("fo", 2, "Zm8=");
    check_b64("foo", 3, "Zm9v");
    check_b64("foob", 4, "Zm9vYg==");
    check_b64("fooba", 5, "Zm9vYmE=");
    check_b64("foobar", 6, "Zm9vYmFy");
    /* every character of the alphabet, the two last ones included, and bytes >= 0x80 */
    check_b64("\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93\x51\x55\x97\x61\x96\x9b\x71\xd7\x9f"
              "\x82\x18\xa3\x92\x59\xa7\xa2\x9a\xab\xb2\xdb\xaf\xc3\x1c\xb3\xd3\x5d\xb7\xe3\x9e\xbb\xf3\xdf\xbf",
              48, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    check_b64("\xff\xfe", 2, "//4=");
    check_b64("\x00", 1, "AA==");
    st_buf b = {0};
    st_base64_append(&b, NULL, 0);
    CHECK(b.len == 0 && st_base64_len(0) == 0 && st_base64_len(1) == 4 && st_base64_len(3) == 4 &&
          st_base64_len(4) == 8);
    st_buf_free(&b);
}

/* ------------------------------------------------------------------ hash */

static void test_hash(void)
{
    /* FNV-1a 64 test vectors (Fowler/Noll/Vo); persisted checksums depend on these values */
    CHECK(st_fnv1a64("", 0) == 0xcbf29ce484222325ULL && st_fnv1a64(NULL, 0) == ST_FNV64_OFFSET);
    CHECK(st_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(st_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
    CHECK(st_fnv1a64_str("foobar") == st_fnv1a64("foobar", 6) && st_fnv1a64_str("") == ST_FNV64_OFFSET);
    CHECK(st_fnv1a64_more(st_fnv1a64("foo", 3), "bar", 3) == st_fnv1a64("foobar", 6));
    /* the finaliser: a bijection that fixes 0; the value the dedup log's id hashes rest on */
    CHECK(st_hash_mix64(0) == 0);
    CHECK(st_hash_mix64(st_fnv1a64("foobar", 6)) == 0x2c22194922d1672bULL);
    CHECK(st_hash_mix64(1) != st_hash_mix64(2));
    CHECK(st_htab_hash(0) == 1 && st_htab_hash(7) == 7);
}

/* ------------------------------------------------------------------ hash table */

/* Keys are ints; a weak hash (64 distinct values) forces long clusters, shared hashes and
 * wrap-around at the end of the array, so equality, removal and shifting are all exercised. */
static uint64_t weak_hash(int k)
{
    /* home slots are the last 8 of the array, whatever its size: every cluster wraps */
    return ((uint64_t)(k % 64) << 40) | (0xFFFFFFFFFFULL - (uint64_t)(k % 8));
}
static int int_eq(const void *key, uint64_t val) { return (uint64_t)*(const int *)key == val >> 32; }
static int keep_even(void *ctx, const st_hslot *s)
{
    (*(int *)ctx)++;
    return (s->val >> 32) % 2 == 0;
}

static void test_htab(void)
{
    enum { N = 2000 };
    static long ref[N]; /* -1 absent, else the step that put it */
    st_htab t = {0};
    int k = 5;
    CHECK(st_htab_find(&t, weak_hash(k), int_eq, &k) == NULL);
    size_t pos = 0;
    CHECK(st_htab_next(&t, &pos) == NULL);
    for (int i = 0; i < N; i++) ref[i] = -1;
    unsigned x = 777;
    int bad = 0;
    for (int step = 0; step < 60000; step++) {
        x = x * 1103515245u + 12345u;
        int key = (int)((x >> 8) % N);
        uint64_t h = weak_hash(key);
        int op = (int)((x >> 20) % 4);
        if (op == 0) { /* remove */
            st_hslot *s = st_htab_find(&t, h, int_eq, &key);
            if (!s != (ref[key] < 0)) bad++;
            if (s) st_htab_remove(&t, s);
            ref[key] = -1;
        } else if (op == 1) { /* find */
            st_hslot *s = st_htab_find(&t, h, int_eq, &key);
            if (ref[key] < 0 ? s != NULL : !s || (long)(s->val & 0xffffffff) != ref[key]) bad++;
        } else { /* upsert */
            int found;
            st_hslot *s = st_htab_upsert(&t, h, int_eq, &key, &found);
            if (found != (ref[key] >= 0)) bad++;
            s->val = (uint64_t)key << 32 | (uint32_t)step;
            ref[key] = step;
        }
        if (step % 1000 == 0 && t.count * 10 > t.cap * 7) bad++; /* load stays under 7/10 */
    }
    CHECK_MSG(bad == 0, "%d operations disagreed with the reference", bad);
    size_t live = 0, seen = 0;
    for (int i = 0; i < N; i++) live += ref[i] >= 0;
    CHECK(t.count == live);
    pos = 0;
    for (st_hslot *s; (s = st_htab_next(&t, &pos));) {
        int key = (int)(s->val >> 32);
        seen += ref[key] == (long)(s->val & 0xffffffff);
    }
    CHECK(seen == live);

    /* retain: keeps the even keys, calls keep once per entry, and every kept key is found */
    int calls = 0;
    st_htab_retain(&t, keep_even, &calls);
    CHECK((size_t)calls == live);
    int lost = 0;
    for (int i = 0; i < N; i++) {
        st_hslot *s = st_htab_find(&t, weak_hash(i), int_eq, &i);
        if ((ref[i] >= 0 && i % 2 == 0) != (s != NULL)) lost++;
    }
    CHECK(lost == 0);

    /* plain insert, hash as the key (the dedup set's use: eq NULL), clear and shrink */
    st_htab u = {0};
    for (uint64_t i = 1; i <= 10000; i++) st_htab_insert(&u, st_htab_hash(st_hash_mix64(i)), i);
    CHECK(u.count == 10000 && u.cap == 16384);
    st_hslot *s = st_htab_find(&u, st_htab_hash(st_hash_mix64(77)), NULL, NULL);
    CHECK(s && s->val == 77);
    calls = 0;
    st_htab_retain(&u, keep_even, &calls); /* values < 2^32: val >> 32 == 0, all kept */
    CHECK(u.count == 10000 && calls == 10000);
    st_htab_clear(&u);
    CHECK(u.count == 0 && !st_htab_find(&u, st_htab_hash(st_hash_mix64(77)), NULL, NULL));
    st_htab_insert(&u, 5, 1);
    st_htab_retain(&u, keep_even, &calls);
    CHECK(u.count == 1 && u.cap == 16); /* below 1/4 full: the memory goes back */
    st_htab_free(&u);
    st_htab_free(&t);
    st_htab_free(NULL);
    CHECK(t.cap == 0 && t.count == 0 && !st_htab_find(&t, 1, NULL, NULL));
}

static void test_strmap_borrowed(void)
{
    char k1[] = "alpha", k1b[] = "alpha", k2[] = "beta", k3[] = "gamma";
    strmap *m = strmap_new_borrowed();
    strmap_put(m, k1, (void *)1);
    strmap_put(m, k2, (void *)2);
    strmap_put(m, k3, (void *)3);
    strmap_put(m, k1b, (void *)4); /* replaces value and key pointer */
    CHECK(strmap_count(m) == 3 && strmap_get(m, "alpha") == (void *)4);
    size_t pos = 0;
    const char *key;
    void *v;
    int saw_k1b = 0;
    while (strmap_next(m, &pos, &key, &v)) saw_k1b += key == k1b;
    CHECK(saw_k1b == 1);
    CHECK(strmap_remove(m, "alpha") == 1 && strmap_remove(m, "alpha") == 0); /* gamma moves into the hole */
    CHECK(strmap_get(m, "gamma") == (void *)3 && strmap_get(m, "beta") == (void *)2 && !strmap_get(m, "alpha"));
    CHECK(strmap_remove(m, "gamma") == 1 && strmap_count(m) == 1 && strmap_get(m, "beta") == (void *)2);
    strmap_destroy(m);
}

static void test_uri(void)
{
    size_t n;
    char *d = st_uri_decode("a%20b%2Fc%zz%4", &n);
    CHECK_STR(d, "a b/c%zz%4");
    CHECK(n == strlen(d));
    free(d);
    d = st_uri_decode("x%00y", &n);
    CHECK(n == 3 && strlen(d) == 1);
    free(d);
}

int main(void)
{
    test_uri();
    test_time();
    test_durations();
    test_bytes();
    test_buf();
    test_fs();
    test_utf8();
    test_base64();
    test_hash();
    test_htab();
    test_strmap_borrowed();
    return CHECK_DONE();
}
