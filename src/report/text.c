/* The text report: what a person reads first after `memtrack run` — how the program ended, the
 * totals, the peak and who held it, the threads, and the leaks by call path. */
#include "report/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "capture/format.h"

/* Writes a string with control characters escaped, so names from the capture cannot move the
 * cursor or change the terminal. */
static void put_clean(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

void mt__text_str(FILE *out, const char *s)
{
    put_clean(out, s, strlen(s));
}

/* The width put_clean gives a string. */
static size_t clean_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += (unsigned char)*s < 0x20 || *s == 0x7f ? 4 : 1;
    return n;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* "12.3 KiB (12595 bytes)", or just "512 B" when the human form is already exact. */
static void fmt_size(uint64_t bytes, char *buf, size_t len)
{
    char h[32];
    mt__fmt_bytes(bytes, h, sizeof h);
    if (bytes < 1024)
        snprintf(buf, len, "%s", h);
    else
        snprintf(buf, len, "%s (%" PRIu64 " bytes)", h, bytes);
}

static void fmt_duration(uint64_t ns, char *buf, size_t len)
{
    if (ns >= UINT64_C(1000000000))
        snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 " s", ns / UINT64_C(1000000000),
                 ns / 1000000 % 1000);
    else
        snprintf(buf, len, "%" PRIu64 ".%03" PRIu64 " ms", ns / 1000000, ns / 1000 % 1000);
}

static void put_ended(FILE *out, const mt_capture_t *cap)
{
    switch (cap->end_reason) {
    case MT_END_EXIT:
    case MT_END_QUICK: {
        const char *how = cap->end_reason == MT_END_EXIT ? "exit" : "_exit";
        if (cap->end_value < 0)
            fprintf(out, "%s (status unknown)\n", how);
        else
            fprintf(out, "%s status %" PRId32 "\n", how, cap->end_value);
        break;
    }
    case MT_END_SIGNAL: {
        const char *abbrev = cap->end_value > 0 ? sigabbrev_np(cap->end_value) : NULL;
        if (abbrev != NULL)
            fprintf(out, "killed by signal SIG%s\n", abbrev);
        else
            fprintf(out, "killed by signal %" PRId32 "\n", cap->end_value);
        break;
    }
    case MT_END_EXEC:
        fputs("exec (the process image was replaced)\n", out);
        break;
    case MT_END_SNAPSHOT:
        fputs("snapshot (the program was still running)\n", out);
        break;
    default:
        fprintf(out, "unknown (%" PRIu32 ")\n", cap->end_reason);
        break;
    }
}

/* When the live figures were taken, for "live at ...". */
static const char *moment(const mt_capture_t *cap)
{
    switch (cap->end_reason) {
    case MT_END_SIGNAL:
        return "the signal";
    case MT_END_EXEC:
        return "exec";
    case MT_END_SNAPSHOT:
        return "the snapshot";
    case MT_END_QUICK:
        return "_exit";
    default:
        return "exit";
    }
}

