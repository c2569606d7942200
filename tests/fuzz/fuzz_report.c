/* libFuzzer target: every report of whatever capture the reader accepts — text, JSON, folded
 * stacks of each weight (of all threads and of one), a flame graph, the HTML page, pprof, and
 * a diff of the capture with itself — with
 * the symbolizer reading whatever module paths the capture names (missing files, directories,
 * files that are not ELF, or real binaries). Output goes to /dev/null. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture/reader.h"
#include "capture_fixup.h"
#include "report/report.h"

static FILE *sink;

static void folded_and_flamegraph(const mt_capture_t *cap, mt_sym_t *sym)
{
    for (int w = 0; w < MT_FOLDED_WEIGHTS; w++) {
        mt_folded_opts_t opts = {.weight = (mt_folded_weight_t)w};
        (void)mt__report_folded(sink, cap, sym, &opts);
    }
    /* What thread 0 allocated, by every weight the capture can give by thread, and the paths
     * matching a text, as --thread and --match ask. */
    bool *threads = calloc(cap->nthreads ? cap->nthreads : 1, sizeof *threads);
    for (int w = 0; threads != NULL && cap->nthreads > 0 && w < MT_FOLDED_WEIGHTS; w++) {
        threads[0] = true;
        char why[256];
        mt_folded_weight_t weight = (mt_folded_weight_t)w;
        if (mt__folded_threads_check(cap, threads, weight, why, sizeof why) != NULL) continue;
        mt_folded_opts_t opts = {.weight = weight, .threads = threads, .match = "a"};
        (void)mt__report_folded(sink, cap, sym, &opts);
    }
    free(threads);
    mt_folded_line_t *lines = NULL;
    size_t n = 0;
    mt_folded_opts_t opts = {.weight = MT_FOLDED_BYTES};
    if (mt__folded_lines(cap, sym, &opts, &lines, &n) == 0) {
        (void)mt__report_flamegraph(sink, lines, n, "fuzz", "bytes");
        mt__folded_free(lines, n);
    }
}

static void diff_with_itself(const mt_capture_t *cap, mt_sym_t *sym)
{
    mt_diff_t diff = {0};
    if (mt__diff_init(&diff, cap, cap) == 0) {
        mt_diff_opts_t opts = {.top = 3, .before_name = "a", .after_name = "b"};
        (void)mt__diff_check_program(sink, &diff);
        (void)mt__diff_text(sink, &diff, sym, sym, &opts);
        (void)mt__diff_json(sink, &diff, sym, NULL, &opts);
    }
    mt__diff_destroy(&diff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL) abort();
    uint8_t *copy = capture_fixup(data, size);
    char err[512];
    mt_capture_t *cap = NULL;
    if (mt__capture_parse(copy, size, &cap, err, sizeof err) == 0) {
        mt_sym_t *sym = mt__sym_new(cap, sink);
        if (sym == NULL) abort();
        mt_report_opts_t all = {.top = 0}, some = {.top = 2, .match = "e"};
        (void)mt__report_text(sink, cap, sym, &all);
        (void)mt__report_text(sink, cap, NULL, &some);
        (void)mt__report_json(sink, cap, sym, &all);
        (void)mt__report_json(sink, cap, sym, &some);
        folded_and_flamegraph(cap, sym);
        (void)mt__report_html(sink, cap, sym);
        uint8_t *pb = NULL;
        size_t pblen = 0;
        if (mt__report_pprof(cap, sym, &pb, &pblen) == 0) free(pb);
        diff_with_itself(cap, sym);
        mt__sym_free(sym);
    }
    mt__capture_free(cap);
    free(copy);
    return 0;
}
