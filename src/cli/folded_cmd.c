/* `memtrack folded` and `memtrack flamegraph`: the call paths of a capture as collapsed stacks
 * (flamegraph.pl, inferno and speedscope read them), or drawn as a self-contained SVG flame
 * graph. Both choose what a path weighs and may keep what one thread allocated. */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/reader.h"
#include "report/report.h"

#define OPTIONS                                                                          \
    "  --weight W    what a path weighs: allocations or bytes (allocated during the\n"   \
    "                run), live-blocks or live-bytes (still allocated at its end; the\n" \
    "                default), peak-bytes or peak-blocks (allocated at the peak)\n"      \
    "  --thread TID  only what thread TID allocated\n"                                   \
    "  --match TEXT  only call paths with a frame whose function, file or module\n"      \
    "                contains TEXT\n"

static void help(FILE *out, bool svg)
{
    if (svg)
        fputs("usage: memtrack flamegraph [--weight W] [--thread TID] [--match TEXT] [-o FILE.svg] "
              "CAPTURE\n"
              "\n"
              "Draw the call paths of a capture as a flame graph: one SVG file that opens in\n"
              "a browser, outermost frames at the bottom, each as wide as what it weighs,\n"
              "with its name, weight and share on hover.\n"
              "\n" OPTIONS "  -o FILE       where to write it (default: CAPTURE with .mtc replaced "
              "by .svg)\n",
              out);
    else
        fputs("usage: memtrack folded [--weight W] [--thread TID] [--match TEXT] CAPTURE\n"
              "\n"
              "Print the call paths of a capture as folded stacks, one line per path: its\n"
              "frames outermost first separated by ';', a space and its weight. flamegraph.pl,\n"
              "inferno and speedscope read them.\n"
              "\n" OPTIONS,
              out);
    fputs("  -h, --help    show this help\n"
          "\n"
          "Exit status: 0 on success, 1 if the output could not be written, 2 for bad usage\n"
          "or a missing, truncated or corrupt capture.\n",
          out);
}

static void folded_help(FILE *out)
{
    help(out, false);
}

static void flamegraph_help(FILE *out)
{
    help(out, true);
}

/* The flame graph's title and unit for a weight. */
static void describe(mt_folded_weight_t w, const char **what, const char **unit)
{
    static const char *const whats[] = {"allocations made",       "bytes allocated",
                                        "blocks live at the end", "bytes live at the end",
                                        "bytes live at the peak", "blocks live at the peak"};
    *what = whats[w];
    *unit = w == MT_FOLDED_ALLOCATIONS                                 ? "allocations"
            : w == MT_FOLDED_LIVE_BLOCKS || w == MT_FOLDED_PEAK_BLOCKS ? "blocks"
                                                                       : "bytes";
}

static int write_svg(const char *dest, const mt_capture_t *cap, mt_sym_t *sym,
                     const mt_folded_opts_t *opts)
{
    mt_folded_line_t *lines;
    size_t n;
    if (mt__folded_lines(cap, sym, opts, &lines, &n) != 0) {
        fputs("memtrack: out of memory\n", stderr);
        return 1;
    }
    const char *what, *unit;
    describe(opts->weight, &what, &unit);
    char title[600];
    const char *slash = strrchr(cap->program, '/');
    snprintf(title, sizeof title, "%s (pid %" PRIu64 "): %s", slash ? slash + 1 : cap->program,
             cap->pid, what);
    FILE *f = fopen(dest, "w");
    int rc = f ? mt__report_flamegraph(f, lines, n, title, unit) : -1;
    if (f && fclose(f) != 0) rc = -1;
    mt__folded_free(lines, n);
    if (rc != 0) {
        fprintf(stderr, "memtrack: cannot write %s: %s\n", dest, strerror(errno));
        return 1;
    }
    printf("%s\n", dest);
    return 0;
}

/* Both commands; `svg` says which. */
static int stacks_command(int argc, char **argv, bool svg)
{
    const char *cmd = svg ? "flamegraph" : "folded";
    mt_cli_args_t args = {.weight = MT_FOLDED_LIVE_BYTES};
    int parsed =
        mt__cli_parse(cmd, MT_CLI_WEIGHT | MT_CLI_MATCH | MT_CLI_THREAD | (svg ? MT_CLI_OUTPUT : 0),
                      1, svg ? flamegraph_help : folded_help, argc, argv, &args);
    if (parsed >= 0) return parsed;
    const char *path = args.paths[0], *output = args.output;
    mt_folded_weight_t weight = args.weight;
    bool by_thread = args.by_thread;
    uint64_t tid = args.tid;
    if (path == NULL) return mt__cli_usage_error(cmd, "no capture file given");

    mt_capture_t *cap = mt__cli_read_capture(path);
    if (cap == NULL) return 2;
    int status = 0;
    bool *threads = NULL;
    mt_sym_t *sym = NULL;
    if (by_thread) {
        /* A tid can be reused by a later thread: every thread that had it counts. */
        threads = calloc(cap->nthreads ? cap->nthreads : 1, sizeof *threads);
        bool found = false;
        for (size_t t = 0; threads != NULL && t < cap->nthreads; t++)
            found |= threads[t] = cap->threads[t].tid == tid;
        if (threads != NULL && !found) {
            fprintf(stderr, "memtrack %s: %s has no thread %" PRIu64 "\n", cmd, path, tid);
            status = 2;
            goto done;
        }
    }
    char why[256];
    if (by_thread && mt__folded_threads_check(cap, threads, weight, why, sizeof why) != NULL) {
        fprintf(stderr, "memtrack %s: --thread %" PRIu64 " --weight %s: %s\n", cmd, tid,
                mt__folded_weight_name(weight), why);
        status = 2;
        goto done;
    }
    sym = mt__sym_new(cap, stderr);
    if (sym == NULL || (by_thread && threads == NULL)) {
        fputs("memtrack: out of memory\n", stderr);
        status = 1;
        goto done;
    }
    mt_folded_opts_t opts = {.weight = weight, .threads = threads, .match = args.match};
    if (svg) {
        char *dflt = output == NULL ? mt__cli_output_name(path, ".svg") : NULL;
        status = output || dflt ? write_svg(output ? output : dflt, cap, sym, &opts) : 1;
        free(dflt);
        goto done;
    }
    int rc = mt__report_folded(stdout, cap, sym, &opts);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "memtrack: cannot write the folded stacks: %s\n", strerror(errno));
        status = 1;
    } else if (rc != 0) {
        fputs("memtrack: out of memory\n", stderr);
        status = 1;
    }
done:
    mt__sym_free(sym);
    free(threads);
    mt__capture_free(cap);
    return status;
}

int mt__cmd_folded(int argc, char **argv)
{
    return stacks_command(argc, argv, false);
}

int mt__cmd_flamegraph(int argc, char **argv)
{
    return stacks_command(argc, argv, true);
}
