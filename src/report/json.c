/* The JSON report: one object on the output with the capture's figures, leaks and peak
 * contributors with symbolized stacks, for scripts and the integration tests. */
#include "report/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "capture/format.h"

#define MT_JSON_MAX_DEPTH 16

/* A small streaming writer: it places commas, newlines and indentation, and writes the
 * innermost objects it is told to (stack entries) on one line. */
typedef struct mt_json_s {
    FILE *out;
    int depth;
    int inline_from; /* depth at which one-line output began; 0 = none */
    bool after_key;
    bool has_items[MT_JSON_MAX_DEPTH + 1];
} mt_json_t;

static void indent(mt_json_t *j, int depth)
{
    fputc('\n', j->out);
    for (int i = 0; i < depth; i++)
        fputs("  ", j->out);
}

static void begin_value(mt_json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth == 0) return;
    bool more = j->has_items[j->depth];
    j->has_items[j->depth] = true;
    if (more) fputc(',', j->out);
    if (j->inline_from != 0 && j->depth >= j->inline_from) {
        if (more) fputc(' ', j->out);
    } else {
        indent(j, j->depth);
    }
}

/* The length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are not). */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (left < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD so the output is always valid. */
static void put_string(FILE *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            switch (c) {
            case '"':
                fputs("\\\"", out);
                break;
            case '\\':
                fputs("\\\\", out);
                break;
            case '\n':
                fputs("\\n", out);
                break;
            case '\r':
                fputs("\\r", out);
                break;
            case '\t':
                fputs("\\t", out);
                break;
            case '\b':
                fputs("\\b", out);
                break;
            case '\f':
                fputs("\\f", out);
                break;
            default:
                if (c < 0x20 || c == 0x7f)
                    fprintf(out, "\\u%04x", c);
                else
                    fputc(c, out);
            }
            i++;
            continue;
        }
        size_t n = utf8_len(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", out);
            i++;
        } else {
            fwrite(s + i, 1, n, out);
            i += n;
        }
    }
    fputc('"', out);
}

/* Writes `"k": `; the value that follows must start with begin_value(), which then adds no
 * separator. */
void mt__json_string(FILE *out, const char *str)
{
    if (str == NULL)
        fputs("null", out);
    else
        put_string(out, str, strlen(str));
}

static void key(mt_json_t *j, const char *k)
{
    begin_value(j);
    put_string(j->out, k, strlen(k));
    fputs(": ", j->out);
    j->after_key = true;
}

/* A member name (or, with k NULL, an array element) followed by a scalar. */
static void scalar(mt_json_t *j, const char *k)
{
    if (k != NULL) key(j, k);
    begin_value(j);
}

static void open_(mt_json_t *j, char c, bool one_line)
{
    begin_value(j);
    fputc(c, j->out);
    /* Deeper levels than we ever write would only lose their layout, never their validity. */
    if (j->depth < MT_JSON_MAX_DEPTH) j->depth++;
    j->has_items[j->depth] = false;
    if (one_line && j->inline_from == 0) j->inline_from = j->depth;
}

static void close_(mt_json_t *j, char c)
{
    bool had = j->has_items[j->depth];
    bool one_line = j->inline_from != 0 && j->depth >= j->inline_from;
    if (j->depth == j->inline_from) j->inline_from = 0;
    j->depth--;
    if (had && !one_line) indent(j, j->depth);
    fputc(c, j->out);
}

static void obj(mt_json_t *j, const char *k)
{
    if (k != NULL) key(j, k);
    open_(j, '{', false);
}

static void arr(mt_json_t *j, const char *k)
{
    if (k != NULL) key(j, k);
    open_(j, '[', false);
}

static void u64(mt_json_t *j, const char *k, uint64_t v)
{
    scalar(j, k);
    fprintf(j->out, "%" PRIu64, v);
}

static void i64(mt_json_t *j, const char *k, int64_t v)
{
    scalar(j, k);
    fprintf(j->out, "%" PRId64, v);
}

