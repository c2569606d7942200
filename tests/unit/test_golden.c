/* Golden tests of the reports: one capture with every section (built here, frames in modules
 * that do not exist on disk, so names are module+offset on any machine) rendered as text,
 * JSON and folded stacks, compared byte for byte with tests/data/golden/. When a change to a
 * report is meant, regenerate them with MEMTRACK_UPDATE_GOLDEN=1 and review the diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture_builder.h"
#include "report/report.h"

#define APP 0x555555554000ull /* bias of /nonexistent/app */
#define LIB 0x7ffff7a00000ull /* bias of /nonexistent/libx.so */

static mt_capture_t *golden_capture(void)
{
    static char cmdline[] = "app\0--serve\0--port=8080";
    static mt_cap_module_t modules[] = {
        {APP, APP + 0x1000, APP + 0x9000, "/nonexistent/app", (uint8_t *)"\x12\x34", 2},
        {LIB, LIB + 0x1000, LIB + 0x40000, "/nonexistent/libx.so", NULL, 0},
    };
    /* main (app) -> handle (app) -> parse (lib) -> malloc site; and a tagged path. */
    static mt_cap_node_t nodes[] = {
        {0},
        {0, APP + 0x1200, 0, 0, 0, 0, 0, 0, 0},                 /* 1: main */
        {1, APP + 0x2300, 0, 0, 0, 0, 0, 0, 0},                 /* 2: handle */
        {2, LIB + 0x5400, 40, 40960, 10, 30, 30720, 20, 20480}, /* 3: parse */
        {1, APP + 0x3100, 5, 500, 0, 5, 500, 1, 100},           /* 4: main -> load */
        {0, MT_FMT_CLASS_FRAME + 1, 0, 0, 0, 0, 0, 0, 0},       /* 5: [class session] */
        {5, APP + 0x4200, 3, 3000, 0, 0, 0, 3, 3000},           /* 6: session path */
    };
    static mt_cap_thread_t threads[] = {
        {100, 30, 31460, 20, 17024, 15, 14436, 20000, 2000000, 10, 1, 0, 0, "app"},
        {101, 18, 13000, 4, 3856, 9, 9144, 9144, 3000000, 0, 0, 500000, 4000000, "worker<1>"},
    };
    static mt_cap_live_t live[24];
    size_t nl = 0;
    for (int i = 0; i < 20; i++)
        live[nl++] = (mt_cap_live_t){0x10000 + 0x1000u * i, 1024, 3, i < 14 ? 0 : 1};
    live[nl++] = (mt_cap_live_t){0x90000, 100, 4, 0};
    for (int i = 0; i < 3; i++)
        live[nl++] = (mt_cap_live_t){0xa0000 + 0x1000u * i, 1000, 6, 1};
    static mt_cap_class_t classes[] = {{"untagged", 45, 41460, 24, 20880, 0},
                                       {"session", 3, 3000, 0, 0, 8}};
    static mt_cap_contrib_t top0[] = {{3, 30, 30720}, {4, 5, 500}};
    static mt_cap_contrib_t top1[] = {{3, 20, 20480}, {6, 3, 3000}, {4, 1, 100}};
    static mt_cap_stage_t stages[] = {{"load", 0, 2500000, 31220, 2000000, 2, top0},
                                      {"", 2500000, 0, 23580, 3000000, 3, top1}};
    static mt_cap_named_t named[] = {{0x90000, "config", "app.c", 42}};
    static mt_cap_sample_t samples[] = {{0, 0, 0, 4096000},
                                        {1000000, 10240, 10, 4200000},
                                        {2000000, 31220, 35, 4400000},
                                        {3000000, 24100, 24, 4300000},
                                        {4000000, 23580, 24, 4300000}};
    static mt_capture_t c = {
        .version = MT_FMT_VERSION,
        .pid = 4242,
        .start_realtime_ns = 1795308167000000000ull,
        .duration_ns = 4000000,
        .depth = 64,
        .end_reason = MT_END_EXIT,
        .frame_kind = MT_FRAMES_NATIVE_RETURN,
        .engine_bytes = 3 << 20,
        .program = "/nonexistent/app",
        .cmdline = cmdline,
        .cmdline_len = sizeof cmdline - 1,
        .totals = {48, 24, 44460, 20880, 24, 23580, 31220, 2000000, 35, 10, 1, 2},
        .nmodules = 2,
        .modules = modules,
        .nnodes = 7,
        .nodes = nodes,
        .nthreads = 2,
        .threads = threads,
        .nclasses = 2,
        .classes = classes,
        .nstages = 2,
        .stages = stages,
        .nnamed = 1,
        .named = named,
        .nsamples = 5,
        .sample_interval_ns = 1000000,
        .samples = samples,
    };
    c.nlive = nl;
    c.live = live;
    size_t len;
    uint8_t *bytes = tb_capture(&c, &len);
    mt_capture_t *cap;
    char err[256];
    int r = mt__capture_parse(bytes, len, &cap, err, sizeof err);
    free(bytes);
    if (r != 0) fail_msg("the golden capture does not parse: %s", err);
    return cap;
}

/* Compares `got` with tests/data/golden/NAME, or writes it there when asked to. */
static void check_golden(const char *name, const char *got, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/%s", MT_TEST_DATA_DIR, name);
    const char *update = getenv("MEMTRACK_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(got, 1, len, f), len);
        fclose(f);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("no golden file %s (MEMTRACK_UPDATE_GOLDEN=1 writes it)", path);
    char *want = calloc(1, len + 2);
    size_t n = fread(want, 1, len + 1, f);
    fclose(f);
    if (n != len || memcmp(want, got, len) != 0) {
        print_error("--- %s (expected)\n%s\n+++ (got)\n%.*s\n", path, want, (int)len, got);
        free(want);
        fail_msg("%s differs (MEMTRACK_UPDATE_GOLDEN=1 rewrites it; review the diff)", name);
    }
    free(want);
}

typedef int (*render_fn)(FILE *out, const mt_capture_t *cap, mt_sym_t *sym, const void *opts);

static char *render(mt_capture_t *cap, int kind, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    mt_sym_t *sym = mt__sym_new(cap, NULL);
    assert_non_null(f);
    assert_non_null(sym);
    mt_report_opts_t ro = {.top = 0};
    mt_folded_opts_t fo = {.weight = MT_FOLDED_LIVE_BYTES};
    int r = kind == 0   ? mt__report_text(f, cap, sym, &ro)
            : kind == 1 ? mt__report_json(f, cap, sym, &ro)
                        : mt__report_folded(f, cap, sym, &fo);
    assert_int_equal(r, 0);
    fclose(f);
    mt__sym_free(sym);
    return buf;
}

static void test_golden(void **state)
{
    (void)state;
    mt_capture_t *cap = golden_capture();
    static const char *const names[] = {"report.txt", "report.json", "folded.txt"};
    for (int kind = 0; kind < 3; kind++) {
        size_t len;
        char *out = render(cap, kind, &len);
        check_golden(names[kind], out, len);
        free(out);
    }
    mt__capture_free(cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
