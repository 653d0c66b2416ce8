/* cmd_simulate.c — `smarttech simulate`: the sensor simulator (src/sim/simulator.h)
 * sending to a sink (stdout JSON Lines, --files DIR, Kafka with --brokers, MQTT with --mqtt; see
 * simulate_sink.h), with an optional manifest and a run summary on stderr. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "sim/simulate_sink.h"
#include "sim/simulator.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* Writes b to f once it holds 64 KiB (f may be NULL: nothing kept). */
static void spill(FILE *f, st_buf *b)
{
    if (b->len < 65536) return;
    if (f) fwrite(b->data, 1, b->len, f);
    st_buf_reset(b);
}

/* Writes the rest of b and closes *f (NULL afterwards); 1 with a message when that failed. */
static int close_record(FILE **f, st_buf *b, const char *what, const char *path)
{
    if (!*f) return 0;
    fwrite(b->data, 1, b->len, *f);
    int bad = fclose(*f) != 0;
    *f = NULL;
    if (bad) fprintf(stderr, "smarttech simulate: cannot write %s %s: %s\n", what, path, strerror(errno));
    return bad;
}

/* Moves the episodes the simulator finished to the episodes file's buffer (flushed in 64 KiB
 * blocks) and counts them per kind; f may be NULL (not recorded). */
