/* Capture#write: the capture file (docs/FORMAT.md) of a Ruby capture, with a SYMBOLS section
 * naming its frames ("label", path, line) so that `memtrack report`, `html` and `flamegraph`
 * show Ruby call paths. The names are gathered from Ruby first; the engine's writer then runs
 * without calling Ruby. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/format.h"
#include "capture/writer.h"
#include "tracker.h"

typedef struct symbol_s {
    char *label, *file;
    uint32_t label_len, file_len, line;
} symbol_t;

typedef struct symbols_s {
    symbol_t *v;
    uint32_t n;
} symbols_t;

static uint64_t put_symbols(mt_wbuf_t *w, void *ctx)
{
    const symbols_t *s = ctx;
    if (!w) {
        uint64_t len = 4;
        for (uint32_t i = 0; i < s->n; i++)
            len += 8 + 4 + s->v[i].label_len + 4 + s->v[i].file_len + 4;
        return len;
    }
    mt__wbuf_u32(w, s->n);
    for (uint32_t i = 0; i < s->n; i++) {
        mt__wbuf_u64(w, (uint64_t)i + 1);
        mt__wbuf_str(w, s->v[i].label, s->v[i].label_len);
        mt__wbuf_str(w, s->v[i].file, s->v[i].file_len);
        mt__wbuf_u32(w, s->v[i].line);
    }
    return 0;
}

static char *copy(VALUE str, uint32_t *len)
{
    if (NIL_P(str)) {
        *len = 0;
        return NULL;
    }
    long n = RSTRING_LEN(str);
    if (n > 4096) n = 4096;
    char *p = malloc((size_t)n + 1);
    if (!p) return NULL;
    memcpy(p, RSTRING_PTR(str), (size_t)n);
    p[n] = '\0';
    *len = (uint32_t)n;
    return p;
}

static void symbols_free(symbols_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        free(s->v[i].label);
        free(s->v[i].file);
    }
    free(s->v);
}

typedef struct write_args_s {
    mt_rb_capture_t *c;
    const char *path;
    symbols_t syms;
    char *cmdline;
    size_t cmdline_len;
    const char *program;
    int err;
} write_args_t;

static VALUE gather(VALUE p)
{
    write_args_t *a = (write_args_t *)p;
    mt_rb_frames_t *f = &a->c->frames;
    uint32_t n = f->n; /* frames interned from here on are not named (none are: no events) */
    a->syms.v = calloc(n ? n : 1, sizeof(symbol_t));
    if (!a->syms.v) rb_memerror();
    for (uint32_t i = 0; i < n; i++) {
        VALUE label, path;
        int line;
        mt__rb_frame_parts(f, (uint64_t)i + 1, &label, &path, &line);
        symbol_t *s = &a->syms.v[i];
        a->syms.n = i + 1;
        s->label = copy(label, &s->label_len);
        s->file = copy(path, &s->file_len);
        if ((!s->label && !NIL_P(label)) || (!s->file && !NIL_P(path))) rb_memerror();
        s->line = line > 0 ? (uint32_t)line : 0;
    }
    VALUE argv = rb_get_argv();
    VALUE args = rb_ary_new_from_args(1, rb_gv_get("$0"));
    rb_ary_concat(args, argv);
    VALUE joined = rb_ary_join(args, rb_str_new("\0", 1));
    uint32_t len = 0;
    a->cmdline = copy(joined, &len);
    a->cmdline_len = a->cmdline ? len : 0;
    a->program = "ruby";
    return Qnil;
}

static VALUE capture_write(VALUE self, VALUE path)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    const char *cpath = StringValueCStr(path);
    write_args_t a = {.c = c, .path = cpath};
    int state = 0;
    /* What gathering the names allocates is not recorded: a frame numbered meanwhile would
     * be in the call tree without a name. */
    mt__rb_untracked_begin();
    rb_protect(gather, (VALUE)&a, &state);
    mt__rb_untracked_end();
    if (!state) {
        mt_capture_info_t info = {
            .pid = (uint64_t)getpid(),
            .end_reason = MT_END_SNAPSHOT,
            .program = a.program,
            .cmdline = a.cmdline,
            .cmdline_len = a.cmdline_len,
            .frame_kind = MT_FRAMES_SYMBOLS,
            .symbols = put_symbols,
            .symbols_ctx = &a.syms,
            .self = c->thread,
        };
        a.err = mt__capture_write(c->engine, cpath, &info);
    }
    symbols_free(&a.syms);
    free(a.cmdline);
    if (state) rb_jump_tag(state);
    if (a.err) rb_syserr_fail_str(a.err, path);
    RB_GC_GUARD(path);
    return path;
}

void mt__rb_write_init(VALUE cCapture)
{
    rb_define_method(cCapture, "write", capture_write, 1);
}
