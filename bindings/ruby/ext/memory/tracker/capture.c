/* Memory::Tracker::Capture: the allocation hooks, the classes a capture counts, its deferred
 * callbacks and what happens to all of it when the garbage collector compacts the heap.
 *
 * Two process-wide tracepoints feed every capture: NEWOBJ, enabled while some capture runs,
 * and FREEOBJ, enabled while some capture has ever run (a stopped capture still sees the frees
 * of the objects it recorded, so its counts stay exact and the classes it holds weakly are
 * forgotten when they are collected). The hooks run inside the allocator and the garbage
 * collector: they call no Ruby method, allocate no Ruby object and use malloc only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

#include <ruby/debug.h>

VALUE mt__rb_cCapture;
static VALUE tp_new, tp_free;
static ID id_call;
static VALUE sym_newobj, sym_freeobj;

/* The captures the hooks serve. Changed from Ruby methods and from the free function of a
 * collected capture (inside the garbage collector, never inside a hook). */
typedef struct mt_rb_list_s {
    mt_rb_capture_t **v;
    size_t n, cap;
} mt_rb_list_t;
static mt_rb_list_t running, watching;

static mt_rb_capture_t *pending_head; /* captures with callbacks to run */
static bool job_registered;
static void drain_job(void *unused);
static void retire_job(void *unused);

/* The postponed jobs: Ruby 3.3 replaced rb_postponed_job_register_one (deprecated there) with
 * handles registered once and triggered from anywhere, the hooks included. */
enum { JOB_DRAIN, JOB_RETIRE, JOBS };
#ifdef HAVE_RB_POSTPONED_JOB_PREREGISTER
static rb_postponed_job_handle_t job_handles[JOBS];
#endif

static void register_jobs(void)
{
#ifdef HAVE_RB_POSTPONED_JOB_PREREGISTER
    job_handles[JOB_DRAIN] = rb_postponed_job_preregister(0, drain_job, NULL);
    job_handles[JOB_RETIRE] = rb_postponed_job_preregister(0, retire_job, NULL);
    if (job_handles[JOB_DRAIN] == POSTPONED_JOB_HANDLE_INVALID ||
        job_handles[JOB_RETIRE] == POSTPONED_JOB_HANDLE_INVALID)
        rb_raise(rb_eRuntimeError, "memory-tracker: cannot register its postponed jobs");
#endif
}

/* Asks Ruby to run a job at its next safe point; false if it could not be queued. Safe in the
 * allocation hooks and inside the garbage collector. */
static bool schedule(int job)
{
#ifdef HAVE_RB_POSTPONED_JOB_PREREGISTER
    rb_postponed_job_trigger(job_handles[job]);
    return true;
#else
    return rb_postponed_job_register_one(0, job == JOB_DRAIN ? drain_job : retire_job, NULL) != 0;
#endif
}
static int in_callbacks; /* > 0 while callbacks run: what they allocate is not tracked */

void mt__rb_untracked_begin(void)
{
    in_callbacks++;
}

void mt__rb_untracked_end(void)
{
    in_callbacks--;
}

static bool list_add(mt_rb_list_t *l, mt_rb_capture_t *c)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        mt_rb_capture_t **v = realloc(l->v, sizeof(*v) * cap);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = c;
    return true;
}

static void list_remove(mt_rb_list_t *l, mt_rb_capture_t *c)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == c) {
            memmove(&l->v[i], &l->v[i + 1], sizeof(*l->v) * (l->n - i - 1));
            l->n--;
            return;
        }
}

static void pending_remove(mt_rb_capture_t *c)
{
    for (mt_rb_capture_t **p = &pending_head; *p; p = &(*p)->next_pending)
        if (*p == c) {
            *p = c->next_pending;
            break;
        }
    c->pending = false;
    c->next_pending = NULL;
}

/* Switches each tracepoint on or off as the lists now need it (from Ruby methods only). */
static void update_tracepoints(void)
{
    if (running.n && !RTEST(rb_tracepoint_enabled_p(tp_new))) rb_tracepoint_enable(tp_new);
    if (!running.n && RTEST(rb_tracepoint_enabled_p(tp_new))) rb_tracepoint_disable(tp_new);
    if (watching.n && !RTEST(rb_tracepoint_enabled_p(tp_free))) rb_tracepoint_enable(tp_free);
    if (!watching.n && RTEST(rb_tracepoint_enabled_p(tp_free))) rb_tracepoint_disable(tp_free);
}

/* ---- classes */

static mt_rb_class_t *class_at(mt_rb_capture_t *c, uint32_t id)
{
    return &c->classes[id];
}

