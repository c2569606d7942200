/* The `memtrack` command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fputs("usage: memtrack <command> [options]\n"
          "\n"
          "  memtrack run [-o FILE] [--depth N] [--mode full|count|sample[=BYTES]]\n"
          "               [--snapshot-signal SIG]\n"
          "               [--] PROGRAM [ARGS...]\n"
          "      run PROGRAM, tracking every allocation; writes a capture file at its end\n"
          "  memtrack report [--format text|json] [--top N] [--match TEXT] CAPTURE\n"
          "      what was still allocated at the end and where, the peak and who held it,\n"
          "      per thread and overall\n"
          "  memtrack diff [--format text|json] [--top N] BEFORE AFTER\n"
          "      what grew and what shrank between two captures, by call path and in total\n"
          "  memtrack folded [--weight WEIGHT] [--thread TID] CAPTURE\n"
          "      call paths as folded stacks, for flamegraph.pl and speedscope\n"
          "  memtrack flamegraph [--weight WEIGHT] [--thread TID] [-o FILE.svg] CAPTURE\n"
          "      call paths drawn as a flame graph, one SVG file for a browser\n"
          "  memtrack html [-o FILE.html] CAPTURE\n"
          "      the report as one interactive HTML page: chart, flame graph, tables\n"
          "  memtrack pprof [-o FILE] CAPTURE\n"
          "      the capture as a gzipped pprof profile, for go tool pprof\n"
          "  memtrack snapshot [--timeout SECONDS] PID\n"
          "      a capture of a program running under memtrack run, now, without stopping it\n"
          "\n"
          "  memtrack help | --help      this text\n"
          "  memtrack --version          the version\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return mt__cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return mt__cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "diff")) return mt__cmd_diff(argc - 1, argv + 1);
    if (!strcmp(cmd, "folded")) return mt__cmd_folded(argc - 1, argv + 1);
    if (!strcmp(cmd, "pprof")) return mt__cmd_pprof(argc - 1, argv + 1);
    if (!strcmp(cmd, "snapshot")) return mt__cmd_snapshot(argc - 1, argv + 1);
    if (!strcmp(cmd, "flamegraph")) return mt__cmd_flamegraph(argc - 1, argv + 1);
    if (!strcmp(cmd, "html")) return mt__cmd_html(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("memtrack %s\n", MEMTRACK_VERSION);
        return 0;
    }
    fprintf(stderr, "memtrack: unknown command '%s' (try 'memtrack help')\n", cmd);
    return 2;
}
