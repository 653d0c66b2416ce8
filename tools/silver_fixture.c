/* silver_fixture — writes a Silver table from the deterministic simulator, without Kafka
 * (test driver for `smarttech gold`).
 *
 *   silver_fixture --table PATH [--seed N] [--buildings N] [--floors N] [--rooms N] [--rate R]
 *                  [--start ISO] [--fault-rate F] [--from-event M] [--events N] [--versions K]
 *                  [--interval-ms MS] [--co2-episode SENSOR,FROM_S,TO_S,VALUE]
 *                  [--manifest FILE]
 *
 * Generates simulator events M..M+N-1 (the same stream whatever M: the simulator is run from
 * its start and the first M events are skipped), keeps the ones Silver would accept (valid,
 * first occurrence of their event_id among the generated ones), and appends them to the
 * table in K commits of about equal size (TABLE_SILVER schema, partitioned by event_date),
 * sleeping interval-ms between commits. --co2-episode sets the value of every reading of
 * SENSOR whose event time is FROM_S..TO_S seconds (inclusive, exclusive) after --start.
 * --manifest appends one line per stored row: version,event_id,event_time_us (order = Silver
 * order). Prints the table version at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iot/event.h"
#include "sim/simulator.h"
#include "pipeline/tables.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/htab.h"
#include "util/timeutil.h"

static int usage(void)
{
    fprintf(stderr, "usage: silver_fixture --table PATH [--seed N] [--buildings N] [--floors N] [--rooms N] "
                    "[--rate R] [--start ISO] [--fault-rate F] [--from-event M] [--events N] [--versions K] "
                    "[--interval-ms MS] [--co2-episode SENSOR,FROM_S,TO_S,VALUE] [--manifest FILE]\n");
    return 2;
}

/* Adds an event id to the set of ids seen (keyed by its FNV-1a hash); 0 if it was there. */
static int seen_add(st_htab *seen, const char *id, size_t n)
{
    int found;
    st_htab_upsert(seen, st_htab_hash(st_fnv1a64(id, n)), NULL, NULL, &found);
    return !found;
}