/* A name for the engine's class of `klass`, without allocating a Ruby object: the class's
 * cached path, or its address for an anonymous class. Made unique among the engine's
 * classes, so two Ruby classes never share counts. */
static bool class_name(mt_rb_capture_t *c, VALUE klass, char *out, size_t cap)
{
    VALUE path = rb_class_path_cached(klass);
    if (RB_TYPE_P(path, T_STRING) && RSTRING_LEN(path) > 0) {
        size_t len = (size_t)RSTRING_LEN(path);
        if (len > 200) len = 200;
        memcpy(out, RSTRING_PTR(path), len);
        out[len] = '\0';
    } else {
        snprintf(out, cap, "#<Class:%p>", (void *)klass);
    }
    uint32_t id;
    if (!mt__class_find(&c->engine->classes, out, &id)) return true;
    size_t base = strlen(out);
    for (unsigned k = 2; k < 1000000; k++) {
        snprintf(out + base, cap - base, " (%u)", k);
        if (!mt__class_find(&c->engine->classes, out, &id)) return true;
    }
    return false;
}

/* Adds klass to the capture; returns its engine class id, 0 without memory. Allocates no Ruby
 * object (the NEWOBJ hook calls it for classes it sees first). */
static uint32_t add_class(mt_rb_capture_t *c, VALUE klass, mt_rb_class_state_t state)
{
    char name[MT_CLASS_NAME_MAX + 1];
    uint32_t id;
    if (!class_name(c, klass, name, sizeof(name)) ||
        mt__class_intern(&c->engine->classes, name, &id) != 0)
        return 0;
    if (id >= c->nclasses_cap) {
        uint32_t cap = c->nclasses_cap ? c->nclasses_cap : 64;
        while (cap <= id)
            cap *= 2;
        mt_rb_class_t *v = realloc(c->classes, sizeof(*v) * cap);
        if (!v) return 0;
        memset(v + c->nclasses_cap, 0, sizeof(*v) * (cap - c->nclasses_cap));
        c->classes = v;
        c->nclasses_cap = cap;
    }
    if (!mt__rb_map_put(&c->class_index, (uint64_t)klass, 0, id)) return 0;
    *class_at(c, id) = (mt_rb_class_t){klass, Qnil, state, id};
    return id;
}

static mt_rb_class_t *find_class(mt_rb_capture_t *c, VALUE klass)
{
    mt_rb_map_entry_t *e = mt__rb_map_find(&c->class_index, (uint64_t)klass, 0);
    return e ? class_at(c, (uint32_t)e->value) : NULL;
}

/* ---- the hooks */

static void queue_event(mt_rb_capture_t *c, uint64_t addr, uint32_t cls, bool is_free)
{
    if (c->nevents == c->events_cap) {
        size_t cap = c->events_cap ? c->events_cap * 2 : 256;
        mt_rb_event_t *v = realloc(c->events, sizeof(*v) * cap);
        if (!v) {
            c->dropped_events++;
            return;
        }
        c->events = v;
        c->events_cap = cap;
    }
    c->events[c->nevents++] = (mt_rb_event_t){addr, cls, is_free};
    if (!c->pending) {
        c->pending = true;
        c->next_pending = pending_head;
        pending_head = c;
    }
    if (!job_registered) {
        job_registered = schedule(JOB_DRAIN);
    }
}

/* Objects the VM keeps for itself, never instances a program sees. */
static bool internal_object(VALUE obj)
{
    switch (RB_BUILTIN_TYPE(obj)) {
    case RUBY_T_NONE:
    case RUBY_T_IMEMO:
#ifdef T_NODE /* gone in newer Rubies */
    case RUBY_T_NODE:
#endif
    case RUBY_T_ICLASS:
    case RUBY_T_ZOMBIE:
    case RUBY_T_MOVED:
        return true;
    default:
        return false;
    }
}

