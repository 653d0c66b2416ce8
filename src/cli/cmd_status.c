/* cmd_status.c — `smarttech status` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_status(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech status: not implemented yet\n");
    return 1;
}
