/* Memory probe for bench/run.py: `live N` allocates N blocks of 16..72 bytes from one call path
 * and keeps them all until it exits, so the tracker's capture holds N live blocks and the
 * difference in its engine memory between two values of N is the cost of a live block. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0;
    void **v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return 1;
    for (long i = 0; i < n; i++)
        if (!(v[i] = malloc(16 + (size_t)(i % 8) * 8))) return 1;
    printf("%ld\n", n);
    return 0;
}