static void record_new(mt_rb_capture_t *c, VALUE obj, VALUE klass)
{
    mt_rb_class_t *k = find_class(c, klass);
    uint32_t cls;
    if (k) {
        if (k->state == MT_RB_CLASS_IGNORED) return;
        cls = k->id;
    } else {
        if (!c->track_all) return;
        cls = add_class(c, klass, MT_RB_CLASS_AUTO);
        if (!cls) {
            c->dropped_events++;
            return;
        }
    }
    unsigned depth = mt__engine_depth(c->engine, cls), n = 0;
    if (depth) {
        /* One frame more than kept, to know whether the path was cut. */
        int got = rb_profile_frames(0, (int)depth + 1, c->frame_buf, c->line_buf);
        if (got > (int)depth) {
            mt__engine_note_truncated(c->engine);
            got = (int)depth;
        } else if (got > 1 && c->line_buf[got - 1] == 0 &&
                   !NIL_P(rb_profile_frame_path(c->frame_buf[got - 1]))) {
            /* The main script's outermost frame, which Ruby reports a second time at line 0
             * (a method written in C, the only other frame at line 0, has no path). */
            got--;
        }
        for (int i = 0; i < got; i++) {
            uint64_t f = mt__rb_frames_intern(&c->frames, c->frame_buf[i], c->line_buf[i]);
            if (!f) break; /* out of memory: the path is cut here */
            c->path_buf[n++] = f;
        }
    }
    mt__engine_alloc(c->thread, (uint64_t)obj, c->slot_size, cls, c->path_buf, n);
    if (!NIL_P(class_at(c, cls)->callback)) queue_event(c, (uint64_t)obj, cls, false);
}

static void on_newobj(VALUE tpval, void *data)
{
    (void)data;
    if (in_callbacks) return;
    VALUE obj = rb_tracearg_object(rb_tracearg_from_tracepoint(tpval));
    if (internal_object(obj) || RBASIC_CLASS(obj) == 0) return;
    VALUE klass = rb_class_real(RBASIC_CLASS(obj));
    if (!klass) return;
    for (size_t i = 0; i < running.n; i++)
        record_new(running.v[i], obj, klass);
}

static void record_free(mt_rb_capture_t *c, VALUE obj, bool is_class, bool hidden)
{
    if (is_class) {
        /* A class held weakly was collected: forget it (its counts stay, under its id). */
        uint64_t id;
        if (mt__rb_map_remove(&c->class_index, (uint64_t)obj, 0, &id))
            class_at(c, (uint32_t)id)->klass = 0;
    }
    mt_block_t b;
    if (!mt__engine_take(c->thread, (uint64_t)obj, &b)) {
        if (!hidden) mt__engine_unknown_free(c->thread);
        return;
    }
    mt__engine_free_taken(c->thread, &b);
    if (!NIL_P(class_at(c, b.cls)->callback) ||
        (c->states.count && mt__rb_map_find(&c->states, (uint64_t)obj, 0)))
        queue_event(c, (uint64_t)obj, b.cls, true);
}

static void on_freeobj(VALUE tpval, void *data)
{
    (void)data;
    VALUE obj = rb_tracearg_object(rb_tracearg_from_tracepoint(tpval));
    if (internal_object(obj)) return;
    bool is_class = RB_BUILTIN_TYPE(obj) == RUBY_T_CLASS;
    bool hidden = RBASIC_CLASS(obj) == 0;
    for (size_t i = 0; i < watching.n; i++)
        record_free(watching.v[i], obj, is_class, hidden);
}

/* ---- callbacks, run later */

typedef struct cb_args_s {
    VALUE callback, klass, event, state;
} cb_args_t;

static VALUE call_callback(VALUE p)
{
    cb_args_t *a = (cb_args_t *)p;
    return rb_funcall(a->callback, id_call, 3, a->klass, a->event, a->state);
}

/* Calls the block; an exception it raises is counted and kept as last_error, and the
 * remaining events still run. */
static VALUE run_callback(mt_rb_capture_t *c, cb_args_t *a, bool *ok)
{
    int status = 0;
    VALUE r = rb_protect(call_callback, (VALUE)a, &status);
    *ok = status == 0;
    if (status) {
        VALUE err = rb_errinfo();
        rb_set_errinfo(Qnil);
        c->callback_errors++;
        if (rb_obj_is_kind_of(err, rb_eException)) c->last_error = err;
        return Qnil;
    }
    return r;
}

static void run_event(mt_rb_capture_t *c, mt_rb_event_t ev)
{
    mt_rb_class_t *k = class_at(c, ev.cls);
    cb_args_t a = {k->callback, k->klass ? k->klass : Qnil, Qnil, Qnil};
    bool ok;
    if (!ev.is_free) {
        if (NIL_P(a.callback)) return;
        a.event = sym_newobj;
        VALUE state = run_callback(c, &a, &ok);
        if (ok && !NIL_P(state) && !mt__rb_map_put(&c->states, ev.addr, 0, (uint64_t)state))
            c->dropped_events++;
        RB_GC_GUARD(state);
    } else {
        uint64_t state = Qnil;
        mt__rb_map_remove(&c->states, ev.addr, 0, &state);
        if (NIL_P(a.callback)) return;
        a.event = sym_freeobj;
        a.state = (VALUE)state;
        run_callback(c, &a, &ok);
    }
    RB_GC_GUARD(a.callback);
    RB_GC_GUARD(a.klass);
    RB_GC_GUARD(a.state);
}

