/* test_store.c — the storage layer (store.h) on its POSIX backend: URIs, round trips,
 * ranges, put-if-absent races between threads and between processes, sorted listings
 * with start-after, streaming writes that are invisible until closed and leave nothing
 * when aborted or killed, and the errors (missing object, unwritable folder, full disk). */
#include "check.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[64];

static st_store *open_root(void)
{
    st_store *s = NULL;
    st_err e;
    CHECK_MSG(st_store_open(root, &s, &e) == ST_OK, "%s", e.msg);
    return s;
}

/* Names in a folder as the file system has them (temporary files included). */
static int raw_count(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void test_uris(void)
{
    st_store *s = NULL;
    st_err e;
    /* opening an s3:// store touches no network (test_store_s3.c has the rest) */
    CHECK_MSG(st_store_open("s3://bucket/tables/silver/", &s, &e) == ST_OK, "%s", e.msg);
    if (s) CHECK_STR(st_store_root(s), "s3://bucket/tables/silver");
    st_store_close(s);
    CHECK(st_store_open("gs://b/x", &s, &e) == ST_ERR_UNSUPPORTED && strstr(e.msg, "'gs'") && !s);
    CHECK(st_store_open("", &s, &e) == ST_ERR_ARG);
    CHECK(st_store_open("file://host/x", &s, &e) == ST_ERR_ARG);

    char uri[128];
    snprintf(uri, sizeof uri, "file://%s/", root);
    CHECK(st_store_open(uri, &s, &e) == ST_OK);
    CHECK_STR(st_store_root(s), root);
    CHECK(st_store_write(s, "u/a b.txt", "x", 1, &e) == ST_OK);
    st_store_close(s);
    snprintf(uri, sizeof uri, "file:%s/u", root); /* Hadoop's file:/path */
    CHECK(st_store_open(uri, &s, &e) == ST_OK);
    st_stat st;
    CHECK(st_store_stat(s, "a b.txt", &st, &e) == ST_OK && st.size == 1);
    st_store_close(s);
    snprintf(uri, sizeof uri, "file://%s/u/a%%20b.txt", root);
    st_source *src;
    CHECK_MSG(st_source_open_uri(uri, &src, &e) == ST_OK, "%s", e.msg);
    if (src) CHECK(st_source_size(src) == 1);
    st_source_close(src);
    /* a plain path with "://" inside a folder name is still a path */
    CHECK(st_store_open("dir/a://b", &s, &e) == ST_OK && !strcmp(st_store_root(s), "dir/a://b"));
    st_store_close(s);
    st_store_close(NULL);
}

static void test_round_trip(void)
{
    st_store *s = open_root();
    st_err e;
    const char *text = "hello, object store";
    CHECK(st_store_write(s, "rt/deep/er/obj.txt", text, strlen(text), &e) == ST_OK); /* mkdir -p */
    st_buf b = {0};
    st_stat st = {0};
    CHECK(st_store_read(s, "rt/deep/er/obj.txt", &b, &st, &e) == ST_OK);
    CHECK(b.len == strlen(text) && !memcmp(b.data, text, b.len));
    CHECK(st.size == (int64_t)strlen(text) && st.mtime_ms > now_ms() - 60000);
    /* replace */
    CHECK(st_store_write(s, "rt/deep/er/obj.txt", "new", 3, &e) == ST_OK);
    st_buf_reset(&b);
    CHECK(st_store_read(s, "rt/deep/er/obj.txt", &b, NULL, &e) == ST_OK && b.len == 3 && !memcmp(b.data, "new", 3));
    /* empty object */
    CHECK(st_store_write(s, "rt/empty", "", 0, &e) == ST_OK);
    st_buf_reset(&b);
    CHECK(st_store_read(s, "rt/empty", &b, &st, &e) == ST_OK && b.len == 0 && st.size == 0);

    /* ranges: middle, running past the end, at and past the end */
    CHECK(st_store_write(s, "rt/digits", "0123456789", 10, &e) == ST_OK);
    st_buf_reset(&b);
    CHECK(st_store_read_range(s, "rt/digits", 3, 4, &b, &e) == ST_OK && b.len == 4 && !memcmp(b.data, "3456", 4));
    st_buf_reset(&b);
    CHECK(st_store_read_range(s, "rt/digits", 8, 100, &b, &e) == ST_OK && b.len == 2 && !memcmp(b.data, "89", 2));
    st_buf_reset(&b);
    CHECK(st_store_read_range(s, "rt/digits", 10, 5, &b, &e) == ST_OK && b.len == 0);
    CHECK(st_store_read_range(s, "rt/digits", 1000, 5, &b, &e) == ST_OK && b.len == 0);
    CHECK(st_store_read_range(s, "rt/digits", 0, SIZE_MAX, &b, &e) == ST_OK && b.len == 10);

    /* missing objects name the key */
    CHECK(st_store_read(s, "rt/nope.json", &b, NULL, &e) == ST_ERR_NOTFOUND && strstr(e.msg, "rt/nope.json"));
    CHECK(st_store_stat(s, "rt/nope.json", &st, &e) == ST_ERR_NOTFOUND && strstr(e.msg, "rt/nope.json"));
    CHECK(st_store_read_range(s, "nodir/x", 0, 1, &b, &e) == ST_ERR_NOTFOUND && strstr(e.msg, "nodir/x"));
    st_source *src = NULL;
    CHECK(st_store_open_source(s, "rt/nope.json", &src, &e) == ST_ERR_NOTFOUND && !src && strstr(e.msg, "nope.json"));
    /* a folder is not an object */
    CHECK(st_store_read(s, "rt/deep", &b, NULL, &e) == ST_ERR_NOTFOUND);
    CHECK(st_store_stat(s, "rt/deep", &st, &e) == ST_ERR_NOTFOUND);

    /* delete, twice */
    CHECK(st_store_delete(s, "rt/digits", &e) == ST_OK);
    CHECK(st_store_delete(s, "rt/digits", &e) == ST_OK);
    CHECK(st_store_stat(s, "rt/digits", &st, &e) == ST_ERR_NOTFOUND);

    /* keys */
    const char *bad[] = {"", "/abs", "a//b", "a/../b", "../x", "./a", "a/", "a/."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(st_store_write(s, bad[i], "x", 1, &e) == ST_ERR_ARG, "key '%s'", bad[i]);
        CHECK_MSG(st_store_read(s, bad[i], &b, NULL, &e) == ST_ERR_ARG, "key '%s'", bad[i]);
    }
    st_list l = {0};
    CHECK(st_store_list(s, "../", NULL, 0, &l, &e) == ST_ERR_ARG);
    CHECK(st_store_list(s, "/x", NULL, 0, &l, &e) == ST_ERR_ARG);
    st_buf_free(&b);
    st_store_close(s);
}

/* ------------------------------------------------------------------ put-if-absent */

static void test_put_if_absent(void)
{
    st_store *s = open_root();
    st_err e;
    CHECK(st_store_put_if_absent(s, "pia/_delta_log/00000000000000000000.json", "first", 5, &e) == ST_OK);
    CHECK(st_store_put_if_absent(s, "pia/_delta_log/00000000000000000000.json", "second", 6, &e) == ST_ERR_CONFLICT);
    CHECK(strstr(e.msg, "00000000000000000000.json") && strstr(e.msg, "another writer"));
    st_buf b = {0};
    CHECK(st_store_read(s, "pia/_delta_log/00000000000000000000.json", &b, NULL, &e) == ST_OK && b.len == 5 &&
          !memcmp(b.data, "first", 5));
    st_buf_free(&b);
    /* the loser left no temporary file behind */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/pia/_delta_log", root);
    CHECK(raw_count(dir) == 1);
    st_store_close(s);
}

/* Counts, for keys fmt % 0..nkeys-1 holding a racer's number as text, how many each of the
 * nper racers owns (per[], zeroed first); a key missing or holding anything else fails. */
static void count_owners(const char *fmt, int nkeys, int *per, int nper)
{
    st_store *s = open_root();
    memset(per, 0, (size_t)nper * sizeof *per);
    for (int k = 0; k < nkeys; k++) {
        char key[64];
        snprintf(key, sizeof key, fmt, k);
        st_buf b = {0};
        st_err e;
        int id = -1;
        if (st_store_read(s, key, &b, NULL, &e) == ST_OK) id = atoi(st_buf_cstr(&b));
        CHECK_MSG(id >= 0 && id < nper, "key %s", key);
        if (id >= 0 && id < nper) per[id]++;
        st_buf_free(&b);
    }
    st_store_close(s);
}

#define RACERS 8
#define ROUNDS 40

typedef struct racer {
    pthread_barrier_t *bar;
    int id, wins, conflicts, errors;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    st_store *s;
    st_err e;
    if (st_store_open(root, &s, &e)) return NULL;  /* one store per thread */
    for (int k = 0; k < ROUNDS; k++) {
        char key[64], body[32];
        snprintf(key, sizeof key, "race/t/%020d.json", k);
        int n = snprintf(body, sizeof body, "%d", r->id);
        pthread_barrier_wait(r->bar);
        st_code rc = st_store_put_if_absent(s, key, body, (size_t)n, &e);
        if (rc == ST_OK) r->wins++;
        else if (rc == ST_ERR_CONFLICT) r->conflicts++;
        else r->errors++;
    }
    st_store_close(s);
    return NULL;
}

/* RACERS threads put the same keys at the same moment: exactly one wins each key, and the
 * object holds the winner's bytes. */
static void test_race_threads(void)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, RACERS);
    pthread_t th[RACERS];
    racer r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer){&bar, i, 0, 0, 0};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int wins = 0, conflicts = 0, errors = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        wins += r[i].wins;
        conflicts += r[i].conflicts;
        errors += r[i].errors;
    }
    pthread_barrier_destroy(&bar);
    CHECK_MSG(wins == ROUNDS && conflicts == ROUNDS * (RACERS - 1) && errors == 0, "wins %d conflicts %d errors %d",
              wins, conflicts, errors);
    /* each object is one winner's, and the winners' counts add up */
    int per[RACERS];
    count_owners("race/t/%020d.json", ROUNDS, per, RACERS);
    for (int i = 0; i < RACERS; i++) CHECK(per[i] == r[i].wins);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/race/t", root);
    CHECK(raw_count(dir) == ROUNDS); /* no temporary file left by the losers */
}

