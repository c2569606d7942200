/* The capture reader: loads a capture file (docs/FORMAT.md) and validates every byte of it, so
 * the report code can index nodes, threads and modules without checking again. */
#include "capture/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/checksum.h"
#include "capture/format.h"
#include "core/sampler.h"

/* Smallest possible records, used to bound counts before allocating anything: a module is three
 * u64 and two empty strings, a thread thirteen u64 and an empty name. */
#define MT_MODULE_MIN (24u + 4u + 4u)
#define MT_THREAD_MIN (MT_FMT_THREAD_FIXED + 4u)

/* A bounds-checked view of one section's payload. Every read goes through take(), so no
 * parser can read past the section, whatever its counts say. */
typedef struct mt_cursor_s {
    const uint8_t *p;
    size_t left;
    const char *section; /* for messages */
} mt_cursor_t;

typedef struct mt_section_s {
    bool seen;
    const uint8_t *payload;
    uint64_t length;
} mt_section_t;

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const char *section_name(uint32_t type)
{
    switch (type) {
    case MT_SEC_META:
        return "META";
    case MT_SEC_TOTALS:
        return "TOTALS";
    case MT_SEC_MODULES:
        return "MODULES";
    case MT_SEC_NODES:
        return "NODES";
    case MT_SEC_THREADS:
        return "THREADS";
    case MT_SEC_CLASSES:
        return "CLASSES";
    case MT_SEC_LIVE:
        return "LIVE";
    case MT_SEC_STAGES:
        return "STAGES";
    case MT_SEC_NAMES:
        return "NAMES";
    case MT_SEC_TIMELINE:
        return "TIMELINE";
    case MT_SEC_THREAD_NODES:
        return "THREAD_NODES";
    case MT_SEC_SYMBOLS:
        return "SYMBOLS";
    case MT_SEC_SAMPLING:
        return "SAMPLING";
    case MT_SEC_MEMORY:
        return "MEMORY";
    case MT_SEC_END:
        return "END";
    default:
        return "unknown";
    }
}

static const uint8_t *take(mt_cursor_t *c, size_t n, const char *what, char *err, size_t errlen)
{
    if (n > c->left) {
        fail(err, errlen, "corrupt: %s section too short for %s (needs %zu bytes, %zu left)",
             c->section, what, n, c->left);
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

/* Reads a length-prefixed string into a fresh NUL-terminated copy; *len gets its length. */
static char *take_string(mt_cursor_t *c, const char *what, size_t *len, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, what, err, errlen);
    if (p == NULL) return NULL;
    uint32_t n = le32(p);
    p = take(c, n, what, err, errlen);
    if (p == NULL) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    if (len != NULL) *len = n;
    return s;
}

static int expect_consumed(const mt_cursor_t *c, char *err, size_t errlen)
{
    if (c->left != 0)
        return fail(err, errlen, "corrupt: %s section has %zu unexplained bytes at its end",
                    c->section, c->left);
    return 0;
}

static int parse_meta(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, MT_FMT_META_FIXED, "its fixed fields", err, errlen);
    if (p == NULL) return -1;
    cap->pid = le64(p);
    cap->parent_pid = le64(p + 8);
    cap->start_realtime_ns = le64(p + 16);
    cap->duration_ns = le64(p + 24);
    cap->depth = le32(p + 32);
    cap->mode = le32(p + 36);
    cap->end_reason = le32(p + 40);
    cap->end_value = (int32_t)le32(p + 44);
    cap->flags = le32(p + 48);
    cap->frame_kind = le32(p + 52);
    cap->dropped_events = le64(p + 56);
    cap->engine_bytes = le64(p + 64);
    if (cap->end_reason > MT_END_QUICK)
        return fail(err, errlen, "corrupt: unknown end reason %" PRIu32, cap->end_reason);
    if (cap->frame_kind > MT_FRAMES_SYMBOLS)
        return fail(err, errlen, "corrupt: unknown frame kind %" PRIu32, cap->frame_kind);
    cap->program = take_string(c, "the program path", NULL, err, errlen);
    if (cap->program == NULL) return -1;
    cap->cmdline = take_string(c, "the command line", &cap->cmdline_len, err, errlen);
    if (cap->cmdline == NULL) return -1;
    return expect_consumed(c, err, errlen);
}

static int parse_totals(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    if (c->left != MT_FMT_TOTALS_SIZE)
        return fail(err, errlen, "corrupt: TOTALS section is %zu bytes (expected %u)", c->left,
                    MT_FMT_TOTALS_SIZE);
    const uint8_t *p = c->p;
    mt_cap_totals_t *t = &cap->totals;
    uint64_t *fields[] = {&t->allocations, &t->frees,      &t->allocated_bytes, &t->freed_bytes,
                          &t->live_blocks, &t->live_bytes, &t->peak_bytes,      &t->peak_time_ns,
                          &t->peak_blocks, &t->temporary,  &t->unknown_frees,   &t->threads};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        *fields[i] = le64(p + 8 * i);
    c->left = 0;
    return 0;
}

