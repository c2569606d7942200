/* Unit tests of `memtrack folded`: the exact folded stacks of a synthetic capture for every
 * weight, --thread, frame names (module+offset, raw addresses, class markers with ';' and a
 * newline in their name, the path without frames), and the one-line errors of the command line
 * (whose source is compiled in here, as the tests link the libraries but not the executable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/args.c"
#include "cli_run.h"
#include "cli/folded_cmd.c"
#include "report/report.h"
#include "tree_fixture.h"

static char dir[] = "/tmp/mt_test_folded.XXXXXX";
static char capture_path[256], bad_path[256], old_path[256], merged_path[256];

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL) return -1;
    snprintf(capture_path, sizeof capture_path, "%s/good.mtc", dir);
    snprintf(bad_path, sizeof bad_path, "%s/truncated.mtc", dir);
    snprintf(old_path, sizeof old_path, "%s/old.mtc", dir);
    snprintf(merged_path, sizeof merged_path, "%s/merged.mtc", dir);
    return tree_fixture_write(capture_path, false) == 0 &&
                   tree_fixture_write(bad_path, true) == 0 &&
                   tree_fixture_write_as(old_path, false, TF_NO_TNODES) == 0 &&
                   tree_fixture_write_as(merged_path, false, TF_MERGED) == 0
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(capture_path);
    unlink(bad_path);
    unlink(old_path);
    unlink(merged_path);
    rmdir(dir);
    return 0;
}

static void folded(result_t *r, ...)
{
    va_list ap;
    va_start(ap, r);
    run_cmd(r, mt__cmd_folded, "folded", ap);
    va_end(ap);
}

/* The command's output with these arguments, which must succeed. */
static void expect(const char *want, ...)
{
    result_t r;
    va_list ap;
    va_start(ap, want);
    run_cmd(&r, mt__cmd_folded, "folded", ap);
    va_end(ap);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, want);
}

static void test_weights(void **state)
{
    (void)state;
    const char *live_bytes = "[class pa:r ser];prog+0x200 20\n"
                             "[no call path] 8\n"
                             "prog+0x500;libfoo.so+0x40 50\n"
                             "prog+0x500;prog+0x100 200\n";
    expect(live_bytes, capture_path, NULL);
    expect(live_bytes, "--weight", "live-bytes", capture_path, NULL);
    expect("[class pa:r ser];prog+0x200 2\n"
           "[no call path] 1\n"
           "prog+0x500;libfoo.so+0x40 1\n"
           "prog+0x500;prog+0x100 2\n",
           "--weight=live-blocks", capture_path, NULL);
    expect("[class pa:r ser];prog+0x200 3\n"
           "[no call path] 1\n"
           "prog+0x500;0x1234 2\n"
           "prog+0x500;libfoo.so+0x40 1\n"
           "prog+0x500;prog+0x100 4\n",
           "--weight", "allocations", capture_path, NULL);
    expect("[class pa:r ser];prog+0x200 30\n"
           "[no call path] 8\n"
           "prog+0x500;0x1234 20\n"
           "prog+0x500;libfoo.so+0x40 50\n"
           "prog+0x500;prog+0x100 400\n",
           capture_path, "--weight", "bytes", NULL);
    expect("[class pa:r ser];prog+0x200 20\n"
           "[no call path] 8\n"
           "prog+0x500;libfoo.so+0x40 50\n"
           "prog+0x500;prog+0x100 300\n",
           "--weight", "peak-bytes", capture_path, NULL);
    expect("[class pa:r ser];prog+0x200 2\n"
           "[no call path] 1\n"
           "prog+0x500;libfoo.so+0x40 1\n"
           "prog+0x500;prog+0x100 3\n",
           "--weight", "peak-blocks", capture_path, NULL);
}

