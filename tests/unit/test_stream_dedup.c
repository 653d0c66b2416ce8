#include "check.h"
#include "stream/dedup.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_US (60LL * 1000000)

static uint64_t H(int i)
{
    char id[32];
    int n = snprintf(id, sizeof id, "sensor-%d", i);
    return dedup_hash(id, (size_t)n);
}

int main(void)
{
    char dir[] = "/tmp/st_dedup_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = st_path_join(dir, "p0.log");
    st_err e;

    dedup_state *d = dedup_state_new(path, 10 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    /* batch 1: ids 0..9999, time = i seconds */
    for (int i = 0; i < 10000; i++) CHECK(dedup_state_check(d, H(i), i * 1000000LL) == 0);
    CHECK(dedup_state_check(d, H(5), 5) == 1); /* duplicate within the batch */
    CHECK(dedup_state_save_batch(d, 100, &e) == ST_OK);
    /* watermark = 9999 s - 600 s: ids with time < 9399 s evicted */
    CHECK(dedup_state_size(d) == 601);
    CHECK(dedup_state_check(d, H(9999), 0) == 1);
    /* batch 2 written but "not committed" */
    CHECK(dedup_state_check(d, H(20000), 9999 * 1000000LL) == 0);
    CHECK(dedup_state_save_batch(d, 200, &e) == ST_OK);
    dedup_state_destroy(d);

    /* reload at committed offset 100: id 20000 must be unknown again */
    d = dedup_state_new(path, 10 * MIN_US);
    CHECK(dedup_state_load(d, 100, &e) == ST_OK);
    CHECK(dedup_state_size(d) == 601);
    CHECK(dedup_state_check(d, H(9500), 0) == 1);
    CHECK(dedup_state_check(d, H(20000), 9999 * 1000000LL) == 0);
    dedup_state_discard_batch(d);
    CHECK(dedup_state_check(d, H(20000), 9999 * 1000000LL) == 0);
    CHECK(dedup_state_save_batch(d, 150, &e) == ST_OK);
    dedup_state_destroy(d);

    /* torn tail is ignored */
    FILE *f = fopen(path, "ab");
    fwrite("garbage", 1, 7, f);
    fclose(f);
    d = dedup_state_new(path, 10 * MIN_US);
    CHECK(dedup_state_load(d, 150, &e) == ST_OK);
    CHECK(dedup_state_check(d, H(20000), 0) == 1);
    dedup_state_destroy(d);

    /* many batches trigger compaction and keep the state */
    d = dedup_state_new(path, 1 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    for (int b = 0; b < 50; b++) {
        for (int i = 0; i < 5000; i++) dedup_state_check(d, H(b * 5000 + i), (int64_t)(b * 5000 + i) * 10000);
        CHECK(dedup_state_save_batch(d, b + 1, &e) == ST_OK);
    }
    size_t live = dedup_state_size(d);
    dedup_state_destroy(d);
    d = dedup_state_new(path, 1 * MIN_US);
    CHECK(dedup_state_load(d, 50, &e) == ST_OK);
    CHECK_MSG(dedup_state_size(d) == live, "%zu vs %zu", dedup_state_size(d), live);
    CHECK(dedup_state_check(d, H(249999), 0) == 1);
    dedup_state_destroy(d);

    st_remove_tree(dir, &e);
    free(path);
    return CHECK_DONE();
}
