/* cmd_gold.c — `smarttech gold` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_gold(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech gold: not implemented yet\n");
    return 1;
}
