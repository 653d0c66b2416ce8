/* cmd_bronze.c — `smarttech bronze` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_bronze(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech bronze: not implemented yet\n");
    return 1;
}
