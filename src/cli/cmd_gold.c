/* cmd_gold.c — `smarttech gold`: Silver -> Gold windows, alerts, late quarantine (job/gold_job.h). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/cli_maint.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "job/gold_job.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static int quiet;

/* --anomaly NAME=VALUE into the anomaly_params target. */
static st_code parse_anomaly(const char *arg, void *target, st_err *e)
{
    return anomaly_params_set(target, arg, e);
}

static void fmt_time(int64_t us, char *out, size_t n)
{
    if (us == INT64_MIN)
        snprintf(out, n, "-");
    else
        st_format_iso_us(us, out, n, 1);
}

static void progress(const gold_stats *s, const char *event, void *opaque)
{
    (void)opaque;
    if (!strcmp(event, "warning")) {
        fprintf(stderr, "gold: warning: %s\n", s->warning);
        return;
    }
    if (!strcmp(event, "recovered")) {
        fprintf(stderr, "gold: output tables were left between two commits; redoing batch up to Silver version %" PRId64
                        " for the tables that lack it\n",
                s->silver_version);
        return;
    }
    if (quiet || strcmp(event, "batch")) return;
    char wm[48], an[160] = "";
    if (s->versions[3] >= 0 || s->anomaly_sensors)
        snprintf(an, sizeof an,
                 " | anomalies %" PRIu64 " opened=%" PRIu64 " closed=%" PRIu64 " (open %" PRIu64 "), %" PRIu64
                 " sensors, %" PRIu64 " B/sensor",
                 s->last_batch_anomalies, s->anomalies_opened, s->anomalies_closed, s->anomalies_open,
                 s->anomaly_sensors, s->anomaly_sensors ? s->anomaly_bytes / s->anomaly_sensors : 0);
    fmt_time(s->watermark_us, wm, sizeof wm);
    fprintf(stderr,
            "gold: batch %" PRIu64 ": silver v%" PRId64 "/%" PRId64 "%s rows=%" PRIu64 " late=%" PRIu64
            " windows=%" PRIu64 " alerts=%" PRIu64 " %.0fms | totals rows=%" PRIu64 " late=%" PRIu64
            " windows=%" PRIu64 " (open %" PRIu64 ") alerts opened=%" PRIu64 " closed=%" PRIu64 " (open %" PRIu64
            ")%s | watermark %s | versions gold=%" PRId64 " alerts=%" PRId64 " quarantine=%" PRId64 "\n",
            s->batches, s->silver_version, s->silver_latest, s->flushed ? " flushed" : "", s->last_batch_rows,
            s->last_batch_late, s->last_batch_windows, s->last_batch_alerts, s->last_batch_us / 1000.0, s->rows_in,
            s->rows_late, s->windows_emitted, s->windows_open, s->alerts_opened, s->alerts_closed, s->alerts_open, an,
            wm, s->versions[0], s->versions[1], s->versions[2]);
}

static void write_summary(const char *path, const gold_stats *s, int rc)
{
    st_buf b = {0};
    st_buf_printf(&b,
                  "{\"exit\":%d,\"silver_version\":%" PRId64 ",\"flushed\":%s,\"batches\":%" PRIu64
                  ",\"rows_in\":%" PRIu64 ",\"rows_late\":%" PRIu64 ",\"windows_emitted\":%" PRIu64
                  ",\"windows_open\":%" PRIu64 ",\"alerts_opened\":%" PRIu64 ",\"alerts_closed\":%" PRIu64
                  ",\"alerts_open\":%" PRIu64 ",\"recovered\":%s,\"kafka\":{\"produced\":%" PRIu64
                  ",\"delivered\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"pending\":%" PRIu64
                  "},\"anomalies\":{\"opened\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"open\":%" PRIu64
                  ",\"sensors\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"bytes_per_sensor\":%" PRIu64
                  "},\"versions\":{\"gold\":%" PRId64 ",\"alerts\":%" PRId64 ",\"quarantine\":%" PRId64
                  ",\"anomalies\":%" PRId64 "}}\n",
                  rc, s->silver_version, s->flushed ? "true" : "false", s->batches, s->rows_in, s->rows_late,
                  s->windows_emitted, s->windows_open, s->alerts_opened, s->alerts_closed, s->alerts_open,
                  s->recovered ? "true" : "false", s->kafka_produced, s->kafka_delivered, s->kafka_failed,
                  s->kafka_pending, s->anomalies_opened, s->anomalies_closed, s->anomalies_open, s->anomaly_sensors,
                  s->anomaly_bytes, s->anomaly_sensors ? s->anomaly_bytes / s->anomaly_sensors : 0, s->versions[0],
                  s->versions[1], s->versions[2], s->versions[3]);
    st_err e;
    if (st_write_file_atomic(path, b.data, b.len, &e)) fprintf(stderr, "gold: %s\n", e.msg);
    st_buf_free(&b);
}

