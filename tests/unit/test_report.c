/* Unit tests of the report layer: size formatting, the model (leak and peak ranking, call path
 * walks), symbolization of this test binary's own functions (inlined ones too), and the key
 * parts of the JSON and text output. */
#include <link.h>
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
#include "report/report.h"

/* --- functions whose addresses the capture records --- */

static uintptr_t recorded_return;

__attribute__((noinline)) void mt_test_leaf(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void mt_test_record(void)
{
    recorded_return = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

static inline __attribute__((always_inline)) void mt_test_inner(void)
{
    mt_test_record(); /* inner call */
}

__attribute__((noinline)) void mt_test_outer(void)
{
    mt_test_inner();                   /* outer call */
    __asm__ volatile("" ::: "memory"); /* keeps the call a call, not a jump */
}

/* The line of this source file that contains `marker`, so the tests do not hard-code lines. */
static uint32_t line_of(const char *marker)
{
    FILE *f = fopen(__FILE__, "r");
    assert_non_null(f);
    char buf[512];
    uint32_t line = 0, found = 0;
    while (found == 0 && fgets(buf, sizeof buf, f) != NULL) {
        line++;
        if (strstr(buf, marker) != NULL && strstr(buf, "line_of") == NULL) found = line;
    }
    fclose(f);
    assert_int_not_equal(found, 0);
    return found;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* --- the module map of this executable, as the preload library would record it --- */

typedef struct self_module_s {
    mt_cap_module_t m;
    char path[4096];
    uint8_t id[64];
} self_module_t;

static int self_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    self_module_t *sm = arg;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            if (start < lo) lo = start;
            if (start + ph->p_memsz > hi) hi = start + ph->p_memsz;
        }
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(uintptr_t)start, *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *n;
            const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                n->n_descsz <= sizeof sm->id) {
                memcpy(sm->id, desc, n->n_descsz);
                sm->m.build_id = sm->id;
                sm->m.build_id_len = n->n_descsz;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    sm->m.bias = info->dlpi_addr;
    sm->m.start = lo;
    sm->m.end = hi;
    return 1; /* the first entry is the executable */
}

static void self_module(self_module_t *sm)
{
    memset(sm, 0, sizeof *sm);
    ssize_t n = readlink("/proc/self/exe", sm->path, sizeof sm->path - 1);
    assert_true(n > 0);
    sm->path[n] = '\0';
    sm->m.path = sm->path;
    dl_iterate_phdr(self_cb, sm);
    assert_true(sm->m.start < sm->m.end);
}

/* --- a capture around this executable --- */

typedef struct fixture_s {
    mt_capture_t c;
    self_module_t self;
    mt_cap_module_t modules[2];
    mt_cap_node_t nodes[6];
    mt_cap_thread_t threads[2];
    mt_cap_live_t live[7];
} fixture_t;

/* Call tree: 1 leaf (from the root), 2 outer (inlined record) below 1, 3 an unknown address
 * below 1, 4 stands for the root (stackless), 5 a frame in a module that cannot be read.
 * Live: node 2 three blocks of 100, node 3 one of 300, node 1 two of 150, root one of 7. */
static void fixture(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    mt_test_outer();
    self_module(&f->self);
    mt_capture_t *c = &f->c;
    c->version = 1;
    c->pid = 77;
    c->duration_ns = 2500000000ull;
    c->depth = 32;
    c->end_reason = MT_END_EXIT;
    c->end_value = 0;
    c->program = "/tmp/a\"b\\c\n\xff";
    c->cmdline = "prog\0--x\0";
    c->cmdline_len = 9;
    f->modules[0] = f->self.m;
    f->modules[1] =
        (mt_cap_module_t){0x10000000, 0x10000000, 0x10100000, "/nonexistent/libgone.so", NULL, 0};
    c->modules = f->modules;
    c->nmodules = 2;
    f->nodes[1] = (mt_cap_node_t){.parent = 0,
                                  .frame = (uintptr_t)&mt_test_leaf + 1,
                                  .peak_blocks = 2,
                                  .peak_bytes = 300,
                                  .live_blocks = 2,
                                  .live_bytes = 300};
    f->nodes[2] = (mt_cap_node_t){.parent = 1,
                                  .frame = recorded_return,
                                  .peak_blocks = 3,
                                  .peak_bytes = 300,
                                  .live_blocks = 3,
                                  .live_bytes = 300};
    f->nodes[3] = (mt_cap_node_t){.parent = 1,
                                  .frame = 0x1234,
                                  .peak_blocks = 1,
                                  .peak_bytes = 400,
                                  .live_blocks = 1,
                                  .live_bytes = 300};
    f->nodes[4] = (mt_cap_node_t){.parent = 0, .frame = 0, .live_blocks = 1, .live_bytes = 7};
    f->nodes[5] = (mt_cap_node_t){.parent = 0, .frame = 0x10000101};
    c->nodes = f->nodes;
    c->nnodes = 6;
    f->threads[0] = (mt_cap_thread_t){.tid = 77,
                                      .allocations = 9,
                                      .allocated_bytes = 3000,
                                      .frees = 2,
                                      .live_blocks = 7,
                                      .live_bytes = 907,
                                      .peak_bytes = 1000,
                                      .name = "main\tthread"};
    f->threads[1] = (mt_cap_thread_t){.tid = 78, .name = ""};
    c->threads = f->threads;
    c->nthreads = 2;
    f->live[0] = (mt_cap_live_t){0x1000, 100, 2, 0};
    f->live[1] = (mt_cap_live_t){0x2000, 100, 2, 0};
    f->live[2] = (mt_cap_live_t){0x3000, 100, 2, 0};
    f->live[3] = (mt_cap_live_t){0x4000, 300, 3, 0};
    f->live[4] = (mt_cap_live_t){0x5000, 150, 1, 0};
    f->live[5] = (mt_cap_live_t){0x5800, 150, 1, 0};
    f->live[6] = (mt_cap_live_t){0x6000, 7, 0, 0};
    c->live = f->live;
    c->nlive = 7;
    c->totals = (mt_cap_totals_t){.allocations = 9,
                                  .frees = 2,
                                  .allocated_bytes = 3000,
                                  .freed_bytes = 2093,
                                  .live_blocks = 7,
                                  .live_bytes = 907,
                                  .peak_bytes = 1000,
                                  .peak_time_ns = 12345678,
                                  .peak_blocks = 6,
                                  .threads = 2};
}

/* The fixture written out and read back, so the report code sees what the reader gives it. */
static mt_capture_t *load(fixture_t *f)
{
    size_t len;
    uint8_t *data = tb_capture(&f->c, &len);
    char err[256] = "";
    mt_capture_t *cap = NULL;
    if (mt__capture_parse(data, len, &cap, err, sizeof err) != 0) fail_msg("parse: %s", err);
    free(data);
    return cap;
}

/* Runs one of the writers into a string (free it). */
static char *render(int (*writer)(FILE *, const mt_capture_t *, mt_sym_t *,
                                  const mt_report_opts_t *),
                    const mt_capture_t *cap, mt_sym_t *sym, size_t top)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    mt_report_opts_t opts = {.top = top};
    assert_int_equal(writer(out, cap, sym, &opts), 0);
    fclose(out);
    return buf;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL) {
        /* cmocka cuts long messages: print the whole output first. */
        fprintf(stderr, "expected to find:\n%s\n--- in ---\n%s\n", needle, haystack);
        fail();
    }
}