int main(int argc, char **argv)
{
    iot_sim_config sc;
    iot_sim_config_init(&sc);
    sc.buildings = 1;
    sc.floors = 2;
    sc.rooms = 2;
    sc.rate = 12;
    const char *table = NULL, *manifest = NULL;
    long long from = 0, events = 1000, versions = 10, interval_ms = 0;
    char *ep_sensor = NULL;
    double ep_from = 0, ep_to = 0, ep_value = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage();
        i++;
        if (!strcmp(a, "--table")) table = v;
        else if (!strcmp(a, "--seed")) sc.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--buildings")) sc.buildings = atoi(v);
        else if (!strcmp(a, "--floors")) sc.floors = atoi(v);
        else if (!strcmp(a, "--rooms")) sc.rooms = atoi(v);
        else if (!strcmp(a, "--rate")) sc.rate = atof(v);
        else if (!strcmp(a, "--fault-rate")) sc.fault_rate = atof(v);
        else if (!strcmp(a, "--from-event")) from = atoll(v);
        else if (!strcmp(a, "--events")) events = atoll(v);
        else if (!strcmp(a, "--versions")) versions = atoll(v);
        else if (!strcmp(a, "--interval-ms")) interval_ms = atoll(v);
        else if (!strcmp(a, "--manifest")) manifest = v;
        else if (!strcmp(a, "--start")) {
            if (st_parse_iso_us(v, strlen(v), &sc.start_time_us)) return usage();
        } else if (!strcmp(a, "--co2-episode")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            char *c1 = strchr(buf, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL, *c3 = c2 ? strchr(c2 + 1, ',') : NULL;
            if (!c3) return usage();
            *c1 = *c2 = *c3 = '\0';
            ep_sensor = st_xstrdup(buf);
            ep_from = atof(c1 + 1);
            ep_to = atof(c2 + 1);
            ep_value = atof(c3 + 1);
        } else return usage();
    }
    if (!table || versions < 1 || events < 0 || from < 0) return usage();

    st_err e;
    iot_sim *sim = NULL;
    if (iot_sim_new(&sc, &sim, &e)) {
        fprintf(stderr, "silver_fixture: %s\n", e.msg);
        return 1;
    }
    delta_table *t = table_open_or_create(TABLE_SILVER, table, &e);
    if (!t) {
        fprintf(stderr, "silver_fixture: %s\n", e.msg);
        iot_sim_destroy(sim);
        return 1;
    }
    FILE *mf = manifest ? fopen(manifest, "a") : NULL;
    delta_batch *b = delta_batch_new(delta_snapshot_schema(delta_table_snapshot(t)));
    iot_arena *arena = iot_arena_new();
    iot_parse_opts po;
    iot_parse_opts_init(&po);
    po.future_tolerance_us = -1;
    st_htab seen = {0};
    st_buf man = {0};
    int rc = 0;
    long long produced = 0, stored = 0;
    /* events [from, from + events): skipped ones still update the duplicate filter */
    for (long long k = 0; k < versions && !rc; k++) {
        long long end = from + events * (k + 1) / versions;
        delta_batch_clear(b);
        st_buf_reset(&man);
        while (produced < end) {
            iot_sim_event ev;
            iot_sim_next(sim, &ev);
            long long idx = produced++;
            if (!ev.valid) continue;
            iot_event x;
            iot_arena_reset(arena);
            if (iot_event_parse(ev.value.ptr, ev.value.len, &po, arena, &x, NULL) != IOT_OK) continue;
            if (!seen_add(&seen, x.event_id.ptr, x.event_id.len)) continue; /* duplicate */
            if (idx < from) continue;
            if (ep_sensor && x.sensor_id.len == strlen(ep_sensor) && !memcmp(x.sensor_id.ptr, ep_sensor, x.sensor_id.len) &&
                x.event_time_us >= sc.start_time_us + (int64_t)(ep_from * 1e6) &&
                x.event_time_us < sc.start_time_us + (int64_t)(ep_to * 1e6))
                x.value = ep_value;
            table_append_event(b, &x);
            delta_batch_append_int(b, SILVER_SOURCE_PARTITION, 0);
            delta_batch_append_long(b, SILVER_SOURCE_OFFSET, idx);
            delta_batch_append_long(b, SILVER_INGEST_TIME, sc.start_time_us);
            st_buf_printf(&man, ",%.*s,%lld\n", (int)x.event_id.len, x.event_id.ptr, (long long)x.event_time_us);
            stored++;
        }
        delta_file_list adds = {0};
        int64_t ver = -1;
        if (delta_table_write_files(t, b, &adds, &e) == ST_OK) {
            delta_commit_params p = {.adds = adds.items, .nadds = adds.count, .operation = "WRITE"};
            if (delta_table_commit(t, &p, &ver, &e)) rc = 1;
        } else {
            rc = 1;
        }
        delta_file_list_free(&adds);
        if (rc) {
            fprintf(stderr, "silver_fixture: %s\n", e.msg);
            break;
        }
        if (mf) {
            /* prefix every manifest line with the version */
            const char *p = st_buf_cstr(&man);
            while (*p) {
                const char *nl = strchr(p, '\n');
                fprintf(mf, "%lld%.*s\n", (long long)ver, (int)(nl - p), p);
                p = nl + 1;
            }
            fflush(mf);
        }
        if (interval_ms > 0 && k + 1 < versions) {
            struct timespec ts = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (!rc) printf("silver_fixture: %lld rows, table %s at version %lld\n", stored, table,
                    (long long)delta_table_version(t));
    if (mf) fclose(mf);
    st_buf_free(&man);
    st_htab_free(&seen);
    free(ep_sensor);
    iot_arena_destroy(arena);
    delta_batch_destroy(b);
    delta_table_destroy(t);
    iot_sim_destroy(sim);
    return rc;
}
