/* Memory over time: live bytes, live blocks and the process's resident memory, sampled at a
 * steady rate by a thread of the front end (never on the allocation path). The store is
 * bounded: when it is full, every other sample is dropped and the rate halves, so a run of
 * any length keeps an even picture of its whole life. */
#ifndef MT_CORE_TIMELINE_H
#define MT_CORE_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lock.h"

#define MT_TIMELINE_MAX      4096        /* samples kept at most */
#define MT_TIMELINE_INTERVAL 10000000ull /* the first interval: 10 ms */

typedef struct mt_sample_s {
    uint64_t t_ns; /* since the engine started */
    uint64_t live_bytes, live_blocks, rss_bytes;
} mt_sample_t;

typedef struct mt_timeline_s {
    mt_lock_t lock;
    mt_sample_t *samples; /* MT_TIMELINE_MAX of them, from the arena; NULL until the first */
    uint32_t count;
    uint64_t interval_ns; /* between kept samples now (doubles as the store thins) */
} mt_timeline_t;

/* Adds a sample if at least interval_ns passed since the last one kept, or if `force` (the
 * sample of a capture's moment). */
void mt__timeline_add(mt_timeline_t *tl, const mt_sample_t *s, bool force);

/* Calls fn for every sample, oldest first, with the lock held. */
typedef void (*mt_sample_fn)(const mt_sample_t *s, void *ctx);
void mt__timeline_foreach(mt_timeline_t *tl, mt_sample_fn fn, void *ctx, uint32_t self);

#endif
