/* cmd_table.c — `smarttech table` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_table(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech table: not implemented yet\n");
    return 1;
}
