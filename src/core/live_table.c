/* The live-allocation table (live_table.h): 1024 shards, each a chained hash table whose
 * entries come from a per-shard pool and whose bucket array grows by doubling, moving a few
 * buckets per operation (the incremental rehash of redis dict.c), so no call does unbounded
 * work. An entry packs a block's record and its link into 32 bytes, so the pool's chunks are
 * powers of two that the engine's arena (power-of-two size classes) holds without rounding up;
 * with a bucket array of one to two buckets per entry, a live block costs 36 to 40 bytes plus
 * what the newest chunk of its shard has not handed out yet. */
#include "core/live_table.h"

#include <string.h>

#include "core/arena.h"

/* A block's record, packed: the address in 56 bits (user-space addresses on x86-64 stay below
 * 2^56 even with five-level paging), size and peak_before in 48 bits each (no block or peak
 * reaches 256 TiB; the peak tags of nodemap.h make the same assumption), and the thread and
 * class indices (below 2^20 each) in the bits left over. */
struct mt_entry_s {
    uint64_t w0; /* addr | thread bits 0..7 << 56 */
    uint64_t w1; /* size | thread bits 8..19 << 48 | cls bits 0..3 << 60 */
    uint64_t w2; /* peak_before | cls bits 4..19 << 48 */
    uint32_t node;
    uint32_t next;
};

_Static_assert(sizeof(struct mt_entry_s) == 32, "a live-table entry is 32 bytes");

#define ADDR_MASK ((1ull << 56) - 1)
#define LOW48     ((1ull << 48) - 1)

static inline uint64_t entry_addr(const mt_entry_t *e)
{
    return e->w0 & ADDR_MASK;
}

/* False when the record does not fit (an address at or above 2^56, a size of 2^48 or more). */
static inline bool pack(mt_entry_t *e, const mt_block_t *b)
{
    if (b->addr > ADDR_MASK || b->size > LOW48) return false;
    uint64_t peak = b->peak_before < LOW48 ? b->peak_before : LOW48;
    uint64_t th = b->thread, cls = b->cls;
    e->w0 = b->addr | (th & 0xff) << 56;
    e->w1 = b->size | (th >> 8 & 0xfff) << 48 | (cls & 0xf) << 60;
    e->w2 = peak | (cls >> 4 & 0xffff) << 48;
    e->node = b->node;
    return true;
}

static inline void unpack(const mt_entry_t *e, mt_block_t *b)
{
    b->addr = e->w0 & ADDR_MASK;
    b->size = e->w1 & LOW48;
    b->peak_before = e->w2 & LOW48;
    b->thread = (uint32_t)(e->w0 >> 56 | (e->w1 >> 48 & 0xfff) << 8);
    b->cls = (uint32_t)(e->w1 >> 60 | (e->w2 >> 48) << 4);
    b->node = e->node;
}

#define FIRST_BUCKETS 8u
#define REHASH_STEP   16u /* old buckets moved per operation during a resize */

/* Addresses are placed by their 64 KiB region: a region belongs to one shard, and within the
 * shard the low 16 bits of the address pick neighbouring buckets. Blocks allocated one after
 * the other (usually neighbours in memory) then meet the same lock, bucket array lines and
 * entry pool, which keeps a table of millions of blocks in cache far better than a uniform
 * hash; threads allocate from their own malloc arenas, so they still spread over shards. */
static inline uint64_t hash_addr(uint64_t addr)
{
    uint64_t region = (addr >> 16) * 0x9e3779b97f4a7c15ull;
    return (region & ~(uint64_t)0xfff) | ((addr >> 4) & 0xfff);
}

static inline uint32_t bucket_of(uint64_t h, uint32_t mask)
{
    /* Low 12 bits: the address within its region; above them region bits that the shard
     * number (the top 10 bits) does not use. */
    return (uint32_t)((h & 0xfff) | ((h >> 20) & ~(uint64_t)0xfff)) & mask;
}

#define GEO_ENTRIES (16u * ((1u << MT_CHUNKS) - 1u)) /* in the growing chunks */

static inline mt_entry_t *entry_at(const mt_shard_t *s, uint32_t idx)
{
    uint32_t i = idx - 1;
    if (__builtin_expect(i >= GEO_ENTRIES, 0)) {
        i -= GEO_ENTRIES;
        return &s->dir[i >> MT_FIXED_SHIFT][i & (MT_FIXED_CHUNK - 1u)];
    }
    unsigned k = 31u - (unsigned)__builtin_clz((i >> 4) + 1);
    return &s->chunks[k][i - 16u * ((1u << k) - 1u)];
}

