/* Unit tests of `memtrack diff`: call paths matched across two captures whose modules are loaded
 * at different addresses, exact changes and their order, --top, the text and JSON output, the
 * warning for different programs, and the command line (whose source is compiled in here, as
 * the tests link the libraries but not the executable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <inttypes.h>

#include "capture_builder.h"
#include "cli/args.c"
#include "cli_run.h"
#include "cli/diff_cmd.c"
#include "report/report.h"

/* --- building captures ------------------------------------------------------------------- */

#define PROG  "/opt/app/prog"
#define FOO   "/lib/libfoo.so"
#define BAR   "/lib/libbar.so"
#define RAW   UINT64_C(0x1234) /* a frame outside every module, the same in both captures */
#define MAXN  16
#define MAXM  4
#define SPAN  UINT64_C(0x10000)
#define START UINT64_C(0x0) /* where the modules begin, from their bias */

typedef struct tcap_s {
    const char *program;
    uint64_t pid, start_ns, duration_ns, peak_bytes;
    uint32_t depth;
    mt_cap_module_t mods[MAXM];
    size_t nmods;
    mt_cap_node_t nodes[MAXN]; /* nodes[0] is the root */
    size_t nnodes;
    const char *classes[MAXM]; /* a CLASSES section when there are any */
    size_t nclasses;
} tcap_t;

static void tc_init(tcap_t *t, const char *program, uint64_t pid)
{
    *t = (tcap_t){.program = program, .pid = pid, .depth = 64, .nnodes = 1};
}

static void tc_module(tcap_t *t, const char *path, uint64_t bias, const char *build_id)
{
    assert_true(t->nmods < MAXM);
    t->mods[t->nmods++] = (mt_cap_module_t){.bias = bias,
                                            .start = bias + START,
                                            .end = bias + SPAN,
                                            .path = (char *)path,
                                            .build_id = (uint8_t *)build_id,
                                            .build_id_len = build_id ? strlen(build_id) : 0};
}

/* The return address of a call at `offset` in the module loaded with `bias`. */
static uint64_t ret(uint64_t bias, uint64_t offset)
{
    return bias + offset + 1;
}

static uint32_t tc_node(tcap_t *t, uint32_t parent, uint64_t frame, uint64_t blocks, uint64_t bytes,
                        uint64_t allocs, uint64_t abytes)
{
    assert_true(t->nnodes < MAXN);
    t->nodes[t->nnodes] = (mt_cap_node_t){.parent = parent,
                                          .frame = frame,
                                          .allocations = allocs,
                                          .allocated_bytes = abytes,
                                          .live_blocks = blocks,
                                          .live_bytes = bytes};
    return (uint32_t)t->nnodes++;
}

/* Serializes the capture, with totals, live blocks and one thread that agree with the nodes. */
static uint8_t *tc_bytes(const tcap_t *t, size_t *len)
{
    mt_cap_live_t live[256];
    size_t nlive = 0;
    mt_cap_totals_t tot = {.peak_bytes = t->peak_bytes, .threads = 1};
    for (size_t id = 1; id < t->nnodes; id++) {
        const mt_cap_node_t *n = &t->nodes[id];
        tot.allocations += n->allocations;
        tot.allocated_bytes += n->allocated_bytes;
        tot.live_blocks += n->live_blocks;
        tot.live_bytes += n->live_bytes;
        for (uint64_t k = 0; k < n->live_blocks; k++) {
            assert_true(nlive < 256);
            uint64_t size =
                n->live_bytes / n->live_blocks + (k == 0 ? n->live_bytes % n->live_blocks : 0);
            live[nlive] = (mt_cap_live_t){0x100000 + 0x1000 * nlive, size, (uint32_t)id, 0};
            nlive++;
        }
    }
    tot.frees = tot.allocations - tot.live_blocks;
    tot.freed_bytes = tot.allocated_bytes - tot.live_bytes;
    mt_cap_thread_t thread = {.tid = t->pid,
                              .name = "main",
                              .allocations = tot.allocations,
                              .allocated_bytes = tot.allocated_bytes,
                              .frees = tot.frees,
                              .freed_bytes = tot.freed_bytes,
                              .live_blocks = tot.live_blocks,
                              .live_bytes = tot.live_bytes,
                              .peak_bytes = t->peak_bytes};
    mt_capture_t c = {.pid = t->pid,
                      .start_realtime_ns = t->start_ns,
                      .duration_ns = t->duration_ns,
                      .depth = t->depth,
                      .end_value = 0,
                      .program = (char *)t->program,
                      .cmdline = "prog",
                      .cmdline_len = 4,
                      .totals = tot,
                      .modules = (mt_cap_module_t *)t->mods,
                      .nmodules = t->nmods,
                      .nodes = (mt_cap_node_t *)t->nodes,
                      .nnodes = t->nnodes,
                      .threads = &thread,
                      .nthreads = 1,
                      .live = live,
                      .nlive = nlive};
    tb_t out = {0};
    tb_header(&out, MT_FMT_VERSION);
    tb_meta(&out, &c);
    tb_totals(&out, &c.totals);
    tb_modules(&out, &c);
    tb_nodes(&out, &c);
    tb_threads(&out, &c);
    if (t->nclasses > 0) {
        /* CLASSES: u32 count, then per class its name, four u64 counts and a u32 depth. */
        tb_open(&out, MT_SEC_CLASSES);
        tb_u32(&out, (uint32_t)t->nclasses);
        for (size_t i = 0; i < t->nclasses; i++) {
            tb_string(&out, t->classes[i], strlen(t->classes[i]));
            for (int k = 0; k < 4; k++)
                tb_u64(&out, 0);
            tb_u32(&out, 0);
        }
        tb_close(&out);
    }
    tb_live(&out, &c);
    tb_end(&out);
    *len = out.len;
    return out.data;
}

