/* Unit tests of the Gold job's checkpoint files (stream/gold_state.h): round trip, damage and
 * foreign-table detection, pruning, the Kafka marker, and position arithmetic. */
#include "check.h"
#include "stream/gold_state.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int exists(const char *dir, int64_t pos)
{
    char *p = gold_state_path(dir, pos);
    int r = st_path_exists(p);
    free(p);
    return r;
}

int main(void)
{
    char dir[] = "/tmp/st_gold_state_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    st_err e;

    /* positions: 2V + flushed, V >= -1 */
    CHECK(gold_pos(-1, 0) == -2 && gold_pos_version(-2) == -1 && !gold_pos_flushed(-2));
    CHECK(gold_pos_version(gold_pos(7, 1)) == 7 && gold_pos_flushed(gold_pos(7, 1)));
    CHECK(gold_pos_version(gold_pos(0, 0)) == 0 && gold_pos(7, 0) < gold_pos(7, 1) && gold_pos(7, 1) < gold_pos(8, 0));
    char *p = gold_state_path(dir, gold_pos(12, 1));
    CHECK(strstr(p, "state-00000000000000000012-flush.bin") != NULL);
    free(p);

    st_buf body = {0}, out = {0};
    st_buf_append_str(&body, "hello state");
    CHECK(gold_state_write(dir, gold_pos(3, 0), "table-a", &body, &e) == ST_OK);
    CHECK(gold_state_write(dir, gold_pos(5, 0), "table-a", &body, &e) == ST_OK);
    CHECK(gold_state_write(dir, gold_pos(5, 1), "table-a", &body, &e) == ST_OK);
    CHECK(gold_state_read(dir, gold_pos(5, 0), "table-a", &out, &e) == ST_OK);
    CHECK(out.len == body.len && !memcmp(out.data, body.data, body.len));
    st_buf_reset(&out);
    CHECK(gold_state_read(dir, gold_pos(4, 0), "table-a", &out, &e) == ST_ERR_NOTFOUND);
    CHECK(gold_state_read(dir, gold_pos(5, 0), "table-b", &out, &e) == ST_ERR_STATE);
    CHECK(strstr(e.msg, "another Silver table") != NULL);

    /* one flipped byte: checksum mismatch */
    p = gold_state_path(dir, gold_pos(3, 0));
    st_buf raw = {0};
    CHECK(st_read_file(p, &raw, &e) == ST_OK);
    raw.data[raw.len / 2] ^= 0x40;
    CHECK(st_write_file_atomic(p, raw.data, raw.len, &e) == ST_OK);
    CHECK(gold_state_read(dir, gold_pos(3, 0), "table-a", &out, &e) == ST_ERR_FORMAT);
    CHECK(strstr(e.msg, "checksum") != NULL);
    /* truncated */
    CHECK(st_write_file_atomic(p, raw.data, 5, &e) == ST_OK);
    CHECK(gold_state_read(dir, gold_pos(3, 0), "table-a", &out, &e) == ST_ERR_FORMAT);
    free(p);
    st_buf_free(&raw);

    /* prune keeps the two given positions and removes leftovers */
    char *tmp = st_path_join(dir, "state-00000000000000000009.bin.tmp.123");
    CHECK(st_write_file_atomic(tmp, "x", 1, &e) == ST_OK);
    gold_state_prune(dir, gold_pos(5, 1), gold_pos(5, 0));
    CHECK(!exists(dir, gold_pos(3, 0)) && exists(dir, gold_pos(5, 0)) && exists(dir, gold_pos(5, 1)));
    CHECK(!st_path_exists(tmp));
    free(tmp);

    CHECK(gold_state_kafka_sent(dir) == INT64_MIN);
    CHECK(gold_state_set_kafka_sent(dir, 11, &e) == ST_OK);
    CHECK(gold_state_kafka_sent(dir) == 11);

    st_buf_free(&body);
    st_buf_free(&out);
    st_remove_tree(dir, NULL);
    return CHECK_DONE();
}
