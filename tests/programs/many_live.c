/* Keeps N blocks of 32 bytes live (argv[1], default 200000) from one call path and exits:
 * what the tracker's live table costs per live block. */
#include <stdlib.h>

__attribute__((noinline)) void keep_many(void **v, long n)
{
    for (long i = 0; i < n; i++)
        v[i] = malloc(32);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n < 1) return 2;
    void **v = malloc(sizeof *v * (size_t)n);
    if (v == NULL) return 1;
    keep_many(v, n);
    return 0;
}
