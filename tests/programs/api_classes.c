/* Classes through the C API: typed allocations (MEMTRACK_NEW, MEMTRACK_NEW_ARRAY), tagged
 * malloc/calloc, nested scoped tags (innermost wins, allocations inside libc are tagged), bad
 * names, "untagged" = totals - tagged classes, deep nesting, and 8 threads tagging at once.
 * Runs linked (api_classes_linked, started at once) or under `memtrack run`. Prints `key
 * value` lines (class counts: `class:NAME new free live new_bytes free_bytes live_bytes`);
 * test_api_classes.py holds the expected values. No stdio in the whole program. */
#include <pthread.h>
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

/* `class:NAME ...` (names here have no spaces but "struct segment", printed as
 * "struct_segment"; the 255-byte name is printed as "long255"), or `class:NAME_rc ERR`. */
static void put_class(const char *label, const char *cls)
{
    char key[80] = "class:";
    size_t n = strlen(label);
    memcpy(key + 6, label, n + 1);
    memtrack_counts_t c;
    int r = memtrack_count_for(cls, &c);
    if (r == 0) {
        put_counts(key, &c);
    } else {
        put_rc(key, r);
    }
}

/* prefix + two digits, into buf (no snprintf: nothing may allocate). */
static const char *numbered(char *buf, const char *prefix, unsigned i)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    buf[n] = (char)('0' + i / 10 % 10);
    buf[n + 1] = (char)('0' + i % 10);
    buf[n + 2] = '\0';
    return buf;
}

static void *volatile sink;     /* so that no allocation is optimized away */
static void *volatile keep[64]; /* blocks left live on purpose */
static int nkeep;

static void *kept(void *p)
{
    keep[nkeep++] = p;
    return p;
}

typedef struct point_s {
    double x, y;
} point;

struct segment {
    point a, b;
};

static char name255[256], name256[257];

/* ---- typed and tagged allocations */

static void typed(void)
{
    point *single[5], *arrays[2];
    int zeroed = 1;
    for (int i = 0; i < 5; i++) {
        single[i] = MEMTRACK_NEW(point);
        zeroed &= single[i]->x == 0 && single[i]->y == 0;
    }
    for (int i = 0; i < 2; i++) {
        arrays[i] = MEMTRACK_NEW_ARRAY(point, 10);
        zeroed &= arrays[i][9].y == 0;
    }
    put("typed_zeroed", zeroed);
    for (int i = 0; i < 3; i++)
        free(single[i]);
    free(arrays[0]);
    kept(single[3]);
    kept(single[4]);
    kept(arrays[1]);
    kept(MEMTRACK_NEW(struct segment));

    for (int i = 0; i < 3; i++)
        keep[nkeep++] = memtrack_malloc_tagged(100, "buffer");
    free(keep[--nkeep]);
    kept(memtrack_calloc_tagged(4, 25, "buffer"));
}

/* ---- scoped tags */

static void scopes(void)
{
    put("scope_push_outer", memtrack_tag_push("outer"));
    kept(malloc(10));
    put("scope_push_inner", memtrack_tag_push("inner"));
    kept(malloc(20));
    char *m3 = malloc(20);
    kept(strdup("hello")); /* inside libc: tagged too */
    kept(calloc(2, 7));
    kept(realloc(m3, 40)); /* a free of 20 and an allocation of 40 in "inner" */
    put("scope_pop_inner", memtrack_tag_pop());
    kept(malloc(30));
    kept(memtrack_malloc_tagged(8, "buffer")); /* an explicit tag wins over the scope */
    kept(malloc(12));                          /* ... and the scope is back */
    put("scope_pop_outer", memtrack_tag_pop());
    put("scope_pop_extra", memtrack_tag_pop());
}