static mt_capture_t *tc_parse(const tcap_t *t)
{
    size_t len;
    uint8_t *data = tc_bytes(t, &len);
    mt_capture_t *cap;
    char err[256];
    if (mt__capture_parse(data, len, &cap, err, sizeof err) != 0) fail_msg("parse: %s", err);
    free(data);
    return cap;
}

static void tc_write(const tcap_t *t, const char *path, size_t keep)
{
    size_t len;
    uint8_t *data = tc_bytes(t, &len);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(data, 1, keep < len ? keep : len, f);
    fclose(f);
    free(data);
}

/* Load biases: every module is somewhere else in AFTER, as in two runs under ASLR. */
#define PB  UINT64_C(0x555500000000)
#define FB  UINT64_C(0x7f0000000000)
#define BB  UINT64_C(0x7f1000000000)
#define PA  UINT64_C(0x563300000000)
#define FA  UINT64_C(0x7fa000000000)
#define FA2 UINT64_C(0x7fb000000000) /* libfoo loaded a second time */
#define BA  UINT64_C(0x7f2000000000)

/* BEFORE: under main (prog+0x500): grow_a (prog+0x100) 10 blocks / 640 bytes, grow_b
 * (prog+0x200) 5 / 320, libfoo+0x40 2 / 100, libbar+0x40 1 / 960, churn (prog+0x300) nothing
 * live of 3 allocations; and a raw frame with 1 / 10. */
static void before_capture(tcap_t *t)
{
    tc_init(t, PROG, 100);
    t->start_ns = UINT64_C(1700000000000000000);
    t->duration_ns = 1500000;
    t->peak_bytes = 3000;
    tc_module(t, PROG, PB, "\x01\x02\x03\x04");
    tc_module(t, FOO, FB, "\x09\x09");
    tc_module(t, BAR, BB, "\x05\x05");
    uint32_t main_ = tc_node(t, 0, ret(PB, 0x500), 0, 0, 0, 0);
    tc_node(t, main_, ret(PB, 0x100), 10, 640, 10, 640);
    tc_node(t, main_, ret(PB, 0x200), 5, 320, 5, 320);
    tc_node(t, main_, ret(FB, 0x40), 2, 100, 2, 100);
    tc_node(t, main_, ret(BB, 0x40), 1, 960, 1, 960);
    tc_node(t, 0, RAW, 1, 10, 1, 10);
    tc_node(t, main_, ret(PB, 0x300), 0, 0, 3, 30);
}

/* AFTER, with other biases and other node ids: grow_a 25 / 1600, no grow_b, libfoo+0x40 split
 * over its two loads (1 / 50 and 3 / 150), a libbar with another build-id (so another file),
 * two new paths of 7 bytes each, 2 / 20 without a call path, churn 5 allocations, the raw frame
 * unchanged. libfoo recorded no build-id, which still matches BEFORE's. */