/* --- tests --- */

static void test_fmt_bytes(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *want;
    } cases[] = {
        {0, "0 B"},           {512, "512 B"},          {1023, "1023 B"},
        {1024, "1.0 KiB"},    {12595, "12.3 KiB"},     {1048575, "1.0 MiB"},
        {4718592, "4.5 MiB"}, {1288490189, "1.2 GiB"}, {UINT64_MAX, "16.0 EiB"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt__fmt_bytes(cases[i].v, buf, sizeof buf);
        assert_string_equal(buf, cases[i].want);
    }
    mt__fmt_bytes(12595, buf, 4);
    assert_string_equal(buf, "12.");
    mt__fmt_ms(0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    mt__fmt_ms(12345678, buf, sizeof buf);
    assert_string_equal(buf, "12.345678");
    mt__fmt_ms(2500000, buf, sizeof buf);
    assert_string_equal(buf, "2.5");
    mt__fmt_ms(1, buf, sizeof buf);
    assert_string_equal(buf, "0.000001");
}

static void test_model_ranks_and_walks(void **state)
{
    (void)state;
    /* Ties on bytes go to more blocks, then to the lower node id. */
    mt_cap_node_t nodes[7] = {
        [1] = {.parent = 0, .frame = 0x10, .live_blocks = 1, .live_bytes = 100},
        [2] = {.parent = 1, .frame = 0x20, .live_blocks = 2, .live_bytes = 100, .peak_bytes = 5},
        [3] = {.parent = 2, .frame = 0x30, .live_blocks = 0, .live_bytes = 0, .peak_bytes = 9},
        [4] = {.parent = 1, .frame = 0x40, .live_blocks = 1, .live_bytes = 300, .peak_blocks = 1},
        [5] = {.parent = 0, .frame = 0x50, .live_blocks = 2, .live_bytes = 100, .peak_bytes = 9},
        [6] = {.parent = 0, .frame = 0, .live_blocks = 1, .live_bytes = 0},
    };
    mt_capture_t cap = {.nodes = nodes, .nnodes = 7};
    mt_model_t m;
    assert_int_equal(mt__model_init(&m, &cap), 0);
    uint32_t want_leaks[] = {4, 2, 5, 1, 6};
    assert_int_equal(m.nleaks, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(m.leaks[i].node, want_leaks[i]);
    assert_int_equal(m.leaks[0].bytes, 300);
    assert_int_equal(m.leaks[0].blocks, 1);
    uint32_t want_peak[] = {3, 5, 2, 4};
    assert_int_equal(m.npeak, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(m.peak[i].node, want_peak[i]);
    mt__model_destroy(&m);

    uint64_t frames[2];
    assert_int_equal(mt__model_path(&cap, 3, frames, 2), 3); /* 0x30, 0x20, 0x10 */
    assert_int_equal(frames[0], 0x30);
    assert_int_equal(frames[1], 0x20);
    size_t n;
    uint64_t *all = mt__model_path_dup(&cap, 3, &n);
    assert_int_equal(n, 3);
    assert_int_equal(all[2], 0x10);
    free(all);
    assert_int_equal(mt__model_path(&cap, 6, frames, 2), 0); /* the root's stand-in */
    assert_int_equal(mt__model_path(&cap, 0, frames, 2), 0);

    mt_capture_t argv = {.cmdline = "a\0\0bc", .cmdline_len = 5};
    const char *arg;
    size_t pos = 0, len;
    assert_true(mt__cmdline_next(&argv, &pos, &arg, &len));
    assert_int_equal(len, 1);
    assert_true(mt__cmdline_next(&argv, &pos, &arg, &len));
    assert_int_equal(len, 0);
    assert_true(mt__cmdline_next(&argv, &pos, &arg, &len));
    assert_memory_equal(arg, "bc", 2);
    assert_int_equal(len, 2);
    assert_false(mt__cmdline_next(&argv, &pos, &arg, &len));
}

static void test_symbolize_self(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    mt_capture_t *cap = load(&f);
    char *warn_buf = NULL;
    size_t warn_len = 0;
    FILE *warn = open_memstream(&warn_buf, &warn_len);
    mt_sym_t *sym = mt__sym_new(cap, warn);
    assert_non_null(sym);

    const mt_sym_frame_t *e;
    assert_int_equal(mt__sym_lookup(sym, cap->nodes[1].frame, &e), 1);
    assert_string_equal(e[0].function, "mt_test_leaf");
    assert_non_null(e[0].file);
    assert_true(ends_with(e[0].file, "test_report.c"));
    /* The entry instruction's line depends on the optimizer: anywhere in the function. */
    uint32_t decl = line_of("void mt_test_leaf(void)");
    assert_in_range(e[0].line, decl, decl + 3);
    assert_string_equal(e[0].module, f.self.path);
    assert_int_equal(e[0].offset, (uintptr_t)&mt_test_leaf - f.self.m.bias);
    assert_int_equal(e[0].address, (uintptr_t)&mt_test_leaf + 1);
    assert_false(e[0].inlined);

    /* One address, two entries: the inlined function, then the one it was inlined into. */
    assert_int_equal(mt__sym_lookup(sym, recorded_return, &e), 2);
    assert_string_equal(e[0].function, "mt_test_inner");
    assert_int_equal(e[0].line, line_of("/* inner call */"));
    assert_true(e[0].inlined);
    assert_string_equal(e[1].function, "mt_test_outer");
    assert_true(ends_with(e[1].file, "test_report.c"));
    assert_int_equal(e[1].line, line_of("/* outer call */"));
    assert_false(e[1].inlined);
    assert_int_equal(e[1].address, recorded_return);

    /* Cached: the same entries come back. */
    const mt_sym_frame_t *again;
    assert_int_equal(mt__sym_lookup(sym, recorded_return, &again), 2);
    assert_ptr_equal(again, e);

    /* Outside every module. */
    assert_int_equal(mt__sym_lookup(sym, 0x1234, &e), 1);
    assert_null(e[0].function);
    assert_null(e[0].module);
    assert_int_equal(e[0].address, 0x1234);

    /* A module that cannot be read: module+offset, and one warning however many frames. */
    assert_int_equal(mt__sym_lookup(sym, 0x10000101, &e), 1);
    assert_null(e[0].function);
    assert_null(e[0].file);
    assert_string_equal(e[0].module, "/nonexistent/libgone.so");
    assert_int_equal(e[0].offset, 0x100);
    assert_int_equal(mt__sym_lookup(sym, 0x10000201, &e), 1);

    /* Many distinct frames make the cache grow. */
    for (uint64_t a = 0; a < 1000; a++)
        mt__sym_lookup(sym, 0x20000000 + a, &e);
    assert_int_equal(mt__sym_lookup(sym, cap->nodes[1].frame, &e), 1);
    assert_string_equal(e[0].function, "mt_test_leaf");

    mt__sym_free(sym);
    fclose(warn);
    assert_string_equal(warn_buf,
                        "memtrack: warning: cannot read /nonexistent/libgone.so (No such file or "
                        "directory); its frames are shown as module+offset\n");
    free(warn_buf);
    mt__capture_free(cap);
}

static void test_symbolize_build_id_mismatch(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    if (f.self.m.build_id_len == 0) skip(); /* linked without --build-id */
    uint8_t other[64];
    memcpy(other, f.self.id, f.self.m.build_id_len);
    other[0] ^= 0xff;
    f.modules[0].build_id = other;
    mt_capture_t *cap = load(&f);
    char *warn_buf = NULL;
    size_t warn_len = 0;
    FILE *warn = open_memstream(&warn_buf, &warn_len);
    mt_sym_t *sym = mt__sym_new(cap, warn);
    const mt_sym_frame_t *e;
    assert_int_equal(mt__sym_lookup(sym, cap->nodes[1].frame, &e), 1);
    assert_null(e[0].function);
    assert_string_equal(e[0].module, f.self.path);
    assert_int_equal(e[0].offset, (uintptr_t)&mt_test_leaf - f.self.m.bias);
    assert_int_equal(mt__sym_lookup(sym, recorded_return, &e), 1);
    mt__sym_free(sym);
    fclose(warn);
    char want[8192];
    snprintf(want, sizeof want,
             "memtrack: warning: %s is not the file the program ran (build-id differs); its "
             "frames are shown as module+offset\n",
             f.self.path);
    assert_string_equal(warn_buf, want);
    free(warn_buf);
    mt__capture_free(cap);
}

static void test_json(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    mt_capture_t *cap = load(&f);
    mt_sym_t *sym = mt__sym_new(cap, NULL);
    char *out = render(mt__report_json, cap, sym, 0);

    if (getenv("MT_TEST_DUMP") != NULL) fputs(out, stderr);
    assert_true(out[0] == '{');
    assert_true(ends_with(out, "}\n"));
    assert_contains(out, "\n  \"format_version\": 1,\n");
    assert_contains(out, "\n  \"program\": \"/tmp/a\\\"b\\\\c\\n\\ufffd\",\n");
    assert_contains(out, "\n  \"pid\": 77,\n  \"parent_pid\": 0,\n");
    assert_contains(out, "\"cmdline\": [\n    \"prog\",\n    \"--x\"\n  ],");
    assert_contains(out, "\"duration_ms\": 2500,");
    assert_contains(out, "\"end\": {\n    \"reason\": \"exit\",\n    \"value\": 0\n  },");
    assert_contains(out, "\"degraded\": false,\n  \"dropped_events\": 0,");
    assert_contains(out, "\"totals\": {\n    \"allocations\": 9,\n    \"frees\": 2,\n"
                         "    \"allocated_bytes\": 3000,\n    \"freed_bytes\": 2093,\n"
                         "    \"live_blocks\": 7,\n    \"live_bytes\": 907,\n"
                         "    \"peak_bytes\": 1000,\n    \"peak_blocks\": 6,\n"
                         "    \"peak_time_ms\": 12.345678,\n    \"temporary\": 0,\n"
                         "    \"unknown_frees\": 0,\n    \"threads\": 2\n  },");
    assert_contains(out, "\"peak\": {\n    \"bytes\": 1000,\n    \"blocks\": 6,\n"
                         "    \"time_ms\": 12.345678,\n    \"call_paths\": 3,\n");
    assert_contains(out, "\"name\": \"main\\tthread\",");
    assert_contains(out, "\"leak_call_paths\": 4,");

    /* Leaks: 300 bytes in 3 blocks (node 2), then 2 blocks (node 1), then 1 (node 3), then
     * the stackless 7 bytes with an empty stack. */
    const char *leaks = strstr(out, "\"leaks\": [");
    assert_non_null(leaks);
    const char *n2 = strstr(leaks, "\"node\": 2,\n      \"live_blocks\": 3,\n"
                                   "      \"live_bytes\": 300,");
    const char *n1 = strstr(leaks, "\"node\": 1,\n      \"live_blocks\": 2,");
    const char *n3 = strstr(leaks, "\"node\": 3,\n      \"live_blocks\": 1,");
    const char *n4 = strstr(leaks, "\"node\": 4,\n      \"live_blocks\": 1,\n"
                                   "      \"live_bytes\": 7,\n      \"names\": [],\n"
                                   "      \"class\": null,\n"
                                   "      \"stack\": []");
    assert_true(n2 != NULL && n1 != NULL && n3 != NULL && n4 != NULL);
    assert_true(n2 < n1 && n1 < n3 && n3 < n4);

    char line[8192];
    snprintf(line, sizeof line,
             "{\"function\": \"mt_test_inner\", \"file\": \"%s\", \"line\": %u, \"module\": "
             "\"%s\", \"address\": \"0x%lx\", \"offset\": \"0x%lx\", \"inlined\": true},\n",
             __FILE__, line_of("/* inner call */"), f.self.path, (unsigned long)recorded_return,
             (unsigned long)(recorded_return - 1 - f.self.m.bias));
    assert_contains(n2, line);
    assert_contains(n2, "{\"function\": \"mt_test_outer\", \"file\": ");
    assert_contains(n3, "{\"function\": null, \"file\": null, \"line\": 0, \"module\": null, "
                        "\"address\": \"0x1234\", \"offset\": null, \"inlined\": false},");
    free(out);

    /* --top cuts both lists. */
    out = render(mt__report_json, cap, sym, 1);
    assert_null(strstr(out, "\"node\": 1,"));
    assert_contains(out, "\"leak_call_paths\": 4,");
    free(out);
    mt__sym_free(sym);
    mt__capture_free(cap);
}

static void test_text(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    f.c.flags = MT_META_DEGRADED | MT_META_TRUNCSTK;
    f.c.dropped_events = 12;
    mt_capture_t *cap = load(&f);
    mt_sym_t *sym = mt__sym_new(cap, NULL);
    char *out = render(mt__report_text, cap, sym, 2);

    assert_contains(out, "Program:  /tmp/a\"b\\c\\x0a\xff\n");
    assert_contains(out, "Command:  prog --x\n");
    assert_contains(out, "PID:      77\n");
    assert_contains(out, "Duration: 2.500 s\n");
    assert_contains(out, "Ended:    exit status 0\n");
    assert_contains(out, "warning: the engine ran short of memory and dropped 12 events; the "
                         "figures are incomplete\n");
    assert_contains(out, "warning: some call paths were cut at the depth limit (32 frames)\n");
    assert_contains(out, "  allocations:    9, 2.9 KiB (3000 bytes)\n");
    assert_contains(out, "  live at exit:   7 blocks, 907 B\n");
    assert_contains(out, "\nPeak: 1000 B in 6 blocks, at 12.345678 ms\n"
                         "  #1  400 B in 1 block\n      0x1234\n      mt_test_leaf  ");
    assert_contains(out, "  \u2026 and 1 more call path (--top to see more)\n");
    assert_contains(out, "\nThreads\n"
                         "  tid  name            allocations  allocated  frees  live blocks  "
                         "live bytes    peak\n"
                         "  77   main\\x09thread            9    2.9 KiB      2            7  "
                         "     907 B  1000 B\n"
                         "  78   -                         0        0 B      0            0  "
                         "       0 B     0 B\n");
    assert_contains(out, "\nLeaks: 907 B in 7 blocks still live at exit, from 4 call paths\n"
                         "  #1  300 B in 3 blocks\n      mt_test_inner  ");
    char want[256];
    snprintf(want, sizeof want, "test_report.c:%u  (inlined)\n      mt_test_outer  ",
             line_of("/* inner call */"));
    assert_contains(out, want);
    assert_contains(out, "  #2  300 B in 2 blocks\n      mt_test_leaf  ");
    assert_contains(out, "  \u2026 and 2 more call paths (--top to see more)\n");
    free(out);

    /* All of them with --top 0, the stackless one last. */
    out = render(mt__report_text, cap, sym, 0);
    assert_contains(out, "  #4  7 B in 1 block\n      (no call path recorded)\n");
    assert_null(strstr(out, "more call path"));
    free(out);
    mt__sym_free(sym);
    mt__capture_free(cap);

    /* Nothing leaked, killed by a signal. */
    fixture(&f);
    f.c.end_reason = MT_END_SIGNAL;
    f.c.end_value = 11;
    for (size_t i = 0; i < 6; i++)
        f.nodes[i].live_blocks = f.nodes[i].live_bytes = 0;
    f.threads[0].live_blocks = f.threads[0].live_bytes = 0;
    f.c.nlive = 0;
    f.c.totals.live_blocks = f.c.totals.live_bytes = 0;
    cap = load(&f);
    out = render(mt__report_text, cap, NULL, 10);
    assert_contains(out, "Ended:    killed by signal SIGSEGV\n");
    assert_contains(out, "  live at the signal: 0 blocks, 0 B\n");
    assert_contains(out, "\nLeaks: none; every tracked allocation was freed before the signal\n");
    free(out);
    mt__capture_free(cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_bytes),      cmocka_unit_test(test_model_ranks_and_walks),
        cmocka_unit_test(test_symbolize_self), cmocka_unit_test(test_symbolize_build_id_mismatch),
        cmocka_unit_test(test_json),           cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
