/* `memtrack diff`: what grew and what shrank between two captures of the same program. Call
 * paths are matched by what their frames are (module path and offset in the module), never by
 * node ids or addresses, which differ between two processes; the result is printed as text or
 * JSON (docs/DIFF.md). */
#include "report/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/format.h"

/* What a frame lies in, as the diff identifies it: a module, by path and by build-id when both
 * sides have one; or a class, whose marker frame is the outermost of a tagged path, by name
 * (class ids are numbered per process). The strings belong to the captures. */
typedef struct mt_dmod_s {
    const char *path; /* or the class name */
    const uint8_t *build_id;
    uint32_t build_id_len;
    bool is_class;
} mt_dmod_t;

/* A node of the canonical call tree both captures are mapped into: a frame (module + offset, a
 * class marker, or a raw frame when mod is 0) under a parent path. Entry 0 is the empty path. */
typedef struct mt_dnode_s {
    uint32_t parent;
    uint32_t mod;   /* index in mods + 1; 0: value is a raw frame outside any module */
    uint64_t value; /* the offset in the module; 0 for a class */
} mt_dnode_t;

/* The figures of one canonical path in one capture. */
typedef struct mt_dside_s {
    uint64_t live_bytes, live_blocks, allocations, allocated_bytes;
    uint32_t node; /* lowest node id mapped here */
    bool present;
} mt_dside_t;

typedef struct mt_dtree_s {
    mt_dmod_t *mods;
    size_t nmods, capmods;
    mt_dnode_t *nodes;
    size_t nnodes, capnodes;
    uint32_t *table; /* open addressing over nodes[1..]; 0 = empty slot */
    size_t tsize;    /* a power of two, kept at least twice nnodes */
} mt_dtree_t;

static void dtree_free(mt_dtree_t *t)
{
    free(t->mods);
    free(t->nodes);
    free(t->table);
}

/* Two captured modules are the same file when their paths are equal and, if both recorded a
 * build-id, those are equal too: a capture without build-ids still matches one with them. Two
 * classes are the same when their names are. Returns the index + 1, or 0 when out of memory. */
static uint32_t intern_mod(mt_dtree_t *t, const mt_dmod_t *m)
{
    for (size_t i = 0; i < t->nmods; i++) {
        const mt_dmod_t *d = &t->mods[i];
        if (d->is_class != m->is_class || strcmp(d->path, m->path) != 0) continue;
        if (d->build_id_len == 0 || m->build_id_len == 0 ||
            (d->build_id_len == m->build_id_len &&
             memcmp(d->build_id, m->build_id, m->build_id_len) == 0))
            return (uint32_t)i + 1;
    }
    if (t->nmods == t->capmods) {
        size_t nc = t->capmods ? t->capmods * 2 : 16;
        mt_dmod_t *v = realloc(t->mods, nc * sizeof *v);
        if (v == NULL) return 0;
        t->mods = v;
        t->capmods = nc;
    }
    t->mods[t->nmods++] = *m;
    return (uint32_t)t->nmods;
}

static size_t slot_hash(uint32_t parent, uint32_t mod, uint64_t value, size_t mask)
{
    uint64_t h = value * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)parent << 32 | mod) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 29;
    return (size_t)h & mask;
}

static bool grow_table(mt_dtree_t *t)
{
    size_t nsize = t->tsize ? t->tsize * 2 : 1024;
    uint32_t *table = calloc(nsize, sizeof *table);
    if (table == NULL) return false;
    for (size_t id = 1; id < t->nnodes; id++) {
        const mt_dnode_t *n = &t->nodes[id];
        size_t i = slot_hash(n->parent, n->mod, n->value, nsize - 1);
        while (table[i] != 0)
            i = (i + 1) & (nsize - 1);
        table[i] = (uint32_t)id;
    }
    free(t->table);
    t->table = table;
    t->tsize = nsize;
    return true;
}

/* The canonical id of the path `parent` extended by one frame; 0 when out of memory (0 is the
 * empty path, which is never the result of adding a frame). */