static void boolean(mt_json_t *j, const char *k, bool v)
{
    scalar(j, k);
    fputs(v ? "true" : "false", j->out);
}

static void str(mt_json_t *j, const char *k, const char *v)
{
    scalar(j, k);
    if (v == NULL)
        fputs("null", j->out);
    else
        put_string(j->out, v, strlen(v));
}

static void hex(mt_json_t *j, const char *k, uint64_t v)
{
    scalar(j, k);
    fprintf(j->out, "\"0x%" PRIx64 "\"", v);
}

static void ms(mt_json_t *j, const char *k, uint64_t ns)
{
    char buf[32];
    mt__fmt_ms(ns, buf, sizeof buf);
    scalar(j, k);
    fputs(buf, j->out);
}

static void put_cmdline(mt_json_t *j, const mt_capture_t *cap)
{
    arr(j, "cmdline");
    const char *arg;
    size_t pos = 0, n;
    while (mt__cmdline_next(cap, &pos, &arg, &n)) {
        begin_value(j);
        put_string(j->out, arg, n);
    }
    close_(j, ']');
}

static void put_entry(const mt_sym_frame_t *f, void *ctx)
{
    mt_json_t *j = ctx;
    open_(j, '{', true);
    str(j, "function", f->function);
    str(j, "file", f->file);
    u64(j, "line", f->line);
    str(j, "module", f->module);
    hex(j, "address", f->address);
    if (f->module != NULL)
        hex(j, "offset", f->offset);
    else
        str(j, "offset", NULL);
    boolean(j, "inlined", f->inlined);
    close_(j, '}');
}

static int put_stack(mt_json_t *j, const mt_capture_t *cap, mt_sym_t *sym, uint32_t node)
{
    arr(j, "stack");
    long n = mt__sym_walk_path(cap, sym, node, put_entry, j);
    close_(j, ']');
    return n < 0 ? -1 : 0;
}

/* The named blocks (MEMTRACK_TRACK) live in a path. */
static void put_names(mt_json_t *j, const mt_capture_t *cap, const uint32_t *named_nodes,
                      uint32_t node)
{
    arr(j, "names");
    for (size_t i = 0; i < cap->nnamed; i++) {
        if (named_nodes[i] != node) continue;
        open_(j, '{', true);
        str(j, "name", cap->named[i].name);
        str(j, "file", cap->named[i].file);
        u64(j, "line", cap->named[i].line);
        hex(j, "address", cap->named[i].address);
        close_(j, '}');
    }
    close_(j, ']');
}

static int put_paths(mt_json_t *j, const char *name, const mt_capture_t *cap, mt_sym_t *sym,
                     const mt_path_stat_t *v, size_t n, size_t top, const uint32_t *named)
{
    size_t shown = top == 0 || top > n ? n : top;
    arr(j, name);
    for (size_t i = 0; i < shown; i++) {
        obj(j, NULL);
        u64(j, "node", v[i].node);
        if (named) {
            u64(j, "live_blocks", v[i].blocks);
            u64(j, "live_bytes", v[i].bytes);
            put_names(j, cap, named, v[i].node);
        } else {
            u64(j, "bytes", v[i].bytes);
            u64(j, "blocks", v[i].blocks);
        }
        str(j, "class", mt__model_class_of(cap, v[i].node));
        if (put_stack(j, cap, sym, v[i].node) != 0) return -1;
        close_(j, '}');
    }
    close_(j, ']');
    return 0;
}

static void put_totals(mt_json_t *j, const mt_cap_totals_t *t)
{
    obj(j, "totals");
    u64(j, "allocations", t->allocations);
    u64(j, "frees", t->frees);
    u64(j, "allocated_bytes", t->allocated_bytes);
    u64(j, "freed_bytes", t->freed_bytes);
    u64(j, "live_blocks", t->live_blocks);
    u64(j, "live_bytes", t->live_bytes);
    u64(j, "peak_bytes", t->peak_bytes);
    u64(j, "peak_blocks", t->peak_blocks);
    ms(j, "peak_time_ms", t->peak_time_ns);
    u64(j, "temporary", t->temporary);
    u64(j, "unknown_frees", t->unknown_frees);
    u64(j, "threads", t->threads);
    close_(j, '}');
}

