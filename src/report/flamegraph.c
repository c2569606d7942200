/* Flame graphs as one self-contained SVG: the folded stacks (folded.c) merged into a tree of
 * frames, outermost at the bottom, each frame as wide as what it weighs, with a hover title
 * and a colour that depends only on its name, so the same function keeps its colour from one
 * graph to the next. It opens in any browser; nothing is fetched. */
#include "report/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH   1200.0 /* pixels of the whole graph */
#define PAD     10.0
#define ROW     17.0 /* pixels per frame */
#define TOP     40.0 /* the title's band */
#define MIN_PX  0.3  /* narrower frames are not drawn (their weight is in their parent) */
#define CHAR_PX 7.0  /* an estimate of the width of a character of the 12 px font */

typedef struct fnode_s {
    char *name;
    uint64_t weight;              /* inclusive */
    struct fnode_s *child, *next; /* children sorted by name */
} fnode_t;

static void free_tree(fnode_t *n)
{
    while (n) {
        fnode_t *next = n->next;
        free_tree(n->child);
        free(n->name);
        free(n);
        n = next;
    }
}

/* The child of `parent` named name[0..len), made (in name order) if absent; NULL without
 * memory. */
static fnode_t *child(fnode_t *parent, const char *name, size_t len)
{
    char *key = strndup(name, len);
    if (key == NULL) return NULL;
    fnode_t **link = &parent->child;
    for (; *link; link = &(*link)->next) {
        int c = strcmp((*link)->name, key);
        if (c == 0) {
            free(key);
            return *link;
        }
        if (c > 0) break;
    }
    fnode_t *n = calloc(1, sizeof *n);
    if (n == NULL) {
        free(key);
        return NULL;
    }
    n->name = key;
    n->next = *link;
    *link = n;
    return n;
}

static int depth_of(const fnode_t *n)
{
    int d = 0;
    for (const fnode_t *c = n->child; c; c = c->next) {
        int k = depth_of(c);
        if (k > d) d = k;
    }
    return d + 1;
}

/* A warm colour from the name's hash (FNV-1a): hue 0..55, light enough for black text. Class
 * markers and unnamed frames are grey. */
static void colour(const char *name, char *buf, size_t len)
{
    if (name[0] == '[' || strncmp(name, "0x", 2) == 0) {
        snprintf(buf, len, "rgb(200,200,200)");
        return;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    unsigned r = 225 + (unsigned)(h % 30), g = 110 + (unsigned)((h >> 8) % 120),
             b = 40 + (unsigned)((h >> 16) % 50);
    snprintf(buf, len, "rgb(%u,%u,%u)", r, g, b);
}

typedef struct draw_s {
    FILE *out;
    uint64_t total;
    const char *unit;
    double height; /* of the whole picture */
} draw_t;

static void draw(const draw_t *d, const fnode_t *n, double x, int level)
{
    double w = (WIDTH - 2 * PAD) * (double)n->weight / (double)d->total;
    if (w < MIN_PX) return;
    double y = d->height - PAD - ROW * (level + 1);
    char fill[32];
    colour(n->name, fill, sizeof fill);
    fputs("<g><title>", d->out);
    mt__fmt_xml(d->out, n->name, 4096);
    fprintf(d->out, " (%" PRIu64 " %s, %.2f%%)</title>", n->weight, d->unit,
            100.0 * (double)n->weight / (double)d->total);
    fprintf(d->out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" rx=\"2\"/>", x,
            y, w, ROW - 1, fill);
    size_t fits = w > 6 ? (size_t)((w - 6) / CHAR_PX) : 0;
    if (fits >= 3) {
        size_t len = strlen(n->name);
        fprintf(d->out, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + ROW - 5);
        mt__fmt_xml(d->out, n->name, len <= fits ? len : fits - 2);
        if (len > fits) fputs("..", d->out);
        fputs("</text>", d->out);
    }
    fputs("</g>\n", d->out);
    double cx = x;
    for (const fnode_t *c = n->child; c; c = c->next) {
        draw(d, c, cx, level + 1);
        cx += (WIDTH - 2 * PAD) * (double)c->weight / (double)d->total;
    }
}

int mt__report_flamegraph(FILE *out, const mt_folded_line_t *lines, size_t n, const char *title,
                          const char *unit)
{
    fnode_t root = {.name = "all"};
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        fnode_t *at = &root;
        root.weight += lines[i].weight;
        for (const char *p = lines[i].path; at != NULL;) {
            const char *end = strchr(p, ';');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            at = child(at, p, len);
            if (at == NULL) goto done;
            at->weight += lines[i].weight;
            if (end == NULL) break;
            p = end + 1;
        }
    }
    int depth = depth_of(&root);
    draw_t d = {out, root.weight ? root.weight : 1, unit, TOP + ROW * depth + 2 * PAD};
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
            "<style>text { font-family: monospace; font-size: 12px; fill: #000; "
            "pointer-events: none; } rect:hover { stroke: #000; stroke-width: 0.5; }</style>\n"
            "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdfdf6\"/>\n"
            "<text x=\"%.0f\" y=\"24\" style=\"font-size: 16px\">",
            WIDTH, d.height, WIDTH, d.height, PAD);
    mt__fmt_xml(out, title, 4096);
    fprintf(out, " (%" PRIu64 " %s in all)</text>\n", root.weight, unit);
    if (root.weight) draw(&d, &root, PAD, 0);
    fputs("</svg>\n", out);
    rc = ferror(out) ? -1 : 0;
done:
    free_tree(root.child);
    return rc;
}
