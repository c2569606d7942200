/* `memtrack run --follow-children`, at the end: the captures of the processes the program
 * started (and of the images it exec'd), found by the output pattern among the files written
 * since the run began, and kept when their parent chain leads to the program. */
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/format.h"
#include "capture/reader.h"
#include "cli/cli.h"

#define LIST_MAX 20 /* captures listed one by one; the rest are counted */

typedef struct found_s {
    char *path;
    mt_capture_t *cap;
    struct timespec written;
    bool kept;
} found_t;

/* The glob(3) pattern of the captures `pattern` names: %p (or, absent, a suffix ".PID") as
 * "*", every other character matching itself. */
static char *glob_of(const char *pattern)
{
    size_t n = strlen(pattern);
    char *g = malloc(2 * n + 4);
    if (g == NULL) return NULL;
    char *w = g;
    bool has_pid = false;
    for (const char *s = pattern; *s; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            *w++ = '*';
            s++;
            has_pid = true;
            continue;
        }
        if (strchr("*?[\\", *s)) *w++ = '\\';
        *w++ = *s;
    }
    if (!has_pid) w += sprintf(w, ".*");
    *w = '\0';
    return g;
}

static int by_pid(const void *a, const void *b)
{
    const found_t *x = a, *y = b;
    if (x->cap->pid != y->cap->pid) return x->cap->pid < y->cap->pid ? -1 : 1;
    /* An exec'd image after the image before it, which wrote its capture first. */
    if (x->written.tv_sec != y->written.tv_sec)
        return x->written.tv_sec < y->written.tv_sec ? -1 : 1;
    if (x->written.tv_nsec != y->written.tv_nsec)
        return x->written.tv_nsec < y->written.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void describe(const found_t *f)
{
    const mt_capture_t *c = f->cap;
    char live[32], peak[32], end[64];
    mt__fmt_end(c, end, sizeof end);
    mt__fmt_bytes(c->totals.live_bytes, live, sizeof live);
    mt__fmt_bytes(c->totals.peak_bytes, peak, sizeof peak);
    const char *prog = strrchr(c->program, '/');
    fprintf(stderr,
            "  %s: %s (pid %" PRIu64 ", %s), %" PRIu64 " allocations, %" PRIu64
            " blocks (%s) live at the end, peak %s\n",
            f->path, prog ? prog + 1 : c->program, c->pid, end, c->totals.allocations,
            c->totals.live_blocks, live, peak);
}

void mt__run_list_children(const char *pattern, const char *main_path, uint64_t pid,
                           const struct timespec *since)
{
    char *g = glob_of(pattern);
    glob_t gl;
    if (g == NULL || glob(g, GLOB_NOSORT, NULL, &gl) != 0) {
        free(g);
        return; /* none (or no memory to look): nothing to say */
    }
    free(g);
    found_t *f = calloc(gl.gl_pathc ? gl.gl_pathc : 1, sizeof *f);
    size_t n = 0;
    for (size_t i = 0; f != NULL && i < gl.gl_pathc; i++) {
        const char *p = gl.gl_pathv[i];
        struct stat st;
        char err[256];
        if (strcmp(p, main_path) == 0 || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (st.st_mtim.tv_sec < since->tv_sec ||
            (st.st_mtim.tv_sec == since->tv_sec && st.st_mtim.tv_nsec < since->tv_nsec))
            continue; /* from an earlier run */
        mt_capture_t *cap;
        if (mt__capture_read(p, &cap, err, sizeof err) != 0) continue;
        char *copy = strdup(p);
        if (copy == NULL) {
            mt__capture_free(cap);
            continue;
        }
        f[n++] = (found_t){copy, cap, st.st_mtim, false};
    }
    globfree(&gl);
    /* The program's pid, then every process whose parent is already in: pids of kept
     * captures, grown until nothing changes (a chain is at most as long as the list). */
    size_t kept = 0;
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (f[i].kept) continue;
            const mt_capture_t *c = f[i].cap;
            bool in = c->pid == pid;
            bool child = (c->flags & (MT_META_FORKED | MT_META_FOLLOWED)) != 0;
            for (size_t k = 0; !in && child && k < n; k++)
                in = f[k].kept && f[k].cap->pid == c->parent_pid;
            in = in || (child && c->parent_pid == pid);
            if (in) {
                f[i].kept = grew = true;
                kept++;
            }
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].kept) {
            f[w++] = f[i];
        } else {
            free(f[i].path);
            mt__capture_free(f[i].cap);
        }
    }
    if (kept > 0) {
        qsort(f, kept, sizeof *f, by_pid);
        fprintf(stderr, "memtrack: %zu more capture%s, of the processes the program started:\n",
                kept, kept == 1 ? "" : "s");
        for (size_t i = 0; i < kept && i < LIST_MAX; i++)
            describe(&f[i]);
        if (kept > LIST_MAX) fprintf(stderr, "  ... and %zu more\n", kept - LIST_MAX);
    }
    for (size_t i = 0; i < kept; i++) {
        free(f[i].path);
        mt__capture_free(f[i].cap);
    }
    free(f);
}
