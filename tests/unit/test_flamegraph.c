/* Unit tests of the SVG flame graph (src/report/flamegraph.c): the tree merged from folded
 * lines, widths in proportion to weights, hover titles, escaping, and well-formed output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report/report.h"

static char *render(const mt_folded_line_t *lines, size_t n, const char *title)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(mt__report_flamegraph(f, lines, n, title, "bytes"), 0);
    fclose(f);
    return buf;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static void test_tree_and_widths(void **state)
{
    (void)state;
    mt_folded_line_t lines[] = {
        {"main;load;malloc_a", 300},
        {"main;load;malloc_b", 100},
        {"main;process", 600},
    };
    char *svg = render(lines, 3, "prog (pid 7): bytes live at the end");
    /* all, main, load, malloc_a, malloc_b, process: six frames, each a group with a title. */
    assert_int_equal(count(svg, "<g><title>"), 6);
    assert_int_equal(count(svg, "</g>"), 6);
    assert_non_null(strstr(svg, "<title>all (1000 bytes, 100.00%)</title>"));
    assert_non_null(strstr(svg, "<title>main (1000 bytes, 100.00%)</title>"));
    assert_non_null(strstr(svg, "<title>load (400 bytes, 40.00%)</title>"));
    assert_non_null(strstr(svg, "<title>malloc_a (300 bytes, 30.00%)</title>"));
    assert_non_null(strstr(svg, "<title>process (600 bytes, 60.00%)</title>"));
    /* Widths: 1180 px for everything; load 40 % of it, at the left of process (name order). */
    assert_non_null(strstr(svg, "width=\"1180.0\""));
    assert_non_null(strstr(svg, "<title>load (400 bytes, 40.00%)</title><rect x=\"10.0\""));
    assert_non_null(strstr(svg, "width=\"472.0\""));
    assert_non_null(strstr(svg, "<title>process (600 bytes, 60.00%)</title><rect x=\"482.0\""));
    assert_non_null(strstr(svg, "prog (pid 7): bytes live at the end (1000 bytes in all)"));
    assert_int_equal(count(svg, "<svg "), 1);
    assert_non_null(strstr(svg, "</svg>\n"));
    free(svg);
}

static void test_escaping_and_narrow_frames(void **state)
{
    (void)state;
    mt_folded_line_t lines[] = {
        {"main;std::vector<int, a&b>::push\"back'", 999999},
        {"main;tiny", 1}, /* far below a pixel: not drawn, still counted in main */
    };
    char *svg = render(lines, 2, "t<1>");
    assert_non_null(strstr(svg, "std::vector&lt;int, a&amp;b&gt;::push&quot;back&apos;"));
    assert_null(strstr(svg, "<title>tiny"));
    assert_non_null(strstr(svg, "<title>main (1000000 bytes, 100.00%)</title>"));
    assert_non_null(strstr(svg, "t&lt;1&gt; (1000000 bytes in all)"));
    assert_null(strstr(svg, "<int")); /* nothing unescaped */
    free(svg);
}

static void test_empty(void **state)
{
    (void)state;
    char *svg = render(NULL, 0, "nothing");
    assert_int_equal(count(svg, "<g>"), 0);
    assert_non_null(strstr(svg, "nothing (0 bytes in all)"));
    assert_non_null(strstr(svg, "</svg>\n"));
    free(svg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_and_widths),
        cmocka_unit_test(test_escaping_and_narrow_frames),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
