/* Callbacks on tracked classes through the C API: memtrack_track, memtrack_untrack,
 * memtrack_flush. Checks, from inside the callbacks, what include/memtrack.h promises: each
 * block's on_free after its on_new with the state on_new returned (NULL for blocks allocated
 * before memtrack_track, or when on_new is NULL), the events of a class in program order, one
 * callback at a time, only on memtrack's thread ("memtrack-cb") or a thread inside
 * memtrack_flush, allocations made by callbacks counted but producing no events,
 * memtrack_flush refused inside a callback; then 4 threads allocating a tracked class at once.
 * Runs plain (every call MEMTRACK_ENOTRACKER), linked (api_callbacks_linked) or under
 * `memtrack run`. Prints `key value` lines for test_api_callbacks.py. No stdio. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "memtrack.h"
#include "progout.h"

/* prefix + suffix, into buf (no snprintf: nothing may allocate). */
static const char *join(char *buf, const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    memcpy(buf + n, suffix, strlen(suffix) + 1);
    return buf;
}

/* ---- what the callbacks see */

/* The state on_new gives a block: where and how big it was. */
typedef struct rec_s {
    const void *block;
    size_t size;
    int freed;
} rec_t;

#define MAXREC 8192
static rec_t recs[MAXREC];
static atomic_int nrecs;

#define MAXLOG 64

/* One set of callbacks' figures (their `user` pointer). */
typedef struct stats_s {
    const char *cls; /* the class the callbacks were registered for */
    int allocate;    /* whether the callbacks allocate (in their own class) */
    atomic_long news, frees, new_bytes, free_bytes;
    atomic_long null_frees;   /* on_free with a NULL state */
    atomic_long state_errors; /* a state that is not this block's, or given twice */
    atomic_long bad_args;     /* wrong class name or user pointer */
    atomic_long on_cb_thread, on_flushing_thread, elsewhere;
    atomic_long cb_allocs; /* blocks the callbacks allocated */
    /* The first MAXLOG events, in delivery order: block, and 1 for a free. */
    const void *log_block[MAXLOG];
    int log_free[MAXLOG];
    atomic_int nlog;
} stats_t;

static stats_t obj = {.cls = "obj", .allocate = 1}, obj2 = {.cls = "obj"};
static stats_t stale1 = {.cls = "stale"}, stale2 = {.cls = "stale"};
static stats_t later1 = {.cls = "later"}, later2 = {.cls = "later"};
static stats_t conc = {.cls = "conc", .allocate = 1};

static __thread int flushing; /* set by the program around its memtrack_flush calls */
static atomic_int inside, max_inside;
static atomic_int flush_in_callback = 1; /* 1: not tried yet */

static int flush(void)
{
    flushing = 1;
    int r = memtrack_flush();
    flushing = 0;
    return r;
}

/* Where a callback runs, and that it runs alone; returns the stats. */
static stats_t *enter(const char *cls, void *user)
{
    stats_t *s = user;
    int now = atomic_fetch_add(&inside, 1) + 1;
    for (int m = atomic_load(&max_inside); now > m;)
        if (atomic_compare_exchange_weak(&max_inside, &m, now)) break;
    if (s != &obj && s != &obj2 && s != &stale1 && s != &stale2 && s != &later1 && s != &later2 &&
        s != &conc)
        return NULL;
    if (!cls || strcmp(cls, s->cls) != 0) atomic_fetch_add(&s->bad_args, 1);
    char name[17] = "";
    prctl(PR_GET_NAME, name); /* no allocation, unlike reading /proc */
    if (flushing)
        atomic_fetch_add(&s->on_flushing_thread, 1);
    else if (strcmp(name, "memtrack-cb") == 0)
        atomic_fetch_add(&s->on_cb_thread, 1);
    else
        atomic_fetch_add(&s->elsewhere, 1);
    return s;
}

static void leave(stats_t *s, const void *block, int is_free)
{
    if (s) {
        int i = atomic_fetch_add(&s->nlog, 1);
        if (i < MAXLOG) {
            s->log_block[i] = block;
            s->log_free[i] = is_free;
        }
        if (s->allocate) {
            /* A block of the callbacks' own class: counted, but no event (no endless loop). */
            void *volatile p = memtrack_malloc_tagged(8, s->cls);
            free(p);
            atomic_fetch_add(&s->cb_allocs, 1);
        }
    }
    atomic_fetch_sub(&inside, 1);
}

