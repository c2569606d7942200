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
    const char *cmd = "html", *output = NULL, *path = NULL;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        int r;
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (path != NULL)
                return mt__cli_usage_error(cmd, "more than one capture given ('%s')", a);
            path = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if ((r = mt__cli_option("-o", argc, argv, &i, &val)) != 0 ||
                   (r = mt__cli_option("--output", argc, argv, &i, &val)) != 0) {
            if (r < 0 || !*val) return mt__cli_usage_error(cmd, "%s needs a file name", a);
            output = val;
        } else {
            return mt__cli_usage_error(cmd, "unknown option '%s'", a);
        }
    }
    if (path == NULL) return mt__cli_usage_error(cmd, "no capture file given");

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
