/* cmd_topic.c — `smarttech topic create|describe`: the Kafka topic through librdkafka's Admin API. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "kafka/kafka.h"

/* Help text. */
static void topic_usage(FILE *f)
{
    fprintf(f,
            "usage: smarttech topic create   [--brokers H:P] [--topic NAME] [--partitions N] [--replication N]\n"
            "                                [--timeout-ms MS] [-X key=value ...]\n"
            "       smarttech topic describe [--brokers H:P] [--topic NAME] [--group G] [--timeout-ms MS]\n"
            "                                [-X key=value ...]\n"
            "\n"
            "  create    creates the topic unless it exists (then it says so and changes nothing)\n"
            "  describe  partition count and low/high offsets of each partition (with --group: the\n"
            "            group's committed offset and lag per partition)\n"
            "  --brokers      bootstrap servers (default localhost:9092)\n"
            "  --topic        topic name (default iot_smartech)\n"
            "  --partitions   partitions of a new topic (default 3)\n"
            "  --replication  replication factor of a new topic (default 1)\n"
            "  --group        consumer group whose committed offsets describe shows\n"
            "  --timeout-ms   give up when the brokers do not answer within this time (default 15000)\n"
            "  -X key=value   any librdkafka property (security.protocol, sasl.*, ssl.*, debug, ...)\n");
}

/* Prints e, with a hint when the local broker is probably just not started. */
static int topic_fail(const char *brokers, const st_err *e)
{
    fprintf(stderr, "smarttech topic: %s\n", e->msg);
    if (strstr(e->msg, "not reachable") && strstr(brokers, "localhost"))
        fprintf(stderr, "smarttech topic: is the local broker running? (scripts/kafka-local start)\n");
    return 1;
}

/* create: idempotent; prints what happened, notes a partition count other than asked. */
static int topic_create(kafka_admin *a, const char *brokers, const char *topic, int partitions,
                        int replication, int timeout_ms)
{
    st_err e;
    bool created = false;
    int have = 0;
    if (kafka_admin_topic_create(a, topic, partitions, replication, timeout_ms, &created, &e) != ST_OK ||
        kafka_admin_topic_partitions(a, topic, timeout_ms, &have, &e) != ST_OK)
        return topic_fail(brokers, &e);
    if (created) {
        printf("created topic %s on %s: %d partitions, replication %d\n", topic, brokers, have, replication);
    } else {
        printf("topic %s already exists on %s: %d partitions\n", topic, brokers, have);
        if (have != partitions)
            fprintf(stderr, "smarttech topic: note: %s has %d partitions, not the %d asked for (left as is)\n",
                    topic, have, partitions);
    }
    return 0;
}

/* describe: end offsets per partition and, with a group, committed offsets and lag. */
static int topic_describe(kafka_admin *a, const char *brokers, const char *topic, const char *group,
                          int timeout_ms)
{
    st_err e;
    kafka_partition_offsets *po = NULL;
    int64_t *committed = NULL;
    size_t n = 0;
    int rc = 0;
    if (kafka_admin_watermarks(a, topic, timeout_ms, &po, &n, &e) != ST_OK) return topic_fail(brokers, &e);
    if (group) {
        committed = calloc(n ? n : 1, sizeof *committed);
        if (!committed || kafka_admin_committed(a, group, topic, timeout_ms, committed, n, &e) != ST_OK) {
            rc = committed ? topic_fail(brokers, &e) : 1;
            goto done;
        }
    }
    long long total = 0, lag = 0;
    printf("topic %s on %s: %zu partitions\n", topic, brokers, n);
    for (size_t i = 0; i < n; i++) {
        printf("  partition %d: offsets %lld..%lld (%lld messages)", po[i].partition, (long long)po[i].low,
               (long long)po[i].high, (long long)(po[i].high - po[i].low));
        if (group) {
            /* Nothing committed: the group would start at the low watermark (earliest). */
            long long from = committed[i] >= 0 ? (long long)committed[i] : (long long)po[i].low;
            long long l = (long long)po[i].high - from;
            if (committed[i] >= 0)
                printf(", group %s committed %lld (lag %lld)", group, (long long)committed[i], l);
            else
                printf(", group %s committed nothing (lag %lld)", group, l);
            lag += l;
        }
        printf("\n");
        total += po[i].high - po[i].low;
    }
    printf("  total: %lld messages\n", total);
    if (group) printf("  group %s lag: %lld\n", group, lag);
done:
    free(committed);
    free(po);
    return rc;
}

/* Parses a positive int option; 0 on error. */
static int parse_pos_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v > 0 && v < 1000000000) ? (int)v : 0;
}

/* `smarttech topic create|describe [options]`: exit 0 ok, 1 Kafka error, 2 usage error. */
int cmd_topic(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},  {"topic", required_argument, NULL, 't'},
        {"partitions", required_argument, NULL, 'p'}, {"replication", required_argument, NULL, 'r'},
        {"timeout-ms", required_argument, NULL, 'T'}, {"group", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *brokers = "localhost:9092", *topic = "iot_smartech", *group = NULL;
    int partitions = 3, replication = 1, timeout_ms = 15000, rc = 2, c;
    kafka_props *props = kafka_props_new();
    kafka_admin *a = NULL;
    st_err e;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        topic_usage(argc < 2 ? stderr : stdout);
        rc = argc < 2 ? 2 : 0;
        goto done;
    }
    const char *action = argv[1];
    if (strcmp(action, "create") && strcmp(action, "describe")) {
        fprintf(stderr, "smarttech topic: unknown action '%s'\n", action);
        topic_usage(stderr);
        goto done;
    }
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "b:t:p:r:T:g:X:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'g': group = optarg; break;
        case 'p':
        case 'r':
        case 'T': {
            int v = parse_pos_int(optarg);
            if (!v) {
                fprintf(stderr, "smarttech topic: invalid number '%s'\n", optarg);
                goto done;
            }
            *(c == 'p' ? &partitions : c == 'r' ? &replication : &timeout_ms) = v;
            break;
        }
        case 'X':
            if (kafka_props_add_arg(props, optarg, &e) != ST_OK) {
                fprintf(stderr, "smarttech topic: %s\n", e.msg);
                goto done;
            }
            break;
        case 'h': topic_usage(stdout); rc = 0; goto done;
        default: topic_usage(stderr); goto done;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "smarttech topic: unexpected argument '%s'\n", argv[optind + 1]);
        goto done;
    }
    if (kafka_admin_new(&a, brokers, props, &e) != ST_OK) {
        fprintf(stderr, "smarttech topic: %s\n", e.msg);
        goto done;
    }
    rc = !strcmp(action, "create") ? topic_create(a, brokers, topic, partitions, replication, timeout_ms)
                                   : topic_describe(a, brokers, topic, group, timeout_ms);
done:
    kafka_admin_destroy(a);
    kafka_props_destroy(props);
    return rc;
}