static void put_header(FILE *out, const mt_capture_t *cap)
{
    char buf[64];
    fputs("Program:  ", out);
    mt__text_str(out, cap->program);
    fputs("\nCommand: ", out);
    const char *arg;
    size_t pos = 0, n;
    while (mt__cmdline_next(cap, &pos, &arg, &n)) {
        fputc(' ', out);
        put_clean(out, arg, n);
    }
    fprintf(out, "\nPID:      %" PRIu64, cap->pid);
    if (cap->parent_pid != 0)
        fprintf(out, " (%s %" PRIu64 ")",
                cap->flags & MT_META_FORKED ? "forked from" : "started by", cap->parent_pid);
    fmt_duration(cap->duration_ns, buf, sizeof buf);
    fprintf(out, "\nDuration: %s\nEnded:    ", buf);
    put_ended(out, cap);
    if (cap->has_memory) {
        /* The live table keeps room for as many blocks as were ever live at once; with few,
         * its fixed part (the shards) would make a per-block figure meaningless. */
        uint64_t most = cap->totals.peak_blocks > cap->totals.live_blocks ? cap->totals.peak_blocks
                                                                          : cap->totals.live_blocks;
        char all[64], table[64], tree[64];
        mt__fmt_bytes(cap->engine_bytes, all, sizeof all);
        mt__fmt_bytes(cap->live_table_bytes, table, sizeof table);
        mt__fmt_bytes(cap->call_tree_bytes, tree, sizeof tree);
        fprintf(out, "Tracker:  %s of its own memory: live table %s", all, table);
        if (most >= 10000)
            fprintf(out, " (%.1f bytes per block live at the peak)",
                    (double)cap->live_table_bytes / (double)most);
        fprintf(out, ", call tree %s\n", tree);
    }

    if (cap->flags & MT_META_DEGRADED || cap->dropped_events > 0)
        fprintf(out,
                "warning: the engine ran short of memory and dropped %" PRIu64
                " events; the figures are incomplete\n",
                cap->dropped_events);
    if (cap->flags & MT_META_TRUNCSTK)
        fprintf(out, "warning: some call paths were cut at the depth limit (%" PRIu32 " frames)\n",
                cap->depth);
    if (cap->flags & MT_META_STACKLESS)
        fputs("note: call paths were not recorded, so allocations are not grouped by them\n", out);
    if (mt__cap_estimated(cap)) {
        char mean[64];
        fmt_size(cap->sample_mean, mean, sizeof mean);
        fprintf(out,
                "note: sample mode, a call path per %s allocated on average (%" PRIu64
                " %s sampled):\n      the figures of call paths (~) are estimates; totals, "
                "threads and classes are exact\n",
                mean, cap->sampled, plural(cap->sampled, "allocation", "allocations"));
    }
}

static void put_totals(FILE *out, const mt_capture_t *cap)
{
    const mt_cap_totals_t *t = &cap->totals;
    char a[64], b[64];
    fmt_size(t->allocated_bytes, a, sizeof a);
    fmt_size(t->freed_bytes, b, sizeof b);
    fprintf(out, "\nTotals\n");
    fprintf(out, "  allocations:    %" PRIu64 ", %s\n", t->allocations, a);
    fprintf(out, "  frees:          %" PRIu64 ", %s\n", t->frees, b);
    fmt_size(t->live_bytes, a, sizeof a);
    char label[32];
    snprintf(label, sizeof label, "live at %s:", moment(cap));
    fprintf(out, "  %-15s %" PRIu64 " %s, %s\n", label, t->live_blocks,
            plural(t->live_blocks, "block", "blocks"), a);
    fprintf(out, "  temporary:      %" PRIu64 "\n", t->temporary);
    fprintf(out, "  unknown frees:  %" PRIu64 "\n", t->unknown_frees);
}

void mt__text_entry(const mt_sym_frame_t *e, void *ctx)
{
    FILE *out = ctx;
    fputs("      ", out);
    if (e->function != NULL) {
        mt__text_str(out, e->function);
        if (e->file != NULL) {
            fputs("  ", out);
            mt__text_str(out, e->file);
            fprintf(out, ":%" PRIu32, e->line);
        } else if (e->module != NULL) {
            fputs("  ", out);
            const char *slash = strrchr(e->module, '/');
            mt__text_str(out, slash != NULL ? slash + 1 : e->module);
            fprintf(out, "+0x%" PRIx64, e->offset);
        }
    } else if (e->module != NULL) {
        const char *slash = strrchr(e->module, '/');
        mt__text_str(out, slash != NULL ? slash + 1 : e->module);
        fprintf(out, "+0x%" PRIx64, e->offset);
    } else {
        fprintf(out, "0x%" PRIx64, e->address);
    }
    if (e->inlined) fputs("  (inlined)", out);
    fputc('\n', out);
}

static int put_stack(FILE *out, const mt_capture_t *cap, mt_sym_t *sym, uint32_t node)
{
    long n = mt__sym_walk_path(cap, sym, node, mt__text_entry, out);
    if (n == 0) fputs("      (no call path recorded)\n", out);
    return n < 0 ? -1 : 0;
}

