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
    mt_cli_args_t args = {0};
    int rc = mt__cli_parse("report", MT_CLI_FORMAT | MT_CLI_TOP | MT_CLI_MATCH, 1, help, argc, argv,
                           &args);
    if (rc >= 0) return rc;
    if (args.npaths == 0) return mt__cli_usage_error("report", "no capture file given");
    const char *path = args.paths[0];
    bool json = args.json;

    mt_capture_t *cap = mt__cli_read_capture(path);
    if (cap == NULL) return 2;
    mt_report_opts_t opts = {.top = args.top_set ? args.top : json ? 0 : 10, .match = args.match};
    int status = 0;
    mt_sym_t *sym = mt__sym_new(cap, stderr);
    if (sym == NULL) {
        fputs("memtrack: out of memory\n", stderr);
        status = 1;
    } else {
        rc = json ? mt__report_json(stdout, cap, sym, &opts)
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
