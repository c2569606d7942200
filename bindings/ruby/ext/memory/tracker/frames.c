/* The frame table: Ruby frames (a handle from rb_profile_frames and a line) numbered once, so
 * the engine's call tree can store them as plain integers that stay valid when the garbage
 * collector moves the handles. The handles are marked movable and updated after compaction. */
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

#include <ruby/debug.h>

void mt__rb_frames_free(mt_rb_frames_t *f)
{
    free(f->v);
    mt__rb_map_free(&f->index);
    f->v = NULL;
    f->n = f->cap = 0;
}

uint64_t mt__rb_frames_intern(mt_rb_frames_t *f, VALUE handle, int line)
{
    uint64_t key2 = (uint64_t)(uint32_t)line;
    mt_rb_map_entry_t *e = mt__rb_map_find(&f->index, (uint64_t)handle, key2);
    if (e) return e->value;
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 256;
        mt_rb_frame_t *v = realloc(f->v, sizeof(*v) * cap);
        if (!v) return 0;
        f->v = v;
        f->cap = cap;
    }
    uint64_t id = (uint64_t)f->n + 1;
    if (!mt__rb_map_put(&f->index, (uint64_t)handle, key2, id)) return 0;
    f->v[f->n++] = (mt_rb_frame_t){handle, line};
    return id;
}

void mt__rb_frames_mark(const mt_rb_frames_t *f)
{
    for (uint32_t i = 0; i < f->n; i++)
        rb_gc_mark_movable(f->v[i].handle);
}

static void follow(mt_rb_map_entry_t *e, void *ctx)
{
    (void)ctx;
    e->k1 = (uint64_t)rb_gc_location((VALUE)e->k1);
}

void mt__rb_frames_compact(mt_rb_frames_t *f)
{
    for (uint32_t i = 0; i < f->n; i++)
        f->v[i].handle = rb_gc_location(f->v[i].handle);
    mt__rb_map_rekey(&f->index, follow, NULL);
}

/* The frame's label with its method qualified ("block in Foo#bar"). Ruby 3.1's
 * rb_profile_frame_full_label drops the "block in" of blocks inside methods, so the label is
 * put together here from the plain label and the qualified method name. */
static VALUE full_label(VALUE handle)
{
    VALUE label = rb_profile_frame_label(handle);
    VALUE method = rb_profile_frame_method_name(handle);
    VALUE qualified = rb_profile_frame_qualified_method_name(handle);
    if (!RB_TYPE_P(label, T_STRING) || !RB_TYPE_P(method, T_STRING) ||
        !RB_TYPE_P(qualified, T_STRING))
        return rb_profile_frame_full_label(handle);
    long ll = RSTRING_LEN(label), ml = RSTRING_LEN(method);
    if (ll < ml || memcmp(RSTRING_PTR(label) + ll - ml, RSTRING_PTR(method), (size_t)ml) != 0)
        return rb_profile_frame_full_label(handle);
    VALUE s = rb_str_new(RSTRING_PTR(label), ll - ml);
    rb_str_append(s, qualified);
    return s;
}

void mt__rb_frame_parts(const mt_rb_frames_t *f, uint64_t frame, VALUE *label, VALUE *path,
                        int *line)
{
    *label = *path = Qnil;
    *line = 0;
    if (frame == 0 || frame > f->n) return;
    const mt_rb_frame_t *fr = &f->v[frame - 1];
    *label = full_label(fr->handle);
    *path = rb_profile_frame_path(fr->handle);
    *line = fr->line;
    if (!RB_TYPE_P(*label, T_STRING)) *label = Qnil;
    if (!RB_TYPE_P(*path, T_STRING)) *path = Qnil;
}

VALUE mt__rb_frame_string(const mt_rb_frames_t *f, uint64_t frame, uint64_t caller)
{
    VALUE label, path;
    int line;
    mt__rb_frame_parts(f, frame, &label, &path, &line);
    VALUE s = rb_utf8_str_new_cstr(NIL_P(label) ? "?" : "");
    if (!NIL_P(label)) rb_str_cat(s, RSTRING_PTR(label), RSTRING_LEN(label));
    if (NIL_P(path) && caller) {
        /* A method written in C: where its caller called it, as Ruby's backtraces show. */
        VALUE caller_label;
        mt__rb_frame_parts(f, caller, &caller_label, &path, &line);
    }
    if (!NIL_P(path)) rb_str_catf(s, " (%" PRIsVALUE ":%d)", path, line);
    return s;
}