/* Untagged: plain, a scope named "untagged", and tagged calls with bad names. */
static void untagged(void)
{
    kept(malloc(40));
    put("push_untagged", memtrack_tag_push("untagged"));
    kept(malloc(16));
    put("pop_untagged", memtrack_tag_pop());
    kept(memtrack_malloc_tagged(16, NULL));
    kept(memtrack_malloc_tagged(16, ""));
    kept(memtrack_calloc_tagged(2, 8, name256));
    /* A tagged allocation opens no scope, whatever its tag: nothing is left to pop. Scopes
     * left open are closed here, so that what follows is not affected. */
    long leaked = 0;
    while (memtrack_tag_pop() == 0 && leaked < 100)
        leaked++;
    put("scopes_left_by_tagged_allocs", leaked);
}

static void names(void)
{
    memtrack_counts_t c;
    put("push_null", memtrack_tag_push(NULL));
    put("push_null_pop", memtrack_tag_pop());
    put("push_empty", memtrack_tag_push(""));
    put("push_empty_pop", memtrack_tag_pop());
    put("push_256", memtrack_tag_push(name256));
    put("push_256_pop", memtrack_tag_pop());
    put("pop_after_bad_names", memtrack_tag_pop());
    put("push_255", memtrack_tag_push(name255));
    kept(malloc(255));
    put("push_255_pop", memtrack_tag_pop());
    put("count_for_256", memtrack_count_for(name256, &c));
    put("count_for_empty", memtrack_count_for("", &c));
    put("count_for_null", memtrack_count_for(NULL, &c));
    put("count_for_null_out", memtrack_count_for("point", NULL));
    put("count_for_unknown", memtrack_count_for("no such class", &c));
}

/* 70 nested scopes: 64 is what a thread's tag stack holds; deeper pushes are refused with
 * MEMTRACK_ERANGE, still entered (they must be popped), and tag as the 64th. */
#define DEEP 70
static void deep(void)
{
    char name[16];
    long failed = 0, first_error = 0, first_failed = -1;
    for (unsigned i = 0; i < DEEP; i++) {
        int r = memtrack_tag_push(numbered(name, "lvl", i));
        if (r != 0 && !failed++) {
            first_error = r;
            first_failed = i;
        }
    }
    put("deep_push_failures", failed);
    put("deep_push_first_error", first_error);
    put("deep_push_first_failed", first_failed);
    kept(malloc(1)); /* 70 deep: in lvl63 */
    for (int i = 0; i < 10; i++)
        memtrack_tag_pop();
    kept(malloc(2)); /* 60 deep: in lvl59 */
    for (int i = 0; i < 20; i++)
        memtrack_tag_pop();
    kept(malloc(3)); /* 40 deep: in lvl39 */
    long pops = 0;
    for (int i = 0; i < 40; i++)
        pops += memtrack_tag_pop() == 0;
    put("deep_pops_ok", pops);
    put("deep_pop_extra", memtrack_tag_pop());
}

/* ---- 8 threads: each its own class thrN, a class "shared" used by all, and classes
 * race00..race15 that all of them create at the same moment. */
#define NTHREADS 8
#define ROUNDS   500
#define HANDED   (ROUNDS / 4)
static pthread_barrier_t barrier;
static void *handed[NTHREADS][HANDED]; /* "shared" blocks freed by main after the join */
static void *own_left[NTHREADS][NTHREADS];
static int thread_pop_empty[NTHREADS];

static void *worker(void *arg)
{
    int i = (int)(long)arg;
    char own[16], race[16];
    size_t size = 8 * (size_t)(i + 1);
    pthread_barrier_wait(&barrier);
    thread_pop_empty[i] = memtrack_tag_pop(); /* main's scope is not this thread's */
    memtrack_tag_push(numbered(own, "thr", (unsigned)i));
    /* A pointer of this thread's own: the shared `sink` would let threads free each other's
     * blocks. Volatile, else the compiler drops the malloc/free pairs. */
    void *volatile mine;
    for (int r = 0; r < ROUNDS; r++) {
        void *p = malloc(size);
        mine = p;
        if (r < ROUNDS - (i + 1))
            free(p);
        else
            own_left[i][r - (ROUNDS - (i + 1))] = p;
        void *q = memtrack_malloc_tagged(32, "shared");
        if (r % 4 == 0)
            handed[i][r / 4] = q;
        else
            free(q);
        memtrack_tag_push("shared");
        mine = malloc(48);
        memtrack_tag_pop();
        free(mine);
        if (r < 64) {
            memtrack_tag_push(numbered(race, "race", (unsigned)r % 16));
            mine = malloc(1);
            memtrack_tag_pop();
            free(mine);
        }
    }
    memtrack_tag_pop();
    return NULL;
}