static int parse_modules(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    /* Bound the count by the bytes present before trusting it with an allocation. */
    if (count > c->left / MT_MODULE_MIN)
        return fail(err, errlen, "corrupt: MODULES count %" PRIu32 " does not fit in %zu bytes",
                    count, c->left);
    cap->modules = calloc(count ? count : 1, sizeof *cap->modules);
    if (cap->modules == NULL) return fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        mt_cap_module_t *m = &cap->modules[i];
        p = take(c, 24, "a module's addresses", err, errlen);
        if (p == NULL) return -1;
        cap->nmodules = i + 1; /* so mt__capture_free releases what follows */
        m->bias = le64(p);
        m->start = le64(p + 8);
        m->end = le64(p + 16);
        if (m->start > m->end)
            return fail(err, errlen,
                        "corrupt: module %" PRIu32 " ends (0x%" PRIx64
                        ") before it starts (0x%" PRIx64 ")",
                        i, m->end, m->start);
        m->path = take_string(c, "a module path", NULL, err, errlen);
        if (m->path == NULL) return -1;
        size_t idlen = 0;
        char *id = take_string(c, "a build-id", &idlen, err, errlen);
        if (id == NULL) return -1;
        if (idlen == 0) {
            free(id);
            id = NULL;
        }
        m->build_id = (uint8_t *)id;
        m->build_id_len = (uint32_t)idlen;
    }
    return expect_consumed(c, err, errlen);
}

static int parse_nodes(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    uint64_t need = (uint64_t)count * MT_FMT_NODE_SIZE; /* < 2^39: cannot overflow */
    if (need != c->left)
        return fail(err, errlen,
                    "corrupt: NODES section holds %zu bytes of records, its %" PRIu32
                    " nodes need %" PRIu64,
                    c->left, count, need);
    if ((uint64_t)count + 1 > SIZE_MAX / sizeof *cap->nodes)
        return fail(err, errlen, "corrupt: too many nodes (%" PRIu32 ")", count);
    mt_cap_node_t *nodes = calloc((size_t)count + 1, sizeof *nodes);
    if (nodes == NULL) return fail(err, errlen, "out of memory");
    cap->nodes = nodes;
    cap->nnodes = (size_t)count + 1;
    for (size_t id = 1; id <= count; id++) {
        p = take(c, MT_FMT_NODE_SIZE, "a node", err, errlen);
        if (p == NULL) return -1;
        mt_cap_node_t *n = &nodes[id];
        n->parent = le32(p);
        n->frame = le64(p + 4);
        n->allocations = le64(p + 12);
        n->allocated_bytes = le64(p + 20);
        n->temporary = le64(p + 28);
        n->peak_blocks = le64(p + 36);
        n->peak_bytes = le64(p + 44);
        n->live_blocks = le64(p + 52);
        n->live_bytes = le64(p + 60);
        /* Parents below their children make every walk to the root finite. */
        if (n->parent >= id)
            return fail(err, errlen,
                        "corrupt: node %zu has parent %" PRIu32 " (must be below its own id)", id,
                        n->parent);
    }
    return 0;
}

static int parse_threads(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    if (count > c->left / MT_THREAD_MIN)
        return fail(err, errlen, "corrupt: THREADS count %" PRIu32 " does not fit in %zu bytes",
                    count, c->left);
    cap->threads = calloc(count ? count : 1, sizeof *cap->threads);
    if (cap->threads == NULL) return fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        p = take(c, MT_FMT_THREAD_FIXED, "a thread", err, errlen);
        if (p == NULL) return -1;
        cap->nthreads = i + 1;
        mt_cap_thread_t *t = &cap->threads[i];
        uint64_t *fields[] = {&t->tid,        &t->allocations,   &t->allocated_bytes,
                              &t->frees,      &t->freed_bytes,   &t->live_blocks,
                              &t->live_bytes, &t->peak_bytes,    &t->peak_time_ns,
                              &t->temporary,  &t->unknown_frees, &t->start_ns,
                              &t->end_ns};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
            *fields[f] = le64(p + 8 * f);
        t->name = take_string(c, "a thread name", NULL, err, errlen);
        if (t->name == NULL) return -1;
    }
    return expect_consumed(c, err, errlen);
}

static int parse_classes(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    if (count > c->left / (4 + MT_FMT_CLASS_FIXED))
        return fail(err, errlen, "corrupt: CLASSES count %" PRIu32 " does not fit in %zu bytes",
                    count, c->left);
    cap->classes = calloc(count ? count : 1, sizeof *cap->classes);
    if (cap->classes == NULL) return fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        mt_cap_class_t *k = &cap->classes[i];
        k->name = take_string(c, "a class name", NULL, err, errlen);
        if (k->name == NULL) return -1;
        cap->nclasses = i + 1;
        p = take(c, MT_FMT_CLASS_FIXED, "a class", err, errlen);
        if (p == NULL) return -1;
        k->new_count = le64(p);
        k->new_bytes = le64(p + 8);
        k->free_count = le64(p + 16);
        k->free_bytes = le64(p + 24);
        k->depth = le32(p + 32);
    }
    return expect_consumed(c, err, errlen);
}

