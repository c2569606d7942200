/* Eight threads in a ring: thread i allocates ROUNDS blocks (produce) and hands each to thread
 * i + 1 through a queue; thread i + 1 frees all but the last LEFT of them, which stay live.
 * Each round also makes one temporary allocation (scratch). Every figure is known exactly:
 * per thread 2 * ROUNDS allocations, 2 * ROUNDS - LEFT frees, LEFT live blocks. "baseline"
 * runs the same threads without allocating. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progout.h"

#define NTHREADS 8
#define ROUNDS   2000
#define LEFT     3

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    int head, tail;
    void *items[ROUNDS];
};

static struct queue queues[NTHREADS];
static int baseline;
static void *volatile sink;

/* The size thread `idx` asks for in round `r` (the tests compute the same). */
static size_t block_size(int idx, int r)
{
    return (size_t)(16 + 8 * idx + 16 * (r % 5));
}

static void push(struct queue *q, void *p)
{
    pthread_mutex_lock(&q->lock);
    q->items[q->tail++] = p;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

static void *pop(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->head == q->tail)
        pthread_cond_wait(&q->ready, &q->lock);
    void *p = q->items[q->head++];
    pthread_mutex_unlock(&q->lock);
    return p;
}

__attribute__((noinline)) void *produce(int idx, int r)
{
    char *p = malloc(block_size(idx, r));
    p[0] = (char)r;
    return p;
}

__attribute__((noinline)) void scratch(void)
{
    void *t = malloc(32);
    sink = t;
    free(t);
}

__attribute__((noinline)) void consume(void *p)
{
    free(p);
}

static void *worker(void *arg)
{
    int idx = (int)(long)arg;
    char name[16] = "churn-0";
    name[6] = (char)('0' + idx);
    pthread_setname_np(pthread_self(), name);
    out_line("tid", (unsigned long)idx, (unsigned long)syscall(SYS_gettid));
    if (baseline) return NULL;
    for (int r = 0; r < ROUNDS; r++) {
        push(&queues[(idx + 1) % NTHREADS], produce(idx, r));
        scratch();
        if (r >= LEFT) consume(pop(&queues[idx]));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t threads[NTHREADS];
    pthread_attr_t attr;
    baseline = argc > 1 && strcmp(argv[1], "baseline") == 0;
    out_line("pid", (unsigned long)getpid(), 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_mutex_init(&queues[i].lock, NULL);
        pthread_cond_init(&queues[i].ready, NULL);
    }
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&threads[i], &attr, worker, (void *)i) != 0) return 90;
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(threads[i], NULL);
    return 0;
}
