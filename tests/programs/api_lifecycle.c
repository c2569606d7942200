/* The tracker's life through the C API: memtrack_start/stop/running/clear/totals, blocks made
 * before tracking (freed later: unknown frees, never negative counts), frees seen while stopped
 * and allocations not, and start/stop raced by 8 threads. Linked (api_lifecycle_linked) it
 * first checks the calls before any start; under `memtrack run` it is running from the outset.
 * Prints `key value` lines (counts: `key new free live new_bytes free_bytes live_bytes`);
 * test_api_lifecycle.py holds the expected values. No stdio in the whole program.
 *
 *   api_lifecycle DIR     (snapshots are written into DIR) */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "memtrack.h"
#include "progout.h"

static void put_counts(const char *key, const memtrack_counts_t *c)
{
    unsigned long v[6] = {c->new_count, c->free_count, c->live_count,
                          c->new_bytes, c->free_bytes, c->live_bytes};
    out_values(key, v, 6);
}

/* Prints the totals as `key ...` (and the return value as `key_rc` when it is not 0). */
static void put_totals(const char *key)
{
    memtrack_counts_t c;
    memset(&c, 0, sizeof(c));
    int r = memtrack_totals(&c);
    if (r != 0) {
        put_rc(key, r);
    }
    put_counts(key, &c);
}

static void put_class(const char *key, const char *cls)
{
    memtrack_counts_t c;
    memset(&c, 0, sizeof(c));
    int r = memtrack_count_for(cls, &c);
    if (r != 0) {
        put_rc(key, r);
        return;
    }
    put_counts(key, &c);
}

static char dir[4096];

/* DIR/name, in a static buffer (no allocation). */
static const char *in_dir(const char *name)
{
    static char path[4200];
    size_t n = strlen(dir), m = strlen(name);
    memcpy(path, dir, n);
    path[n] = '/';
    memcpy(path + n + 1, name, m + 1);
    return path;
}

#define NPRE 10
static void *pre[NPRE];     /* made before the tracker saw anything (or before a clear) */
static void *a[8];          /* 8 x 100 bytes, untagged */
static void *life[4];       /* 4 x 50 bytes of class "life" */
static void *while_off[5];  /* 5 x 77 bytes made while stopped: never counted */
static void *volatile sink; /* so that no allocation is optimized away */

/* Before any memtrack_start() (linked only): nothing runs, nothing is recorded. */
static void before_start(void)
{
    memtrack_counts_t c;
    put("pre_running", memtrack_running());
    put("pre_count_for_untagged", memtrack_count_for("untagged", &c));
    put("pre_count_for_life", memtrack_count_for("life", &c));
    put_totals("pre_totals");
    put("pre_snapshot", memtrack_snapshot(in_dir("pre.mtc")));
    put("pre_stop", memtrack_stop());
    put("pre_clear", memtrack_clear());
    /* Calls that need the tracker set up, but do not start it. */
    put("pre_tag_push", memtrack_tag_push("early"));
    sink = malloc(33);
    free(sink);
    put("pre_tag_pop", memtrack_tag_pop());
    put("pre_track_paths", memtrack_track_paths("early_paths", 4));
    put("pre_running_after_setup", memtrack_running());
    put_totals("pre_totals_after_setup");
    put("pre_snapshot_after_setup", memtrack_snapshot(in_dir("pre_setup.mtc")));
}

/* start and stop called by 8 threads at the same moment: exactly one of them does it. */
#define NTHREADS 8
static pthread_barrier_t barrier;
static int results[2][NTHREADS];

static void *racer(void *arg)
{
    int i = (int)(long)arg;
    pthread_barrier_wait(&barrier);
    results[0][i] = memtrack_start();
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier); /* main checks in between */
    results[1][i] = memtrack_stop();
    pthread_barrier_wait(&barrier);
    return NULL;
}

static void race(void)
{
    pthread_t t[NTHREADS];
    pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, racer, (void *)i);
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    put("race_running_after_start", memtrack_running());
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    put("race_running_after_stop", memtrack_running());
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    long sum[2] = {0, 0}, others[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NTHREADS; i++) {
            sum[k] += results[k][i];
            others[k] += results[k][i] != 0 && results[k][i] != 1;
        }
    put("race_start_sum", sum[0]);
    put("race_start_errors", others[0]);
    put("race_stop_sum", sum[1]);
    put("race_stop_errors", others[1]);
    pthread_barrier_destroy(&barrier);
}

