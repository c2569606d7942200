/* memtrack_snapshot from a running program: bad arguments and unwritable paths (the program
 * goes on), two snapshots with known live blocks (hold_a, hold_b, class "snap_a"), snapshots
 * taken while 4 threads churn (class "churn", at most RING live blocks each) — two of them
 * by two threads at the same moment — and one after the churn. Runs linked (api_snapshot_linked)
 * or under `memtrack run`. Prints `key value` lines; test_api_snapshot.py reads the snapshots
 * with `memtrack report --format json`. No stdio in the whole program.
 *
 *   api_snapshot DIR     (snapshots are written into DIR) */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "memtrack.h"
#include "progout.h"

static char dir[4096];

/* DIR/name, in a static buffer per call site slot (no allocation). */
static const char *in_dir(char *path, const char *name)
{
    size_t n = strlen(dir), m = strlen(name);
    memcpy(path, dir, n);
    path[n] = '/';
    memcpy(path + n + 1, name, m + 1);
    return path;
}

static int snap(const char *name)
{
    char path[4200];
    return memtrack_snapshot(in_dir(path, name));
}

static void *volatile held_a[10], *volatile held_tagged[3], *volatile held_b[7];

__attribute__((noinline)) void hold_a(void)
{
    for (int i = 0; i < 10; i++)
        held_a[i] = malloc(100);
}

__attribute__((noinline)) void hold_a_tagged(void)
{
    for (int i = 0; i < 3; i++)
        held_tagged[i] = memtrack_malloc_tagged(1000, "snap_a");
}

__attribute__((noinline)) void hold_b(void)
{
    for (int i = 0; i < 7; i++)
        held_b[i] = malloc(250);
}

/* ---- churn: each thread keeps a ring of RING blocks, replacing one per round */
#define NCHURN 4
#define RING   16
static atomic_int stop_churn;
static atomic_long progress[NCHURN];

__attribute__((noinline)) void *churn_alloc(size_t size)
{
    return malloc(size);
}

static void *churner(void *arg)
{
    int i = (int)(long)arg;
    void *ring[RING] = {0};
    put(i == 0   ? "churn_tid_0"
        : i == 1 ? "churn_tid_1"
        : i == 2 ? "churn_tid_2"
                 : "churn_tid_3",
        (long)syscall(SYS_gettid));
    memtrack_tag_push("churn");
    for (long r = 0; !atomic_load_explicit(&stop_churn, memory_order_relaxed); r++) {
        int slot = (int)(r % RING);
        free(ring[slot]);
        ring[slot] = churn_alloc(16 + (size_t)((r * 7 + i) % 200));
        atomic_store_explicit(&progress[i], r + 1, memory_order_relaxed);
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    memtrack_tag_pop();
    return NULL;
}

/* Waits until every churning thread has made `rounds` more rounds. */
static void wait_rounds(long rounds)
{
    long base[NCHURN];
    for (int i = 0; i < NCHURN; i++)
        base[i] = atomic_load(&progress[i]);
    for (int i = 0; i < NCHURN; i++)
        while (atomic_load(&progress[i]) < base[i] + rounds)
            sched_yield();
}

static pthread_barrier_t snap_barrier;
static int pair_result[2];

static void *snapper(void *arg)
{
    int i = (int)(long)arg;
    pthread_barrier_wait(&snap_barrier);
    pair_result[i] = snap(i ? "pair_b.mtc" : "pair_a.mtc");
    return NULL;
}

static void churn(void)
{
    pthread_t t[NCHURN], s[2];
    for (long i = 0; i < NCHURN; i++)
        pthread_create(&t[i], NULL, churner, (void *)i);
    wait_rounds(2000);
    put("snap_churn_1", snap("churn_1.mtc"));
    wait_rounds(2000);
    put("snap_churn_2", snap("churn_2.mtc"));
    /* Two snapshots asked for at the same moment, from two more threads. */
    pthread_barrier_init(&snap_barrier, NULL, 2);
    for (long i = 0; i < 2; i++)
        pthread_create(&s[i], NULL, snapper, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(s[i], NULL);
    pthread_barrier_destroy(&snap_barrier);
    put("snap_pair_a", pair_result[0]);
    put("snap_pair_b", pair_result[1]);
    wait_rounds(2000);
    put("snap_churn_3", snap("churn_3.mtc"));
    atomic_store(&stop_churn, 1);
    for (int i = 0; i < NCHURN; i++)
        pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2 || strlen(argv[1]) >= sizeof(dir) - 64) return 2;
    memcpy(dir, argv[1], strlen(argv[1]) + 1);

    int initially = memtrack_running();
    put("initially_running", initially);
    if (initially == 0) put("snap_before_start", snap("before_start.mtc"));
    put("start", memtrack_start());

    put("snap_null", memtrack_snapshot(NULL));
    put("snap_empty", memtrack_snapshot(""));
    errno = 0;
    put("snap_missing_dir", snap("no-such-dir/x.mtc"));
    put("snap_missing_dir_errno", errno);
    errno = 0;
    put("snap_is_dir", memtrack_snapshot(dir));
    put("snap_is_dir_errno", errno);

    /* The program goes on after the failures. */
    hold_a();
    hold_a_tagged();
    put("snap_1", snap("s1.mtc"));
    for (int i = 0; i < 4; i++)
        free(held_a[i]);
    hold_b();
    put("snap_2", snap("s2.mtc"));

    churn();
    put("snap_3", snap("s3.mtc"));
    for (int i = 4; i < 10; i++)
        free(held_a[i]);
    for (int i = 0; i < 3; i++)
        free(held_tagged[i]);
    for (int i = 0; i < 7; i++)
        free(held_b[i]);
    memtrack_counts_t c;
    memtrack_count_for("churn", &c);
    put("churn_live_at_end", (long)c.live_count);
    put("churn_new_at_end", (long)c.new_count);
    return 0;
}
