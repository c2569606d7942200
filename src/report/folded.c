/* Folded (collapsed) stacks of a capture, as flamegraph.pl, inferno and speedscope read them:
 * one line per call path, "outer;...;inner WEIGHT", weighed by one figure of the call tree. */
#include "report/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sampler.h"

/* A line being built: its frame names, innermost first, as mt__sym_walk_path gives them. */
typedef struct names_s {
    char **v;
    size_t n, cap;
    bool failed; /* out of memory on the way */
} names_t;

/* Indexed by mt_folded_weight_t. */
static const char *const weight_names[MT_FOLDED_WEIGHTS] = {
    "allocations", "bytes", "live-blocks", "live-bytes", "peak-bytes", "peak-blocks",
};

const char *mt__folded_weight_name(mt_folded_weight_t weight)
{
    return weight_names[weight];
}

bool mt__folded_weight_parse(const char *s, mt_folded_weight_t *weight)
{
    for (int i = 0; i < MT_FOLDED_WEIGHTS; i++)
        if (strcmp(s, weight_names[i]) == 0) {
            *weight = (mt_folded_weight_t)i;
            return true;
        }
    return false;
}

static uint64_t node_weight(const mt_cap_node_t *n, mt_folded_weight_t w)
{
    switch (w) {
    case MT_FOLDED_ALLOCATIONS:
        return n->allocations;
    case MT_FOLDED_BYTES:
        return n->allocated_bytes;
    case MT_FOLDED_LIVE_BLOCKS:
        return n->live_blocks;
    case MT_FOLDED_LIVE_BYTES:
        return n->live_bytes;
    case MT_FOLDED_PEAK_BYTES:
        return n->peak_bytes;
    case MT_FOLDED_PEAK_BLOCKS:
        return n->peak_blocks;
    }
    return 0;
}

static uint64_t tnode_weight(const mt_cap_tnode_t *r, mt_folded_weight_t w)
{
    switch (w) {
    case MT_FOLDED_ALLOCATIONS:
        return r->allocations;
    case MT_FOLDED_BYTES:
        return r->allocated_bytes;
    case MT_FOLDED_PEAK_BYTES:
        return r->peak_bytes;
    case MT_FOLDED_PEAK_BLOCKS:
        return r->peak_blocks;
    case MT_FOLDED_LIVE_BLOCKS:
    case MT_FOLDED_LIVE_BYTES:
        break; /* from the live blocks */
    }
    return 0;
}

static bool live_weight(mt_folded_weight_t w)
{
    return w == MT_FOLDED_LIVE_BLOCKS || w == MT_FOLDED_LIVE_BYTES;
}

const char *mt__folded_threads_check(const mt_capture_t *cap, const bool *threads,
                                     mt_folded_weight_t weight, char *buf, size_t len)
{
    if (threads == NULL || live_weight(weight)) return NULL;
    if (!cap->has_tnodes) {
        snprintf(buf, len,
                 "the capture has no call-path figures per thread (written by an older "
                 "memtrack): by thread, only the live weights can be shown");
        return buf;
    }
    for (size_t t = 0; t < cap->nthreads; t++) {
        if (!threads[t] || !cap->threads[t].figures_merged) continue;
        snprintf(buf, len,
                 "the call-path figures of thread %" PRIu64 " were merged with those of other "
                 "ended threads (too many threads ended): by this thread, only the live weights "
                 "can be shown",
                 cap->threads[t].tid);
        return buf;
    }
    return NULL;
}

/* A frame name that cannot break the format: ';' separates frames and a newline lines. */
static void sanitize(char *s)
{
    for (; *s; s++) {
        if (*s == ';')
            *s = ':';
        else if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
    }
}

static char *entry_name(const mt_sym_frame_t *e)
{
    char *s = NULL;
    if (e->function != NULL) {
        s = strdup(e->function);
    } else if (e->module != NULL) {
        const char *slash = strrchr(e->module, '/');
        const char *base = slash != NULL ? slash + 1 : e->module;
        if (asprintf(&s, "%s+0x%" PRIx64, base, e->offset) < 0) s = NULL;
    } else {
        if (asprintf(&s, "0x%" PRIx64, e->address) < 0) s = NULL;
    }
    if (s != NULL) sanitize(s);
    return s;
}

static void collect(const mt_sym_frame_t *e, void *ctx)
{
    names_t *nm = ctx;
    if (nm->failed) return;
    if (nm->n == nm->cap) {
        size_t nc = nm->cap ? nm->cap * 2 : 16;
        char **v = realloc(nm->v, nc * sizeof *v);
        if (v == NULL) {
            nm->failed = true;
            return;
        }
        nm->v = v;
        nm->cap = nc;
    }
    if ((nm->v[nm->n] = entry_name(e)) == NULL)
        nm->failed = true;
    else
        nm->n++;
}

