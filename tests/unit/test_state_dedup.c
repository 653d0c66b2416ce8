/* test_state_dedup.c — the dedup state and its objects on a store (state/dedup.h): batches
 * saved before commit and dropped when not committed, a second process taking the partition
 * over, compaction only at a committed offset, bounded objects, the log of earlier versions
 * (also written by hand), damaged objects; the table against a model; bytes per live id. */
#include "check.h"
#include "state/dedup.h"
#include "store/store.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_US (60LL * 1000000)

static uint64_t H(int i)
{
    char id[32];
    int n = snprintf(id, sizeof id, "sensor-%d", i);
    return dedup_hash(id, (size_t)n);
}

/* Keys under the partition's prefix, joined with ' '. */
static char *keys(st_store *s, const char *prefix)
{
    st_list l = {0};
    st_err e;
    st_buf b = {0};
    CHECK(st_store_list(s, prefix, NULL, ST_LIST_RECURSIVE, &l, &e) == ST_OK);
    for (size_t i = 0; i < l.count; i++) st_buf_printf(&b, "%s%s", i ? " " : "", l.items[i].key + strlen(prefix));
    st_list_free(&l);
    st_buf_cstr(&b);
    return (char *)st_buf_detach(&b, NULL);
}

#define KEYS_ARE(s, want)                      \
    do {                                       \
        char *k_ = keys(s, "dedup/p0/");       \
        CHECK_STR(k_, want);                   \
        free(k_);                              \
    } while (0)

static void test_batches(st_store *s)
{
    st_err e;
    dedup_state *d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    /* batch 1: ids 0..9999, time = i seconds */
    for (int i = 0; i < 10000; i++) CHECK(dedup_state_check(d, H(i), i * 1000000LL) == 0);
    CHECK(dedup_state_check(d, H(5), 5) == 1); /* duplicate within the batch */
    CHECK(dedup_state_save_batch(d, 100, -1, &e) == ST_OK);
    /* watermark = 9999 s - 600 s: ids with time < 9399 s evicted */
    CHECK(dedup_state_size(d) == 601);
    CHECK(dedup_state_check(d, H(9999), 0) == 1);
    /* a batch that admits nothing writes nothing */
    CHECK(dedup_state_save_batch(d, 120, 100, &e) == ST_OK);
    /* batch 2 written but "not committed" */
    CHECK(dedup_state_check(d, H(20000), 9999 * 1000000LL) == 0);
    CHECK(dedup_state_save_batch(d, 200, 120, &e) == ST_OK);
    KEYS_ARE(s, "00000000000000000100.ids 00000000000000000200.ids");
    dedup_state_destroy(d);

    /* another process takes the partition over at committed offset 120: id 20000 is unknown
     * again and the batch that never committed is gone */
    st_store *other;
    CHECK(st_store_open(st_store_root(s), &other, &e) == ST_OK);
    d = dedup_state_new(other, "dedup/p0", 10 * MIN_US);
    CHECK_MSG(dedup_state_load(d, 120, &e) == ST_OK, "%s", e.msg);
    CHECK(dedup_state_size(d) == 601);
    CHECK(dedup_state_check(d, H(9500), 0) == 1);
    CHECK(dedup_state_check(d, H(20000), 9999 * 1000000LL) == 0);
    KEYS_ARE(other, "00000000000000000100.ids");
    dedup_state_discard_batch(d);
    CHECK(dedup_state_check(d, H(20000), 9999 * 1000000LL) == 0);
    CHECK(dedup_state_save_batch(d, 150, 120, &e) == ST_OK);
    dedup_state_destroy(d);
    st_store_close(other);

    d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK(dedup_state_load(d, 150, &e) == ST_OK);
    CHECK(dedup_state_check(d, H(20000), 0) == 1);
    dedup_state_destroy(d);

    /* a partition never committed starts empty, whatever an older run left */
    d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK && dedup_state_size(d) == 0);
    KEYS_ARE(s, "");
    dedup_state_destroy(d);
}

/* 1 when a key ending with suffix is listed under the prefix. */
static int has_suffix(st_store *s, const char *suffix)
{
    char *k = keys(s, "dedup/p0/");
    int found = strstr(k, suffix) != NULL;
    free(k);
    return found;
}

static size_t count_keys(st_store *s)
{
    st_list l = {0};
    st_err e;
    st_store_list(s, "dedup/p0/", NULL, ST_LIST_RECURSIVE, &l, &e);
    size_t n = l.count;
    st_list_free(&l);
    return n;
}

