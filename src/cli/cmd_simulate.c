/* cmd_simulate.c — `smarttech simulate` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_simulate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech simulate: not implemented yet\n");
    return 1;
}
