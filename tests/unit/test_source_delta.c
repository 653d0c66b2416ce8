/* Unit tests of source/delta_source: only files added with dataChange=true are read, in version
 * order, with positions, each version closed by its DONE marker (also across small polls);
 * removes with dataChange=true are refused; a missing column is an error. */
#include "check.h"
#include "source/delta_source.h"
#include "pipeline/tables.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seen {
    char ids[64][32];
    int64_t versions[64], rows[64];
    int n, nver, ends, polls;
    int64_t done[16];
} seen;

/* Reads versions from..to through the record interface, `max` records per poll, the way Gold
 * does: seek, then poll until the DONE marker of `to`. Checks every row's fields. */
static st_code read_range(record_source *src, int64_t from, int64_t to, size_t max, seen *s, st_err *e)
{
    if (to < from) return ST_OK;
    int64_t lo, hi;
    st_code rc = record_source_bounds(src, 0, 0, &lo, &hi, e);
    if (rc) return rc;
    if (hi <= to) return st_err_set(e, ST_ERR_NOTFOUND, "version %lld is not in the log", (long long)to);
    record_position at = {0, from};
    if ((rc = record_source_seek(src, &at, 1, e))) return rc;
    record recs[16];
    for (int64_t last = from - 1; last < to;) {
        size_t n = 0;
        if ((rc = record_source_poll(src, recs, max, 0, &n, e))) return rc;
        s->polls++;
        CHECK(n > 0);
        if (!n) return st_err_set(e, ST_ERR_STATE, "no progress");
        for (size_t i = 0; i < n; i++) {
            const record *r = &recs[i];
            CHECK(r->kind != RECORD_DONE || i == n - 1); /* a batch never goes past DONE */
            if (r->kind == RECORD_END) s->ends++;
            if (r->kind == RECORD_DONE) {
                if (s->nver < 16) s->done[s->nver] = r->position;
                s->nver++;
                last = r->position;
            }
            if (r->kind != RECORD_DATA) continue;
            CHECK(r->nfields == 3 && r->key == NULL && r->value == NULL && r->timestamp_us > 0);
            if (s->n < 64) {
                snprintf(s->ids[s->n], sizeof s->ids[0], "%.*s", (int)r->fields[0].len, r->fields[0].str);
                s->versions[s->n] = r->position;
                s->rows[s->n] = r->origin_row;
                CHECK(r->fields[1].f64 == (double)s->n);      /* value */
                CHECK(r->fields[2].i64 == 1000000LL * s->n);  /* event_time */
                CHECK(r->origin && strstr(r->origin, ".parquet") != NULL);
            }
            s->n++;
        }
        record_source_release(src);
    }
    return ST_OK;
}

/* Commits rows first..first+n-1 as one version; data_change 0 marks the adds as a rewrite. */
static int64_t commit_rows(delta_table *t, int first, int n, int data_change, delta_file_list *keep)
{
    delta_batch *b = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(t)));
    st_err e;
    for (int i = first; i < first + n; i++) {
        char id[32];
        snprintf(id, sizeof id, "ev-%d", i);
        iot_event ev;
        memset(&ev, 0, sizeof ev);
        ev.event_id = (iot_str){id, strlen(id)};
        ev.sensor_id = ev.building_id = ev.room_id = ev.sensor_type = ev.unit = (iot_str){"x", 1};
        ev.value = i;
        ev.event_time_us = 1000000LL * i;
        table_append_event(b, &ev);
        delta_batch_append_int(b, SILVER_SOURCE_PARTITION, 0);
        delta_batch_append_long(b, SILVER_SOURCE_OFFSET, i);
        delta_batch_append_long(b, SILVER_INGEST_TIME, 0);
    }
    delta_file_list adds = {0};
    int64_t v = -1;
    CHECK(delta_table_write_files(t, b, &adds, &e) == ST_OK);
    for (size_t k = 0; k < adds.count; k++)
        if (keep) delta_file_list_append_copy(keep, &adds.items[k]);
    delta_commit_params p = {.adds = adds.items, .nadds = adds.count, .operation = "WRITE"};
    if (data_change)
        CHECK(delta_table_commit(t, &p, &v, &e) == ST_OK);
    else /* a rearrangement (compaction): every add marked dataChange=false */
        CHECK(delta_table_commit_with_removes(t, &p, NULL, 0, 1, &v, &e) == ST_OK);
    delta_file_list_free(&adds);
    delta_batch_destroy(b);
    return v;
}