static int parse_stages(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    if (count > c->left / (4 + MT_FMT_STAGE_FIXED))
        return fail(err, errlen, "corrupt: STAGES count %" PRIu32 " does not fit in %zu bytes",
                    count, c->left);
    cap->stages = calloc(count ? count : 1, sizeof *cap->stages);
    if (cap->stages == NULL) return fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        mt_cap_stage_t *st = &cap->stages[i];
        st->name = take_string(c, "a stage name", NULL, err, errlen);
        if (st->name == NULL) return -1;
        cap->nstages = i + 1;
        p = take(c, MT_FMT_STAGE_FIXED, "a stage", err, errlen);
        if (p == NULL) return -1;
        st->start_ns = le64(p);
        st->end_ns = le64(p + 8);
        st->peak_bytes = le64(p + 16);
        st->peak_time_ns = le64(p + 24);
        uint32_t ntop = le32(p + 32);
        if (ntop > c->left / MT_FMT_CONTRIB_SIZE)
            return fail(err, errlen, "corrupt: a stage's %" PRIu32 " contributors do not fit",
                        ntop);
        st->top = calloc(ntop ? ntop : 1, sizeof *st->top);
        if (st->top == NULL) return fail(err, errlen, "out of memory");
        st->ntop = ntop;
        for (uint32_t k = 0; k < ntop; k++) {
            p = take(c, MT_FMT_CONTRIB_SIZE, "a stage contributor", err, errlen);
            if (p == NULL) return -1;
            st->top[k] = (mt_cap_contrib_t){le32(p), le64(p + 4), le64(p + 12)};
        }
    }
    return expect_consumed(c, err, errlen);
}

static int parse_names(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    if (count > c->left / 24) /* the smallest record: address, two empty strings, line */
        return fail(err, errlen, "corrupt: NAMES count %" PRIu32 " does not fit in %zu bytes",
                    count, c->left);
    cap->named = calloc(count ? count : 1, sizeof *cap->named);
    if (cap->named == NULL) return fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        mt_cap_named_t *nb = &cap->named[i];
        p = take(c, 8, "a named block", err, errlen);
        if (p == NULL) return -1;
        nb->address = le64(p);
        cap->nnamed = i + 1;
        nb->name = take_string(c, "a block name", NULL, err, errlen);
        if (nb->name == NULL) return -1;
        nb->file = take_string(c, "a file name", NULL, err, errlen);
        if (nb->file == NULL) return -1;
        p = take(c, 4, "a line", err, errlen);
        if (p == NULL) return -1;
        nb->line = le32(p);
    }
    return expect_consumed(c, err, errlen);
}

static int parse_timeline(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 12, "its count and interval", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    cap->sample_interval_ns = le64(p + 4);
    if (count > c->left / MT_FMT_SAMPLE_SIZE || (uint64_t)count * MT_FMT_SAMPLE_SIZE != c->left)
        return fail(err, errlen, "corrupt: TIMELINE count %" PRIu32 " does not match its %zu bytes",
                    count, c->left);
    cap->samples = calloc(count ? count : 1, sizeof *cap->samples);
    if (cap->samples == NULL) return fail(err, errlen, "out of memory");
    cap->nsamples = count;
    for (uint32_t i = 0; i < count; i++) {
        p = take(c, MT_FMT_SAMPLE_SIZE, "a sample", err, errlen);
        if (p == NULL) return -1;
        cap->samples[i] = (mt_cap_sample_t){le64(p), le64(p + 8), le64(p + 16), le64(p + 24)};
        if (i > 0 && cap->samples[i].t_ns < cap->samples[i - 1].t_ns)
            return fail(err, errlen, "corrupt: TIMELINE samples out of order at %" PRIu32, i);
    }
    return 0;
}

static int parse_symbols(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    if (count > c->left / MT_FMT_SYMBOL_MIN)
        return fail(err, errlen, "corrupt: SYMBOLS count %" PRIu32 " does not fit in %zu bytes",
                    count, c->left);
    cap->symbols = calloc(count ? count : 1, sizeof *cap->symbols);
    if (cap->symbols == NULL) return fail(err, errlen, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        mt_cap_symbol_t *sy = &cap->symbols[i];
        p = take(c, 8, "a symbol's frame", err, errlen);
        if (p == NULL) return -1;
        sy->frame = le64(p);
        cap->nsymbols = i + 1;
        if (sy->frame == 0 || sy->frame >= MT_FMT_CLASS_FRAME)
            return fail(err, errlen, "corrupt: SYMBOLS names frame 0x%" PRIx64, sy->frame);
        if (i > 0 && sy->frame <= cap->symbols[i - 1].frame)
            return fail(err, errlen, "corrupt: SYMBOLS frames not in increasing order at %" PRIu32,
                        i);
        sy->function = take_string(c, "a function name", NULL, err, errlen);
        if (sy->function == NULL) return -1;
        sy->file = take_string(c, "a file name", NULL, err, errlen);
        if (sy->file == NULL) return -1;
        p = take(c, 4, "a line", err, errlen);
        if (p == NULL) return -1;
        sy->line = le32(p);
    }
    return expect_consumed(c, err, errlen);
}

