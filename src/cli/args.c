/* Option parsing shared by the subcommands (cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/reader.h"
#include "cli/cli.h"

int mt__cli_option(const char *name, int argc, char **argv, int *i, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

/* One option of `accepts` at argv[*i]: 1 when taken, 0 when it is none of them, 2 after a
 * usage error. */
static int parse_option(const char *cmd, unsigned accepts, int argc, char **argv, int *i,
                        mt_cli_args_t *args)
{
    const char *a = argv[*i], *val = NULL;
    int r;
    if ((accepts & MT_CLI_FORMAT) && (r = mt__cli_option("--format", argc, argv, i, &val)) != 0) {
        if (r < 0) return mt__cli_usage_error(cmd, "%s needs a value (text or json)", a);
        if (strcmp(val, "json") != 0 && strcmp(val, "text") != 0)
            return mt__cli_usage_error(cmd, "bad --format '%s' (want text or json)", val);
        args->json = strcmp(val, "json") == 0;
    } else if ((accepts & MT_CLI_TOP) && (r = mt__cli_option("--top", argc, argv, i, &val)) != 0) {
        if (r < 0) return mt__cli_usage_error(cmd, "%s needs a value (a number, 0 for all)", a);
        if (!mt__cli_parse_top(val, &args->top))
            return mt__cli_usage_error(cmd, "bad --top '%s' (want a number, 0 for all)", val);
        args->top_set = true;
    } else if ((accepts & MT_CLI_MATCH) &&
               (r = mt__cli_option("--match", argc, argv, i, &val)) != 0) {
        if (r < 0 || !*val) return mt__cli_usage_error(cmd, "--match needs a text to look for");
        args->match = val;
    } else if ((accepts & MT_CLI_OUTPUT) &&
               ((r = mt__cli_option("-o", argc, argv, i, &val)) != 0 ||
                (r = mt__cli_option("--output", argc, argv, i, &val)) != 0)) {
        if (r < 0) return mt__cli_usage_error(cmd, "%s needs a value (a file name)", a);
        if (*val == '\0') return mt__cli_usage_error(cmd, "%s needs a file name", a);
        args->output = val;
    } else if ((accepts & MT_CLI_WEIGHT) &&
               (r = mt__cli_option("--weight", argc, argv, i, &val)) != 0) {
        if (r < 0) return mt__cli_usage_error(cmd, "%s needs a value", a);
        if (!mt__folded_weight_parse(val, &args->weight))
            return mt__cli_usage_error(cmd,
                                       "bad --weight '%s' (want allocations, bytes, live-blocks, "
                                       "live-bytes, peak-bytes or peak-blocks)",
                                       val);
    } else if ((accepts & MT_CLI_THREAD) &&
               (r = mt__cli_option("--thread", argc, argv, i, &val)) != 0) {
        if (r < 0) return mt__cli_usage_error(cmd, "%s needs a value (a thread id)", a);
        if (!mt__cli_parse_u64(val, &args->tid))
            return mt__cli_usage_error(cmd, "bad --thread '%s' (want a thread id)", val);
        args->by_thread = true;
    } else {
        return 0;
    }
    return 1;
}

int mt__cli_parse(const char *cmd, unsigned accepts, size_t max_paths, void (*help)(FILE *),
                  int argc, char **argv, mt_cli_args_t *args)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (args->npaths == max_paths)
                return mt__cli_usage_error(cmd, "more than %s given ('%s')",
                                           max_paths == 1 ? "one capture" : "two captures", a);
            args->paths[args->npaths++] = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else {
            int r = parse_option(cmd, accepts, argc, argv, &i, args);
            if (r == 0) return mt__cli_usage_error(cmd, "unknown option '%s'", a);
            if (r != 1) return r;
        }
    }
    return -1;
}

bool mt__cli_parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9') return false; /* strtoull would accept "-1" and " 1" */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

bool mt__cli_parse_top(const char *s, size_t *top)
{
    uint64_t v;
    if (!mt__cli_parse_u64(s, &v) || v > SIZE_MAX) return false;
    *top = (size_t)v;
    return true;
}

int mt__cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "memtrack %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'memtrack %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

mt_capture_t *mt__cli_read_capture(const char *path)
{
    char err[512];
    mt_capture_t *cap;
    if (mt__capture_read(path, &cap, err, sizeof err) != 0) {
        fprintf(stderr, "memtrack: %s: %s\n", path, err);
        return NULL;
    }
    return cap;
}

char *mt__cli_output_name(const char *capture, const char *ext)
{
    size_t n = strlen(capture), e = strlen(ext);
    if (n > 4 && strcmp(capture + n - 4, ".mtc") == 0) n -= 4;
    char *out = malloc(n + e + 1);
    if (out == NULL) return NULL;
    memcpy(out, capture, n);
    memcpy(out + n, ext, e + 1);
    return out;
}
