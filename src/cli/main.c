/* smarttech — one executable, git/kcat-style subcommands (README.md lists them). */
#include "cli/cli_common.h"
#include "cli/commands.h"

static const cli_command commands[] = {
    {"simulate", cmd_simulate, "sensor simulator: to Kafka (--brokers), MQTT (--mqtt), JSON files (--files DIR) or stdout",
     NULL},
    {"mqtt-bridge", cmd_mqtt_bridge, "MQTT -> Kafka with no loss (PUBACK after Kafka's confirmation)", NULL},
    {"topic", NULL, "Kafka topics (Admin API)", topic_actions},
    {"bronze", cmd_bronze, "stream JSON files from data/input into the Bronze Delta table", NULL},
    {"silver", cmd_silver, "consume Kafka into bronze_kafka, Silver and quarantine, exactly once", NULL},
    {"gold", cmd_gold, "windowed aggregates, alerts and anomalies from a streaming read of Silver", NULL},
    {"dashboard", cmd_dashboard, "web page of the rooms, their values and alerts, live (read-only)", NULL},
    {"status", cmd_status, "topic offsets, lag, table versions and sizes", NULL},
    {"table", NULL, "Delta table tools", table_actions},
    {"maintain", cmd_maintain, "keep Delta tables bounded (compaction, checkpoints, log clean-up, vacuum)", NULL},
    {"parquet", NULL, "Parquet file tools", parquet_actions},
    {"reset", cmd_reset, "remove outputs and checkpoints (needs --yes)", NULL},
    {NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv) { return cli_dispatch("smarttech", commands, cli_store_usage, argc, argv); }