const mt_cap_symbol_t *mt__capture_symbol(const mt_capture_t *cap, uint64_t frame)
{
    size_t lo = 0, hi = cap->nsymbols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cap->symbols[mid].frame < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cap->nsymbols && cap->symbols[lo].frame == frame ? &cap->symbols[lo] : NULL;
}

/* Frames numbered by the front end (META.frame_kind 1) must all be named in SYMBOLS. */
static int check_symbols(const mt_capture_t *cap, char *err, size_t errlen)
{
    if (cap->frame_kind != MT_FRAMES_SYMBOLS) return 0;
    for (size_t id = 1; id < cap->nnodes; id++) {
        uint64_t f = cap->nodes[id].frame;
        if (f != 0 && f < MT_FMT_CLASS_FRAME && mt__capture_symbol(cap, f) == NULL)
            return fail(err, errlen, "corrupt: node %zu's frame %" PRIu64 " is not in SYMBOLS", id,
                        f);
    }
    return 0;
}

static int parse_memory(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, MT_FMT_MEMORY_LEN, "its fields", err, errlen);
    if (p == NULL) return -1;
    cap->has_memory = 1;
    cap->live_table_bytes = le64(p);
    cap->call_tree_bytes = le64(p + 8);
    return expect_consumed(c, err, errlen);
}

static int parse_sampling(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, MT_FMT_SAMPLING_LEN, "its fields", err, errlen);
    if (p == NULL) return -1;
    cap->sample_mean = le64(p);
    cap->sampled = le64(p + 8);
    if (cap->sample_mean < 1 || cap->sample_mean > MT_SAMPLE_MEAN_MAX)
        return fail(err, errlen, "corrupt: SAMPLING mean %" PRIu64 " bytes (expected 1 to %llu)",
                    cap->sample_mean, (unsigned long long)MT_SAMPLE_MEAN_MAX);
    return expect_consumed(c, err, errlen);
}

uint64_t mt__cap_block_bytes(const mt_capture_t *cap, uint64_t size)
{
    return mt__cap_estimated(cap) ? mt__sample_bytes(size, cap->sample_mean) : size;
}

/* Class marker frames must name a class of the CLASSES section, and stage contributors
 * existing nodes. */
static int check_markers(const mt_capture_t *cap, char *err, size_t errlen)
{
    for (size_t id = 1; id < cap->nnodes; id++) {
        uint64_t f = cap->nodes[id].frame;
        if (f >= MT_FMT_CLASS_FRAME && f - MT_FMT_CLASS_FRAME >= cap->nclasses)
            return fail(err, errlen, "corrupt: node %zu names class %" PRIu64 " of %zu in CLASSES",
                        id, (uint64_t)(f - MT_FMT_CLASS_FRAME), cap->nclasses);
    }
    for (size_t i = 0; i < cap->nstages; i++)
        for (size_t k = 0; k < cap->stages[i].ntop; k++)
            if (cap->stages[i].top[k].node >= cap->nnodes)
                return fail(err, errlen, "corrupt: stage %zu names node %" PRIu32 " of %zu", i,
                            cap->stages[i].top[k].node, cap->nnodes);
    return 0;
}

/* The records of one LIVE section: checks its count against its length. */
static int live_count(mt_cursor_t *c, uint64_t *count, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 8, "its count", err, errlen);
    if (p == NULL) return -1;
    *count = le64(p);
    /* Divide rather than multiply: count * 24 can wrap around to a plausible length. */
    if (*count > c->left / MT_FMT_LIVE_SIZE || *count * MT_FMT_LIVE_SIZE != c->left)
        return fail(err, errlen,
                    "corrupt: LIVE count %" PRIu64 " does not match its %zu bytes of records",
                    *count, c->left);
    return 0;
}

/* LIVE may come in several sections (the writer emits one per shard of its table): the live
 * blocks are all of them together. Runs after scan_sections validated every section header. */