#define PROCS 4
#define PKEYS 150

/* PROCS processes put the same keys (each in its own order, so they collide all the time):
 * every key has one winner, and each process's win count matches the objects it owns. */
static void test_race_processes(void)
{
    int pipes[PROCS][2];
    pid_t pid[PROCS];
    for (int p = 0; p < PROCS; p++) {
        CHECK(pipe(pipes[p]) == 0);
        pid[p] = fork();
        if (pid[p] == 0) {
            st_store *s;
            st_err e;
            int wins = 0, bad = 0;
            if (st_store_open(root, &s, &e)) _exit(3);
            for (int i = 0; i < PKEYS; i++) {
                int k = p % 2 ? PKEYS - 1 - i : i;
                char key[64], body[16];
                snprintf(key, sizeof key, "race/p/%03d", k);
                int n = snprintf(body, sizeof body, "%d", p);
                st_code rc = st_store_put_if_absent(s, key, body, (size_t)n, &e);
                if (rc == ST_OK) wins++;
                else if (rc != ST_ERR_CONFLICT) bad++;
            }
            st_store_close(s);
            if (write(pipes[p][1], &wins, sizeof wins) != sizeof wins) _exit(4);
            _exit(bad ? 5 : 0);
        }
        close(pipes[p][1]);
    }
    int total = 0, wins[PROCS] = {0};
    for (int p = 0; p < PROCS; p++) {
        int st = 0;
        waitpid(pid[p], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(read(pipes[p][0], &wins[p], sizeof wins[p]) == sizeof wins[p]);
        close(pipes[p][0]);
        total += wins[p];
    }
    CHECK_MSG(total == PKEYS, "%d wins for %d keys", total, PKEYS);
    int owned[PROCS];
    count_owners("race/p/%03d", PKEYS, owned, PROCS);
    for (int p = 0; p < PROCS; p++) CHECK_MSG(owned[p] == wins[p], "process %d: %d objects, %d wins", p, owned[p], wins[p]);
}

/* ------------------------------------------------------------------ listing */

static void list_keys(st_store *s, const char *prefix, const char *after, int flags, st_buf *out)
{
    st_list l = {0};
    st_err e;
    st_buf_reset(out);
    CHECK_MSG(st_store_list(s, prefix, after, flags, &l, &e) == ST_OK, "%s", e.msg);
    for (size_t i = 0; i < l.count; i++) st_buf_printf(out, "%s%s", i ? " " : "", l.items[i].key);
    st_list_free(&l);
}

static void test_list(void)
{
    st_store *s = open_root();
    st_err e;
    const char *keys[] = {"ls/v1", "ls/v10", "ls/v2", "ls/v9", "ls/v100", "ls/a-c", "ls/a/b/c", "ls/a/x",
                          "ls/_delta_log/00000000000000000000.json", "ls/_delta_log/00000000000000000001.json",
                          "ls/_delta_log/00000000000000000010.checkpoint.parquet",
                          "ls/_delta_log/00000000000000000010.json", "ls/_delta_log/00000000000000000011.json",
                          "ls/_delta_log/00000000000000000002.json", "ls/_delta_log/_last_checkpoint",
                          "ls/_delta_log/_sidecars/x.parquet"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) CHECK(st_store_write(s, keys[i], "k", 1, &e) == ST_OK);
    st_buf got = {0};
    /* byte-wise order, folders summed up without RECURSIVE */
    list_keys(s, "ls/", NULL, 0, &got);
    CHECK_STR(st_buf_cstr(&got), "ls/_delta_log/ ls/a-c ls/a/ ls/v1 ls/v10 ls/v100 ls/v2 ls/v9");
    list_keys(s, "ls/", NULL, ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got),
              "ls/_delta_log/00000000000000000000.json ls/_delta_log/00000000000000000001.json "
              "ls/_delta_log/00000000000000000002.json ls/_delta_log/00000000000000000010.checkpoint.parquet "
              "ls/_delta_log/00000000000000000010.json ls/_delta_log/00000000000000000011.json "
              "ls/_delta_log/_last_checkpoint ls/_delta_log/_sidecars/x.parquet "
              "ls/a-c ls/a/b/c ls/a/x ls/v1 ls/v10 ls/v100 ls/v2 ls/v9");
    /* mixed-length numbers: string order, and start-after is exclusive */
    list_keys(s, "ls/v", "ls/v1", 0, &got);
    CHECK_STR(st_buf_cstr(&got), "ls/v10 ls/v100 ls/v2 ls/v9");
    list_keys(s, "ls/v", "ls/v10", 0, &got);
    CHECK_STR(st_buf_cstr(&got), "ls/v100 ls/v2 ls/v9");
    list_keys(s, "ls/v", "ls/v9", 0, &got);
    CHECK_STR(st_buf_cstr(&got), "");
    /* the Delta log from a checkpoint: start after "<version>" takes its checkpoint and what follows */
    list_keys(s, "ls/_delta_log/", "ls/_delta_log/00000000000000000010", 0, &got);
    CHECK_STR(st_buf_cstr(&got),
              "ls/_delta_log/00000000000000000010.checkpoint.parquet ls/_delta_log/00000000000000000010.json "
              "ls/_delta_log/00000000000000000011.json ls/_delta_log/_last_checkpoint ls/_delta_log/_sidecars/");
    /* a string prefix inside a folder */
    list_keys(s, "ls/_delta_log/00000000000000000010.", NULL, 0, &got);
    CHECK_STR(st_buf_cstr(&got),
              "ls/_delta_log/00000000000000000010.checkpoint.parquet ls/_delta_log/00000000000000000010.json");
    /* recursive with start-after: folders wholly before it are skipped, order stays byte-wise
     * ("a-c" < "a/b/c" since '-' < '/') */
    list_keys(s, "ls/a", "ls/a/b/c", ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got), "ls/a/x");
    list_keys(s, "ls/a", "ls/a-c", ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got), "ls/a/b/c ls/a/x");
    list_keys(s, "ls/a", "ls/a-", ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got), "ls/a-c ls/a/b/c ls/a/x");
    /* nothing there: empty, not an error */
    list_keys(s, "none/", NULL, ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got), "");
    list_keys(s, "ls/v1/", NULL, 0, &got); /* under an object */
    CHECK_STR(st_buf_cstr(&got), "");
    /* sizes and times come with the entries */
    st_list l = {0};
    CHECK(st_store_list(s, "ls/v10", NULL, 0, &l, &e) == ST_OK && l.count == 2);
    if (l.count == 2) CHECK(l.items[0].size == 1 && l.items[0].mtime_ms > 0 && !l.items[0].is_prefix);
    st_list_free(&l);
    st_list_free(&l);
    st_buf_free(&got);
    st_store_close(s);
}