static void after_capture(tcap_t *t)
{
    tc_init(t, PROG, 200);
    t->start_ns = UINT64_C(1700000000000000000) + UINT64_C(5000000000);
    t->duration_ns = 2000000;
    t->peak_bytes = 2900;
    tc_module(t, PROG, PA, "\x01\x02\x03\x04");
    tc_module(t, FOO, FA, NULL);
    tc_module(t, BAR, BA, "\x06\x06");
    tc_module(t, FOO, FA2, NULL);
    tc_node(t, 0, RAW, 1, 10, 1, 10);
    tc_node(t, 0, 0, 2, 20, 2, 20); /* the record standing for the root */
    uint32_t main_ = tc_node(t, 0, ret(PA, 0x500), 0, 0, 0, 0);
    tc_node(t, main_, ret(PA, 0x180), 1, 7, 1, 7);
    tc_node(t, main_, ret(PA, 0x170), 1, 7, 1, 7);
    tc_node(t, main_, ret(BA, 0x40), 1, 960, 1, 960);
    tc_node(t, main_, ret(FA, 0x40), 1, 50, 1, 50);
    tc_node(t, main_, ret(FA2, 0x40), 3, 150, 3, 150);
    tc_node(t, main_, ret(PA, 0x100), 25, 1600, 25, 1600);
    tc_node(t, main_, ret(PA, 0x300), 0, 0, 5, 50);
}

typedef struct pair_s {
    mt_capture_t *before, *after;
    mt_diff_t diff;
} pair_t;

static void pair_open(pair_t *p)
{
    tcap_t b, a;
    before_capture(&b);
    after_capture(&a);
    p->before = tc_parse(&b);
    p->after = tc_parse(&a);
    assert_int_equal(mt__diff_init(&p->diff, p->before, p->after), 0);
}

static void pair_close(pair_t *p)
{
    mt__diff_destroy(&p->diff);
    mt__capture_free(p->before);
    mt__capture_free(p->after);
}

/* --- the computation --------------------------------------------------------------------- */

typedef struct want_s {
    uint64_t bytes_b, bytes_a, blocks_b, blocks_a, allocs_b, allocs_a, abytes_b, abytes_a;
    bool in_before, in_after;
    uint32_t before_node, after_node; /* checked when in_before / in_after */
    int direction;
} want_t;

static void test_matching_and_order(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p);
    static const want_t want[] = {
        /* grow_a: matched although prog is loaded elsewhere; +960 bytes, +15 blocks */
        {640, 1600, 10, 25, 10, 25, 640, 1600, true, true, 2, 9, 1},
        /* libbar's new build-id makes it another file: its path is new... */
        {0, 960, 0, 1, 0, 1, 0, 960, false, true, 0, 6, 1},
        /* ...and the old one is gone; the same size, so after the growth */
        {960, 0, 1, 0, 1, 0, 960, 0, true, false, 5, 0, -1},
        /* grow_b: gone from AFTER */
        {320, 0, 5, 0, 5, 0, 320, 0, true, false, 3, 0, -1},
        /* libfoo+0x40: the two loads of AFTER summed, its lowest node stands for it */
        {100, 200, 2, 4, 2, 4, 100, 200, true, true, 4, 7, 1},
        /* no call path: the root */
        {0, 20, 0, 2, 0, 2, 0, 20, false, true, 0, 2, 1},
        /* equal changes: ordered by the frames (prog+0x170 before prog+0x180), not node ids */
        {0, 7, 0, 1, 0, 1, 0, 7, false, true, 0, 5, 1},
        {0, 7, 0, 1, 0, 1, 0, 7, false, true, 0, 4, 1},
        /* churn: the same live figures, more allocations */
        {0, 0, 0, 0, 3, 5, 30, 50, true, true, 7, 10, 0},
    };
    size_t n = sizeof want / sizeof want[0];
    assert_int_equal(p.diff.npaths, n);
    for (size_t i = 0; i < n; i++) {
        const mt_diff_path_t *g = &p.diff.paths[i];
        const want_t *w = &want[i];
        assert_int_equal(g->live_bytes.before, w->bytes_b);
        assert_int_equal(g->live_bytes.after, w->bytes_a);
        assert_int_equal(g->live_blocks.before, w->blocks_b);
        assert_int_equal(g->live_blocks.after, w->blocks_a);
        assert_int_equal(g->allocations.before, w->allocs_b);
        assert_int_equal(g->allocations.after, w->allocs_a);
        assert_int_equal(g->allocated_bytes.before, w->abytes_b);
        assert_int_equal(g->allocated_bytes.after, w->abytes_a);
        assert_int_equal(g->in_before, w->in_before);
        assert_int_equal(g->in_after, w->in_after);
        if (w->in_before) assert_int_equal(g->before_node, w->before_node);
        if (w->in_after) assert_int_equal(g->after_node, w->after_node);
        assert_int_equal(mt__diff_direction(g), w->direction);
    }
    assert_int_equal(p.diff.ngrew, 6);
    assert_int_equal(p.diff.nshrank, 2);
    assert_int_equal(p.diff.nunchanged, 1); /* the raw frame */
    pair_close(&p);
}