static int parse_thread_nodes(mt_capture_t *cap, mt_cursor_t *c, char *err, size_t errlen)
{
    const uint8_t *p = take(c, 4, "its count", err, errlen);
    if (p == NULL) return -1;
    uint32_t count = le32(p);
    if (count > c->left / MT_FMT_TNODE_SIZE)
        return fail(err, errlen,
                    "corrupt: THREAD_NODES count %" PRIu32 " does not fit in %zu bytes", count,
                    c->left);
    cap->tnodes = calloc(count ? count : 1, sizeof *cap->tnodes);
    if (cap->tnodes == NULL) return fail(err, errlen, "out of memory");
    cap->has_tnodes = 1;
    for (uint32_t i = 0; i < count; i++) {
        p = take(c, MT_FMT_TNODE_SIZE, "a record", err, errlen);
        if (p == NULL) return -1;
        mt_cap_tnode_t *r = &cap->tnodes[i];
        r->thread = le32(p);
        r->node = le32(p + 4);
        r->allocations = le64(p + 8);
        r->allocated_bytes = le64(p + 16);
        r->temporary = le64(p + 24);
        r->peak_blocks = le64(p + 32);
        r->peak_bytes = le64(p + 40);
        if (r->thread != MT_CAP_THREAD_MERGED && r->thread >= cap->nthreads)
            return fail(err, errlen,
                        "corrupt: THREAD_NODES record %" PRIu32 " refers to thread %" PRIu32
                        " (the capture has %zu)",
                        i, r->thread, cap->nthreads);
        if (r->node >= cap->nnodes)
            return fail(err, errlen,
                        "corrupt: THREAD_NODES record %" PRIu32 " refers to node %" PRIu32
                        " (the capture has %zu)",
                        i, r->node, cap->nnodes);
        cap->ntnodes = i + 1;
    }
    p = take(c, 4, "the count of merged threads", err, errlen);
    if (p == NULL) return -1;
    uint32_t nmerged = le32(p);
    if (nmerged > c->left / 4)
        return fail(err, errlen, "corrupt: THREAD_NODES merged count %" PRIu32 " does not fit",
                    nmerged);
    for (uint32_t i = 0; i < nmerged; i++) {
        p = take(c, 4, "a merged thread", err, errlen);
        if (p == NULL) return -1;
        uint32_t t = le32(p);
        if (t >= cap->nthreads)
            return fail(err, errlen,
                        "corrupt: THREAD_NODES names merged thread %" PRIu32
                        " (the capture has %zu)",
                        t, cap->nthreads);
        cap->threads[t].figures_merged = 1;
    }
    return expect_consumed(c, err, errlen);
}

static int parse_live(mt_capture_t *cap, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    uint64_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        for (size_t pos = MT_FMT_HEADER_SIZE; pos + MT_FMT_SECTION_HDR <= len;) {
            uint32_t type = le32(data + pos);
            uint64_t length = le64(data + pos + 8);
            if (type == MT_SEC_END) break;
            mt_cursor_t c = {data + pos + MT_FMT_SECTION_HDR, (size_t)length, "LIVE"};
            pos += MT_FMT_SECTION_HDR + (size_t)length;
            if (type != MT_SEC_LIVE) continue;
            uint64_t count;
            if (live_count(&c, &count, err, errlen) != 0) return -1;
            if (pass == 0) {
                total += count; /* cannot wrap: each count is at most a section length / 24 */
                continue;
            }
            for (uint64_t i = 0; i < count; i++, n++) {
                const uint8_t *p = take(&c, MT_FMT_LIVE_SIZE, "a live block", err, errlen);
                if (p == NULL) return -1;
                cap->live[n].address = le64(p);
                cap->live[n].size = le64(p + 8);
                cap->live[n].node = le32(p + 16);
                cap->live[n].thread = le32(p + 20);
            }
        }
        if (pass == 0) {
            if (total > SIZE_MAX / sizeof *cap->live) return fail(err, errlen, "out of memory");
            cap->live = calloc(total ? (size_t)total : 1, sizeof *cap->live);
            if (cap->live == NULL) return fail(err, errlen, "out of memory");
            cap->nlive = (size_t)total;
        }
    }
    return 0;
}

size_t mt__capture_root_alias(const mt_capture_t *cap)
{
    for (size_t id = 1; id < cap->nnodes; id++)
        if (cap->nodes[id].parent == 0 && cap->nodes[id].frame == 0) return id;
    return 0;
}

/* LIVE against the nodes and TOTALS: the report shows node figures and trusts them to add up.
 */
