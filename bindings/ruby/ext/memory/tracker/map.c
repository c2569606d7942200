/* The extension's hash map (map.h): linear probing, deletion by shifting back the entries that
 * follow, so there are no tombstones and lookups stay short. */
#include "map.h"

#include <stdlib.h>
#include <string.h>

static inline size_t hash_key(uint64_t k1, uint64_t k2)
{
    uint64_t h = (k1 ^ (k2 * 0xc2b2ae3d27d4eb4full)) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ (h >> 29));
}

mt_rb_map_entry_t *mt__rb_map_find(const mt_rb_map_t *m, uint64_t k1, uint64_t k2)
{
    if (m->count == 0) return NULL;
    for (size_t i = hash_key(k1, k2) & m->mask;; i = (i + 1) & m->mask) {
        mt_rb_map_entry_t *e = &m->slots[i];
        if (e->k1 == 0) return NULL;
        if (e->k1 == k1 && e->k2 == k2) return e;
    }
}

static void insert_new(mt_rb_map_entry_t *slots, size_t mask, const mt_rb_map_entry_t *n)
{
    size_t i = hash_key(n->k1, n->k2) & mask;
    while (slots[i].k1 != 0)
        i = (i + 1) & mask;
    slots[i] = *n;
}

/* Doubles the table (or makes the first one) so that it stays at most half full. */
static bool grow(mt_rb_map_t *m)
{
    size_t cap = m->mask ? (m->mask + 1) * 2 : 16;
    mt_rb_map_entry_t *slots = calloc(cap, sizeof(*slots));
    if (!slots) return false;
    if (m->mask)
        for (size_t i = 0; i <= m->mask; i++)
            if (m->slots[i].k1) insert_new(slots, cap - 1, &m->slots[i]);
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return true;
}

bool mt__rb_map_put(mt_rb_map_t *m, uint64_t k1, uint64_t k2, uint64_t value)
{
    mt_rb_map_entry_t *e = mt__rb_map_find(m, k1, k2);
    if (e) {
        e->value = value;
        return true;
    }
    if ((m->count + 1) * 2 > m->mask + 1 && !grow(m)) return false;
    mt_rb_map_entry_t n = {k1, k2, value};
    insert_new(m->slots, m->mask, &n);
    m->count++;
    return true;
}

bool mt__rb_map_remove(mt_rb_map_t *m, uint64_t k1, uint64_t k2, uint64_t *value)
{
    mt_rb_map_entry_t *e = mt__rb_map_find(m, k1, k2);
    if (!e) return false;
    if (value) *value = e->value;
    size_t i = (size_t)(e - m->slots);
    /* Shift back every following entry of the run that would be found through slot i. */
    for (size_t j = (i + 1) & m->mask; m->slots[j].k1 != 0; j = (j + 1) & m->mask) {
        size_t home = hash_key(m->slots[j].k1, m->slots[j].k2) & m->mask;
        /* j may move to i when its home is not in the cyclic range (i, j]. */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].k1 = 0;
    m->count--;
    return true;
}

void mt__rb_map_clear(mt_rb_map_t *m)
{
    if (m->mask) memset(m->slots, 0, sizeof(*m->slots) * (m->mask + 1));
    m->count = 0;
}

void mt__rb_map_free(mt_rb_map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

bool mt__rb_map_rekey(mt_rb_map_t *m, void (*fn)(mt_rb_map_entry_t *e, void *ctx), void *ctx)
{
    if (m->count == 0) return true;
    mt_rb_map_entry_t *all = malloc(sizeof(*all) * m->count);
    if (!all) {
        /* Update in place: entries may then sit away from their new home and not be found. */
        for (size_t i = 0; i <= m->mask; i++)
            if (m->slots[i].k1) fn(&m->slots[i], ctx);
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].k1) all[n++] = m->slots[i];
    mt__rb_map_clear(m);
    for (size_t i = 0; i < n; i++) {
        fn(&all[i], ctx);
        if (all[i].k1 == 0) continue;
        /* The table is as large as before, so this cannot need to grow; a key two moved
         * objects now share (which cannot happen for live objects) keeps the last value. */
        mt_rb_map_entry_t *e = mt__rb_map_find(m, all[i].k1, all[i].k2);
        if (e) {
            e->value = all[i].value;
            continue;
        }
        insert_new(m->slots, m->mask, &all[i]);
        m->count++;
    }
    free(all);
    return true;
}