static void test_thread(void **state)
{
    (void)state;
    expect("[class pa:r ser];prog+0x200 20\n"
           "[no call path] 8\n"
           "prog+0x500;prog+0x100 100\n",
           "--thread", "100", capture_path, NULL);
    expect("prog+0x500;libfoo.so+0x40 1\n"
           "prog+0x500;prog+0x100 1\n",
           "--thread=200", "--weight", "live-blocks", capture_path, NULL);
    /* The other weights come from the figures by thread (THREAD_NODES). */
    expect("[class pa:r ser];prog+0x200 30\n"
           "[no call path] 8\n"
           "prog+0x500;0x1234 10\n"
           "prog+0x500;prog+0x100 200\n",
           "--thread", "100", "--weight", "bytes", capture_path, NULL);
    expect("prog+0x500;0x1234 1\n"
           "prog+0x500;libfoo.so+0x40 1\n"
           "prog+0x500;prog+0x100 2\n",
           "--thread", "200", "--weight", "allocations", capture_path, NULL);
    expect("prog+0x500;libfoo.so+0x40 50\n"
           "prog+0x500;prog+0x100 100\n",
           "--thread", "200", "--weight", "peak-bytes", capture_path, NULL);
    expect("[class pa:r ser];prog+0x200 2\n"
           "[no call path] 1\n"
           "prog+0x500;prog+0x100 2\n",
           "--thread", "100", "--weight", "peak-blocks", capture_path, NULL);
    /* Live weights need no figures by thread: older captures and merged threads have them. */
    expect("prog+0x500;libfoo.so+0x40 50\n"
           "prog+0x500;prog+0x100 100\n",
           "--thread", "200", old_path, NULL);
    expect("prog+0x500;libfoo.so+0x40 50\n"
           "prog+0x500;prog+0x100 100\n",
           "--thread", "200", merged_path, NULL);
    /* Thread 100's figures are its own in the capture where 200's were merged. */
    expect("[class pa:r ser];prog+0x200 3\n"
           "[no call path] 1\n"
           "prog+0x500;0x1234 1\n"
           "prog+0x500;prog+0x100 2\n",
           "--thread", "100", "--weight", "allocations", merged_path, NULL);
}

/* Without a symbolizer frames stay addresses, and the class marker is still named. */
static void test_no_symbolizer(void **state)
{
    (void)state;
    mt_capture_t *cap = tree_fixture_capture();
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = open_memstream(&buf, &blen);
    mt_folded_opts_t opts = {.weight = MT_FOLDED_BYTES};
    assert_int_equal(mt__report_folded(out, cap, NULL, &opts), 0);
    fclose(out);
    assert_string_equal(buf, "0x555500000501;0x1234 20\n"
                             "0x555500000501;0x555500000101 400\n"
                             "0x555500000501;0x7f0000000041 50\n"
                             "0xffff000000000001;0x555500000201 30\n"
                             "[no call path] 8\n");
    free(buf);
    mt__capture_free(cap);
}

/* Fails with status 2 and exactly one line on stderr, nothing on stdout. */
static void expect_error(const char *what, ...)
{
    result_t r;
    va_list ap;
    va_start(ap, what);
    run_cmd(&r, mt__cmd_folded, "folded", ap);
    va_end(ap);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    if (strstr(r.err, what) == NULL) fail_msg("stderr lacks '%s': %s", what, r.err);
    assert_non_null(strchr(r.err, '\n'));
    assert_true(strchr(r.err, '\n')[1] == '\0');
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("no capture file given", NULL);
    expect_error("no capture file given", "--weight", "bytes", NULL);
    expect_error("bad --weight 'heavy'", "--weight", "heavy", capture_path, NULL);
    expect_error("--weight needs a value", capture_path, "--weight", NULL);
    expect_error("unknown option '--top'", "--top", "3", capture_path, NULL);
    expect_error("more than one capture", capture_path, capture_path, NULL);
    expect_error("bad --thread 'x1'", "--thread", "x1", capture_path, NULL);
    expect_error("bad --thread '-1'", "--thread", "-1", capture_path, NULL);
    expect_error("--thread 100 --weight bytes: the capture has no call-path figures per thread "
                 "(written by an older memtrack)",
                 "--thread", "100", "--weight", "bytes", old_path, NULL);
    expect_error("--thread 200 --weight peak-bytes: the call-path figures of thread 200 were "
                 "merged with those of other ended threads",
                 "--weight", "peak-bytes", "--thread", "200", merged_path, NULL);
    expect_error("has no thread 300", "--thread", "300", capture_path, NULL);
    expect_error("truncated", bad_path, NULL);
    expect_error("/nonexistent/capture.mtc", "/nonexistent/capture.mtc", NULL);

    result_t r;
    folded(&r, "--help", (char *)NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: memtrack folded"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_thread),
        cmocka_unit_test(test_no_symbolizer),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