/* ------------------------------------------------------------------ sinks and sources */

static void test_sink(void)
{
    st_store *s = open_root();
    st_err e;
    st_sink *k;
    CHECK(st_store_open_sink(s, "sink/p=1/part-0.parquet", ST_SINK_REPLACE, &k, &e) == ST_OK);
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 100; i++) CHECK(st_sink_write(k, chunk, sizeof chunk, &e) == ST_OK);
    CHECK(st_sink_offset(k) == 409600 && strstr(st_sink_name(k), "sink/p=1/part-0.parquet"));
    /* not visible before close: no object, and nothing listed */
    st_stat st;
    CHECK(st_store_stat(s, "sink/p=1/part-0.parquet", &st, &e) == ST_ERR_NOTFOUND);
    st_buf got = {0};
    list_keys(s, "sink/", NULL, ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got), "");
    st_stat cst = {0};
    CHECK(st_sink_close(k, &cst, &e) == ST_OK);
    CHECK(cst.size == 409600 && cst.mtime_ms > 0);
    CHECK(st_store_stat(s, "sink/p=1/part-0.parquet", &st, &e) == ST_OK && st.size == 409600);
    list_keys(s, "sink/", NULL, ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got), "sink/p=1/part-0.parquet");

    /* abort leaves nothing: no object, no temporary file */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sink/p=2", root);
    CHECK(st_store_open_sink(s, "sink/p=2/part-1.parquet", 0, &k, &e) == ST_OK);
    CHECK(st_sink_write(k, chunk, sizeof chunk, &e) == ST_OK);
    st_sink_abort(k);
    st_sink_abort(NULL);
    CHECK(st_store_stat(s, "sink/p=2/part-1.parquet", &st, &e) == ST_ERR_NOTFOUND);
    CHECK(raw_count(dir) == 0);

    /* a replacing sink over an existing object: readers keep the old bytes until close */
    CHECK(st_store_write(s, "sink/last", "old", 3, &e) == ST_OK);
    CHECK(st_store_open_sink(s, "sink/last", ST_SINK_REPLACE, &k, &e) == ST_OK);
    CHECK(st_sink_write(k, "newer", 5, &e) == ST_OK);
    CHECK(st_store_stat(s, "sink/last", &st, &e) == ST_OK && st.size == 3);
    CHECK(st_sink_close(k, NULL, &e) == ST_OK);
    CHECK(st_store_stat(s, "sink/last", &st, &e) == ST_OK && st.size == 5);

    /* put-if-absent sink losing at close: conflict, old object intact, nothing left over */
    CHECK(st_store_open_sink(s, "sink/last", ST_SINK_IF_ABSENT, &k, &e) == ST_OK);
    CHECK(st_sink_write(k, "x", 1, &e) == ST_OK);
    CHECK(st_sink_close(k, NULL, &e) == ST_ERR_CONFLICT);
    CHECK(st_store_stat(s, "sink/last", &st, &e) == ST_OK && st.size == 5);
    snprintf(dir, sizeof dir, "%s/sink", root);
    CHECK(raw_count(dir) == 3); /* p=1, p=2, last */
    CHECK(st_store_open_sink(s, "sink/x", 7, &k, &e) == ST_ERR_ARG);

    /* a writer killed mid-write: its temporary file is never listed, and purge removes it
     * once it is old enough */
    pid_t pid = fork();
    if (pid == 0) {
        st_sink *ck;
        if (st_store_open_sink(s, "sink/p=3/part-9.parquet", 0, &ck, &e)) _exit(1);
        if (st_sink_write(ck, chunk, sizeof chunk, &e)) _exit(1);
        _exit(0); /* as kill -9 would: no close, no abort */
    }
    int wst;
    waitpid(pid, &wst, 0);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    snprintf(dir, sizeof dir, "%s/sink/p=3", root);
    CHECK(raw_count(dir) == 1);
    list_keys(s, "sink/p=3/", NULL, ST_LIST_RECURSIVE, &got);
    CHECK_STR(st_buf_cstr(&got), "");
    size_t removed = 99;
    CHECK(st_store_purge_abandoned(s, "sink/", now_ms() - 3600 * 1000, &removed, &e) == ST_OK && removed == 0);
    CHECK(raw_count(dir) == 1);
    CHECK(st_store_purge_abandoned(s, "", now_ms() + 1000, &removed, &e) == ST_OK && removed == 1);
    CHECK(raw_count(dir) == 0);
    CHECK(st_store_stat(s, "sink/p=1/part-0.parquet", &st, &e) == ST_OK); /* real objects stay */
    st_buf_free(&got);

    /* by URI */
    char uri[128];
    snprintf(uri, sizeof uri, "%s/sink/by-uri.bin", root);
    CHECK(st_sink_open_uri(uri, ST_SINK_IF_ABSENT, &k, &e) == ST_OK);
    CHECK(st_sink_write(k, "abc", 3, &e) == ST_OK);
    CHECK(st_sink_close(k, NULL, &e) == ST_OK);
    CHECK(st_sink_open_uri(uri, ST_SINK_IF_ABSENT, &k, &e) == ST_OK);
    CHECK(st_sink_close(k, NULL, &e) == ST_ERR_CONFLICT);
    snprintf(uri, sizeof uri, "%s/sink/", root);
    CHECK(st_sink_open_uri(uri, 0, &k, &e) == ST_ERR_ARG && strstr(e.msg, "folder"));
    st_store_close(s);
}

