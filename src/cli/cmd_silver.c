/* cmd_silver.c — `smarttech silver` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_silver(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech silver: not implemented yet\n");
    return 1;
}
