/* Six threads, each with its own known high-water mark: thread i holds 10 * (i + 1) blocks of
 * 1000 bytes (its peak, reached by all threads at once behind a barrier), frees half, allocates
 * 4 * (i + 1) blocks again (staying below its peak) and frees everything. "baseline" runs the
 * same threads without allocating, so the tests can subtract what pthread_create allocates. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progout.h"

#define NTHREADS  6
#define MAXBLOCKS (10 * NTHREADS)

static pthread_barrier_t barrier;
static int baseline;

__attribute__((noinline)) void hold_blocks(void **blocks, int from, int to)
{
    for (int i = from; i < to; i++)
        blocks[i] = malloc(1000);
}

__attribute__((noinline)) void regrow_blocks(void **blocks, int from, int to)
{
    for (int i = from; i < to; i++)
        blocks[i] = malloc(1000);
}

__attribute__((noinline)) void drop_blocks(void **blocks, int from, int to)
{
    for (int i = from; i < to; i++)
        free(blocks[i]);
}

static void *worker(void *arg)
{
    int idx = (int)(long)arg;
    int n = 10 * (idx + 1);
    void *blocks[MAXBLOCKS];
    char name[16] = "peak-0";
    name[5] = (char)('0' + idx);
    pthread_setname_np(pthread_self(), name);
    out_line("tid", (unsigned long)idx, (unsigned long)syscall(SYS_gettid));
    if (!baseline) hold_blocks(blocks, 0, n);
    pthread_barrier_wait(&barrier); /* every thread holds its peak now */
    pthread_barrier_wait(&barrier);
    if (!baseline) {
        drop_blocks(blocks, n / 2, n);
        regrow_blocks(blocks, n / 2, n / 2 + 4 * (idx + 1));
        drop_blocks(blocks, 0, n / 2 + 4 * (idx + 1));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t threads[NTHREADS];
    pthread_attr_t attr;
    baseline = argc > 1 && strcmp(argv[1], "baseline") == 0;
    out_line("pid", (unsigned long)getpid(), 0);
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&threads[i], &attr, worker, (void *)i) != 0) return 90;
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(threads[i], NULL);
    return 0;
}
