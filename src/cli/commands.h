/* commands.h — one entry point per subcommand; each lives in cmd_<name>.c.
 * argv[0] is the subcommand name. Return value is the process exit code:
 * 0 success, 1 runtime error (message printed), 2 usage error. */
#ifndef ST_CLI_COMMANDS_H
#define ST_CLI_COMMANDS_H

int cmd_simulate(int argc, char **argv);
int cmd_topic(int argc, char **argv);
int cmd_bronze(int argc, char **argv);
int cmd_silver(int argc, char **argv);
int cmd_gold(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_parquet(int argc, char **argv);
int cmd_reset(int argc, char **argv);

#endif
