/* A small program with a leak, a peak and two threads: the quick start runs it under
 * `memtrack run` and prints its report. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_s {
    char *name;
    struct entry_s *next;
} entry_t;

static entry_t *names; /* global, so the compiler cannot drop the allocations */

/* Leaks every entry it makes: main forgets the list without freeing it. */
static __attribute__((noinline)) void load_names(int n)
{
    for (int i = 0; i < n; i++) {
        entry_t *e = malloc(sizeof(*e));
        e->name = strdup("a name that is never freed");
        e->next = names;
        names = e;
    }
}

/* Holds 4 MiB for a moment: the peak of the run. */
static __attribute__((noinline)) long build_index(void)
{
    long sum = 0;
    char *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc(64 * 1024);
        memset(blocks[i], i, 64 * 1024);
    }
    for (int i = 0; i < 64; i++) {
        sum += blocks[i][i];
        free(blocks[i]);
    }
    return sum;
}

static void *worker(void *arg)
{
    char *cache = calloc(1000, 10); /* leaked by the worker thread */
    cache[0] = 1;
    *(char **)arg = cache;
    return NULL;
}

int main(void)
{
    pthread_t t;
    char *cache;
    pthread_create(&t, NULL, worker, &cache);
    load_names(100);
    long sum = build_index();
    pthread_join(t, NULL);
    printf("leaky: %d names, index checksum %ld, cache %d\n", names ? 100 : 0, sum, cache[0]);
    names = NULL;
    return 0;
}
