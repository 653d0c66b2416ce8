/* cmd_topic.c — `smarttech topic create|describe`: the Kafka topic through librdkafka's Admin API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "job/silver_job.h"
#include "kafka/kafka.h"

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
                        int replication, int min_isr, int timeout_ms)
{
    st_err e;
    bool created = false;
    int have = 0;
    if (kafka_admin_topic_create(a, topic, partitions, replication, min_isr, timeout_ms, &created, &e) != ST_OK)
        return topic_fail(brokers, &e);
    /* Not looked up again after creating: in a cluster the next metadata answer may come from a
     * broker that has not heard of the new topic yet. */
    if (!created && kafka_admin_topic_partitions(a, topic, timeout_ms, &have, &e) != ST_OK)
        return topic_fail(brokers, &e);
    if (created) {
        printf("created topic %s on %s: %d partitions", topic, brokers, partitions);
        if (replication > 0) printf(", replication %d", replication);
        if (min_isr > 0) printf(", min.insync.replicas %d", min_isr);
        printf("\n");
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

/* What both actions read from the command line. */
typedef struct topic_args {
    const char *brokers, *topic, *group;
    int partitions, replication, min_isr, timeout_ms; /* replication, min_isr: 0 = the cluster's */
    kafka_props *props;
} topic_args;

/* Parses the action's options (create: partitions, replication, min ISR; describe: group), then
 * runs it. Exit 0 ok, 1 Kafka error, 2 usage error (also a property librdkafka rejects). */
static int topic_run(int create, int argc, char **argv)
{
    silver_config sc; /* the pipeline's topic and brokers */
    silver_config_init(&sc);
    topic_args t = {sc.brokers, sc.topic, NULL, 3, 0, 0, 15000, kafka_props_new()}; /* 0: the cluster's */
#define COMMON_OPTS                                                                                          \
    CLI_OPT("brokers", 'b', CLI_STRING, &t.brokers, "LIST", "bootstrap servers"),                            \
        CLI_OPT("topic", 't', CLI_STRING, &t.topic, "NAME", "topic name"),                                   \
        CLI_OPT("timeout-ms", 'T', CLI_INT, &t.timeout_ms, NULL,                                             \
                "give up when the brokers do not answer within this time", .min = 1, .max = 1000000000),     \
        CLI_OPT(NULL, 'X', CLI_KAFKA_PROP, t.props, NULL,                                                    \
                "any librdkafka property (security.protocol, sasl.*, ssl.*, debug, ...)")
    const cli_opt create_opts[] = {
        COMMON_OPTS,
        CLI_OPT("partitions", 'p', CLI_INT, &t.partitions, NULL, "partitions of a new topic", .min = 1, .max = 1000000),
        CLI_OPT("replication-factor", 'r', CLI_INT, &t.replication, NULL, "replicas of each partition of a new topic",
                .min = 1, .max = 1000, .zero = "the cluster's default.replication.factor"),
        CLI_OPT("replication", 0, CLI_INT, &t.replication, NULL, "the same as --replication-factor", .min = 1,
                .max = 1000, .shown = ""),
        CLI_OPT("min-insync-replicas", 'm', CLI_INT, &t.min_isr, NULL,
                "topic config min.insync.replicas of a new topic: with acks=all a write\n"
                "needs N replicas in sync",
                .min = 1, .max = 1000, .zero = "the cluster's setting"),
        {0}};
    const cli_opt describe_opts[] = {
        COMMON_OPTS,
        CLI_OPT("group", 'g', CLI_STRING, &t.group, "NAME", "consumer group whose committed offsets and lag are shown"),
        {0}};
#undef COMMON_OPTS
    const cli_cmd cmd = {create ? "topic create" : "topic describe", NULL, 0, 0,
                         create ? "Creates the topic unless it exists (then it says so and changes nothing)."
                                : "Partition count and low/high offsets of each partition (with --group: the group's\n"
                                  "committed offset and lag per partition).",
                         create ? create_opts : describe_opts, NULL, 0};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    kafka_admin *a = NULL;
    st_err e;
    if (rc >= 0) goto done;
    rc = 2;
    if (kafka_admin_new(&a, t.brokers, t.props, &e) != ST_OK) {
        fprintf(stderr, "smarttech topic: %s\n", e.msg);
        goto done;
    }
    rc = create ? topic_create(a, t.brokers, t.topic, t.partitions, t.replication, t.min_isr, t.timeout_ms)
                : topic_describe(a, t.brokers, t.topic, t.group, t.timeout_ms);
done:
    kafka_admin_destroy(a);
    kafka_props_destroy(t.props);
    return rc;
}

static int cmd_topic_create(int argc, char **argv) { return topic_run(1, argc, argv); }
static int cmd_topic_describe(int argc, char **argv) { return topic_run(0, argc, argv); }

const cli_command topic_actions[] = {
    {"create", cmd_topic_create, "create a Kafka topic unless it exists (Admin API)", NULL},
    {"describe", cmd_topic_describe, "a topic's partitions and offsets, a group's lag", NULL},
    {NULL, NULL, NULL, NULL},
};