int mt__live_init(mt_live_t *t)
{
    t->shards = mt__arena_alloc(sizeof(mt_shard_t) * MT_SHARDS);
    return t->shards ? 0 : -1;
}

static size_t chunk_bytes(unsigned k)
{
    return sizeof(mt_entry_t) * (16u << k);
}

void mt__live_destroy(mt_live_t *t)
{
    if (!t->shards) return;
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        mt_shard_t *s = &t->shards[i];
        for (unsigned k = 0; k < MT_CHUNKS && s->chunks[k]; k++)
            mt__arena_free(s->chunks[k], chunk_bytes(k));
        for (uint32_t c = 0; c < s->ndir && s->dir[c]; c++)
            mt__arena_free(s->dir[c], sizeof(mt_entry_t) * MT_FIXED_CHUNK);
        if (s->dir) mt__arena_free(s->dir, sizeof(mt_entry_t *) * s->ndir);
        if (s->buckets) mt__arena_free(s->buckets, sizeof(uint32_t) * (s->mask + 1u));
        if (s->old) mt__arena_free(s->old, sizeof(uint32_t) * (s->old_mask + 1u));
    }
    mt__arena_free(t->shards, sizeof(mt_shard_t) * MT_SHARDS);
    t->shards = NULL;
}

mt_shard_t *mt__live_shard(mt_live_t *t, uint64_t addr)
{
    return &t->shards[hash_addr(addr) >> (64 - MT_SHARD_BITS)];
}

/* Moves up to `n` buckets of the old table into the new one. */
static void rehash_step(mt_shard_t *s, unsigned n)
{
    while (s->old && n--) {
        uint32_t idx = s->old[s->rehash_pos];
        while (idx) {
            mt_entry_t *e = entry_at(s, idx);
            uint32_t next = e->next;
            uint32_t bkt = bucket_of(hash_addr(entry_addr(e)), s->mask);
            e->next = s->buckets[bkt];
            s->buckets[bkt] = idx;
            idx = next;
        }
        s->old[s->rehash_pos] = 0;
        if (s->rehash_pos++ == s->old_mask) {
            mt__arena_free(s->old, sizeof(uint32_t) * (s->old_mask + 1u));
            s->old = NULL;
            s->old_mask = 0;
            s->rehash_pos = 0;
        }
    }
}

/* Starts a resize when the table is full; without memory it just keeps longer chains. */
static void maybe_grow(mt_shard_t *s)
{
    if (s->old) return;
    if (s->buckets && s->count < s->mask + 1u) return;
    uint32_t nb = s->buckets ? (s->mask + 1u) * 2u : FIRST_BUCKETS;
    if (nb == 0) return; /* 2^32 buckets: stop growing */
    uint32_t *b = mt__arena_alloc(sizeof(uint32_t) * nb);
    if (!b) return;
    if (s->buckets) {
        s->old = s->buckets;
        s->old_mask = s->mask;
        s->rehash_pos = 0;
    }
    s->buckets = b;
    s->mask = nb - 1u;
}

static uint32_t new_entry(mt_shard_t *s)
{
    if (s->free_head) {
        uint32_t idx = s->free_head;
        s->free_head = entry_at(s, idx)->next;
        return idx;
    }
    uint32_t i = s->used; /* the 0-based position of the entry to carve */
    if (i == UINT32_MAX) return 0;
    if (i < GEO_ENTRIES) {
        unsigned k = 31u - (unsigned)__builtin_clz((i >> 4) + 1);
        if (!s->chunks[k]) {
            s->chunks[k] = mt__arena_alloc(chunk_bytes(k));
            if (!s->chunks[k]) return 0;
        }
    } else {
        uint32_t c = (i - GEO_ENTRIES) >> MT_FIXED_SHIFT;
        if (c >= s->ndir) {
            /* Doubling the directory copies one pointer per 512 entries: rare and small. */
            uint32_t n = s->ndir ? s->ndir * 2 : 16;
            mt_entry_t **d = mt__arena_alloc(sizeof(*d) * n);
            if (!d) return 0;
            if (s->dir) {
                memcpy(d, s->dir, sizeof(*d) * s->ndir);
                mt__arena_free(s->dir, sizeof(*d) * s->ndir);
            }
            s->dir = d;
            s->ndir = n;
        }
        if (!s->dir[c]) {
            s->dir[c] = mt__arena_alloc(sizeof(mt_entry_t) * MT_FIXED_CHUNK);
            if (!s->dir[c]) return 0;
        }
    }
    s->used++;
    return i + 1;
}

