/* A deep recursion ending in one leaked malloc(123): the call path is leaf_alloc, then
 * DEPTH + 1 frames of recurse, then main and libc's start-up frames. argv[1] sets DEPTH
 * (default 50). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept;
static volatile int sink_int;

__attribute__((noinline)) void *leaf_alloc(void)
{
    return malloc(123); /* @leaf_alloc */
}

__attribute__((noinline)) int recurse(int n)
{
    if (n == 0) {
        kept = leaf_alloc(); /* @recurse_leaf */
        return 0;
    }
    int r = recurse(n - 1); /* @recurse_self */
    sink_int = r;
    return r + 1;
}

int main(int argc, char **argv)
{
    int depth = argc > 1 ? atoi(argv[1]) : 50;
    int r = recurse(depth); /* @main_call */
    char line[] = "done\n";
    if (write(1, line, strlen(line)) < 0) return 99;
    return r == depth ? 0 : 1;
}
