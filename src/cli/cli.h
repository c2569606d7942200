/* The subcommands of the `memtrack` executable; main.c dispatches to them. Each takes the
 * arguments from the subcommand's name on (argv[0]) and returns the process exit status. */
#ifndef MT_CLI_CLI_H
#define MT_CLI_CLI_H

/* `memtrack report [--format text|json] [--top N] CAPTURE` (src/cli/report_cmd.c). Returns 0,
 * 1 when the report could not be written, 2 for bad usage or a missing or invalid capture. */
int mt__cmd_report(int argc, char **argv);

/* `memtrack run [-o FILE] [--depth N] [--] PROGRAM [ARGS...]` (src/cli/run.c). Returns the
 * program's exit status (or dies of the program's signal), 2 for bad usage, 127/126 when the
 * program cannot be found/executed. */
int mt__cmd_run(int argc, char **argv);

#endif