/* Diffing a capture with itself changes nothing; swapping them turns every change around. */
static void test_identity_and_swap(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p);
    mt_diff_t same, swapped;
    assert_int_equal(mt__diff_init(&same, p.after, p.after), 0);
    assert_int_equal(same.npaths, 0);
    assert_int_equal(same.nunchanged, 8);
    mt__diff_destroy(&same);

    assert_int_equal(mt__diff_init(&swapped, p.after, p.before), 0);
    assert_int_equal(swapped.npaths, p.diff.npaths);
    assert_int_equal(swapped.ngrew, p.diff.nshrank);
    assert_int_equal(swapped.nshrank, p.diff.ngrew);
    /* The biggest growth first: libbar's old path, which is now the one that appears. */
    assert_int_equal(swapped.paths[0].live_bytes.before, 0);
    assert_int_equal(swapped.paths[0].live_bytes.after, 960);
    assert_int_equal(swapped.paths[0].live_blocks.after, 1);
    assert_int_equal(swapped.paths[1].live_bytes.before, 1600);
    mt__diff_destroy(&swapped);
    pair_close(&p);
}

static void test_program_check(void **state)
{
    (void)state;
    tcap_t b, a;
    before_capture(&b);
    after_capture(&a);
    char *buf = NULL;
    size_t len = 0;

    /* Same path and build-id; a build-id missing on one side is no difference. */
    mt_capture_t *cb = tc_parse(&b), *ca;
    a.mods[0].build_id = NULL;
    a.mods[0].build_id_len = 0;
    ca = tc_parse(&a);
    mt_diff_t d;
    assert_int_equal(mt__diff_init(&d, cb, ca), 0);
    FILE *warn = open_memstream(&buf, &len);
    assert_true(mt__diff_check_program(warn, &d));
    fclose(warn);
    assert_string_equal(buf, "");
    free(buf);
    mt__diff_destroy(&d);
    mt__capture_free(ca);

    /* Another build of the same path. */
    a.mods[0].build_id = (uint8_t *)"\x01\x02\x03\x05";
    a.mods[0].build_id_len = 4;
    ca = tc_parse(&a);
    assert_int_equal(mt__diff_init(&d, cb, ca), 0);
    warn = open_memstream(&buf, &len);
    assert_false(mt__diff_check_program(warn, &d));
    fclose(warn);
    assert_string_equal(buf, "memtrack: warning: the captures are of different builds of "
                             "/opt/app/prog (their build-ids differ); its call paths cannot "
                             "match\n");
    free(buf);
    mt__diff_destroy(&d);
    /* ...whose call paths then differ wherever prog is in them: only the raw frame matches. */
    assert_int_equal(mt__diff_init(&d, cb, ca), 0);
    assert_int_equal(d.nunchanged, 1);
    mt__diff_destroy(&d);
    mt__capture_free(ca);

    /* Another program. */
    a.program = "/opt/other/prog\n";
    ca = tc_parse(&a);
    assert_int_equal(mt__diff_init(&d, cb, ca), 0);
    warn = open_memstream(&buf, &len);
    assert_false(mt__diff_check_program(warn, &d));
    fclose(warn);
    assert_string_equal(buf, "memtrack: warning: the captures are of different programs "
                             "(/opt/app/prog and /opt/other/prog\\x0a); only call paths through "
                             "the same binaries can match\n");
    free(buf);
    mt__diff_destroy(&d);
    mt__capture_free(ca);
    mt__capture_free(cb);
}

/* --- the output -------------------------------------------------------------------------- */

typedef int (*writer_fn)(FILE *, const mt_diff_t *, mt_sym_t *, mt_sym_t *, const mt_diff_opts_t *);

/* Renders with symbolizers over the captures' module maps; the modules do not exist here, so
 * frames are named module+offset, and which capture a stack came from shows in its addresses. */
static char *render(pair_t *p, writer_fn fn, size_t top, bool names)
{
    mt_sym_t *sb = mt__sym_new(p->before, NULL), *sa = mt__sym_new(p->after, NULL);
    assert_non_null(sb);
    assert_non_null(sa);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    mt_diff_opts_t opts = {.top = top,
                           .before_name = names ? "before.mtc" : NULL,
                           .after_name = names ? "after.mtc" : NULL};
    assert_int_equal(fn(out, &p->diff, sb, sa, &opts), 0);
    fclose(out);
    mt__sym_free(sb);
    mt__sym_free(sa);
    return buf;
}

