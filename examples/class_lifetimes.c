/* class_lifetimes.c — how long the blocks of each class live, measured with callbacks.
 *
 * memtrack_track() registers two callbacks per class: on_new returns the time it runs as the
 * block's state, and on_free, given that state back, adds up the block's lifetime. Callbacks
 * never run inside malloc: events are queued and delivered by a memtrack thread or by
 * memtrack_flush(). The program flushes after each step of its work, so that the times taken
 * in the callbacks are those of the steps; at the end it prints each class's average.
 *
 *   cc class_lifetimes.c -lmemtrack && ./a.out    (linked: the tracker starts in main)
 *   memtrack run -- ./class_lifetimes             (built without -lmemtrack, or with it)
 *
 * Run with neither and it says that there is no tracker, and exits. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <memtrack.h>

#define CACHE_BLOCKS    16
#define ROUNDS          4
#define SESSIONS        4
#define REQUESTS        50
#define SESSION_TIME_MS 10

typedef struct lifetimes_s {
    const char *cls;
    unsigned long freed;   /* blocks whose lifetime was measured */
    unsigned long untimed; /* frees of blocks allocated before the callbacks were registered */
    uint64_t total_ns;
} lifetimes_t;

static lifetimes_t classes[] = {{"cache", 0, 0, 0}, {"session", 0, 0, 0}, {"request", 0, 0, 0}};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The state of a block is the time of its on_new (never 0, so never "no state"). */
static void *on_new(const char *cls, void *block, size_t size, void *user)
{
    (void)cls, (void)block, (void)size, (void)user;
    return (void *)(uintptr_t)now_ns();
}

static void on_free(const char *cls, void *block, size_t size, void *state, void *user)
{
    lifetimes_t *lt = user; /* callbacks run one at a time: no lock needed */
    (void)cls, (void)block, (void)size;
    if (!state) {
        lt->untimed++;
        return;
    }
    lt->freed++;
    lt->total_ns += now_ns() - (uint64_t)(uintptr_t)state;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The work: a cache that lives through the whole run, sessions that live through a round, and
 * requests that are freed as soon as they are made. */
static void work(void)
{
    void *cache[CACHE_BLOCKS], *sessions[SESSIONS];
    for (int i = 0; i < CACHE_BLOCKS; i++)
        cache[i] = memtrack_malloc_tagged(256, "cache");
    memtrack_flush();
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < SESSIONS; i++)
            sessions[i] = memtrack_malloc_tagged(1024, "session");
        memtrack_flush();
        for (int i = 0; i < REQUESTS; i++)
            free(memtrack_malloc_tagged(64, "request"));
        sleep_ms(SESSION_TIME_MS);
        for (int i = 0; i < SESSIONS; i++)
            free(sessions[i]);
        memtrack_flush();
    }
    for (int i = 0; i < CACHE_BLOCKS; i++)
        free(cache[i]);
    memtrack_flush(); /* every event delivered: the figures below are complete */
}

int main(void)
{
    int r = memtrack_start();
    if (r < 0) {
        printf("memtrack: %s; no lifetimes to measure (link with -lmemtrack or run under "
               "`memtrack run`)\n",
               memtrack_strerror(r));
        return 0;
    }
    for (size_t i = 0; i < NCLASSES; i++) {
        r = memtrack_track(classes[i].cls, on_new, on_free, &classes[i]);
        if (r != 0) {
            fprintf(stderr, "memtrack_track(%s): %s\n", classes[i].cls, memtrack_strerror(r));
            return 1;
        }
    }
    work();
    for (size_t i = 0; i < NCLASSES; i++)
        memtrack_untrack(classes[i].cls);

    printf("%-8s %8s %14s\n", "class", "freed", "avg lifetime");
    for (size_t i = 0; i < NCLASSES; i++) {
        const lifetimes_t *lt = &classes[i];
        double avg_ms = lt->freed ? (double)lt->total_ns / (double)lt->freed / 1e6 : 0;
        printf("%-8s %8lu %11.3f ms\n", lt->cls, lt->freed, avg_ms);
        if (lt->untimed) printf("  (%lu more without a time)\n", lt->untimed);
    }
    return 0;
}
