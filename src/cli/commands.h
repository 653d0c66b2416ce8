/* commands.h — one entry point per subcommand; each lives in cmd_<name>.c. Commands with
 * actions (`table info`, ...) export their action table instead (cli/opts.h).
 * argv[0] is the subcommand (or action) name. Return value is the process exit code:
 * 0 success, 1 runtime error (message printed), 2 usage error. */
#ifndef ST_CLI_COMMANDS_H
#define ST_CLI_COMMANDS_H

#include "cli/opts.h"

int cmd_simulate(int argc, char **argv);
int cmd_bronze(int argc, char **argv);
int cmd_silver(int argc, char **argv);
int cmd_gold(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_maintain(int argc, char **argv);
int cmd_mqtt_bridge(int argc, char **argv);
int cmd_dashboard(int argc, char **argv);

extern const cli_command topic_actions[];   /* create, describe */
extern const cli_command table_actions[];   /* info, optimize, vacuum */
extern const cli_command parquet_actions[]; /* info, cat, sum */

#endif
