/* A pseudo-random mix of malloc, calloc, realloc and free over 1024 slots (the tests replay the
 * same generator to know every figure), leaving a known set of blocks live at exit. No stdio. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSLOTS 1024
#define NOPS   20000

static void *slots[NSLOTS];
static uint64_t state = 12345;

static uint32_t next_rand(void)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(state >> 33);
}

__attribute__((noinline)) void churn_slots(void)
{
    for (int i = 0; i < NOPS; i++) {
        uint32_t r = next_rand();
        uint32_t s = r % NSLOTS;
        size_t size = 1 + (r >> 10) % 5000;
        uint32_t op = (r >> 23) % 4;
        if (slots[s]) {
            if (op == 0) {
                slots[s] = realloc(slots[s], size);
            } else {
                free(slots[s]);
                slots[s] = NULL;
            }
        } else if (op == 0) {
            slots[s] = calloc(1, size);
        } else {
            slots[s] = malloc(size);
        }
    }
}

int main(void)
{
    churn_slots();
    if (write(1, "done\n", 5) != 5) return 99;
    return 0;
}