static void capture_release(mt_rb_capture_t *c);

/* Runs c's queued callbacks in the order of their events, including those queued meanwhile
 * (frees caused by the garbage collector running inside a callback). */
static void drain(mt_rb_capture_t *c)
{
    if (c->draining) return;
    c->draining = true;
    in_callbacks++;
    while (c->head < c->nevents && !c->freed) {
        mt_rb_event_t ev = c->events[c->head++];
        run_event(c, ev);
    }
    in_callbacks--;
    c->draining = false;
    if (c->freed) {
        capture_release(c);
        return;
    }
    c->head = c->nevents = 0;
    if (c->pending) pending_remove(c);
}

static void drain_job(void *unused)
{
    (void)unused;
    job_registered = false;
    while (pending_head) {
        mt_rb_capture_t *c = pending_head;
        pending_head = c->next_pending;
        c->pending = false;
        c->next_pending = NULL;
        drain(c);
    }
}

/* ---- the Ruby object */

static void capture_mark(void *p)
{
    mt_rb_capture_t *c = p;
    for (uint32_t id = 1; id < c->nclasses_cap; id++) {
        mt_rb_class_t *k = class_at(c, id);
        if (k->klass && k->state == MT_RB_CLASS_EXPLICIT) rb_gc_mark_movable(k->klass);
        if (k->klass || k->id) rb_gc_mark_movable(k->callback);
    }
    mt__rb_frames_mark(&c->frames);
    if (c->states.count)
        for (size_t i = 0; i <= c->states.mask; i++)
            if (c->states.slots[i].k1) rb_gc_mark_movable((VALUE)c->states.slots[i].value);
    rb_gc_mark_movable(c->last_error);
}

static void follow_key(mt_rb_map_entry_t *e, void *ctx)
{
    (void)ctx;
    e->k1 = (uint64_t)rb_gc_location((VALUE)e->k1);
}

static void follow_state(mt_rb_map_entry_t *e, void *ctx)
{
    (void)ctx;
    e->k1 = (uint64_t)rb_gc_location((VALUE)e->k1);
    e->value = (uint64_t)rb_gc_location((VALUE)e->value);
}

typedef struct moved_s {
    mt_block_t *v;
    size_t n, cap;
    bool failed;
} moved_t;

static void note_moved(const mt_block_t *b, void *ctx)
{
    moved_t *m = ctx;
    if ((uint64_t)rb_gc_location((VALUE)b->addr) == b->addr) return;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        mt_block_t *v = realloc(m->v, sizeof(*v) * cap);
        if (!v) {
            m->failed = true;
            return;
        }
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = *b;
}

/* The objects the engine knows moved: take them all out first, then put them back under
 * their new addresses (one may have moved to where another was). */
static void compact_live(mt_rb_capture_t *c)
{
    moved_t m = {0};
    mt_live_t *live = &c->engine->live;
    for (unsigned i = 0; i < MT_SHARDS; i++)
        mt__shard_foreach(&live->shards[i], note_moved, &m);
    mt_block_t b;
    for (size_t i = 0; i < m.n; i++)
        mt__engine_take(c->thread, m.v[i].addr, &b);
    for (size_t i = 0; i < m.n; i++) {
        m.v[i].addr = (uint64_t)rb_gc_location((VALUE)m.v[i].addr);
        mt__engine_put_back(c->thread, &m.v[i]);
    }
    if (m.failed) c->dropped_events++;
    free(m.v);
}

static void capture_compact(void *p)
{
    mt_rb_capture_t *c = p;
    for (uint32_t id = 1; id < c->nclasses_cap; id++) {
        mt_rb_class_t *k = class_at(c, id);
        if (k->klass) k->klass = rb_gc_location(k->klass);
        if (k->klass || k->id) k->callback = rb_gc_location(k->callback);
    }
    mt__rb_map_rekey(&c->class_index, follow_key, NULL);
    mt__rb_frames_compact(&c->frames);
    mt__rb_map_rekey(&c->states, follow_state, NULL);
    for (size_t i = c->head; i < c->nevents; i++)
        c->events[i].addr = (uint64_t)rb_gc_location((VALUE)c->events[i].addr);
    c->last_error = rb_gc_location(c->last_error);
    if (c->thread) compact_live(c);
}

