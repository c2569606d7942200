/* Ways to end: each mode first leaks 2 blocks of 250 bytes from leak_before_end, then
 *   segv | abort | term     dies by SIGSEGV / SIGABRT / SIGTERM,
 *   kill                    dies by SIGKILL (no capture can be written),
 *   exit N | quick N        calls exit(N) / _exit(N),
 *   thread_exit             a second thread calls exit(9) while four others allocate and free,
 *   thread_segv             a second thread dies by SIGSEGV while four others allocate,
 *   overflow                the main thread overflows its stack,
 *   thread_overflow         a second thread leaks 33 bytes (leak_in_thread), then overflows
 *                           its stack,
 *   exec PROG ARGS...       replaces itself with PROG ARGS. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progout.h"

#define NCHURN 4

static void *kept[16];
static int nkept;
static void *volatile sink;
static int *volatile null_ptr;
static atomic_long progress[NCHURN];

__attribute__((noinline)) void keep(void *p)
{
    kept[nkept++] = p;
}

__attribute__((noinline)) void leak_before_end(void)
{
    for (int i = 0; i < 2; i++)
        keep(malloc(250));
}

__attribute__((noinline)) void crash_segv(void)
{
    *null_ptr = 1;
}

static volatile int forever = 1; /* a way out the compiler cannot see is never taken */

/* Recurses until the stack runs out, a page of it per call. */
__attribute__((noinline)) int overflow(int depth)
{
    volatile char page[4096];
    page[0] = (char)depth;
    return forever ? overflow(depth + 1) + page[0] : 0;
}

__attribute__((noinline)) void leak_in_thread(void)
{
    sink = malloc(33);
}

static void *overflower(void *arg)
{
    (void)arg;
    leak_in_thread();
    overflow(0);
    return NULL;
}

/* Each churning thread holds at most one 64-byte block at any moment. */
__attribute__((noinline)) void churn_forever(int idx)
{
    for (;;) {
        void *p = malloc(64);
        sink = p;
        free(p);
        atomic_fetch_add_explicit(&progress[idx], 1, memory_order_relaxed);
    }
}

static void *churner(void *arg)
{
    churn_forever((int)(long)arg);
    return NULL;
}

static void *ender(void *arg)
{
    int segv = (int)(long)arg;
    for (int i = 0; i < NCHURN; i++)
        while (atomic_load(&progress[i]) < 1000)
            usleep(1000);
    if (segv) crash_segv();
    exit(9);
}

static int threaded_end(int segv)
{
    pthread_t t;
    for (long i = 0; i < NCHURN; i++)
        if (pthread_create(&t, NULL, churner, (void *)i) != 0) return 90;
    if (pthread_create(&t, NULL, ender, (void *)(long)segv) != 0) return 90;
    pthread_join(t, NULL);
    return 91;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "exit";
    int code = argc > 2 ? atoi(argv[2]) : 0;
    out_kv("pid", (unsigned long)getpid());
    leak_before_end();
    if (strcmp(mode, "segv") == 0) crash_segv();
    if (strcmp(mode, "abort") == 0) abort();
    if (strcmp(mode, "term") == 0) {
        kill(getpid(), SIGTERM);
        pause();
    }
    if (strcmp(mode, "kill") == 0) kill(getpid(), SIGKILL);
    if (strcmp(mode, "quick") == 0) _exit(code);
    if (strcmp(mode, "thread_exit") == 0) return threaded_end(0);
    if (strcmp(mode, "thread_segv") == 0) return threaded_end(1);
    if (strcmp(mode, "overflow") == 0) return overflow(0);
    if (strcmp(mode, "thread_overflow") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, overflower, NULL) != 0) return 90;
        pthread_join(t, NULL);
        return 91;
    }
    if (strcmp(mode, "exec") == 0 && argc > 2) {
        execv(argv[2], argv + 2);
        return 92;
    }
    exit(code);
}