static void test_source(void)
{
    st_store *s = open_root();
    st_err e;
    CHECK(st_store_write(s, "src/f", "abcdefghij", 10, &e) == ST_OK);
    st_source *src;
    CHECK(st_store_open_source(s, "src/f", &src, &e) == ST_OK);
    CHECK(st_source_size(src) == 10 && strstr(st_source_name(src), "src/f"));
    char buf[16] = {0};
    CHECK(st_source_read(src, 6, 4, buf, &e) == ST_OK && !memcmp(buf, "ghij", 4));
    CHECK(st_source_read(src, 0, 10, buf, &e) == ST_OK && !memcmp(buf, "abcdefghij", 10));
    CHECK(st_source_read(src, 0, 0, buf, &e) == ST_OK);
    CHECK(st_source_read(src, 7, 4, buf, &e) == ST_ERR_FORMAT && strstr(e.msg, "past the end") &&
          strstr(e.msg, "src/f"));
    CHECK(st_source_read(src, UINT64_MAX, 1, buf, &e) == ST_ERR_FORMAT);
    st_source_close(src);
    st_source_close(NULL);
    st_source *m = st_source_mem("xyz", 3, "mem.bin");
    CHECK(st_source_size(m) == 3 && !strcmp(st_source_name(m), "mem.bin"));
    CHECK(st_source_read(m, 1, 2, buf, &e) == ST_OK && !memcmp(buf, "yz", 2));
    CHECK(st_source_read(m, 2, 2, buf, &e) == ST_ERR_FORMAT && strstr(e.msg, "mem.bin"));
    st_source_close(m);
    char uri[128];
    snprintf(uri, sizeof uri, "%s/src/missing", root);
    CHECK(st_source_open_uri(uri, &src, &e) == ST_ERR_NOTFOUND && strstr(e.msg, "src/missing"));
    st_store_close(s);
}

