/* Unit tests of the capture reader: a valid capture read back field by field, and every kind
 * of damage (truncation at each length, flipped bytes, bad counts and indices, inconsistent
 * sums) refused with one clear line and no out-of-bounds read. */
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

typedef struct fixture_s {
    mt_capture_t c;
    mt_cap_module_t modules[2];
    mt_cap_node_t nodes[5];
    mt_cap_thread_t threads[2];
    mt_cap_live_t live[3];
    mt_cap_tnode_t tnodes[3];
} fixture_t;

static uint8_t build_id[] = {0xde, 0xad, 0xbe, 0xef, 0x01};

/* A small consistent capture: main (1) calling two allocating paths (2, 3), one more root path
 * (4), two threads and three live blocks. Initialize in place: it points into itself. */
static void fixture(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    mt_capture_t *c = &f->c;
    c->version = 1;
    c->pid = 4242;
    c->parent_pid = 4000;
    c->start_realtime_ns = 1700000000000000000ull;
    c->duration_ns = 1234567890;
    c->depth = 64;
    c->mode = 0;
    c->end_reason = MT_END_EXIT;
    c->end_value = 3;
    c->flags = MT_META_FORKED;
    c->frame_kind = MT_FRAMES_NATIVE_RETURN;
    c->dropped_events = 0;
    c->engine_bytes = 1 << 20;
    c->program = "/usr/bin/prog";
    c->cmdline = "prog\0-x\0";
    c->cmdline_len = 8;
    c->totals = (mt_cap_totals_t){.allocations = 10,
                                  .frees = 7,
                                  .allocated_bytes = 1000,
                                  .freed_bytes = 650,
                                  .live_blocks = 3,
                                  .live_bytes = 350,
                                  .peak_bytes = 600,
                                  .peak_time_ns = 5000000,
                                  .peak_blocks = 6,
                                  .temporary = 2,
                                  .unknown_frees = 1,
                                  .threads = 2};
    f->modules[0] =
        (mt_cap_module_t){0x400000, 0x400000, 0x480000, "/usr/bin/prog", build_id, sizeof build_id};
    f->modules[1] = (mt_cap_module_t){0x7f0000000000,   0x7f0000001000, 0x7f0000200000,
                                      "/lib/libc.so.6", NULL,           0};
    c->modules = f->modules;
    c->nmodules = 2;
    f->nodes[1] = (mt_cap_node_t){.parent = 0, .frame = 0x401000};
    f->nodes[2] = (mt_cap_node_t){.parent = 1,
                                  .frame = 0x402000,
                                  .allocations = 6,
                                  .allocated_bytes = 700,
                                  .temporary = 1,
                                  .peak_blocks = 4,
                                  .peak_bytes = 400,
                                  .live_blocks = 2,
                                  .live_bytes = 300};
    f->nodes[3] = (mt_cap_node_t){.parent = 1,
                                  .frame = 0x403000,
                                  .allocations = 4,
                                  .allocated_bytes = 300,
                                  .temporary = 1,
                                  .peak_blocks = 2,
                                  .peak_bytes = 200,
                                  .live_blocks = 1,
                                  .live_bytes = 50};
    f->nodes[4] = (mt_cap_node_t){.parent = 0, .frame = 0x7f0000001234};
    c->nodes = f->nodes;
    c->nnodes = 5;
    f->threads[0] = (mt_cap_thread_t){.tid = 4242,
                                      .allocations = 7,
                                      .allocated_bytes = 800,
                                      .frees = 5,
                                      .freed_bytes = 500,
                                      .live_blocks = 2,
                                      .live_bytes = 150,
                                      .peak_bytes = 500,
                                      .peak_time_ns = 5000000,
                                      .temporary = 2,
                                      .unknown_frees = 1,
                                      .start_ns = 0,
                                      .end_ns = 0,
                                      .name = "prog"};
    f->threads[1] = (mt_cap_thread_t){.tid = 4243,
                                      .allocations = 3,
                                      .allocated_bytes = 200,
                                      .frees = 2,
                                      .freed_bytes = 150,
                                      .live_blocks = 1,
                                      .live_bytes = 200,
                                      .peak_bytes = 200,
                                      .start_ns = 1000,
                                      .end_ns = 900000,
                                      .name = ""};
    c->threads = f->threads;
    c->nthreads = 2;
    f->live[0] = (mt_cap_live_t){0x10000, 100, 2, 0};
    f->live[1] = (mt_cap_live_t){0x20000, 200, 2, 1};
    f->live[2] = (mt_cap_live_t){0x30000, 50, 3, 0};
    c->live = f->live;
    c->nlive = 3;
    /* Node figures by allocating thread, adding up to the nodes'. */
    f->tnodes[0] = (mt_cap_tnode_t){0, 2, 4, 400, 1, 3, 300};
    f->tnodes[1] = (mt_cap_tnode_t){1, 2, 2, 300, 0, 1, 100};
    f->tnodes[2] = (mt_cap_tnode_t){0, 3, 4, 300, 1, 2, 200};
    c->tnodes = f->tnodes;
    c->ntnodes = 3;
    c->has_tnodes = 1;
    c->has_memory = 1;
    c->live_table_bytes = 140000;
    c->call_tree_bytes = 70000;
}

