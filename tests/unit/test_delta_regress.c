/* test_delta_regress.c — replays the inputs that once crashed, leaked or hit undefined
 * behaviour in the Delta fuzz targets (tests/regress/fuzz_delta_<target>/), through the
 * very harness code of fuzz/, under ASan/UBSan in `make unit`. A regression shows up as a
 * sanitizer report (the process aborts). The fuzzer binaries replay them too (scripts/fuzz).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "regress_replay.h"
#include "util/buf.h"
#include "util/fsutil.h"

#define LLVMFuzzerTestOneInput fuzz_log_one
#include "../../fuzz/fuzz_delta_log.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_checkpoint_one
#include "../../fuzz/fuzz_delta_checkpoint.c"
#undef LLVMFuzzerTestOneInput

int main(void)
{
    int n = regress_replay(__FILE__, "fuzz_delta_log", fuzz_log_one);
    n += regress_replay(__FILE__, "fuzz_delta_checkpoint", fuzz_checkpoint_one);
    CHECK_MSG(n > 0, "no regression inputs found next to %s", __FILE__);
    return CHECK_DONE();
}
