/* cmd_simulate.c — `smarttech simulate`: the sensor simulator (src/iot/simulator.h)
 * sending to a sink (stdout JSON Lines, --files DIR, or Kafka with --brokers; see
 * simulate_sink.h), with an optional manifest and a run summary on stderr. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/simulate_sink.h"
#include "iot/simulator.h"
#include "util/buf.h"
#include "util/timeutil.h"

static volatile sig_atomic_t stop_flag;
static volatile int stop_int; /* mirror handed to sinks */

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
    stop_int = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: smarttech simulate [options]\n"
            "\n"
            "Simulated building sensors (temperature, humidity, co2) as JSON events (DESIGN.md event v1).\n"
            "\n"
            "layout:\n"
            "  --buildings N        buildings (default 2)\n"
            "  --floors N           floors per building (default 3)\n"
            "  --rooms N            rooms per floor (default 4); each room has 3 sensors\n"
            "  --sensors N          exactly N sensors, filling the layout building after building\n"
            "amount and pace:\n"
            "  --count N            stop after N events (default: no limit)\n"
            "  --duration D         stop after D of wall time (\"30s\", \"5m\", \"1h\")\n"
            "  --rate R             events per second of wall time; 0 = as fast as possible (default 0)\n"
            "  --sim-rate R         with --rate 0: simulated events per second, i.e. the event-time\n"
            "                       step (default 1000)\n"
            "  --start-time T       event time of the first event, ISO-8601 or \"now\". Default: with --rate > 0\n"
            "                       now; with --rate 0 midnight UTC of yesterday (minus whole days if the\n"
            "                       run would pass now), so that a run is byte-for-byte repeatable within\n"
            "                       a day and no regular event is in the future\n"
            "  --seed S             random seed (default 1); same options and seed -> same bytes\n"
            "  --future-after T     future_timestamp faults are 1-48 h after max(simulated time, T)\n"
            "                       (default: the simulated time, or tomorrow 00:00Z / now when the\n"
            "                       start time is defaulted); use it with a past --start-time so that\n"
            "                       those events stay in the future for a validator running now\n"
            "faults:\n"
            "  --faults F           fraction 0..1 of events carrying a fault: malformed_json, missing_field,\n"
            "                       wrong_type, impossible_value, fahrenheit (valid), duplicate (valid, same\n"
            "                       event_id), late (valid), out_of_order (valid), future_timestamp\n"
            "output (stdout JSON Lines unless --files or --brokers):\n"
            "  --files DIR          JSON Lines files DIR/events-NNNNNN.json, each written as\n"
            "                       DIR/.events-NNNNNN.json.tmp and renamed when complete\n"
            "  --events-per-file N  events per file (default 1000)\n"
            "  --no-fsync           do not fsync files before renaming them\n"
            "  --brokers LIST       Kafka bootstrap servers (Kafka sink)\n"
            "  --topic NAME         Kafka topic (default iot_smartech)\n"
            "  -X key=value         librdkafka property (repeatable)\n"
            "  --manifest FILE      CSV record of every event sent:\n"
            "                       event_id,sensor_id,valid,fault,reason,value,event_time_us,seq\n"
            "  --quiet              no progress lines (the summary is still printed)\n");
}

enum {
    OPT_BUILDINGS = 256, OPT_FLOORS, OPT_ROOMS, OPT_SENSORS, OPT_RATE, OPT_SIM_RATE, OPT_COUNT, OPT_DURATION,
    OPT_SEED, OPT_FAULTS, OPT_START, OPT_FILES, OPT_PER_FILE, OPT_NO_FSYNC, OPT_BROKERS, OPT_TOPIC, OPT_MANIFEST,
    OPT_QUIET, OPT_FUTURE_AFTER
};

