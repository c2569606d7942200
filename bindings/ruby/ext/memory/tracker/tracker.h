/* The Ruby front end of memtrack's engine: what the files of the extension share. A capture
 * owns one engine; Ruby's NEWOBJ/FREEOBJ events feed it from a tracepoint hook that runs no
 * Ruby code and allocates no Ruby object, and the Ruby-level callbacks run later, in event
 * order, from a postponed job. */
#ifndef MT_RB_TRACKER_H
#define MT_RB_TRACKER_H

#include <ruby.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/engine.h"
#include "map.h"

/* How a class is tracked by one capture. */
typedef enum mt_rb_class_state_e {
    MT_RB_CLASS_AUTO = 0,     /* seen while tracking every class; held weakly */
    MT_RB_CLASS_EXPLICIT = 1, /* asked for with track(); held (marked) until untrack() */
    MT_RB_CLASS_IGNORED = 2,  /* untrack()ed: its new objects are not counted; held weakly */
} mt_rb_class_state_t;

/* A Ruby class as one capture knows it: the engine class `id` counts its objects. */
typedef struct mt_rb_class_s {
    VALUE klass;    /* 0 once the class was garbage collected */
    VALUE callback; /* Qnil, or the block given to track() */
    mt_rb_class_state_t state;
    uint32_t id;
} mt_rb_class_t;

/* A callback to run later: an allocation or a free of an object of class `cls`. */
typedef struct mt_rb_event_s {
    uint64_t addr;
    uint32_t cls;
    uint32_t is_free;
} mt_rb_event_t;

/* One interned frame: a frame handle from rb_profile_frames and the line it was at. Its
 * number in the frame table (1 + index) is the frame the engine's call tree stores. */
typedef struct mt_rb_frame_s {
    VALUE handle;
    int line;
} mt_rb_frame_t;

typedef struct mt_rb_frames_s {
    mt_rb_frame_t *v; /* v[i] is frame i + 1 */
    uint32_t n, cap;
    mt_rb_map_t index; /* (handle, line) -> frame number */
} mt_rb_frames_t;

typedef struct mt_rb_capture_s {
    mt_engine_t *engine;
    mt_thread_t *thread; /* all Ruby threads record through one engine thread (the GVL) */
    bool running, track_all;
    bool watching;      /* sees every free: started once, or holding a class weakly */
    unsigned depth;     /* frames for every class (0: count only, paths per class) */
    uint64_t slot_size; /* the bytes counted for each object */

    mt_rb_map_t class_index; /* klass -> engine class id */
    mt_rb_class_t *classes;  /* by engine class id */
    uint32_t nclasses_cap;

    mt_rb_frames_t frames;
    VALUE frame_buf[MT_DEPTH_MAX + 1]; /* rb_profile_frames output, inside the hook only */
    int line_buf[MT_DEPTH_MAX + 1];
    uint64_t path_buf[MT_DEPTH_MAX];

    mt_rb_event_t *events; /* callbacks to run, oldest first, from events[head] */
    size_t nevents, head, events_cap;
    mt_rb_map_t states; /* object address -> the state its :newobj callback returned */
    uint64_t dropped_events;
    uint64_t callback_errors;
    VALUE last_error;

    struct mt_rb_capture_s *next_pending; /* in the list of captures with events to run */
    bool pending;
    bool draining; /* its callbacks are running */
    bool freed;    /* collected while its callbacks ran: freed when they return */
} mt_rb_capture_t;

extern VALUE mt__rb_mMemoryTracker, mt__rb_cCapture;

/* frames.c */
void mt__rb_frames_free(mt_rb_frames_t *f);
/* The frame number of (handle, line), interned if new; 0 without memory. Never allocates a
 * Ruby object (it runs inside the allocation hook). */
uint64_t mt__rb_frames_intern(mt_rb_frames_t *f, VALUE handle, int line);
void mt__rb_frames_mark(const mt_rb_frames_t *f);
void mt__rb_frames_compact(mt_rb_frames_t *f);
/* "label (path:line)". A frame without a source file (a method written in C) takes the path
 * and line of `caller`, the next frame out (0: none), and is just "label" without one. */
VALUE mt__rb_frame_string(const mt_rb_frames_t *f, uint64_t frame, uint64_t caller);
/* Label, path and line of a frame as Ruby values (label and path may be nil). */
void mt__rb_frame_parts(const mt_rb_frames_t *f, uint64_t frame, VALUE *label, VALUE *path,
                        int *line);

/* capture.c */
void mt__rb_capture_init(VALUE mTracker);
/* Between these two, the hooks record no allocation (callbacks, the tracker's own work). */
void mt__rb_untracked_begin(void);
void mt__rb_untracked_end(void);
/* The capture of a Capture object; raises TypeError for anything else. */
mt_rb_capture_t *mt__rb_capture_get(VALUE self);

/* write.c */
void mt__rb_write_init(VALUE cCapture);

#endif
