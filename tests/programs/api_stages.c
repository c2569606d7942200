/* Stages and peaks through the C API: memtrack_stage_begin/end, memtrack_peak and
 * memtrack_thread_peak and their resets, for a program with known phases (setup holds 100 B
 * throughout; "load" holds 1000 x 1000 B then frees them; "process" holds 300 x 1000 B, frees
 * 200, resets the peak, takes 4 KiB once; "threads": 4 threads with their own marks;
 * "teardown" 50 x 10 B), then a snapshot that test_api_stages.py reads for the stages' peaks
 * and contributors. Runs plain (every call MEMTRACK_ENOTRACKER), linked (api_stages_linked)
 * or under `memtrack run`. Prints `key value...` lines (peaks: `key current peak time_ns`).
 * With `late`, a last stage "late" holds 2000 x 1000 B, the biggest peak, and frees half
 * before the snapshot. No stdio in the whole program.
 *
 *   api_stages SNAPSHOT_PATH [late] */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "memtrack.h"
#include "progout.h"

/* `key current peak time_ns` for the whole program, or `key_rc ERR` on an error. */
static void put_peak(const char *key, int thread)
{
    memtrack_peak_t p;
    memset(&p, 0, sizeof(p));
    int r = thread ? memtrack_thread_peak(&p) : memtrack_peak(&p);
    if (r != 0) {
        put_rc(key, r);
        return;
    }
    unsigned long v[3] = {p.current_bytes, p.peak_bytes, p.peak_time_ns};
    out_values(key, v, 3);
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- the single-threaded phases; volatile: the blocks must not be optimized away */
#define NLOAD    1000
#define NPROCESS 300
#define NTEAR    50
static void *volatile keep;
static void *volatile loaded[NLOAD], *volatile processed[NPROCESS], *volatile torn[NTEAR];

__attribute__((noinline)) void setup(void)
{
    keep = malloc(100);
}

__attribute__((noinline)) void load(void)
{
    for (int i = 0; i < NLOAD; i++)
        loaded[i] = malloc(1000);
}

__attribute__((noinline)) void unload(void)
{
    for (int i = 0; i < NLOAD; i++)
        free(loaded[i]);
}

__attribute__((noinline)) void process(void)
{
    for (int i = 0; i < NPROCESS; i++)
        processed[i] = malloc(1000);
}

__attribute__((noinline)) void bump(void)
{
    void *volatile p = malloc(4096);
    put_peak("bump_held", 0);
    free(p);
}

#define NLATE 2000
static void *volatile late_blocks[NLATE];

__attribute__((noinline)) void late(void)
{
    for (int i = 0; i < NLATE; i++)
        late_blocks[i] = malloc(1000);
    for (int i = 0; i < NLATE / 2; i++)
        free(late_blocks[i]);
}

__attribute__((noinline)) void teardown(void)
{
    for (int i = 0; i < NTEAR; i++)
        torn[i] = malloc(10);
    put_peak("teardown_held", 0);
    for (int i = 0; i < NTEAR; i++)
        free(torn[i]);
}

/* ---- 4 threads: thread i holds 8 blocks of 1024 * (i + 1) bytes (all at once, behind a
 * barrier), frees 4, resets its mark, takes one more block and frees everything. Thread 0
 * first frees 6 blocks main allocated (remote frees: they leave main's figures). */
#define NTHREADS 4
#define NHELD    8
static pthread_barrier_t go, held; /* go: main too, once tracking is on again */
static void *volatile remote[6];

__attribute__((noinline)) void remote_alloc(void)
{
    for (int i = 0; i < 6; i++)
        remote[i] = malloc(512);
}

__attribute__((noinline)) void thread_alloc(void **blocks, int n, size_t size)
{
    for (int i = 0; i < n; i++)
        blocks[i] = malloc(size);
}

/* "tN_what" for thread N, in buf (no snprintf: nothing may allocate). */
static const char *tkey(char *buf, int i, const char *what)
{
    buf[0] = 't';
    buf[1] = (char)('0' + i);
    buf[2] = '_';
    memcpy(buf + 3, what, strlen(what) + 1);
    return buf;
}

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    size_t size = 1024 * (size_t)(i + 1);
    void *blocks[NHELD];
    char key[32];
    put(tkey(key, i, "tid"), (long)syscall(SYS_gettid));
    if (i == 0)
        for (int k = 0; k < 6; k++)
            free(remote[k]);
    put_peak(tkey(key, i, "start"), 1);
    pthread_barrier_wait(&go);
    thread_alloc(blocks, NHELD, size);
    pthread_barrier_wait(&held); /* every thread holds its blocks now */
    put_peak(tkey(key, i, "held"), 1);
    for (int k = 0; k < NHELD / 2; k++)
        free(blocks[k]);
    put_peak(tkey(key, i, "half"), 1);
    put(tkey(key, i, "reset"), memtrack_thread_peak_reset());
    put_peak(tkey(key, i, "after_reset"), 1);
    thread_alloc(blocks, 1, size);
    put_peak(tkey(key, i, "again"), 1);
    free(blocks[0]);
    for (int k = NHELD / 2; k < NHELD; k++)
        free(blocks[k]);
    put_peak(tkey(key, i, "end"), 1);
    return NULL;
}