/* ------------------------------------------------------------------ errors */

/* Writing where we may not: a 0555 folder (as nobody when we are root, since root ignores
 * permissions) and a key under a file. The error names the object and says why. */
static void test_unwritable(void)
{
    st_store *s = open_root();
    st_err e;
    CHECK(st_store_write(s, "file", "x", 1, &e) == ST_OK);
    CHECK(st_store_write(s, "file/under", "x", 1, &e) != ST_OK && strstr(e.msg, "file/under"));
    char ro[128];
    snprintf(ro, sizeof ro, "%s/ro", root);
    CHECK(mkdir(ro, 0555) == 0 || errno == EEXIST);
    chmod(root, 0755);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
        st_store *cs;
        if (st_store_open(root, &cs, &e)) _exit(3);
        st_code rc = st_store_write(cs, "ro/t/_delta_log/00000000000000000000.json", "x", 1, &e);
        int ok = rc == ST_ERR_IO && strstr(e.msg, "ro/t") && strstr(e.msg, "Permission denied");
        if (!ok) fprintf(stderr, "unwritable: %s\n", e.msg);
        rc = st_store_put_if_absent(cs, "ro/x", "x", 1, &e);
        ok = ok && rc == ST_ERR_IO && strstr(e.msg, "ro/x") && strstr(e.msg, "Permission denied");
        if (!ok) fprintf(stderr, "unwritable: %s\n", e.msg);
        st_store_close(cs);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(raw_count(ro) == 0);
    chmod(ro, 0755);
    st_store_close(s);
}

