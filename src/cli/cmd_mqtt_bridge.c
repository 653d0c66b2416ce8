/* cmd_mqtt_bridge.c — `smarttech mqtt-bridge`: MQTT -> Kafka with no loss (job/mqtt_bridge.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "job/mqtt_bridge.h"
#include "util/buf.h"
#include "util/timeutil.h"

static int quiet;

/* --metrics: the bridge's counters as smarttech_mqtt_* series, brought up to date from its stats
 * at every progress call (about once a second). */
enum { BM_RECEIVED, BM_FORWARDED, BM_REJECTED, BM_ACKED, BM_FAILED, BM_N };
typedef struct bridge_metrics {
    job_stats *js;
    metric *m[BM_N], *in_flight, *connected;
    uint64_t seen[BM_N];
} bridge_metrics;

static void metrics_setup(bridge_metrics *bm, job_stats *js)
{
    static const char *const names[BM_N][2] = {
        {"smarttech_mqtt_messages_received_total", "MQTT messages handed over by the client (redeliveries too)."},
        {"smarttech_mqtt_messages_forwarded_total", "Messages Kafka confirmed."},
        {"smarttech_mqtt_messages_rejected_total", "Messages forwarded with a reject header."},
        {"smarttech_mqtt_messages_acknowledged_total", "PUBACKs sent (QoS 1)."},
        {"smarttech_mqtt_kafka_failures_total", "Kafka deliveries that failed (sent again)."}};
    metrics *reg = job_stats_metrics(js);
    bm->js = js;
    for (int i = 0; i < BM_N; i++)
        bm->m[i] = metric_family_only(metrics_family(reg, METRIC_COUNTER, names[i][0], names[i][1], NULL, 0, NULL));
    bm->in_flight = metric_family_only(metrics_family(reg, METRIC_GAUGE, "smarttech_mqtt_in_flight",
                                                      "Messages read, not yet confirmed by Kafka.", NULL, 0, NULL));
    bm->connected = metric_family_only(metrics_family(reg, METRIC_GAUGE, "smarttech_mqtt_connected",
                                                      "1 while connected to the MQTT broker.", NULL, 0, NULL));
}

static void metrics_update(bridge_metrics *bm, const mqtt_bridge_stats *s)
{
    const uint64_t now[BM_N] = {s->received, s->forwarded, s->rejected, s->acknowledged, s->failed};
    for (int i = 0; i < BM_N; i++) {
        if (now[i] > bm->seen[i]) metric_add(bm->m[i], (double)(now[i] - bm->seen[i]));
        bm->seen[i] = now[i];
    }
    metric_set(bm->in_flight, (double)s->in_flight);
    metric_set(bm->connected, s->mqtt_connected ? 1 : 0);
    char why[600];
    snprintf(why, sizeof why, "%s%s%s", s->mqtt_connected ? "" : "not connected to the MQTT broker",
             !s->mqtt_connected && s->kafka_down ? "; " : "", s->kafka_down ? "Kafka unreachable" : "");
    job_stats_set_ready(bm->js, s->mqtt_connected && !s->kafka_down, why);
}

static void progress(const mqtt_bridge_stats *s, const char *event, void *opaque)
{
    static uint64_t last_received;
    static int64_t last_us;
    bridge_metrics *bm = opaque;
    if (bm) {
        job_stats_add(bm->js, JOB_EVENTS_IN, s->received > bm->seen[BM_RECEIVED] ? s->received - bm->seen[BM_RECEIVED] : 0);
        metrics_update(bm, s);
    }
    if (event) {
        fprintf(stderr, "mqtt-bridge: %s\n", event);
        return;
    }
    int64_t now = st_monotonic_us();
    double dt = last_us ? (double)(now - last_us) / 1e6 : 0;
    double rate = dt > 0 ? (double)(s->received - last_received) / dt : 0;
    last_us = now;
    last_received = s->received;
    if (quiet) return;
    fprintf(stderr,
            "mqtt-bridge: received %" PRIu64 " (%.0f/s), forwarded %" PRIu64 ", rejected %" PRIu64
            ", acknowledged %" PRIu64 ", in flight %" PRIu64 ", failed %" PRIu64 " | mqtt %s | kafka %s\n",
            s->received, rate, s->forwarded, s->rejected, s->acknowledged, s->in_flight, s->failed,
            s->mqtt_connected ? "connected" : "disconnected", s->kafka_down ? "down" : "ok");
}

