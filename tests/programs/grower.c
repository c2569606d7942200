/* For `memtrack diff`: `grower A B` keeps A blocks of 64 bytes allocated by grow_a and B blocks
 * of 64 bytes allocated by grow_b, so two runs with different arguments differ by a known amount
 * on two known call paths and on nothing else. No stdio: output goes through write(2). */
#include <stdlib.h>
#include <unistd.h>

#include "progout.h"

#define MAX_BLOCKS 1000

static void *kept[2 * MAX_BLOCKS];
static int nkept;

__attribute__((noinline)) static void keep(void *p)
{
    if (!p) _exit(98);
    kept[nkept++] = p;
}

/* n blocks of 64 bytes, all from one call site. */
__attribute__((noinline)) void grow_a(int n)
{
    for (int i = 0; i < n; i++)
        keep(malloc(64)); /* @grow_a */
}

__attribute__((noinline)) void grow_b(int n)
{
    for (int i = 0; i < n; i++)
        keep(malloc(64)); /* @grow_b */
}

/* A count from 0 to MAX_BLOCKS, parsed by hand so that nothing allocates; bad input exits 2. */
static int count(const char *s)
{
    int n = 0;
    if (*s == '\0') _exit(2);
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > MAX_BLOCKS) _exit(2);
        n = n * 10 + (*s - '0');
    }
    if (n > MAX_BLOCKS) _exit(2);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3) _exit(2);
    out_kv("pid", (unsigned long)getpid());
    grow_a(count(argv[1]));
    grow_b(count(argv[2]));
    out_kv("kept", (unsigned long)nkept);
    return 0;
}
