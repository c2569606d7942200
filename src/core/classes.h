/* Classes: what live counts are grouped by (DESIGN.md). Native classes are tags given through
 * the C API; class 0, "untagged", holds everything else. Each class keeps its counts in a few
 * cache-line-sized stripes shared by the threads whose index falls on them, so reading a
 * class's counts is O(1) and threads rarely write the same line. */
#ifndef MT_CORE_CLASSES_H
#define MT_CORE_CLASSES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/atomics.h"
#include "core/lock.h"

#define MT_CLASS_UNTAGGED 0u
#define MT_CLASS_STRIPES  8u
#define MT_CLASS_DIR      1024u /* directory of chunks of 1024 classes */
#define MT_CLASSES_MAX    (MT_CLASS_DIR * 1024u)
#define MT_CLASS_NAME_MAX 255u
#define MT_EVENTS_MAX     (1u << 22) /* queued events per class before they are dropped */

/* Call paths of tagged allocations start (outermost) with a marker frame naming the class, so
 * the call tree is partitioned by class and per-node figures are per class. Frames from here
 * up are markers, never code addresses (they lie in the kernel's half of the address space). */
#define MT_FRAME_CLASS_BASE 0xffff000000000000ull

typedef struct mt_class_stripe_s {
    _Atomic uint64_t new_count, new_bytes, free_count, free_bytes;
} __attribute__((aligned(64))) mt_class_stripe_t;

/* An allocation or free of a watched class, queued for callbacks that run later, outside
 * the allocator (the front end drains the queue). */
typedef struct mt_event_s {
    uint64_t addr;
    uint64_t size : 63;
    uint64_t is_free : 1;
} mt_event_t;

typedef struct mt_class_s {
    const char *name;
    uint32_t len, id;
    _Atomic uint32_t watched; /* events are queued while non-zero */
    void *_Atomic frontend;   /* the front end's data for the class (its callbacks) */
    mt_lock_t qlock;          /* the event queue: a ring that grows */
    uint32_t qcap, qhead, qlen;
    mt_event_t *queue;
    _Atomic uint32_t depth; /* call-path depth asked for this class; 0: the engine's default */
    _Atomic uint32_t node;  /* call-tree node of its marker frame; 0 until first needed */
    mt_class_stripe_t stripes[MT_CLASS_STRIPES];
} mt_class_t;

typedef struct mt_cindex_s mt_cindex_t;

typedef struct mt_classes_s {
    mt_lock_t lock; /* held to add a class */
    mt_class_t **dir[MT_CLASS_DIR];
    _Atomic uint32_t count;
    _Atomic(mt_cindex_t *) index; /* name -> id; probed without the lock */
} mt_classes_t;

typedef struct mt_class_counts_s {
    uint64_t new_count, new_bytes, free_count, free_bytes;
} mt_class_counts_t;

/* Creates the registry with class 0, "untagged". -1 without memory. */
int mt__classes_init(mt_classes_t *c);

/* The id of the class `name` (1..MT_CLASS_NAME_MAX bytes), created if needed. "untagged" is
 * class 0. Returns 0, or -1 when the name is invalid, memory ran out or there are
 * MT_CLASSES_MAX classes already. */
int mt__class_intern(mt_classes_t *c, const char *name, uint32_t *id);

/* The id of an existing class; false when there is none of that name. Takes no lock. */
bool mt__class_find(mt_classes_t *c, const char *name, uint32_t *id);

static inline uint32_t mt__class_count(mt_classes_t *c)
{
    return mt_load_acquire(&c->count);
}

static inline mt_class_t *mt__class_at(mt_classes_t *c, uint32_t id)
{
    return c->dir[id >> 10][id & 1023];
}

/* Counting, from the thread with registry index `thread` (relaxed adds: the counts are read
 * at any time and only need to be untorn and eventually complete). */
static inline void mt__class_count_new(mt_class_t *k, uint32_t thread, uint64_t size)
{
    mt_class_stripe_t *s = &k->stripes[thread % MT_CLASS_STRIPES];
    mt_add_relaxed(&s->new_count, 1);
    mt_add_relaxed(&s->new_bytes, size);
}

static inline void mt__class_count_free(mt_class_t *k, uint32_t thread, uint64_t size)
{
    mt_class_stripe_t *s = &k->stripes[thread % MT_CLASS_STRIPES];
    mt_add_relaxed(&s->free_count, 1);
    mt_add_relaxed(&s->free_bytes, size);
}

/* Queues an event of class k; false when memory ran out (the event is lost). */
bool mt__class_push_event(mt_class_t *k, mt_event_t ev, uint32_t self);

/* Takes up to `max` of k's oldest events into out; returns how many. */
uint32_t mt__class_take_events(mt_class_t *k, mt_event_t *out, uint32_t max, uint32_t self);

/* The counts of one class: a sum over its stripes. */
void mt__class_counts(const mt_class_t *k, mt_class_counts_t *out);

/* Sets every count of every class to zero (the registry and names stay). */
void mt__classes_clear(mt_classes_t *c);

#endif
