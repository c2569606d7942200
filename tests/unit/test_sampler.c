/* Unit tests of sample mode: the sampler's intervals and weights, and the estimates a sample-mode
 * engine writes into its capture, for a known allocation pattern and a fixed seed; plus exact
 * totals in sample mode under eight threads. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/reader.h"
#include "capture/writer.h"
#include "core/engine.h"
#include "core/sampler.h"

#define SEED 42
#define MEAN 4096

/* ---- the sampler alone */

static void test_same_seed_same_intervals(void **state)
{
    (void)state;
    mt_sampler_t a, b, c;
    mt__sampler_seed(&a, SEED, 3, MEAN);
    mt__sampler_seed(&b, SEED, 3, MEAN);
    mt__sampler_seed(&c, SEED, 4, MEAN);
    int differ = a.left != c.left;
    for (int i = 0; i < 1000; i++) {
        int64_t x = mt__sampler_next(&a, MEAN), y = mt__sampler_next(&b, MEAN);
        assert_int_equal(x, y);
        assert_true(x >= 1);
        differ |= x != mt__sampler_next(&c, MEAN);
    }
    assert_true(differ); /* another thread's stream is another sequence */
}

/* The intervals are exponential of the given mean: over 200000 draws the mean is within 1 %
 * (the standard error is 0.22 %), and about e^-1 of them exceed the mean. */
static void test_intervals_are_exponential(void **state)
{
    (void)state;
    mt_sampler_t s;
    mt__sampler_seed(&s, SEED, 0, MEAN);
    const int n = 200000;
    double sum = 0;
    int above = 0;
    for (int i = 0; i < n; i++) {
        int64_t v = mt__sampler_next(&s, MEAN);
        sum += (double)v;
        above += v > MEAN;
    }
    double mean = sum / n - 0.5; /* intervals are rounded up */
    assert_true(fabs(mean / MEAN - 1.0) < 0.01);
    assert_true(fabs((double)above / n - exp(-1.0)) < 0.005);
}

/* The weight 1 / (1 - exp(-size/mean)), in units of 1/65536 allocation, and the bytes. */
static void test_weights(void **state)
{
    (void)state;
    /* size = mean: 1 / (1 - e^-1) = 1.5819767068693265 */
    assert_int_equal(mt__sample_count_fixed(MEAN, MEAN), 103676); /* 1.58197... * 65536 */
    assert_int_equal(mt__sample_bytes(MEAN, MEAN), 6480);         /* 4096 * 1.58197... */
    /* A small block stands for about mean/size blocks of its size, plus a half. */
    assert_int_equal(mt__sample_bytes(16, MEAN), 4104);
    assert_int_equal(mt__est_round(mt__sample_count_fixed(16, MEAN)), 257); /* 256.5 + ... */
    /* A block far above the mean is almost surely sampled: it stands for itself. */
    assert_int_equal(mt__sample_bytes(64 * MEAN, MEAN), 64 * MEAN);
    assert_int_equal(mt__sample_count_fixed(64 * MEAN, MEAN), MT_EST_ONE);
    assert_int_equal(mt__est_round(MT_EST_ONE / 2 - 1), 0);
    assert_int_equal(mt__est_round(MT_EST_ONE / 2), 1);
}

/* ---- a sample-mode engine, through its capture */

static mt_engine_t *sample_engine(uint64_t mean)
{
    mt_config_t cfg = {.depth = 64, .mode = MT_MODE_SAMPLE, .sample_mean = mean, .seed = SEED};
    mt_engine_t *e = mt__engine_create(&cfg);
    assert_non_null(e);
    return e;
}

/* Records an allocation the way the preload library does: the sampler first. */
static void alloc(mt_thread_t *t, uint64_t addr, uint64_t size, const uint64_t *frames, unsigned n)
{
    if (mt__engine_sampled(t, size))
        mt__engine_alloc(t, addr, size, 0, frames, n);
    else
        mt__engine_alloc_unsampled(t, addr, size, 0);
}

