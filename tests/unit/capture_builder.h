/* Test helper: writes capture files (docs/FORMAT.md) into memory from an mt_capture_t, section
 * by section, so tests can build valid captures and then break them in precise ways. */
#ifndef MT_TEST_CAPTURE_BUILDER_H
#define MT_TEST_CAPTURE_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/checksum.h"
#include "capture/format.h"
#include "capture/reader.h"

typedef struct tb_s {
    uint8_t *data;
    size_t len, cap;
    size_t section_start; /* offset of the open section's header */
} tb_t;

static inline void tb_bytes(tb_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n)
            nc *= 2;
        b->data = realloc(b->data, nc);
        if (b->data == NULL) abort();
        b->cap = nc;
    }
    if (n > 0) memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void tb_u32(tb_t *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    tb_bytes(b, x, 4);
}

static inline void tb_u64(tb_t *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    tb_bytes(b, x, 8);
}

static inline void tb_put_u64_at(tb_t *b, size_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->data[off + i] = (uint8_t)(v >> (8 * i));
}

static inline void tb_string(tb_t *b, const void *s, size_t n)
{
    tb_u32(b, (uint32_t)n);
    tb_bytes(b, s, n);
}

static inline void tb_header(tb_t *b, uint32_t version)
{
    tb_bytes(b, MT_FMT_MAGIC, MT_FMT_MAGIC_LEN);
    tb_u32(b, version);
    tb_u32(b, MT_FMT_HEADER_SIZE);
}

/* Opens a section; tb_close() fills in its length. */
static inline void tb_open(tb_t *b, uint32_t type)
{
    b->section_start = b->len;
    tb_u32(b, type);
    tb_u32(b, 0);
    tb_u64(b, 0);
}

static inline void tb_close(tb_t *b)
{
    tb_put_u64_at(b, b->section_start + 8, b->len - b->section_start - MT_FMT_SECTION_HDR);
}

static inline void tb_meta(tb_t *b, const mt_capture_t *c)
{
    tb_open(b, MT_SEC_META);
    tb_u64(b, c->pid);
    tb_u64(b, c->parent_pid);
    tb_u64(b, c->start_realtime_ns);
    tb_u64(b, c->duration_ns);
    tb_u32(b, c->depth);
    tb_u32(b, c->mode);
    tb_u32(b, c->end_reason);
    tb_u32(b, (uint32_t)c->end_value);
    tb_u32(b, c->flags);
    tb_u32(b, c->frame_kind);
    tb_u64(b, c->dropped_events);
    tb_u64(b, c->engine_bytes);
    tb_string(b, c->program, strlen(c->program));
    tb_string(b, c->cmdline, c->cmdline_len);
    tb_close(b);
}

static inline void tb_totals(tb_t *b, const mt_cap_totals_t *t)
{
    tb_open(b, MT_SEC_TOTALS);
    uint64_t v[] = {t->allocations, t->frees,      t->allocated_bytes, t->freed_bytes,
                    t->live_blocks, t->live_bytes, t->peak_bytes,      t->peak_time_ns,
                    t->peak_blocks, t->temporary,  t->unknown_frees,   t->threads};
    for (size_t i = 0; i < 12; i++)
        tb_u64(b, v[i]);
    tb_close(b);
}

static inline void tb_modules(tb_t *b, const mt_capture_t *c)
{
    tb_open(b, MT_SEC_MODULES);
    tb_u32(b, (uint32_t)c->nmodules);
    for (size_t i = 0; i < c->nmodules; i++) {
        const mt_cap_module_t *m = &c->modules[i];
        tb_u64(b, m->bias);
        tb_u64(b, m->start);
        tb_u64(b, m->end);
        tb_string(b, m->path, strlen(m->path));
        tb_string(b, m->build_id, m->build_id_len);
    }
    tb_close(b);
}