static void test_text(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p);
    char *text = render(&p, mt__diff_text, 2, true);
    assert_string_equal(
        text,
        "Before: before.mtc\n"
        "        /opt/app/prog (pid 100), exit 0 at 2023-11-14 22:13:20.001 UTC, tracked for "
        "1.5 ms\n"
        "After:  after.mtc\n"
        "        /opt/app/prog (pid 200), exit 0 at 2023-11-14 22:13:25.002 UTC, tracked for 2 "
        "ms\n"
        "\n"
        "Totals (before \u2192 after, change)\n"
        "  allocations:  22 \u2192 40, +18\n"
        "  allocated:    2.0 KiB (2060 bytes) \u2192 2.8 KiB (2854 bytes), +794 B\n"
        "  live blocks:  19 \u2192 35, +16\n"
        "  live bytes:   2.0 KiB (2030 bytes) \u2192 2.7 KiB (2804 bytes), +774 B\n"
        "  peak:         2.9 KiB (3000 bytes) \u2192 2.8 KiB (2900 bytes), -100 B\n"
        "\n"
        "Grew: +2.0 KiB (+2054 bytes) live, in 6 call paths\n"
        "  #1  +960 B, +15 blocks  (before: 640 B in 10 blocks, after: 1.6 KiB (1600 bytes) in "
        "25 blocks)\n"
        "      prog+0x100\n"
        "      prog+0x500\n"
        "  #2  +960 B, +1 block  (before: 0 B in 0 blocks, after: 960 B in 1 block)\n"
        "      libbar.so+0x40\n"
        "      prog+0x500\n"
        "  \u2026 and 4 more call paths (--top to see more)\n"
        "\n"
        "Shrank: -1.3 KiB (-1280 bytes) live, in 2 call paths\n"
        "  #1  -960 B, -1 block  (before: 960 B in 1 block, after: 0 B in 0 blocks)\n"
        "      libbar.so+0x40\n"
        "      prog+0x500\n"
        "  #2  -320 B, -5 blocks  (before: 320 B in 5 blocks, after: 0 B in 0 blocks)\n"
        "      prog+0x200\n"
        "      prog+0x500\n"
        "\n"
        "Also: 1 call path with the same live figures allocated more or less (--format json "
        "lists it)\n");
    free(text);

    /* All of them: the path without frames, and the header without file names. */
    text = render(&p, mt__diff_text, 0, false);
    assert_true(strncmp(text, "Before: /opt/app/prog (pid 100), exit 0 at", 42) == 0);
    assert_non_null(strstr(text, "\n  #4  +20 B, +2 blocks  (before: 0 B in 0 blocks, after: 20 B "
                                 "in 2 blocks)\n      (no call path recorded)\n  #5  +7 B, +1 "
                                 "block  (before: 0 B in 0 blocks, after: 7 B in 1 block)\n      "
                                 "prog+0x170\n      prog+0x500\n  #6  +7 B"));
    assert_null(strstr(text, "more call path"));
    free(text);
    pair_close(&p);
}

static void test_text_nothing_changed(void **state)
{
    (void)state;
    tcap_t b;
    before_capture(&b);
    b.depth = 32;
    mt_capture_t *cap = tc_parse(&b), *other;
    b.depth = 64;
    other = tc_parse(&b);
    pair_t p = {.before = cap, .after = other};
    assert_int_equal(mt__diff_init(&p.diff, cap, other), 0);
    char *text = render(&p, mt__diff_text, 10, false);
    assert_non_null(strstr(text, "note: the captures keep call paths of different depths (32 and "
                                 "64 frames), so paths cut at the limit do not match\n"));
    assert_non_null(strstr(text, "  live bytes:   2.0 KiB (2030 bytes) \u2192 2.0 KiB (2030 "
                                 "bytes), 0 B\n"));
    assert_non_null(strstr(text, "\nGrew: no call path holds more than before\n\nShrank: no call "
                                 "path holds less than before\n"));
    assert_null(strstr(text, "Also:"));
    free(text);
    pair_close(&p);
}