/* Parses a copy of exactly `len` bytes, so that AddressSanitizer catches any read past it. */
static int parse(const uint8_t *data, size_t len, mt_capture_t **out, char *err, size_t errlen)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len > 0) memcpy(copy, data, len);
    err[0] = '\0';
    int rc = mt__capture_parse(copy, len, out, err, errlen);
    free(copy);
    return rc;
}

/* Expects a failure whose message is exactly `want`. */
static void expect_error(const uint8_t *data, size_t len, const char *want)
{
    char err[256];
    mt_capture_t *cap = (mt_capture_t *)1;
    assert_int_equal(parse(data, len, &cap, err, sizeof err), -1);
    assert_null(cap);
    assert_string_equal(err, want);
}

/* Offset of the header of the first section of `type` in a capture. */
static size_t find_section(const uint8_t *data, size_t len, uint32_t type)
{
    size_t pos = MT_FMT_HEADER_SIZE;
    while (pos + MT_FMT_SECTION_HDR <= len) {
        uint32_t t = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8 |
                     (uint32_t)data[pos + 2] << 16 | (uint32_t)data[pos + 3] << 24;
        uint64_t l = 0;
        for (int i = 7; i >= 0; i--)
            l = l << 8 | data[pos + 8 + i];
        if (t == type) return pos;
        pos += MT_FMT_SECTION_HDR + l;
    }
    fail_msg("section %u not found", type);
    return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_valid_capture_reads_back_exactly(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    char err[256];
    mt_capture_t *cap = NULL;
    assert_int_equal(parse(data, len, &cap, err, sizeof err), 0);
    assert_non_null(cap);

    assert_int_equal(cap->version, 1);
    assert_int_equal(cap->pid, 4242);
    assert_int_equal(cap->parent_pid, 4000);
    assert_int_equal(cap->start_realtime_ns, 1700000000000000000ull);
    assert_int_equal(cap->duration_ns, 1234567890);
    assert_int_equal(cap->depth, 64);
    assert_int_equal(cap->end_reason, MT_END_EXIT);
    assert_int_equal(cap->end_value, 3);
    assert_int_equal(cap->flags, MT_META_FORKED);
    assert_int_equal(cap->engine_bytes, 1 << 20);
    assert_string_equal(cap->program, "/usr/bin/prog");
    assert_int_equal(cap->cmdline_len, 8);
    assert_memory_equal(cap->cmdline, "prog\0-x\0", 9); /* and the added final NUL */

    assert_memory_equal(&cap->totals, &f.c.totals, sizeof cap->totals);

    assert_int_equal(cap->nmodules, 2);
    assert_int_equal(cap->modules[0].bias, 0x400000);
    assert_int_equal(cap->modules[0].start, 0x400000);
    assert_int_equal(cap->modules[0].end, 0x480000);
    assert_string_equal(cap->modules[0].path, "/usr/bin/prog");
    assert_int_equal(cap->modules[0].build_id_len, 5);
    assert_memory_equal(cap->modules[0].build_id, build_id, 5);
    assert_string_equal(cap->modules[1].path, "/lib/libc.so.6");
    assert_int_equal(cap->modules[1].build_id_len, 0);
    assert_null(cap->modules[1].build_id);

    assert_int_equal(cap->nnodes, 5);
    assert_int_equal(cap->nodes[0].parent, 0);
    assert_int_equal(cap->nodes[0].frame, 0);
    assert_int_equal(cap->nodes[0].live_blocks, 0);
    for (size_t i = 1; i < 5; i++)
        assert_memory_equal(&cap->nodes[i], &f.nodes[i], sizeof f.nodes[i]);

    assert_int_equal(cap->nthreads, 2);
    assert_int_equal(cap->threads[0].tid, 4242);
    assert_int_equal(cap->threads[0].peak_time_ns, 5000000);
    assert_string_equal(cap->threads[0].name, "prog");
    assert_int_equal(cap->threads[1].tid, 4243);
    assert_int_equal(cap->threads[1].end_ns, 900000);
    assert_string_equal(cap->threads[1].name, "");

    assert_int_equal(cap->nlive, 3);
    assert_int_equal(cap->live[1].address, 0x20000);
    assert_int_equal(cap->live[1].size, 200);
    assert_int_equal(cap->live[1].node, 2);
    assert_int_equal(cap->live[1].thread, 1);

    assert_true(cap->has_tnodes);
    assert_int_equal(cap->ntnodes, 3);
    for (size_t i = 0; i < 3; i++)
        assert_memory_equal(&cap->tnodes[i], &f.tnodes[i], sizeof f.tnodes[i]);
    assert_false(cap->threads[0].figures_merged);
    assert_false(cap->threads[1].figures_merged);
    assert_true(cap->has_memory);
    assert_int_equal(cap->live_table_bytes, 140000);
    assert_int_equal(cap->call_tree_bytes, 70000);

    mt__capture_free(cap);
    free(data);

    /* MEMORY is optional (older captures) and has a fixed length. */
    fixture(&f);
    f.c.has_memory = 0;
    data = tb_capture(&f.c, &len);
    assert_int_equal(parse(data, len, &cap, err, sizeof err), 0);
    assert_false(cap->has_memory);
    assert_int_equal(cap->live_table_bytes, 0);
    mt__capture_free(cap);
    free(data);
    fixture(&f);
    f.c.has_memory = 0;
    data = tb_capture(&f.c, &len);
    /* A MEMORY section of 8 bytes, put in place of END and sealed again. */
    size_t end = find_section(data, len, MT_SEC_END);
    uint8_t *bad = malloc(end + 24 + 24);
    assert_non_null(bad);
    memcpy(bad, data, end);
    memset(bad + end, 0, 48);
    put_le32(bad + end, MT_SEC_MEMORY);
    put_le32(bad + end + 8, 8);
    put_le32(bad + end + 24, MT_SEC_END);
    put_le32(bad + end + 32, 8);
    tb_reseal(bad, end + 48);
    expect_error(bad, end + 48,
                 "corrupt: MEMORY section too short for its fields (needs 16 bytes, 8 left)");
    free(bad);
    free(data);
}

/* THREAD_NODES: optional; merged threads marked; indices and sums checked. */
static void test_thread_nodes(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    f.c.has_tnodes = 0;
    size_t len;
    char err[256];
    mt_capture_t *cap = NULL;
    uint8_t *data = tb_capture(&f.c, &len);
    assert_int_equal(parse(data, len, &cap, err, sizeof err), 0);
    assert_false(cap->has_tnodes);
    assert_int_equal(cap->ntnodes, 0);
    mt__capture_free(cap);
    free(data);

    fixture(&f);
    f.threads[1].figures_merged = 1;
    f.tnodes[1].thread = MT_CAP_THREAD_MERGED;
    data = tb_capture(&f.c, &len);
    assert_int_equal(parse(data, len, &cap, err, sizeof err), 0);
    assert_false(cap->threads[0].figures_merged);
    assert_true(cap->threads[1].figures_merged);
    assert_int_equal(cap->tnodes[1].thread, MT_CAP_THREAD_MERGED);
    mt__capture_free(cap);
    free(data);

    fixture(&f);
    f.tnodes[2].thread = 2;
    data = tb_capture(&f.c, &len);
    expect_error(data, len,
                 "corrupt: THREAD_NODES record 2 refers to thread 2 (the capture has 2)");
    free(data);

    fixture(&f);
    f.tnodes[0].node = 5;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: THREAD_NODES record 0 refers to node 5 (the capture has 5)");
    free(data);

    /* A merged thread out of range: the last u32 of the section names it. */
    fixture(&f);
    f.threads[1].figures_merged = 1;
    data = tb_capture(&f.c, &len);
    size_t at = find_section(data, len, MT_SEC_THREAD_NODES);
    size_t end = at + MT_FMT_SECTION_HDR + 4 + 3 * MT_FMT_TNODE_SIZE + 4 + 4;
    put_le32(data + end - 4, 7);
    tb_reseal(data, len);
    expect_error(data, len, "corrupt: THREAD_NODES names merged thread 7 (the capture has 2)");
    free(data);

    /* Moving figures between threads keeps the sums; changing them does not. */
    fixture(&f);
    f.tnodes[1].thread = 0;
    data = tb_capture(&f.c, &len);
    assert_int_equal(parse(data, len, &cap, err, sizeof err), 0);
    mt__capture_free(cap);
    free(data);
    fixture(&f);
    f.tnodes[1].peak_bytes = 101;
    data = tb_capture(&f.c, &len);
    expect_error(data, len,
                 "corrupt: node 2 has 6 allocations of 700 bytes (4 blocks at the peak), its "
                 "threads' add up to 6 of 700 (4)");
    free(data);
    fixture(&f);
    f.tnodes[2].allocations = 5;
    data = tb_capture(&f.c, &len);
    expect_error(data, len,
                 "corrupt: node 3 has 4 allocations of 300 bytes (2 blocks at the peak), its "
                 "threads' add up to 5 of 300 (2)");
    free(data);
    fixture(&f);
    f.tnodes[0].allocations = UINT64_MAX;
    f.tnodes[1].allocations = 7;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: THREAD_NODES figures overflow");
    free(data);
}

static void test_header_errors(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);

    expect_error(data, 0, "empty file (not a memtrack capture)");
    expect_error((const uint8_t *)"XY", 2, "not a memtrack capture (bad magic)");
    data[7] = 'X';
    expect_error(data, len, "not a memtrack capture (bad magic)");
    data[7] = 'K';
    put_le32(data + 8, 7);
    expect_error(data, len, "unsupported capture version 7 (this memtrack reads version 1)");
    put_le32(data + 8, 1);
    put_le32(data + 12, 24);
    expect_error(data, len, "corrupt: header size 24 (expected 16)");
    put_le32(data + 12, 16);
    expect_error(data, 12, "truncated: header needs 16 bytes, 12 present");
    free(data);
}

