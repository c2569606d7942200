/* The subcommands of the `memtrack` executable; main.c dispatches to them. Each takes the
 * arguments from the subcommand's name on (argv[0]) and returns the process exit status. */
#ifndef MT_CLI_CLI_H
#define MT_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report/report.h"

/* Matches "--name VALUE" and "--name=VALUE" at argv[*i] (args.c). Returns 1 with *val set
 * (advancing *i past a separate value), 0 when argv[*i] is another argument, -1 when the value
 * is missing. */
int mt__cli_option(const char *name, int argc, char **argv, int *i, const char **val);

/* The options a command that reads captures may accept besides -h/--help (mt__cli_parse). */
enum {
    MT_CLI_FORMAT = 1u << 0, /* --format text|json */
    MT_CLI_TOP = 1u << 1,    /* --top N (0 for all) */
    MT_CLI_MATCH = 1u << 2,  /* --match TEXT */
    MT_CLI_OUTPUT = 1u << 3, /* -o/--output FILE */
    MT_CLI_WEIGHT = 1u << 4, /* --weight WEIGHT */
    MT_CLI_THREAD = 1u << 5, /* --thread TID */
};

/* A command line parsed by mt__cli_parse. Fields of options not given keep their values. */
typedef struct mt_cli_args_s {
    const char *paths[2]; /* the captures, in the order given */
    size_t npaths;
    bool json;
    bool top_set;
    size_t top;
    const char *match;  /* NULL: everything */
    const char *output; /* NULL: the command's default */
    mt_folded_weight_t weight;
    bool by_thread;
    uint64_t tid;
} mt_cli_args_t;

/* Parses the arguments of `memtrack CMD` (argv[0] is CMD): up to `max_paths` (1 or 2) captures,
 * "--" (after which every argument is a capture), -h/--help (which prints help(stdout)) and the
 * options in `accepts`. Returns -1 when the command goes on, 0 after the help, 2 after saying
 * on one line what is wrong. Too few captures are for the command to report. */
int mt__cli_parse(const char *cmd, unsigned accepts, size_t max_paths, void (*help)(FILE *),
                  int argc, char **argv, mt_cli_args_t *args);

/* After `memtrack run --follow-children`: lists on stderr the captures matching `pattern`
 * (but main_path) written since `since` by processes descending from `pid` (run_children.c). */
struct timespec;
void mt__run_list_children(const char *pattern, const char *main_path, uint64_t pid,
                           const struct timespec *since);

/* A signal by number or name ("USR2", "SIGUSR2", "RTMIN+3", "RTMAX-2"), or -1 (run.c). */
int mt__cli_signal(const char *s);

/* `memtrack snapshot [--timeout S] PID` (snapshot_cmd.c): asks a program running under memtrack
 * run for a snapshot and says where it went. 0, 1 when none came, 2 for bad usage. */
int mt__cmd_snapshot(int argc, char **argv);

/* Parses a --top value: a decimal number, 0 meaning all. */
bool mt__cli_parse_top(const char *s, size_t *top);

/* Parses a decimal number (no sign, no spaces). */
bool mt__cli_parse_u64(const char *s, uint64_t *out);

/* Says on one line what is wrong with the command line of `memtrack CMD` and where to look;
 * returns 2, the exit status for bad usage. */
int mt__cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The default output of a capture's export: CAPTURE with a final ".mtc" replaced by `ext`
 * (".svg"), or `ext` added; NULL when out of memory. */
char *mt__cli_output_name(const char *capture, const char *ext);

/* Reads and validates a capture; on failure says why on one line (`memtrack: FILE: reason`)
 * and returns NULL. */
struct mt_capture_s;
struct mt_capture_s *mt__cli_read_capture(const char *path);

/* `memtrack report [--format text|json] [--top N] CAPTURE` (src/cli/report_cmd.c). Returns 0,
 * 1 when the report could not be written, 2 for bad usage or a missing or invalid capture. */
int mt__cmd_report(int argc, char **argv);

/* `memtrack diff [--format text|json] [--top N] BEFORE AFTER` (src/cli/diff_cmd.c). Returns 0
 * (also when the captures are of different programs, which it warns about), 1 when the diff
 * could not be written, 2 for bad usage or a missing or invalid capture. */
int mt__cmd_diff(int argc, char **argv);

/* `memtrack folded [--weight W] [--thread TID] CAPTURE` (src/cli/folded_cmd.c): the call paths
 * as folded stacks on stdout. Returns 0, 1 when they could not be written, 2 for bad usage, a
 * missing or invalid capture, a thread the capture does not have, or --thread with a weight that
 * is not a live one. */
int mt__cmd_folded(int argc, char **argv);

/* `memtrack flamegraph [--weight W] [--thread TID] [-o FILE] CAPTURE` (folded_cmd.c): the same
 * stacks drawn as a self-contained SVG flame graph. */
int mt__cmd_flamegraph(int argc, char **argv);

/* `memtrack html [-o FILE] CAPTURE` (src/cli/html_cmd.c): the interactive HTML report, one
 * self-contained file (default: CAPTURE with .mtc replaced by .html, replaced if it exists).
 * Returns 0, 1 when it could not be written, 2 for bad usage or a missing or invalid capture. */
int mt__cmd_html(int argc, char **argv);

/* `memtrack pprof [-o FILE] CAPTURE` (src/cli/pprof_cmd.c): writes the gzipped pprof profile
 * (default: CAPTURE with .mtc replaced by .pb.gz, replaced if it exists). Returns 0, 1 when it
 * could not be written, 2 for bad usage or a missing or invalid capture. */
int mt__cmd_pprof(int argc, char **argv);

/* `memtrack run [-o FILE] [--depth N] [--] PROGRAM [ARGS...]` (src/cli/run.c). Returns the
 * program's exit status (or dies of the program's signal), 2 for bad usage, 127/126 when the
 * program cannot be found/executed. */
int mt__cmd_run(int argc, char **argv);

#endif