static int check_live(mt_capture_t *cap, char *err, size_t errlen)
{
    size_t alias = mt__capture_root_alias(cap);
    if (alias != 0) {
        mt_cap_node_t *r = &cap->nodes[0], *a = &cap->nodes[alias];
        r->allocations = a->allocations;
        r->allocated_bytes = a->allocated_bytes;
        r->temporary = a->temporary;
        r->peak_blocks = a->peak_blocks;
        r->peak_bytes = a->peak_bytes;
        r->live_blocks = a->live_blocks;
        r->live_bytes = a->live_bytes;
    }

    uint64_t *sums = calloc(cap->nnodes * 2, sizeof *sums); /* blocks, bytes per node */
    bool est = mt__cap_estimated(cap);
    if (sums == NULL) return fail(err, errlen, "out of memory");
    int rc = -1;
    uint64_t bytes = 0;
    for (size_t i = 0; i < cap->nlive; i++) {
        const mt_cap_live_t *l = &cap->live[i];
        if (l->node >= cap->nnodes) {
            fail(err, errlen,
                 "corrupt: live block %zu refers to node %" PRIu32 " (the capture has %zu)", i,
                 l->node, cap->nnodes);
            goto out;
        }
        if (l->thread >= cap->nthreads) {
            fail(err, errlen,
                 "corrupt: live block %zu refers to thread %" PRIu32 " (the capture has %zu)", i,
                 l->thread, cap->nthreads);
            goto out;
        }
        size_t n = l->node == 0 ? alias : l->node;
        /* In sample mode a node's live figures are the estimates of its blocks (units of
         * MT_EST_ONE until rounded below), as the writer adds them. */
        uint64_t w = est ? mt__sample_count_fixed(l->size, cap->sample_mean) : 1;
        uint64_t wbytes = est ? mt__sample_bytes(l->size, cap->sample_mean) : l->size;
        if (__builtin_add_overflow(bytes, l->size, &bytes) ||
            __builtin_add_overflow(sums[2 * n + 1], wbytes, &sums[2 * n + 1]) ||
            __builtin_add_overflow(sums[2 * n], w, &sums[2 * n])) {
            fail(err, errlen, "corrupt: live block sizes overflow");
            goto out;
        }
    }
    if (est) {
        for (size_t id = 0; id < cap->nnodes; id++)
            sums[2 * id] = mt__est_round(sums[2 * id]);
    }
    /* In sample mode LIVE lists the sampled blocks only: a part of what TOTALS counts. */
    if ((!est && (cap->nlive != cap->totals.live_blocks || bytes != cap->totals.live_bytes)) ||
        (est && (cap->nlive > cap->totals.live_blocks || bytes > cap->totals.live_bytes))) {
        fail(err, errlen,
             "corrupt: LIVE holds %zu blocks of %" PRIu64 " bytes, TOTALS says %" PRIu64
             " blocks of %" PRIu64,
             cap->nlive, bytes, cap->totals.live_blocks, cap->totals.live_bytes);
        goto out;
    }
    /* Node 0 is checked only when no record stands for it (it is then all zero). */
    uint64_t nblocks = 0, nbytes = 0;
    for (size_t id = alias != 0 ? 1 : 0; id < cap->nnodes; id++) {
        const mt_cap_node_t *n = &cap->nodes[id];
        if (n->live_blocks != sums[2 * id] || n->live_bytes != sums[2 * id + 1]) {
            fail(err, errlen,
                 "corrupt: node %zu has %" PRIu64 " live blocks of %" PRIu64
                 " bytes, LIVE holds %" PRIu64 " of %" PRIu64,
                 id, n->live_blocks, n->live_bytes, sums[2 * id], sums[2 * id + 1]);
            goto out;
        }
        /* Cannot overflow: each term equals a LIVE sum already bounded by `bytes`. */
        nblocks += n->live_blocks;
        nbytes += n->live_bytes;
    }
    /* Estimates add up to about the totals, not exactly. */
    if (!est && (nblocks != cap->totals.live_blocks || nbytes != cap->totals.live_bytes)) {
        fail(err, errlen,
             "corrupt: the nodes hold %" PRIu64 " live blocks of %" PRIu64
             " bytes, TOTALS says %" PRIu64 " of %" PRIu64,
             nblocks, nbytes, cap->totals.live_blocks, cap->totals.live_bytes);
        goto out;
    }
    rc = 0;
out:
    free(sums);
    return rc;
}

/* THREAD_NODES against NODES: each node's figures are the sums of its threads'. */
static int check_thread_nodes(mt_capture_t *cap, char *err, size_t errlen)
{
    if (!cap->has_tnodes) return 0;
    size_t alias = mt__capture_root_alias(cap);
    mt_cap_node_t *sums = calloc(cap->nnodes, sizeof *sums);
    if (sums == NULL) return fail(err, errlen, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < cap->ntnodes; i++) {
        const mt_cap_tnode_t *r = &cap->tnodes[i];
        mt_cap_node_t *n = &sums[r->node];
        if (__builtin_add_overflow(n->allocations, r->allocations, &n->allocations) ||
            __builtin_add_overflow(n->allocated_bytes, r->allocated_bytes, &n->allocated_bytes) ||
            __builtin_add_overflow(n->temporary, r->temporary, &n->temporary) ||
            __builtin_add_overflow(n->peak_blocks, r->peak_blocks, &n->peak_blocks) ||
            __builtin_add_overflow(n->peak_bytes, r->peak_bytes, &n->peak_bytes)) {
            fail(err, errlen, "corrupt: THREAD_NODES figures overflow");
            goto out;
        }
    }
    for (size_t id = 0; id < cap->nnodes; id++) {
        /* The root's stand-in record repeats node 0's figures; the records name node 0. */
        static const mt_cap_node_t zero;
        const mt_cap_node_t *n = id != 0 && id == alias ? &zero : &cap->nodes[id], *s = &sums[id];
        if (n->allocations != s->allocations || n->allocated_bytes != s->allocated_bytes ||
            n->temporary != s->temporary || n->peak_blocks != s->peak_blocks ||
            n->peak_bytes != s->peak_bytes) {
            fail(err, errlen,
                 "corrupt: node %zu has %" PRIu64 " allocations of %" PRIu64 " bytes (%" PRIu64
                 " blocks at the peak), its threads' add up to %" PRIu64 " of %" PRIu64 " (%" PRIu64
                 ")",
                 id, n->allocations, n->allocated_bytes, n->peak_blocks, s->allocations,
                 s->allocated_bytes, s->peak_blocks);
            goto out;
        }
    }
    rc = 0;
out:
    free(sums);
    return rc;
}