static mt_capture_t *capture(mt_engine_t *e, mt_thread_t *self)
{
    char path[] = "/tmp/memtrack_test_sampler_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    mt_capture_info_t info = {.pid = 1, .program = "test", .self = self};
    assert_int_equal(mt__capture_write(e, path, &info), 0);
    mt_capture_t *cap = NULL;
    char err[256];
    int r = mt__capture_read(path, &cap, err, sizeof err);
    if (r != 0) fprintf(stderr, "%s\n", err);
    assert_int_equal(r, 0);
    unlink(path);
    return cap;
}

/* The node whose innermost frame is `frame`. */
static const mt_cap_node_t *node_of(const mt_capture_t *cap, uint64_t frame)
{
    for (size_t id = 1; id < cap->nnodes; id++)
        if (cap->nodes[id].frame == frame) return &cap->nodes[id];
    fail_msg("no node for frame %#llx", (unsigned long long)frame);
    return NULL;
}

/* Whether the estimate `est` of a true figure `truth` made of `n` blocks of `size` bytes is
 * within four standard errors: each block is sampled with probability p and then counts 1/p,
 * so the estimate's variance is truth^2 (1 - p) / (n p). */
static void assert_near(uint64_t est, double truth, double n, double size, double mean)
{
    double p = -expm1(-size / mean);
    double se = truth * sqrt((1 - p) / (n * p));
    if (fabs((double)est - truth) > 4 * se + 1)
        fail_msg("estimate %llu, truth %.0f, standard error %.1f", (unsigned long long)est, truth,
                 se);
}

/* Three call sites with known sizes and byte proportions: A makes 100000 blocks of 64 bytes
 * (6.4 MB), B 10000 of 4000 bytes (40 MB), C 100 of 1 MiB (105 MB); every other block of A
 * and B is freed. With a fixed seed the estimates are always the same numbers (checked
 * exactly), and they are within four standard errors of the truth; the totals are exact. */
static void test_estimates_fixed_seed(void **state)
{
    (void)state;
    mt_engine_t *e = sample_engine(MEAN);
    mt_thread_t *t = mt__thread_attach(e, 1);
    static const uint64_t fa[] = {0xa0, 0x10}, fb[] = {0xb0, 0x10}, fc[] = {0xc0, 0x10};
    uint64_t addr = 0x100000;
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 1000; i++)
            alloc(t, addr + 16 * (uint64_t)(round * 1000 + i), 64, fa, 2);
        for (int i = 0; i < 100; i++)
            alloc(t, 0x40000000 + 4096 * (uint64_t)(round * 100 + i), 4000, fb, 2);
        alloc(t, 0x100000000 + (1ull << 20) * (uint64_t)round, 1 << 20, fc, 2);
    }
    for (int i = 0; i < 100000; i += 2)
        assert_true(mt__engine_free(t, addr + 16 * (uint64_t)i));
    for (int i = 0; i < 10000; i += 2)
        assert_true(mt__engine_free(t, 0x40000000 + 4096 * (uint64_t)i));

    mt_capture_t *cap = capture(e, t);
    assert_int_equal(cap->mode, MT_CAP_MODE_SAMPLE);
    assert_int_equal(cap->sample_mean, MEAN);
    /* Exact whatever was sampled. */
    assert_int_equal(cap->totals.allocations, 110100);
    assert_int_equal(cap->totals.allocated_bytes, 6400000ull + 40000000ull + 100ull * (1 << 20));
    assert_int_equal(cap->totals.frees, 55000);
    assert_int_equal(cap->totals.live_blocks, 55100);
    assert_int_equal(cap->totals.live_bytes, 3200000ull + 20000000ull + 100ull * (1 << 20));
    assert_int_equal(cap->threads[0].live_blocks, 55100);
    assert_int_equal(cap->threads[0].allocations, 110100);

    const mt_cap_node_t *a = node_of(cap, 0xa0), *b = node_of(cap, 0xb0), *c = node_of(cap, 0xc0);
    /* The same seed, the same sample: these are the numbers for seed 42, as computed by an
     * independent model of the sampler and the weights (tests/data/sampler_model.py). */
    assert_int_equal(cap->sampled, 7937);
    assert_int_equal(a->allocations, 101009);
    assert_int_equal(a->allocated_bytes, 6464448);
    assert_int_equal(a->live_bytes, 3207456);
    assert_int_equal(b->allocations, 10059);
    assert_int_equal(b->allocated_bytes, 40234736);
    assert_int_equal(b->live_bytes, 20178320);
    /* 1 MiB blocks are all sampled, each standing for itself (weight 1 to 5 decimals). */
    assert_int_equal(c->allocations, 100);
    assert_int_equal(c->allocated_bytes, 100ull << 20);
    assert_int_equal(c->live_blocks, 100);
    assert_int_equal(c->live_bytes, 100ull << 20);
    /* And they are unbiased estimates, close to the truth. */
    assert_near(a->allocations, 100000, 100000, 64, MEAN);
    assert_near(a->allocated_bytes, 6.4e6, 100000, 64, MEAN);
    assert_near(a->live_bytes, 3.2e6, 50000, 64, MEAN);
    assert_near(b->allocations, 10000, 10000, 4000, MEAN);
    assert_near(b->allocated_bytes, 4.0e7, 10000, 4000, MEAN);
    assert_near(b->live_bytes, 2.0e7, 5000, 4000, MEAN);
    /* Unsampled blocks are in no node and not listed in LIVE. */
    assert_true(cap->nlive < cap->totals.live_blocks);
    mt__capture_free(cap);
    mt__engine_destroy(e);
}