/* Writes nodes[1..nnodes-1]: nodes[0] is the implicit root and has no record. */
static inline void tb_nodes(tb_t *b, const mt_capture_t *c)
{
    tb_open(b, MT_SEC_NODES);
    tb_u32(b, c->nnodes > 0 ? (uint32_t)(c->nnodes - 1) : 0);
    for (size_t i = 1; i < c->nnodes; i++) {
        const mt_cap_node_t *n = &c->nodes[i];
        tb_u32(b, n->parent);
        tb_u64(b, n->frame);
        uint64_t v[] = {n->allocations, n->allocated_bytes, n->temporary, n->peak_blocks,
                        n->peak_bytes,  n->live_blocks,     n->live_bytes};
        for (size_t k = 0; k < 7; k++)
            tb_u64(b, v[k]);
    }
    tb_close(b);
}

static inline void tb_threads(tb_t *b, const mt_capture_t *c)
{
    tb_open(b, MT_SEC_THREADS);
    tb_u32(b, (uint32_t)c->nthreads);
    for (size_t i = 0; i < c->nthreads; i++) {
        const mt_cap_thread_t *t = &c->threads[i];
        uint64_t v[] = {t->tid,          t->allocations, t->allocated_bytes, t->frees,
                        t->freed_bytes,  t->live_blocks, t->live_bytes,      t->peak_bytes,
                        t->peak_time_ns, t->temporary,   t->unknown_frees,   t->start_ns,
                        t->end_ns};
        for (size_t k = 0; k < 13; k++)
            tb_u64(b, v[k]);
        tb_string(b, t->name, strlen(t->name));
    }
    tb_close(b);
}

static inline void tb_live(tb_t *b, const mt_capture_t *c)
{
    tb_open(b, MT_SEC_LIVE);
    tb_u64(b, c->nlive);
    for (size_t i = 0; i < c->nlive; i++) {
        tb_u64(b, c->live[i].address);
        tb_u64(b, c->live[i].size);
        tb_u32(b, c->live[i].node);
        tb_u32(b, c->live[i].thread);
    }
    tb_close(b);
}

/* The optional sections, written only when the capture has something for them. */
static inline void tb_classes(tb_t *b, const mt_capture_t *c)
{
    if (c->nclasses == 0) return;
    tb_open(b, MT_SEC_CLASSES);
    tb_u32(b, (uint32_t)c->nclasses);
    for (size_t i = 0; i < c->nclasses; i++) {
        const mt_cap_class_t *k = &c->classes[i];
        tb_string(b, k->name, strlen(k->name));
        tb_u64(b, k->new_count);
        tb_u64(b, k->new_bytes);
        tb_u64(b, k->free_count);
        tb_u64(b, k->free_bytes);
        tb_u32(b, k->depth);
    }
    tb_close(b);
}

static inline void tb_stages(tb_t *b, const mt_capture_t *c)
{
    if (c->nstages == 0) return;
    tb_open(b, MT_SEC_STAGES);
    tb_u32(b, (uint32_t)c->nstages);
    for (size_t i = 0; i < c->nstages; i++) {
        const mt_cap_stage_t *st = &c->stages[i];
        tb_string(b, st->name, strlen(st->name));
        tb_u64(b, st->start_ns);
        tb_u64(b, st->end_ns);
        tb_u64(b, st->peak_bytes);
        tb_u64(b, st->peak_time_ns);
        tb_u32(b, (uint32_t)st->ntop);
        for (size_t k = 0; k < st->ntop; k++) {
            tb_u32(b, st->top[k].node);
            tb_u64(b, st->top[k].blocks);
            tb_u64(b, st->top[k].bytes);
        }
    }
    tb_close(b);
}

static inline void tb_names(tb_t *b, const mt_capture_t *c)
{
    if (c->nnamed == 0) return;
    tb_open(b, MT_SEC_NAMES);
    tb_u32(b, (uint32_t)c->nnamed);
    for (size_t i = 0; i < c->nnamed; i++) {
        tb_u64(b, c->named[i].address);
        tb_string(b, c->named[i].name, strlen(c->named[i].name));
        tb_string(b, c->named[i].file, strlen(c->named[i].file));
        tb_u32(b, c->named[i].line);
    }
    tb_close(b);
}

