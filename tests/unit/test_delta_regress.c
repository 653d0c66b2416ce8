/* test_delta_regress.c — replays the inputs that once crashed, leaked or hit undefined
 * behaviour in the Delta fuzz targets (tests/regress/fuzz_delta_<target>/), through the
 * very harness code of fuzz/, under ASan/UBSan in `make unit`. A regression shows up as a
 * sanitizer report (the process aborts). The fuzzer binaries replay them too (scripts/fuzz).
 */
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define LLVMFuzzerTestOneInput fuzz_log_one
#include "../../fuzz/fuzz_delta_log.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_checkpoint_one
#include "../../fuzz/fuzz_delta_checkpoint.c"
#undef LLVMFuzzerTestOneInput

/* Runs fn on every file of <repo>/tests/regress/<target>/; returns how many. */
static int replay(const char *target, int (*fn)(const uint8_t *, size_t))
{
    char src[4096], dir[4096];
    snprintf(src, sizeof src, "%s", __FILE__);
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

int main(void)
{
    int n = replay("fuzz_delta_log", fuzz_log_one);
    n += replay("fuzz_delta_checkpoint", fuzz_checkpoint_one);
    CHECK_MSG(n > 0, "no regression inputs found next to %s", __FILE__);
    /* the checkpoint harness keeps its scratch table in /tmp: remove it */
    char p[400];
    snprintf(p, sizeof p, "%s/_delta_log/00000000000000000000.checkpoint.parquet", table_dir);
    if (table_dir[0]) {
        remove(p);
        snprintf(p, sizeof p, "%s/_delta_log", table_dir);
        rmdir(p);
        rmdir(table_dir);
    }
    return CHECK_DONE();
}