/* The ranked call paths of one list, at most `top` of them (0 = all). */
/* The named blocks (MEMTRACK_TRACK) live in a path, on one line. */
static void put_names(FILE *out, const mt_capture_t *cap, const uint32_t *named_nodes,
                      uint32_t node)
{
    const char *sep = "      named: ";
    for (size_t i = 0; named_nodes && i < cap->nnamed; i++) {
        if (named_nodes[i] != node) continue;
        fputs(sep, out);
        mt__text_str(out, cap->named[i].name);
        fputs(" (", out);
        mt__text_str(out, cap->named[i].file);
        fprintf(out, ":%" PRIu32 ")", cap->named[i].line);
        sep = ", ";
    }
    if (sep[0] == ',') fputc('\n', out);
}

static int put_paths(FILE *out, const mt_capture_t *cap, mt_sym_t *sym, const mt_path_stat_t *v,
                     size_t n, size_t top, const uint32_t *named)
{
    size_t shown = top == 0 || top > n ? n : top;
    for (size_t i = 0; i < shown; i++) {
        char size[64];
        fmt_size(v[i].bytes, size, sizeof size);
        const char *est = mt__cap_estimated(cap) ? "~" : "";
        fprintf(out, "  #%zu  %s%s in %s%" PRIu64 " %s\n", i + 1, est, size, est, v[i].blocks,
                plural(v[i].blocks, "block", "blocks"));
        put_names(out, cap, named, v[i].node);
        if (put_stack(out, cap, sym, v[i].node) != 0) return -1;
    }
    if (shown < n)
        fprintf(out, "  \u2026 and %zu more call %s (--top to see more)\n", n - shown,
                plural(n - shown, "path", "paths"));
    return 0;
}

static void put_peak_header(FILE *out, const mt_capture_t *cap)
{
    const mt_cap_totals_t *t = &cap->totals;
    char size[64], when[32];
    fmt_size(t->peak_bytes, size, sizeof size);
    mt__fmt_ms(t->peak_time_ns, when, sizeof when);
    if (t->peak_bytes == 0 && t->peak_blocks == 0)
        fprintf(out, "\nPeak: 0 B (nothing was live at any time)\n");
    else
        fprintf(out, "\nPeak: %s in %s%" PRIu64 " %s, at %s ms\n", size,
                mt__cap_estimated(cap) ? "~" : "", t->peak_blocks,
                plural(t->peak_blocks, "block", "blocks"), when);
}

/* Right-aligned columns sized to their widest cell; the name column is left-aligned. */
static int put_threads(FILE *out, const mt_capture_t *cap)
{
    enum { NCOL = 8, CELL = 40 };
    static const char *const head[NCOL] = {"tid",   "name",        "allocations", "allocated",
                                           "frees", "live blocks", "live bytes",  "peak"};
    fprintf(out, "\nThreads\n");
    if (cap->nthreads == 0) {
        fputs("  (none recorded)\n", out);
        return 0;
    }
    char(*cells)[NCOL][CELL] = calloc(cap->nthreads, sizeof *cells);
    if (cells == NULL) return -1;
    size_t width[NCOL];
    for (int c = 0; c < NCOL; c++)
        width[c] = strlen(head[c]);
    for (size_t i = 0; i < cap->nthreads; i++) {
        const mt_cap_thread_t *t = &cap->threads[i];
        snprintf(cells[i][0], CELL, "%" PRIu64, t->tid);
        /* cells[i][1] stays empty: the name is written directly, escaped. */
        snprintf(cells[i][2], CELL, "%" PRIu64, t->allocations);
        mt__fmt_bytes(t->allocated_bytes, cells[i][3], CELL);
        snprintf(cells[i][4], CELL, "%" PRIu64, t->frees);
        snprintf(cells[i][5], CELL, "%" PRIu64, t->live_blocks);
        mt__fmt_bytes(t->live_bytes, cells[i][6], CELL);
        mt__fmt_bytes(t->peak_bytes, cells[i][7], CELL);
        for (int c = 0; c < NCOL; c++)
            if (c != 1 && strlen(cells[i][c]) > width[c]) width[c] = strlen(cells[i][c]);
        size_t nl = t->name[0] != '\0' ? clean_len(t->name) : 1;
        if (nl > width[1]) width[1] = nl;
    }
    fprintf(out, "  %-*s  %-*s", (int)width[0], head[0], (int)width[1], head[1]);
    for (int c = 2; c < NCOL; c++)
        fprintf(out, "  %*s", (int)width[c], head[c]);
    fputc('\n', out);
    for (size_t i = 0; i < cap->nthreads; i++) {
        const char *name = cap->threads[i].name[0] != '\0' ? cap->threads[i].name : "-";
        fprintf(out, "  %-*s  ", (int)width[0], cells[i][0]);
        mt__text_str(out, name);
        fprintf(out, "%*s", (int)(width[1] - clean_len(name)), "");
        for (int c = 2; c < NCOL; c++)
            fprintf(out, "  %*s", (int)width[c], cells[i][c]);
        fputc('\n', out);
    }
    free(cells);
    return 0;
}

