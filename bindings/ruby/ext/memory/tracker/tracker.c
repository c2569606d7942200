/* The extension's entry point: defines Memory::Tracker and its native classes. */
#include "tracker.h"

VALUE mt__rb_mMemoryTracker;

RUBY_FUNC_EXPORTED void Init_memory_tracker(void)
{
#ifdef HAVE_RB_EXT_RACTOR_SAFE
    rb_ext_ractor_safe(false);
#endif
    VALUE mMemory = rb_define_module("Memory");
    mt__rb_mMemoryTracker = rb_define_module_under(mMemory, "Tracker");
    mt__rb_capture_init(mt__rb_mMemoryTracker);
}
