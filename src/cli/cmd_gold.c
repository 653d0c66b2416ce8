/* cmd_gold.c — `smarttech gold`: Silver -> Gold windows, alerts, late quarantine (stream/gold_job.h). */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "stream/gold_job.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: smarttech gold [options]\n"
            "  --silver PATH          Silver table to follow (default data/output/silver_delta)\n"
            "  --output PATH          Gold window table (default data/output/gold_room_1m)\n"
            "  --alerts PATH          alerts table (default data/output/alerts_delta)\n"
            "  --quarantine PATH      where late events go (default data/output/quarantine_delta)\n"
            "  --checkpoint DIR       window/alert state (default data/checkpoints/gold)\n"
            "  --window DURATION      tumbling window width (default 1m)\n"
            "  --lateness DURATION    allowed lateness: watermark = max event time - lateness (default 2m)\n"
            "  --rules FILE           alert rules (default: built-in, as in config/alerts.conf)\n"
            "  --brokers LIST         also send alerts to Kafka (default: Delta only)\n"
            "  --alerts-topic NAME    Kafka topic for alerts (default iot_alerts)\n"
            "  --trigger DURATION     how often to look for new Silver versions (default 1s)\n"
            "  --max-versions N       Silver versions per micro-batch (default 50)\n"
            "  --from-version N       first Silver version on a fresh start (default 0)\n"
            "  --once                 process the Silver versions present now, then stop\n"
            "  --flush                with --once: end of input = watermark +inf, emit every open window\n"
            "  --summary-json FILE    write the final counters as JSON\n"
            "  --quiet                no per-batch progress lines\n"
            "  -X key=value           librdkafka property for the alert producer (repeatable)\n");
}

static int quiet;

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
    char wm[48];
    fmt_time(s->watermark_us, wm, sizeof wm);
    fprintf(stderr,
            "gold: batch %" PRIu64 ": silver v%" PRId64 "/%" PRId64 "%s rows=%" PRIu64 " late=%" PRIu64
            " windows=%" PRIu64 " alerts=%" PRIu64 " %.0fms | totals rows=%" PRIu64 " late=%" PRIu64
            " windows=%" PRIu64 " (open %" PRIu64 ") alerts opened=%" PRIu64 " closed=%" PRIu64 " (open %" PRIu64
            ") | watermark %s | versions gold=%" PRId64 " alerts=%" PRId64 " quarantine=%" PRId64 "\n",
            s->batches, s->silver_version, s->silver_latest, s->flushed ? " flushed" : "", s->last_batch_rows,
            s->last_batch_late, s->last_batch_windows, s->last_batch_alerts, s->last_batch_us / 1000.0, s->rows_in,
            s->rows_late, s->windows_emitted, s->windows_open, s->alerts_opened, s->alerts_closed, s->alerts_open, wm,
            s->versions[0], s->versions[1], s->versions[2]);
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
                  "},\"versions\":{\"gold\":%" PRId64 ",\"alerts\":%" PRId64 ",\"quarantine\":%" PRId64 "}}\n",
                  rc, s->silver_version, s->flushed ? "true" : "false", s->batches, s->rows_in, s->rows_late,
                  s->windows_emitted, s->windows_open, s->alerts_opened, s->alerts_closed, s->alerts_open,
                  s->recovered ? "true" : "false", s->kafka_produced, s->kafka_delivered, s->kafka_failed,
                  s->kafka_pending, s->versions[0], s->versions[1], s->versions[2]);
    st_err e;
    if (st_write_file_atomic(path, b.data, b.len, &e)) fprintf(stderr, "gold: %s\n", e.msg);
    st_buf_free(&b);
}

static int parse_dur(const char *opt, const char *s, int64_t *out, int allow_zero)
{
    if (st_parse_duration_us(s, out) || *out < 0 || (!allow_zero && *out == 0)) {
        fprintf(stderr, "smarttech gold: bad duration for --%s: '%s' (examples: 30s, 1m, 5min, 1h)\n", opt, s);
        return -1;
    }
    return 0;
}

