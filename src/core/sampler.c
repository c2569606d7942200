/* The byte sampler of `sample` mode (sampler.h): a per-thread xorshift64* generator, seeded
 * with splitmix64, drawing exponential intervals; and the per-size weights of the estimates. */
#include "core/sampler.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void mt__sampler_seed(mt_sampler_t *s, uint64_t seed, uint64_t stream, uint64_t mean)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
    uint64_t r = splitmix64(&x);
    s->rng = r ? r : 0x2545f4914f6cdd1dull; /* xorshift's state must not be 0 */
    s->left = mt__sampler_next(s, mean);
}

static uint64_t next_u64(mt_sampler_t *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

int64_t mt__sampler_next(mt_sampler_t *s, uint64_t mean)
{
    /* u uniform in (0, 1]: 53 random bits, plus one so that log(u) is finite. */
    double u = (double)((next_u64(s) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double v = ceil(-log(u) * (double)mean);
    if (v < 1.0) return 1;
    if (v > 9.0e18) return INT64_MAX;
    return (int64_t)v;
}

int mt__sampler_cross(mt_sampler_t *s, uint64_t size, uint64_t mean, uint64_t seed, uint64_t stream)
{
    if (s->left <= 0) {
        mt__sampler_seed(s, seed, stream, mean);
        if (size < (uint64_t)s->left) {
            s->left -= (int64_t)size;
            return 0;
        }
    }
    /* Crossed: sampled. The next interval starts after this block: the process has no memory,
     * so where the interval ended inside the block does not matter. */
    s->left = mt__sampler_next(s, mean);
    return 1;
}

static double weight(uint64_t size, uint64_t mean)
{
    if (size == 0 || mean == 0) return 1.0;
    return -1.0 / expm1(-(double)size / (double)mean);
}

uint64_t mt__sample_count_fixed(uint64_t size, uint64_t mean)
{
    return (uint64_t)llround(weight(size, mean) * (double)MT_EST_ONE);
}

uint64_t mt__sample_bytes(uint64_t size, uint64_t mean)
{
    return (uint64_t)llround((double)size * weight(size, mean));
}
