# frozen_string_literal: true

require_relative "lib/memory/tracker/version"

Gem::Specification.new do |spec|
  spec.name = "memory-tracker"
  spec.version = Memory::Tracker::VERSION
  spec.summary = "Finds retained Ruby objects by class and allocation site, on memtrack's engine"
  spec.authors = ["memtrack developers"]
  spec.license = "MIT"
  spec.required_ruby_version = ">= 3.1"
  # The extension compiles memtrack's engine (src/core, src/capture) from the checkout, so the
  # gem is built from within the memtrack source tree.
  spec.files = Dir["lib/**/*.rb", "ext/**/*.{c,h,rb}", "README.md"]
  spec.extensions = ["ext/memory/tracker/extconf.rb"]
  spec.require_paths = ["lib"]
end
