# frozen_string_literal: true

require_relative "helper"

class TestSampler < Minitest::Test
  include TrackerTestHelper

  Record = Class.new

  def setup
    @cache = []
  end

  # The leak: every call keeps one hash in @cache.
  def handle_request(id)
    @cache << {id: id} # LEAK: the line that retains the hashes
    temporary = {temporary: id} # freed: not retained
    temporary.clear
    nil
  end

  def test_statistics_names_the_line_that_retains_the_hashes
    sampler = Memory::Tracker::Sampler.new(depth: 8)
    sampler.track_with_analysis(Hash)
    sampler.start
    200.times { |i| handle_request(i) }
    GC.start
    stats = sampler.statistics(Hash)
    sampler.stop
    top = stats[:top_paths].first
    assert_equal "TestSampler#handle_request (#{__FILE__}:#{line_of("LEAK: the line")})", top[:path].first
    assert_equal 200, top[:count]
    refute(top[:path].any? { |frame| frame.end_with?(":0)") }, "no frame at line 0: #{top[:path]}")
    assert_equal 200, top[:total_count]
    assert_operator stats[:live_count], :>=, 200
    assert_operator stats[:total_allocations], :>=, 400
    assert_operator stats[:retained_allocations], :>=, 200
    assert_equal 200, stats[:hotspots].fetch(top[:path].first)[:count]
    assert_operator stats[:top_paths].size, :<=, 10
    assert_equal 200, @cache.size
  end

  def test_statistics_of_a_class_never_analysed
    sampler = Memory::Tracker::Sampler.new
    sampler.start
    kept = Array.new(3) { Record.new }
    stats = sampler.statistics(Record)
    assert_equal 3, stats[:live_count]
    assert_equal 0, stats[:total_allocations]
    assert_equal [], stats[:top_paths]
    assert_equal({}, stats[:hotspots])
    assert_equal 3, kept.size
  ensure
    sampler.stop
  end

  def test_sample_starts_analysing_classes_that_keep_growing
    sampler = Memory::Tracker::Sampler.new(depth: 4, increases_threshold: 3)
    sampler.start
    kept = []
    yielded = []
    3.times do
      5.times { kept << Record.new }
      sampler.sample! { |klass| yielded << klass }
    end
    assert sampler.analysing?(Record)
    assert_includes yielded, Record
    assert_equal 3, sampler.samples.fetch(Record).increases
    assert_equal 15, sampler.samples.fetch(Record).current
    5.times { kept << Record.new } # ANALYSED: recorded with call paths
    stats = sampler.statistics(Record)
    assert_equal 20, stats[:live_count]
    assert_equal 5, stats[:retained_allocations]
    # Ruby 3.1's rb_profile_frames names a block's frame after its method; newer Rubies say
    # "block in". The line is the block's either way.
    frame = "TestSampler#test_sample_starts_analysing_classes_that_keep_growing (#{__FILE__}:#{line_of("ANALYSED: recorded")})"
    assert_includes [frame, "block in #{frame}"], stats[:top_paths].first[:path][1]
    refute_includes sampler.sample!, Record # already analysed
  ensure
    sampler.stop
  end

  def test_run_samples_periodically
    sampler = Memory::Tracker::Sampler.new(depth: 2, increases_threshold: 2)
    sampler.start
    kept = []
    grower = Thread.new { 40.times { kept << Record.new; sleep 0.002 } }
    started = []
    sampler.run(interval: 0.03, times: 4) { |klass| started << klass }
    grower.join
    assert_includes started, Record
    assert sampler.analysing?(Record)
  ensure
    sampler.stop
  end

  def test_bad_depth
    assert_raises(ArgumentError) { Memory::Tracker::Sampler.new(depth: 0) }
    assert_raises(ArgumentError) { Memory::Tracker::Sampler.new(depth: 300) }
  end
end
