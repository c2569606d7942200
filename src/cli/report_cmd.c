/* `memtrack report`: reads a capture, symbolizes its frames and prints the text or JSON
 * report on stdout. Problems with the command line or the capture end in one line on stderr. */
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

#define USAGE "usage: memtrack report [--format text|json] [--top N] [--match TEXT] CAPTURE\n"

static void help(FILE *out)
{
    fputs(USAGE
          "\n"
          "Print what the program a capture comes from leaked, its peak and who held it, and\n"
          "its threads.\n"
          "\n"
          "  --format text|json  text for people (the default) or one JSON object\n"
          "  --top N             call paths per list: the biggest N (default: 10 in text,\n"
          "                      all in JSON; 0 means all)\n"
          "  --match TEXT        only call paths with a frame whose function, file or\n"
          "                      module contains TEXT\n"
          "  -h, --help          show this help\n"
          "\n"
          "Exit status: 0 on success, 1 if the report could not be written, 2 for bad usage\n"
          "or a missing, truncated or corrupt capture.\n",
          out);
}

int mt__cmd_report(int argc, char **argv)
{
    bool json = false, top_set = false, options_done = false;
    const char *match = NULL;
    size_t top = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        int r;
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (path != NULL)
                return mt__cli_usage_error("report", "more than one capture given ('%s')", a);
            path = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if ((r = mt__cli_option("--format", argc, argv, &i, &val)) != 0) {
            if (r < 0) return mt__cli_usage_error("report", "%s needs a value (text or json)", a);
            if (strcmp(val, "json") == 0)
                json = true;
            else if (strcmp(val, "text") == 0)
                json = false;
            else
                return mt__cli_usage_error("report", "bad --format '%s' (want text or json)", val);
        } else if ((r = mt__cli_option("--match", argc, argv, &i, &val)) != 0) {
            if (r < 0 || !*val)
                return mt__cli_usage_error("report", "--match needs a text to look for");
            match = val;
        } else if ((r = mt__cli_option("--top", argc, argv, &i, &val)) != 0) {
            if (r < 0)
                return mt__cli_usage_error("report", "%s needs a value (a number, 0 for all)", a);
            if (!mt__cli_parse_top(val, &top))
                return mt__cli_usage_error("report", "bad --top '%s' (want a number, 0 for all)",
                                           val);
            top_set = true;
        } else {
            return mt__cli_usage_error("report", "unknown option '%s'", a);
        }
    }
    if (path == NULL) return mt__cli_usage_error("report", "no capture file given");

    mt_capture_t *cap = mt__cli_read_capture(path);
    if (cap == NULL) return 2;
    mt_report_opts_t opts = {.top = top_set ? top : json ? 0 : 10, .match = match};
    int status = 0;
    mt_sym_t *sym = mt__sym_new(cap, stderr);
    if (sym == NULL) {
        fputs("memtrack: out of memory\n", stderr);
        status = 1;
    } else {
        int rc = json ? mt__report_json(stdout, cap, sym, &opts)
                      : mt__report_text(stdout, cap, sym, &opts);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "memtrack: cannot write the report: %s\n", strerror(errno));
            status = 1;
        } else if (rc != 0) {
            fputs("memtrack: out of memory\n", stderr);
            status = 1;
        }
    }
    mt__sym_free(sym);
    mt__capture_free(cap);
    return status;
}