/* Finds the link that points at `addr`'s entry in one bucket array, or NULL. */
static uint32_t *find_link(mt_shard_t *s, uint32_t *buckets, uint32_t mask, uint64_t h,
                           uint64_t addr)
{
    uint32_t *link = &buckets[bucket_of(h, mask)];
    while (*link) {
        mt_entry_t *e = entry_at(s, *link);
        if (entry_addr(e) == addr) return link;
        link = &e->next;
    }
    return NULL;
}

static uint32_t *lookup(mt_shard_t *s, uint64_t h, uint64_t addr)
{
    uint32_t *link = s->buckets ? find_link(s, s->buckets, s->mask, h, addr) : NULL;
    if (!link && s->old) link = find_link(s, s->old, s->old_mask, h, addr);
    return link;
}

mt_insert_t mt__shard_insert(mt_shard_t *s, const mt_block_t *b, mt_block_t *old)
{
    uint64_t h = hash_addr(b->addr);
    uint32_t *link = s->count ? lookup(s, h, b->addr) : NULL;
    mt_entry_t packed;
    if (!pack(&packed, b)) return MT_NO_MEMORY; /* cannot be recorded: as without memory */
    if (link) {
        mt_entry_t *e = entry_at(s, *link);
        unpack(e, old);
        packed.next = e->next;
        *e = packed;
        return MT_REPLACED;
    }
    maybe_grow(s);
    if (!s->buckets) return MT_NO_MEMORY;
    rehash_step(s, REHASH_STEP);
    uint32_t idx = new_entry(s);
    if (!idx) return MT_NO_MEMORY;
    mt_entry_t *e = entry_at(s, idx);
    *e = packed;
    uint32_t bkt = bucket_of(h, s->mask);
    e->next = s->buckets[bkt];
    s->buckets[bkt] = idx;
    s->count++;
    return MT_INSERTED;
}

bool mt__shard_remove(mt_shard_t *s, uint64_t addr, mt_block_t *out)
{
    if (!s->count) return false;
    uint32_t *link = lookup(s, hash_addr(addr), addr);
    if (!link) return false;
    uint32_t idx = *link;
    mt_entry_t *e = entry_at(s, idx);
    unpack(e, out);
    *link = e->next;
    e->next = s->free_head;
    s->free_head = idx;
    s->count--;
    rehash_step(s, REHASH_STEP);
    return true;
}

bool mt__shard_find(mt_shard_t *s, uint64_t addr, mt_block_t *out)
{
    uint32_t *link = s->count ? lookup(s, hash_addr(addr), addr) : NULL;
    if (link) unpack(entry_at(s, *link), out);
    return link != NULL;
}

static void update_chain(const mt_shard_t *s, const uint32_t *buckets, uint32_t mask,
                         mt_block_mut_fn fn, void *ctx)
{
    for (uint64_t i = 0; i <= mask; i++) {
        for (uint32_t idx = buckets[i]; idx; idx = entry_at(s, idx)->next) {
            mt_entry_t *e = entry_at(s, idx);
            mt_block_t b;
            unpack(e, &b);
            fn(&b, ctx);
            uint32_t next = e->next;
            pack(e, &b); /* fits: fn may change anything but the address, and keeps sizes */
            e->next = next;
        }
    }
}

void mt__shard_update(mt_shard_t *s, mt_block_mut_fn fn, void *ctx)
{
    if (!s->count) return;
    if (s->buckets) update_chain(s, s->buckets, s->mask, fn, ctx);
    if (s->old) update_chain(s, s->old, s->old_mask, fn, ctx);
}

typedef struct read_only_s {
    mt_block_fn fn;
    void *ctx;
} read_only_t;

static void read_only(mt_block_t *b, void *ctx)
{
    read_only_t *r = ctx;
    r->fn(b, r->ctx);
}

void mt__shard_foreach(const mt_shard_t *s, mt_block_fn fn, void *ctx)
{
    read_only_t r = {fn, ctx};
    mt__shard_update((mt_shard_t *)s, read_only, &r); /* read_only changes nothing */
}

uint64_t mt__live_memory(const mt_live_t *t)
{
    uint64_t total = sizeof(mt_shard_t) * MT_SHARDS;
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        const mt_shard_t *s = &t->shards[i];
        total += (uint64_t)s->used * sizeof(mt_entry_t);
        if (s->buckets) total += sizeof(uint32_t) * ((uint64_t)s->mask + 1u);
        if (s->old) total += sizeof(uint32_t) * ((uint64_t)s->old_mask + 1u);
    }
    return total;
}
