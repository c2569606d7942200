/* libFuzzer target: the command-line parsers — mt__cli_parse (the options of report, diff,
 * folded, flamegraph, html and pprof), `memtrack run`'s own parser, signal names, numbers and
 * weights. The input is the arguments separated by NUL bytes; its first byte chooses the
 * options accepted (its low six bits) and how many captures (bit 6: two). The sources are
 * compiled in, as the unit tests do, to reach their static functions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMTRACK_PRELOAD_INSTALLED "/nonexistent/libmemtrack_preload.so"
#include "cli/args.c"
#include "cli/run.c"

#define MAX_ARGS 64

static void help(FILE *out)
{
    (void)out;
}

/* True when p points into one of the arguments. */
static int is_arg(const char *p, char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        if (p >= argv[i] && p <= argv[i] + strlen(argv[i])) return 1;
    return 0;
}

static void parse_capture_args(unsigned accepts, size_t max_paths, int argc, char **argv)
{
    mt_cli_args_t args = {.weight = MT_FOLDED_LIVE_BYTES};
    int rc = mt__cli_parse("report", accepts, max_paths, help, argc, argv, &args);
    if (rc != -1 && rc != 0 && rc != 2) abort();
    if (args.npaths > max_paths) abort();
    for (size_t i = 0; i < args.npaths; i++)
        if (!is_arg(args.paths[i], argv, argc)) abort();
    if (args.match && !is_arg(args.match, argv, argc)) abort();
    if (args.output && !is_arg(args.output, argv, argc)) abort();
    if ((unsigned)args.weight >= MT_FOLDED_WEIGHTS) abort();
    if (rc == -1 && args.npaths > 0) {
        char *name = mt__cli_output_name(args.paths[0], ".svg");
        if (name == NULL || strlen(name) > strlen(args.paths[0]) + 4) abort();
        free(name);
    }
}

static void parse_run(int argc, char **argv)
{
    run_opts_t o = {.snapshot_sig = SIGRTMAX - 2};
    int rc = parse_run_args(argc, argv, &o);
    if (rc != -1 && rc != 0 && rc != 2) abort();
    if (rc == -1) {
        if (o.argv == NULL || o.argv[0] == NULL || !is_arg(o.argv[0], argv, argc)) abort();
        if (o.depth > DEPTH_MAX) abort();
        if (o.snapshot_sig < 0 || o.snapshot_sig > SIGRTMAX) abort();
        char pattern[PATH_MAX], path[PATH_MAX];
        if (output_pattern(&o, pattern, sizeof pattern) == 0) {
            expand_pid(pattern, 4242, path, sizeof path);
            if (strlen(path) >= sizeof path) abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    unsigned accepts = data[0] & 0x3f;
    size_t max_paths = data[0] & 0x40 ? 2 : 1;
    /* The arguments: NUL-terminated copies of the NUL-separated pieces of the rest. */
    char *text = malloc(size);
    if (text == NULL) abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "cmd";
    for (char *p = text; p < text + size && argc < MAX_ARGS; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    parse_capture_args(accepts, max_paths, argc, argv);
    parse_run(argc, argv);
    for (int i = 1; i < argc; i++) {
        int sig = mt__cli_signal(argv[i]);
        if (sig != -1 && (sig < 1 || sig > SIGRTMAX)) abort();
        uint64_t v;
        size_t top;
        mt_folded_weight_t w;
        (void)mt__cli_parse_u64(argv[i], &v);
        (void)mt__cli_parse_top(argv[i], &top);
        if (mt__folded_weight_parse(argv[i], &w) && (unsigned)w >= MT_FOLDED_WEIGHTS) abort();
    }
    free(text);
    return 0;
}
