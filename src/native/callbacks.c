/* Callbacks on the allocations and frees of tracked classes (memtrack_track): the hooks only
 * queue events (core/classes.c); here they are delivered, in order per class, one callback at
 * a time, by a thread of memtrack's or by memtrack_flush(), never inside the allocator. The
 * state on_new returns for a block is kept in a table keyed by (address, class) until on_free
 * for that block receives it. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/lock.h"
#include "memtrack.h"
#include "native/native.h"

typedef struct callbacks_s {
    memtrack_new_fn on_new;
    memtrack_free_fn on_free;
    void *user;
} callbacks_t;

typedef struct state_s {
    uint64_t addr;
    uint32_t cls;
    void *state;
    struct state_s *next;
} state_t;

#define BATCH 256

static struct {
    mt_lock_t lock;    /* one deliverer at a time */
    state_t **buckets; /* (address, class) -> state; under the lock */
    uint32_t nbuckets, used;
    state_t *spare;           /* free records */
    _Atomic pid_t thread_pid; /* the process whose delivery thread runs (0: none) */
} cb;

static __thread int delivering __attribute__((tls_model("initial-exec")));

static uint32_t bucket(uint64_t addr, uint32_t cls)
{
    return (uint32_t)(((addr ^ cls) * 0x9e3779b97f4a7c15ull) >> 32) & (cb.nbuckets - 1);
}

static void grow_states(void)
{
    uint32_t n = cb.nbuckets ? cb.nbuckets * 2 : 1024;
    state_t **b = mt__arena_alloc(sizeof(*b) * n);
    if (!b) return; /* longer chains */
    state_t **old = cb.buckets;
    uint32_t oldn = cb.nbuckets;
    cb.buckets = b;
    cb.nbuckets = n;
    for (uint32_t i = 0; i < oldn; i++) {
        for (state_t *s = old[i], *next; s; s = next) {
            next = s->next;
            state_t **head = &cb.buckets[bucket(s->addr, s->cls)];
            s->next = *head;
            *head = s;
        }
    }
    mt__arena_free(old, sizeof(*old) * oldn);
}

static void put_state(uint64_t addr, uint32_t cls, void *state)
{
    if (cb.used >= cb.nbuckets) grow_states();
    if (!cb.nbuckets) return;
    state_t *s = cb.spare;
    if (s)
        cb.spare = s->next;
    else if (!(s = mt__arena_alloc(sizeof(*s))))
        return; /* the state is lost: on_free will get NULL */
    *s = (state_t){addr, cls, state, NULL};
    state_t **head = &cb.buckets[bucket(addr, cls)];
    s->next = *head;
    *head = s;
    cb.used++;
}

static void *take_state(uint64_t addr, uint32_t cls)
{
    if (!cb.nbuckets) return NULL;
    for (state_t **link = &cb.buckets[bucket(addr, cls)]; *link; link = &(*link)->next) {
        state_t *s = *link;
        if (s->addr == addr && s->cls == cls) {
            *link = s->next;
            s->next = cb.spare;
            cb.spare = s;
            cb.used--;
            return s->state;
        }
    }
    return NULL;
}

/* Forgets the states of class `cls` (a new registration starts without any). With the lock. */
static void drop_states(uint32_t cls)
{
    for (uint32_t i = 0; i < cb.nbuckets; i++) {
        for (state_t **link = &cb.buckets[i]; *link;) {
            state_t *s = *link;
            if (s->cls != cls) {
                link = &s->next;
                continue;
            }
            *link = s->next;
            s->next = cb.spare;
            cb.spare = s;
            cb.used--;
        }
    }
}

/* Delivers what is queued now; returns the number of events delivered. With the lock. */
static size_t deliver(mt_engine_t *e)
{
    size_t total = 0;
    mt_event_t ev[BATCH];
    uint32_t nclasses = mt__class_count(&e->classes);
    for (uint32_t id = 1; id < nclasses; id++) {
        mt_class_t *k = mt__class_at(&e->classes, id);
        uint32_t n;
        while ((n = mt__class_take_events(k, ev, BATCH, UINT32_MAX - 10)) > 0) {
            const callbacks_t *c = mt_load_acquire(&k->frontend);
            for (uint32_t i = 0; c && i < n; i++) {
                void *block = (void *)(uintptr_t)ev[i].addr;
                if (!ev[i].is_free) {
                    /* A state left at this address by a block whose free was not seen (freed
                     * while untracked) is not this block's. */
                    take_state(ev[i].addr, id);
                    void *state = c->on_new ? c->on_new(k->name, block, ev[i].size, c->user) : NULL;
                    if (state) put_state(ev[i].addr, id, state);
                } else {
                    void *state = take_state(ev[i].addr, id);
                    if (c->on_free) c->on_free(k->name, block, ev[i].size, state, c->user);
                }
            }
            total += n;
        }
    }
    return total;
}