static void test_json(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p);
    char *json = render(&p, mt__diff_json, 2, true);
    char want[8192];
    snprintf(
        want, sizeof want,
        "{\n"
        "  \"before\": {\n"
        "    \"capture\": \"before.mtc\",\n"
        "    \"program\": \"/opt/app/prog\",\n"
        "    \"pid\": 100,\n"
        "    \"end\": {\"reason\": \"exit\", \"value\": 0, \"realtime_ns\": 1700000000001500000, "
        "\"duration_ms\": 1.5}\n"
        "  },\n"
        "  \"after\": {\n"
        "    \"capture\": \"after.mtc\",\n"
        "    \"program\": \"/opt/app/prog\",\n"
        "    \"pid\": 200,\n"
        "    \"end\": {\"reason\": \"exit\", \"value\": 0, \"realtime_ns\": 1700000005002000000, "
        "\"duration_ms\": 2}\n"
        "  },\n"
        "  \"totals\": {\n"
        "    \"allocations\": {\"before\": 22, \"after\": 40, \"delta\": 18},\n"
        "    \"allocated_bytes\": {\"before\": 2060, \"after\": 2854, \"delta\": 794},\n"
        "    \"live_blocks\": {\"before\": 19, \"after\": 35, \"delta\": 16},\n"
        "    \"live_bytes\": {\"before\": 2030, \"after\": 2804, \"delta\": 774},\n"
        "    \"peak_bytes\": {\"before\": 3000, \"after\": 2900, \"delta\": -100}\n"
        "  },\n"
        "  \"call_paths\": 9,\n"
        "  \"paths\": [\n"
        "    {\n"
        "      \"live_bytes\": {\"before\": 640, \"after\": 1600, \"delta\": 960},\n"
        "      \"live_blocks\": {\"before\": 10, \"after\": 25, \"delta\": 15},\n"
        "      \"allocations\": {\"before\": 10, \"after\": 25, \"delta\": 15},\n"
        "      \"allocated_bytes\": {\"before\": 640, \"after\": 1600, \"delta\": 960},\n"
        "      \"class\": null,\n"
        "      \"stack\": [\n"
        "        {\"function\": null, \"file\": null, \"line\": 0, \"module\": \"/opt/app/prog\", "
        "\"address\": \"0x%" PRIx64 "\", \"offset\": \"0x100\", \"inlined\": false},\n"
        "        {\"function\": null, \"file\": null, \"line\": 0, \"module\": \"/opt/app/prog\", "
        "\"address\": \"0x%" PRIx64 "\", \"offset\": \"0x500\", \"inlined\": false}\n"
        "      ]\n"
        "    },\n"
        "    {\n"
        "      \"live_bytes\": {\"before\": 0, \"after\": 960, \"delta\": 960},\n"
        "      \"live_blocks\": {\"before\": 0, \"after\": 1, \"delta\": 1},\n"
        "      \"allocations\": {\"before\": 0, \"after\": 1, \"delta\": 1},\n"
        "      \"allocated_bytes\": {\"before\": 0, \"after\": 960, \"delta\": 960},\n"
        "      \"class\": null,\n"
        "      \"stack\": [\n"
        "        {\"function\": null, \"file\": null, \"line\": 0, \"module\": \"/lib/libbar.so\", "
        "\"address\": \"0x%" PRIx64 "\", \"offset\": \"0x40\", \"inlined\": false},\n"
        "        {\"function\": null, \"file\": null, \"line\": 0, \"module\": \"/opt/app/prog\", "
        "\"address\": \"0x%" PRIx64 "\", \"offset\": \"0x500\", \"inlined\": false}\n"
        "      ]\n"
        "    }\n"
        "  ]\n"
        "}\n",
        ret(PA, 0x100), ret(PA, 0x500), ret(BA, 0x40), ret(PA, 0x500));
    assert_string_equal(json, want);
    free(json);

    /* All paths (the JSON default): a shrunk path's stack is BEFORE's, a path without frames
     * has an empty one, and a raw frame has no module. */
    json = render(&p, mt__diff_json, 0, false);
    assert_non_null(strstr(json, "\"capture\": null,"));
    char frag[512];
    snprintf(frag, sizeof frag,
             "      \"live_bytes\": {\"before\": 320, \"after\": 0, \"delta\": -320},\n"
             "      \"live_blocks\": {\"before\": 5, \"after\": 0, \"delta\": -5},\n"
             "      \"allocations\": {\"before\": 5, \"after\": 0, \"delta\": -5},\n"
             "      \"allocated_bytes\": {\"before\": 320, \"after\": 0, \"delta\": -320},\n"
             "      \"class\": null,\n"
             "      \"stack\": [\n"
             "        {\"function\": null, \"file\": null, \"line\": 0, \"module\": "
             "\"/opt/app/prog\", \"address\": \"0x%" PRIx64 "\", \"offset\": \"0x200\"",
             ret(PB, 0x200));
    assert_non_null(strstr(json, frag));
    assert_non_null(strstr(json, "\"allocated_bytes\": {\"before\": 0, \"after\": 20, \"delta\": "
                                 "20},\n      \"class\": null,\n      \"stack\": []\n    },"));
    assert_non_null(strstr(json, "\"allocations\": {\"before\": 3, \"after\": 5, \"delta\": 2},"));
    static const char *const tail = "\n      ]\n    }\n  ]\n}\n";
    assert_true(strlen(json) > strlen(tail));
    assert_string_equal(json + strlen(json) - strlen(tail), tail);
    free(json);
    pair_close(&p);

    /* No changes: an empty list. */
    tcap_t b;
    before_capture(&b);
    mt_capture_t *cap = tc_parse(&b);
    pair_t same = {.before = cap, .after = cap};
    assert_int_equal(mt__diff_init(&same.diff, cap, cap), 0);
    json = render(&same, mt__diff_json, 0, false);
    assert_non_null(strstr(json, "  \"call_paths\": 0,\n  \"paths\": []\n}\n"));
    free(json);
    mt__diff_destroy(&same.diff);
    mt__capture_free(cap);
}

