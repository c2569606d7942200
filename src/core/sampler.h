/* The sampler of `sample` mode: which allocations get a call path, and what each recorded one
 * stands for. Bytes are sampled as a Poisson process of mean `mean` bytes (heapprofd, tcmalloc):
 * each thread counts down an exponentially distributed number of bytes and the allocation that
 * crosses zero is recorded, at its exact size. An allocation of `size` bytes is then recorded
 * with probability 1 - exp(-size/mean), independently of every other one (the process has no
 * memory), so weighting it by the inverse of that probability gives unbiased estimates for any
 * mix of sizes (jemalloc's per-size correction). */
#ifndef MT_CORE_SAMPLER_H
#define MT_CORE_SAMPLER_H

#include <stdint.h>

#define MT_SAMPLE_MEAN_DEFAULT (512u * 1024u)
#define MT_SAMPLE_MEAN_MAX     (1ull << 40)

/* Estimated counts are kept in fixed point, in units of 1/MT_EST_ONE allocation, so that a
 * large block's weight (a little above 1) is not rounded to 1 or 2. */
#define MT_EST_SHIFT 16
#define MT_EST_ONE   (1ull << MT_EST_SHIFT)

/* A thread's sampler: its random state and the bytes left before the next sample. */
typedef struct mt_sampler_s {
    uint64_t rng; /* xorshift64* state; 0 until seeded */
    int64_t left; /* bytes before the next sample; <= 0 until seeded */
} mt_sampler_t;

/* Seeds the sampler from `seed` and `stream` (the thread's index) and draws its first
 * interval: the same pair always gives the same sequence of intervals. */
void mt__sampler_seed(mt_sampler_t *s, uint64_t seed, uint64_t stream, uint64_t mean);

/* The next interval: an exponentially distributed number of bytes of mean `mean`, rounded up
 * (so that a block of `size` bytes crosses it exactly when the real-valued interval is at most
 * `size`), at least 1. */
int64_t mt__sampler_next(mt_sampler_t *s, uint64_t mean);

/* The slow path of mt__sampler_take: seeds a new sampler, or draws the next interval after a
 * sampled block. */
int mt__sampler_cross(mt_sampler_t *s, uint64_t size, uint64_t mean, uint64_t seed,
                      uint64_t stream);

/* Whether an allocation of `size` bytes is sampled. The common case (not sampled) is one
 * compare and one subtraction. A sampler not seeded yet (left 0) is seeded from `seed` and
 * `stream` on its first call. */
static inline int mt__sampler_take(mt_sampler_t *s, uint64_t size, uint64_t mean, uint64_t seed,
                                   uint64_t stream)
{
    if (__builtin_expect(s->left > 0 && size < (uint64_t)s->left, 1)) {
        s->left -= (int64_t)size;
        return 0;
    }
    return mt__sampler_cross(s, size, mean, seed, stream);
}

/* The weight of a sampled block of `size` bytes, 1 / (1 - exp(-size/mean)), as a count in
 * units of 1/MT_EST_ONE, and the bytes it stands for (size times the weight), rounded. */
uint64_t mt__sample_count_fixed(uint64_t size, uint64_t mean);
uint64_t mt__sample_bytes(uint64_t size, uint64_t mean);

/* A fixed-point count back to a whole number, rounded to nearest. */
static inline uint64_t mt__est_round(uint64_t fixed)
{
    return (fixed + MT_EST_ONE / 2) >> MT_EST_SHIFT;
}

#endif
