/* `memtrack pprof`: reads a capture and writes it as a gzipped pprof profile (profile.proto),
 * for `go tool pprof` and continuous-profiling services. Problems with the command line or the
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

#define USAGE "usage: memtrack pprof [-o FILE] CAPTURE\n"

static void help(FILE *out)
{
    fputs(USAGE
          "\n"
          "Write a capture as a gzipped pprof profile with the sample types alloc_objects,\n"
          "alloc_space, inuse_objects and inuse_space (read it with 'go tool pprof').\n"
          "\n"
          "  -o, --output FILE  where to write it (default: CAPTURE with .mtc replaced by\n"
          "                     .pb.gz); an existing file is replaced\n"
          "  -h, --help         show this help\n"
          "\n"
          "Exit status: 0 on success, 1 if the profile could not be written, 2 for bad usage\n"
          "or a missing, truncated or corrupt capture.\n",
          out);
}

static bool write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0) ok = false;
    return ok;
}

int mt__cmd_pprof(int argc, char **argv)
{
    mt_cli_args_t args = {0};
    int rc = mt__cli_parse("pprof", MT_CLI_OUTPUT, 1, help, argc, argv, &args);
    if (rc >= 0) return rc;
    if (args.npaths == 0) return mt__cli_usage_error("pprof", "no capture file given");
    const char *path = args.paths[0], *output = args.output;

    mt_capture_t *cap = mt__cli_read_capture(path);
    if (cap == NULL) return 2;
    int status = 1;
    char *dflt = output == NULL ? mt__cli_output_name(path, ".pb.gz") : NULL;
    const char *dest = output != NULL ? output : dflt;
    mt_sym_t *sym = mt__sym_new(cap, stderr);
    uint8_t *data = NULL;
    size_t len = 0;
    if (dest == NULL || sym == NULL || mt__report_pprof(cap, sym, &data, &len) != 0) {
        fputs("memtrack: out of memory\n", stderr);
    } else if (!write_file(dest, data, len)) {
        fprintf(stderr, "memtrack: cannot write %s: %s\n", dest, strerror(errno));
    } else {
        printf("memtrack: pprof profile written to %s\n", dest);
        status = 0;
    }
    free(data);
    free(dflt);
    mt__sym_free(sym);
    mt__capture_free(cap);
    return status;
}