static void *on_new(const char *cls, void *block, size_t size, void *user)
{
    stats_t *s = enter(cls, user);
    rec_t *r = NULL;
    if (s) {
        atomic_fetch_add(&s->news, 1);
        atomic_fetch_add(&s->new_bytes, (long)size);
        int i = atomic_fetch_add(&nrecs, 1);
        if (i < MAXREC) {
            r = &recs[i];
            r->block = block;
            r->size = size;
        }
        if (atomic_load(&flush_in_callback) == 1)
            atomic_store(&flush_in_callback, memtrack_flush());
    }
    leave(s, block, 0);
    return r;
}

static void on_free(const char *cls, void *block, size_t size, void *state, void *user)
{
    stats_t *s = enter(cls, user);
    if (s) {
        rec_t *r = state;
        atomic_fetch_add(&s->frees, 1);
        atomic_fetch_add(&s->free_bytes, (long)size);
        if (!r)
            atomic_fetch_add(&s->null_frees, 1);
        else if (r < recs || r >= recs + MAXREC || r->block != block || r->size != size || r->freed)
            atomic_fetch_add(&s->state_errors, 1);
        else
            r->freed = 1;
    }
    leave(s, block, 1);
}

static void put_stats(const char *prefix, stats_t *s)
{
    char key[64];
    put(join(key, prefix, "_news"), atomic_load(&s->news));
    put(join(key, prefix, "_frees"), atomic_load(&s->frees));
    put(join(key, prefix, "_new_bytes"), atomic_load(&s->new_bytes));
    put(join(key, prefix, "_free_bytes"), atomic_load(&s->free_bytes));
    put(join(key, prefix, "_null_frees"), atomic_load(&s->null_frees));
    put(join(key, prefix, "_state_errors"), atomic_load(&s->state_errors));
    put(join(key, prefix, "_bad_args"), atomic_load(&s->bad_args));
    put(join(key, prefix, "_on_cb_thread"), atomic_load(&s->on_cb_thread));
    put(join(key, prefix, "_on_flushing_thread"), atomic_load(&s->on_flushing_thread));
    put(join(key, prefix, "_elsewhere"), atomic_load(&s->elsewhere));
    put(join(key, prefix, "_cb_allocs"), atomic_load(&s->cb_allocs));
}

static void put_counts(const char *key, const char *cls)
{
    memtrack_counts_t c;
    memset(&c, 0, sizeof(c));
    int r = memtrack_count_for(cls, &c);
    unsigned long v[7] = {(unsigned long)-r, c.new_count,  c.free_count, c.live_count,
                          c.new_bytes,       c.free_bytes, c.live_bytes};
    out_values(key, v, 7);
}

/* A callback that keeps what it allocates: a leak whose call path starts in a callback. */
static void *volatile kept_by_callback;

static void *keeper_new(const char *cls, void *block, size_t size, void *user)
{
    (void)cls, (void)block, (void)size, (void)user;
    if (!kept_by_callback) kept_by_callback = malloc(33);
    return NULL;
}

/* ---- the program's side */

#define NPRE 3
#define NOBJ 17
static void *volatile pre[NPRE], *volatile objs[NOBJ];

__attribute__((noinline)) void make_obj(int i)
{
    objs[i] = memtrack_malloc_tagged(100 + (size_t)i, "obj");
}

/* The events of `obj` the program made, in its order, compared with the delivered ones. */
static const void *expect_block[MAXLOG];
static int expect_free[MAXLOG], nexpect;

static void expect(const void *block, int is_free)
{
    expect_block[nexpect] = block;
    expect_free[nexpect++] = is_free;
}

static long sequence_ok(const stats_t *s)
{
    int n = atomic_load(&s->nlog);
    if (n != nexpect) return 0;
    for (int i = 0; i < n; i++)
        if (s->log_block[i] != expect_block[i] || s->log_free[i] != expect_free[i]) return 0;
    return 1;
}

/* ---- 4 threads: each keeps a ring of 16 blocks of class "conc", replacing one per round */
#define NTHREADS 4
#define ROUNDS   500
#define RING     16
static pthread_barrier_t go;
static atomic_long conc_bytes;