/* Class ids are numbered per process: a tagged path is matched by its class's name. */
static void test_classes(void **state)
{
    (void)state;
    const uint64_t mark = MT_FMT_CLASS_FRAME;
    tcap_t b, a;
    tc_init(&b, PROG, 100);
    tc_module(&b, PROG, PB, NULL);
    b.classes[0] = "untagged", b.classes[1] = "parser", b.classes[2] = "cache";
    b.nclasses = 3;
    uint32_t m = tc_node(&b, tc_node(&b, 0, mark + 1, 0, 0, 0, 0), ret(PB, 0x500), 0, 0, 0, 0);
    tc_node(&b, m, ret(PB, 0x100), 2, 100, 2, 100);
    m = tc_node(&b, tc_node(&b, 0, mark + 2, 0, 0, 0, 0), ret(PB, 0x500), 0, 0, 0, 0);
    tc_node(&b, m, ret(PB, 0x100), 1, 10, 1, 10);

    tc_init(&a, PROG, 200);
    tc_module(&a, PROG, PA, NULL);
    a.classes[0] = "untagged", a.classes[1] = "cache", a.classes[2] = "parser";
    a.nclasses = 3;
    m = tc_node(&a, tc_node(&a, 0, mark + 1, 0, 0, 0, 0), ret(PA, 0x500), 0, 0, 0, 0);
    tc_node(&a, m, ret(PA, 0x100), 1, 10, 1, 10);
    m = tc_node(&a, tc_node(&a, 0, mark + 2, 0, 0, 0, 0), ret(PA, 0x500), 0, 0, 0, 0);
    tc_node(&a, m, ret(PA, 0x100), 5, 250, 5, 250);

    pair_t p = {.before = tc_parse(&b), .after = tc_parse(&a)};
    assert_int_equal(mt__diff_init(&p.diff, p.before, p.after), 0);
    assert_int_equal(p.diff.npaths, 1);
    assert_int_equal(p.diff.nunchanged, 1); /* cache's path */
    assert_int_equal(p.diff.paths[0].live_bytes.before, 100);
    assert_int_equal(p.diff.paths[0].live_bytes.after, 250);
    assert_int_equal(p.diff.paths[0].after_node, 6);
    char *text = render(&p, mt__diff_text, 0, false);
    assert_non_null(strstr(text,
                           "  #1  +150 B, +3 blocks  (before: 100 B in 2 blocks, after: 250 B "
                           "in 5 blocks)\n      prog+0x100\n      prog+0x500\n      [class "
                           "parser]\n"));
    free(text);
    char *json = render(&p, mt__diff_json, 0, false);
    assert_non_null(strstr(json, "\"class\": \"parser\",\n"));
    free(json);
    pair_close(&p);
}

/* --- the command line -------------------------------------------------------------------- */

/* Runs `memtrack diff ARGS...` with stdout and stderr captured. */
static void run(result_t *r, ...)
{
    va_list ap;
    va_start(ap, r);
    run_cmd(r, mt__cmd_diff, "diff", ap);
    va_end(ap);
}

