/* Unit tests of the live table's packed records (live_table.c): every field comes back as it
 * went in at the limits of its packing, records that cannot be packed are refused, and a shard
 * past its growing chunks keeps its records in fixed-size ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/live_table.h"

static void assert_same(const mt_block_t *a, const mt_block_t *b)
{
    assert_int_equal(a->addr, b->addr);
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->peak_before, b->peak_before);
    assert_int_equal(a->node, b->node);
    assert_int_equal(a->thread, b->thread);
    assert_int_equal(a->cls, b->cls);
}

static void test_fields_at_their_limits(void **state)
{
    (void)state;
    mt_live_t t;
    assert_int_equal(mt__live_init(&t), 0);
    const mt_block_t blocks[] = {
        {(1ull << 56) - 16, (1ull << 48) - 1, (1ull << 48) - 2, UINT32_MAX, (1u << 20) - 1,
         (1u << 20) - 1},
        {0x1000, 1, 0, 0, 0, 0},
        {0x2000, 12345, 777, 42, 0x5a5a5, 0xa5a5a},
        {0x3000, 8, 1ull << 40, 7, 0x100, 0x10}, /* one bit in each part of thread and cls */
    };
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        mt_block_t old, out;
        mt_shard_t *s = mt__live_shard(&t, blocks[i].addr);
        assert_int_equal(mt__shard_insert(s, &blocks[i], &old), MT_INSERTED);
        assert_true(mt__shard_find(s, blocks[i].addr, &out));
        assert_same(&out, &blocks[i]);
    }
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        mt_block_t out;
        assert_true(mt__shard_remove(mt__live_shard(&t, blocks[i].addr), blocks[i].addr, &out));
        assert_same(&out, &blocks[i]);
    }
    /* A peak of 2^48 bytes or more is kept as the largest value that fits. */
    mt_block_t big = {0x4000, 16, 1ull << 50, 1, 1, 1}, old, out;
    assert_int_equal(mt__shard_insert(mt__live_shard(&t, big.addr), &big, &old), MT_INSERTED);
    assert_true(mt__shard_find(mt__live_shard(&t, big.addr), big.addr, &out));
    assert_int_equal(out.peak_before, (1ull << 48) - 1);
    mt__live_destroy(&t);
}

static void test_unpackable_refused(void **state)
{
    (void)state;
    mt_live_t t;
    assert_int_equal(mt__live_init(&t), 0);
    mt_block_t high = {1ull << 56, 16, 0, 1, 0, 0}, huge = {0x1000, 1ull << 48, 0, 1, 0, 0}, old;
    assert_int_equal(mt__shard_insert(mt__live_shard(&t, high.addr), &high, &old), MT_NO_MEMORY);
    assert_int_equal(mt__shard_insert(mt__live_shard(&t, huge.addr), &huge, &old), MT_NO_MEMORY);
    mt_block_t out;
    assert_false(mt__shard_find(mt__live_shard(&t, huge.addr), huge.addr, &out));
    mt__live_destroy(&t);
}

/* One 64 KiB region maps to one shard: 4000 blocks 16 bytes apart fill the growing chunks
 * (496 entries) and several fixed ones; an update pass and removals see every record. */
static void add_node(mt_block_t *b, void *ctx)
{
    b->peak_before = b->node + 1;
    ++*(uint64_t *)ctx;
}

static void test_fixed_chunks(void **state)
{
    (void)state;
    mt_live_t t;
    assert_int_equal(mt__live_init(&t), 0);
    enum { N = 4000 };
    mt_shard_t *s = mt__live_shard(&t, 0x7f0000000000);
    for (uint32_t i = 0; i < N; i++) {
        mt_block_t b = {0x7f0000000000 + 16ull * i, i + 1, 0, i, i % 3, i % 5}, old;
        assert_ptr_equal(mt__live_shard(&t, b.addr), s);
        assert_int_equal(mt__shard_insert(s, &b, &old), MT_INSERTED);
    }
    assert_int_equal(s->count, N);
    assert_true(s->ndir >= (N - 496 + MT_FIXED_CHUNK - 1) / MT_FIXED_CHUNK);
    uint64_t seen = 0;
    mt__shard_update(s, add_node, &seen);
    assert_int_equal(seen, N);
    for (uint32_t i = 0; i < N; i++) {
        mt_block_t out;
        assert_true(mt__shard_remove(s, 0x7f0000000000 + 16ull * i, &out));
        mt_block_t want = {0x7f0000000000 + 16ull * i, i + 1, i + 1, i, i % 3, i % 5};
        assert_same(&out, &want);
    }
    assert_int_equal(s->count, 0);
    mt__live_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_at_their_limits),
        cmocka_unit_test(test_unpackable_refused),
        cmocka_unit_test(test_fixed_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