static uint32_t intern_path(mt_dtree_t *t, uint32_t parent, uint32_t mod, uint64_t value)
{
    if ((t->nnodes + 1) * 2 > t->tsize && !grow_table(t)) return 0;
    size_t mask = t->tsize - 1;
    size_t i = slot_hash(parent, mod, value, mask);
    for (; t->table[i] != 0; i = (i + 1) & mask) {
        const mt_dnode_t *n = &t->nodes[t->table[i]];
        if (n->parent == parent && n->mod == mod && n->value == value) return t->table[i];
    }
    if (t->nnodes >= UINT32_MAX) return 0;
    if (t->nnodes == t->capnodes) {
        size_t nc = t->capnodes * 2;
        mt_dnode_t *v = realloc(t->nodes, nc * sizeof *v);
        if (v == NULL) return 0;
        t->nodes = v;
        t->capnodes = nc;
    }
    t->nodes[t->nnodes] = (mt_dnode_t){parent, mod, value};
    t->table[i] = (uint32_t)t->nnodes;
    return (uint32_t)t->nnodes++;
}

/* Maps every node of `cap` to its canonical path, adding paths to the tree as needed. Returns
 * the node -> path array, or NULL when out of memory. */
static uint32_t *map_capture(mt_dtree_t *t, const mt_capture_t *cap)
{
    /* modmap: the capture's modules, then its classes. */
    uint32_t *modmap = malloc((cap->nmodules + cap->nclasses + 1) * sizeof *modmap);
    uint32_t *canon = malloc((cap->nnodes ? cap->nnodes : 1) * sizeof *canon);
    if (modmap == NULL || canon == NULL) goto fail;
    for (size_t i = 0; i < cap->nmodules; i++) {
        const mt_cap_module_t *m = &cap->modules[i];
        mt_dmod_t d = {m->path, m->build_id, m->build_id_len, false};
        if ((modmap[i] = intern_mod(t, &d)) == 0) goto fail;
    }
    for (size_t i = 0; i < cap->nclasses; i++) {
        mt_dmod_t d = {.path = cap->classes[i].name, .is_class = true};
        if ((modmap[cap->nmodules + i] = intern_mod(t, &d)) == 0) goto fail;
    }
    canon[0] = 0;
    /* Parents come before their children (the reader checked it), so one pass suffices. */
    for (size_t id = 1; id < cap->nnodes; id++) {
        const mt_cap_node_t *node = &cap->nodes[id];
        uint64_t frame = node->frame;
        /* As in mt__model_path, a frame of 0 is not a frame: it stands for the root. */
        if (frame == 0) {
            canon[id] = canon[node->parent];
            continue;
        }
        uint32_t mod = 0;
        uint64_t value = frame;
        if (frame >= MT_FMT_CLASS_FRAME) {
            /* The reader checked that markers name a class of the capture. */
            if (frame - MT_FMT_CLASS_FRAME < cap->nclasses) {
                mod = modmap[cap->nmodules + (frame - MT_FMT_CLASS_FRAME)];
                value = 0;
            }
        } else if (cap->frame_kind == MT_FRAMES_NATIVE_RETURN) {
            /* The lookup the symbolizer makes: the call is the instruction before the return
             * address, and the first module listed wins when ranges overlap. */
            uint64_t pc = frame - 1;
            for (size_t i = 0; i < cap->nmodules; i++)
                if (pc >= cap->modules[i].start && pc < cap->modules[i].end) {
                    mod = modmap[i];
                    value = pc - cap->modules[i].bias;
                    break;
                }
        }
        if ((canon[id] = intern_path(t, canon[node->parent], mod, value)) == 0) goto fail;
    }
    free(modmap);
    return canon;
fail:
    free(modmap);
    free(canon);
    return NULL;
}

/* The reader checks that live figures add up, not allocation counts: a damaged capture must
 * not wrap them around. */
static void add_sat(uint64_t *sum, uint64_t v)
{
    if (__builtin_add_overflow(*sum, v, sum)) *sum = UINT64_MAX;
}

/* Adds the figures of every node to its path's, once both captures are mapped (only then is
 * the number of paths known). */
static void add_figures(mt_dside_t *side, const mt_capture_t *cap, const uint32_t *canon)
{
    /* Records 1..n-1 only: nodes[0] repeats the record standing for the root (model.c). */
    for (size_t id = 1; id < cap->nnodes; id++) {
        const mt_cap_node_t *n = &cap->nodes[id];
        mt_dside_t *s = &side[canon[id]];
        if (!s->present) {
            s->present = true;
            s->node = (uint32_t)id;
        }
        add_sat(&s->live_bytes, n->live_bytes);
        add_sat(&s->live_blocks, n->live_blocks);
        add_sat(&s->allocations, n->allocations);
        add_sat(&s->allocated_bytes, n->allocated_bytes);
    }
}