static void put_threads(mt_json_t *j, const mt_capture_t *cap)
{
    arr(j, "threads");
    for (size_t i = 0; i < cap->nthreads; i++) {
        const mt_cap_thread_t *t = &cap->threads[i];
        obj(j, NULL);
        u64(j, "tid", t->tid);
        str(j, "name", t->name);
        u64(j, "allocations", t->allocations);
        u64(j, "allocated_bytes", t->allocated_bytes);
        u64(j, "frees", t->frees);
        u64(j, "freed_bytes", t->freed_bytes);
        u64(j, "live_blocks", t->live_blocks);
        u64(j, "live_bytes", t->live_bytes);
        u64(j, "peak_bytes", t->peak_bytes);
        ms(j, "peak_time_ms", t->peak_time_ns);
        u64(j, "temporary", t->temporary);
        u64(j, "unknown_frees", t->unknown_frees);
        ms(j, "start_ms", t->start_ns);
        ms(j, "end_ms", t->end_ns);
        close_(j, '}');
    }
    close_(j, ']');
}

/* Memory over time: [t_ms, live_bytes, live_blocks, rss_bytes] per sample. */
static void put_timeline(mt_json_t *j, const mt_capture_t *cap)
{
    obj(j, "timeline");
    ms(j, "interval_ms", cap->sample_interval_ns);
    arr(j, "samples");
    for (size_t i = 0; i < cap->nsamples; i++) {
        const mt_cap_sample_t *s = &cap->samples[i];
        open_(j, '[', true);
        ms(j, NULL, s->t_ns);
        u64(j, NULL, s->live_bytes);
        u64(j, NULL, s->live_blocks);
        u64(j, NULL, s->rss_bytes);
        close_(j, ']');
    }
    close_(j, ']');
    close_(j, '}');
}

static int put_stages(mt_json_t *j, const mt_capture_t *cap, mt_sym_t *sym, size_t top,
                      const char *match)
{
    arr(j, "stages");
    for (size_t i = 0; i < cap->nstages; i++) {
        const mt_cap_stage_t *st = &cap->stages[i];
        obj(j, NULL);
        str(j, "name", st->name[0] ? st->name : NULL);
        ms(j, "start_ms", st->start_ns);
        if (st->end_ns)
            ms(j, "end_ms", st->end_ns);
        else
            str(j, "end_ms", NULL);
        u64(j, "peak_bytes", st->peak_bytes);
        ms(j, "peak_time_ms", st->peak_time_ns);
        mt_path_stat_t *v = mt__model_stage_paths(st);
        if (v == NULL) return -1;
        size_t nv = st->ntop;
        if (match != NULL) mt__model_filter(cap, sym, match, v, &nv);
        int r = put_paths(j, "contributors", cap, sym, v, nv, top, NULL);
        free(v);
        if (r != 0) return -1;
        close_(j, '}');
    }
    close_(j, ']');
    return 0;
}

static void put_classes(mt_json_t *j, const mt_capture_t *cap)
{
    arr(j, "classes");
    for (size_t i = 0; i < cap->nclasses; i++) {
        const mt_cap_class_t *k = &cap->classes[i];
        obj(j, NULL);
        str(j, "name", k->name);
        u64(j, "new_count", k->new_count);
        u64(j, "new_bytes", k->new_bytes);
        u64(j, "free_count", k->free_count);
        u64(j, "free_bytes", k->free_bytes);
        u64(j, "live_count", k->new_count > k->free_count ? k->new_count - k->free_count : 0);
        u64(j, "live_bytes", k->new_bytes > k->free_bytes ? k->new_bytes - k->free_bytes : 0);
        u64(j, "depth", k->depth);
        close_(j, '}');
    }
    close_(j, ']');
}

