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

/* {"report": <the JSON report, all paths>, "folded": {"<weight>": [["a;b;c", N], ...], ...}}
 * into a fresh buffer (*len bytes, free it). Returns NULL when out of memory. */
static char *report_data(const mt_capture_t *cap, mt_sym_t *sym, size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    if (m == NULL) return NULL;
    mt_report_opts_t ropts = {.top = 0};
    fputs("{\"report\":", m);
    int rc = mt__report_json(m, cap, sym, &ropts);
    fputs(",\"folded\":{", m);
    for (int w = 0; rc == 0 && w < MT_FOLDED_WEIGHTS; w++) {
        mt_folded_opts_t fopts = {.weight = (mt_folded_weight_t)w};
        mt_folded_line_t *lines;
        size_t n;
        if (mt__folded_lines(cap, sym, &fopts, &lines, &n) != 0) {
            rc = -1;
            break;
        }
        fprintf(m, "%s\"%s\":[", w ? "," : "", mt__folded_weight_name((mt_folded_weight_t)w));
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ",[" : "[", m);
            mt__json_string(m, lines[i].path);
            fprintf(m, ",%" PRIu64 "]", lines[i].weight);
        }
        fputc(']', m);
        mt__folded_free(lines, n);
    }
    fputs("}}", m);
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