/* The names of `node`'s path joined outermost first; NULL when out of memory. */
static char *path_line(const mt_capture_t *cap, mt_sym_t *sym, uint32_t node, names_t *nm)
{
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    nm->n = 0;
    nm->failed = false;
    if (mt__sym_walk_path(cap, sym, node, collect, nm) < 0 || nm->failed) return NULL;
    if (nm->n == 0) return strdup("[no call path]");
    size_t len = 0;
    for (size_t i = 0; i < nm->n; i++)
        len += strlen(nm->v[i]) + 1;
    char *line = malloc(len);
    if (line == NULL) return NULL;
    char *p = line;
    for (size_t i = nm->n; i-- > 0;) {
        size_t k = strlen(nm->v[i]);
        memcpy(p, nm->v[i], k);
        p += k;
        *p++ = i > 0 ? ';' : '\0';
    }
    return line;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const mt_folded_line_t *)a)->path, ((const mt_folded_line_t *)b)->path);
}

void mt__folded_free(mt_folded_line_t *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i].path);
    free(lines);
}

int mt__folded_lines(const mt_capture_t *cap, mt_sym_t *sym, const mt_folded_opts_t *opts,
                     mt_folded_line_t **out, size_t *nout)
{
    /* The weight of each node. Records 1..n-1 only: nodes[0] copies the record standing for
     * the root. Filtered by thread, the weights come from the live blocks themselves, or from
     * the figures by thread. */
    size_t nn = cap->nnodes;
    uint64_t *w = calloc(nn ? nn : 1, sizeof *w);
    mt_folded_line_t *lines = calloc(nn ? nn : 1, sizeof *lines);
    names_t nm = {0};
    size_t nlines = 0;
    int rc = -1;
    if (w == NULL || lines == NULL) goto done;
    if (opts->threads != NULL && !live_weight(opts->weight)) {
        for (size_t i = 0; i < cap->ntnodes; i++) {
            const mt_cap_tnode_t *r = &cap->tnodes[i];
            if (r->thread < cap->nthreads && opts->threads[r->thread])
                w[r->node] += tnode_weight(r, opts->weight);
        }
    } else if (opts->threads != NULL) {
        /* In sample mode each block weighs its estimate, as in the node figures. */
        bool blocks = opts->weight == MT_FOLDED_LIVE_BLOCKS, est = mt__cap_estimated(cap);
        for (size_t i = 0; i < cap->nlive; i++) {
            const mt_cap_live_t *l = &cap->live[i];
            if (!opts->threads[l->thread]) continue;
            if (blocks)
                w[l->node] += est ? mt__sample_count_fixed(l->size, cap->sample_mean) : 1;
            else
                w[l->node] += mt__cap_block_bytes(cap, l->size);
        }
        for (size_t id = 0; est && blocks && id < nn; id++)
            w[id] = mt__est_round(w[id]);
    } else {
        for (size_t id = 1; id < nn; id++)
            w[id] = node_weight(&cap->nodes[id], opts->weight);
    }

    for (size_t id = 0; id < nn; id++) {
        if (w[id] == 0) continue;
        if (opts->match && !mt__sym_path_matches(cap, sym, (uint32_t)id, opts->match)) continue;
        char *path = path_line(cap, sym, (uint32_t)id, &nm);
        if (path == NULL) goto done;
        lines[nlines++] = (mt_folded_line_t){path, w[id]};
    }
    /* Different call sites in one function give the same names: one line, summed. */
    qsort(lines, nlines, sizeof *lines, by_path);
    size_t merged = 0;
    for (size_t i = 0; i < nlines;) {
        size_t j = i + 1;
        uint64_t sum = lines[i].weight;
        for (; j < nlines && strcmp(lines[j].path, lines[i].path) == 0; j++) {
            sum += lines[j].weight;
            free(lines[j].path);
        }
        lines[merged++] = (mt_folded_line_t){lines[i].path, sum};
        i = j;
    }
    nlines = merged;
    *out = lines;
    *nout = nlines;
    lines = NULL;
    nlines = 0;
    rc = 0;
done:
    for (size_t i = 0; i < nm.n; i++)
        free(nm.v[i]);
    free(nm.v);
    mt__folded_free(lines, nlines);
    free(w);
    return rc;
}

int mt__report_folded(FILE *out, const mt_capture_t *cap, mt_sym_t *sym,
                      const mt_folded_opts_t *opts)
{
    mt_folded_line_t *lines;
    size_t n;
    if (mt__folded_lines(cap, sym, opts, &lines, &n) != 0) return -1;
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s %" PRIu64 "\n", lines[i].path, lines[i].weight);
    mt__folded_free(lines, n);
    return ferror(out) ? -1 : 0;
}