static uint64_t magnitude(mt_diff_fig_t f)
{
    return f.after >= f.before ? f.after - f.before : f.before - f.after;
}

static int sign(mt_diff_fig_t f)
{
    return f.after > f.before ? 1 : f.after < f.before ? -1 : 0;
}

int mt__diff_direction(const mt_diff_path_t *p)
{
    int s = sign(p->live_bytes);
    return s != 0 ? s : sign(p->live_blocks);
}

/* The frames in a fixed order: frames in modules (by path, build-id, offset), then class
 * markers (by name), then raw frames (by address). */
static int cmp_frame(const mt_dtree_t *t, const mt_dnode_t *x, const mt_dnode_t *y)
{
    if (x->mod != y->mod) {
        if (x->mod == 0 || y->mod == 0) return x->mod == 0 ? 1 : -1;
        const mt_dmod_t *a = &t->mods[x->mod - 1], *b = &t->mods[y->mod - 1];
        if (a->is_class != b->is_class) return a->is_class ? 1 : -1;
        int c = strcmp(a->path, b->path);
        if (c != 0) return c;
        if (a->build_id_len != b->build_id_len) return a->build_id_len < b->build_id_len ? -1 : 1;
        c = a->build_id_len ? memcmp(a->build_id, b->build_id, a->build_id_len) : 0;
        if (c != 0) return c;
    }
    return x->value < y->value ? -1 : x->value > y->value;
}

/* Two canonical paths compared frame by frame from the innermost; a path that ends first comes
 * first. Distinct ids are distinct frame sequences, so this never returns 0 for them. */
static int cmp_path(const mt_dtree_t *t, uint32_t x, uint32_t y)
{
    while (x != y) {
        if (x == 0 || y == 0) return x == 0 ? -1 : 1;
        const mt_dnode_t *a = &t->nodes[x], *b = &t->nodes[y];
        int c = cmp_frame(t, a, b);
        if (c != 0) return c;
        x = a->parent;
        y = b->parent;
    }
    return 0;
}

/* The unit being sorted: a path's figures and its canonical id for the final tie-break. */
typedef struct mt_dsort_s {
    mt_diff_path_t path;
    uint32_t canon;
} mt_dsort_t;

/* Bigger change first; for equal sizes growth first. */
static int cmp_change(mt_diff_fig_t a, mt_diff_fig_t b)
{
    uint64_t ma = magnitude(a), mb = magnitude(b);
    if (ma != mb) return ma > mb ? -1 : 1;
    return sign(b) - sign(a);
}

static int cmp_sort(const void *pa, const void *pb, void *ctx)
{
    const mt_dsort_t *a = pa, *b = pb;
    int c;
    if ((c = cmp_change(a->path.live_bytes, b->path.live_bytes)) != 0) return c;
    if ((c = cmp_change(a->path.live_blocks, b->path.live_blocks)) != 0) return c;
    if ((c = cmp_change(a->path.allocated_bytes, b->path.allocated_bytes)) != 0) return c;
    if ((c = cmp_change(a->path.allocations, b->path.allocations)) != 0) return c;
    return cmp_path(ctx, a->canon, b->canon);
}

