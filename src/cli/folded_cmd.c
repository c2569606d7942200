/* `memtrack folded`: reads a capture and prints its call paths as folded (collapsed) stacks on
 * stdout, for flamegraph.pl, inferno or speedscope. Problems with the command line or the
 * capture end in one line on stderr. */
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

#define USAGE                                                                               \
    "usage: memtrack folded [--weight allocations|bytes|live-blocks|live-bytes|peak-bytes|" \
    "peak-blocks]\n"                                                                        \
    "                       [--thread TID] CAPTURE\n"

static void help(FILE *out)
{
    fputs(USAGE
          "\n"
          "Print the call paths of a capture as folded stacks, one line per path: its frames\n"
          "outermost first separated by ';', a space and its weight. flamegraph.pl, inferno\n"
          "and speedscope read them.\n"
          "\n"
          "  --weight W    what a path weighs: allocations or bytes (allocated during the\n"
          "                run), live-blocks or live-bytes (still allocated at its end; the\n"
          "                default), peak-bytes or peak-blocks (allocated at the peak)\n"
          "  --thread TID  only the blocks allocated by thread TID (live weights only)\n"
          "  -h, --help    show this help\n"
          "\n"
          "Exit status: 0 on success, 1 if the stacks could not be written, 2 for bad usage\n"
          "or a missing, truncated or corrupt capture.\n",
          out);
}

int mt__cmd_folded(int argc, char **argv)
{
    bool options_done = false, by_thread = false;
    mt_folded_weight_t weight = MT_FOLDED_LIVE_BYTES;
    uint64_t tid = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        int r;
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (path != NULL)
                return mt__cli_usage_error("folded", "more than one capture given ('%s')", a);
            path = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if ((r = mt__cli_option("--weight", argc, argv, &i, &val)) != 0) {
            if (r < 0) return mt__cli_usage_error("folded", "%s needs a value", a);
            if (!mt__folded_weight_parse(val, &weight))
                return mt__cli_usage_error(
                    "folded",
                    "bad --weight '%s' (want allocations, bytes, live-blocks, "
                    "live-bytes, peak-bytes or peak-blocks)",
                    val);
        } else if ((r = mt__cli_option("--thread", argc, argv, &i, &val)) != 0) {
            if (r < 0) return mt__cli_usage_error("folded", "%s needs a value (a thread id)", a);
            if (!mt__cli_parse_u64(val, &tid))
                return mt__cli_usage_error("folded", "bad --thread '%s' (want a thread id)", val);
            by_thread = true;
        } else {
            return mt__cli_usage_error("folded", "unknown option '%s'", a);
        }
    }
    if (by_thread && weight != MT_FOLDED_LIVE_BYTES && weight != MT_FOLDED_LIVE_BLOCKS)
        return mt__cli_usage_error(
            "folded",
            "--thread is not possible with --weight %s: only live blocks record "
            "their thread (use live-bytes or live-blocks)",
            weight == MT_FOLDED_ALLOCATIONS  ? "allocations"
            : weight == MT_FOLDED_BYTES      ? "bytes"
            : weight == MT_FOLDED_PEAK_BYTES ? "peak-bytes"
                                             : "peak-blocks");
    if (path == NULL) return mt__cli_usage_error("folded", "no capture file given");

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
            fprintf(stderr, "memtrack folded: %s has no thread %" PRIu64 "\n", path, tid);
            status = 2;
            goto done;
        }
    }
    sym = mt__sym_new(cap, stderr);
    if (sym == NULL || (by_thread && threads == NULL)) {
        fputs("memtrack: out of memory\n", stderr);
        status = 1;
        goto done;
    }
    mt_folded_opts_t opts = {.weight = weight, .threads = threads};
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
