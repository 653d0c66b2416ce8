/* opts.c — option tables, value parsers, help and subcommand dispatch (see opts.h). */
#include "cli/opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/units.h"

#define DEFAULT_MAX 96 /* room for one rendered default */

/* ------------------------------------------------------------------ value parsers */

/* Each parser reads arg into the option's target or writes why not into err. 0 / -1. */

static int bad(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* A decimal integer, all of the text, no overflow. */
static int parse_int64(const char *s, int64_t *out)
{
    if (!isdigit((unsigned char)s[0]) && !((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* The natural range of an integer kind, when the table gives none. */
static void int_range(const cli_opt *o, int64_t *lo, int64_t *hi)
{
    if (o->min || o->max) {
        *lo = o->min, *hi = o->max;
        return;
    }
    switch (o->kind) {
    case CLI_INT: *lo = INT_MIN, *hi = INT_MAX; break;
    case CLI_INT64: *lo = INT64_MIN, *hi = INT64_MAX; break;
    default: *lo = 0, *hi = INT64_MAX; break; /* sizes, durations, bytes */
    }
}

/* How a value of o's kind is written in messages and help ("2s", "128MiB", "5"). */
static void show_value(const cli_opt *o, int64_t v, char *out, size_t n)
{
    if (o->kind == CLI_DURATION) st_format_duration_us(v, out, n);
    else if (o->kind == CLI_DURATION_MS) st_format_duration_us(v * 1000, out, n);
    else if (o->kind == CLI_BYTES) st_format_bytes(v, out, n);
    else snprintf(out, n, "%lld", (long long)v);
}

static int check_range(const cli_opt *o, const char *arg, int64_t v, char *err, size_t n)
{
    int64_t lo, hi;
    int_range(o, &lo, &hi);
    if (v >= lo && v <= hi) return 0;
    char a[48], b[48];
    show_value(o, lo, a, sizeof a);
    show_value(o, hi, b, sizeof b);
    if (hi == INT64_MAX || (o->kind == CLI_INT && hi == INT_MAX)) return bad(err, n, "'%s' is below the minimum %s", arg, a);
    return bad(err, n, "'%s' is out of range (%s to %s)", arg, a, b);
}

static int parse_value(const cli_opt *o, const char *arg, char *err, size_t n)
{
    int64_t v;
    switch (o->kind) {
    case CLI_STRING: *(const char **)o->target = arg; return 0;
    case CLI_LIST: {
        cli_list *l = o->target;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 4;
            l->items = st_xrealloc(l->items, l->cap * sizeof *l->items);
        }
        l->items[l->n++] = arg;
        return 0;
    }
    case CLI_INT:
    case CLI_INT64:
    case CLI_SIZE:
        if (parse_int64(arg, &v)) return bad(err, n, "'%s' is not a whole number", arg);
        if (check_range(o, arg, v, err, n)) return -1;
        if (o->kind == CLI_INT) *(int *)o->target = (int)v;
        else if (o->kind == CLI_INT64) *(int64_t *)o->target = v;
        else *(size_t *)o->target = (size_t)v;
        return 0;
    case CLI_U64: {
        char *end;
        errno = 0;
        unsigned long long u = isdigit((unsigned char)arg[0]) ? strtoull(arg, &end, 10) : 0;
        if (!isdigit((unsigned char)arg[0]) || errno || *end) return bad(err, n, "'%s' is not a whole number", arg);
        *(uint64_t *)o->target = u;
        return 0;
    }
    case CLI_DOUBLE: {
        char *end;
        double d = strtod(arg, &end);
        if (end == arg || *end || !isfinite(d)) return bad(err, n, "'%s' is not a number", arg);
        if ((o->fmin || o->fmax) && !(d >= o->fmin && d <= o->fmax))
            return bad(err, n, "'%s' is out of range (%g to %g)", arg, o->fmin, o->fmax);
        *(double *)o->target = d;
        return 0;
    }
    case CLI_DURATION:
    case CLI_DURATION_MS:
        if (st_parse_duration_us(arg, &v)) return bad(err, n, "'%s' is not a duration (e.g. 500ms, 2s, 1m)", arg);
        if (o->kind == CLI_DURATION_MS) v /= 1000;
        if (check_range(o, arg, v, err, n)) return -1;
        *(int64_t *)o->target = v;
        return 0;
    case CLI_BYTES:
        if (st_parse_bytes(arg, &v)) return bad(err, n, "'%s' is not a size (e.g. 4096, 64k, 128MB, 1GiB)", arg);
        if (check_range(o, arg, v, err, n)) return -1;
        *(int64_t *)o->target = v;
        return 0;
    case CLI_TIME:
        if (st_parse_iso_us(arg, strlen(arg), &v))
            return bad(err, n, "'%s' is not an ISO-8601 time (e.g. 2026-11-26T10:00:00Z)", arg);
        *(int64_t *)o->target = v;
        return 0;
    case CLI_KAFKA_PROP:
    case CLI_CUSTOM: {
        st_err e;
        st_err_clear(&e);
        st_code rc = o->kind == CLI_KAFKA_PROP ? kafka_props_add_arg(o->target, arg, &e) : o->parse(arg, o->target, &e);
        return rc ? bad(err, n, "%s", e.msg) : 0;
    }
    default: return bad(err, n, "option kind %d takes no value", (int)o->kind);
    }
}

void cli_list_free(cli_list *l)
{
    if (!l) return;
    free(l->items);
    *l = (cli_list){0};
}

/* The default shown in the help: what the target holds before parsing. "" = none. */
static void show_default(const cli_opt *o, char *out, size_t n)
{
    out[0] = 0;
    if (o->shown) {
        snprintf(out, n, "%s", o->shown);
        return;
    }
    int64_t v = 0;
    switch (o->kind) {
    case CLI_STRING: {
        const char *s = *(const char *const *)o->target;
        if (s) snprintf(out, n, "%s", s);
        return;
    }
    case CLI_INT: v = *(const int *)o->target; break;
    case CLI_INT64:
    case CLI_DURATION:
    case CLI_DURATION_MS:
    case CLI_BYTES: v = *(const int64_t *)o->target; break;
    case CLI_SIZE: v = (int64_t)*(const size_t *)o->target; break;
    case CLI_U64: snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)o->target); return;
    case CLI_DOUBLE: snprintf(out, n, "%g", *(const double *)o->target); return;
    case CLI_TIME:
        if (*(const int64_t *)o->target) st_format_iso_us(*(const int64_t *)o->target, out, n, 1);
        return;
    case CLI_CUSTOM:
        if (o->show) o->show(o->target, out, n);
        return;
    default: return;
    }
    show_value(o, v, out, n);
}

/* ------------------------------------------------------------------ help */

static int takes_value(const cli_opt *o) { return o->kind != CLI_FLAG && o->kind != CLI_UNFLAG && o->kind != CLI_CALL; }

/* ------------------------------------------------------------------ object storage */

/* -S key=value and --s3-path-style: settings of the s3:// backend, process-wide, so that every
 * path a command opens (tables, checkpoints, files) sees the same ones. Every command takes
 * them; they are parsed in the order given. */
static st_code store_setting(const char *arg, void *target, st_err *e)
{
    (void)target;
    return st_store_set_option_arg(arg, e);
}

static st_code store_path_style(const char *arg, void *target, st_err *e)
{
    (void)arg, (void)target;
    return st_store_set_option("path_style", "true", e);
}

static const cli_opt store_opts[] = {
    CLI_HEADING("object storage (paths may be s3://bucket/prefix; every setting: smarttech --help)"),
    CLI_OPT(NULL, 'S', CLI_CUSTOM, NULL, "key=value", "an S3 setting (repeatable), e.g. -S endpoint=http://localhost:9000",
            .parse = store_setting),
    CLI_OPT("s3-path-style", 0, CLI_CALL, NULL, NULL, "path-style addressing (= -S path_style=true)",
            .parse = store_path_style),
    {0}};

static const char *arg_name(const cli_opt *o)
{
    if (o->arg) return o->arg;
    switch (o->kind) {
    case CLI_INT:
    case CLI_INT64:
    case CLI_SIZE:
    case CLI_U64: return "N";
    case CLI_DOUBLE: return "X";
    case CLI_DURATION:
    case CLI_DURATION_MS: return "DURATION";
    case CLI_BYTES: return "SIZE";
    case CLI_TIME: return "TIME";
    case CLI_KAFKA_PROP: return "key=value";
    default: return "VALUE";
    }
}

/* "  -X key=value", "  --trigger DURATION", "  -b, --brokers LIST", "  --watch[=SECONDS]". */
static void opt_label(const cli_opt *o, st_buf *b)
{
    st_buf_append_str(b, "  ");
    if (o->letter) st_buf_printf(b, "-%c%s", o->letter, o->name ? ", " : "");
    if (o->name) st_buf_printf(b, "--%s", o->name);
    if (!takes_value(o)) return;
    if (o->implicit) st_buf_printf(b, "[=%s]", arg_name(o));
    else st_buf_printf(b, " %s", arg_name(o));
}

static void synopsis(const cli_cmd *c, FILE *f)
{
    fprintf(f, "usage: smarttech %s%s%s [options]\n", c->name, c->args ? " " : "", c->args ? c->args : "");
}

/* The help column of a command's options: past the longest label, at most 30. */
static size_t help_column(const cli_cmd *c)
{
    st_buf line = {0};
    size_t col = strlen("  -h, --help");
    for (int t = 0; t < 1 + (c->store != 0); t++)
        for (const cli_opt *o = t ? store_opts : c->opts; o->kind != CLI_END; o++) {
            if (o->kind == CLI_SECTION) continue;
            st_buf_reset(&line);
            opt_label(o, &line);
            if (line.len > col) col = line.len;
        }
    st_buf_free(&line);
    return col > 30 ? 30 : col;
}

/* Prints the options of one table, each with its help and default, from column col. */
static void print_opts(const cli_opt *opts, size_t col, FILE *f)
{
    st_buf line = {0};
    for (const cli_opt *o = opts; o->kind != CLI_END; o++) {
        if (o->kind == CLI_SECTION) {
            fprintf(f, "\n%s:\n", o->help);
            continue;
        }
        st_buf_reset(&line);
        opt_label(o, &line);
        if (line.len > col) st_buf_append_str(&line, "  ");
        while (line.len < col + 2) st_buf_append_u8(&line, ' ');
        /* help lines after the first are indented to the help column */
        for (const char *h = o->help; *h; h++) {
            st_buf_append_u8(&line, (uint8_t)*h);
            if (*h == '\n')
                for (size_t k = 0; k < col + 2; k++) st_buf_append_u8(&line, ' ');
        }
        char d[DEFAULT_MAX], paren[DEFAULT_MAX + 64] = "";
        show_default(o, d, sizeof d);
        int zero_default = o->zero && !o->shown && takes_value(o) && !strcmp(d, o->kind == CLI_DURATION ? "0s" : "0");
        if (zero_default) snprintf(paren, sizeof paren, "(default 0 = %s)", o->zero);
        else if (d[0] && o->zero) snprintf(paren, sizeof paren, "(default %s; 0 = %s)", d, o->zero);
        else if (d[0]) snprintf(paren, sizeof paren, "(default %s)", d);
        if (paren[0]) {
            /* on the help's last line, or under it when that line would pass 100 columns */
            const char *last = strrchr(st_buf_cstr(&line), '\n');
            size_t last_len = last ? line.len - (size_t)(last + 1 - (const char *)line.data) : line.len;
            if (last_len + 1 + strlen(paren) > 100) {
                st_buf_append_u8(&line, '\n');
                for (size_t k = 0; k < col + 2; k++) st_buf_append_u8(&line, ' ');
            } else {
                st_buf_append_u8(&line, ' ');
            }
            st_buf_append_str(&line, paren);
        }
        fprintf(f, "%s\n", st_buf_cstr(&line));
    }
    st_buf_free(&line);
}

void cli_usage(const cli_cmd *c, FILE *f)
{
    synopsis(c, f);
    if (c->about) fprintf(f, "\n%s\n", c->about);
    size_t col = help_column(c);
    if (c->opts[0].kind != CLI_SECTION) fprintf(f, "\noptions:\n");
    print_opts(c->opts, col, f);
    fprintf(f, "  -h, --help%*sthis help\n", (int)(col + 2 - strlen("  -h, --help")), "");
    if (c->store) print_opts(store_opts, col, f);
    if (c->epilog) fprintf(f, "\n%s\n", c->epilog);
}

static void short_usage(const cli_cmd *c)
{
    fprintf(stderr, "usage: smarttech %s%s%s [options]   (smarttech %s --help for the options)\n", c->name,
            c->args ? " " : "", c->args ? c->args : "", c->name);
}

int cli_usage_error(const cli_cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "smarttech %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    short_usage(c);
    return 2;
}

/* ------------------------------------------------------------------ parsing */

/* How an option is named in messages: "--trigger" or "-X". */
static void opt_name(const cli_opt *o, char *out, size_t n)
{
    if (o->name) snprintf(out, n, "--%s", o->name);
    else snprintf(out, n, "-%c", o->letter);
}

/* The usage error of a bad value: "<option>: <why>", or why alone when it names the option
 * already (the store's messages start with "-S key: ..."). */
static int bad_value(const cli_cmd *c, const cli_opt *o, const char *why)
{
    char name[64];
    opt_name(o, name, sizeof name);
    size_t n = strlen(name);
    if (!strncmp(why, name, n) && why[n] == ' ') return cli_usage_error(c, "%s", why);
    return cli_usage_error(c, "%s: %s", name, why);
}

int cli_parse(const cli_cmd *c, int argc, char **argv, char ***args, int *nargs)
{
    /* the command's options, then the object storage ones every command takes */
    size_t nc = 0, ns = 0;
    while (c->opts[nc].kind != CLI_END) nc++;
    while (store_opts[ns].kind != CLI_END) ns++;
    size_t n = nc + ns;
    cli_opt *all = st_xcalloc(n + 1, sizeof *all);
    memcpy(all, c->opts, nc * sizeof *all);
    memcpy(all + nc, store_opts, ns * sizeof *all);
    struct option *lo = st_xcalloc(n + 2, sizeof *lo);
    st_buf shorts = {0};
    st_buf_append_str(&shorts, ":h"); /* ':' first: a missing value comes back as ':' */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const cli_opt *o = &all[i];
        if (o->kind == CLI_SECTION) continue;
        int has = !takes_value(o) ? no_argument : o->implicit ? optional_argument : required_argument;
        if (o->name) lo[k++] = (struct option){o->name, has, NULL, 256 + (int)i};
        if (o->letter) {
            st_buf_append_u8(&shorts, (uint8_t)o->letter);
            if (has == required_argument) st_buf_append_str(&shorts, ":");
            if (has == optional_argument) st_buf_append_str(&shorts, "::");
        }
    }
    lo[k++] = (struct option){"help", no_argument, NULL, 'h'};
    int rc = -1, ch;
    char err[ST_ERR_MSG_MAX + 64];
    opterr = 0;
    optind = 0; /* glibc: start over (this may be the second parse of the process) */
    while (rc < 0 && (ch = getopt_long(argc, argv, st_buf_cstr(&shorts), lo, NULL)) != -1) {
        const cli_opt *o = NULL;
        if (ch >= 256) o = &all[ch - 256];
        else
            for (size_t i = 0; i < n && !o && ch != 'h' && ch != '?' && ch != ':'; i++)
                if (all[i].letter == ch && all[i].kind != CLI_SECTION) o = &all[i];
        if (ch == 'h' && !o) {
            cli_usage(c, stdout);
            rc = 0;
        } else if (ch == '?' || ch == ':' || !o) {
            const char *what = argv[optind - 1];
            if (ch == ':') rc = cli_usage_error(c, "%s needs a value", what);
            else if (optopt && optopt < 256 && !(what[0] == '-' && what[1] == '-'))
                rc = cli_usage_error(c, "unknown option '-%c'", optopt);
            else rc = cli_usage_error(c, "unknown option '%s'", what);
        } else if (o->kind == CLI_FLAG || o->kind == CLI_UNFLAG) {
            *(int *)o->target = o->kind == CLI_FLAG;
        } else if (o->kind == CLI_CALL) {
            st_err e;
            st_err_clear(&e);
            if (o->parse(NULL, o->target, &e)) rc = bad_value(c, o, e.msg);
        } else if (parse_value(o, optarg ? optarg : o->implicit, err, sizeof err)) {
            rc = bad_value(c, o, err);
        }
    }
    if (rc < 0) {
        int np = argc - optind;
        if (np > c->max_args) rc = cli_usage_error(c, "unexpected argument '%s'", argv[optind + c->max_args]);
        else if (np < c->min_args) rc = cli_usage_error(c, "missing %s", c->args ? c->args : "arguments");
        else {
            *args = argv + optind;
            *nargs = np;
        }
    }
    free(lo);
    free(all);
    st_buf_free(&shorts);
    return rc;
}

/* ------------------------------------------------------------------ subcommands */

static size_t name_width(const cli_command *cmds)
{
    size_t w = 0;
    for (const cli_command *c = cmds; c->name; c++) {
        if (!c->sub) w = strlen(c->name) > w ? strlen(c->name) : w;
        for (const cli_command *s = c->sub; s && s->name; s++)
            if (strlen(c->name) + 1 + strlen(s->name) > w) w = strlen(c->name) + 1 + strlen(s->name);
    }
    return w;
}

void cli_list_commands(const char *prog, const cli_command *cmds, FILE *f)
{
    (void)prog;
    int w = (int)name_width(cmds);
    char full[128];
    for (const cli_command *c = cmds; c->name; c++) {
        if (!c->sub) fprintf(f, "  %-*s  %s\n", w, c->name, c->help);
        for (const cli_command *s = c->sub; s && s->name; s++) {
            snprintf(full, sizeof full, "%s %s", c->name, s->name);
            fprintf(f, "  %-*s  %s\n", w, full, s->help);
        }
    }
}

/* The list of what prog runs. */
static void list_usage(const char *prog, const cli_command *cmds, void (*more_help)(FILE *f), FILE *f)
{
    fprintf(f, "usage: %s <%s> [options]   (%s <%s> --help)\n\n%s:\n", prog, strchr(prog, ' ') ? "action" : "command",
            prog, strchr(prog, ' ') ? "action" : "command", strchr(prog, ' ') ? "actions" : "commands");
    cli_list_commands(prog, cmds, f);
    fprintf(f, "\nexit status: 0 done, 1 runtime error, 2 usage error\n");
    if (more_help) {
        fputc('\n', f);
        more_help(f);
    }
}

int cli_dispatch(const char *prog, const cli_command *cmds, void (*more_help)(FILE *f), int argc, char **argv)
{
    if (argc < 2) {
        list_usage(prog, cmds, more_help, stderr);
        return 2;
    }
    const char *a = argv[1];
    if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
        list_usage(prog, cmds, more_help, stdout);
        return 0;
    }
    for (const cli_command *c = cmds; c->name; c++) {
        if (strcmp(a, c->name)) continue;
        if (!c->sub) return c->fn(argc - 1, argv + 1);
        char sub[128];
        snprintf(sub, sizeof sub, "%s %s", prog, c->name);
        return cli_dispatch(sub, c->sub, NULL, argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown %s '%s'\n", prog, strchr(prog, ' ') ? "action" : "command", a);
    list_usage(prog, cmds, more_help, stderr);
    return 2;
}