int cmd_mqtt_bridge(int argc, char **argv)
{
    mqtt_bridge_config c;
    mqtt_bridge_config_init(&c);
    kafka_props *props = kafka_props_new();
    cli_list topics = {0};
    const char *metrics_listen = NULL;
    job_stats *js = job_stats_new("mqtt-bridge");
    metrics_endpoint *ep = NULL;
    bridge_metrics bm = {0};
    metrics_setup(&bm, js);
    st_err e;
    const cli_opt opts[] = {
        CLI_HEADING("MQTT"),
        CLI_OPT("mqtt", 0, CLI_STRING, &c.mqtt_url, "URL",
                "mqtt://[user[:password]@]host[:port] (1883) or mqtts://... (8883), required;\n"
                "write '@' ':' '%' in the user or password as %40 %3A %25"),
        CLI_OPT("mqtt-topic", 0, CLI_LIST, &topics, "FILTER", "topic filter to subscribe to (repeatable)",
                .shown = "smarttech/#"), /* mqtt_bridge_config: no filter given = this one */
        CLI_OPT("qos", 0, CLI_INT, &c.qos, "1|0", "1: at least once, no loss; 0: at most once (2 is refused, with why)",
                .min = 0, .max = 2),
        CLI_OPT("client-id", 0, CLI_STRING, &c.client_id, "ID",
                "the persistent session's name at the broker; one bridge per id: a second\n"
                "one takes the session over"),
        CLI_OPT("mqtt-cafile", 0, CLI_STRING, &c.cafile, "FILE", "CA certificate to verify the broker (mqtts://)",
                .shown = "the system's"),
        CLI_OPT("mqtt-cert", 0, CLI_STRING, &c.certfile, "FILE",
                "client certificate (with --mqtt-key) for brokers that ask for one"),
        CLI_OPT("mqtt-key", 0, CLI_STRING, &c.keyfile, "FILE", "its private key"),
        CLI_OPT("keepalive", 0, CLI_INT, &c.keepalive_s, "SECONDS", "MQTT keep-alive", .min = 5, .max = 65535),
        CLI_OPT("max-in-flight", 0, CLI_SIZE, &c.max_in_flight, NULL,
                "messages read and not yet confirmed by Kafka (also the MQTT 5 Receive\n"
                "Maximum: the broker sends no more unacknowledged)",
                .min = 1, .max = 65535),
        CLI_HEADING("Kafka"),
        CLI_OPT("brokers", 0, CLI_STRING, &c.brokers, "LIST", "bootstrap servers"),
        CLI_OPT("topic", 0, CLI_STRING, &c.topic, "NAME", "topic (created with 3 partitions if missing)"),
        CLI_OPT(NULL, 'X', CLI_KAFKA_PROP, props, NULL,
                "librdkafka property (repeatable), e.g. security.protocol=SASL_SSL"),
        CLI_OPT("quiet", 0, CLI_FLAG, &quiet, NULL, "no progress lines (events are still printed)"),
        CLI_OPT("metrics", 0, CLI_STRING, &metrics_listen, "HOST:PORT",
                "serve /metrics (Prometheus), /healthz, /readyz (ready: MQTT connected\nand Kafka up)",
                .shown = "none"),
        {0}};
    const cli_cmd cmd = {
        "mqtt-bridge", NULL, 0, 0,
        "Forwards MQTT messages to Kafka; each PUBACK leaves only after Kafka confirmed the message, so a\n"
        "crash loses nothing (the MQTT broker redelivers, Silver's dedup keeps one copy). Key = sensor_id\n"
        "(payload, else topic smarttech/<building>/<floor>/<room>/<sensor_id>); headers mqtt_topic,\n"
        "mqtt_received_at; bad messages go on without a key and with the smarttech_reject header.",
        opts,
        "Stops on Ctrl+C/SIGTERM: waits up to 10 s for Kafka's confirmations, acknowledges them, keeps\n"
        "the session. Exit 0 after a stop, 1 on an error retrying cannot fix (bad credentials, a\n"
        "certificate that does not verify, a refused subscription), 2 on bad usage.",
        0};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (rc >= 0) goto done;
    if (!c.mqtt_url) {
        rc = cli_usage_error(&cmd, "--mqtt URL is required (e.g. --mqtt mqtt://127.0.0.1:1883)");
        goto done;
    }
    c.mqtt_topics = topics.items;
    c.nmqtt_topics = topics.n;
    c.props = props;
    if ((rc = cli_metrics_start("mqtt-bridge", metrics_listen, js, &ep))) goto done;
    cli_install_stop_handlers();
    mqtt_bridge_stats st;
    st_err_clear(&e);
    st_code sc = mqtt_bridge_run(&c, &cli_stop, progress, &bm, &st, &e);
    fprintf(stderr, "mqtt-bridge: %s: received %" PRIu64 ", forwarded %" PRIu64 ", rejected %" PRIu64
            ", acknowledged %" PRIu64 ", failed deliveries %" PRIu64 ", connections %" PRIu64 "\n",
            sc == ST_OK ? "stopped" : "stopped on an error", st.received, st.forwarded, st.rejected,
            st.acknowledged, st.failed, st.connects);
    if (sc != ST_OK) {
        fprintf(stderr, "smarttech mqtt-bridge: %s\n", e.msg);
        rc = 1;
        goto done;
    }
    rc = 0;
done:
    metrics_endpoint_stop(ep);
    job_stats_destroy(js);
    kafka_props_destroy(props);
    cli_list_free(&topics);
    return rc;
}
