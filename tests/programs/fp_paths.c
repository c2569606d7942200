/* Built with frame pointers (tests/CMakeLists.txt builds fp_* programs so), for the unwinder's
 * frame-pointer walk: every call path here must come out the same as libunwind's DWARF
 * unwinder gives it. Each kind of path leaks blocks of its own size, so the leaks tell them
 * apart:
 *   deep      (ROUNDS blocks of 100..107 bytes): main -> deep(d) -> ... -> deep(0), d = 0..7
 *   thread    (ROUNDS of 200): a worker thread's start routine -> in_thread
 *   sorted    (ROUNDS of 300): main -> sort_with_alloc -> qsort (libc, without frame
 *             pointers) -> compare_alloc: a walk through code it cannot follow
 *   dup       (2 x ROUNDS of 8 and 9): strdup (libc) from two call sites in main
 *   plugin    (ROUNDS of 400): main -> fp_plugin.so (argv[1], dlopen'd, with frame pointers)
 *   at_exit   (1 of 500): an atexit handler, called by libc's exit
 *   on_signal (1 of 600): a signal handler running on an alternate signal stack
 * deep() also frees a temporary block of 50 bytes each time. Prints "compares N", the number
 * of comparisons qsort made in all. */
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "progout.h"

#define ROUNDS 2000

static volatile int sink;

__attribute__((noinline)) static void deep(int d, size_t size)
{
    if (d == 0) {
        void *volatile p = malloc(size);
        (void)p; /* leaked */
        void *volatile q = malloc(50);
        free(q);
        return;
    }
    deep(d - 1, size);
    sink++;
}

__attribute__((noinline)) static void in_thread(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        void *volatile p = malloc(200);
        (void)p;
    }
}

static void *worker(void *arg)
{
    in_thread();
    sink++;
    return arg;
}

static unsigned long compares;

static int compare_alloc(const void *a, const void *b)
{
    compares++;
    void *volatile p = malloc(300);
    (void)p;
    return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) static void sort_with_alloc(void)
{
    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (i * 37) % 64;
    qsort(v, 64, sizeof(v[0]), compare_alloc);
    sink += v[0];
}

static void on_signal(int sig)
{
    (void)sig;
    void *volatile p = malloc(600);
    (void)p;
}

/* Raises SIGUSR1 with its handler on an alternate stack (mapped, not malloc'd). */
__attribute__((noinline)) static int signal_on_altstack(void)
{
    size_t size = 256 * 1024;
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -1;
    stack_t ss = {.ss_sp = mem, .ss_size = size, .ss_flags = 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK;
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0) return -1;
    return raise(SIGUSR1);
}

static void at_exit_alloc(void)
{
    void *volatile p = malloc(500);
    (void)p;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    atexit(at_exit_alloc);
    for (int i = 0; i < ROUNDS; i++)
        deep(i % 8, 100 + (size_t)(i % 8));
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 3;
    pthread_join(t, NULL);
    for (int i = 0; i < ROUNDS / 64; i++)
        sort_with_alloc();
    for (int i = 0; i < ROUNDS; i++) {
        char *volatile a = strdup("1234567");  /* 8 bytes */
        char *volatile b = strdup("12345678"); /* 9 bytes */
        (void)a;
        (void)b;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        put_str("dlerror", dlerror());
        return 4;
    }
    void (*plugin)(int) = (void (*)(int))dlsym(h, "fp_plugin_alloc");
    if (plugin == NULL) return 5;
    plugin(ROUNDS);
    if (signal_on_altstack() != 0) return 6;
    out_kv("compares", compares);
    return 0;
}
