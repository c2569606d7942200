/* The failure semantics of the allocation functions, checked from inside the program. Run it
 * plainly and under memtrack: the output must be the same (memtrack must not change what the
 * program sees) and have no FAIL line. "ok"/"FAIL" lines check what glibc documents, "obs"
 * lines report behaviour that varies between glibc versions. The last line says which
 * allocations and frees memtrack should have counted, from the calls that succeeded. One
 * block of 64 bytes (from keep_alloc) survives a failed realloc and is leaked. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progout.h"

static int failed;
static void *volatile sink;
/* Sizes the compiler must not see, so it neither warns about them nor folds the calls. */
static volatile size_t size_max = SIZE_MAX;
static volatile size_t half_max = SIZE_MAX / 2;
static volatile size_t huge = SIZE_MAX - 4096;
static volatile size_t big_count = SIZE_MAX / 16 + 1;
static volatile size_t pow62 = (size_t)1 << 62;
static char *volatile kept_block;

/* What memtrack should count: successful allocations and frees of tracked blocks. */
static unsigned long e_allocs, e_frees, e_abytes, e_fbytes, e_temp;
static uintptr_t e_last; /* the most recent counted allocation, for temporaries */

static void out(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(1, s, n);
        if (w <= 0) _exit(99);
        s += w;
        n -= (size_t)w;
    }
}

static void out_num(unsigned long v)
{
    char buf[24];
    buf[put_digits(buf, v)] = 0;
    out(buf);
}

static void check(int ok, const char *what)
{
    out(ok ? "ok " : "FAIL ");
    out(what);
    out("\n");
    if (!ok) failed = 1;
}

static void obs(const char *what, long a, long b)
{
    out("obs ");
    out(what);
    out(" ");
    out(a < 0 ? "-" : "");
    out_num((unsigned long)(a < 0 ? -a : a));
    out(" ");
    out(b < 0 ? "-" : "");
    out_num((unsigned long)(b < 0 ? -b : b));
    out("\n");
}

static void counted_alloc(void *p, size_t size)
{
    if (!p) return;
    e_allocs++;
    e_abytes += size;
    e_last = (uintptr_t)p;
}

/* Takes the address as an integer: it is called after realloc may have freed the block. */
static void counted_free(uintptr_t addr, size_t size)
{
    if (!addr) return;
    e_frees++;
    e_fbytes += size;
    if (addr == e_last) e_temp++;
    e_last = 0;
}

static void release(void *p, size_t size)
{
    counted_free((uintptr_t)p, size);
    free(p);
}

__attribute__((noinline)) char *keep_alloc(void)
{
    char *p = malloc(64);
    counted_alloc(p, 64);
    for (int i = 0; i < 64; i++)
        p[i] = (char)i;
    return p;
}

__attribute__((noinline)) void *try_grow(void *p, size_t size)
{
    return realloc(p, size);
}

static int aligned(void *p, size_t a)
{
    return ((uintptr_t)p % a) == 0;
}

static void failures(void)
{
    errno = 0;
    void *p = malloc(size_max);
    check(p == NULL && errno == ENOMEM, "malloc(SIZE_MAX) is NULL with ENOMEM");

    errno = 0;
    p = calloc(big_count, 32);
    check(p == NULL && errno == ENOMEM, "calloc overflow is NULL with ENOMEM");

    errno = 0;
    p = reallocarray(NULL, half_max, 3);
    check(p == NULL && errno == ENOMEM, "reallocarray overflow is NULL with ENOMEM");

    static const size_t bad_align[] = {0, 3, 4, 24};
    for (int i = 0; i < 4; i++) {
        void *q = &failed;
        errno = 1234;
        int r = posix_memalign(&q, bad_align[i], 16);
        check(r == EINVAL, "posix_memalign bad alignment returns EINVAL");
        check(errno == 1234, "posix_memalign bad alignment leaves errno");
        obs("posix_memalign-bad-align memptr-unchanged", (long)bad_align[i], q == &failed);
    }

    void *q = NULL;
    errno = 1234;
    int r = posix_memalign(&q, 64, huge);
    obs("posix_memalign-huge ret errno", r, errno);
    check(r == ENOMEM, "posix_memalign(64, huge) returns ENOMEM");

    errno = 1234;
    q = NULL;
    r = posix_memalign(&q, 64, 100);
    check(r == 0 && q && aligned(q, 64), "posix_memalign(64, 100) succeeds, aligned");
    check(errno == 1234, "posix_memalign success leaves errno");
    counted_alloc(q, 100);
    release(q, 100);

    errno = 0;
    p = aligned_alloc(3, 10);
    obs("aligned_alloc(3,10) nonnull errno", p != NULL, errno);
    if (p) obs("aligned_alloc(3,10) aligned4", aligned(p, 4), 0);
    counted_alloc(p, 10);
    release(p, 10);

    errno = 0;
    p = aligned_alloc((SIZE_MAX >> 1) + 2, 8);
    obs("aligned_alloc(huge-align) nonnull errno", p != NULL, errno);
    counted_alloc(p, 8);
    release(p, 8);

    errno = 1234;
    p = aligned_alloc(64, 100);
    check(p && aligned(p, 64) && errno == 1234, "aligned_alloc(64, 100) succeeds, leaves errno");
    counted_alloc(p, 100);
    release(p, 100);

    errno = 0;
    p = memalign(24, 100);
    obs("memalign(24,100) nonnull errno", p != NULL, errno);
    if (p) obs("memalign(24,100) aligned32", aligned(p, 32), 0);
    counted_alloc(p, 100);
    release(p, 100);

    errno = 0;
    p = memalign(64, huge);
    check(p == NULL && errno == ENOMEM, "memalign(64, huge) is NULL with ENOMEM");
}