static void capture_release(mt_rb_capture_t *c)
{
    if (c->engine) mt__engine_destroy(c->engine);
    mt__rb_map_free(&c->class_index);
    mt__rb_map_free(&c->states);
    mt__rb_frames_free(&c->frames);
    free(c->classes);
    free(c->events);
    free(c);
}

/* Switches off the hooks no capture needs any more, at a safe point after the garbage
 * collector freed the last capture that needed them. */
static void retire_job(void *unused)
{
    (void)unused;
    update_tracepoints();
}

static void capture_free(void *p)
{
    mt_rb_capture_t *c = p;
    list_remove(&running, c);
    list_remove(&watching, c);
    if (!running.n || !watching.n) schedule(JOB_RETIRE);
    if (c->pending) pending_remove(c);
    if (c->draining) {
        c->freed = true; /* drain() releases it when the callback returns */
        return;
    }
    capture_release(c);
}

static size_t capture_memsize(const void *p)
{
    const mt_rb_capture_t *c = p;
    return sizeof(*c) + sizeof(mt_rb_class_t) * c->nclasses_cap +
           sizeof(mt_rb_event_t) * c->events_cap +
           sizeof(mt_rb_map_entry_t) * (c->class_index.mask + c->states.mask) +
           sizeof(mt_rb_frame_t) * c->frames.cap + (c->engine ? mt__engine_memory(c->engine) : 0);
}

static const rb_data_type_t capture_type = {
    .wrap_struct_name = "Memory::Tracker::Capture",
    .function =
        {
            .dmark = capture_mark,
            .dfree = capture_free,
            .dsize = capture_memsize,
            .dcompact = capture_compact,
        },
    /* Not write-barrier protected: the capture stores Ruby references from C (callbacks,
     * states) and is therefore marked in full at every GC. */
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

mt_rb_capture_t *mt__rb_capture_get(VALUE self)
{
    mt_rb_capture_t *c = rb_check_typeddata(self, &capture_type);
    if (!c->engine) rb_raise(rb_eRuntimeError, "uninitialized Memory::Tracker::Capture");
    return c;
}

static VALUE capture_alloc(VALUE klass)
{
    mt_rb_capture_t *c = calloc(1, sizeof(*c));
    if (!c) rb_memerror();
    c->last_error = Qnil;
    return TypedData_Wrap_Struct(klass, &capture_type, c);
}

static VALUE capture_init_copy(VALUE self, VALUE orig)
{
    (void)self;
    (void)orig;
    rb_raise(rb_eTypeError, "a Memory::Tracker::Capture cannot be copied");
    return Qnil;
}

/* Capture#_setup(depth, track_all, slot_size), called by initialize (lib/). */
static VALUE capture_setup(VALUE self, VALUE depth, VALUE track_all, VALUE slot_size)
{
    mt_rb_capture_t *c = rb_check_typeddata(self, &capture_type);
    if (c->engine) rb_raise(rb_eRuntimeError, "capture already initialized");
    long d = NUM2LONG(depth);
    if (d < 0 || d > MT_DEPTH_MAX)
        rb_raise(rb_eArgError, "depth must be between 0 and %d, got %ld", MT_DEPTH_MAX, d);
    mt_config_t cfg = {d ? (unsigned)d : MT_DEPTH_DEFAULT, d ? MT_MODE_FULL : MT_MODE_COUNT};
    c->engine = mt__engine_create(&cfg);
    if (!c->engine) rb_raise(rb_eNoMemError, "memory-tracker: no memory for the engine");
    c->thread = mt__thread_attach(c->engine, mt__os_tid());
    if (!c->thread) rb_raise(rb_eNoMemError, "memory-tracker: no memory for the engine");
    mt__thread_set_name(c->thread, "ruby");
    c->depth = (unsigned)d;
    c->track_all = RTEST(track_all);
    c->slot_size = NUM2ULL(slot_size);
    return self;
}

/* From now on c sees every free: it must, to forget the classes it holds weakly when they are
 * collected, and to keep its counts exact. */
static void watch(mt_rb_capture_t *c)
{
    if (c->watching) return;
    if (!list_add(&watching, c)) rb_memerror();
    c->watching = true;
    update_tracepoints();
}

static VALUE capture_start(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    if (c->running) return Qfalse;
    watch(c);
    if (!list_add(&running, c)) rb_memerror();
    c->running = true;
    update_tracepoints();
    return Qtrue;
}

static VALUE capture_stop(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    if (!c->running) return Qfalse;
    list_remove(&running, c);
    c->running = false;
    update_tracepoints();
    drain(c);
    return Qtrue;
}

static VALUE capture_running_p(VALUE self)
{
    return mt__rb_capture_get(self)->running ? Qtrue : Qfalse;
}

static VALUE capture_flush(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    size_t n = c->nevents - c->head;
    drain(c);
    return SIZET2NUM(n);
}

static void check_class(VALUE klass, const char *method)
{
    if (!RB_TYPE_P(klass, T_CLASS))
        rb_raise(rb_eTypeError, "%s expects a Class, got %" PRIsVALUE " (%" PRIsVALUE ")", method,
                 rb_inspect(klass), rb_obj_class(klass));
}

/* Capture#_track(klass, depth, callback) */
static VALUE capture_track(VALUE self, VALUE klass, VALUE depth, VALUE callback)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    check_class(klass, "track");
    long d = NIL_P(depth) ? 0 : NUM2LONG(depth);
    if (d < 0 || d > MT_DEPTH_MAX)
        rb_raise(rb_eArgError, "depth must be between 0 and %d, got %ld", MT_DEPTH_MAX, d);
    if (!NIL_P(callback) && !rb_respond_to(callback, id_call))
        rb_raise(rb_eTypeError, "the callback must respond to #call");
    mt_rb_class_t *k = find_class(c, klass);
    if (!k) {
        uint32_t id = add_class(c, klass, MT_RB_CLASS_EXPLICIT);
        if (!id) rb_memerror();
        k = class_at(c, id);
    }
    k->state = MT_RB_CLASS_EXPLICIT;
    k->callback = callback;
    mt_store_relaxed(&mt__class_at(&c->engine->classes, k->id)->depth, (uint32_t)d);
    return klass;
}

