/* regress_replay.h — shared by the test_*_regress.c unit tests: feeds every committed input
 * of tests/regress/<target>/ to a fuzz harness entry point (under ASan/UBSan in `make unit`).
 * Include after check.h. */
#ifndef ST_TEST_REGRESS_REPLAY_H
#define ST_TEST_REGRESS_REPLAY_H

#include <dirent.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"
#include "util/fsutil.h"

/* Runs fn on every file of <repo>/tests/regress/<target>/ (found next to this test source);
 * returns how many. The caller's __FILE__ locates the repository. */
static int regress_replay(const char *this_file, const char *target, int (*fn)(const uint8_t *, size_t))
{
    char src[4096], dir[4096];
    snprintf(src, sizeof src, "%s", this_file);
    snprintf(dir, sizeof dir, "%s/../regress/%s", dirname(src), target);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        st_buf b = {0};
        st_err e;
        CHECK_MSG(st_read_file(path, &b, &e) == ST_OK, "%s", path);
        fn(b.data ? b.data : (const uint8_t *)"", b.len);
        st_buf_free(&b);
        n++;
    }
    closedir(d);
    return n;
}

#endif