/* Every prefix of a valid capture is refused, and the reader reads nothing past it. */
static void test_every_prefix_is_refused(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    char err[256];
    for (size_t n = 0; n < len; n++) {
        mt_capture_t *cap = (mt_capture_t *)1;
        if (parse(data, n, &cap, err, sizeof err) != -1) fail_msg("prefix %zu accepted", n);
        assert_null(cap);
        assert_true(strlen(err) > 0);
        assert_null(strchr(err, '\n'));
    }
    size_t nodes = find_section(data, len, MT_SEC_NODES);
    expect_error(data, nodes + 20, "truncated: NODES section needs 276 bytes, 4 left");
    expect_error(data, nodes, "truncated: no END section");
    expect_error(data, nodes + 5, "truncated: section header needs 16 bytes, 5 left");
    free(data);
}

/* FNV-1a changes with any single changed byte, so each one is caught, by the checksum or by an
 * earlier check when the byte was a section header. */
static void test_every_flipped_byte_is_refused(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    char err[256];
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            mt_capture_t *cap = NULL;
            data[i] ^= (uint8_t)(1u << bit);
            if (parse(data, len, &cap, err, sizeof err) != -1)
                fail_msg("flip of bit %d at %zu accepted", bit, i);
            data[i] ^= (uint8_t)(1u << bit);
        }
    }
    size_t nodes = find_section(data, len, MT_SEC_NODES);
    data[nodes + MT_FMT_SECTION_HDR + 4 + 20] ^= 0x40; /* node 1's allocated_bytes */
    expect_error(data, len, "corrupt: checksum mismatch");
    free(data);
}

