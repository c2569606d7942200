# frozen_string_literal: true

# Builds the memory_tracker extension: the gem's C files plus memtrack's engine (src/core) and
# capture writer (src/capture/writer.c), compiled into the one shared object with hidden
# visibility, so nothing of the engine is exported.
require "mkmf"

root = File.expand_path("../../../../..", __dir__)
src = File.join(root, "src")
abort "memtrack sources not found at #{src}" unless File.exist?(File.join(src, "core", "engine.h"))

engine = Dir[File.join(src, "core", "*.c")].sort + [File.join(src, "capture", "writer.c")]
own = Dir[File.join(__dir__, "*.c")].sort

$VPATH << File.join(src, "core") << File.join(src, "capture")
$srcs = (own + engine).map { |f| File.basename(f) }
$INCFLAGS << " -I#{src}"
$CFLAGS << " -std=gnu17 -mcx16 -fvisibility=hidden -D_GNU_SOURCE -Wall -Wextra" \
           " -Wno-unused-parameter -Wno-missing-field-initializers"
$CFLAGS << " -Werror" if ENV["MEMTRACK_WERROR"] == "1"
# mkmf's own warning flags are for the Ruby sources; ours are above.
$warnflags = ""
have_func("rb_ext_ractor_safe", "ruby.h")
have_func("rb_postponed_job_preregister", ["ruby.h", "ruby/debug.h"]) # Ruby 3.3+
have_library("pthread")

create_makefile("memory/memory_tracker")
