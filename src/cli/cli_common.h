/* cli_common.h — what the long-running subcommands share: the stop flag set by
 * Ctrl+C/SIGTERM. (CLI only: library code takes the flag as a parameter.) */
#ifndef ST_CLI_COMMON_H
#define ST_CLI_COMMON_H

#include <signal.h>

/* Set to 1 by SIGINT or SIGTERM once cli_install_stop_handlers() ran. */
extern volatile sig_atomic_t cli_stop;

/* Installs SIGINT and SIGTERM handlers that set cli_stop (no SA_RESTART, so blocking calls
 * return early and loops see the flag). */
void cli_install_stop_handlers(void);

#endif
