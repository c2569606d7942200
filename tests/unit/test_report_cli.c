/* Unit tests of `memtrack report`'s command line: exit statuses, the one-line errors on stderr,
 * and which writer runs. The command's source is compiled into this test, since the tests link
 * the libraries but not the executable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture_builder.h"
#include "cli/args.c"
#include "cli_run.h"
#include "cli/report_cmd.c"

/* Runs `memtrack report ARGS...` with stdout and stderr captured. */
static void run(result_t *r, ...)
{
    va_list ap;
    va_start(ap, r);
    run_cmd(r, mt__cmd_report, "report", ap);
    va_end(ap);
}

/* A capture file with two leaking call paths and no modules (frames stay addresses). */
static void write_capture(const char *path, size_t keep)
{
    mt_cap_node_t nodes[3] = {
        [1] = {.parent = 0, .frame = 0x1000, .live_blocks = 1, .live_bytes = 10},
        [2] = {.parent = 1, .frame = 0x2000, .live_blocks = 1, .live_bytes = 20},
    };
    mt_cap_live_t live[2] = {{0x10, 10, 1, 0}, {0x20, 20, 2, 0}};
    mt_cap_thread_t thread = {.tid = 1, .name = "t"};
    mt_capture_t c = {.program = "/bin/x",
                      .cmdline = "x",
                      .cmdline_len = 1,
                      .totals = {.allocations = 2, .live_blocks = 2, .live_bytes = 30},
                      .nodes = nodes,
                      .nnodes = 3,
                      .threads = &thread,
                      .nthreads = 1,
                      .live = live,
                      .nlive = 2};
    size_t len;
    uint8_t *data = tb_capture(&c, &len);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(data, 1, keep < len ? keep : len, f);
    fclose(f);
    free(data);
}

static void test_usage(void **state)
{
    (void)state;
    result_t r;
    run(&r, "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, USAGE, strlen(USAGE)) == 0);
    assert_string_equal(r.err, "");

    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {NULL, NULL, "memtrack report: no capture file given"},
        {"--bogus", "x.mtc", "memtrack report: unknown option '--bogus'"},
        {"--top", "abc", "memtrack report: bad --top 'abc' (want a number, 0 for all)"},
        {"--top=-1", "x.mtc", "memtrack report: bad --top '-1' (want a number, 0 for all)"},
        {"--top", "99999999999999999999999",
         "memtrack report: bad --top "
         "'99999999999999999999999' (want a number, 0 "
         "for all)"},
        {"--format", "xml", "memtrack report: bad --format 'xml' (want text or json)"},
        {"x.mtc", "--format", "memtrack report: --format needs a value (text or json)"},
        {"a.mtc", "b.mtc", "memtrack report: more than one capture given ('b.mtc')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(&r, cases[i].a, cases[i].b, NULL);
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        char want[512];
        snprintf(want, sizeof want, "%s (see 'memtrack report --help')\n", cases[i].want);
        assert_string_equal(r.err, want);
    }
}

static void test_bad_captures(void **state)
{
    (void)state;
    result_t r;
    run(&r, "/nonexistent/x.mtc", NULL);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.err, "memtrack: /nonexistent/x.mtc: No such file or directory\n");
    assert_string_equal(r.out, "");

    char path[] = "/tmp/mt_test_cli_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_capture(path, 40);
    run(&r, path, NULL);
    assert_int_equal(r.status, 2);
    char want[256];
    snprintf(want, sizeof want, "memtrack: %s: truncated: META section needs 87 bytes, 8 left\n",
             path);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    unlink(path);
}

static void test_reports(void **state)
{
    (void)state;
    char path[] = "/tmp/mt_test_cli_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_capture(path, SIZE_MAX);

    result_t r;
    run(&r, path, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, "\nLeaks: 30 B in 2 blocks still live at exit, from 2 call "
                                  "paths\n  #1  20 B in 1 block\n      0x2000\n      0x1000\n"
                                  "  #2  10 B in 1 block\n      0x1000\n"));

    run(&r, "--top", "1", path, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "  \u2026 and 1 more call path (--top to see more)\n"));

    run(&r, "--format=json", "--top=1", "--", path, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    assert_true(r.out[0] == '{');
    assert_non_null(strstr(r.out, "\"leak_call_paths\": 2,"));
    assert_null(strstr(r.out, "\"node\": 1,"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_bad_captures),
        cmocka_unit_test(test_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
