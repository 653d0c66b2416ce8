/* opts.h — how every subcommand reads its command line: getopt_long under one table of options
 * per command, one parser per kind of value, one help printer, and the subcommand dispatch.
 *
 * A command lists its options (cli_opt): long name, optional short letter, the kind of value,
 * where the value goes, its range, and one line of help. cli_parse fills the targets; a bad
 * value stops it with one message naming the option and what is expected
 *   smarttech silver: --trigger: '5x' is not a duration (e.g. 500ms, 2s, 1m)
 * and so do an unknown option, a missing value and a stray positional argument. --help prints
 * the help, where each option's default is the value its target held before parsing: the
 * config's _init() value, so a default is written once, where the library defines it.
 *
 * Every command also takes the object storage settings of s3:// paths: -S key=value
 * (st_store_set_option_arg, process-wide, repeatable) and --s3-path-style (= -S
 * path_style=true), anywhere among its options; a command whose cli_cmd says .store lists
 * them in its help.
 *
 * Exit codes (commands.h): 0 done, 1 runtime error, 2 usage error.
 * Targets are the caller's; strings point into argv; -X values go into a kafka_props.
 */
#ifndef ST_CLI_OPTS_H
#define ST_CLI_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

typedef enum cli_kind {
    CLI_END = 0,     /* terminates a table */
    CLI_SECTION,     /* no option: a heading in the help (help = the title) */
    CLI_FLAG,        /* int: set to 1 */
    CLI_UNFLAG,      /* int: set to 0 (a --no-... option) */
    CLI_STRING,      /* const char *: the argument itself */
    CLI_LIST,        /* cli_list: every argument of a repeatable option, in order */
    CLI_INT,         /* int in [min, max] */
    CLI_INT64,       /* int64_t in [min, max] */
    CLI_SIZE,        /* size_t in [min, max] */
    CLI_U64,         /* uint64_t (decimal) */
    CLI_DOUBLE,      /* double in [fmin, fmax] */
    CLI_DURATION,    /* int64_t microseconds (500ms, 2s, 1m, 1h, 7d) in [min, max] */
    CLI_DURATION_MS, /* int64_t milliseconds, same grammar, in [min, max] */
    CLI_BYTES,       /* int64_t bytes (4096, 64k, 128MB, 1GiB) in [min, max] */
    CLI_TIME,        /* int64_t UTC microseconds from an ISO-8601 time */
    CLI_KAFKA_PROP,  /* kafka_props *: -X key=value, repeatable */
    CLI_CUSTOM,      /* parse(arg, target, e) */
    CLI_CALL,        /* no value: parse(NULL, target, e) when the option is seen */
} cli_kind;

/* The target of a CLI_LIST option: starts {0}; items point into argv, the array is the
 * caller's to free (cli_list_free). */
typedef struct cli_list {
    const char **items;
    size_t n, cap;
} cli_list;

void cli_list_free(cli_list *l); /* frees the array, l is then empty; NULL-safe */

typedef struct cli_opt {
    const char *name;    /* long name without "--" (NULL for a section) */
    int letter;          /* short option letter, or 0 */
    cli_kind kind;
    void *target;
    const char *arg;     /* placeholder in the help ("DIR"); NULL: the kind's ("DURATION", "N") */
    const char *help;
    int64_t min, max;    /* integer, duration and byte ranges; min == max == 0: kind's natural range */
    double fmin, fmax;   /* CLI_DOUBLE range */
    const char *shown;   /* help: text in place of the default (e.g. "the table's, else 7 days");
                            "" = print no default */
    const char *zero;    /* help: what a default of 0 means ("no limit"), printed as "0 = no limit" */
    const char *implicit;/* the option's value may be left out (--watch[=S]); this text is parsed then */
    st_code (*parse)(const char *arg, void *target, st_err *e); /* CLI_CUSTOM, CLI_CALL; e->msg says
                                                                   what is wrong */
    void (*show)(const void *target, char *out, size_t n);       /* CLI_CUSTOM default, may be NULL */
} cli_opt;

/* A table entry: name, letter, kind, target, argument placeholder, help, then any of the
 * other fields by name (.min = 1, .zero = "no limit"). */
#define CLI_OPT(nm, ltr, knd, tgt, argname, hlp, ...) \
    {.name = (nm), .letter = (ltr), .kind = (knd), .target = (tgt), .arg = (argname), .help = (hlp), __VA_ARGS__}
#define CLI_HEADING(title) {.kind = CLI_SECTION, .help = (title)}

/* One command's command line. */
typedef struct cli_cmd {
    const char *name;     /* "silver", "table optimize" (after "smarttech ") */
    const char *args;     /* positional arguments in the synopsis ("PATH", "FILE COLUMN"), NULL: none */
    int min_args, max_args;
    const char *about;    /* paragraph under the synopsis, may be NULL */
    const cli_opt *opts;  /* ends with kind CLI_END; --help is added */
    const char *epilog;   /* printed after the options, may be NULL */
    int store;            /* 1: the help lists -S and --s3-path-style (paths may be s3://) */
} cli_cmd;

/* Parses argv[1..argc) (argv[0] is the command's own name) with getopt_long; options and
 * positional arguments may come in any order. Returns -1 when the command should run, with
 * its positional arguments in (*args)[0..*nargs) (pointers into argv); otherwise the exit
 * code to return at once: 0 after --help (printed to stdout), 2 after a usage error (message
 * and synopsis on stderr). */
int cli_parse(const cli_cmd *c, int argc, char **argv, char ***args, int *nargs);

/* Prints c's help to f: synopsis, about, each option with its default, epilog. */
void cli_usage(const cli_cmd *c, FILE *f);

/* A usage error found after parsing (two options that exclude each other, ...): prints
 * "smarttech <name>: <message>" and the synopsis to stderr; returns 2. */
int cli_usage_error(const cli_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- subcommands */

/* A command or an action of one (`table info`); sub lists a command's actions (ends with a
 * NULL name), fn runs a leaf. */
typedef struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
    const struct cli_command *sub;
} cli_command;

/* Runs the entry of cmds named argv[1] with (argc - 1, argv + 1); for a command with actions,
 * the action named next. `prog` names the caller in messages ("smarttech", "smarttech table").
 * Without a name, or with an unknown one: the list on stderr, 2. "-h", "--help", "help": the
 * list on stdout, 0. more_help (may be NULL) prints more after the list of prog's commands. */
int cli_dispatch(const char *prog, const cli_command *cmds, void (*more_help)(FILE *f), int argc, char **argv);

/* Prints every command and every action ("table optimize") with its help, one per line. */
void cli_list_commands(const char *prog, const cli_command *cmds, FILE *f);

#endif
