/* The class registry (classes.h): classes are never removed, so a class pointer or id, once
 * obtained, stays valid; the name index is read without a lock like the call tree's. */
#include "core/classes.h"

#include <string.h>

#include "core/arena.h"

struct mt_cindex_s {
    uint32_t mask, used;
    _Atomic(const mt_class_t *) slots[];
};

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 31);
}

static mt_cindex_t *index_new(uint32_t n)
{
    mt_cindex_t *ix = mt__arena_alloc(sizeof(*ix) + sizeof(ix->slots[0]) * n);
    if (ix) ix->mask = n - 1;
    return ix;
}

static const mt_class_t *index_find(const mt_cindex_t *ix, const char *name, size_t len)
{
    for (uint64_t i = hash_name(name, len);; i++) {
        /* Acquire: the class is complete before its slot is published. */
        const mt_class_t *k = mt_load_acquire(&((mt_cindex_t *)ix)->slots[i & ix->mask]);
        if (!k) return NULL;
        if (k->len == len && memcmp(k->name, name, len) == 0) return k;
    }
}

static void index_put(mt_cindex_t *ix, const mt_class_t *k)
{
    for (uint64_t i = hash_name(k->name, k->len);; i++) {
        if (!mt_load_relaxed(&ix->slots[i & ix->mask])) { /* relaxed: under the lock */
            mt_store_release(&ix->slots[i & ix->mask], k);
            ix->used++;
            return;
        }
    }
}

/* Adds a class with the lock held; NULL without memory or room. */
static mt_class_t *add_class(mt_classes_t *c, const char *name, size_t len)
{
    uint32_t id = mt_load_relaxed(&c->count); /* relaxed: under the lock */
    mt_cindex_t *ix = mt_load_relaxed(&c->index);
    if (id >= MT_CLASSES_MAX) return NULL;
    if ((uint64_t)(ix->used + 1) * 2 > (uint64_t)ix->mask + 1) {
        mt_cindex_t *nx = index_new((ix->mask + 1) * 2);
        if (!nx) return NULL;
        for (uint32_t i = 0; i <= ix->mask; i++) {
            const mt_class_t *k = mt_load_relaxed(&ix->slots[i]);
            if (k) index_put(nx, k);
        }
        mt_store_release(&c->index, nx); /* the old index stays readable for lock-free probes */
        ix = nx;
    }
    if (!c->dir[id >> 10]) {
        c->dir[id >> 10] = mt__arena_alloc(sizeof(mt_class_t *) * 1024);
        if (!c->dir[id >> 10]) return NULL;
    }
    mt_class_t *k = mt__arena_alloc(sizeof(*k));
    char *copy = mt__arena_alloc(len + 1);
    if (!k || !copy) return NULL;
    memcpy(copy, name, len);
    k->name = copy;
    k->len = (uint32_t)len;
    k->id = id;
    c->dir[id >> 10][id & 1023] = k;
    mt_store_release(&c->count, id + 1);
    index_put(ix, k);
    return k;
}

int mt__classes_init(mt_classes_t *c)
{
    mt_cindex_t *ix = index_new(64);
    if (!ix) return -1;
    mt_store_release(&c->index, ix);
    return add_class(c, "untagged", 8) ? 0 : -1;
}

bool mt__class_find(mt_classes_t *c, const char *name, uint32_t *id)
{
    const mt_class_t *k = index_find(mt_load_acquire(&c->index), name, strlen(name));
    if (k) *id = k->id;
    return k != NULL;
}

int mt__class_intern(mt_classes_t *c, const char *name, uint32_t *id)
{
    size_t len = name ? strnlen(name, MT_CLASS_NAME_MAX + 1) : 0;
    if (len == 0 || len > MT_CLASS_NAME_MAX) return -1;
    if (mt__class_find(c, name, id)) return 0;
    mt_lock(&c->lock, UINT32_MAX - 7);
    const mt_class_t *k = index_find(mt_load_relaxed(&c->index), name, len); /* a racer's */
    if (!k) k = add_class(c, name, len);
    mt_unlock(&c->lock);
    if (!k) return -1;
    *id = k->id;
    return 0;
}

bool mt__class_push_event(mt_class_t *k, mt_event_t ev, uint32_t self)
{
    mt_lock(&k->qlock, self);
    if (k->qlen >= MT_EVENTS_MAX) { /* nobody drains (a fork child): do not grow forever */
        mt_unlock(&k->qlock);
        return false;
    }
    if (k->qlen == k->qcap) {
        uint32_t ncap = k->qcap ? k->qcap * 2 : 256;
        mt_event_t *nq = ncap > k->qcap ? mt__arena_alloc(sizeof(*nq) * ncap) : NULL;
        if (!nq) {
            mt_unlock(&k->qlock);
            return false;
        }
        for (uint32_t i = 0; i < k->qlen; i++)
            nq[i] = k->queue[(k->qhead + i) % k->qcap];
        mt__arena_free(k->queue, sizeof(*nq) * k->qcap);
        k->queue = nq;
        k->qcap = ncap;
        k->qhead = 0;
    }
    k->queue[(k->qhead + k->qlen) % k->qcap] = ev;
    k->qlen++;
    mt_unlock(&k->qlock);
    return true;
}

uint32_t mt__class_take_events(mt_class_t *k, mt_event_t *out, uint32_t max, uint32_t self)
{
    mt_lock(&k->qlock, self);
    uint32_t n = k->qlen < max ? k->qlen : max;
    for (uint32_t i = 0; i < n; i++)
        out[i] = k->queue[(k->qhead + i) % k->qcap];
    if (n) k->qhead = (k->qhead + n) % k->qcap;
    k->qlen -= n;
    mt_unlock(&k->qlock);
    return n;
}

void mt__class_counts(const mt_class_t *k, mt_class_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < MT_CLASS_STRIPES; i++) {
        /* Relaxed: see mt__class_count_new. */
        mt_class_stripe_t *s = (mt_class_stripe_t *)&k->stripes[i];
        out->new_count += mt_load_relaxed(&s->new_count);
        out->new_bytes += mt_load_relaxed(&s->new_bytes);
        out->free_count += mt_load_relaxed(&s->free_count);
        out->free_bytes += mt_load_relaxed(&s->free_bytes);
    }
}

void mt__classes_clear(mt_classes_t *c)
{
    uint32_t n = mt__class_count(c);
    for (uint32_t id = 0; id < n; id++) {
        mt_class_t *k = mt__class_at(c, id);
        for (unsigned i = 0; i < MT_CLASS_STRIPES; i++) {
            mt_store_relaxed(&k->stripes[i].new_count, 0); /* relaxed: the engine is stopped */
            mt_store_relaxed(&k->stripes[i].new_bytes, 0);
            mt_store_relaxed(&k->stripes[i].free_count, 0);
            mt_store_relaxed(&k->stripes[i].free_bytes, 0);
        }
    }
}