int mt__diff_init(mt_diff_t *diff, const mt_capture_t *before, const mt_capture_t *after)
{
    *diff = (mt_diff_t){.before = before, .after = after};
    mt_dtree_t t = {0};
    uint32_t *cb = NULL, *ca = NULL;
    mt_dside_t *sb = NULL, *sa = NULL;
    mt_dsort_t *v = NULL;
    int rc = -1;

    t.capnodes = 1024;
    t.nodes = malloc(t.capnodes * sizeof *t.nodes);
    if (t.nodes == NULL) goto done;
    t.nodes[t.nnodes++] = (mt_dnode_t){0, 0, 0};
    if ((cb = map_capture(&t, before)) == NULL || (ca = map_capture(&t, after)) == NULL) goto done;
    sb = calloc(t.nnodes, sizeof *sb);
    sa = calloc(t.nnodes, sizeof *sa);
    v = malloc(t.nnodes * sizeof *v);
    if (sb == NULL || sa == NULL || v == NULL) goto done;
    add_figures(sb, before, cb);
    add_figures(sa, after, ca);

    size_t n = 0;
    for (size_t id = 0; id < t.nnodes; id++) {
        const mt_dside_t *b = &sb[id], *a = &sa[id];
        mt_diff_path_t p = {
            .live_bytes = {b->live_bytes, a->live_bytes},
            .live_blocks = {b->live_blocks, a->live_blocks},
            .allocations = {b->allocations, a->allocations},
            .allocated_bytes = {b->allocated_bytes, a->allocated_bytes},
            .in_before = b->present,
            .in_after = a->present,
            .before_node = b->node,
            .after_node = a->node,
        };
        bool same = b->live_bytes == a->live_bytes && b->live_blocks == a->live_blocks &&
                    b->allocations == a->allocations && b->allocated_bytes == a->allocated_bytes;
        if (!same)
            v[n++] = (mt_dsort_t){p, (uint32_t)id};
        else if (b->live_bytes || b->live_blocks || b->allocations || b->allocated_bytes)
            diff->nunchanged++;
    }
    qsort_r(v, n, sizeof *v, cmp_sort, &t);
    diff->paths = malloc((n ? n : 1) * sizeof *diff->paths);
    if (diff->paths == NULL) goto done;
    for (size_t i = 0; i < n; i++) {
        diff->paths[i] = v[i].path;
        int d = mt__diff_direction(&v[i].path);
        diff->ngrew += d > 0;
        diff->nshrank += d < 0;
    }
    diff->npaths = n;
    rc = 0;
done:
    if (rc != 0) mt__diff_destroy(diff);
    free(v);
    free(sa);
    free(sb);
    free(ca);
    free(cb);
    dtree_free(&t);
    return rc;
}

void mt__diff_destroy(mt_diff_t *diff)
{
    free(diff->paths);
    *diff = (mt_diff_t){.before = diff->before, .after = diff->after};
}

/* The module holding the executable: the writer names it after /proc/self/exe, as META's
 * program is. */
static const mt_cap_module_t *exe_module(const mt_capture_t *cap)
{
    for (size_t i = 0; i < cap->nmodules; i++)
        if (strcmp(cap->modules[i].path, cap->program) == 0) return &cap->modules[i];
    return NULL;
}

