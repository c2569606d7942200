/* The interactive HTML report: the page template of web/ with its scripts and styles inlined
 * (embedded into the binary at build time, html_assets.c) and the report's data as JSON, so the
 * one file works in a browser with no network. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html_assets.h"
#include "report/report.h"

/* The assets a template marker @@name@@ can name. */
typedef struct mt_html_asset_s {
    const char *name;
    const unsigned char *data;
    const size_t *len;
} mt_html_asset_t;

static const mt_html_asset_t assets[] = {
    {"uplot_css", mt__html_uplot_css, &mt__html_uplot_css_len},
    {"uplot_js", mt__html_uplot_js, &mt__html_uplot_js_len},
    {"d3_selection_js", mt__html_d3_selection_js, &mt__html_d3_selection_js_len},
    {"flamegraph_css", mt__html_flamegraph_css, &mt__html_flamegraph_css_len},
    {"flamegraph_js", mt__html_flamegraph_js, &mt__html_flamegraph_js_len},
    {"report_css", mt__html_report_css, &mt__html_report_css_len},
    {"report_js", mt__html_report_js, &mt__html_report_js_len},
};

#define HTML_THREADS 16 /* threads with flame graphs of their own: those that allocated most */

/* {"<weight>": [["a;b;c", N], ...], ...}: the folded stacks of each weight, of the threads
 * marked in `threads` (NULL: all); weights not known for them are left out. */
static int write_folded(FILE *m, const mt_capture_t *cap, mt_sym_t *sym, const bool *threads)
{
    char why[256];
    bool first = true;
    fputc('{', m);
    for (int w = 0; w < MT_FOLDED_WEIGHTS; w++) {
        mt_folded_weight_t weight = (mt_folded_weight_t)w;
        if (mt__folded_threads_check(cap, threads, weight, why, sizeof why) != NULL) continue;
        mt_folded_opts_t fopts = {.weight = weight, .threads = threads};
        mt_folded_line_t *lines;
        size_t n;
        if (mt__folded_lines(cap, sym, &fopts, &lines, &n) != 0) return -1;
        fprintf(m, "%s\"%s\":[", first ? "" : ",", mt__folded_weight_name(weight));
        first = false;
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ",[" : "[", m);
            mt__json_string(m, lines[i].path);
            fprintf(m, ",%" PRIu64 "]", lines[i].weight);
        }
        fputc(']', m);
        mt__folded_free(lines, n);
    }
    fputc('}', m);
    return 0;
}

/* Thread indexes by allocated bytes, most first (ties: by index); ctx is the capture. */
static int by_allocated(const void *a, const void *b, void *ctx)
{
    const mt_capture_t *cap = ctx;
    const mt_cap_thread_t *x = &cap->threads[*(const size_t *)a];
    const mt_cap_thread_t *y = &cap->threads[*(const size_t *)b];
    if (x->allocated_bytes != y->allocated_bytes)
        return x->allocated_bytes > y->allocated_bytes ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* [{"thread": I, "tid": T, "name": N, "folded": {...}}, ...] for the HTML_THREADS threads that
 * allocated most, when there is more than one thread. */
static int write_thread_folded(FILE *m, const mt_capture_t *cap, mt_sym_t *sym)
{
    fputc('[', m);
    size_t n = cap->nthreads > 1 ? cap->nthreads : 0;
    size_t *order = calloc(n ? n : 1, sizeof *order);
    bool *sel = calloc(n ? n : 1, sizeof *sel);
    int rc = order != NULL && sel != NULL ? 0 : -1;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (rc == 0 && n > 0) qsort_r(order, n, sizeof *order, by_allocated, (void *)cap);
    for (size_t k = 0; rc == 0 && k < n && k < HTML_THREADS; k++) {
        const mt_cap_thread_t *t = &cap->threads[order[k]];
        if (t->allocations == 0 && t->live_blocks == 0) break;
        fprintf(m, "%s{\"thread\":%zu,\"tid\":%" PRIu64 ",\"name\":", k ? "," : "", order[k],
                t->tid);
        mt__json_string(m, t->name);
        fputs(",\"folded\":", m);
        sel[order[k]] = true;
        rc = write_folded(m, cap, sym, sel);
        sel[order[k]] = false;
        fputc('}', m);
    }
    fputc(']', m);
    free(order);
    free(sel);
    return rc;
}

/* {"report": <the JSON report, all paths>, "folded": {"<weight>": [["a;b;c", N], ...], ...},
 * "threads": <write_thread_folded>} into a fresh buffer (*len bytes, free it). Returns NULL
 * when out of memory. */
static char *report_data(const mt_capture_t *cap, mt_sym_t *sym, size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    if (m == NULL) return NULL;
    mt_report_opts_t ropts = {.top = 0};
    fputs("{\"report\":", m);
    int rc = mt__report_json(m, cap, sym, &ropts);
    fputs(",\"folded\":", m);
    if (rc == 0) rc = write_folded(m, cap, sym, NULL);
    fputs(",\"threads\":", m);
    if (rc == 0) rc = write_thread_folded(m, cap, sym);
    fputs("}", m);
    if (fclose(m) != 0 || rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* JSON inside <script>: '<' only occurs in strings there, and as \u003c it can neither end the
 * element (</script>) nor open a comment (<!--). */
static void write_script_json(FILE *out, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '<') continue;
        fwrite(s + start, 1, i - start, out);
        fputs("\\u003c", out);
        start = i + 1;
    }
    fwrite(s + start, 1, len - start, out);
}

int mt__report_html(FILE *out, const mt_capture_t *cap, mt_sym_t *sym)
{
    size_t data_len;
    char *data = report_data(cap, sym, &data_len);
    if (data == NULL) return -1;
    const char *slash = strrchr(cap->program, '/');
    const char *t = (const char *)mt__html_template, *end = t + mt__html_template_len;
    while (t < end) {
        /* Copy up to the next marker: "@@" + a name of [a-z0-9_] + "@@". */
        const char *at = memmem(t, (size_t)(end - t), "@@", 2);
        if (at == NULL) {
            fwrite(t, 1, (size_t)(end - t), out);
            break;
        }
        const char *name = at + 2, *stop = name;
        while (stop < end &&
               ((*stop >= 'a' && *stop <= 'z') || (*stop >= '0' && *stop <= '9') || *stop == '_'))
            stop++;
        size_t nlen = (size_t)(stop - name);
        if (nlen == 0 || end - stop < 2 || memcmp(stop, "@@", 2) != 0) {
            fwrite(t, 1, (size_t)(name - t), out); /* not a marker: "@@" stays */
            t = name;
            continue;
        }
        fwrite(t, 1, (size_t)(at - t), out);
        t = stop + 2;
        if (nlen == 4 && memcmp(name, "data", 4) == 0) {
            write_script_json(out, data, data_len);
        } else if (nlen == 5 && memcmp(name, "title", 5) == 0) {
            mt__fmt_xml(out, slash ? slash + 1 : cap->program, SIZE_MAX);
        } else {
            for (size_t a = 0; a < sizeof assets / sizeof assets[0]; a++)
                if (strlen(assets[a].name) == nlen && memcmp(assets[a].name, name, nlen) == 0)
                    fwrite(assets[a].data, 1, *assets[a].len, out);
        }
    }
    free(data);
    return ferror(out) ? -1 : 0;
}
