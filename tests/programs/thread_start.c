/* A second thread starts while the first is busy allocating: main holds HOLD blocks, frees
 * half, then churns malloc/free pairs without pause while a worker starts (its first malloc
 * registers it with the tracker), makes ROUNDS temporary blocks, frees main's other half, and
 * keeps one block of 777 bytes. Main stops churning when the worker is done and prints "churned K"
 * and the two thread ids. With the argument "baseline" it only starts and joins a worker that
 * allocates nothing, which leaves what the program's start and pthread_create allocate by
 * themselves. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progout.h"

#define HOLD   2000
#define ROUNDS 5000

static void *held[HOLD];
static atomic_int worker_done;
static int baseline;
static unsigned long worker_tid;

__attribute__((noinline)) static void hold(void)
{
    for (int i = 0; i < HOLD; i++)
        held[i] = malloc(24 + (size_t)(i % 50));
    for (int i = 1; i < HOLD; i += 2)
        free(held[i]);
}

static void *worker(void *arg)
{
    (void)arg;
    worker_tid = (unsigned long)syscall(SYS_gettid);
    if (!baseline) {
        for (int r = 0; r < ROUNDS; r++) {
            void *volatile q = malloc(32 + (size_t)(r % 16));
            free(q);
            if (r < HOLD / 2) free(held[2 * r]);
        }
        void *volatile keep = malloc(777);
        (void)keep;
    }
    atomic_store(&worker_done, 1);
    return NULL;
}

__attribute__((noinline)) static unsigned long churn(void)
{
    unsigned long k = 0;
    while (!atomic_load_explicit(&worker_done, memory_order_relaxed)) {
        void *volatile p = malloc(48);
        free(p);
        k++;
    }
    return k;
}

int main(int argc, char **argv)
{
    baseline = argc > 1 && strcmp(argv[1], "baseline") == 0;
    if (!baseline) hold();
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
    unsigned long k = baseline ? 0 : churn();
    pthread_join(t, NULL);
    out_kv("churned", k);
    out_kv("main_tid", (unsigned long)syscall(SYS_gettid));
    out_kv("worker_tid", worker_tid);
    return 0;
}
