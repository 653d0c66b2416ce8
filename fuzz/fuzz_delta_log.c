/* fuzz_delta_log.c — libFuzzer harness for the Delta log decoder.
 *
 * Input: the text of one commit file (newline-delimited JSON actions; seeds: every
 * _delta_log/NNN.json of the golden tables). It is applied to an empty snapshot through
 * delta_state_apply_commit (the entry point the snapshot loader uses for each commit), the
 * result is checked with delta_state_check_readable and its public accessors are walked.
 * delta_schema_from_json gets the same bytes (schemaString parsing).
 * Uses the module's private header: the decoder is not public API, and a harness is a test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta/delta.h"
#include "delta/delta_internal.h"

static volatile uint64_t delta_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_err e;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    delta_snapshot *s = delta_snapshot_empty("/nonexistent/fuzz-table", NULL);
    if (delta_state_apply_commit(s, text, size, "fuzz.json", &e) == ST_OK &&
        delta_state_check_readable(s, "fuzz.json", &e) == ST_OK) {
        delta_sink += (uint64_t)delta_snapshot_version(s) + (uint64_t)delta_snapshot_total_records(s);
    }
    for (size_t i = 0; i < delta_snapshot_num_files(s); i++) {
        const delta_file *f = delta_snapshot_file(s, i);
        delta_sink += strlen(f->path) + f->num_partition_values;
        for (size_t k = 0; k < f->num_partition_values; k++)
            delta_sink += strlen(f->partition_values[k].name) + (f->partition_values[k].value ? 1 : 0);
    }
    delta_snapshot_destroy(s);

    delta_schema *sc = delta_schema_from_json(text, &e);
    if (sc) {
        for (size_t i = 0; i < delta_schema_num_fields(sc); i++)
            delta_sink += strlen(delta_schema_field_name(sc, i)) + (uint64_t)delta_schema_field_type(sc, i);
        char *j = delta_schema_to_json(sc);
        free(j);
    }
    delta_schema_destroy(sc);
    free(text);
    return 0;
}