bool mt__diff_check_program(FILE *warn, const mt_diff_t *diff)
{
    const mt_capture_t *b = diff->before, *a = diff->after;
    if (strcmp(b->program, a->program) != 0) {
        if (warn != NULL) {
            fputs("memtrack: warning: the captures are of different programs (", warn);
            mt__text_str(warn, b->program);
            fputs(" and ", warn);
            mt__text_str(warn, a->program);
            fputs("); only call paths through the same binaries can match\n", warn);
        }
        return false;
    }
    const mt_cap_module_t *mb = exe_module(b), *ma = exe_module(a);
    if (mb != NULL && ma != NULL && mb->build_id_len > 0 && ma->build_id_len > 0 &&
        (mb->build_id_len != ma->build_id_len ||
         memcmp(mb->build_id, ma->build_id, mb->build_id_len) != 0)) {
        if (warn != NULL) {
            fputs("memtrack: warning: the captures are of different builds of ", warn);
            mt__text_str(warn, b->program);
            fputs(" (their build-ids differ); its call paths cannot match\n", warn);
        }
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Text
 * ------------------------------------------------------------------------------------------- */

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* "12.3 KiB (12595 bytes)", or "512 B" when the short form is exact; with `sign`, the change
 * from before to after: "+12.3 KiB (+12595 bytes)", "-512 B", "0 B". */
static void fmt_size(uint64_t bytes, const char *sign_str, char *buf, size_t len)
{
    char h[32];
    mt__fmt_bytes(bytes, h, sizeof h);
    if (bytes < 1024)
        snprintf(buf, len, "%s%s", sign_str, h);
    else
        snprintf(buf, len, "%s%s (%s%" PRIu64 " bytes)", sign_str, h, sign_str, bytes);
}

static const char *sign_str(mt_diff_fig_t f)
{
    int s = sign(f);
    return s > 0 ? "+" : s < 0 ? "-" : "";
}

static void fmt_size_change(mt_diff_fig_t f, char *buf, size_t len)
{
    fmt_size(magnitude(f), sign_str(f), buf, len);
}

static void fmt_count_change(mt_diff_fig_t f, char *buf, size_t len)
{
    snprintf(buf, len, "%s%" PRIu64, sign_str(f), magnitude(f));
}

static uint64_t end_realtime_ns(const mt_capture_t *cap)
{
    uint64_t t = cap->start_realtime_ns + cap->duration_ns;
    return t < cap->start_realtime_ns ? UINT64_MAX : t;
}

/* "Before: FILE", then "/usr/bin/prog (pid 42), exit 0 at 2024-05-01 12:00:03.123 UTC, tracked
 * for 12.5 ms" (on the same line when there is no file name). UTC so every machine prints the
 * same. */
static void put_side(FILE *out, const char *label, const char *name, const mt_capture_t *cap)
{
    fprintf(out, "%-8s", label);
    if (name != NULL) {
        mt__text_str(out, name);
        fprintf(out, "\n%-8s", "");
    }
    mt__text_str(out, cap->program);
    char end[64];
    mt__fmt_end(cap, end, sizeof end);
    fprintf(out, " (pid %" PRIu64 "), %s", cap->pid, end);
    if (cap->start_realtime_ns != 0) {
        uint64_t end = end_realtime_ns(cap);
        time_t secs = (time_t)(end / UINT64_C(1000000000));
        struct tm tm;
        char when[64];
        if (gmtime_r(&secs, &tm) != NULL && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm))
            fprintf(out, " at %s.%03" PRIu64 " UTC", when, end / 1000000 % 1000);
    }
    char ms[32];
    mt__fmt_ms(cap->duration_ns, ms, sizeof ms);
    fprintf(out, ", tracked for %s ms\n", ms);
}

static void put_notes(FILE *out, const mt_capture_t *cap, const char *which)
{
    if (cap->flags & MT_META_DEGRADED || cap->dropped_events > 0)
        fprintf(out,
                "warning: %s dropped %" PRIu64 " events (the engine ran short of memory); its "
                "figures are incomplete\n",
                which, cap->dropped_events);
    if (cap->flags & MT_META_STACKLESS)
        fprintf(out,
                "note: %s recorded no call paths, so its allocations are not grouped by them\n",
                which);
}

static void put_count_total(FILE *out, const char *label, uint64_t before, uint64_t after)
{
    mt_diff_fig_t f = {before, after};
    char d[32];
    fmt_count_change(f, d, sizeof d);
    fprintf(out, "  %-13s %" PRIu64 " \u2192 %" PRIu64 ", %s\n", label, before, after, d);
}

static void put_size_total(FILE *out, const char *label, uint64_t before, uint64_t after)
{
    mt_diff_fig_t f = {before, after};
    char b[64], a[64], d[64];
    fmt_size(before, "", b, sizeof b);
    fmt_size(after, "", a, sizeof a);
    fmt_size_change(f, d, sizeof d);
    fprintf(out, "  %-13s %s \u2192 %s, %s\n", label, b, a, d);
}

static void put_totals(FILE *out, const mt_diff_t *diff)
{
    const mt_cap_totals_t *b = &diff->before->totals, *a = &diff->after->totals;
    fputs("\nTotals (before \u2192 after, change)\n", out);
    put_count_total(out, "allocations:", b->allocations, a->allocations);
    put_size_total(out, "allocated:", b->allocated_bytes, a->allocated_bytes);
    put_count_total(out, "live blocks:", b->live_blocks, a->live_blocks);
    put_size_total(out, "live bytes:", b->live_bytes, a->live_bytes);
    put_size_total(out, "peak:", b->peak_bytes, a->peak_bytes);
}

/* Where a path's stack is read from: AFTER when it has the path, else BEFORE. */
static const mt_capture_t *stack_source(const mt_diff_t *diff, const mt_diff_path_t *p,
                                        mt_sym_t *bsym, mt_sym_t *asym, mt_sym_t **sym,
                                        uint32_t *node)
{
    if (p->in_after) {
        *sym = asym;
        *node = p->after_node;
        return diff->after;
    }
    *sym = bsym;
    *node = p->before_node;
    return diff->before;
}

static void fmt_side(uint64_t bytes, uint64_t blocks, char *buf, size_t len)
{
    char s[64];
    fmt_size(bytes, "", s, sizeof s);
    snprintf(buf, len, "%s in %" PRIu64 " %s", s, blocks, plural(blocks, "block", "blocks"));
}

/* The paths going one way (dir 1 grew, -1 shrank), in the diff's order, at most `top`. */
static int put_list(FILE *out, const mt_diff_t *diff, int dir, size_t count, mt_sym_t *bsym,
                    mt_sym_t *asym, size_t top)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < diff->npaths; i++)
        if (mt__diff_direction(&diff->paths[i]) == dir)
            add_sat(&sum, magnitude(diff->paths[i].live_bytes));
    const char *title = dir > 0 ? "Grew" : "Shrank";
    if (count == 0) {
        fprintf(out, "\n%s: no call path holds %s than before\n", title, dir > 0 ? "more" : "less");
        return 0;
    }
    char total[64];
    fmt_size(sum, dir > 0 ? "+" : "-", total, sizeof total);
    fprintf(out, "\n%s: %s live, in %zu call %s\n", title, total, count,
            plural(count, "path", "paths"));
    size_t shown = top == 0 || top > count ? count : top, k = 0;
    for (size_t i = 0; i < diff->npaths && k < shown; i++) {
        const mt_diff_path_t *p = &diff->paths[i];
        if (mt__diff_direction(p) != dir) continue;
        char bytes[64], blocks[32], b[96], a[96];
        fmt_size_change(p->live_bytes, bytes, sizeof bytes);
        fmt_count_change(p->live_blocks, blocks, sizeof blocks);
        fmt_side(p->live_bytes.before, p->live_blocks.before, b, sizeof b);
        fmt_side(p->live_bytes.after, p->live_blocks.after, a, sizeof a);
        fprintf(out, "  #%zu  %s, %s %s  (before: %s, after: %s)\n", ++k, bytes, blocks,
                plural(magnitude(p->live_blocks), "block", "blocks"), b, a);
        mt_sym_t *sym;
        uint32_t node;
        const mt_capture_t *cap = stack_source(diff, p, bsym, asym, &sym, &node);
        long n = mt__sym_walk_path(cap, sym, node, mt__text_entry, out);
        if (n < 0) return -1;
        if (n == 0) fputs("      (no call path recorded)\n", out);
    }
    if (shown < count)
        fprintf(out, "  \u2026 and %zu more call %s (--top to see more)\n", count - shown,
                plural(count - shown, "path", "paths"));
    return 0;
}