static void threads(void)
{
    pthread_t t[NTHREADS];
    pthread_barrier_init(&go, NULL, NTHREADS + 1);
    pthread_barrier_init(&held, NULL, NTHREADS);
    /* What pthread_create allocates (the new threads' TLS) is not the program's concern here;
     * the threads allocate only once tracking is on again. */
    memtrack_stop();
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    memtrack_start();
    pthread_barrier_wait(&go);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&held);
}

/* ---- with no tracker every call says so */
static void no_tracker(void)
{
    memtrack_peak_t p;
    put("none_stage_begin", memtrack_stage_begin("load"));
    put("none_stage_end", memtrack_stage_end());
    put("none_peak", memtrack_peak(&p));
    put("none_thread_peak", memtrack_thread_peak(&p));
    put("none_peak_reset", memtrack_peak_reset());
    put("none_thread_peak_reset", memtrack_thread_peak_reset());
}

int main(int argc, char **argv)
{
    static char name63[64], name64[65];
    if (argc < 2) return 2;
    int with_late = argc > 2 && strcmp(argv[2], "late") == 0;
    memset(name63, 'x', 63);
    memset(name64, 'y', 64);

    int initially = memtrack_running();
    put("initially_running", initially);
    if (initially == MEMTRACK_ENOTRACKER) {
        no_tracker();
        put("start", memtrack_start());
        return 0;
    }
    if (initially == 0) put("peak_reset_before_start", memtrack_peak_reset());
    put("start", memtrack_start());

    put("begin_null", memtrack_stage_begin(NULL));
    put("begin_empty", memtrack_stage_begin(""));
    put("begin_64", memtrack_stage_begin(name64));
    put("peak_null", memtrack_peak(NULL));
    put("thread_peak_null", memtrack_thread_peak(NULL));

    setup();
    put_peak("p_setup", 0);

    put("begin_load", memtrack_stage_begin("load"));
    put_peak("load_begin", 0);
    load();
    put_peak("load_held", 0);
    put_peak("t_load_held", 1);
    pause_ms(50); /* the peak's time is when it was reached, not when it is next looked at */
    unload();
    put_peak("load_done", 0);
    put_peak("t_load_done", 1);
    put("t_reset_load", memtrack_thread_peak_reset());
    put_peak("t_load_reset", 1);
    put_peak("load_after_t_reset", 0); /* the thread's reset leaves the global mark alone */

    put("begin_process", memtrack_stage_begin("process"));
    put_peak("process_begin", 0);
    process();
    put_peak("process_held", 0);
    put_peak("t_process_held", 1);
    for (int i = 0; i < 200; i++)
        free(processed[i]);
    put_peak("process_part", 0);
    put("process_reset", memtrack_peak_reset());
    put_peak("process_after_reset", 0);
    put_peak("t_process_after_reset", 1); /* the global reset leaves the thread's mark alone */
    bump();
    put_peak("process_after_bump", 0);
    put("end_process", memtrack_stage_end());
    put_peak("after_process_end", 0);
    for (int i = 200; i < NPROCESS; i++)
        free(processed[i]);
    put_peak("process_freed", 0);

    put("begin_threads", memtrack_stage_begin("threads"));
    remote_alloc();
    put_peak("t_main_remote", 1);
    threads();
    put_peak("threads_done", 0);
    put_peak("t_main_threads_done", 1);

    put("begin_teardown", memtrack_stage_begin("teardown"));
    teardown();
    put_peak("teardown_done", 0);

    put("begin_63", memtrack_stage_begin(name63));
    put("end_63", memtrack_stage_end());
    free(keep);
    put_peak("final", 0);
    if (with_late) {
        put("begin_late", memtrack_stage_begin("late"));
        late();
        put_peak("late_done", 0);
    }
    put("snapshot", memtrack_snapshot(argv[1]));
    return 0;
}