static inline void tb_timeline(tb_t *b, const mt_capture_t *c)
{
    if (c->nsamples == 0) return;
    tb_open(b, MT_SEC_TIMELINE);
    tb_u32(b, (uint32_t)c->nsamples);
    tb_u64(b, c->sample_interval_ns);
    for (size_t i = 0; i < c->nsamples; i++) {
        const mt_cap_sample_t *s = &c->samples[i];
        tb_u64(b, s->t_ns);
        tb_u64(b, s->live_bytes);
        tb_u64(b, s->live_blocks);
        tb_u64(b, s->rss_bytes);
    }
    tb_close(b);
}

static inline void tb_symbols(tb_t *b, const mt_capture_t *c)
{
    if (c->nsymbols == 0) return;
    tb_open(b, MT_SEC_SYMBOLS);
    tb_u32(b, (uint32_t)c->nsymbols);
    for (size_t i = 0; i < c->nsymbols; i++) {
        tb_u64(b, c->symbols[i].frame);
        tb_string(b, c->symbols[i].function, strlen(c->symbols[i].function));
        tb_string(b, c->symbols[i].file, strlen(c->symbols[i].file));
        tb_u32(b, c->symbols[i].line);
    }
    tb_close(b);
}

/* Seals the capture: END with the hash of everything before it. */
static inline void tb_end(tb_t *b)
{
    uint64_t h = mt__fnv1a(MT_FNV_OFFSET, b->data, b->len);
    tb_open(b, MT_SEC_END);
    tb_u64(b, h);
    tb_close(b);
}

/* Recomputes the END hash of a complete capture after a test edited it in place. */
static inline void tb_reseal(uint8_t *data, size_t len)
{
    size_t end = len - MT_FMT_SECTION_HDR - 8;
    uint64_t h = mt__fnv1a(MT_FNV_OFFSET, data, end);
    for (int i = 0; i < 8; i++)
        data[len - 8 + i] = (uint8_t)(h >> (8 * i));
}

static inline void tb_thread_nodes(tb_t *b, const mt_capture_t *c)
{
    if (!c->has_tnodes) return;
    tb_open(b, MT_SEC_THREAD_NODES);
    tb_u32(b, (uint32_t)c->ntnodes);
    for (size_t i = 0; i < c->ntnodes; i++) {
        const mt_cap_tnode_t *r = &c->tnodes[i];
        tb_u32(b, r->thread);
        tb_u32(b, r->node);
        uint64_t v[] = {r->allocations, r->allocated_bytes, r->temporary, r->peak_blocks,
                        r->peak_bytes};
        for (size_t k = 0; k < 5; k++)
            tb_u64(b, v[k]);
    }
    uint32_t nmerged = 0;
    for (size_t i = 0; i < c->nthreads; i++)
        nmerged += c->threads[i].figures_merged != 0;
    tb_u32(b, nmerged);
    for (size_t i = 0; i < c->nthreads; i++)
        if (c->threads[i].figures_merged) tb_u32(b, (uint32_t)i);
    tb_close(b);
}

static inline void tb_memory(tb_t *b, const mt_capture_t *c)
{
    if (!c->has_memory) return;
    tb_open(b, MT_SEC_MEMORY);
    tb_u64(b, c->live_table_bytes);
    tb_u64(b, c->call_tree_bytes);
    tb_close(b);
}

/* The whole capture, sections in the usual order; free() the result. */
static inline uint8_t *tb_capture(const mt_capture_t *c, size_t *len)
{
    tb_t b = {0};
    tb_header(&b, MT_FMT_VERSION);
    tb_meta(&b, c);
    tb_totals(&b, &c->totals);
    tb_modules(&b, c);
    tb_nodes(&b, c);
    tb_threads(&b, c);
    tb_thread_nodes(&b, c);
    tb_live(&b, c);
    tb_classes(&b, c);
    tb_stages(&b, c);
    tb_names(&b, c);
    tb_timeline(&b, c);
    tb_symbols(&b, c);
    tb_memory(&b, c);
    tb_end(&b);
    *len = b.len;
    return b.data;
}

#endif