/* Memory over time in one line of 60 block characters (the highest live bytes of each slice of
 * the run), the peak's slice marked below; shown when the capture has a timeline. */
static void put_timeline(FILE *out, const mt_capture_t *cap)
{
    enum { COLS = 60 };
    if (cap->nsamples < 2) return;
    static const char *const bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};
    uint64_t end = cap->samples[cap->nsamples - 1].t_ns, top = 0, rss = 0, col[COLS] = {0};
    bool seen[COLS] = {false};
    for (size_t i = 0; i < cap->nsamples; i++) {
        const mt_cap_sample_t *s = &cap->samples[i];
        size_t c = end ? (size_t)((unsigned __int128)s->t_ns * (COLS - 1) / end) : 0;
        if (s->live_bytes > col[c]) col[c] = s->live_bytes;
        seen[c] = true;
        if (s->live_bytes > top) top = s->live_bytes;
        if (s->rss_bytes > rss) rss = s->rss_bytes;
    }
    char top_s[64], rss_s[64], end_s[32];
    fmt_size(top, top_s, sizeof top_s);
    fmt_size(rss, rss_s, sizeof rss_s);
    mt__fmt_ms(end, end_s, sizeof end_s);
    fprintf(out, "\nMemory over time (live bytes, %zu samples over %s ms; highest %s",
            cap->nsamples, end_s, top_s);
    if (rss) fprintf(out, "; resident at most %s", rss_s);
    fputs(")\n  ", out);
    uint64_t last = 0;
    for (int c = 0; c < COLS; c++) {
        uint64_t v = seen[c] ? col[c] : last; /* a slice without a sample holds the last one */
        last = v;
        fputs(bars[top ? (size_t)((unsigned __int128)v * 7 / top) : 0], out);
    }
    size_t peak_col =
        end ? (size_t)((unsigned __int128)(cap->totals.peak_time_ns < end ? cap->totals.peak_time_ns
                                                                          : end) *
                       (COLS - 1) / end)
            : 0;
    fprintf(out, "\n  %*s^ peak\n", (int)peak_col, "");
}

/* Shown only when the program cut stages (or reset the peak): each period with its peak and
 * the call paths holding memory then. */
static int put_stages(FILE *out, const mt_capture_t *cap, mt_sym_t *sym, size_t top,
                      const char *match)
{
    if (cap->nstages == 0) return 0;
    fputs("\nStages\n", out);
    for (size_t i = 0; i < cap->nstages; i++) {
        const mt_cap_stage_t *st = &cap->stages[i];
        if (!st->name[0] && st->ntop == 0) continue; /* an unnamed period that held nothing */
        char from[32], to[32], when[32], size[64];
        mt__fmt_ms(st->start_ns, from, sizeof from);
        mt__fmt_ms(st->end_ns, to, sizeof to);
        mt__fmt_ms(st->peak_time_ns, when, sizeof when);
        fmt_size(st->peak_bytes, size, sizeof size);
        fputs("  ", out);
        mt__text_str(out, st->name[0] ? st->name : "(no stage)");
        if (st->end_ns)
            fprintf(out, ", %s to %s ms: peak %s at %s ms\n", from, to, size, when);
        else
            fprintf(out, ", from %s ms on: peak %s at %s ms\n", from, size, when);
        mt_path_stat_t *v = mt__model_stage_paths(st);
        if (v == NULL) return -1;
        size_t nv = st->ntop;
        if (match != NULL) mt__model_filter(cap, sym, match, v, &nv);
        int r = put_paths(out, cap, sym, v, nv, top ? top : 3, NULL);
        free(v);
        if (r != 0) return -1;
    }
    return 0;
}

