# frozen_string_literal: true

require_relative "helper"
require "open3"
require "tmpdir"

class TestWrite < Minitest::Test
  include TrackerTestHelper

  class Cache
    def initialize
      @entries = []
    end

    def store(id)
      @entries << {id: id} # STORE: retains the hashes
    end
  end

  # The memtrack command of this checkout's build (MEMTRACK_BIN, set by CTest), if built.
  def memtrack
    bin = ENV["MEMTRACK_BIN"] || File.expand_path("../../../build/memtrack", __dir__)
    File.executable?(bin) ? bin : nil
  end

  def write_capture(dir)
    capture = Memory::Tracker::Capture.new(depth: 8)
    capture.start
    cache = Cache.new
    50.times { |i| cache.store(i) }
    capture.stop
    path = File.join(dir, "ruby.mtc")
    assert_equal path, capture.write(path)
    [path, cache]
  end

  def test_write_produces_a_capture_with_ruby_frames
    Dir.mktmpdir do |dir|
      path, cache = write_capture(dir)
      data = File.binread(path)
      assert_equal "MEMTRACK", data[0, 8]
      assert_includes data, "TestWrite::Cache#store"
      assert_includes data, __FILE__
      assert cache
    end
  end

  def test_memtrack_report_shows_ruby_call_paths_and_classes
    bin = memtrack
    skip "build/memtrack not built (set MEMTRACK_BIN)" unless bin
    Dir.mktmpdir do |dir|
      path, = write_capture(dir)
      out, err, status = Open3.capture3(bin, "report", "--top", "1", path)
      assert status.success?, err
      line = line_of("STORE: retains")
      assert_includes out, "  #1  2.0 KiB (2000 bytes) in 50 blocks\n      TestWrite::Cache#store  #{__FILE__}:#{line}\n"
      assert_match(/^  Hash +50 +0 +50 /, out)
      folded, err, status = Open3.capture3(bin, "folded", path)
      assert status.success?, err
      assert_match(/^\[class Hash\];.*;TestWrite::Cache#store 2000$/, folded)
      svg = File.join(dir, "ruby.svg")
      _, err, status = Open3.capture3(bin, "flamegraph", "-o", svg, path)
      assert status.success?, err
      assert_includes File.read(svg), "TestWrite::Cache#store"
    end
  end

  def test_write_while_running_with_call_paths_for_everything
    bin = memtrack
    skip "build/memtrack not built (set MEMTRACK_BIN)" unless bin
    Dir.mktmpdir do |dir|
      capture = Memory::Tracker::Capture.new(depth: 16)
      capture.start
      kept = Array.new(20) { Cache.new }
      path = File.join(dir, "running.mtc")
      capture.write(path)
      capture.stop
      out, err, status = Open3.capture3(bin, "report", "--format", "json", path)
      assert status.success?, err
      assert_includes out, "TestWrite::Cache"
      assert_equal 20, kept.size
    end
  end

  def test_write_errors
    capture = Memory::Tracker::Capture.new
    assert_raises(Errno::ENOENT) { capture.write("/nonexistent-dir/x.mtc") }
    assert_raises(TypeError) { capture.write(nil) }
  end
end
