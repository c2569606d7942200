/* Leaks through every C allocation function, with a fully known allocation sequence, so the
 * integration tests can check exact leaks, totals, temporaries and the peak. No stdio: output
 * goes through write(2) so libc allocates nothing behind our back. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progout.h"

static void *kept[64];
static int nkept;
static void *volatile sink;
static volatile int three = 3; /* a loop bound the compiler cannot unroll into 3 call sites */

__attribute__((noinline)) void keep(void *p)
{
    if (!p) _exit(98);
    kept[nkept++] = p;
}

/* 3 blocks of 100 bytes. */
__attribute__((noinline)) void leak_malloc(void)
{
    for (int i = 0; i < 3; i++)
        keep(malloc(100)); /* @leak_malloc */
}

/* 2 blocks of 10 * 24 = 240 bytes. */
__attribute__((noinline)) void leak_calloc(void)
{
    for (int i = 0; i < 2; i++)
        keep(calloc(10, 24));
}

/* realloc(NULL) then three growths: 4 allocations, 3 frees, 1 leak of 1000 bytes. */
__attribute__((noinline)) void grow_chain(void)
{
    char *p = realloc(NULL, 16);
    memset(p, 1, 16);
    p = realloc(p, 32);
    memset(p, 2, 32);
    p = realloc(p, 64);
    memset(p, 3, 64);
    p = realloc(p, 1000); /* @grow_chain */
    keep(p);
}

__attribute__((noinline)) void leak_posix_memalign(void)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, 200) != 0) _exit(97);
    keep(p);
}

__attribute__((noinline)) void leak_aligned_alloc(void)
{
    keep(aligned_alloc(128, 256));
}

__attribute__((noinline)) void leak_memalign(void)
{
    keep(memalign(32, 300));
}

__attribute__((noinline)) void leak_valloc(void)
{
    keep(valloc(500));
}

/* A whole number of pages, so the requested and the rounded size agree. */
__attribute__((noinline)) void leak_pvalloc(void)
{
    keep(pvalloc(8192));
}

/* reallocarray(NULL, 7, 9) = 63 bytes, grown to 10 * 9 = 90 bytes. */
__attribute__((noinline)) void leak_reallocarray(void)
{
    char *p = reallocarray(NULL, 7, 9);
    memset(p, 4, 63);
    keep(reallocarray(p, 10, 9));
}

/* 5 temporary allocations of 50 bytes. */
__attribute__((noinline)) void temp_pairs(void)
{
    for (int i = 0; i < 5; i++) {
        void *p = malloc(50);
        sink = p;
        free(p);
    }
}

/* a is not temporary (b was allocated before a was freed), b is. */
__attribute__((noinline)) void not_temp(void)
{
    void *a = malloc(10);
    sink = a;
    void *b = malloc(20);
    sink = b;
    free(a);
    free(b);
}

__attribute__((noinline)) void free_nulls(void)
{
    for (int i = 0; i < 3; i++)
        free(sink = NULL);
}

/* calloc(4, 25) = 100 bytes, freed at once: this is the moment of the peak. */
__attribute__((noinline)) void calloc_free(void)
{
    void *p = calloc(4, 25);
    sink = p;
    free(p);
}

/* malloc(0) returns a unique block in glibc: one live block of 0 bytes. */
__attribute__((noinline)) void leak_zero(void)
{
    keep(malloc(0));
}

/* pvalloc of a size that is not a whole number of pages. */
__attribute__((noinline)) void leak_pvalloc_odd(void)
{
    keep(pvalloc(5000));
}

int main(int argc, char **argv)
{
    out_kv("pid", (unsigned long)getpid());
    if (argc > 1 && strcmp(argv[1], "pvalloc") == 0) {
        leak_pvalloc_odd();
        return 0;
    }
    leak_malloc();
    leak_calloc();
    grow_chain();
    leak_posix_memalign();
    leak_aligned_alloc();
    leak_memalign();
    leak_valloc();
    /* valgrind does not replace pvalloc: "nopvalloc" leaves it out for the comparison. */
    if (!(argc > 1 && strcmp(argv[1], "nopvalloc") == 0)) leak_pvalloc();
    leak_reallocarray();
    temp_pairs();
    not_temp();
    free_nulls();
    calloc_free();
    leak_zero();
    out_kv("kept", (unsigned long)nkept);
    return 0;
}