int main(void)
{
    char dir[] = "/tmp/st_source_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = st_path_join(dir, "silver");
    st_err e;
    const char *cols[] = {"event_id", "value", "event_time"};
    record_source *src = delta_source_new(path, cols, 3);
    int64_t lo = -1, hi = -1;
    CHECK(record_source_bounds(src, 0, 0, &lo, &hi, &e) == ST_OK && lo == 0 && hi == 0);
    const char *id = NULL;
    CHECK(record_source_id(src, &id, &e) == ST_ERR_NOTFOUND);

    delta_table *t = table_open_or_create(TABLE_SILVER, path, &e);
    CHECK(t != NULL);
    delta_file_list first = {0};
    CHECK(commit_rows(t, 0, 3, 1, &first) == 1);
    CHECK(commit_rows(t, 100, 2, 0, NULL) == 2); /* rewrite (compaction): ignored */
    CHECK(commit_rows(t, 3, 2, 1, NULL) == 3);
    CHECK(record_source_id(src, &id, &e) == ST_OK && id && strlen(id) == 36);
    CHECK(record_source_bounds(src, 0, 0, &lo, &hi, &e) == ST_OK && hi == 4);

    seen s;
    memset(&s, 0, sizeof s);
    CHECK(read_range(src, 0, 3, 16, &s, &e) == ST_OK);
    CHECK(s.n == 5);
    CHECK_STR(s.ids[0], "ev-0");
    CHECK_STR(s.ids[4], "ev-4");
    CHECK(s.versions[0] == 1 && s.versions[2] == 1 && s.versions[3] == 3 && s.rows[3] == 0 && s.rows[4] == 1);
    CHECK(s.nver == 4 && s.done[0] == 0 && s.done[3] == 3);
    CHECK(delta_source_get_stats(src)->ignored_files == 1 && delta_source_get_stats(src)->rows == 5);
    CHECK(delta_source_get_stats(src)->versions == 4 && delta_source_get_stats(src)->files == 2);
    /* caught up: one END marker, then nothing */
    record recs[4];
    size_t n = 9;
    CHECK(record_source_poll(src, recs, 4, 0, &n, &e) == ST_OK && n == 1 && recs[0].kind == RECORD_END &&
          recs[0].position == 4);
    CHECK(record_source_poll(src, recs, 4, 0, &n, &e) == ST_OK && n == 0);

    /* one record per poll: rows resume inside a row group, versions still end with DONE */
    memset(&s, 0, sizeof s);
    CHECK(read_range(src, 1, 1, 1, &s, &e) == ST_OK);
    CHECK(s.n == 3 && s.nver == 1 && s.done[0] == 1 && s.polls == 4);
    CHECK_STR(s.ids[2], "ev-2");
    /* a range beyond the log is an error; an empty range reads nothing */
    CHECK(read_range(src, 3, 9, 16, &s, &e) != ST_OK);
    CHECK(read_range(src, 4, 3, 16, &s, &e) == ST_OK);
    record_position bad_pos = {1, 0};
    CHECK(record_source_seek(src, &bad_pos, 1, &e) == ST_ERR_ARG);

    /* version 4 removes a data file with dataChange=true: refused, naming the version */
    char *log4 = st_path_join(path, "_delta_log/00000000000000000004.json");
    char json[2048];
    int jn = snprintf(json, sizeof json,
                      "{\"commitInfo\":{\"timestamp\":1,\"operation\":\"DELETE\"}}\n"
                      "{\"remove\":{\"path\":\"%s\",\"deletionTimestamp\":1,\"dataChange\":true}}\n",
                      first.items[0].path);
    CHECK(st_write_file_exclusive(log4, json, (size_t)jn, &e) == ST_OK);
    memset(&s, 0, sizeof s);
    CHECK(read_range(src, 4, 4, 16, &s, &e) == ST_ERR_UNSUPPORTED);
    CHECK(strstr(e.msg, "version 4") != NULL && strstr(e.msg, "appends only") != NULL);
    CHECK(s.nver == 0);

    /* a column that is not in the files */
    const char *bad[] = {"no_such_column"};
    record_source *src2 = delta_source_new(path, bad, 1);
    CHECK(read_range(src2, 1, 1, 16, &s, &e) == ST_ERR_FORMAT);
    CHECK(strstr(e.msg, "no_such_column") != NULL);
    record_source_destroy(src2);
    CHECK(delta_source_get_stats(NULL) == NULL);

    free(log4);
    delta_file_list_free(&first);
    delta_table_destroy(t);
    record_source_destroy(src);
    st_remove_tree(dir, NULL);
    free(path);
    return CHECK_DONE();
}
