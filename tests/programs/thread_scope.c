/* Figures by allocating thread, wherever the blocks are freed: main allocates 3 blocks of 1000
 * bytes (main_alloc); a worker makes 10 temporary blocks of 64 bytes (worker_temp), then holds
 * 2 blocks of 500 (worker_alloc): live memory peaks at 4000 bytes. After the peak, main frees
 * the worker's 2 blocks and the worker frees 2 of main's; 1 of main's stays live. So main's
 * call paths hold 3000 bytes at the peak and 1000 at the end, the worker's 1000 and nothing,
 * although each thread freed the other's blocks. Prints "main_tid T" and "worker_tid T". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progout.h"

static void *mains[3], *workers[2];
static pthread_barrier_t barrier;

__attribute__((noinline)) void main_alloc(void)
{
    for (int i = 0; i < 3; i++)
        mains[i] = malloc(1000);
}

__attribute__((noinline)) void worker_temp(void)
{
    for (int i = 0; i < 10; i++) {
        void *volatile p = malloc(64);
        free(p);
    }
}

__attribute__((noinline)) void worker_alloc(void)
{
    for (int i = 0; i < 2; i++)
        workers[i] = malloc(500);
}

static void *worker(void *arg)
{
    (void)arg;
    out_kv("worker_tid", (unsigned long)syscall(SYS_gettid));
    worker_temp();
    worker_alloc();
    pthread_barrier_wait(&barrier); /* the peak: 4000 bytes */
    pthread_barrier_wait(&barrier); /* main freed the worker's blocks */
    free(mains[0]);
    free(mains[1]);
    return NULL;
}

int main(void)
{
    out_kv("main_tid", (unsigned long)syscall(SYS_gettid));
    pthread_barrier_init(&barrier, NULL, 2);
    main_alloc();
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
    pthread_barrier_wait(&barrier);
    free(workers[0]);
    free(workers[1]);
    pthread_barrier_wait(&barrier);
    pthread_join(t, NULL);
    return 0;
}
