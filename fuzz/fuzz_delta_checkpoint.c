/* fuzz_delta_checkpoint.c — libFuzzer harness for the Delta checkpoint reader.
 *
 * Input: a checkpoint Parquet file (seeds: the golden tables' checkpoints and v2 sidecars).
 * It is written to $TMPDIR/fuzz-delta-cp-<pid>/_delta_log/00000000000000000000.checkpoint.parquet (the reader
 * takes a table path) and loaded into an empty snapshot with delta_checkpoint_read, the
 * entry point snapshots use; the state is then checked and walked. One file write per run.
 * Uses the module's private header: the checkpoint reader is not public API.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta/delta.h"
#include "delta/delta_internal.h"

static volatile uint64_t cp_sink;
static char table_dir[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!table_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(table_dir, sizeof table_dir, "%s/fuzz-delta-cp-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        mkdir(table_dir, 0700);
        char log[300];
        snprintf(log, sizeof log, "%s/_delta_log", table_dir);
        mkdir(log, 0700);
    }
    char path[400];
    snprintf(path, sizeof path, "%s/_delta_log/00000000000000000000.checkpoint.parquet", table_dir);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    st_err e;
    delta_snapshot *s = delta_snapshot_empty(table_dir);
    if (delta_checkpoint_read(s, 0, &e) == ST_OK && delta_state_check_readable(s, table_dir, &e) == ST_OK)
        cp_sink += (uint64_t)delta_snapshot_total_records(s);
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        const delta_file *df = delta_snapshot_file(s, i);
        cp_sink += strlen(df->path) + df->num_partition_values + (df->stats ? strlen(df->stats) : 0);
    }
    delta_snapshot_destroy(s);
    return 0;
}