/* Delivers on the calling thread, marked so that what the callbacks allocate queues nothing. */
static size_t deliver_here(mt_engine_t *e)
{
    mt__tls.busy++;
    mt_thread_t *t = mt__tracker_thread();
    mt__tls.busy--;
    int saved_flag = t ? t->no_events : 0;
    if (t) t->no_events = 1;
    delivering = 1;
    mt_lock(&cb.lock, UINT32_MAX - 11);
    size_t n = deliver(e);
    mt_unlock(&cb.lock);
    delivering = 0;
    if (t) t->no_events = saved_flag;
    return n;
}

static void *delivery_thread(void *arg)
{
    mt_engine_t *e = arg;
    unsigned idle = 0;
    for (;;) {
        if (deliver_here(e)) {
            idle = 0;
            continue;
        }
        /* Nothing queued: sleep a little, longer while it stays quiet (1 to 10 ms). */
        if (idle < 10) idle++;
        struct timespec ts = {0, (long)idle * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

void mt__callbacks_after_fork_child(void)
{
    /* The child has one thread: a lock the parent's delivery thread held is free now, and
     * its thread_pid (the parent's) makes the next flush or track start one here. */
    mt_unlock(&cb.lock);
}

/* Starts the delivery thread of this process if it has none (again after a fork). */
static int ensure_thread(mt_engine_t *e)
{
    pid_t me = getpid();
    pid_t running = mt_load_acquire(&cb.thread_pid);
    if (running == me) return MEMTRACK_OK;
    if (!atomic_compare_exchange_strong(&cb.thread_pid, &running, me)) return MEMTRACK_OK;
    if (mt__tracker_start_thread(delivery_thread, e, "memtrack-cb") != 0) {
        mt_store_release(&cb.thread_pid, 0);
        return MEMTRACK_ENOMEM;
    }
    return MEMTRACK_OK;
}

MT_EXPORT int memtrack__track(const char *cls, memtrack_new_fn on_new, memtrack_free_fn on_free,
                              void *user)
{
    size_t len = cls ? strnlen(cls, MT_CLASS_NAME_MAX + 1) : 0;
    if (len == 0 || len > MT_CLASS_NAME_MAX || strcmp(cls, "untagged") == 0) return MEMTRACK_EINVAL;
    int saved = errno;
    mt_engine_t *e = mt__tracker_setup() == 0 ? mt__tracker_engine() : NULL;
    uint32_t id;
    if (!e || mt__class_intern(&e->classes, cls, &id) != 0) return MEMTRACK_ENOMEM;
    callbacks_t *c = mt__arena_alloc(sizeof(*c)); /* kept: a deliverer may still read the old */
    if (!c) return MEMTRACK_ENOMEM;
    *c = (callbacks_t){on_new, on_free, user};
    mt_class_t *k = mt__class_at(&e->classes, id);
    /* Events queued under an earlier registration go to it; then its states are forgotten:
     * blocks freed while the class was not tracked left theirs behind. */
    deliver_here(e);
    mt_lock(&cb.lock, UINT32_MAX - 11);
    drop_states(id);
    mt_unlock(&cb.lock);
    mt_store_release(&k->frontend, c);
    mt_store_release(&k->watched, 1);
    int r = ensure_thread(e);
    errno = saved;
    return r;
}

MT_EXPORT int memtrack__untrack(const char *cls)
{
    mt_engine_t *e = mt__tracker_engine();
    uint32_t id;
    if (!cls || !*cls) return MEMTRACK_EINVAL;
    if (!e || !mt__class_find(&e->classes, cls, &id)) return MEMTRACK_ENOENT;
    mt_class_t *k = mt__class_at(&e->classes, id);
    if (!mt_load_acquire(&k->watched)) return MEMTRACK_ENOENT;
    mt_store_release(&k->watched, 0);
    return MEMTRACK_OK;
}

MT_EXPORT int memtrack__flush(void)
{
    if (delivering) return MEMTRACK_ESTATE;
    mt_engine_t *e = mt__tracker_engine();
    if (!e) return MEMTRACK_OK;
    int saved = errno;
    deliver_here(e);
    if (mt_load_acquire(&cb.thread_pid) != 0) ensure_thread(e); /* a fork child restarts it */
    errno = saved;
    return MEMTRACK_OK;
}