static VALUE capture_untrack(VALUE self, VALUE klass)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    check_class(klass, "untrack");
    mt_rb_class_t *k = find_class(c, klass);
    bool was = k ? k->state != MT_RB_CLASS_IGNORED : c->track_all;
    watch(c); /* the class is now held weakly */
    if (!k) {
        uint32_t id = add_class(c, klass, MT_RB_CLASS_IGNORED);
        if (!id) rb_memerror();
        k = class_at(c, id);
    }
    k->state = MT_RB_CLASS_IGNORED;
    k->callback = Qnil;
    mt_store_relaxed(&mt__class_at(&c->engine->classes, k->id)->depth, 0);
    return was ? Qtrue : Qfalse;
}

static VALUE capture_tracking_p(VALUE self, VALUE klass)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    check_class(klass, "tracking?");
    mt_rb_class_t *k = find_class(c, klass);
    if (!k) return c->track_all ? Qtrue : Qfalse;
    return k->state != MT_RB_CLASS_IGNORED ? Qtrue : Qfalse;
}

static VALUE capture_track_all_p(VALUE self)
{
    return mt__rb_capture_get(self)->track_all ? Qtrue : Qfalse;
}

static VALUE capture_set_track_all(VALUE self, VALUE on)
{
    mt__rb_capture_get(self)->track_all = RTEST(on);
    return on;
}

static VALUE capture_depth(VALUE self)
{
    return UINT2NUM(mt__rb_capture_get(self)->depth);
}

static VALUE capture_depth_for(VALUE self, VALUE klass)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    check_class(klass, "depth_for");
    mt_rb_class_t *k = find_class(c, klass);
    unsigned d = k ? mt__engine_depth(c->engine, k->id) : c->depth;
    return UINT2NUM(d);
}

static void counts_of(mt_rb_capture_t *c, uint32_t id, mt_class_counts_t *out)
{
    mt__engine_class_counts(c->engine, id, out);
}

static VALUE capture_count_for(VALUE self, VALUE klass)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    check_class(klass, "count_for");
    mt_rb_class_t *k = find_class(c, klass);
    if (!k) return INT2FIX(0);
    mt_class_counts_t n;
    counts_of(c, k->id, &n);
    return ULL2NUM(n.new_count > n.free_count ? n.new_count - n.free_count : 0);
}

/* Capture#_counts_for(klass): [new_count, free_count, new_bytes, free_bytes] */
static VALUE capture_counts_for(VALUE self, VALUE klass)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    check_class(klass, "counts_for");
    mt_rb_class_t *k = find_class(c, klass);
    mt_class_counts_t n = {0};
    if (k) counts_of(c, k->id, &n);
    return rb_ary_new_from_args(4, ULL2NUM(n.new_count), ULL2NUM(n.free_count),
                                ULL2NUM(n.new_bytes), ULL2NUM(n.free_bytes));
}

static void totals_of(mt_rb_capture_t *c, mt_totals_t *t)
{
    mt__engine_totals(c->engine, mt__engine_now(c->engine), t);
}

