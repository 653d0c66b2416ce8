/* cmd_reset.c — `smarttech reset --yes`: the deliberate fresh start. Removes the pipeline's
 * outputs and checkpoints (never needed after a crash: restarts resume by themselves). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "util/fsutil.h"

int cmd_reset(int argc, char **argv)
{
    const char *root = "data";
    int yes = 0;
    static const struct option opts[] = {{"yes", no_argument, 0, 'y'}, {"data", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "yh", opts, NULL)) != -1) {
        if (ch == 'y') yes = 1;
        else if (ch == 'd') root = optarg;
        else if (ch == 'h') {
            printf("usage: smarttech reset --yes [--data DIR]\n  removes DIR/output and DIR/checkpoints "
                   "(all tables and stream state); Kafka topics are left alone\n");
            return 0;
        } else return 2;
    }
    const char *subs[] = {"output", "checkpoints"};
    if (!yes) {
        fprintf(stderr, "smarttech reset: this deletes %s/output and %s/checkpoints (every table and all stream "
                        "state). Run again with --yes to confirm.\n", root, root);
        return 2;
    }
    int rc = 0;
    for (size_t i = 0; i < 2; i++) {
        char *p = st_path_join(root, subs[i]);
        st_err e;
        if (st_remove_tree(p, &e)) {
            fprintf(stderr, "smarttech reset: %s\n", e.msg);
            rc = 1;
        } else {
            fprintf(stderr, "removed %s\n", p);
        }
        free(p);
    }
    return rc;
}