/* Walks the section headers: bounds, duplicates, END last and its checksum. Fills secs[type]
 * for the known types. */
static bool known_type(uint32_t type)
{
    return (type >= MT_SEC_META && type <= MT_SEC_LAST) || type == MT_SEC_END;
}

static int scan_sections(const uint8_t *data, size_t len, mt_section_t secs[MT_SEC_LAST + 1],
                         char *err, size_t errlen)
{
    size_t pos = MT_FMT_HEADER_SIZE;
    for (;;) {
        size_t left = len - pos;
        if (left == 0) return fail(err, errlen, "truncated: no END section");
        if (left < MT_FMT_SECTION_HDR)
            return fail(err, errlen, "truncated: section header needs %u bytes, %zu left",
                        MT_FMT_SECTION_HDR, left);
        uint32_t type = le32(data + pos);
        uint32_t flags = le32(data + pos + 4);
        uint64_t length = le64(data + pos + 8);
        bool known = known_type(type);
        /* Flags are reserved (0). END's header is the one part of the file the hash does not
         * cover, so this check is what catches damage there. */
        if (known && flags != 0)
            return fail(err, errlen, "corrupt: %s section has flags 0x%" PRIx32 " (expected 0)",
                        section_name(type), flags);
        left -= MT_FMT_SECTION_HDR;
        if (length > left) {
            if (known)
                return fail(err, errlen, "truncated: %s section needs %" PRIu64 " bytes, %zu left",
                            section_name(type), length, left);
            return fail(err, errlen,
                        "truncated: section of type 0x%" PRIx32 " needs %" PRIu64
                        " bytes, %zu left",
                        type, length, left);
        }
        const uint8_t *payload = data + pos + MT_FMT_SECTION_HDR;
        if (type == MT_SEC_END) {
            if (length != 8)
                return fail(err, errlen, "corrupt: END section is %" PRIu64 " bytes (expected 8)",
                            length);
            if (left != 8)
                return fail(err, errlen, "corrupt: %zu bytes of trailing data after END", left - 8);
            if (mt__fnv1a(MT_FNV_OFFSET, data, pos) != le64(payload))
                return fail(err, errlen, "corrupt: checksum mismatch");
            return 0;
        }
        if (known) {
            if (secs[type].seen && type != MT_SEC_LIVE)
                return fail(err, errlen, "corrupt: duplicate %s section", section_name(type));
            secs[type].seen = true;
            secs[type].payload = payload;
            secs[type].length = length;
        }
        pos += MT_FMT_SECTION_HDR + (size_t)length;
    }
}

