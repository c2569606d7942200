/* Three call sites with known sizes, for the sample-mode tests: site_small makes SMALL_N blocks
 * of SMALL_SIZE bytes and frees every other one, site_medium MEDIUM_N of MEDIUM_SIZE bytes,
 * site_large LARGE_N of LARGE_SIZE bytes, all kept to the end. The sites take turns, so the
 * peak (at the end) holds all three. tests/integration/test_modes.py knows these numbers. */
#include <stdlib.h>

#include "progout.h"

#define SMALL_N     200000
#define SMALL_SIZE  48
#define MEDIUM_N    20000
#define MEDIUM_SIZE 1000
#define LARGE_N     40
#define LARGE_SIZE  (2 << 20)
#define ROUNDS      40

/* volatile: the compiler may not leave out allocations whose blocks nobody reads. */
static void *volatile small[SMALL_N], *volatile medium[MEDIUM_N], *volatile large[LARGE_N];

static void site_small(int round)
{
    for (int i = round * (SMALL_N / ROUNDS); i < (round + 1) * (SMALL_N / ROUNDS); i++)
        small[i] = malloc(SMALL_SIZE);
}

static void site_medium(int round)
{
    for (int i = round * (MEDIUM_N / ROUNDS); i < (round + 1) * (MEDIUM_N / ROUNDS); i++)
        medium[i] = malloc(MEDIUM_SIZE);
}

static void site_large(int round)
{
    large[round] = malloc(LARGE_SIZE);
}

int main(void)
{
    for (int r = 0; r < ROUNDS; r++) {
        site_small(r);
        site_medium(r);
        site_large(r);
    }
    for (int i = 0; i < SMALL_N; i += 2)
        free(small[i]);
    put("done", 1);
    return 0;
}
