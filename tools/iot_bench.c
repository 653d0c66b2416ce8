/* iot_bench.c — throughput of the event path on one core:
 *   1. the simulator (events generated per second, in memory);
 *   2. iot_event_parse (parse + validate + normalize) over those events;
 *   3. jansson's json_loadb over the same bytes (DOM only, no validation), the
 *      baseline the hand-written scanner is measured against.
 * usage: iot_bench [events (default 500000)] [fault rate (default 0.05)]
 * Prints one line per measurement; nothing is asserted (figures go in notes). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot/event.h"
#include "sim/simulator.h"
#include "util/timeutil.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 500000;
    double faults = argc > 2 ? atof(argv[2]) : 0.05;
    if (n < 1) n = 1;

    iot_sim_config c;
    iot_sim_config_init(&c);
    c.seed = 42;
    c.fault_rate = faults;
    iot_sim *sim;
    st_err e;
    if (iot_sim_new(&c, &sim, &e)) {
        fprintf(stderr, "iot_bench: %s\n", e.msg);
        return 1;
    }
    /* All events back to back in one buffer, offsets alongside. */
    st_buf all = {0};
    size_t *off = malloc(((size_t)n + 1) * sizeof *off);
    int64_t t0 = st_monotonic_us();
    for (long i = 0; i < n; i++) {
        iot_sim_event ev;
        iot_sim_next(sim, &ev);
        off[i] = all.len;
        st_buf_append(&all, ev.value.ptr, ev.value.len);
    }
    off[n] = all.len;
    int64_t t1 = st_monotonic_us();
    int64_t sim_end = iot_sim_clock_us(sim);
    iot_sim_destroy(sim);
    printf("simulator:        %10.0f events/s (%ld events, %.1f bytes/event)\n", (double)n * 1e6 / (double)(t1 - t0), n,
           (double)all.len / (double)n);

    iot_parse_opts o;
    iot_parse_opts_init(&o);
    o.now_us = sim_end;
    iot_arena *arena = iot_arena_new();
    long ok = 0;
    t0 = st_monotonic_us();
    for (long i = 0; i < n; i++) {
        iot_event ev;
        iot_result res;
        if (iot_event_parse((const char *)all.data + off[i], off[i + 1] - off[i], &o, arena, &ev, &res) == IOT_OK) ok++;
        if ((i & 1023) == 0) iot_arena_reset(arena);
    }
    t1 = st_monotonic_us();
    double secs = (double)(t1 - t0) / 1e6;
    printf("iot_event_parse:  %10.0f events/s (%.0f MB/s, %ld ok, %ld rejected)\n", (double)n / secs,
           (double)all.len / secs / 1e6, ok, n - ok);

    long jok = 0;
    t0 = st_monotonic_us();
    for (long i = 0; i < n; i++) {
        json_error_t je;
        json_t *j = json_loadb((const char *)all.data + off[i], off[i + 1] - off[i], 0, &je);
        if (j) {
            jok++;
            json_decref(j);
        }
    }
    t1 = st_monotonic_us();
    secs = (double)(t1 - t0) / 1e6;
    printf("jansson loadb:    %10.0f events/s (%.0f MB/s, %ld parsed; no validation)\n", (double)n / secs,
           (double)all.len / secs / 1e6, jok);

    iot_arena_destroy(arena);
    free(off);
    st_buf_free(&all);
    return 0;
}