static void test_cli_usage(void **state)
{
    (void)state;
    result_t r;
    run(&r, "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, DIFF_USAGE, strlen(DIFF_USAGE)) == 0);
    assert_string_equal(r.err, "");

    static const struct {
        const char *a, *b, *c, *want;
    } cases[] = {
        {NULL, NULL, NULL, "no captures given (want BEFORE and AFTER)"},
        {"a.mtc", NULL, NULL, "only one capture given (want BEFORE and AFTER)"},
        {"a.mtc", "b.mtc", "c.mtc", "more than two captures given ('c.mtc')"},
        {"--bogus", "a.mtc", "b.mtc", "unknown option '--bogus'"},
        {"--top", "x", "a.mtc", "bad --top 'x' (want a number, 0 for all)"},
        {"--top=-1", "a.mtc", "b.mtc", "bad --top '-1' (want a number, 0 for all)"},
        {"--format", "xml", "a.mtc", "bad --format 'xml' (want text or json)"},
        {"a.mtc", "b.mtc", "--format", "--format needs a value (text or json)"},
        {"a.mtc", "b.mtc", "--top", "--top needs a value (a number, 0 for all)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(&r, cases[i].a, cases[i].b, cases[i].c, NULL);
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        char want[512];
        snprintf(want, sizeof want, "memtrack diff: %s (see 'memtrack diff --help')\n",
                 cases[i].want);
        assert_string_equal(r.err, want);
    }
}

static void test_cli_captures(void **state)
{
    (void)state;
    char bpath[] = "/tmp/mt_test_diff_XXXXXX", apath[] = "/tmp/mt_test_diff_XXXXXX";
    int fd = mkstemp(bpath);
    assert_true(fd >= 0);
    close(fd);
    fd = mkstemp(apath);
    assert_true(fd >= 0);
    close(fd);
    tcap_t b, a;
    before_capture(&b);
    after_capture(&a);
    tc_write(&b, bpath, SIZE_MAX);
    tc_write(&a, apath, SIZE_MAX);

    /* The modules do not exist here: each is warned about once, though both captures have it. */
#define CANNOT(path)                                                            \
    "memtrack: warning: cannot read " path " (No such file or directory); its " \
    "frames are shown as module+offset\n"
    result_t r;
    run(&r, bpath, apath, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, CANNOT(PROG) CANNOT(BAR) CANNOT(FOO));
    assert_non_null(strstr(r.out, "\nGrew: +2.0 KiB (+2054 bytes) live, in 6 call paths\n"));
    assert_non_null(strstr(r.out, "  #6  +7 B, +1 block  (before: 0 B in 0 blocks, after: 7 B in "
                                  "1 block)\n      prog+0x180\n"));

    run(&r, "--top=1", "--format", "json", "--", bpath, apath, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, CANNOT(PROG));
    assert_true(r.out[0] == '{');
    assert_non_null(strstr(r.out, "\"call_paths\": 9,"));
    assert_non_null(strstr(r.out, "\"live_bytes\": {\"before\": 640, \"after\": 1600, \"delta\": "
                                  "960},"));
    assert_null(strstr(r.out, "\"delta\": -320"));

    /* Different programs: a warning, and the diff all the same. */
    a.program = "/opt/other/prog";
    tc_write(&a, apath, SIZE_MAX);
    run(&r, "--format=json", bpath, apath, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "memtrack: warning: the captures are of different programs "
                               "(/opt/app/prog and /opt/other/prog); only call paths through the "
                               "same binaries can match\n" CANNOT(PROG) CANNOT(BAR) CANNOT(FOO));
    assert_non_null(strstr(r.out, "\"program\": \"/opt/other/prog\","));

    /* Bad captures: one line for each, nothing on stdout. */
    tc_write(&a, apath, 40);
    run(&r, bpath, apath, NULL);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    char want[1024];
    snprintf(want, sizeof want, "memtrack: %s: truncated: META section needs 99 bytes, 8 left\n",
             apath);
    assert_string_equal(r.err, want);

    run(&r, "/nonexistent/before.mtc", apath, NULL);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    snprintf(want, sizeof want,
             "memtrack: /nonexistent/before.mtc: No such file or directory\n"
             "memtrack: %s: truncated: META section needs 99 bytes, 8 left\n",
             apath);
    assert_string_equal(r.err, want);

    /* A damaged byte: the checksum no longer matches. */
    size_t len;
    uint8_t *data = tc_bytes(&b, &len);
    data[len / 2] ^= 0xff;
    FILE *f = fopen(bpath, "wb");
    assert_non_null(f);
    fwrite(data, 1, len, f);
    fclose(f);
    free(data);
    tc_write(&a, apath, SIZE_MAX);
    run(&r, "--format", "json", bpath, apath, NULL);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    snprintf(want, sizeof want, "memtrack: %s: corrupt: checksum mismatch\n", bpath);
    assert_string_equal(r.err, want);

    unlink(bpath);
    unlink(apath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching_and_order),
        cmocka_unit_test(test_identity_and_swap),
        cmocka_unit_test(test_program_check),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_text_nothing_changed),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_cli_usage),
        cmocka_unit_test(test_cli_captures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