static const struct option long_opts[] = {
    {"buildings", required_argument, 0, OPT_BUILDINGS},
    {"floors", required_argument, 0, OPT_FLOORS},
    {"rooms", required_argument, 0, OPT_ROOMS},
    {"sensors", required_argument, 0, OPT_SENSORS},
    {"rate", required_argument, 0, OPT_RATE},
    {"sim-rate", required_argument, 0, OPT_SIM_RATE},
    {"count", required_argument, 0, OPT_COUNT},
    {"duration", required_argument, 0, OPT_DURATION},
    {"seed", required_argument, 0, OPT_SEED},
    {"faults", required_argument, 0, OPT_FAULTS},
    {"start-time", required_argument, 0, OPT_START},
    {"files", required_argument, 0, OPT_FILES},
    {"events-per-file", required_argument, 0, OPT_PER_FILE},
    {"no-fsync", no_argument, 0, OPT_NO_FSYNC},
    {"brokers", required_argument, 0, OPT_BROKERS},
    {"topic", required_argument, 0, OPT_TOPIC},
    {"manifest", required_argument, 0, OPT_MANIFEST},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"future-after", required_argument, 0, OPT_FUTURE_AFTER},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* Strict number parsers for options: the whole text must be a number in range. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static void sleep_us(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* The run summary: counts per fault kind and what the sink did. */
static void print_summary(const iot_sim_counts *c, double secs, sim_sink *sink, const char *manifest, int stopped)
{
    fprintf(stderr, "simulate: %llu events (%llu valid, %llu invalid) in %.2f s (%.0f events/s)%s\n",
            (unsigned long long)c->events, (unsigned long long)c->valid, (unsigned long long)c->invalid, secs,
            secs > 0 ? (double)c->events / secs : 0.0, stopped ? ", stopped by signal" : "");
    fprintf(stderr, "simulate: faults:");
    for (int f = 1; f < IOT_FAULT_COUNT; f++)
        fprintf(stderr, " %s=%llu", iot_fault_str((iot_fault)f), (unsigned long long)c->by_fault[f]);
    fprintf(stderr, "\n");
    if (sink && sink->describe) {
        char d[512];
        sink->describe(sink, d, sizeof d);
        fprintf(stderr, "simulate: output: %s\n", d);
    }
    if (manifest) fprintf(stderr, "simulate: manifest: %s\n", manifest);
}

int cmd_simulate(int argc, char **argv)
{
    iot_sim_config cfg;
    iot_sim_config_init(&cfg);
    sim_sink_opts so = {.events_per_file = 1000, .fsync_files = 1, .topic = "iot_smartech", .stop = &stop_int};
    double rate = 0, sim_rate = 1000;
    uint64_t count = 0;
    int64_t future_after = 0;
    int64_t duration_us = 0;
    const char *start_text = NULL, *manifest_path = NULL;
    int quiet = 0, have_layout = 0;
    const char **props = st_xcalloc((size_t)argc + 1, sizeof *props);
    int nprops = 0, rc = 2, opt;
    long l;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "X:h", long_opts, NULL)) != -1) {
        const char *a = optarg;
        switch (opt) {
        case OPT_BUILDINGS:
            if (parse_long(a, 1, 999, &l)) goto bad_value;
            cfg.buildings = (int)l, have_layout = 1;
            break;
        case OPT_FLOORS:
            if (parse_long(a, 1, 99, &l)) goto bad_value;
            cfg.floors = (int)l;
            break;
        case OPT_ROOMS:
            if (parse_long(a, 1, 999, &l)) goto bad_value;
            cfg.rooms = (int)l;
            break;
        case OPT_SENSORS:
            if (parse_long(a, 1, 1000000, &l)) goto bad_value;
            cfg.sensors = (int)l;
            break;
        case OPT_RATE:
            if (parse_double(a, 0, 1e9, &rate)) goto bad_value;
            break;
        case OPT_SIM_RATE:
            if (parse_double(a, 1e-6, 1e9, &sim_rate) || sim_rate <= 0) goto bad_value;
            break;
        case OPT_COUNT:
            if (parse_u64(a, &count)) goto bad_value;
            break;
        case OPT_DURATION:
            if (st_parse_duration_us(a, &duration_us) || duration_us <= 0) goto bad_value;
            break;
        case OPT_SEED:
            if (parse_u64(a, &cfg.seed)) goto bad_value;
            break;
        case OPT_FAULTS:
            if (parse_double(a, 0, 1, &cfg.fault_rate)) goto bad_value;
            break;
        case OPT_START: start_text = a; break;
        case OPT_FILES: so.files_dir = a; break;
        case OPT_PER_FILE:
            if (parse_long(a, 1, 1000000000L, &so.events_per_file)) goto bad_value;
            break;
        case OPT_NO_FSYNC: so.fsync_files = 0; break;
        case OPT_BROKERS: so.brokers = a; break;
        case OPT_TOPIC: so.topic = a; break;
        case 'X': props[nprops++] = a; break;
        case OPT_MANIFEST: manifest_path = a; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_FUTURE_AFTER:
            if (st_parse_iso_us(a, strlen(a), &future_after)) goto bad_value;
            break;
        case 'h':
            usage(stdout);
            free(props);
            return 0;
        default:
            usage(stderr);
            free(props);
            return 2;
        bad_value:
            fprintf(stderr, "smarttech simulate: bad value '%s' for --%s\n", a,
                    long_opts[opt - OPT_BUILDINGS].name);
            free(props);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "smarttech simulate: unexpected argument '%s'\n", argv[optind]);
        free(props);
        return 2;
    }
    if (so.files_dir && so.brokers) {
        fprintf(stderr, "smarttech simulate: --files and --brokers cannot be used together\n");
        free(props);
        return 2;
    }
    (void)have_layout;
    so.props = props;
    so.nprops = nprops;

    /* Simulated clock: paced runs follow the wall clock; unpaced ones are repeatable. */
    int64_t wall = st_now_us();
    cfg.rate = rate > 0 ? rate : sim_rate;
    if (start_text && strcmp(start_text, "now") != 0) {
        if (st_parse_iso_us(start_text, strlen(start_text), &cfg.start_time_us)) {
            fprintf(stderr, "smarttech simulate: --start-time '%s' is not an ISO-8601 timestamp\n", start_text);
            free(props);
            return 2;
        }
    } else if (start_text || rate > 0) {
        cfg.start_time_us = wall;
        cfg.future_ref_us = wall;
    } else {
        int64_t day = 86400000000LL;
        int64_t today = wall / day * day;
        int64_t span = count ? (int64_t)((double)count * 1e6 / sim_rate) : 0;
        int64_t days_back = 1 + span / day;
        cfg.start_time_us = today - days_back * day;
        cfg.future_ref_us = today + day; /* tomorrow: future faults stay in the future today */
    }

    if (future_after) cfg.future_ref_us = future_after;

    st_err e;
    st_err_clear(&e);
    iot_sim *sim = NULL;
    sim_sink *sink = NULL;
    FILE *manifest = NULL;
    st_buf mbuf = {0};
    if (iot_sim_new(&cfg, &sim, &e)) {
        fprintf(stderr, "smarttech simulate: %s\n", e.msg);
        goto done;
    }
    rc = 1;
    st_code sc = so.brokers ? sink_kafka_open(&sink, &so, &e)
                 : so.files_dir ? sink_files_open(&sink, &so, &e)
                                : sink_stdout_open(&sink, &so, &e);
    if (sc) {
        fprintf(stderr, "smarttech simulate: %s\n", e.msg);
        goto done;
    }
    if (manifest_path) {
        manifest = fopen(manifest_path, "w");
        if (!manifest) {
            fprintf(stderr, "smarttech simulate: cannot create manifest %s: %s\n", manifest_path, strerror(errno));
            goto done;
        }
        iot_sim_manifest_header(&mbuf);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int64_t t0 = st_monotonic_us(), last_tick = t0, last_progress = t0;
    uint64_t n = 0;
    sc = ST_OK;
    while (!stop_flag && (!count || n < count)) {
        /* Pacing and time checks once per 256 events (and before each event when paced
         * slowly), so an unpaced run pays almost nothing for them. */
        if (rate > 0 || (n & 255) == 0) {
            int64_t now = st_monotonic_us();
            if (duration_us && now - t0 >= duration_us) break;
            if (rate > 0) {
                int64_t due_us = t0 + (int64_t)((double)n * 1e6 / rate);
                if (due_us > now + 1000) { /* up to 1 ms early is fine: fewer wake-ups */
                    int64_t wait = due_us - now;
                    if (sink->tick && (sc = sink->tick(sink, &e))) break;
                    sleep_us(wait > 100000 ? 100000 : wait);
                    continue;
                }
            }
            if (sink->tick && (now - last_tick >= 100000 || (n % 1000) == 0)) {
                if ((sc = sink->tick(sink, &e))) break;
                last_tick = now;
            }
            if (!quiet && now - last_progress >= 5000000) {
                iot_sim_counts c;
                iot_sim_stats(sim, &c);
                fprintf(stderr, "simulate: %llu events, %llu with faults, %.0f events/s\n",
                        (unsigned long long)c.events, (unsigned long long)(c.events - c.by_fault[0]),
                        (double)c.events * 1e6 / (double)(now - t0));
                last_progress = now;
            }
        }
        iot_sim_event ev;
        iot_sim_next(sim, &ev);
        if ((sc = sink->write(sink, &ev, &e))) break;
        if (manifest) {
            iot_sim_manifest_line(&ev, &mbuf);
            if (mbuf.len >= 65536) {
                fwrite(mbuf.data, 1, mbuf.len, manifest);
                st_buf_reset(&mbuf);
            }
        }
        n++;
    }
    st_err ce;
    st_err_clear(&ce);
    st_code cc = sc ? ST_OK : sink->close(sink, &ce);
    double secs = (double)(st_monotonic_us() - t0) / 1e6;
    iot_sim_counts counts;
    iot_sim_stats(sim, &counts);
    if (sc == ST_ERR_INTERRUPTED || cc == ST_ERR_INTERRUPTED) sc = cc = ST_OK; /* reader went away */
    if (sc) fprintf(stderr, "smarttech simulate: %s output: %s\n", sink->name, e.msg);
    if (cc) fprintf(stderr, "smarttech simulate: closing %s output: %s\n", sink->name, ce.msg);
    if (manifest) {
        fwrite(mbuf.data, 1, mbuf.len, manifest);
        if (fclose(manifest)) {
            fprintf(stderr, "smarttech simulate: cannot write manifest %s: %s\n", manifest_path, strerror(errno));
            cc = ST_ERR_IO;
        }
        manifest = NULL;
    }
    print_summary(&counts, secs, sink, manifest_path, stop_flag != 0);
    rc = (sc || cc) ? 1 : 0;

done:
    if (sink) sink->destroy(sink);
    if (manifest) fclose(manifest);
    st_buf_free(&mbuf);
    iot_sim_destroy(sim);
    free(props);
    return rc;
}
