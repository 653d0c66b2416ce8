/* cmd_dashboard.c — `smarttech dashboard`: the web page for building operators (dash/dash_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "dash/dash_server.h"
#include "http/http.h"
#include "util/fsutil.h"

/* --metrics-url NAME=URL, repeatable: the jobs in order (room for one per argument). */
typedef struct job_urls {
    const char **names, **urls;
    size_t n;
} job_urls;

static st_code add_job_url(const char *arg, void *target, st_err *e)
{
    job_urls *j = target;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return st_err_set(e, ST_ERR_ARG, "'%s' is not NAME=URL", arg);
    /* the name is cut out of the argument in place, as the URL is its rest */
    char *name = (char *)arg;
    name[eq - arg] = 0;
    j->names[j->n] = name;
    j->urls[j->n++] = eq + 1;
    return ST_OK;
}

int cmd_dashboard(int argc, char **argv)
{
    dash_options o;
    dash_options_init(&o);
    const char *data = "data";
    const char *paths[5] = {0};
    job_urls jobs = {st_xcalloc((size_t)argc + 1, sizeof *jobs.names), st_xcalloc((size_t)argc + 1, sizeof *jobs.urls), 0};
    char *owned[5] = {0};
    const cli_opt opts[] = {
        CLI_OPT("listen", 0, CLI_STRING, &o.listen, "HOST:PORT",
                "address to serve; any address but a loopback one needs --token"),
        CLI_OPT("token", 0, CLI_STRING, &o.token, "TOKEN",
                "required on every request (Authorization: Bearer TOKEN, or ?token=TOKEN\n"
                "in the page's URL); at least 8 characters",
                .shown = "none"),
        CLI_OPT("data", 0, CLI_STRING, &data, "DIR", "the tables under DIR/output (data/output/gold_room_1m, ...)"),
        CLI_OPT("gold", 0, CLI_STRING, &paths[0], "PATH", "the Gold window table", .shown = "DIR/output/gold_room_1m"),
        CLI_OPT("alerts", 0, CLI_STRING, &paths[1], "PATH", "the alerts table", .shown = "DIR/output/alerts_delta"),
        CLI_OPT("silver", 0, CLI_STRING, &paths[2], "PATH", "the Silver table", .shown = "DIR/output/silver_delta"),
        CLI_OPT("quarantine", 0, CLI_STRING, &paths[3], "PATH", "the quarantine table",
                .shown = "DIR/output/quarantine_delta"),
        CLI_OPT("bronze-kafka", 0, CLI_STRING, &paths[4], "PATH", "the raw table", .shown = "DIR/output/bronze_kafka"),
        CLI_OPT("rules", 0, CLI_STRING, &o.rules_path, "FILE", "alert rules that colour the values",
                .shown = "built-in, config/alerts.conf"),
        CLI_OPT("metrics-url", 0, CLI_CUSTOM, &jobs, "NAME=URL",
                "a job's --metrics endpoint for the health panel (repeatable), e.g.\n"
                "silver=http://127.0.0.1:9101/metrics; without: health from the tables",
                .parse = add_job_url),
        CLI_OPT("refresh", 0, CLI_DURATION, &o.refresh_us, NULL, "how often the tables are followed", .min = 100000,
                .max = INT64_MAX),
        {0}};
    const cli_cmd cmd = {"dashboard", NULL, 0, 0,
                         "Serves one read-only web page: buildings -> floors -> rooms with the latest Gold value of each\n"
                         "sensor type (coloured by the alert rules), the last hour of 1-minute windows per room, open\n"
                         "alerts and their history, and pipeline health. It follows the tables as they grow (new\n"
                         "commits only); the page refreshes itself every second.",
                         opts, NULL, .store = 1};
    char **args;
    int nargs, rc = cli_parse(&cmd, argc, argv, &args, &nargs);
    if (rc >= 0) goto out;
    static const char *const sub[5] = {"output/gold_room_1m", "output/alerts_delta", "output/silver_delta",
                                       "output/quarantine_delta", "output/bronze_kafka"};
    for (int i = 0; i < 5; i++)
        if (!paths[i]) paths[i] = owned[i] = st_path_join(data, sub[i]);
    o.paths = (dash_paths){paths[0], paths[1], paths[2], paths[3], paths[4]};
    o.job_names = jobs.names;
    o.job_urls = jobs.urls;
    o.njobs = jobs.n;
    cli_install_stop_handlers();
    dash_server *s = NULL;
    st_err e;
    if (dash_server_start(&o, &s, &e) != ST_OK) {
        fprintf(stderr, "smarttech dashboard: %s\n", e.msg);
        rc = e.code == ST_ERR_ARG ? 2 : 1;
        goto out;
    }
    char host[128];
    int port;
    http_parse_listen(o.listen, host, sizeof host, &port, NULL);
    int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "dashboard: http://%s%s%s:%d/%s%s (Gold %s, alerts %s)\n", v6 ? "[" : "", host, v6 ? "]" : "",
            dash_server_port(s), o.token ? "?token=" : "", o.token ? "..." : "", paths[0], paths[1]);
    while (!cli_stop) pause();
    fprintf(stderr, "dashboard: stopping\n");
    dash_server_stop(s);
    rc = 0;
out:
    for (int i = 0; i < 5; i++) free(owned[i]);
    free(jobs.names);
    free(jobs.urls);
    return rc;
}