static void take_episodes(iot_sim *sim, FILE *f, st_buf *b, uint64_t *by_kind)
{
    iot_sim_episode ep;
    while (iot_sim_take_episode(sim, &ep)) {
        by_kind[ep.kind]++;
        if (!f) continue;
        iot_sim_episode_line(&ep, b);
        spill(f, b);
    }
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

/* --start-time: "now" or an ISO-8601 time, kept as text (read once the clock is known). */
static st_code parse_start(const char *arg, void *target, st_err *e)
{
    int64_t us;
    if (strcmp(arg, "now") && st_parse_iso_us(arg, strlen(arg), &us))
        return st_err_set(e, ST_ERR_ARG, "'%s' is not an ISO-8601 time or \"now\"", arg);
    *(const char **)target = arg;
    return ST_OK;
}

int cmd_simulate(int argc, char **argv)
{
    iot_sim_config cfg;
    iot_sim_config_init(&cfg);
    sim_sink_opts so;
    sim_sink_opts_init(&so);
    kafka_props *props = kafka_props_new();
    double rate = 0, sim_rate = cfg.rate;
    uint64_t count = 0;
    int64_t future_after = 0, duration_us = 0;
    const char *start_text = NULL, *manifest_path = NULL, *metrics_listen = NULL;
    int quiet = 0;
    const cli_opt opts[] = {
        CLI_HEADING("layout"),
        CLI_OPT("buildings", 0, CLI_INT, &cfg.buildings, NULL, "buildings", .min = 1, .max = 999),
        CLI_OPT("floors", 0, CLI_INT, &cfg.floors, NULL, "floors per building", .min = 1, .max = 99),
        CLI_OPT("rooms", 0, CLI_INT, &cfg.rooms, NULL, "rooms per floor; each room has one sensor per kind", .min = 1,
                .max = 999),
        CLI_OPT("kinds", 0, CLI_STRING, &cfg.kinds, "LIST",
                "the sensor kinds of each room, comma-separated, from temperature,\n"
                "humidity, co2, pressure",
                .shown = SIM_DEFAULT_KINDS),
        CLI_OPT("per-room", 0, CLI_INT, &cfg.per_room, NULL, "sensors of each kind per room (ids end in -1..-N)", .min = 1,
                .max = 16),
        CLI_OPT("sensors", 0, CLI_INT, &cfg.sensors, NULL, "exactly N sensors, filling the layout building after building",
                .min = 1, .max = 1000000, .shown = "the whole layout"),
        CLI_HEADING("amount and pace"),
        CLI_OPT("count", 0, CLI_U64, &count, NULL, "stop after N events", .zero = "no limit"),
        CLI_OPT("duration", 0, CLI_DURATION, &duration_us, NULL, "stop after this much wall time (30s, 5m, 1h)",
                .min = 1, .max = INT64_MAX, .shown = "no limit"),
        CLI_OPT("rate", 0, CLI_DOUBLE, &rate, "R", "events per second of wall time", .fmin = 0, .fmax = 1e9,
                .zero = "as fast as possible"),
        CLI_OPT("sim-rate", 0, CLI_DOUBLE, &sim_rate, "R",
                "with --rate 0: simulated events per second, i.e. the event-time step", .fmin = 1e-6, .fmax = 1e9),
        CLI_OPT("start-time", 0, CLI_CUSTOM, &start_text, "TIME|now",
                "event time of the first event, ISO-8601 or \"now\". Default: with --rate > 0 now; with\n"
                "--rate 0 midnight UTC of yesterday (minus whole days if the run would pass now), so that\n"
                "a run is byte-for-byte repeatable within a day and no regular event is in the future",
                .parse = parse_start, .shown = ""),
        CLI_OPT("seed", 0, CLI_U64, &cfg.seed, NULL, "random seed; same options and seed -> same bytes"),
        CLI_OPT("future-after", 0, CLI_TIME, &future_after, NULL,
                "future_timestamp faults are 1-48 h after max(simulated time, TIME); use it with a past\n"
                "--start-time so that those events stay in the future for a validator running now",
                .shown = "the simulated time, or tomorrow 00:00Z / now when the start time is defaulted"),
        CLI_HEADING("faults"),
        CLI_OPT("faults", 0, CLI_DOUBLE, &cfg.fault_rate, "F",
                "fraction 0..1 of events carrying a fault: malformed_json, missing_field, wrong_type,\n"
                "impossible_value, fahrenheit (valid), duplicate (valid, same event_id), late (valid),\n"
                "out_of_order (valid), future_timestamp, kpa (pressure in kPa, valid)",
                .fmin = 0, .fmax = 1),
        CLI_OPT("anomalies", 0, CLI_DOUBLE, &cfg.anomaly_rate, "R",
                "inject R anomaly episodes per sensor per simulated hour into valid readings: stuck\n"
                "(one value repeated 5-20 min), drift (an offset growing over 20-40 min, then gone),\n"
                "spike (1-3 readings 12-25 noise sigmas off) or silent (nothing sent for 3-15 min);\n"
                "from the 20th simulated minute on, 15 min apart per sensor, each over by the end of a\n"
                "--count run. With --manifest the episodes are recorded in\n"
                "<manifest without .csv>.episodes.csv",
                .fmin = 0, .fmax = 60, .zero = "none"),
        CLI_HEADING("output (stdout JSON Lines unless --files, --brokers or --mqtt)"),
        CLI_OPT("files", 0, CLI_STRING, &so.files_dir, "DIR",
                "JSON Lines files DIR/events-NNNNNN.json, each written as DIR/.events-NNNNNN.json.tmp\n"
                "and renamed when complete"),
        CLI_OPT("events-per-file", 0, CLI_INT64, &so.events_per_file, NULL, "events per file", .min = 1,
                .max = 1000000000),
        CLI_OPT("no-fsync", 0, CLI_UNFLAG, &so.fsync_files, NULL, "do not fsync files before renaming them"),
        CLI_OPT("brokers", 0, CLI_STRING, &so.brokers, "LIST", "Kafka bootstrap servers (Kafka output)"),
        CLI_OPT("topic", 0, CLI_STRING, &so.topic, "NAME", "Kafka topic"),
        CLI_OPT(NULL, 'X', CLI_KAFKA_PROP, props, NULL, "librdkafka property (repeatable)"),
        CLI_OPT("mqtt", 0, CLI_STRING, &so.mqtt, "URL",
                "MQTT broker, mqtt://[user[:password]@]host[:port] or mqtts://...: each event on\n"
                "smarttech/<building>/<floor>/<room>/<sensor_id>"),
        CLI_OPT("qos", 0, CLI_INT, &so.mqtt_qos, "0|1", "MQTT QoS (1: acknowledged, resent after a broker restart)",
                .min = 0, .max = 1),
        CLI_OPT("mqtt-cafile", 0, CLI_STRING, &so.mqtt_cafile, "FILE", "CA to verify an mqtts:// broker",
                .shown = "the system's"),
        CLI_OPT("mqtt-cert", 0, CLI_STRING, &so.mqtt_cert, "FILE", "client certificate, with --mqtt-key"),
        CLI_OPT("mqtt-key", 0, CLI_STRING, &so.mqtt_key, "FILE", "private key of --mqtt-cert"),
        CLI_OPT("manifest", 0, CLI_STRING, &manifest_path, "FILE",
                "CSV record of every event sent:\nevent_id,sensor_id,valid,fault,reason,value,event_time_us,seq\n"
                "(with --anomalies, a last column `anomaly` names the one injected)"),
        CLI_OPT("quiet", 0, CLI_FLAG, &quiet, NULL, "no progress lines (the summary is still printed)"),
        CLI_OPT("metrics", 0, CLI_STRING, &metrics_listen, "HOST:PORT",
                "serve /metrics (Prometheus), /healthz, /readyz while it runs", .shown = "none"),
        {0}};
    const cli_cmd cmd = {"simulate", NULL, 0, 0,
                         "Simulated building sensors (temperature, humidity, co2; pressure on request) as JSON\n"
                         "events (event v1: README.md, \"Data contract\"). A run is one boot of every sensor: seq\n"
                         "restarts at 1 and event_id is <sensor_id>:<boot>:<seq>, the boot id (16 hex digits)\n"
                         "derived from the seed and the start time, so ids do not repeat across runs that differ\n"
                         "in either.",
                         opts, NULL, 0};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (rc >= 0) {
        kafka_props_destroy(props);
        return rc;
    }
    rc = 2;
    if ((so.files_dir != NULL) + (so.brokers != NULL) + (so.mqtt != NULL) > 1) {
        kafka_props_destroy(props);
        return cli_usage_error(&cmd, "choose one output: --files, --brokers or --mqtt");
    }
    so.props = props;
    so.stop = &cli_stop;

    /* Simulated clock: paced runs follow the wall clock; unpaced ones are repeatable. */
    int64_t wall = st_now_us();
    cfg.rate = rate > 0 ? rate : sim_rate;
    if (start_text && strcmp(start_text, "now") != 0) {
        st_parse_iso_us(start_text, strlen(start_text), &cfg.start_time_us); /* checked by parse_start */
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
    /* a --count run knows its end: every injected episode is over 10 simulated minutes before
       it (so the detector can see it end); otherwise iot_sim_end cuts the ones going on */
    if (count && cfg.anomaly_rate > 0)
        cfg.anomaly_until_us = cfg.start_time_us + (int64_t)((double)count * 1e6 / cfg.rate) - 600LL * 1000000;

    st_err e;
    st_err_clear(&e);
    iot_sim *sim = NULL;
    sim_sink *sink = NULL;
    FILE *manifest = NULL, *episodes = NULL;
    char *episodes_path = NULL;
    st_buf mbuf = {0}, ebuf = {0};
    uint64_t by_anomaly[IOT_SIM_ANOMALY_COUNT] = {0};
    /* --metrics: what was sent, counted every 256 events (the loop's own checkpoint) */
    job_stats *js = job_stats_new("simulate");
    metrics_endpoint *ep = NULL;
    metric *m_sent = metric_family_only(metrics_family(job_stats_metrics(js), METRIC_COUNTER,
                                                       "smarttech_simulate_events_total",
                                                       "Events handed to the output (Kafka, files, stdout).", NULL, 0,
                                                       NULL));
    uint64_t counted = 0;
    if (cli_metrics_start("simulate", metrics_listen, js, &ep)) goto done;
    if (iot_sim_new(&cfg, &sim, &e)) {
        fprintf(stderr, "smarttech simulate: %s\n", e.msg);
        goto done;
    }
    rc = 1;
    st_code sc = so.mqtt      ? sink_mqtt_open(&sink, &so, &e)
                 : so.brokers ? sink_kafka_open(&sink, &so, &e)
                 : so.files_dir ? sink_files_open(&sink, &so, &e)
                                : sink_stdout_open(&sink, &so, &e);
    if (sc) {
        fprintf(stderr, "smarttech simulate: %s\n", e.msg);
        goto done;
    }
    job_stats_set_ready(js, 1, NULL);
    if (manifest_path) {
        manifest = fopen(manifest_path, "w");
        if (!manifest) {
            fprintf(stderr, "smarttech simulate: cannot create manifest %s: %s\n", manifest_path, strerror(errno));
            goto done;
        }
        iot_sim_manifest_header(sim, &mbuf);
        if (cfg.anomaly_rate > 0) {
            size_t ml = strlen(manifest_path);
            st_buf p = {0};
            st_buf_append(&p, manifest_path, ml > 4 && !strcmp(manifest_path + ml - 4, ".csv") ? ml - 4 : ml);
            st_buf_append_str(&p, ".episodes.csv");
            episodes_path = (char *)st_buf_detach(&p, NULL);
            episodes = fopen(episodes_path, "w");
            if (!episodes) {
                fprintf(stderr, "smarttech simulate: cannot create %s: %s\n", episodes_path, strerror(errno));
                goto done;
            }
            iot_sim_episodes_header(&ebuf);
        }
    }

    cli_install_stop_handlers();
    signal(SIGPIPE, SIG_IGN);

    int64_t t0 = st_monotonic_us(), last_tick = t0, last_progress = t0;
    uint64_t n = 0;
    sc = ST_OK;
    while (!cli_stop && (!count || n < count)) {
        /* Pacing and time checks once per 256 events (and before each event when paced
         * slowly), so an unpaced run pays almost nothing for them. */
        if (rate > 0 || (n & 255) == 0) {
            int64_t now = st_monotonic_us();
            metric_add(m_sent, (double)(n - counted));
            counted = n;
            if (duration_us && now - t0 >= duration_us) break;
            if (rate > 0) {
                int64_t due_us = t0 + (int64_t)((double)n * 1e6 / rate);
                if (due_us > now + 1000) { /* up to 1 ms early is fine: fewer wake-ups */
                    int64_t wait = due_us - now;
                    if (sink->tick && (sc = sink->tick(sink, &e))) break;
                    st_sleep_us(wait > 100000 ? 100000 : wait);
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
            iot_sim_manifest_line(sim, &ev, &mbuf);
            spill(manifest, &mbuf);
        }
        take_episodes(sim, episodes, &ebuf, by_anomaly);
        n++;
    }
    metric_add(m_sent, (double)(n - counted));
    iot_sim_end(sim);
    take_episodes(sim, episodes, &ebuf, by_anomaly);
    st_err ce;
    st_err_clear(&ce);
    st_code cc = sc ? ST_OK : sink->close(sink, &ce);
    double secs = (double)(st_monotonic_us() - t0) / 1e6;
    iot_sim_counts counts;
    iot_sim_stats(sim, &counts);
    if (sc == ST_ERR_INTERRUPTED || cc == ST_ERR_INTERRUPTED) sc = cc = ST_OK; /* reader went away */
    if (sc) fprintf(stderr, "smarttech simulate: %s output: %s\n", sink->name, e.msg);
    if (cc) fprintf(stderr, "smarttech simulate: closing %s output: %s\n", sink->name, ce.msg);
    if (close_record(&manifest, &mbuf, "manifest", manifest_path)) cc = ST_ERR_IO;
    if (close_record(&episodes, &ebuf, "episodes", episodes_path)) cc = ST_ERR_IO;
    print_summary(&counts, secs, sink, manifest_path, cli_stop != 0);
    if (cfg.anomaly_rate > 0) {
        fprintf(stderr, "simulate: anomaly episodes:");
        for (int k = 1; k < IOT_SIM_ANOMALY_COUNT; k++)
            fprintf(stderr, " %s=%llu", iot_sim_anomaly_str((iot_sim_anomaly)k), (unsigned long long)by_anomaly[k]);
        fprintf(stderr, "%s%s\n", episodes_path ? ", recorded in " : " (not recorded: no --manifest)",
                episodes_path ? episodes_path : "");
    }
    rc = (sc || cc) ? 1 : 0;

done:
    metrics_endpoint_stop(ep);
    job_stats_destroy(js);
    if (sink) sink->destroy(sink);
    if (manifest) fclose(manifest);
    if (episodes) fclose(episodes);
    free(episodes_path);
    st_buf_free(&mbuf);
    st_buf_free(&ebuf);
    iot_sim_destroy(sim);
    kafka_props_destroy(props);
    return rc;
}