/* memtrack_clear while 4 threads free blocks recorded before it (stopped, so frees are still
 * recorded): frees before the clear are forgotten with everything else, frees after it are
 * unknown; the figures after the clear stay exactly zero. */
#define NFREERS  4
#define PER_FREE 5000
static void *to_free[NFREERS][PER_FREE];
static atomic_long freed[NFREERS];

static void *freer(void *arg)
{
    int i = (int)(long)arg;
    pthread_barrier_wait(&barrier);
    for (int k = 0; k < PER_FREE; k++) {
        free(to_free[i][k]);
        atomic_store_explicit(&freed[i], k + 1, memory_order_relaxed);
    }
    return NULL;
}

static void clear_race(void)
{
    pthread_t t[NFREERS];
    put("clear_race_start", memtrack_start());
    memtrack_tag_push("clear_race");
    for (int i = 0; i < NFREERS; i++)
        for (int k = 0; k < PER_FREE; k++)
            to_free[i][k] = malloc(24);
    memtrack_tag_pop();
    put("clear_race_stop", memtrack_stop());
    pthread_barrier_init(&barrier, NULL, NFREERS + 1);
    for (long i = 0; i < NFREERS; i++)
        pthread_create(&t[i], NULL, freer, (void *)i);
    pthread_barrier_wait(&barrier);
    while (atomic_load(&freed[0]) < PER_FREE / 4)
        sched_yield();
    put("clear_race_clear", memtrack_clear());
    long during = 0;
    for (int i = 0; i < NFREERS; i++)
        during += atomic_load(&freed[i]) < PER_FREE;
    put("clear_race_freeing_during_clear", during > 0);
    for (int i = 0; i < NFREERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    put_totals("clear_race_totals");
    put_class("clear_race_class", "clear_race");
    put("clear_race_snapshot", memtrack_snapshot(in_dir("clear_race.mtc")));
}

int main(int argc, char **argv)
{
    if (argc != 2 || strlen(argv[1]) >= sizeof(dir) - 64) return 2;
    memcpy(dir, argv[1], strlen(argv[1]) + 1);

    int initially = memtrack_running();
    put("initially_running", initially);
    if (initially == 0) before_start();
    for (int i = 0; i < NPRE; i++)
        pre[i] = malloc(64);

    put("start", memtrack_start());
    put("start_again", memtrack_start());
    put("running", memtrack_running());
    put("clear_while_running", memtrack_clear());
    put("stop", memtrack_stop());
    put("stop_again", memtrack_stop());
    put("running_stopped", memtrack_running());
    put("clear", memtrack_clear());
    put("clear_again", memtrack_clear());
    put_totals("after_clear");
    put_class("after_clear_untagged", "untagged");

    /* From here every figure is exact. */
    put("restart", memtrack_start());
    for (int i = 0; i < 8; i++)
        a[i] = malloc(100);
    for (int i = 0; i < 4; i++)
        life[i] = memtrack_malloc_tagged(50, "life");
    for (int i = 0; i < 5; i++)
        free(pre[i]); /* recorded before the clear: unknown frees */
    put_totals("t1");
    put_class("life1", "life");
    put_class("untagged1", "untagged");
    free(a[0]);
    free(a[1]);
    free(life[0]);
    put_totals("t2");

    put("stop2", memtrack_stop());
    for (int i = 0; i < 5; i++)
        while_off[i] = malloc(77); /* not recorded */
    for (int i = 2; i < 5; i++)
        free(a[i]); /* recorded: frees are seen while stopped */
    free(life[1]);
    for (int i = 5; i < NPRE; i++)
        free(pre[i]);
    free(while_off[0]);
    free(while_off[1]);
    a[7] = realloc(a[7], 300); /* stopped: the free of the old block only */
    put_totals("t3");
    put_class("life3", "life");
    put_class("untagged3", "untagged");
    put("running_stopped2", memtrack_running());
    put("snapshot_stopped", memtrack_snapshot(in_dir("stopped.mtc")));

    put("restart2", memtrack_start());
    free(a[5]);
    free(a[6]);
    free(a[7]); /* made while stopped: unknown */
    free(life[2]);
    free(life[3]);
    for (int i = 2; i < 5; i++)
        free(while_off[i]);
    put_totals("t4");
    put_class("life4", "life");

    put("stop3", memtrack_stop());
    race();
    clear_race();
    put("clear_end", memtrack_clear());
    put_class("life_after_clear", "life");
    put_totals("totals_after_clear_end");
    return 0;
}