static VALUE capture_new_count(VALUE self)
{
    mt_totals_t t;
    totals_of(mt__rb_capture_get(self), &t);
    return ULL2NUM(t.allocations);
}

static VALUE capture_free_count(VALUE self)
{
    mt_totals_t t;
    totals_of(mt__rb_capture_get(self), &t);
    return ULL2NUM(t.frees);
}

static VALUE capture_retained_count(VALUE self)
{
    mt_totals_t t;
    totals_of(mt__rb_capture_get(self), &t);
    return ULL2NUM(t.allocations > t.frees ? t.allocations - t.frees : 0);
}

/* Capture#peak: the most objects the counted classes had live at once (in bytes too) and when,
 * in seconds since the capture was made (or last cleared). */
static VALUE capture_peak(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    uint64_t current, peak, at_ns;
    mt__engine_peak(c->engine, mt__engine_now(c->engine), &current, &peak, &at_ns);
    VALUE h = rb_hash_new();
    rb_hash_aset(h, ID2SYM(rb_intern("count")), ULL2NUM(c->slot_size ? peak / c->slot_size : 0));
    rb_hash_aset(h, ID2SYM(rb_intern("bytes")), ULL2NUM(peak));
    rb_hash_aset(h, ID2SYM(rb_intern("seconds")), DBL2NUM((double)at_ns / 1e9));
    return h;
}

static VALUE capture_unknown_free_count(VALUE self)
{
    mt_totals_t t;
    totals_of(mt__rb_capture_get(self), &t);
    return ULL2NUM(t.unknown_frees);
}

/* Capture#_each_class { |klass, new_count, free_count| }: the classes still alive. */
static VALUE capture_each_class(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    for (uint32_t id = 1; id < c->nclasses_cap; id++) {
        /* Re-read every time: the block may make the hooks add classes (realloc). */
        VALUE klass = class_at(c, id)->klass;
        if (!klass) continue;
        mt_class_counts_t n;
        counts_of(c, id, &n);
        rb_yield_values(3, klass, ULL2NUM(n.new_count), ULL2NUM(n.free_count));
        RB_GC_GUARD(klass);
    }
    return self;
}

static VALUE capture_clear(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    if (c->running) rb_raise(rb_eRuntimeError, "cannot clear a running capture: call stop first");
    drain(c);
    if (mt__engine_clear(c->engine) != 0) rb_raise(rb_eNoMemError, "memory-tracker: clear failed");
    mt__rb_map_clear(&c->states);
    c->head = c->nevents = 0;
    c->dropped_events = 0;
    return self;
}

/* Capture#_paths(klass): every call path recorded for klass (not the allocations counted
 * without one), as
 * [[frame, ...innermost first], allocations, live_count, live_bytes]. */
static VALUE capture_paths(VALUE self, VALUE klass)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    check_class(klass, "paths");
    VALUE result = rb_ary_new();
    mt_rb_class_t *k = find_class(c, klass);
    if (!k) return result;
    size_t max = mt__tree_count(&c->engine->tree), count = 0;
    mt_path_figs_t *figs = malloc(sizeof(*figs) * (max ? max : 1));
    uint64_t *frames = malloc(sizeof(*frames) * MT_DEPTH_MAX);
    if (!figs || !frames ||
        mt__engine_top_paths(c->engine, k->id, figs, max, &count, c->thread->self) != 0) {
        free(figs);
        free(frames);
        rb_memerror();
    }
    for (size_t i = 0; i < count; i++) {
        unsigned n = mt__engine_path_frames(c->engine, figs[i].node, frames, MT_DEPTH_MAX);
        if (n == 0) continue; /* allocations counted without a call path */
        VALUE path = rb_ary_new_capa(n);
        for (unsigned f = 0; f < n; f++)
            rb_ary_push(path,
                        mt__rb_frame_string(&c->frames, frames[f], f + 1 < n ? frames[f + 1] : 0));
        rb_ary_push(result, rb_ary_new_from_args(4, path, ULL2NUM(figs[i].allocations),
                                                 ULL2NUM(figs[i].live_blocks),
                                                 ULL2NUM(figs[i].live_bytes)));
    }
    free(figs);
    free(frames);
    return result;
}

static VALUE capture_dropped_events(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    return ULL2NUM(c->dropped_events + mt_load_relaxed(&c->engine->dropped));
}

static VALUE capture_callback_errors(VALUE self)
{
    return ULL2NUM(mt__rb_capture_get(self)->callback_errors);
}

static VALUE capture_last_error(VALUE self)
{
    return mt__rb_capture_get(self)->last_error;
}