/* A full disk (a 64 KiB tmpfs, when we may mount one): the write fails with the system's
 * reason and leaves neither the object nor a temporary file. */
static void test_full_disk(void)
{
    char mnt[128];
    snprintf(mnt, sizeof mnt, "%s/full", root);
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        fprintf(stderr, "test_full_disk skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
        return;
    }
    st_store *s;
    st_err e;
    CHECK(st_store_open(mnt, &s, &e) == ST_OK);
    size_t n = 1 << 20;
    char *big = st_xcalloc(1, n);
    CHECK(st_store_write(s, "d/big.parquet", big, n, &e) == ST_ERR_IO);
    CHECK_MSG(strstr(e.msg, "No space left") && strstr(e.msg, "d/big.parquet"), "%s", e.msg);
    st_sink *k;
    CHECK(st_store_open_sink(s, "d/stream.parquet", 0, &k, &e) == ST_OK);
    st_code rc = ST_OK;
    for (int i = 0; i < 64 && !rc; i++) rc = st_sink_write(k, big, 4096, &e);
    CHECK(rc == ST_ERR_IO);
    CHECK(st_sink_write(k, big, 1, &e) == ST_ERR_STATE);
    CHECK(st_sink_close(k, NULL, &e) == ST_ERR_STATE);
    char d[160];
    snprintf(d, sizeof d, "%s/d", mnt);
    CHECK(raw_count(d) == 0);
    CHECK(st_store_write(s, "d/small", "ok", 2, &e) == ST_OK); /* space is back */
    free(big);
    st_store_close(s);
    CHECK(umount(mnt) == 0);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/st_store_XXXXXX");
    if (!mkdtemp(root)) return 1;
    test_uris();
    test_round_trip();
    test_put_if_absent();
    test_race_threads();
    test_race_processes();
    test_list();
    test_sink();
    test_source();
    test_unwritable();
    test_full_disk();
    int rc = CHECK_DONE();
    if (!rc) st_remove_tree(root, NULL);
    return rc;
}