static void test_bad_parent(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    f.nodes[3].parent = 3;
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: node 3 has parent 3 (must be below its own id)");
    free(data);
    f.nodes[3].parent = 0xffffffff;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: node 3 has parent 4294967295 (must be below its own id)");
    free(data);
}

static void test_live_index_out_of_range(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    f.live[1].node = 5;
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: live block 1 refers to node 5 (the capture has 5)");
    free(data);
    fixture(&f);
    f.live[2].thread = 2;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: live block 2 refers to thread 2 (the capture has 2)");
    free(data);
}

/* Counts whose byte size wraps around, or that the section cannot hold, are refused before any
 * allocation is sized from them. */
static void test_count_overflow(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    static const struct {
        uint32_t type;
        const char *want;
    } cases[] = {
        {MT_SEC_LIVE, "corrupt: LIVE count 768614336404564651 does not match its 8 bytes of "
                      "records"},
        {MT_SEC_NODES, "corrupt: NODES section holds 8 bytes of records, its 4294967295 nodes "
                       "need 292057776060"},
        {MT_SEC_MODULES, "corrupt: MODULES count 4294967295 does not fit in 8 bytes"},
        {MT_SEC_THREADS, "corrupt: THREADS count 4294967295 does not fit in 8 bytes"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tb_t b = {0};
        tb_header(&b, 1);
        tb_meta(&b, &f.c);
        tb_totals(&b, &(mt_cap_totals_t){0});
        tb_open(&b, cases[k].type);
        /* 0x0aaaaaaaaaaaaaab * 24 wraps to 8, the bytes that follow */
        if (cases[k].type == MT_SEC_LIVE)
            tb_u64(&b, 0x0aaaaaaaaaaaaaabull);
        else
            tb_u32(&b, 0xffffffffu);
        tb_u64(&b, 0);
        tb_close(&b);
        tb_end(&b);
        expect_error(b.data, b.len, cases[k].want);
        free(b.data);
    }
}

static void test_duplicate_section(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    tb_t b = {0};
    tb_header(&b, 1);
    tb_meta(&b, &f.c);
    tb_totals(&b, &f.c.totals);
    tb_nodes(&b, &f.c);
    tb_totals(&b, &f.c.totals);
    tb_end(&b);
    expect_error(b.data, b.len, "corrupt: duplicate TOTALS section");
    free(b.data);
}

static void test_end_errors(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    /* Missing END: everything but it. */
    expect_error(data, len - 24, "truncated: no END section");
    /* Bytes after END. */
    uint8_t *longer = malloc(len + 3);
    memcpy(longer, data, len);
    memcpy(longer + len, "abc", 3);
    expect_error(longer, len + 3, "corrupt: 3 bytes of trailing data after END");
    free(longer);
    /* END of the wrong size. */
    tb_t b = {0};
    tb_header(&b, 1);
    tb_meta(&b, &f.c);
    tb_totals(&b, &(mt_cap_totals_t){0});
    tb_open(&b, MT_SEC_END);
    tb_u32(&b, 0);
    tb_close(&b);
    expect_error(b.data, b.len, "corrupt: END section is 4 bytes (expected 8)");
    free(b.data);
    /* END's flags, outside the hashed bytes. */
    data[len - 24 + 4] = 1;
    expect_error(data, len, "corrupt: END section has flags 0x1 (expected 0)");
    free(data);
}

static void test_live_sums_must_match(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    f.c.totals.live_bytes = 351;
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    expect_error(data, len,
                 "corrupt: LIVE holds 3 blocks of 350 bytes, TOTALS says 3 blocks of 351");
    free(data);

    fixture(&f);
    f.nodes[2].live_blocks = 3;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: node 2 has 3 live blocks of 300 bytes, LIVE holds 2 of 300");
    free(data);

    /* Moving a block between nodes keeps TOTALS right but not the nodes. */
    fixture(&f);
    f.live[2].node = 4;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: node 3 has 1 live blocks of 50 bytes, LIVE holds 0 of 0");
    free(data);

    /* A block at the root with no record standing for it. */
    fixture(&f);
    f.live[2].node = 0;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: node 0 has 0 live blocks of 0 bytes, LIVE holds 1 of 50");
    free(data);

    /* Sizes whose sum wraps around. */
    fixture(&f);
    f.live[0].size = UINT64_MAX;
    f.live[1].size = 201;
    f.nodes[2].live_bytes = 200;
    f.c.totals.live_bytes = 250;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: live block sizes overflow");
    free(data);
}

static void test_meta_errors(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    f.c.end_reason = 9;
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: unknown end reason 9");
    free(data);

    fixture(&f);
    data = tb_capture(&f.c, &len);
    size_t meta = find_section(data, len, MT_SEC_META);
    put_le32(data + meta + MT_FMT_SECTION_HDR + MT_FMT_META_FIXED, 1000); /* program length */
    tb_reseal(data, len);
    expect_error(data, len,
                 "corrupt: META section too short for the program path (needs 1000 bytes, 25 "
                 "left)");
    /* "/usr/" is the program; "bin/" is then taken as the command line's length. */
    put_le32(data + meta + MT_FMT_SECTION_HDR + MT_FMT_META_FIXED, 5);
    tb_reseal(data, len);
    expect_error(data, len,
                 "corrupt: META section too short for the command line (needs 795765090 "
                 "bytes, 16 left)");
    free(data);

    tb_t b = {0};
    tb_header(&b, 1);
    tb_totals(&b, &(mt_cap_totals_t){0});
    tb_end(&b);
    expect_error(b.data, b.len, "corrupt: no META section");
    free(b.data);
}

/* Unknown sections are skipped, known ones may come in any order, and optional ones may be
 * missing; the record with parent 0 and frame 0 stands for the root. */
static void test_lenient_where_the_format_allows(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    f.nodes[4].frame = 0; /* node 4 now stands for the root */
    f.nodes[4].allocations = 1;
    f.nodes[4].live_blocks = 1;
    f.nodes[4].live_bytes = 50;
    f.nodes[3].live_blocks = 0;
    f.nodes[3].live_bytes = 0;
    f.live[2].node = 0;

    tb_t b = {0};
    tb_header(&b, 1);
    tb_live(&b, &f.c);
    tb_open(&b, 0x77);
    tb_u64(&b, 0x1234);
    tb_close(&b);
    tb_threads(&b, &f.c);
    tb_nodes(&b, &f.c);
    tb_totals(&b, &f.c.totals);
    tb_modules(&b, &f.c);
    tb_meta(&b, &f.c);
    tb_end(&b);
    char err[256];
    mt_capture_t *cap = NULL;
    assert_int_equal(parse(b.data, b.len, &cap, err, sizeof err), 0);
    assert_int_equal(cap->nodes[0].allocations, 1);
    assert_int_equal(cap->nodes[0].live_blocks, 1);
    assert_int_equal(cap->nodes[0].live_bytes, 50);
    assert_int_equal(cap->nlive, 3);
    mt__capture_free(cap);
    free(b.data);

    /* Only META and TOTALS. */
    fixture(&f);
    b = (tb_t){0};
    tb_header(&b, 1);
    tb_meta(&b, &f.c);
    tb_totals(&b, &(mt_cap_totals_t){.allocations = 1, .frees = 1});
    tb_end(&b);
    assert_int_equal(parse(b.data, b.len, &cap, err, sizeof err), 0);
    assert_int_equal(cap->nnodes, 1);
    assert_int_equal(cap->nthreads, 0);
    assert_int_equal(cap->nmodules, 0);
    assert_int_equal(cap->nlive, 0);
    assert_non_null(cap->nodes);
    mt__capture_free(cap);
    free(b.data);
}

/* Frames a front end numbered itself (the Ruby gem: META.frame_kind 1) are named by SYMBOLS,
 * which the symbolizer uses instead of debug information. */
static void symbols_fixture(fixture_t *f, mt_cap_symbol_t syms[4])
{
    fixture(f);
    f->c.frame_kind = MT_FRAMES_SYMBOLS;
    f->c.nmodules = 0;
    for (size_t i = 1; i < 5; i++)
        f->nodes[i].frame = i;
    syms[0] = (mt_cap_symbol_t){1, "<main>", "app.rb", 3};
    syms[1] = (mt_cap_symbol_t){2, "Cache#store", "lib/cache.rb", 12};
    syms[2] = (mt_cap_symbol_t){3, "Hash#merge", "", 0};
    syms[3] = (mt_cap_symbol_t){4, "", "", 0};
    f->c.symbols = syms;
    f->c.nsymbols = 4;
}

static void test_symbols(void **state)
{
    (void)state;
    fixture_t f;
    mt_cap_symbol_t syms[4];
    symbols_fixture(&f, syms);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    char err[256];
    mt_capture_t *cap = NULL;
    assert_int_equal(parse(data, len, &cap, err, sizeof err), 0);
    assert_int_equal(cap->frame_kind, MT_FRAMES_SYMBOLS);
    assert_int_equal(cap->nsymbols, 4);
    const mt_cap_symbol_t *sy = mt__capture_symbol(cap, 2);
    assert_non_null(sy);
    assert_string_equal(sy->function, "Cache#store");
    assert_string_equal(sy->file, "lib/cache.rb");
    assert_int_equal(sy->line, 12);
    assert_null(mt__capture_symbol(cap, 5));
    assert_null(mt__capture_symbol(cap, 0));

    mt_sym_t *sym = mt__sym_new(cap, NULL);
    assert_non_null(sym);
    const mt_sym_frame_t *e;
    assert_int_equal(mt__sym_lookup(sym, 2, &e), 1);
    assert_string_equal(e->function, "Cache#store");
    assert_string_equal(e->file, "lib/cache.rb");
    assert_int_equal(e->line, 12);
    assert_null(e->module);
    assert_int_equal(mt__sym_lookup(sym, 3, &e), 1);
    assert_string_equal(e->function, "Hash#merge");
    assert_null(e->file); /* a method written in C has no file */
    assert_int_equal(mt__sym_lookup(sym, 4, &e), 1);
    assert_null(e->function);
    mt__sym_free(sym);
    mt__capture_free(cap);
    free(data);
}

static void test_symbols_errors(void **state)
{
    (void)state;
    fixture_t f;
    mt_cap_symbol_t syms[4];
    size_t len;
    uint8_t *data;

    symbols_fixture(&f, syms);
    f.c.nsymbols = 3; /* frame 4 (node 4) is not named */
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: node 4's frame 4 is not in SYMBOLS");
    free(data);

    symbols_fixture(&f, syms);
    syms[2].frame = 2;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: SYMBOLS frames not in increasing order at 2");
    free(data);

    symbols_fixture(&f, syms);
    syms[0].frame = 0;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: SYMBOLS names frame 0x0");
    free(data);

    symbols_fixture(&f, syms);
    syms[3].frame = MT_FMT_CLASS_FRAME;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: SYMBOLS names frame 0xffff000000000000");
    free(data);

    symbols_fixture(&f, syms);
    f.c.frame_kind = 2;
    data = tb_capture(&f.c, &len);
    expect_error(data, len, "corrupt: unknown frame kind 2");
    free(data);

    symbols_fixture(&f, syms);
    data = tb_capture(&f.c, &len);
    size_t sec = find_section(data, len, MT_SEC_SYMBOLS);
    put_le32(data + sec + MT_FMT_SECTION_HDR, 1000); /* count */
    tb_reseal(data, len);
    expect_error(data, len, "corrupt: SYMBOLS count 1000 does not fit in 125 bytes");
    put_le32(data + sec + MT_FMT_SECTION_HDR, 4);
    put_le32(data + sec + MT_FMT_SECTION_HDR + 4 + 8, 200); /* the first function's length */
    tb_reseal(data, len);
    expect_error(data, len,
                 "corrupt: SYMBOLS section too short for a function name (needs 200 bytes, 113 "
                 "left)");
    free(data);

    /* A second SYMBOLS section. */
    symbols_fixture(&f, syms);
    tb_t b = {0};
    tb_header(&b, 1);
    tb_meta(&b, &f.c);
    tb_totals(&b, &f.c.totals);
    tb_symbols(&b, &f.c);
    tb_symbols(&b, &f.c);
    tb_end(&b);
    expect_error(b.data, b.len, "corrupt: duplicate SYMBOLS section");
    free(b.data);
}

/* Any byte of SYMBOLS changed (and the file resealed, so the checksum does not catch it) is
 * either a valid capture or one clear error; the reader never reads past the section. */
static void test_symbols_resealed_flips(void **state)
{
    (void)state;
    fixture_t f;
    mt_cap_symbol_t syms[4];
    symbols_fixture(&f, syms);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    size_t sec = find_section(data, len, MT_SEC_SYMBOLS) + MT_FMT_SECTION_HDR;
    size_t end = len - MT_FMT_SECTION_HDR - 8; /* the END section */
    char err[256];
    size_t refused = 0;
    for (size_t i = sec; i < end; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            mt_capture_t *cap = NULL;
            data[i] ^= (uint8_t)(1u << bit);
            tb_reseal(data, len);
            if (parse(data, len, &cap, err, sizeof err) == 0) {
                assert_non_null(cap);
                mt__capture_free(cap);
            } else {
                assert_null(cap);
                assert_true(strlen(err) > 0);
                assert_null(strchr(err, '\n'));
                refused++;
            }
            data[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Flips in counts, lengths and frame numbers are refused; most in names and lines are not. */
    assert_true(refused > 0);
    tb_reseal(data, len);
    mt_capture_t *cap = NULL;
    assert_int_equal(parse(data, len, &cap, err, sizeof err), 0);
    mt__capture_free(cap);
    free(data);
}

static void test_read_file(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    size_t len;
    uint8_t *data = tb_capture(&f.c, &len);
    char path[] = "/tmp/mt_test_reader_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);

    char err[256] = "";
    mt_capture_t *cap = NULL;
    assert_int_equal(mt__capture_read(path, &cap, err, sizeof err), 0);
    assert_int_equal(cap->nlive, 3);
    mt__capture_free(cap);

    assert_int_equal(truncate(path, (off_t)len - 1), 0);
    assert_int_equal(mt__capture_read(path, &cap, err, sizeof err), -1);
    assert_string_equal(err, "truncated: END section needs 8 bytes, 7 left");
    unlink(path);

    assert_int_equal(mt__capture_read(path, &cap, err, sizeof err), -1);
    assert_null(cap);
    assert_string_equal(err, "No such file or directory");
    assert_int_equal(mt__capture_read("/", &cap, err, sizeof err), -1);
    assert_string_equal(err, "Is a directory");

    /* A tiny error buffer still gets a terminated (cut) message. */
    char small[8];
    assert_int_equal(mt__capture_parse(data, 3, &cap, small, sizeof small), -1);
    assert_int_equal(strlen(small), 7);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_capture_reads_back_exactly),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_every_prefix_is_refused),
        cmocka_unit_test(test_every_flipped_byte_is_refused),
        cmocka_unit_test(test_bad_parent),
        cmocka_unit_test(test_live_index_out_of_range),
        cmocka_unit_test(test_count_overflow),
        cmocka_unit_test(test_duplicate_section),
        cmocka_unit_test(test_end_errors),
        cmocka_unit_test(test_live_sums_must_match),
        cmocka_unit_test(test_meta_errors),
        cmocka_unit_test(test_lenient_where_the_format_allows),
        cmocka_unit_test(test_symbols),
        cmocka_unit_test(test_symbols_errors),
        cmocka_unit_test(test_symbols_resealed_flips),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_thread_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
