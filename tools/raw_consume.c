/* raw_consume.c — the raw Kafka consume limit for `make bench` (issue 7 step 2).
 *
 * Reads every partition of a topic from the beginning to its end offset at start with a
 * plain librdkafka consumer and throws the records away (it only sums their sizes, so the
 * payload is touched once, as any consumer must). No group coordination: partitions are
 * assigned directly, nothing is committed. Prints one JSON line on stdout:
 *   {"messages":N,"bytes":B,"seconds":S,"events_per_s":R,"partitions":P}
 *
 *   raw_consume --brokers HOST:PORT --topic NAME [-X key=value ...]
 *
 * librdkafka's defaults are used (they are the best general settings for a bulk read; our
 * silver job uses the same library), except what -X changes. Exit 0 when every partition
 * was read to its end, 1 on any error (message on stderr).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* Monotonic clock in seconds. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sets one property, printing librdkafka's reason on failure. Returns 0 on success. */
static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char why[256];
    if (rd_kafka_conf_set(conf, k, v, why, sizeof why) == RD_KAFKA_CONF_OK) return 0;
    fprintf(stderr, "raw_consume: %s=%s: %s\n", k, v, why);
    return 1;
}

int main(int argc, char **argv)
{
    const char *brokers = "localhost:9092", *topic = NULL;
    char errstr[512];
    int rc = 1;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const rd_kafka_metadata_t *md = NULL;
    int64_t *end = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (conf_set(conf, "group.id", "smarttech-raw-consume") || conf_set(conf, "enable.auto.commit", "false") ||
        conf_set(conf, "enable.partition.eof", "false") || conf_set(conf, "auto.offset.reset", "earliest"))
        goto out;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            brokers = argv[++i];
        } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
            topic = argv[++i];
        } else if (!strcmp(argv[i], "-X") && i + 1 < argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                fprintf(stderr, "raw_consume: -X needs key=value, got '%s'\n", kv);
                goto out;
            }
            *eq = '\0';
            if (conf_set(conf, kv, eq + 1)) goto out;
        } else {
            fprintf(stderr, "usage: raw_consume --brokers HOST:PORT --topic NAME [-X key=value ...]\n");
            goto out;
        }
    }
    if (!topic) {
        fprintf(stderr, "raw_consume: --topic is required\n");
        goto out;
    }
    if (conf_set(conf, "bootstrap.servers", brokers)) goto out;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "raw_consume: %s\n", errstr);
        goto out;
    }
    conf = NULL; /* owned by rk now */

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "raw_consume: no metadata for topic %s at %s: %s\n", topic, brokers,
                rd_kafka_err2str(err ? err : md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto out;
    }
    int np = md->topics[0].partition_cnt;
    end = calloc((size_t)np, sizeof *end);
    parts = rd_kafka_topic_partition_list_new(np);
    int64_t want = 0;
    for (int p = 0; p < np; p++) {
        int64_t lo, hi;
        err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (err) {
            fprintf(stderr, "raw_consume: end offset of %s [%d]: %s\n", topic, p, rd_kafka_err2str(err));
            goto out;
        }
        end[p] = hi;
        want += hi - lo;
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }

    double t0 = now_s();
    if ((err = rd_kafka_assign(rk, parts))) {
        fprintf(stderr, "raw_consume: assign: %s\n", rd_kafka_err2str(err));
        goto out;
    }
    int open = 0;
    for (int p = 0; p < np; p++) open += end[p] > 0;
    uint64_t msgs = 0, bytes = 0;
    while (open > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m) continue;
        if (m->err) {
            fprintf(stderr, "raw_consume: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto out;
        }
        msgs++;
        bytes += m->len + m->key_len;
        if (m->partition >= 0 && m->partition < np && m->offset + 1 >= end[m->partition] && end[m->partition] > 0) {
            end[m->partition] = 0; /* done with this one */
            open--;
        }
        rd_kafka_message_destroy(m);
    }
    double secs = now_s() - t0;
    printf("{\"messages\":%" PRIu64 ",\"expected\":%" PRId64 ",\"bytes\":%" PRIu64
           ",\"seconds\":%.4f,\"events_per_s\":%.0f,\"partitions\":%d}\n",
           msgs, want, bytes, secs, secs > 0 ? (double)msgs / secs : 0.0, np);
    rc = 0;
out:
    if (md) rd_kafka_metadata_destroy(md);
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    free(end);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (conf) rd_kafka_conf_destroy(conf);
    return rc;
}
