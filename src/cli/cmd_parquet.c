/* cmd_parquet.c — `smarttech parquet` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_parquet(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech parquet: not implemented yet\n");
    return 1;
}
