/* `memtrack diff`: reads two captures of the same program, matches their call paths and prints
 * what grew and what shrank between them, as text or JSON. Problems with the command line or a
 * capture end in one line on stderr. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/reader.h"
#include "report/report.h"

#define DIFF_USAGE "usage: memtrack diff [--format text|json] [--top N] BEFORE AFTER\n"

static void diff_help(FILE *out)
{
    fputs(DIFF_USAGE
          "\n"
          "Compare two captures of the same program (two runs, or two snapshots of one run):\n"
          "the totals, and the call paths whose live memory grew or shrank from BEFORE to\n"
          "AFTER, biggest change first. Call paths are matched by module and offset, so\n"
          "captures of different processes compare.\n"
          "\n"
          "  --format text|json  text for people (the default) or one JSON object\n"
          "                      (docs/DIFF.md)\n"
          "  --top N             call paths per list: the biggest N (default: 10 in text,\n"
          "                      all in JSON; 0 means all)\n"
          "  -h, --help          show this help\n"
          "\n"
          "Exit status: 0 on success (also when the captures are of different programs,\n"
          "which is warned about), 1 if the diff could not be written, 2 for bad usage or a\n"
          "missing, truncated or corrupt capture.\n",
          out);
}

/* Writes the lines of `text` to stderr, each only the first time it occurs: the two symbolizers
 * warn about the same missing binary once each, and once is enough. */
static void put_unique_lines(const char *text, size_t len)
{
    const char *end = text + len;
    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl != NULL ? (size_t)(nl - line) + 1 : (size_t)(end - line);
        bool seen = false;
        for (const char *prev = text; prev < line && !seen;) {
            const char *pnl = memchr(prev, '\n', (size_t)(line - prev));
            size_t pn = (size_t)(pnl - prev) + 1; /* lines before `line` all end in a newline */
            seen = pn == n && memcmp(prev, line, n) == 0;
            prev += pn;
        }
        if (!seen) fwrite(line, 1, n, stderr);
        line += n;
    }
}

int mt__cmd_diff(int argc, char **argv)
{
    mt_cli_args_t args = {0};
    int parsed = mt__cli_parse("diff", MT_CLI_FORMAT | MT_CLI_TOP, 2, diff_help, argc, argv, &args);
    if (parsed >= 0) return parsed;
    size_t npaths = args.npaths;
    const char *const *paths = args.paths;
    bool json = args.json;
    if (npaths == 0)
        return mt__cli_usage_error("diff", "no captures given (want BEFORE and AFTER)");
    if (npaths == 1)
        return mt__cli_usage_error("diff", "only one capture given (want BEFORE and AFTER)");

    /* Both are read before giving up, so one run names every bad file. */
    mt_capture_t *before = mt__cli_read_capture(paths[0]);
    mt_capture_t *after = mt__cli_read_capture(paths[1]);
    if (before == NULL || after == NULL) {
        mt__capture_free(before);
        mt__capture_free(after);
        return 2;
    }

    int status = 0;
    mt_diff_t diff;
    mt_diff_opts_t opts = {.top = args.top_set ? args.top
                                  : json       ? 0
                                               : 10,
                           .before_name = paths[0],
                           .after_name = paths[1]};
    /* Each capture has its own module map (load addresses differ), so its own symbolizer. Their
     * warnings are gathered and written once the diff is, without repeats. */
    char *warnings = NULL;
    size_t warnings_len = 0;
    FILE *warn = open_memstream(&warnings, &warnings_len);
    mt_sym_t *bsym = mt__sym_new(before, warn != NULL ? warn : stderr);
    mt_sym_t *asym = mt__sym_new(after, warn != NULL ? warn : stderr);
    if (bsym == NULL || asym == NULL || mt__diff_init(&diff, before, after) != 0) {
        fputs("memtrack: out of memory\n", stderr);
        status = 1;
    } else {
        (void)mt__diff_check_program(stderr, &diff);
        int rc = json ? mt__diff_json(stdout, &diff, bsym, asym, &opts)
                      : mt__diff_text(stdout, &diff, bsym, asym, &opts);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "memtrack: cannot write the diff: %s\n", strerror(errno));
            status = 1;
        } else if (rc != 0) {
            fputs("memtrack: out of memory\n", stderr);
            status = 1;
        }
        mt__diff_destroy(&diff);
    }
    mt__sym_free(asym);
    mt__sym_free(bsym);
    if (warn != NULL && fclose(warn) == 0) put_unique_lines(warnings, warnings_len);
    free(warnings);
    mt__capture_free(after);
    mt__capture_free(before);
    return status;
}
