/* Programs that make life hard for a tracker (tests/integration/test_hostile.py). Each mode
 * first leaks 3 blocks of 100 bytes from leak_three, unless said otherwise, and prints what the
 * test needs as "key value" lines (progout.h: write(2), no stdio).
 *
 *   exit N             exit(N)
 *   stdin N            reads a byte of stdin (waits for it), then exit(N)
 *   threads64 N        64 threads each allocate N blocks and free N blocks the previous thread
 *                      allocated, through a queue per thread, all at once; each then leaks one
 *                      block of 8 * (its index + 1) bytes from leak_one (no leak_three)
 *   closefds N         closes every file descriptor (close_range), then exit(N)
 *   chdir DIR          changes directory to DIR, then exit(0)
 *   segv_recover       installs a SIGSEGV handler, faults, recovers with siglongjmp, exit(0)
 *   segv_exit N        installs a SIGSEGV handler that calls _exit(N), then faults
 *   signal_malloc N    a timer signal whose handler mallocs and frees 4000 bytes, while
 *                      the main thread mallocs and frees 48 bytes at least N times (and
 *                      until the handler ran 20 times)
 *   rlimit N           leaves 8 MiB of heap free, then limits its address space (RLIMIT_AS)
 *                      to what it has mapped plus 256 KiB and keeps N blocks of 16 bytes
 *   sigdfl             prints whether SIGINT's action looks like SIG_DFL ("int_default 1"),
 *                      sets SIGTERM to SIG_DFL with sigaction and raises it
 *   spawn PROG         runs `PROG exit 7` with posix_spawn and `PROG exit 5` with vfork and
 *                      execv, and then allocates 2 more blocks of 50 bytes (leak_after)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progout.h"

extern char **environ;

static void *volatile sink;

__attribute__((noinline)) static void leak_three(void)
{
    for (int i = 0; i < 3; i++)
        sink = malloc(100);
}

static long arg_num(int argc, char **argv, int i)
{
    return argc > i ? atol(argv[i]) : 0;
}

/* ---- threads64 */

#define NTHREADS 64
#define RING     256

/* Thread t hands its blocks to thread t + 1 through ring[t]: a bounded queue with one producer
 * and one consumer, whose semaphores put a waiting thread to sleep (no spinning: 64 threads
 * share a few cores). */
static void *ring[NTHREADS][RING];
static sem_t filled[NTHREADS], room[NTHREADS];
static long per_thread;

/* Sizes the test computes too: 16 + (7 * thread + i) % 100. */
static size_t block_size(long t, long i)
{
    return (size_t)(16 + (7 * t + i) % 100);
}

__attribute__((noinline)) static void *leak_one(long t)
{
    return malloc((size_t)(8 * (t + 1)));
}

static void *churn(void *arg)
{
    long t = (long)arg, prev = (t + NTHREADS - 1) % NTHREADS;
    for (long i = 0; i < per_thread; i++) {
        void *p = malloc(block_size(t, i));
        while (sem_wait(&room[t]) != 0) {
        }
        ring[t][i % RING] = p;
        sem_post(&filled[t]);
        while (sem_wait(&filled[prev]) != 0) {
        }
        void *q = ring[prev][i % RING];
        sem_post(&room[prev]);
        free(q);
    }
    return leak_one(t);
}

static int threads64(long n)
{
    pthread_t th[NTHREADS];
    per_thread = n;
    for (int t = 0; t < NTHREADS; t++) {
        sem_init(&filled[t], 0, 0);
        sem_init(&room[t], 0, RING);
    }
    for (long t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, churn, (void *)t) != 0) return 1;
    for (long t = 0; t < NTHREADS; t++) {
        void *leaked;
        pthread_join(th[t], &leaked);
        sink = leaked;
    }
    put("threads", NTHREADS);
    return 0;
}

/* ---- own SIGSEGV handler */

static sigjmp_buf recover;
static int exit_from_handler = -1;

static void on_segv(int sig)
{
    (void)sig;
    if (exit_from_handler >= 0) _exit(exit_from_handler);
    siglongjmp(recover, 1);
}