static void zero_and_null(void)
{
    char *p = malloc(40);
    counted_alloc(p, 40);
    uintptr_t addr = (uintptr_t)p;
    errno = 1234;
    void *r = realloc(p, 0);
    check(r == NULL, "realloc(p, 0) frees and returns NULL");
    obs("realloc(p,0) errno", errno, 0);
    counted_free(addr, 40);
    if (r) {
        counted_alloc(r, 0);
        release(r, 0);
    }

    p = realloc(NULL, 77);
    check(p != NULL, "realloc(NULL, 77) allocates");
    counted_alloc(p, 77);
    memset(p, 7, 77);
    release(p, 77);

    errno = 1234;
    free(NULL);
    free(NULL);
    check(errno == 1234, "free(NULL) leaves errno");

    p = malloc(0);
    obs("malloc(0) nonnull", p != NULL, 0);
    counted_alloc(p, 0);
    release(p, 0);

    p = malloc(100);
    counted_alloc(p, 100);
    check(malloc_usable_size(p) >= 100, "malloc_usable_size >= requested");
    release(p, 100);

    /* calloc must hand out zeroed memory even when it reuses a dirty block. */
    p = malloc(1000);
    counted_alloc(p, 1000);
    memset(p, 0xaa, 1000);
    release(p, 1000);
    p = calloc(1000, 1);
    counted_alloc(p, 1000);
    int zero = 1;
    for (int i = 0; i < 1000; i++)
        zero &= p[i] == 0;
    check(zero, "calloc memory is zeroed");
    release(p, 1000);
}

static void errno_kept(void)
{
    errno = 1234;
    char *p = malloc(10);
    counted_alloc(p, 10);
    check(errno == 1234, "malloc success leaves errno");
    release(p, 10);
    check(errno == 1234, "free leaves errno");
    p = calloc(3, 5);
    counted_alloc(p, 15);
    check(errno == 1234, "calloc success leaves errno");
    uintptr_t addr = (uintptr_t)p;
    char *r = realloc(p, 30);
    counted_free(addr, 15);
    counted_alloc(r, 30);
    check(errno == 1234, "realloc success leaves errno");
    addr = (uintptr_t)r;
    p = realloc(r, 40000);
    counted_free(addr, 30);
    counted_alloc(p, 40000);
    check(errno == 1234, "realloc growth leaves errno");
    release(p, 40000);
    p = memalign(16, 48);
    counted_alloc(p, 48);
    check(errno == 1234, "memalign success leaves errno");
    release(p, 48);
    p = valloc(10);
    counted_alloc(p, 10);
    check(errno == 1234, "valloc success leaves errno");
    release(p, 10);
    p = pvalloc(4096);
    counted_alloc(p, 4096);
    check(errno == 1234, "pvalloc success leaves errno");
    release(p, 4096);
    p = reallocarray(NULL, 2, 8);
    counted_alloc(p, 16);
    check(errno == 1234, "reallocarray success leaves errno");
    release(p, 16);
    check(errno == 1234, "errno still 1234 after all frees");
}

static void failed_realloc(void)
{
    char *k = keep_alloc();
    kept_block = k;
    errno = 0;
    void *r = try_grow(k, size_max);
    check(r == NULL && errno == ENOMEM, "realloc(p, SIZE_MAX) is NULL with ENOMEM");
    errno = 0;
    r = try_grow(k, pow62);
    check(r == NULL && errno == ENOMEM, "realloc(p, 2^62) is NULL with ENOMEM");
    errno = 0;
    r = reallocarray(k, half_max, 4);
    check(r == NULL && errno == ENOMEM, "reallocarray(p, overflow) is NULL with ENOMEM");
    k = kept_block;
    int intact = 1;
    for (int i = 0; i < 64; i++)
        intact &= k[i] == (char)i;
    check(intact, "the block survives failed reallocs unchanged");
    k[63] = 1; /* left live: memtrack must still know it */
}

int main(void)
{
    failures();
    zero_and_null();
    errno_kept();
    failed_realloc();
    out("expect allocations ");
    out_num(e_allocs);
    out(" frees ");
    out_num(e_frees);
    out(" allocated_bytes ");
    out_num(e_abytes);
    out(" freed_bytes ");
    out_num(e_fbytes);
    out(" temporary ");
    out_num(e_temp);
    out("\n");
    return failed;
}