static void threads(void)
{
    pthread_t t[NTHREADS];
    pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
    for (long i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    /* Tags belong to the thread that pushed them: none of the workers' blocks is main's. */
    put("main_scope_push", memtrack_tag_push("main_scope"));
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    put("main_scope_pop", memtrack_tag_pop());
    for (int i = 0; i < NTHREADS; i++)
        for (int k = 0; k < HANDED; k += 2)
            free(handed[i][k]); /* frees of another thread's blocks */
    long bad = 0;
    for (int i = 0; i < NTHREADS; i++)
        bad += thread_pop_empty[i] != MEMTRACK_ESTATE;
    put("thread_pop_empty_not_estate", bad);
    pthread_barrier_destroy(&barrier);
}

/* ---- untagged = totals - every tagged class (all of them are known here) */

static void sum_classes(void)
{
    static const char *fixed[] = {"point", "struct segment", "buffer",     "outer",
                                  "inner", "shared",         "main_scope", name255};
    memtrack_counts_t tot, un, c, sum;
    char name[16];
    memset(&sum, 0, sizeof(sum));
    memtrack_totals(&tot);
    memtrack_count_for("untagged", &un);
    for (unsigned k = 0; k < sizeof(fixed) / sizeof(fixed[0]) + DEEP + NTHREADS + 16; k++) {
        const char *cls = k < 8          ? fixed[k]
                          : k < 8 + DEEP ? numbered(name, "lvl", k - 8)
                          : k < 8 + DEEP + NTHREADS
                              ? numbered(name, "thr", k - 8 - DEEP)
                              : numbered(name, "race", k - 8 - DEEP - NTHREADS);
        if (memtrack_count_for(cls, &c) != 0) continue;
        sum.new_count += c.new_count;
        sum.free_count += c.free_count;
        sum.live_count += c.live_count;
        sum.new_bytes += c.new_bytes;
        sum.free_bytes += c.free_bytes;
        sum.live_bytes += c.live_bytes;
    }
    put_counts("totals", &tot);
    put_counts("untagged_counts", &un);
    put_counts("tagged_sum", &sum);
}

int main(void)
{
    memset(name255, 'a', 255);
    memset(name256, 'b', 256);
    int started = memtrack_start();
    put("start", started);
    if (started < 0) return 1;
    put("pop_without_push", memtrack_tag_pop());

    typed();
    put_class("point", "point");
    put_class("struct_segment", "struct segment");
    put_class("buffer_typed", "buffer");

    memtrack_counts_t before, after;
    memtrack_count_for("untagged", &before);
    scopes();
    untagged();
    memtrack_count_for("untagged", &after);
    put_class("outer", "outer");
    put_class("inner", "inner");
    put_class("buffer", "buffer");
    out_line("untagged_delta", after.new_count - before.new_count,
             after.new_bytes - before.new_bytes);

    names();
    put_class("long255", name255);
    put_class("long256", name256);

    deep();
    char name[16];
    for (unsigned i = 0; i < DEEP; i++)
        put_class(numbered(name, "lvl", i), name);

    threads();
    for (unsigned i = 0; i < NTHREADS; i++)
        put_class(numbered(name, "thr", i), name);
    for (unsigned i = 0; i < 16; i++)
        put_class(numbered(name, "race", i), name);
    put_class("shared", "shared");
    put_class("main_scope", "main_scope");

    sum_classes();
    return 0;
}