int mt__diff_text(FILE *out, const mt_diff_t *diff, mt_sym_t *before_sym, mt_sym_t *after_sym,
                  const mt_diff_opts_t *opts)
{
    const mt_capture_t *b = diff->before, *a = diff->after;
    put_side(out, "Before:", opts->before_name, b);
    put_side(out, "After:", opts->after_name, a);
    put_notes(out, b, "BEFORE");
    put_notes(out, a, "AFTER");
    if (b->depth != a->depth)
        fprintf(out,
                "note: the captures keep call paths of different depths (%" PRIu32 " and %" PRIu32
                " frames), so paths cut at the limit do not match\n",
                b->depth, a->depth);
    put_totals(out, diff);
    if (put_list(out, diff, 1, diff->ngrew, before_sym, after_sym, opts->top) != 0) return -1;
    if (put_list(out, diff, -1, diff->nshrank, before_sym, after_sym, opts->top) != 0) return -1;
    size_t other = diff->npaths - diff->ngrew - diff->nshrank;
    if (other > 0)
        fprintf(out,
                "\nAlso: %zu call %s with the same live figures allocated more or less "
                "(--format json lists %s)\n",
                other, plural(other, "path", "paths"), plural(other, "it", "them"));
    return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * JSON: a fixed layout, indented like `memtrack report --format json`, stack entries one a line.
 * ------------------------------------------------------------------------------------------- */

static void json_fig(FILE *out, const char *indent, const char *name, mt_diff_fig_t f, bool last)
{
    fprintf(out,
            "%s\"%s\": {\"before\": %" PRIu64 ", \"after\": %" PRIu64 ", \"delta\": %s%" PRIu64
            "}%s\n",
            indent, name, f.before, f.after, sign(f) < 0 ? "-" : "", magnitude(f), last ? "" : ",");
}

static void json_side(FILE *out, const char *key, const char *name, const mt_capture_t *cap)
{
    char ms[32];
    mt__fmt_ms(cap->duration_ns, ms, sizeof ms);
    fprintf(out, "  \"%s\": {\n    \"capture\": ", key);
    mt__json_string(out, name);
    fputs(",\n    \"program\": ", out);
    mt__json_string(out, cap->program);
    fprintf(out, ",\n    \"pid\": %" PRIu64 ",\n", cap->pid);
    fprintf(out,
            "    \"end\": {\"reason\": \"%s\", \"value\": %" PRId32 ", \"realtime_ns\": %" PRIu64
            ", \"duration_ms\": %s}\n  },\n",
            mt__end_reason_name(cap->end_reason), cap->end_value, end_realtime_ns(cap), ms);
}

typedef struct mt_djson_s {
    FILE *out;
    bool first;
} mt_djson_t;

/* One stack entry, with the fields and on one line as in `memtrack report --format json`. */
static void json_entry(const mt_sym_frame_t *f, void *ctx)
{
    mt_djson_t *j = ctx;
    FILE *out = j->out;
    fputs(j->first ? "\n        {\"function\": " : ",\n        {\"function\": ", out);
    j->first = false;
    mt__json_string(out, f->function);
    fputs(", \"file\": ", out);
    mt__json_string(out, f->file);
    fprintf(out, ", \"line\": %" PRIu32 ", \"module\": ", f->line);
    mt__json_string(out, f->module);
    fprintf(out, ", \"address\": \"0x%" PRIx64 "\", \"offset\": ", f->address);
    if (f->module != NULL)
        fprintf(out, "\"0x%" PRIx64 "\"", f->offset);
    else
        fputs("null", out);
    fprintf(out, ", \"inlined\": %s}", f->inlined ? "true" : "false");
}

int mt__diff_json(FILE *out, const mt_diff_t *diff, mt_sym_t *before_sym, mt_sym_t *after_sym,
                  const mt_diff_opts_t *opts)
{
    const mt_cap_totals_t *b = &diff->before->totals, *a = &diff->after->totals;
    fputs("{\n", out);
    json_side(out, "before", opts->before_name, diff->before);
    json_side(out, "after", opts->after_name, diff->after);
    fputs("  \"totals\": {\n", out);
    json_fig(out, "    ", "allocations", (mt_diff_fig_t){b->allocations, a->allocations}, false);
    json_fig(out, "    ", "allocated_bytes",
             (mt_diff_fig_t){b->allocated_bytes, a->allocated_bytes}, false);
    json_fig(out, "    ", "live_blocks", (mt_diff_fig_t){b->live_blocks, a->live_blocks}, false);
    json_fig(out, "    ", "live_bytes", (mt_diff_fig_t){b->live_bytes, a->live_bytes}, false);
    json_fig(out, "    ", "peak_bytes", (mt_diff_fig_t){b->peak_bytes, a->peak_bytes}, true);
    fprintf(out, "  },\n  \"call_paths\": %zu,\n  \"paths\": [", diff->npaths);
    size_t shown = opts->top == 0 || opts->top > diff->npaths ? diff->npaths : opts->top;
    for (size_t i = 0; i < shown; i++) {
        const mt_diff_path_t *p = &diff->paths[i];
        fputs(i == 0 ? "\n    {\n" : ",\n    {\n", out);
        json_fig(out, "      ", "live_bytes", p->live_bytes, false);
        json_fig(out, "      ", "live_blocks", p->live_blocks, false);
        json_fig(out, "      ", "allocations", p->allocations, false);
        json_fig(out, "      ", "allocated_bytes", p->allocated_bytes, false);
        mt_sym_t *sym;
        uint32_t node;
        const mt_capture_t *cap = stack_source(diff, p, before_sym, after_sym, &sym, &node);
        fputs("      \"class\": ", out);
        mt__json_string(out, mt__model_class_of(cap, node));
        fputs(",\n      \"stack\": [", out);
        mt_djson_t j = {out, true};
        if (mt__sym_walk_path(cap, sym, node, json_entry, &j) < 0) return -1;
        fputs(j.first ? "]\n    }" : "\n      ]\n    }", out);
    }
    fputs(shown > 0 ? "\n  ]\n}\n" : "]\n}\n", out);
    return ferror(out) ? -1 : 0;
}
