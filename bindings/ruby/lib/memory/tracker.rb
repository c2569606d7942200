# frozen_string_literal: true

# Memory::Tracker: finds the Ruby objects a program keeps, by class and by the call path that
# allocated them, on memtrack's engine. See bindings/ruby/README.md.

require_relative "tracker/version"
require "memory/memory_tracker"
require_relative "tracker/capture"
require_relative "tracker/call_tree"
require_relative "tracker/sampler"
