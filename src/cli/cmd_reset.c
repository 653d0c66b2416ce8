/* cmd_reset.c — `smarttech reset` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_reset(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech reset: not implemented yet\n");
    return 1;
}
