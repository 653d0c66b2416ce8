/* cmd_reset.c — `smarttech reset --yes`: the deliberate fresh start. Removes the pipeline's
 * outputs and checkpoints (never needed after a crash: restarts resume by themselves). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "store/store.h"
#include "util/fsutil.h"

/* Deletes every object under an object store root (a local folder goes with rm -rf). One
 * listing and one DELETE per object. */
static st_code remove_objects(const char *uri, size_t *n, st_err *e)
{
    st_store *s;
    *n = 0;
    st_code rc = st_store_open(uri, &s, e);
    if (rc) return rc;
    st_list l = {0};
    rc = st_store_list(s, "", NULL, ST_LIST_RECURSIVE, &l, e);
    for (size_t i = 0; !rc && i < l.count; i++)
        if (!(rc = st_store_delete(s, l.items[i].key, e))) (*n)++;
    /* and the uploads killed writers left */
    if (!rc) rc = st_store_purge_abandoned(s, "", INT64_MAX, NULL, e);
    st_list_free(&l);
    st_store_close(s);
    return rc;
}

int cmd_reset(int argc, char **argv)
{
    const char *root = "data";
    int yes = 0;
    const cli_opt opts[] = {
        CLI_OPT("yes", 'y', CLI_FLAG, &yes, NULL, "really delete (without it nothing happens)"),
        CLI_OPT("data", 0, CLI_STRING, &root, "DIR",
                "folder holding output/ and checkpoints/; s3://bucket/prefix: every object\n"
                "under its output/ and checkpoints/ is deleted"),
        {0}};
    const cli_cmd cmd = {"reset", NULL, 0, 0,
                         "Removes DIR/output and DIR/checkpoints (all tables and stream state); Kafka topics are left\n"
                         "alone. Never needed after a crash: restarts resume by themselves.",
                         opts, NULL, .store = 1};
    char **args;
    int nargs, code = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (code >= 0) return code;
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
        st_store *s;
        size_t n = 0;
        /* a local folder goes with rm -rf (temporary files too); an object store object by object */
        int local = st_store_open(p, &s, &e) == ST_OK && st_store_local_path(s);
        st_store_close(s);
        if (local ? st_remove_tree(p, &e) : remove_objects(p, &n, &e)) {
            fprintf(stderr, "smarttech reset: %s\n", e.msg);
            rc = 1;
        } else if (local) {
            fprintf(stderr, "removed %s\n", p);
        } else {
            fprintf(stderr, "removed %s (%zu objects)\n", p, n);
        }
        free(p);
    }
    return rc;
}