int mt__capture_parse(const uint8_t *data, size_t len, mt_capture_t **out, char *err, size_t errlen)
{
    if (out != NULL) *out = NULL;
    if (data == NULL || len == 0) return fail(err, errlen, "empty file (not a memtrack capture)");
    size_t m = len < MT_FMT_MAGIC_LEN ? len : MT_FMT_MAGIC_LEN;
    if (memcmp(data, MT_FMT_MAGIC, m) != 0)
        return fail(err, errlen, "not a memtrack capture (bad magic)");
    if (len < MT_FMT_HEADER_SIZE)
        return fail(err, errlen, "truncated: header needs %u bytes, %zu present",
                    MT_FMT_HEADER_SIZE, len);
    uint32_t version = le32(data + 8);
    if (version != MT_FMT_VERSION)
        return fail(err, errlen,
                    "unsupported capture version %" PRIu32 " (this memtrack reads version %u)",
                    version, MT_FMT_VERSION);
    uint32_t hsize = le32(data + 12);
    if (hsize != MT_FMT_HEADER_SIZE)
        return fail(err, errlen, "corrupt: header size %" PRIu32 " (expected %u)", hsize,
                    MT_FMT_HEADER_SIZE);

    mt_section_t secs[MT_SEC_LAST + 1] = {0};
    if (scan_sections(data, len, secs, err, errlen) != 0) return -1;
    if (!secs[MT_SEC_META].seen) return fail(err, errlen, "corrupt: no META section");
    if (!secs[MT_SEC_TOTALS].seen) return fail(err, errlen, "corrupt: no TOTALS section");

    mt_capture_t *cap = calloc(1, sizeof *cap);
    if (cap == NULL) return fail(err, errlen, "out of memory");
    cap->version = version;
    static int (*const parsers[MT_SEC_LAST + 1])(mt_capture_t *, mt_cursor_t *, char *, size_t) = {
        [MT_SEC_META] = parse_meta,         [MT_SEC_TOTALS] = parse_totals,
        [MT_SEC_MODULES] = parse_modules,   [MT_SEC_NODES] = parse_nodes,
        [MT_SEC_THREADS] = parse_threads,   [MT_SEC_CLASSES] = parse_classes,
        [MT_SEC_STAGES] = parse_stages,     [MT_SEC_NAMES] = parse_names,
        [MT_SEC_TIMELINE] = parse_timeline, [MT_SEC_THREAD_NODES] = parse_thread_nodes,
        [MT_SEC_SYMBOLS] = parse_symbols,   [MT_SEC_MEMORY] = parse_memory,
    };
    for (uint32_t type = MT_SEC_META; type <= MT_SEC_LAST; type++) {
        if (!secs[type].seen || type == MT_SEC_LIVE || !parsers[type]) continue;
        mt_cursor_t c = {secs[type].payload, (size_t)secs[type].length, section_name(type)};
        if (parsers[type](cap, &c, err, errlen) != 0) goto bad;
    }
    if (secs[MT_SEC_SAMPLING].seen) {
        mt_cursor_t c = {secs[MT_SEC_SAMPLING].payload, (size_t)secs[MT_SEC_SAMPLING].length,
                         "SAMPLING"};
        if (parse_sampling(cap, &c, err, errlen) != 0) goto bad;
    }
    if ((cap->mode == MT_CAP_MODE_SAMPLE) != secs[MT_SEC_SAMPLING].seen) {
        fail(err, errlen,
             cap->mode == MT_CAP_MODE_SAMPLE ? "corrupt: sample mode without a SAMPLING section"
                                             : "corrupt: a SAMPLING section outside sample mode");
        goto bad;
    }
    if (parse_live(cap, data, len, err, errlen) != 0) goto bad;
    /* Absent optional sections read as empty; the arrays are never NULL so callers can index
     * nodes[0] (the root) unconditionally. */
    if (cap->nodes == NULL) {
        cap->nodes = calloc(1, sizeof *cap->nodes);
        cap->nnodes = 1;
    }
    if (cap->modules == NULL) cap->modules = calloc(1, sizeof *cap->modules);
    if (cap->threads == NULL) cap->threads = calloc(1, sizeof *cap->threads);
    if (cap->live == NULL) cap->live = calloc(1, sizeof *cap->live);
    if (cap->classes == NULL) cap->classes = calloc(1, sizeof *cap->classes);
    if (cap->nodes == NULL || cap->modules == NULL || cap->threads == NULL || cap->live == NULL ||
        cap->classes == NULL) {
        fail(err, errlen, "out of memory");
        goto bad;
    }
    if (check_live(cap, err, errlen) != 0 || check_thread_nodes(cap, err, errlen) != 0 ||
        check_markers(cap, err, errlen) != 0 || check_symbols(cap, err, errlen) != 0)
        goto bad;
    if (out != NULL)
        *out = cap;
    else
        mt__capture_free(cap);
    return 0;
bad:
    mt__capture_free(cap);
    return -1;
}

int mt__capture_read(const char *path, mt_capture_t **out, char *err, size_t errlen)
{
    if (out != NULL) *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, errlen, "%s", strerror(errno));
    struct stat st;
    size_t cap = 1 << 16;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < SIZE_MAX - 1)
        cap = (size_t)st.st_size + 1; /* +1 so the final read sees EOF without regrowing */
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    int rc = -1;
    if (buf == NULL) {
        fail(err, errlen, "out of memory");
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap > SIZE_MAX / 2) {
                fail(err, errlen, "file too large");
                goto out;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                fail(err, errlen, "out of memory");
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fail(err, errlen, "%s", strerror(errno));
            goto out;
        }
        if (n == 0) break;
        len += (size_t)n;
        /* Something that is not a capture is not read to its end: /dev/zero has none. */
        if (len >= MT_FMT_MAGIC_LEN && memcmp(buf, MT_FMT_MAGIC, MT_FMT_MAGIC_LEN) != 0) break;
    }
    rc = mt__capture_parse(buf, len, out, err, errlen);
out:
    free(buf);
    close(fd);
    return rc;
}

void mt__capture_free(mt_capture_t *cap)
{
    if (cap == NULL) return;
    free(cap->program);
    free(cap->cmdline);
    for (size_t i = 0; i < cap->nmodules; i++) {
        free(cap->modules[i].path);
        free(cap->modules[i].build_id);
    }
    free(cap->modules);
    free(cap->nodes);
    for (size_t i = 0; i < cap->nthreads; i++)
        free(cap->threads[i].name);
    free(cap->threads);
    free(cap->live);
    for (size_t i = 0; i < cap->nclasses; i++)
        free(cap->classes[i].name);
    free(cap->classes);
    for (size_t i = 0; i < cap->nstages; i++) {
        free(cap->stages[i].name);
        free(cap->stages[i].top);
    }
    free(cap->stages);
    for (size_t i = 0; i < cap->nnamed; i++) {
        free(cap->named[i].name);
        free(cap->named[i].file);
    }
    free(cap->named);
    free(cap->samples);
    free(cap->tnodes);
    for (size_t i = 0; i < cap->nsymbols; i++) {
        free(cap->symbols[i].function);
        free(cap->symbols[i].file);
    }
    free(cap->symbols);
    free(cap);
}
