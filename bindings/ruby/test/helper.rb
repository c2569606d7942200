# frozen_string_literal: true

# Loads the gem from this checkout (lib/, with the extension built into lib/memory/).
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "minitest/autorun"
require "memory/tracker"

module TrackerTestHelper
  # Line number of the first line of this file that contains `marker`.
  def line_of(marker, file = caller_locations(1, 1).first.path)
    File.readlines(file).index { |l| l.include?(marker) } + 1
  end

  # Makes `count` objects of `klass` and keeps none of them.
  def make(klass, count)
    count.times { klass.new }
    nil
  end

  # Runs the block with a fresh capture started, stopping it afterwards.
  def with_capture(**options)
    capture = Memory::Tracker::Capture.new(**options)
    capture.start
    yield capture
  ensure
    capture&.stop
  end
end
