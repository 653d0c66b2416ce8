#include "check.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

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

int main(void)
{
    test_time();
    test_buf();
    test_fs();
    return CHECK_DONE();
}