static void test_compaction(st_store *s)
{
    st_err e;
    dedup_state *d = dedup_state_new(s, "dedup/p0", 1 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    /* Silver lags one batch behind (each batch committed before the next is saved): the
     * compaction after 64 batch objects lands at the committed offset, the older objects go */
    int64_t committed = -1;
    for (int b = 0; b < 70; b++) {
        for (int i = 0; i < 500; i++) dedup_state_check(d, H(b * 500 + i), (int64_t)(b * 500 + i) * 10000);
        CHECK(dedup_state_save_batch(d, b + 1, committed, &e) == ST_OK);
        committed = b + 1;
    }
    CHECK(has_suffix(s, "00000000000000000064.snap"));
    CHECK_MSG(count_keys(s) == 1 + 70 - 64, "%zu objects", count_keys(s));
    size_t live = dedup_state_size(d);
    int64_t wm = dedup_state_watermark(d);
    dedup_state_destroy(d);
    d = dedup_state_new(s, "dedup/p0", 1 * MIN_US);
    CHECK(dedup_state_load(d, 70, &e) == ST_OK);
    /* every id within the watermark is back (the running state evicts lazily: it may hold more) */
    CHECK_MSG(dedup_state_size(d) <= live && dedup_state_watermark(d) == wm, "%zu vs %zu", dedup_state_size(d), live);
    int missing = 0;
    for (int k = 0; k < 70 * 500; k++)
        if ((int64_t)k * 10000 >= wm) missing += dedup_state_check(d, H(k), 0) == 0;
    CHECK_MSG(missing == 0, "%d ids within the watermark lost", missing);
    dedup_state_destroy(d);

    /* the snapshot holds what was committed, not the batch being saved: a crash before that
     * batch commits reloads without it */
    d = dedup_state_new(s, "dedup/p0", 1 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    for (int b = 0; b < 65; b++) {
        for (int i = 0; i < 10; i++) dedup_state_check(d, H(100000 + b * 10 + i), 1000);
        CHECK(dedup_state_save_batch(d, b + 1, b == 0 ? -1 : b, &e) == ST_OK);
    }
    CHECK(has_suffix(s, "00000000000000000064.snap") && has_suffix(s, "00000000000000000065.ids"));
    dedup_state_destroy(d);
    d = dedup_state_new(s, "dedup/p0", 1 * MIN_US);
    CHECK(dedup_state_load(d, 64, &e) == ST_OK);
    CHECK(dedup_state_size(d) == 640);
    CHECK(dedup_state_check(d, H(100000 + 639), 1000) == 1);
    CHECK(dedup_state_check(d, H(100000 + 640), 1000) == 0); /* batch 65 never committed */
    CHECK(!has_suffix(s, "65.ids"));
    dedup_state_destroy(d);

    /* no compaction while Silver is behind the state (a failed commit): it would save ids
     * Silver does not hold */
    d = dedup_state_new(s, "dedup/p0", 1 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    for (int b = 0; b < 80; b++) {
        dedup_state_check(d, H(200000 + b), 1000);
        CHECK(dedup_state_save_batch(d, b + 1, 0, &e) == ST_OK);
    }
    CHECK(count_keys(s) == 80 && !has_suffix(s, ".snap"));
    dedup_state_destroy(d);
}

static void test_legacy_and_damage(st_store *s)
{
    st_err e;
    /* the append-only log of earlier versions is the same records one after the other: make
     * one from two batch objects (ends 10 and 20) and a torn tail */
    dedup_state *d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    dedup_state_check(d, H(1), 1000);
    CHECK(dedup_state_save_batch(d, 10, -1, &e) == ST_OK);
    dedup_state_check(d, H(2), 1000);
    CHECK(dedup_state_save_batch(d, 20, 10, &e) == ST_OK);
    dedup_state_destroy(d);
    st_buf log = {0};
    CHECK(st_store_read(s, "dedup/p0/00000000000000000010.ids", &log, NULL, &e) == ST_OK);
    CHECK(st_store_read(s, "dedup/p0/00000000000000000020.ids", &log, NULL, &e) == ST_OK);
    st_buf_append(&log, "torn", 4);
    CHECK(st_store_write(s, "dedup/p0.log", log.data, log.len, &e) == ST_OK);
    st_buf_free(&log);
    CHECK(st_store_delete(s, "dedup/p0/00000000000000000010.ids", &e) == ST_OK);
    CHECK(st_store_delete(s, "dedup/p0/00000000000000000020.ids", &e) == ST_OK);
    d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK_MSG(dedup_state_load(d, 15, &e) == ST_OK, "%s", e.msg);
    CHECK(dedup_state_size(d) == 1 && dedup_state_check(d, H(1), 0) == 1);
    dedup_state_destroy(d);
    d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK(dedup_state_load(d, 20, &e) == ST_OK && dedup_state_size(d) == 2);
    /* 64 batches later the first compaction removes the old log */
    for (int b = 0; b < 65; b++) {
        dedup_state_check(d, H(300 + b), 1000);
        CHECK(dedup_state_save_batch(d, 21 + b, 20 + b, &e) == ST_OK);
    }
    st_stat st;
    CHECK(st_store_stat(s, "dedup/p0.log", &st, &e) == ST_ERR_NOTFOUND);
    dedup_state_destroy(d);
    d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK(dedup_state_load(d, 85, &e) == ST_OK && dedup_state_size(d) == 67);
    CHECK(dedup_state_check(d, H(2), 0) == 1 && dedup_state_check(d, H(364), 0) == 1);
    dedup_state_destroy(d);

    /* a damaged object is an error naming it, not a silently smaller state */
    CHECK(st_store_write(s, "dedup/p0/00000000000000000086.ids", "garbage", 7, &e) == ST_OK);
    d = dedup_state_new(s, "dedup/p0", 10 * MIN_US);
    CHECK(dedup_state_load(d, 90, &e) == ST_ERR_FORMAT && strstr(e.msg, "00000000000000000086.ids") &&
          strstr(e.msg, "damaged"));
    /* ... unless the batch never committed: it is dropped */
    CHECK(dedup_state_load(d, 85, &e) == ST_OK && dedup_state_size(d) == 67);
    /* other names under the prefix are not the state's */
    CHECK(st_store_write(s, "dedup/p0/notes.txt", "x", 1, &e) == ST_OK);
    CHECK(dedup_state_load(d, 85, &e) == ST_OK);
    dedup_state_destroy(d);
}

/* The log format is DDP1 records (magic, count, end offset, checksum, then {u64 hash, i64 time}
 * entries): a log written by hand the way earlier versions wrote it still loads. */
static void test_loads_hand_written_log(st_store *s, const char *dir)
{
    /* the log of partition "dedup/old" as earlier versions left it: <checkpoint>/dedup/old.log */
    char *ddir = st_path_join(dir, "dedup");
    st_mkdirs(ddir, NULL);
    char *path = st_path_join(ddir, "old.log");
    free(ddir);
    struct { uint64_t hash; int64_t time; } ents[3] = {{H(1), 1000000}, {H(2), 2000000}, {H(3), 3000000}};
    uint64_t sum = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 3; i++) {
        sum ^= ents[i].hash + 0x9e3779b97f4a7c15ull + (sum << 6) + (sum >> 2);
        sum ^= (uint64_t)ents[i].time + 0x9e3779b97f4a7c15ull + (sum << 6) + (sum >> 2);
    }
    struct { uint32_t magic, count; int64_t end; uint64_t sum; } h = {0x31504444u, 3, 7, sum};
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    fwrite(&h, sizeof h, 1, f);
    fwrite(ents, sizeof ents, 1, f);
    fclose(f);
    st_err e;
    dedup_state *d = dedup_state_new(s, "dedup/old", 10 * MIN_US);
    CHECK_MSG(dedup_state_load(d, 7, &e) == ST_OK, "%s", e.msg);
    CHECK(dedup_state_size(d) == 3);
    CHECK(dedup_state_check(d, H(2), 0) == 1);
    CHECK(dedup_state_check(d, H(4), 0) == 0);
    dedup_state_destroy(d);
    free(path);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random checks, batches, abandoned batches, growth, eviction and reloads against a model:
 * an id saved with a time at or above the watermark is always found, an id never seen never is,
 * an abandoned batch's ids are forgotten, and the live count lies between the ids the
 * watermark must keep and all the ids saved. */
enum { NMODEL = 60000 };
static void test_against_model(st_store *s)
{
    int64_t delay = 2 * MIN_US;
    static int64_t mtime[NMODEL];   /* 0: never saved; else time (ms-aligned) */
    static unsigned char mpending[NMODEL];
    int nids = 0;
    int64_t clock = 1700000000000000LL, maxt = INT64_MIN, committed_max = INT64_MIN;
    st_err e;
    dedup_state *d = dedup_state_new(s, "dedup/model", delay);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    int64_t offset = 0;
    int bad_found = 0, bad_new = 0, bad_size = 0;
    for (int step = 0; step < 400 && nids < NMODEL - 2000; step++) {
        int n = (int)(rnd() % 1500);
        for (int k = 0; k < n; k++) {
            clock += (int64_t)(rnd() % 16000) * 1000; /* ~8 ms apart: 2 min holds ~15,000 ids */
            int64_t t = clock - (rnd() % 10 == 0 ? (int64_t)(rnd() % 300) * 1000000 : 0); /* some late */
            if (nids && rnd() % 3 == 0) {
                int id = (int)(rnd() % (uint64_t)nids);
                int64_t wm = maxt == INT64_MIN ? INT64_MIN : maxt - delay;
                int r = dedup_state_check(d, H(id), t);
                if ((mpending[id] || (mtime[id] && mtime[id] >= wm)) && r != 1) bad_found++;
                if (r == 0) {
                    mpending[id] = 1;
                    mtime[id] = t;
                    if (t > maxt) maxt = t;
                }
            } else {
                int id = nids++;
                if (dedup_state_check(d, H(id), t) != 0) bad_new++;
                mpending[id] = 1;
                mtime[id] = t;
                if (t > maxt) maxt = t;
            }
        }
        if (rnd() % 5 == 0) {
            dedup_state_discard_batch(d);
            for (int i = 0; i < nids; i++)
                if (mpending[i]) {
                    mpending[i] = 0;
                    mtime[i] = 0;
                }
            maxt = committed_max;
            int64_t cwm = committed_max == INT64_MIN ? INT64_MIN : committed_max - delay;
            for (int i = 0; i < nids; i++)
                if (mtime[i] && mtime[i] >= cwm && dedup_state_check(d, H(i), mtime[i]) == 0) bad_found++;
            dedup_state_discard_batch(d); /* what the loop above re-added by mistake, if anything */
            continue;
        }
        /* each saved batch commits before the next is saved: Silver holds the previous offset */
        CHECK(dedup_state_save_batch(d, offset + 1, offset ? offset : -1, &e) == ST_OK);
        offset++;
        memset(mpending, 0, sizeof mpending);
        committed_max = maxt;
        size_t must = 0, all = 0;
        int64_t wm = maxt - delay;
        for (int i = 0; i < nids; i++) {
            if (!mtime[i]) continue;
            all++;
            if (mtime[i] >= wm) must++;
        }
        size_t live = dedup_state_size(d);
        if (live < must || live > all) bad_size++;
        if (step % 97 == 0) { /* reload from the store: the same state */
            dedup_state_destroy(d);
            d = dedup_state_new(s, "dedup/model", delay);
            CHECK(dedup_state_load(d, offset, &e) == ST_OK);
            if (dedup_state_size(d) < must) bad_size++;
        }
    }
    CHECK_MSG(bad_found == 0, "%d ids that must be found were not", bad_found);
    CHECK_MSG(bad_new == 0, "%d new ids reported as duplicates", bad_new);
    CHECK_MSG(bad_size == 0, "%d live counts outside the model's bounds", bad_size);
    CHECK(nids > 10000);
    dedup_state_destroy(d);
}

/* 12-byte slots at a load between ~0.5 and 0.8: the bench's bytes per live id stays in 15..25
 * once the ids outnumber the pending list. */
static void test_bytes_per_live_id(st_store *s)
{
    st_err e;
    dedup_state *d = dedup_state_new(s, "dedup/size", 10 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    for (int b = 0; b < 200; b++) {
        for (int i = 0; i < 2000; i++) CHECK(dedup_state_check(d, H(b * 2000 + i), (int64_t)(b * 2000 + i) * 100) == 0);
        CHECK(dedup_state_save_batch(d, b + 1, b ? b : -1, &e) == ST_OK);
        double per = (double)dedup_state_bytes(d) / (double)dedup_state_size(d);
        if (b > 20) CHECK_MSG(per >= 12.0 && per <= 25.0, "batch %d: %.1f bytes per live id", b, per);
    }
    CHECK(dedup_state_size(d) == 400000);
    dedup_state_destroy(d);
    /* loaded again from its snapshot (ids in slot order) and the batches after it: the load puts
     * them into a table sized for them (sorted ids put into a growing table took minutes) */
    d = dedup_state_new(s, "dedup/size", 10 * MIN_US);
    CHECK_MSG(dedup_state_load(d, 200, &e) == ST_OK, "%s", e.msg);
    CHECK_MSG(dedup_state_size(d) == 400000, "%zu ids after the load", dedup_state_size(d));
    for (int i = 0; i < 400000; i += 997) CHECK(dedup_state_check(d, H(i), (int64_t)i * 100) == 1);
    dedup_state_destroy(d);
}

/* The objects stay bounded by the live ids however many batches go by: 4,000 tiny batches
 * (one id each, 0.1 s of event time apart) and as many without new ids (no object at all). */
static void test_objects_bounded(st_store *s)
{
    st_err e;
    dedup_state *d = dedup_state_new(s, "dedup/tiny", 10 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    size_t most = 0;
    int64_t committed = -1;
    for (int b = 0; b < 4000; b++) {
        dedup_state_check(d, H(1000000 + b), (int64_t)b * 100000);
        CHECK(dedup_state_save_batch(d, 2 * b + 1, committed, &e) == ST_OK);
        CHECK(dedup_state_save_batch(d, 2 * b + 2, 2 * b + 1, &e) == ST_OK); /* nothing new */
        committed = 2 * b + 2;
        st_list l = {0};
        st_store_list(s, "dedup/tiny/", NULL, ST_LIST_RECURSIVE, &l, &e);
        if (l.count > most) most = l.count;
        st_list_free(&l);
    }
    CHECK_MSG(most <= 65 + 1, "up to %zu objects", most);
    size_t live = dedup_state_size(d);
    dedup_state_destroy(d);
    d = dedup_state_new(s, "dedup/tiny", 10 * MIN_US);
    CHECK(dedup_state_load(d, committed, &e) == ST_OK && dedup_state_size(d) == live);
    CHECK(dedup_state_check(d, H(1000000 + 3999), 0) == 1);
    dedup_state_destroy(d);
}

/* Seal and write apart (Silver's parser seals, its committer writes): nothing is on the store
 * until the write; a sealed batch whose write never happened (or failed) is gone after a reload at
 * the committed offset, and the next batch goes on from there; a written one is back after a load. */
static void test_seal_then_write(st_store *s)
{
    st_err e;
    dedup_state *d = dedup_state_new(s, "dedup/p1", 10 * MIN_US);
    CHECK(dedup_state_load(d, -1, &e) == ST_OK);
    dedup_ids ids = {0};
    CHECK(dedup_ids_write(d, &ids, &e) == ST_OK); /* zeroed: nothing to write */
    for (int i = 0; i < 100; i++) CHECK(dedup_state_check(d, H(i), 1000) == 0);
    CHECK(dedup_state_seal_batch(d, 100, -1, &ids, &e) == ST_OK);
    CHECK(ids.count == 100);
    char *k = keys(s, "dedup/p1/");
    CHECK_STR(k, "");
    free(k);
    CHECK(dedup_ids_write(d, &ids, &e) == ST_OK);
    k = keys(s, "dedup/p1/");
    CHECK_STR(k, "00000000000000000100.ids");
    free(k);
    /* batch 2 sealed, never written: the state in memory has it, a reload at 100 does not */
    for (int i = 100; i < 150; i++) CHECK(dedup_state_check(d, H(i), 1000) == 0);
    CHECK(dedup_state_seal_batch(d, 150, 100, &ids, &e) == ST_OK);
    CHECK(dedup_state_check(d, H(120), 1000) == 1);
    CHECK(dedup_state_load(d, 100, &e) == ST_OK);
    CHECK(dedup_state_size(d) == 100 && dedup_state_check(d, H(99), 0) == 1);
    CHECK(dedup_state_check(d, H(120), 1000) == 0); /* redone: new again */
    CHECK(dedup_state_seal_batch(d, 150, 100, &ids, &e) == ST_OK);
    CHECK(ids.count == 1);
    CHECK(dedup_ids_write(d, &ids, &e) == ST_OK);
    dedup_state *d2 = dedup_state_new(s, "dedup/p1", 10 * MIN_US);
    CHECK(dedup_state_load(d2, 150, &e) == ST_OK);
    CHECK(dedup_state_size(d2) == 101 && dedup_state_check(d2, H(120), 0) == 1);
    dedup_ids_free(&ids);
    dedup_state_destroy(d2);
    dedup_state_destroy(d);
}

int main(void)
{
    /* tmpfs when there is one: every batch is a synced object, and this is about contents */
    char dir[64];
    snprintf(dir, sizeof dir, "%s/st_dedup_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    st_err e;

    /* the log stores these hashes: the function must never change (value of the original code) */
    CHECK(dedup_hash("b01-f2-r05-co2-1:42", 19) == 0x021cdf270025e4d9ULL);

    st_store *s = NULL;
    CHECK(st_store_open(dir, &s, &e) == ST_OK);
    test_batches(s);
    test_seal_then_write(s);
    test_compaction(s);
    test_legacy_and_damage(s);
    test_objects_bounded(s);
    test_loads_hand_written_log(s, dir);
    test_against_model(s);
    test_bytes_per_live_id(s);
    st_store_close(s);
    st_remove_tree(dir, &e);
    return CHECK_DONE();
}
