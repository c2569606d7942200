/* The timeline store (timeline.h). */
#include "core/timeline.h"

#include "core/arena.h"

void mt__timeline_add(mt_timeline_t *tl, const mt_sample_t *sample, bool force)
{
    mt_sample_t copy = *sample, *s = &copy;
    mt_lock(&tl->lock, UINT32_MAX - 12);
    /* Two samplers (the background thread, a capture) may arrive out of the order of their
     * clock readings: a forced sample keeps its place in time order, a steady one is dropped. */
    if (tl->count && s->t_ns < tl->samples[tl->count - 1].t_ns) {
        if (!force) {
            mt_unlock(&tl->lock);
            return;
        }
        s->t_ns = tl->samples[tl->count - 1].t_ns;
    }
    if (!tl->samples) {
        tl->samples = mt__arena_alloc(sizeof(mt_sample_t) * MT_TIMELINE_MAX);
        tl->interval_ns = MT_TIMELINE_INTERVAL;
    }
    if (tl->samples &&
        (force || tl->count == 0 || s->t_ns >= tl->samples[tl->count - 1].t_ns + tl->interval_ns)) {
        if (tl->count == MT_TIMELINE_MAX) {
            /* Thin: keep every other sample (the first included), and sample half as often. */
            for (uint32_t i = 0; i < MT_TIMELINE_MAX / 2; i++)
                tl->samples[i] = tl->samples[2 * i];
            tl->count = MT_TIMELINE_MAX / 2;
            tl->interval_ns *= 2;
        }
        tl->samples[tl->count++] = *s;
    }
    mt_unlock(&tl->lock);
}

void mt__timeline_foreach(mt_timeline_t *tl, mt_sample_fn fn, void *ctx, uint32_t self)
{
    bool locked = mt_lock_unless_mine(&tl->lock, self);
    for (uint32_t i = 0; i < tl->count; i++)
        fn(&tl->samples[i], ctx);
    if (locked) mt_unlock(&tl->lock);
}