static int parse_int64(const char *opt, const char *s, int64_t min, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < min) {
        fprintf(stderr, "smarttech gold: --%s needs a number >= %lld, not '%s'\n", opt, (long long)min, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_gold(int argc, char **argv)
{
    gold_config c;
    gold_config_init(&c);
    kafka_props *props = kafka_props_new();
    const char *summary = NULL;
    st_err e;
    static const struct option opts[] = {
        {"silver", required_argument, 0, 's'},       {"output", required_argument, 0, 'o'},
        {"alerts", required_argument, 0, 'a'},       {"quarantine", required_argument, 0, 'Q'},
        {"checkpoint", required_argument, 0, 'c'},   {"window", required_argument, 0, 'w'},
        {"lateness", required_argument, 0, 'l'},     {"rules", required_argument, 0, 'r'},
        {"brokers", required_argument, 0, 'b'},      {"alerts-topic", required_argument, 0, 't'},
        {"trigger", required_argument, 0, 'T'},      {"max-versions", required_argument, 0, 'm'},
        {"from-version", required_argument, 0, 'F'}, {"once", no_argument, 0, '1'},
        {"flush", no_argument, 0, 'f'},              {"summary-json", required_argument, 0, 'S'},
        {"quiet", no_argument, 0, 'q'},              {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch, rc = 2;
    int64_t n;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "X:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's': c.silver_path = optarg; break;
        case 'o': c.gold_path = optarg; break;
        case 'a': c.alerts_path = optarg; break;
        case 'Q': c.quarantine_path = optarg; break;
        case 'c': c.checkpoint = optarg; break;
        case 'w':
            if (parse_dur("window", optarg, &c.window_us, 0)) goto out;
            break;
        case 'l':
            if (parse_dur("lateness", optarg, &c.lateness_us, 1)) goto out;
            break;
        case 'r': c.rules_path = optarg; break;
        case 'b': c.brokers = optarg; break;
        case 't': c.alerts_topic = optarg; break;
        case 'T':
            if (parse_dur("trigger", optarg, &c.trigger_us, 1)) goto out;
            break;
        case 'm':
            if (parse_int64("max-versions", optarg, 1, &n)) goto out;
            c.max_versions = n > 1000000 ? 1000000 : (int)n;
            break;
        case 'F':
            if (parse_int64("from-version", optarg, 0, &c.start_version)) goto out;
            break;
        case '1': c.once = 1; break;
        case 'f': c.flush = 1; break;
        case 'S': summary = optarg; break;
        case 'q': quiet = 1; break;
        case 'X':
            if (kafka_props_add_arg(props, optarg, &e)) {
                fprintf(stderr, "smarttech gold: %s\n", e.msg);
                goto out;
            }
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "smarttech gold: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        goto out;
    }
    if (c.flush && !c.once) {
        fprintf(stderr, "smarttech gold: --flush needs --once (it treats the end of the input as final)\n");
        goto out;
    }
    c.props = props;
    cli_install_stop_handlers();
    fprintf(stderr, "gold: %s -> %s, %s, %s (late), checkpoint %s; window %llds, lateness %llds, rules %s%s%s\n",
            c.silver_path, c.gold_path, c.alerts_path, c.quarantine_path, c.checkpoint,
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
            " closed %" PRIu64 "%s\n",
            st.silver_version, st.flushed ? " (flushed)" : "", st.batches, st.rows_in, st.rows_late,
            st.windows_emitted, st.windows_open, st.alerts_opened, st.alerts_closed,
            st.kafka_pending ? " (some Kafka alerts not yet delivered: sent again on the next start)" : "");
    if (summary) write_summary(summary, &st, rc);
out:
    kafka_props_destroy(props);
    return rc;
}
