# frozen_string_literal: true

# Memory::Tracker: finds the Ruby objects a program keeps, by class and by the call path that
# allocated them, on memtrack's engine. See bindings/ruby/README.md.

require_relative "tracker/version"
begin
  require "memory/memory_tracker"
rescue LoadError => e
  raise LoadError, "memory-tracker: its C extension is not built (#{e.message}); " \
                   "build it with `rake compile` in bindings/ruby or with scripts/setup.sh"
end
require_relative "tracker/capture"
require_relative "tracker/call_tree"
require_relative "tracker/sampler"
