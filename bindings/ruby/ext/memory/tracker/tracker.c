/* The extension's entry point: defines Memory::Tracker and its native classes. */
#include "tracker.h"

VALUE rt_mMemoryTracker;

RUBY_FUNC_EXPORTED void Init_memory_tracker(void)
{
#ifdef HAVE_RB_EXT_RACTOR_SAFE
    rb_ext_ractor_safe(false);
#endif
    VALUE mMemory = rb_define_module("Memory");
    rt_mMemoryTracker = rb_define_module_under(mMemory, "Tracker");
    rt_capture_init(rt_mMemoryTracker);
}