/* Shown only when the program tagged allocations (more than the "untagged" class). */
static void put_classes(FILE *out, const mt_capture_t *cap)
{
    if (cap->nclasses < 2) return;
    size_t w = 5;
    for (size_t i = 0; i < cap->nclasses; i++)
        if (clean_len(cap->classes[i].name) > w) w = clean_len(cap->classes[i].name);
    fprintf(out, "\nClasses\n  %-*s  %12s  %10s  %11s  %10s\n", (int)w, "class", "allocations",
            "frees", "live blocks", "live");
    for (size_t i = 0; i < cap->nclasses; i++) {
        const mt_cap_class_t *k = &cap->classes[i];
        uint64_t live = k->new_count > k->free_count ? k->new_count - k->free_count : 0;
        char bytes[32];
        mt__fmt_bytes(k->new_bytes > k->free_bytes ? k->new_bytes - k->free_bytes : 0, bytes,
                      sizeof bytes);
        fputs("  ", out);
        mt__text_str(out, k->name);
        fprintf(out, "%*s  %12" PRIu64 "  %10" PRIu64 "  %11" PRIu64 "  %10s\n",
                (int)(w - clean_len(k->name)), "", k->new_count, k->free_count, live, bytes);
    }
}

static void put_leaks_header(FILE *out, const mt_capture_t *cap, const mt_model_t *m,
                             const char *match)
{
    const mt_cap_totals_t *t = &cap->totals;
    if (t->live_blocks == 0) {
        fprintf(out, "\nLeaks: none; every tracked allocation was freed before %s\n", moment(cap));
        return;
    }
    char size[64];
    fmt_size(t->live_bytes, size, sizeof size);
    fprintf(out, "\nLeaks: %s in %" PRIu64 " %s still live at %s, ", size, t->live_blocks,
            plural(t->live_blocks, "block", "blocks"), moment(cap));
    if (match) {
        fprintf(out, "%zu call %s with a frame matching '", m->nleaks,
                plural(m->nleaks, "path", "paths"));
        mt__text_str(out, match);
        fputs("'\n", out);
    } else {
        fprintf(out, "from %zu call %s\n", m->nleaks, plural(m->nleaks, "path", "paths"));
    }
}

int mt__report_text(FILE *out, const mt_capture_t *cap, mt_sym_t *sym, const mt_report_opts_t *opts)
{
    mt_model_t m;
    if (mt__model_init(&m, cap) != 0) return -1;
    if (opts->match != NULL) {
        mt__model_filter(cap, sym, opts->match, m.leaks, &m.nleaks);
        mt__model_filter(cap, sym, opts->match, m.peak, &m.npeak);
    }
    int rc = -1;
    put_header(out, cap);
    put_totals(out, cap);
    put_timeline(out, cap);
    put_peak_header(out, cap);
    if (put_paths(out, cap, sym, m.peak, m.npeak, opts->top, NULL) != 0) goto done;
    if (put_stages(out, cap, sym, opts->top < 3 ? opts->top : 3, opts->match) != 0) goto done;
    if (put_threads(out, cap) != 0) goto done;
    put_classes(out, cap);
    put_leaks_header(out, cap, &m, opts->match);
    if (put_paths(out, cap, sym, m.leaks, m.nleaks, opts->top, m.named_nodes) != 0) goto done;
    rc = ferror(out) ? -1 : 0;
done:
    mt__model_destroy(&m);
    return rc;
}
