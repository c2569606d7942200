/* Benchmark workload: malloc/free churn from several threads, for bench/run.py.
 * Usage: churn THREADS ITERATIONS. Each thread makes ITERATIONS allocations of pseudo-random
 * sizes (16..4096 bytes) from call paths of varying depth, keeping a ring of live blocks so that
 * frees interleave with allocations; it prints one checksum, identical for every run. */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many blocks each thread keeps alive; a slot is freed when it is reused. */
#define RING_SIZE 64
/* Call paths are 0..MAX_EXTRA_DEPTH frames deeper than the thread's loop. */
#define MAX_EXTRA_DEPTH 7
#define MAX_THREADS     256

typedef struct churn_thread_s {
    pthread_t id;
    unsigned index;
    unsigned long iterations;
    uint64_t checksum;
} churn_thread_t;

static uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* Allocates from DEPTH frames further down, so that the tracked call paths differ in depth and
 * the tracker has real stacks to unwind and intern. The arithmetic after the call keeps the
 * compiler from turning the recursion into a loop or a tail call. */
static __attribute__((noinline)) unsigned char *alloc_at_depth(unsigned depth, size_t size)
{
    unsigned char *block;

    if (depth == 0) {
        block = malloc(size);
        if (block == NULL) {
            fprintf(stderr, "churn: malloc(%zu) failed\n", size);
            exit(1);
        }
        return block;
    }
    block = alloc_at_depth(depth - 1, size);
    __asm__ volatile("" : : "r"(block) : "memory");
    return block;
}

static void *churn_thread(void *arg)
{
    churn_thread_t *t = arg;
    unsigned char *ring[RING_SIZE] = {0};
    size_t sizes[RING_SIZE] = {0};
    uint64_t state = 0x9e3779b97f4a7c15ULL * (t->index + 1);
    uint64_t sum = 0;

    for (unsigned long i = 0; i < t->iterations; i++) {
        uint64_t r = xorshift64(&state);
        unsigned slot = (unsigned)(r % RING_SIZE);
        size_t size = 16 + (size_t)((r >> 8) % (4096 - 16 + 1));
        unsigned depth = (unsigned)((r >> 24) % (MAX_EXTRA_DEPTH + 1));

        if (ring[slot] != NULL) {
            /* Read back what was written so the block's life is observable. */
            sum += ring[slot][0] + ring[slot][sizes[slot] - 1] + sizes[slot];
            free(ring[slot]);
        }
        ring[slot] = alloc_at_depth(depth, size);
        sizes[slot] = size;
        ring[slot][0] = (unsigned char)r;
        ring[slot][size - 1] = (unsigned char)(r >> 32);
    }
    for (unsigned slot = 0; slot < RING_SIZE; slot++) {
        if (ring[slot] != NULL) {
            sum += ring[slot][0] + ring[slot][sizes[slot] - 1] + sizes[slot];
            free(ring[slot]);
        }
    }
    t->checksum = sum;
    return NULL;
}

static int parse_count(const char *text, unsigned long max, unsigned long *out)
{
    char *end;

    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value == 0 || value > max)
        return -1;
    *out = value;
    return 0;
}

int main(int argc, char **argv)
{
    static churn_thread_t threads[MAX_THREADS];
    unsigned long nthreads, iterations;
    uint64_t checksum = 0;

    if (argc != 3 || parse_count(argv[1], MAX_THREADS, &nthreads) != 0 ||
        parse_count(argv[2], 1000000000000UL, &iterations) != 0) {
        fprintf(stderr, "usage: churn THREADS ITERATIONS  (1 <= THREADS <= %d, ITERATIONS >= 1)\n",
                MAX_THREADS);
        return 2;
    }
    for (unsigned long i = 0; i < nthreads; i++) {
        threads[i].index = (unsigned)i;
        threads[i].iterations = iterations;
        int err = pthread_create(&threads[i].id, NULL, churn_thread, &threads[i]);
        if (err != 0) {
            fprintf(stderr, "churn: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    for (unsigned long i = 0; i < nthreads; i++) {
        pthread_join(threads[i].id, NULL);
        checksum += threads[i].checksum;
    }
    printf("%016" PRIx64 "\n", checksum);
    return 0;
}