static void fault(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(recover, 1) == 0) {
        *(volatile int *)(uintptr_t)8 = 1;
        put("not_reached", 1);
    } else {
        put("recovered", 1);
    }
}

/* ---- malloc in a signal handler */

static volatile sig_atomic_t handler_calls;

static void on_alarm(int sig)
{
    (void)sig;
    void *p = malloc(4000);
    if (p) memset(p, 1, 64);
    free(p);
    handler_calls++;
}

static void signal_malloc(long n)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);
    long i = 0;
    for (; i < n || handler_calls < 20; i++) {
        void *p = malloc(48);
        sink = p;
        free(p);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    put("pairs", i);
    put("handler_calls", handler_calls);
}

/* ---- RLIMIT_AS */

static unsigned long mapped_bytes(void)
{
    char buf[256];
    int fd = open("/proc/self/statm", 0);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return strtoul(buf, NULL, 10) * (unsigned long)sysconf(_SC_PAGESIZE);
}

static int rlimit_as(long n)
{
    /* The program's own memory is there before the limit: 8 MiB of heap, freed but kept. */
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 0);
    sink = malloc(8 << 20);
    free(sink);
    struct rlimit lim = {mapped_bytes() + (256 << 10), RLIM_INFINITY};
    lim.rlim_max = lim.rlim_cur;
    if (setrlimit(RLIMIT_AS, &lim) != 0) return 3;
    long kept = 0;
    for (long i = 0; i < n; i++) {
        void *p = malloc(16);
        if (p == NULL) break;
        memset(p, 0, 16);
        sink = p;
        kept++;
    }
    put("kept", kept);
    return 0;
}

/* ---- posix_spawn and vfork */

__attribute__((noinline)) static void leak_after(void)
{
    for (int i = 0; i < 2; i++)
        sink = malloc(50);
}

static int spawn(const char *prog)
{
    char *spawn_argv[] = {(char *)prog, "exit", "7", NULL};
    pid_t pid;
    int status;
    if (posix_spawn(&pid, prog, NULL, NULL, spawn_argv, environ) != 0) return 3;
    waitpid(pid, &status, 0);
    put("spawn_status", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    char *vfork_argv[] = {(char *)prog, "exit", "5", NULL};
    pid = vfork();
    if (pid == 0) {
        execv(prog, vfork_argv);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    put("vfork_status", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    leak_after();
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "exit";
    put("pid", getpid());
    if (strcmp(mode, "threads64") == 0) return threads64(arg_num(argc, argv, 2));
    leak_three();
    if (strcmp(mode, "exit") == 0) exit((int)arg_num(argc, argv, 2));
    if (strcmp(mode, "stdin") == 0) {
        char byte;
        if (read(0, &byte, 1) < 0) return 3;
        exit((int)arg_num(argc, argv, 2));
    }
    if (strcmp(mode, "closefds") == 0) {
        close_range(0, ~0u, 0);
        exit((int)arg_num(argc, argv, 2));
    }
    if (strcmp(mode, "chdir") == 0) return argc > 2 && chdir(argv[2]) == 0 ? 0 : 3;
    if (strcmp(mode, "segv_recover") == 0) {
        fault();
        return 0;
    }
    if (strcmp(mode, "segv_exit") == 0) {
        exit_from_handler = (int)arg_num(argc, argv, 2);
        fault();
        return 0;
    }
    if (strcmp(mode, "signal_malloc") == 0) {
        signal_malloc(arg_num(argc, argv, 2));
        return 0;
    }
    if (strcmp(mode, "rlimit") == 0) return rlimit_as(arg_num(argc, argv, 2));
    if (strcmp(mode, "sigdfl") == 0) {
        struct sigaction old, dfl;
        sigaction(SIGINT, NULL, &old);
        put("int_default", !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL);
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &dfl, NULL);
        raise(SIGTERM);
        return 0;
    }
    if (strcmp(mode, "spawn") == 0 && argc > 2) return spawn(argv[2]);
    put("unknown_mode", 1);
    return 2;
}