/* ---- exact totals under eight threads */

#define NTHREADS 8
#define ROUNDS   40000

typedef struct worker_s {
    mt_engine_t *e;
    int id;
} worker_t;

static void *churn(void *arg)
{
    worker_t *w = arg;
    mt_thread_t *t = mt__thread_attach(w->e, 100 + (uint64_t)w->id);
    uint64_t frames[2] = {0x1000 + (uint64_t)w->id, 0x10};
    uint64_t base = 0x10000000ull * (uint64_t)(w->id + 1);
    for (uint64_t i = 0; i < ROUNDS; i++) {
        alloc(t, base + 16 * i, 1 + i % 100, frames, 2);
        if (i % 4 != 3) mt__engine_free(t, base + 16 * i);
    }
    mt__thread_detach(t);
    return NULL;
}

static void test_exact_totals_many_threads(void **state)
{
    (void)state;
    mt_engine_t *e = sample_engine(256);
    worker_t w[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker_t){e, i};
        pthread_create(&th[i], NULL, churn, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t bytes = 0, live = 0;
    for (uint64_t i = 0; i < ROUNDS; i++) {
        bytes += 1 + i % 100;
        if (i % 4 == 3) live += 1 + i % 100;
    }
    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    assert_int_equal(tot.allocations, NTHREADS * ROUNDS);
    assert_int_equal(tot.allocated_bytes, NTHREADS * bytes);
    assert_int_equal(tot.frees, NTHREADS * ROUNDS * 3 / 4);
    assert_int_equal(tot.freed_bytes, NTHREADS * (bytes - live));
    assert_int_equal(tot.live_bytes, NTHREADS * live);
    assert_int_equal(tot.unknown_frees, 0);
    mt_capture_t *cap = capture(e, NULL);
    assert_int_equal(cap->totals.live_blocks, NTHREADS * ROUNDS / 4);
    assert_int_equal(cap->totals.live_bytes, NTHREADS * live);
    for (size_t i = 0; i < cap->nthreads; i++) {
        assert_int_equal(cap->threads[i].allocations, ROUNDS);
        assert_int_equal(cap->threads[i].live_bytes, live);
    }
    mt__capture_free(cap);
    mt__engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_intervals),
        cmocka_unit_test(test_intervals_are_exponential),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_estimates_fixed_seed),
        cmocka_unit_test(test_exact_totals_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
