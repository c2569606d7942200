/* The report model: from a validated capture, the call paths that leaked and those that held
 * the peak, each ranked, and the walk from a node up to the root that gives a call path. */
#include "report/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/format.h"

/* Most bytes first, then most blocks, then the lower node id: a total order, so the output does
 * not depend on qsort's (unstable) handling of ties. */
static int by_bytes_desc(const void *a, const void *b)
{
    const mt_path_stat_t *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->blocks != y->blocks) return x->blocks > y->blocks ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

int mt__model_init(mt_model_t *model, const mt_capture_t *cap)
{
    *model = (mt_model_t){.cap = cap};
    /* Records 1..n-1 only: nodes[0] is a copy of the record standing for the root, if any, and
     * counting it too would show stackless allocations twice. */
    size_t n = cap->nnodes > 1 ? cap->nnodes - 1 : 0;
    model->leaks = malloc((n ? n : 1) * sizeof *model->leaks);
    model->peak = malloc((n ? n : 1) * sizeof *model->peak);
    model->named_nodes = mt__model_named_nodes(cap);
    if (model->leaks == NULL || model->peak == NULL || model->named_nodes == NULL) {
        mt__model_destroy(model);
        return -1;
    }
    for (size_t id = 1; id < cap->nnodes; id++) {
        const mt_cap_node_t *node = &cap->nodes[id];
        if (node->live_blocks > 0 || node->live_bytes > 0)
            model->leaks[model->nleaks++] =
                (mt_path_stat_t){(uint32_t)id, node->live_blocks, node->live_bytes};
        if (node->peak_blocks > 0 || node->peak_bytes > 0)
            model->peak[model->npeak++] =
                (mt_path_stat_t){(uint32_t)id, node->peak_blocks, node->peak_bytes};
    }
    qsort(model->leaks, model->nleaks, sizeof *model->leaks, by_bytes_desc);
    qsort(model->peak, model->npeak, sizeof *model->peak, by_bytes_desc);
    return 0;
}

void mt__model_destroy(mt_model_t *model)
{
    free(model->leaks);
    free(model->peak);
    free(model->named_nodes);
    *model = (mt_model_t){.cap = model->cap};
}

size_t mt__model_path(const mt_capture_t *cap, uint32_t node, uint64_t *frames, size_t max)
{
    size_t n = 0;
    /* Terminates: the reader checked that every parent id is below its child's. */
    for (uint32_t id = node; id != 0 && id < cap->nnodes; id = cap->nodes[id].parent) {
        uint64_t frame = cap->nodes[id].frame;
        if (frame == 0) continue;
        if (n < max) frames[n] = frame;
        n++;
    }
    return n;
}

uint64_t *mt__model_path_dup(const mt_capture_t *cap, uint32_t node, size_t *n)
{
    *n = mt__model_path(cap, node, NULL, 0);
    uint64_t *frames = malloc((*n ? *n : 1) * sizeof *frames);
    if (frames != NULL) mt__model_path(cap, node, frames, *n);
    return frames;
}

const char *mt__end_reason_name(uint32_t end_reason)
{
    switch (end_reason) {
    case MT_END_EXIT:
        return "exit";
    case MT_END_SIGNAL:
        return "signal";
    case MT_END_EXEC:
        return "exec";
    case MT_END_SNAPSHOT:
        return "snapshot";
    case MT_END_QUICK:
        return "_exit";
    default:
        return "unknown";
    }
}

void mt__fmt_end(const mt_capture_t *cap, char *buf, size_t len)
{
    const char *how = mt__end_reason_name(cap->end_reason);
    if ((cap->end_reason == MT_END_EXIT || cap->end_reason == MT_END_QUICK) &&
        cap->end_value >= 0) {
        snprintf(buf, len, "%s %" PRId32, how, cap->end_value);
    } else if (cap->end_reason == MT_END_SIGNAL) {
        const char *abbrev = cap->end_value > 0 ? sigabbrev_np(cap->end_value) : NULL;
        if (abbrev != NULL)
            snprintf(buf, len, "%s SIG%s", how, abbrev);
        else
            snprintf(buf, len, "%s %" PRId32, how, cap->end_value);
    } else {
        snprintf(buf, len, "%s", how);
    }
}

bool mt__cmdline_next(const mt_capture_t *cap, size_t *pos, const char **arg, size_t *len)
{
    /* A final NUL ends the last argument rather than starting an empty one. */
    size_t total = cap->cmdline_len;
    if (total > 0 && cap->cmdline[total - 1] == '\0') total--;
    if (total == 0 || *pos > total) return false;
    *arg = cap->cmdline + *pos;
    *len = strnlen(*arg, total - *pos);
    *pos += *len + 1;
    return true;
}

const char *mt__model_class_of(const mt_capture_t *cap, uint32_t node)
{
    uint64_t outermost = 0;
    for (uint32_t id = node; id != 0 && id < cap->nnodes; id = cap->nodes[id].parent)
        outermost = cap->nodes[id].frame;
    if (outermost >= MT_FMT_CLASS_FRAME) return cap->classes[outermost - MT_FMT_CLASS_FRAME].name;
    return cap->nclasses ? cap->classes[0].name : NULL;
}

mt_path_stat_t *mt__model_stage_paths(const mt_cap_stage_t *st)
{
    mt_path_stat_t *v = malloc((st->ntop ? st->ntop : 1) * sizeof *v);
    for (size_t i = 0; v != NULL && i < st->ntop; i++)
        v[i] = (mt_path_stat_t){st->top[i].node, st->top[i].blocks, st->top[i].bytes};
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint32_t *mt__model_named_nodes(const mt_capture_t *cap)
{
    uint32_t *nodes = malloc((cap->nnamed ? cap->nnamed : 1) * sizeof *nodes);
    uint64_t *keys = malloc((cap->nlive ? cap->nlive : 1) * 2 * sizeof *keys);
    if (nodes == NULL || keys == NULL) {
        free(nodes);
        free(keys);
        return NULL;
    }
    /* (address, node) pairs sorted by address, searched for each named block. */
    for (size_t i = 0; i < cap->nlive; i++) {
        keys[2 * i] = cap->live[i].address;
        keys[2 * i + 1] = cap->live[i].node;
    }
    qsort(keys, cap->nlive, 2 * sizeof *keys, cmp_u64);
    for (size_t i = 0; i < cap->nnamed; i++) {
        uint64_t *hit =
            bsearch(&cap->named[i].address, keys, cap->nlive, 2 * sizeof *keys, cmp_u64);
        nodes[i] = hit ? (uint32_t)hit[1] : UINT32_MAX;
    }
    free(keys);
    return nodes;
}

void mt__model_filter(const mt_capture_t *cap, mt_sym_t *sym, const char *match, mt_path_stat_t *v,
                      size_t *n)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (mt__sym_path_matches(cap, sym, v[i].node, match)) v[kept++] = v[i];
    *n = kept;
}
