/* For unit tests of CLI subcommands: runs one (the function, compiled into the test) with its
 * stdout and stderr captured into a result. */
#ifndef MT_TEST_CLI_RUN_H
#define MT_TEST_CLI_RUN_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

typedef struct result_s {
    int status;
    char out[32768];
    char err[4096];
} result_t;

static void slurp(FILE *f, char *buf, size_t len)
{
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs cmd(argc, argv) with argv = {name, the NULL-terminated arguments...}. */
static void run_cmd(result_t *r, int (*cmd)(int, char **), const char *name, va_list ap)
{
    char *argv[16] = {(char *)name};
    int argc = 1;
    for (char *a; argc < 15 && (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;

    fflush(stdout);
    fflush(stderr);
    FILE *o = tmpfile(), *e = tmpfile();
    assert_non_null(o);
    assert_non_null(e);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(o), 1);
    dup2(fileno(e), 2);
    r->status = cmd(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    slurp(o, r->out, sizeof r->out);
    slurp(e, r->err, sizeof r->err);
}

#endif
