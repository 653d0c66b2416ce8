/* fuzz_delta_checkpoint.c — libFuzzer harness for the Delta checkpoint reader.
 *
 * Input: a checkpoint Parquet file (seeds: the golden tables' checkpoints and v2 sidecars).
 * It is read from memory (st_source_mem) into an empty snapshot with
 * delta_checkpoint_read_source, the reader snapshots use for every checkpoint file; the
 * state is then checked and walked. No file is written.
 * Uses the module's private header: the checkpoint reader is not public API.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "delta/delta_internal.h"

static volatile uint64_t cp_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_err e;
    delta_snapshot *s = delta_snapshot_empty("fuzz-table", NULL);
    st_source *src = st_source_mem(data, size, "fuzz-table/_delta_log/00000000000000000000.checkpoint.parquet");
    if (delta_checkpoint_read_source(s, src, &e) == ST_OK && delta_state_check_readable(s, "fuzz-table", &e) == ST_OK)
        cp_sink += (uint64_t)delta_snapshot_total_records(s);
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        const delta_file *df = delta_snapshot_file(s, i);
        cp_sink += strlen(df->path) + df->num_partition_values + (df->stats ? strlen(df->stats) : 0);
    }
    delta_snapshot_destroy(s);
    return 0;
}
