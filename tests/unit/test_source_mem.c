/* Unit tests of source/mem_source: the script plays out in order (records produced before a
 * pending step wait behind it), assignments call the handler and start where it says, END comes
 * once the script is over, a batch stops at a DONE marker, re-delivery and retention move the
 * cursor, commits are kept. */
#include "check.h"
#include "source/mem_source.h"

#include <string.h>

typedef struct seen {
    int assigned, revoked;
    int64_t start[2];   /* what the handler answers for streams 0 and 1 */
} seen;

static st_code on_assigned(void *ctx, record_position *p, size_t n, st_err *e)
{
    (void)e;
    seen *s = ctx;
    s->assigned++;
    for (size_t i = 0; i < n; i++) {
        CHECK(p[i].position == RECORD_POSITION_DEFAULT);
        if (p[i].stream < 2) p[i].position = s->start[p[i].stream];
    }
    return ST_OK;
}

static void on_revoked(void *ctx, const record_position *p, size_t n)
{
    (void)p;
    (void)n;
    ((seen *)ctx)->revoked++;
}

/* Polls once; returns the number of records and copies their kinds/streams/positions out. */
static size_t poll(record_source *src, record *r, size_t max)
{
    size_t n = 99;
    st_err e;
    CHECK(record_source_poll(src, r, max, 0, &n, &e) == ST_OK);
    return n;
}

static void test_group_script(void)
{
    mem_source *m = mem_source_new("t", 2, 1);
    record_source *src = mem_source_records(m);
    seen s = {.start = {1, RECORD_POSITION_DEFAULT}};
    record_handlers h = {.ctx = &s, .assigned = on_assigned, .revoked = on_revoked};
    record_source_set_handlers(src, &h);
    for (int i = 0; i < 3; i++) CHECK(mem_source_add(m, 0, "k", 1, "v", 1, 1000 + i) == i);
    CHECK(mem_source_add(m, 1, NULL, 0, NULL, 0, -1) == 0);
    mem_source_assign(m, NULL, 0);
    CHECK(mem_source_add(m, 0, "k", 1, "late", 4, 2000) == 3); /* behind the assign step */
    int64_t lo, hi;
    st_err e;
    CHECK(record_source_bounds(src, 0, 0, &lo, &hi, &e) == ST_OK && lo == 0 && hi == 3);
    record r[8];
    CHECK(poll(src, r, 8) == 0 && s.assigned == 1); /* the assign step */
    CHECK(mem_source_assigned_at(m, 0) == 1 && mem_source_assigned_at(m, 1) == 0);
    size_t n = poll(src, r, 8);
    CHECK(n == 3); /* stream 0 from 1 (the handler's choice), stream 1 from its start */
    int p0 = 0, p1 = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(r[i].kind == RECORD_DATA);
        if (r[i].stream == 0) CHECK(r[i].position == 1 + p0++ && r[i].value_len == 1 && r[i].timestamp_us >= 1001);
        if (r[i].stream == 1) CHECK(r[i].position == 0 && r[i].value == NULL && r[i].key == NULL && ++p1);
    }
    CHECK(p0 == 2 && p1 == 1);
    n = poll(src, r, 8); /* the add step ran: "late" is available now */
    CHECK(n == 1 && r[0].position == 3 && r[0].value_len == 4 && !memcmp(r[0].value, "late", 4));
    n = poll(src, r, 8); /* the script is over: one END per stream */
    CHECK(n == 2 && r[0].kind == RECORD_END && r[1].kind == RECORD_END);
    CHECK(poll(src, r, 8) == 0);
    /* commit, re-delivery, retention */
    record_position done = {0, 4};
    record_source_commit(src, &done, 1);
    CHECK(mem_source_committed(m, 0) == 4 && mem_source_committed(m, 1) == -1);
    mem_source_redeliver(m, 0, 2);
    CHECK(poll(src, r, 8) == 0);
    n = poll(src, r, 1); /* one at a time when asked */
    CHECK(n == 1 && r[0].position == 2);
    mem_source_trim(m, 0, 3);
    CHECK(poll(src, r, 8) == 1 && r[0].position == 3); /* delivered before the trim step runs */
    CHECK(poll(src, r, 8) == 0);                        /* the trim step */
    record_position back = {0, 1};
    CHECK(record_source_seek(src, &back, 1, &e) == ST_OK);
    n = poll(src, r, 8);
    CHECK(n == 1 && r[0].kind == RECORD_PROBLEM && r[0].problem == RECORD_PROBLEM_OUT_OF_RANGE && r[0].stream == 0);
    CHECK(strstr((const char *)r[0].value, "position 1") != NULL);
    mem_source_problem(m, RECORD_PROBLEM_UNREACHABLE, "down");
    n = poll(src, r, 8);
    CHECK(n == 1 && r[0].kind == RECORD_PROBLEM && r[0].problem == RECORD_PROBLEM_UNREACHABLE && r[0].stream == -1);
    mem_source_stats st;
    mem_source_stats_get(m, &st);
    CHECK(st.script_done && st.assignments == 1 && st.commits == 1);
    record_source_close(src); /* revokes what is served */
    CHECK(s.revoked == 1);
    CHECK(poll(src, r, 8) == 0);
    record_source_destroy(src); /* = mem_source_destroy(m) */
}

static void test_static_rows(void)
{
    mem_source *m = mem_source_new("table", 1, 0);
    record_source *src = mem_source_records(m);
    char name[] = "abc";
    record_value f[2] = {{.str = name, .len = 3}, {.i64 = 7}};
    mem_source_add_row(m, 0, 5, f, 2, "part-0.parquet", 0, -1);
    name[0] = 'x'; /* copied */
    mem_source_add_row(m, 0, 5, f, 2, "part-0.parquet", 1, -1);
    mem_source_add_done(m, 0, 5);
    mem_source_add_done(m, 0, 6);
    int64_t lo, hi;
    st_err e;
    CHECK(record_source_bounds(src, 0, 0, &lo, &hi, &e) == ST_OK && hi == 7);
    const char *id = NULL;
    CHECK(record_source_id(src, &id, &e) == ST_OK && !strcmp(id, "table"));
    record r[8];
    size_t n = poll(src, r, 8); /* served from the start; the batch stops at the DONE marker */
    CHECK(n == 3 && r[2].kind == RECORD_DONE && r[2].position == 5);
    CHECK(r[0].nfields == 2 && r[0].fields[0].len == 3 && !memcmp(r[0].fields[0].str, "abc", 3) &&
          r[0].fields[1].i64 == 7 && !strcmp(r[0].origin, "part-0.parquet") && r[1].origin_row == 1);
    CHECK(r[1].fields[0].str[0] == 'x');
    n = poll(src, r, 8);
    CHECK(n == 1 && r[0].kind == RECORD_DONE && r[0].position == 6);
    record_position at = {0, 5};
    CHECK(record_source_seek(src, &at, 1, &e) == ST_OK);
    CHECK(poll(src, r, 2) == 2 && r[0].kind == RECORD_DATA && r[0].position == 5);
    mem_source_destroy(m);
}

int main(void)
{
    test_group_script();
    test_static_rows();
    return CHECK_DONE();
}
