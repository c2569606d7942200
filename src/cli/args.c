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
