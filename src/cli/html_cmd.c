/* `memtrack html`: the interactive HTML report of a capture, one self-contained file with the
 * summary, the memory-over-time chart, the flame graph and the tables (src/report/html.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/reader.h"
#include "cli/cli.h"
#include "report/report.h"

static void help(FILE *out)
{
    fputs("usage: memtrack html [-o FILE] CAPTURE\n"
          "\n"
          "Write the report of a capture as one self-contained HTML file that works offline:\n"
          "totals, peak and leaks, memory over time (zoomable, the peak marked), a zoomable\n"
          "flame graph (allocations or bytes; all, leaked or held at the peak) and sortable,\n"
          "filterable tables of leaks, peak contributors and threads.\n"
          "\n"
          "  -o FILE       where to write it (default: CAPTURE with .mtc replaced by .html)\n"
          "  -h, --help    show this help\n"
          "\n"
          "Exit status: 0 on success, 1 if the file could not be written, 2 for bad usage\n"
          "or a missing, truncated or corrupt capture.\n",
          out);
}

int mt__cmd_html(int argc, char **argv)
{
    mt_cli_args_t args = {0};
    int parsed = mt__cli_parse("html", MT_CLI_OUTPUT, 1, help, argc, argv, &args);
    if (parsed >= 0) return parsed;
    if (args.npaths == 0) return mt__cli_usage_error("html", "no capture file given");
    const char *path = args.paths[0], *output = args.output;

    mt_capture_t *cap = mt__cli_read_capture(path);
    if (cap == NULL) return 2;
    int status = 1;
    char *dflt = output == NULL ? mt__cli_output_name(path, ".html") : NULL;
    const char *dest = output ? output : dflt;
    mt_sym_t *sym = mt__sym_new(cap, stderr);
    if (sym == NULL || dest == NULL) {
        fputs("memtrack: out of memory\n", stderr);
        goto done;
    }
    FILE *f = fopen(dest, "w");
    if (f == NULL) {
        fprintf(stderr, "memtrack: cannot write %s: %s\n", dest, strerror(errno));
        goto done;
    }
    errno = 0;
    int rc = mt__report_html(f, cap, sym);
    int saved = errno;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        fprintf(stderr, "memtrack: cannot write %s: %s\n", dest,
                saved ? strerror(saved) : "out of memory");
        goto done;
    }
    printf("%s\n", dest);
    status = 0;
done:
    mt__sym_free(sym);
    free(dflt);
    mt__capture_free(cap);
    return status;
}
