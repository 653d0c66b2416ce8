/* cmd_topic.c — `smarttech topic` (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_topic(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "smarttech topic: not implemented yet\n");
    return 1;
}
