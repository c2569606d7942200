/* Test helper: one small synthetic capture (two modules, two threads, a class, a raw frame and
 * a record standing for the root) shared by the unit tests of the exports (folded, pprof). */
#ifndef MT_TEST_TREE_FIXTURE_H
#define MT_TEST_TREE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture_builder.h"

#define PB  UINT64_C(0x555500000000) /* where /nonexistent/prog is loaded */
#define LB  UINT64_C(0x7f0000000000) /* where /nonexistent/libfoo.so is loaded */
#define RAW UINT64_C(0x1234)         /* a frame in no module */

static uint64_t ret(uint64_t bias, uint64_t offset)
{
    return bias + offset + 1;
}

/* How the fixture gives figures by thread (THREAD_NODES). */
typedef enum tf_variant_e {
    TF_TNODES,    /* by thread, as today's captures */
    TF_NO_TNODES, /* none, as captures of older versions */
    TF_MERGED,    /* thread 200 ended and its figures were merged */
} tf_variant_t;

/* Call tree (allocations/bytes, peak blocks/bytes, live blocks/bytes):
 *   1 prog+0x500 (main)                      nothing of its own
 *   2   prog+0x100                           4/400  3/300  2/200 (threads 100 and 200)
 *   3   libfoo.so+0x40                       1/50   1/50   1/50  (thread 200)
 *   4   0x1234                               2/20   none   none
 *   5 [class pa;r\nser]                      nothing of its own
 *   6   prog+0x200                           3/30   2/20   2/20  (thread 100)
 *   7 the record standing for the root       1/8    1/8    1/8   (thread 100)
 * By thread (100 | 200): node 2 2/200 2/200 | 2/200 1/100; node 3 - | 1/50 1/50; node 4
 * 1/10 - | 1/10 -; node 6 3/30 2/20 | -; the root 1/8 1/8 | -. */
static uint8_t *tree_fixture_bytes_as(size_t *len, tf_variant_t variant)
{
    static mt_cap_module_t mods[2] = {
        {.bias = PB,
         .start = PB,
         .end = PB + 0x10000,
         .path = "/nonexistent/prog",
         .build_id = (uint8_t *)"\x01\x02\x03\x04",
         .build_id_len = 4},
        {.bias = LB, .start = LB, .end = LB + 0x10000, .path = "/nonexistent/libfoo.so"},
    };
    mt_cap_node_t nodes[8] = {
        [1] = {.parent = 0, .frame = ret(PB, 0x500)},
        [2] = {1, ret(PB, 0x100), 4, 400, 0, 3, 300, 2, 200},
        [3] = {1, ret(LB, 0x40), 1, 50, 0, 1, 50, 1, 50},
        [4] = {1, RAW, 2, 20, 0, 0, 0, 0, 0},
        [5] = {.parent = 0, .frame = MT_FMT_CLASS_FRAME + 1},
        [6] = {5, ret(PB, 0x200), 3, 30, 0, 2, 20, 2, 20},
        [7] = {0, 0, 1, 8, 0, 1, 8, 1, 8},
    };
    mt_cap_live_t live[6] = {
        {0x10000, 100, 2, 0}, {0x20000, 100, 2, 1}, {0x30000, 50, 3, 1},
        {0x40000, 10, 6, 0},  {0x50000, 10, 6, 0},  {0x60000, 8, 0, 0},
    };
    mt_cap_thread_t threads[2] = {
        {.tid = 100, .name = "main"},
        {.tid = 200, .name = "worker", .figures_merged = variant == TF_MERGED}};
    uint32_t t200 = variant == TF_MERGED ? MT_CAP_THREAD_MERGED : 1;
    mt_cap_tnode_t tnodes[7] = {
        {0, 2, 2, 200, 0, 2, 200}, {t200, 2, 2, 200, 0, 1, 100}, {t200, 3, 1, 50, 0, 1, 50},
        {0, 4, 1, 10, 0, 0, 0},    {t200, 4, 1, 10, 0, 0, 0},    {0, 6, 3, 30, 0, 2, 20},
        {0, 0, 1, 8, 0, 1, 8},
    };
    mt_capture_t c = {.pid = 100,
                      .start_realtime_ns = UINT64_C(1700000000000000000),
                      .duration_ns = 2500000,
                      .depth = 64,
                      .program = "/nonexistent/prog",
                      .cmdline = "prog",
                      .cmdline_len = 4,
                      .totals = {.allocations = 11,
                                 .allocated_bytes = 508,
                                 .frees = 5,
                                 .freed_bytes = 230,
                                 .live_blocks = 6,
                                 .live_bytes = 278,
                                 .peak_bytes = 378,
                                 .peak_blocks = 7,
                                 .threads = 2},
                      .modules = mods,
                      .nmodules = 2,
                      .nodes = nodes,
                      .nnodes = 8,
                      .threads = threads,
                      .nthreads = 2,
                      .live = live,
                      .nlive = 6,
                      .has_tnodes = variant != TF_NO_TNODES,
                      .tnodes = tnodes,
                      .ntnodes = 7};
    tb_t b = {0};
    tb_header(&b, MT_FMT_VERSION);
    tb_meta(&b, &c);
    tb_totals(&b, &c.totals);
    tb_modules(&b, &c);
    tb_nodes(&b, &c);
    tb_threads(&b, &c);
    tb_thread_nodes(&b, &c);
    tb_open(&b, MT_SEC_CLASSES);
    tb_u32(&b, 2);
    const char *classes[2] = {"untagged", "pa;r\nser"};
    for (int i = 0; i < 2; i++) {
        tb_string(&b, classes[i], strlen(classes[i]));
        for (int k = 0; k < 4; k++)
            tb_u64(&b, 0);
        tb_u32(&b, 0);
    }
    tb_close(&b);
    tb_live(&b, &c);
    tb_end(&b);
    *len = b.len;
    return b.data;
}

static inline uint8_t *tree_fixture_bytes(size_t *len)
{
    return tree_fixture_bytes_as(len, TF_TNODES);
}

/* The fixture parsed; mt__capture_free() it. */
static inline mt_capture_t *tree_fixture_capture_as(tf_variant_t variant)
{
    size_t len;
    uint8_t *data = tree_fixture_bytes_as(&len, variant);
    mt_capture_t *cap;
    char err[256];
    assert_int_equal(mt__capture_parse(data, len, &cap, err, sizeof err), 0);
    free(data);
    return cap;
}

static inline mt_capture_t *tree_fixture_capture(void)
{
    return tree_fixture_capture_as(TF_TNODES);
}

/* Writes the fixture to `path`, only its first half when `truncated`; 0 or -1. */
static int tree_fixture_write_as(const char *path, bool truncated, tf_variant_t variant)
{
    size_t len;
    uint8_t *data = tree_fixture_bytes_as(&len, variant);
    FILE *f = fopen(path, "wb");
    size_t n = truncated ? len / 2 : len;
    int rc = f != NULL && fwrite(data, 1, n, f) == n ? 0 : -1;
    if (f != NULL && fclose(f) != 0) rc = -1;
    free(data);
    return rc;
}

static inline int tree_fixture_write(const char *path, bool truncated)
{
    return tree_fixture_write_as(path, truncated, TF_TNODES);
}

#endif