static void *churner(void *arg)
{
    long t = (long)arg;
    void *ring[RING] = {0};
    long bytes = 0;
    pthread_barrier_wait(&go);
    for (int r = 0; r < ROUNDS; r++) {
        free(ring[r % RING]);
        size_t size = 16 + (size_t)((r * 7 + t) % 100);
        ring[r % RING] = memtrack_malloc_tagged(size, "conc");
        bytes += (long)size;
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    atomic_fetch_add(&conc_bytes, bytes);
    return NULL;
}

static void threads(void)
{
    pthread_t th[NTHREADS];
    pthread_barrier_init(&go, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, churner, (void *)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
}

int main(void)
{
    static char long_name[257];
    memset(long_name, 'c', 256);

    int started = memtrack_start();
    put("start", started);
    if (started == MEMTRACK_ENOTRACKER) {
        put("none_track", memtrack_track("obj", on_new, on_free, &obj));
        put("none_untrack", memtrack_untrack("obj"));
        put("none_flush", memtrack_flush());
        return 0;
    }

    /* Refused names; classes without callbacks. */
    put("track_null", memtrack_track(NULL, on_new, on_free, &obj));
    put("track_empty", memtrack_track("", on_new, on_free, &obj));
    put("track_untagged", memtrack_track("untagged", on_new, on_free, &obj));
    put("track_256", memtrack_track(long_name, on_new, on_free, &obj));
    put("untrack_unknown", memtrack_untrack("never_seen"));
    free(memtrack_malloc_tagged(10, "plain"));
    put("untrack_plain", memtrack_untrack("plain"));

    /* Blocks of "obj" from before memtrack_track: their frees come with a NULL state. */
    for (int i = 0; i < NPRE; i++)
        pre[i] = memtrack_malloc_tagged(50, "obj");
    put("track_obj", memtrack_track("obj", on_new, on_free, &obj));
    for (int i = 0; i < 10; i++) {
        make_obj(i);
        expect(objs[i], 0);
    }
    for (int i = 0; i < 4; i++) {
        expect(objs[i], 1);
        free(objs[i]);
    }
    for (int i = 0; i < NPRE; i++) {
        expect(pre[i], 1);
        free(pre[i]);
    }
    put("flush_1", flush());
    put("flush_in_callback", atomic_load(&flush_in_callback));
    put_stats("obj_1", &obj);
    put("obj_1_sequence_ok", sequence_ok(&obj));
    put_counts("counts_obj_1", "obj");
    put("flush_again", flush());
    put("obj_news_after_flush_again", atomic_load(&obj.news));

    /* Events from before memtrack_untrack are still delivered; none after it. */
    make_obj(10);
    make_obj(11);
    put("untrack_obj", memtrack_untrack("obj"));
    put("untrack_obj_again", memtrack_untrack("obj"));
    for (int i = 12; i < NOBJ; i++)
        make_obj(i);
    for (int i = 4; i < 7; i++)
        free(objs[i]);
    put("flush_2", flush());
    put_stats("obj_2", &obj);

    /* Registering again replaces the callbacks (their user pointer): blocks allocated while
     * untracked come to on_free with no state. */
    put("retrack_obj", memtrack_track("obj", on_new, on_free, &obj2));
    for (int i = 12; i < NOBJ; i++)
        free(objs[i]);
    put("flush_3", flush());
    put_stats("obj_3", &obj);
    put_stats("obj2_3", &obj2);
    put_counts("counts_obj_3", "obj");

    /* A block freed while its class was untracked leaves no state behind for a later block
     * at the same address: with on_new NULL, every state is NULL. */
    put("track_stale", memtrack_track("stale", on_new, on_free, &stale1));
    void *a = memtrack_malloc_tagged(777, "stale");
    flush();
    memtrack_untrack("stale");
    free(a);
    put("track_stale_again", memtrack_track("stale", NULL, on_free, &stale2));
    void *b = memtrack_malloc_tagged(777, "stale");
    put("stale_same_address", a == b);
    free(b);
    flush();
    put_stats("stale1", &stale1);
    put_stats("stale2", &stale2);

    /* The same, but the later block is made while the class is untracked (no event of its
     * own) and freed once tracked again: it was allocated before the call, so no state. */
    put("track_later", memtrack_track("later", on_new, on_free, &later1));
    a = memtrack_malloc_tagged(555, "later");
    flush();
    memtrack_untrack("later");
    free(a);
    b = memtrack_malloc_tagged(555, "later");
    put("later_same_address", a == b);
    put("track_later_again", memtrack_track("later", on_new, on_free, &later2));
    free(b);
    flush();
    put_stats("later1", &later1);
    put_stats("later2", &later2);

    /* 4 threads at once; memtrack_track made the class. */
    put("track_conc", memtrack_track("conc", on_new, on_free, &conc));
    put_counts("counts_conc_registered", "conc");
    threads();
    put("flush_4", flush());
    put_stats("conc", &conc);
    put("conc_bytes", atomic_load(&conc_bytes));
    put_counts("counts_conc", "conc");
    put("max_inside", atomic_load(&max_inside));
    for (int i = 7; i < 12; i++)
        free(objs[i]);

    put("track_keeper", memtrack_track("keeper", keeper_new, NULL, NULL));
    free(memtrack_malloc_tagged(5, "keeper"));
    flush();
    put("keeper_kept", kept_by_callback != NULL);
    return 0;
}