static VALUE untracked_end(VALUE unused)
{
    (void)unused;
    in_callbacks--;
    return Qnil;
}

/* Memory::Tracker.untracked { }: runs the block without tracking what it allocates. */
static VALUE tracker_untracked(VALUE mod)
{
    (void)mod;
    in_callbacks++;
    return rb_ensure(rb_yield, Qnil, untracked_end, Qnil);
}

/* Memory::Tracker.hooks: {newobj: bool, freeobj: bool}, whether each hook is switched on. */
static VALUE tracker_hooks(VALUE mod)
{
    (void)mod;
    VALUE h = rb_hash_new();
    rb_hash_aset(h, ID2SYM(rb_intern("newobj")), rb_tracepoint_enabled_p(tp_new));
    rb_hash_aset(h, ID2SYM(rb_intern("freeobj")), rb_tracepoint_enabled_p(tp_free));
    return h;
}

static VALUE capture_pending_events(VALUE self)
{
    mt_rb_capture_t *c = mt__rb_capture_get(self);
    return SIZET2NUM(c->nevents - c->head);
}

void mt__rb_capture_init(VALUE mTracker)
{
    id_call = rb_intern("call");
    sym_newobj = ID2SYM(rb_intern("newobj"));
    sym_freeobj = ID2SYM(rb_intern("freeobj"));
    register_jobs();
    tp_new = rb_tracepoint_new(0, RUBY_INTERNAL_EVENT_NEWOBJ, on_newobj, NULL);
    rb_gc_register_mark_object(tp_new);
    tp_free = rb_tracepoint_new(0, RUBY_INTERNAL_EVENT_FREEOBJ, on_freeobj, NULL);
    rb_gc_register_mark_object(tp_free);

    rb_define_module_function(mTracker, "untracked", tracker_untracked, 0);
    rb_define_module_function(mTracker, "hooks", tracker_hooks, 0);
    mt__rb_cCapture = rb_define_class_under(mTracker, "Capture", rb_cObject);
    rb_define_alloc_func(mt__rb_cCapture, capture_alloc);
    rb_define_private_method(mt__rb_cCapture, "_setup", capture_setup, 3);
    rb_define_method(mt__rb_cCapture, "initialize_copy", capture_init_copy, 1);
    rb_define_method(mt__rb_cCapture, "start", capture_start, 0);
    rb_define_method(mt__rb_cCapture, "stop", capture_stop, 0);
    rb_define_method(mt__rb_cCapture, "running?", capture_running_p, 0);
    rb_define_method(mt__rb_cCapture, "flush", capture_flush, 0);
    rb_define_private_method(mt__rb_cCapture, "_track", capture_track, 3);
    rb_define_method(mt__rb_cCapture, "untrack", capture_untrack, 1);
    rb_define_method(mt__rb_cCapture, "tracking?", capture_tracking_p, 1);
    rb_define_method(mt__rb_cCapture, "track_all?", capture_track_all_p, 0);
    rb_define_method(mt__rb_cCapture, "track_all=", capture_set_track_all, 1);
    rb_define_method(mt__rb_cCapture, "depth", capture_depth, 0);
    rb_define_method(mt__rb_cCapture, "depth_for", capture_depth_for, 1);
    rb_define_method(mt__rb_cCapture, "count_for", capture_count_for, 1);
    rb_define_private_method(mt__rb_cCapture, "_counts_for", capture_counts_for, 1);
    rb_define_method(mt__rb_cCapture, "new_count", capture_new_count, 0);
    rb_define_method(mt__rb_cCapture, "free_count", capture_free_count, 0);
    rb_define_method(mt__rb_cCapture, "retained_count", capture_retained_count, 0);
    rb_define_method(mt__rb_cCapture, "unknown_free_count", capture_unknown_free_count, 0);
    rb_define_method(mt__rb_cCapture, "peak", capture_peak, 0);
    rb_define_private_method(mt__rb_cCapture, "_each_class", capture_each_class, 0);
    rb_define_method(mt__rb_cCapture, "clear", capture_clear, 0);
    rb_define_private_method(mt__rb_cCapture, "_paths", capture_paths, 1);
    rb_define_method(mt__rb_cCapture, "dropped_events", capture_dropped_events, 0);
    rb_define_method(mt__rb_cCapture, "callback_errors", capture_callback_errors, 0);
    rb_define_method(mt__rb_cCapture, "last_error", capture_last_error, 0);
    rb_define_method(mt__rb_cCapture, "pending_events", capture_pending_events, 0);
    mt__rb_write_init(mt__rb_cCapture);
}
