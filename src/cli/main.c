/* smarttech — one executable, git/kcat-style subcommands (DESIGN.md). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
};

static const struct command commands[] = {
    {"simulate", cmd_simulate, "sensor simulator: to Kafka (--brokers) or JSON files (--files DIR)"},
    {"topic", cmd_topic, "create or describe a Kafka topic (Admin API)"},
    {"bronze", cmd_bronze, "stream JSON files from data/input into the Bronze Delta table"},
    {"silver", cmd_silver, "consume Kafka into bronze_kafka, Silver and quarantine, exactly once"},
    {"gold", cmd_gold, "windowed aggregates and alerts from a streaming read of Silver"},
    {"status", cmd_status, "topic offsets, lag, table versions and sizes"},
    {"table", cmd_table, "Delta table tools: info, optimize, vacuum"},
    {"parquet", cmd_parquet, "Parquet file tools: info, cat"},
    {"reset", cmd_reset, "remove outputs and checkpoints (needs --yes)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: smarttech <command> [options]   (smarttech <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "smarttech: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