int cmd_gold(int argc, char **argv)
{
    gold_config c;
    gold_config_init(&c);
    kafka_props *props = kafka_props_new();
    const char *summary = NULL, *metrics_listen = NULL;
    metrics_endpoint *ep = NULL;
    int64_t linger_us = 0;
    job_stats *js = job_stats_new("gold");
    cli_maint mo;
    cli_maint_init(&mo, "gold");
    anomaly_params ap;
    anomaly_params_init(&ap);
    c.anomaly_params = &ap;
    st_err e;
    const cli_opt opts[] = {
        CLI_OPT("silver", 0, CLI_STRING, &c.silver_path, "PATH", "Silver table to follow"),
        CLI_OPT("output", 0, CLI_STRING, &c.gold_path, "PATH", "Gold window table"),
        CLI_OPT("alerts", 0, CLI_STRING, &c.alerts_path, "PATH", "alerts table"),
        CLI_OPT("quarantine", 0, CLI_STRING, &c.quarantine_path, "PATH", "where late events go"),
        CLI_OPT("anomalies", 0, CLI_STRING, &c.anomalies_path, "PATH",
                "anomalies per sensor: stuck, drift, spike, silent; they also open and\n"
                "close alerts with rule anomaly:<kind>"),
        CLI_OPT("no-anomalies", 0, CLI_UNFLAG, &c.anomalies, NULL, "no anomaly detection"),
        CLI_OPT("anomaly", 0, CLI_CUSTOM, &ap, "NAME=VALUE",
                "an anomaly parameter (repeatable; names and defaults: docs/gold.md)", .parse = parse_anomaly),
        CLI_OPT("checkpoint", 0, CLI_STRING, &c.checkpoint, "DIR", "window/alert state"),
        CLI_OPT("window", 0, CLI_DURATION, &c.window_us, NULL, "tumbling window width", .min = 1, .max = INT64_MAX),
        CLI_OPT("lateness", 0, CLI_DURATION, &c.lateness_us, NULL,
                "allowed lateness: watermark = max event time - lateness"),
        CLI_OPT("rules", 0, CLI_STRING, &c.rules_path, "FILE", "alert rules",
                .shown = "built-in, as in config/alerts.conf"),
        CLI_OPT("brokers", 0, CLI_STRING, &c.brokers, "LIST", "also send alerts to Kafka", .shown = "Delta only"),
        CLI_OPT("alerts-topic", 0, CLI_STRING, &c.alerts_topic, "NAME", "Kafka topic for alerts"),
        CLI_OPT("trigger", 0, CLI_DURATION, &c.trigger_us, NULL, "how often to look for new Silver versions"),
        CLI_OPT("max-versions", 0, CLI_INT, &c.max_versions, NULL, "Silver versions per micro-batch", .min = 1,
                .max = 1000000),
        CLI_OPT("from-version", 0, CLI_INT64, &c.start_version, NULL, "first Silver version on a fresh start", .min = 0,
                .max = INT64_MAX),
        CLI_OPT("once", 0, CLI_FLAG, &c.once, NULL, "process the Silver versions present now, then stop"),
        CLI_OPT("flush", 0, CLI_FLAG, &c.flush, NULL, "with --once: end of input = watermark +inf, emit every open window"),
        CLI_OPT("summary-json", 0, CLI_STRING, &summary, "FILE", "write the final counters as JSON"),
        CLI_OPT("quiet", 0, CLI_FLAG, &quiet, NULL, "no per-batch progress lines"),
        CLI_METRICS_OPTS(&metrics_listen, &linger_us),
        CLI_OPT(NULL, 'X', CLI_KAFKA_PROP, props, NULL, "librdkafka property for the alert producer (repeatable)"),
        CLI_MAINT_OPTS(&mo),
        {0}};
    const cli_cmd cmd = {"gold", NULL, 0, 0,
                         "Follows the Silver table as a stream: tumbling-window aggregates per room and sensor type,\n"
                         "threshold alerts, per-sensor anomalies, late events to quarantine; exactly once across\n"
                         "restarts.",
                         opts, NULL, .store = 1};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (rc >= 0) goto out;
    if (c.flush && !c.once) {
        rc = cli_usage_error(&cmd, "--flush needs --once (it treats the end of the input as final)");
        goto out;
    }
    mo.quiet = quiet;
    if ((rc = cli_maint_finish(&mo, &cmd))) goto out;
    c.maintenance = cli_maint_config(&mo, js);
    c.props = props;
    c.metrics = js;
    if ((rc = cli_metrics_start("gold", metrics_listen, js, &ep))) goto out;
    cli_install_stop_handlers();
    fprintf(stderr, "gold: %s -> %s, %s, %s (late), %s%s, checkpoint %s; window %llds, lateness %llds, rules %s%s%s\n",
            c.silver_path, c.gold_path, c.alerts_path, c.quarantine_path, c.anomalies ? c.anomalies_path : "",
            c.anomalies ? " (anomalies)" : "no anomaly detection", c.checkpoint,
            (long long)(c.window_us / 1000000), (long long)(c.lateness_us / 1000000),
            c.rules_path ? c.rules_path : "built-in", c.brokers ? ", alerts also to Kafka " : "",
            c.brokers ? c.alerts_topic : "");
    gold_stats st;
    st_err_clear(&e);
    st_code src = gold_job_run(&c, &cli_stop, progress, NULL, &st, &e);
    rc = src ? 1 : 0;
    if (src) fprintf(stderr, "smarttech gold: %s\n", e.msg);
    fprintf(stderr,
            "gold: done: Silver up to v%" PRId64 "%s, %" PRIu64 " batches, %" PRIu64 " rows, %" PRIu64
            " late (quarantined), %" PRIu64 " windows written, %" PRIu64 " still open, alerts opened %" PRIu64
            " closed %" PRIu64 ", anomalies opened %" PRIu64 " closed %" PRIu64 " (%" PRIu64 " sensors, %" PRIu64
            " bytes each)%s\n",
            st.silver_version, st.flushed ? " (flushed)" : "", st.batches, st.rows_in, st.rows_late,
            st.windows_emitted, st.windows_open, st.alerts_opened, st.alerts_closed, st.anomalies_opened,
            st.anomalies_closed, st.anomaly_sensors, st.anomaly_sensors ? st.anomaly_bytes / st.anomaly_sensors : 0,
            st.kafka_pending ? " (some Kafka alerts not yet delivered: sent again on the next start)" : "");
    if (summary) write_summary(summary, &st, rc);
out:
    cli_metrics_stop(ep, linger_us);
    job_stats_destroy(js);
    kafka_props_destroy(props);
    return rc;
}