int mt__report_json(FILE *out, const mt_capture_t *cap, mt_sym_t *sym, const mt_report_opts_t *opts)
{
    mt_model_t m;
    if (mt__model_init(&m, cap) != 0) return -1;
    if (opts->match != NULL) {
        mt__model_filter(cap, sym, opts->match, m.leaks, &m.nleaks);
        mt__model_filter(cap, sym, opts->match, m.peak, &m.npeak);
    }
    mt_json_t jw = {.out = out}, *j = &jw;
    int rc = -1;

    obj(j, NULL);
    u64(j, "format_version", cap->version);
    str(j, "program", cap->program);
    u64(j, "pid", cap->pid);
    u64(j, "parent_pid", cap->parent_pid);
    put_cmdline(j, cap);
    u64(j, "start_realtime_ns", cap->start_realtime_ns);
    ms(j, "duration_ms", cap->duration_ns);
    obj(j, "end");
    str(j, "reason", mt__end_reason_name(cap->end_reason));
    i64(j, "value", cap->end_value);
    close_(j, '}');
    u64(j, "depth", cap->depth);
    str(j, "mode",
        cap->mode == MT_CAP_MODE_COUNT    ? "count"
        : cap->mode == MT_CAP_MODE_FULL   ? "full"
        : cap->mode == MT_CAP_MODE_SAMPLE ? "sample"
                                          : "unknown");
    /* Sample mode: the call paths' figures (and peak.blocks) are estimates. */
    boolean(j, "estimated", mt__cap_estimated(cap) != 0);
    if (mt__cap_estimated(cap)) {
        u64(j, "sample_mean_bytes", cap->sample_mean);
        u64(j, "sampled_allocations", cap->sampled);
    }
    boolean(j, "degraded", (cap->flags & MT_META_DEGRADED) != 0);
    u64(j, "dropped_events", cap->dropped_events);
    boolean(j, "forked", (cap->flags & MT_META_FORKED) != 0);
    boolean(j, "followed", (cap->flags & MT_META_FOLLOWED) != 0);
    boolean(j, "truncated_stacks", (cap->flags & MT_META_TRUNCSTK) != 0);
    boolean(j, "stackless", (cap->flags & MT_META_STACKLESS) != 0);
    boolean(j, "frame_pointers", (cap->flags & MT_META_FPUNWIND) != 0);
    u64(j, "engine_bytes", cap->engine_bytes);
    if (cap->has_memory) {
        u64(j, "engine_live_table_bytes", cap->live_table_bytes);
        u64(j, "engine_call_tree_bytes", cap->call_tree_bytes);
    } else {
        str(j, "engine_live_table_bytes", NULL);
        str(j, "engine_call_tree_bytes", NULL);
    }
    put_totals(j, &cap->totals);

    obj(j, "peak");
    u64(j, "bytes", cap->totals.peak_bytes);
    u64(j, "blocks", cap->totals.peak_blocks);
    ms(j, "time_ms", cap->totals.peak_time_ns);
    u64(j, "call_paths", m.npeak);
    if (put_paths(j, "contributors", cap, sym, m.peak, m.npeak, opts->top, NULL) != 0) goto done;
    close_(j, '}');

    if (put_stages(j, cap, sym, opts->top, opts->match) != 0) goto done;
    put_timeline(j, cap);
    put_threads(j, cap);
    put_classes(j, cap);
    u64(j, "leak_call_paths", m.nleaks);
    if (put_paths(j, "leaks", cap, sym, m.leaks, m.nleaks, opts->top, m.named_nodes) != 0)
        goto done;
    close_(j, '}');
    fputc('\n', out);
    rc = ferror(out) ? -1 : 0;
done:
    mt__model_destroy(&m);
    return rc;
}
