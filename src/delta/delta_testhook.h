/* delta_testhook.h — fault injection into the commit put-if-absent, for unit tests of the
 * commit policy (delta_table_commit_files, pipeline/append_sink.h).
 *
 * Exists only in a build configured with -DSMARTTECH_TEST_HOOKS=ON (`make unit` does);
 * the release binary has neither these functions nor the fields behind them. A test that
 * includes this header without the option gets a compile error, not a silent no-op.
 */
#ifndef ST_DELTA_TESTHOOK_H
#define ST_DELTA_TESTHOOK_H

#ifndef SMARTTECH_TEST_HOOKS
#error "delta_testhook.h needs a build with -DSMARTTECH_TEST_HOOKS=ON"
#endif

#include "delta/delta.h"

typedef enum delta_put_fault {
    DELTA_PUT_NORMAL = 0,
    DELTA_PUT_FAIL,             /* nothing written, ST_ERR_IO (the temp file could not be written) */
    DELTA_PUT_AMBIGUOUS_LANDED, /* the commit file is written, then ST_ERR_AMBIGUOUS (an fsync after it) */
    DELTA_PUT_AMBIGUOUS_LOST,   /* nothing written, ST_ERR_AMBIGUOUS (a request that timed out) */
    DELTA_PUT_AMBIGUOUS_LATE    /* nothing written yet, ST_ERR_AMBIGUOUS; the file is put just before
                                   the handle's next put (a timed-out request that lands late) */
} delta_put_fault;

/* The next `count` commit puts of handle t behave as `fault`, then normally again. */
void delta_table_test_fault(delta_table *t, delta_put_fault fault, int count);

/* fn(arg) runs before every commit put of t (after the txn check of that attempt), e.g. to
 * commit from another handle in between: a concurrent writer. NULL removes it. */
void delta_table_test_before_put(delta_table *t, void (*fn)(void *arg), void *arg);

#endif
