/* Unit tests of stream/delta_source: only files added with dataChange=true are read, in version
 * order, with positions; removes with dataChange=true are refused; a missing column is an error. */
#include "check.h"
#include "stream/delta_source.h"
#include "stream/tables.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seen {
    char ids[64][32];
    int64_t versions[64], rows[64];
    int n, nver;
    int64_t done[16];
} seen;

static st_code on_row(void *ctx, const delta_source_pos *pos, const delta_source_value *v, st_err *e)
{
    (void)e;
    seen *s = ctx;
    if (s->n < 64) {
        snprintf(s->ids[s->n], sizeof s->ids[0], "%.*s", (int)v[0].len, v[0].str);
        s->versions[s->n] = pos->version;
        s->rows[s->n] = pos->row;
        CHECK(v[1].f64 == (double)s->n);      /* value */
        CHECK(v[2].i64 == 1000000LL * s->n);  /* event_time */
        CHECK(strstr(pos->file, ".parquet") != NULL);
    }
    s->n++;
    return ST_OK;
}

static st_code on_version(void *ctx, int64_t version, st_err *e)
{
    (void)e;
    seen *s = ctx;
    if (s->nver < 16) s->done[s->nver] = version;
    s->nver++;
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
    delta_source *src = delta_source_new(path, cols, 3);
    int64_t latest = 0;
    CHECK(delta_source_latest_version(src, &latest, &e) == ST_OK && latest == -1);

    delta_table *t = table_open_or_create(TABLE_SILVER, path, &e);
    CHECK(t != NULL);
    delta_file_list first = {0};
    CHECK(commit_rows(t, 0, 3, 1, &first) == 1);
    CHECK(commit_rows(t, 100, 2, 0, NULL) == 2); /* rewrite (compaction): ignored */
    CHECK(commit_rows(t, 3, 2, 1, NULL) == 3);
    const char *id = NULL;
    CHECK(delta_source_table_id(src, &id, &e) == ST_OK && id && strlen(id) == 36);
    CHECK(delta_source_latest_version(src, &latest, &e) == ST_OK && latest == 3);

    seen s;
    memset(&s, 0, sizeof s);
    CHECK(delta_source_read(src, 0, 3, on_row, on_version, &s, &e) == ST_OK);
    CHECK(s.n == 5);
    CHECK_STR(s.ids[0], "ev-0");
    CHECK_STR(s.ids[4], "ev-4");
    CHECK(s.versions[0] == 1 && s.versions[2] == 1 && s.versions[3] == 3 && s.rows[3] == 0 && s.rows[4] == 1);
    CHECK(s.nver == 4 && s.done[0] == 0 && s.done[3] == 3);
    CHECK(delta_source_get_stats(src)->ignored_files == 1 && delta_source_get_stats(src)->rows == 5);
    /* a range beyond the log is an error; an empty range reads nothing */
    CHECK(delta_source_read(src, 3, 9, on_row, NULL, &s, &e) != ST_OK);
    CHECK(delta_source_read(src, 4, 3, on_row, NULL, &s, &e) == ST_OK);

    /* version 4 removes a data file with dataChange=true: refused, naming the version */
    char *log4 = st_path_join(path, "_delta_log/00000000000000000004.json");
    char json[2048];
    int n = snprintf(json, sizeof json,
                     "{\"commitInfo\":{\"timestamp\":1,\"operation\":\"DELETE\"}}\n"
                     "{\"remove\":{\"path\":\"%s\",\"deletionTimestamp\":1,\"dataChange\":true}}\n",
                     first.items[0].path);
    CHECK(st_write_file_exclusive(log4, json, (size_t)n, &e) == ST_OK);
    memset(&s, 0, sizeof s);
    CHECK(delta_source_read(src, 4, 4, on_row, on_version, &s, &e) == ST_ERR_UNSUPPORTED);
    CHECK(strstr(e.msg, "version 4") != NULL && strstr(e.msg, "appends only") != NULL);
    CHECK(s.nver == 0);

    /* a column that is not in the files */
    const char *bad[] = {"no_such_column"};
    delta_source *src2 = delta_source_new(path, bad, 1);
    CHECK(delta_source_read(src2, 1, 1, on_row, NULL, &s, &e) == ST_ERR_FORMAT);
    CHECK(strstr(e.msg, "no_such_column") != NULL);
    delta_source_destroy(src2);

    free(log4);
    delta_file_list_free(&first);
    delta_table_destroy(t);
    delta_source_destroy(src);
    st_remove_tree(dir, NULL);
    free(path);
    return CHECK_DONE();
}
