# frozen_string_literal: true

require_relative "helper"

class TestCompaction < Minitest::Test
  include TrackerTestHelper

  Widget = Class.new
  Gadget = Class.new

  def setup
    skip "GC.compact is not supported here" unless GC.respond_to?(:compact)
  end

  # Objects move; the tracker must still find them when they are freed.
  def test_counts_stay_exact_when_objects_move
    capture = Memory::Tracker::Capture.new(depth: 4)
    capture.start
    make(Gadget, 500) # holes for compaction to fill
    kept = Array.new(300) { Widget.new }
    GC.compact
    assert_equal 300, capture.count_for(Widget)
    kept.pop(0)
    kept = kept.select.with_index { |_, i| i.even? }
    GC.start
    assert_equal 150, capture.count_for(Widget)
    kept = nil
    GC.start
    assert_nil kept
    assert_equal 0, capture.count_for(Widget)
    assert_equal 0, capture.dropped_events
  ensure
    capture.stop
  end

  # Marshal.load allocates all its objects in C, before any callback can run: their events
  # are all queued when the first callback compacts the heap.
  def test_verify_compaction_references_with_events_pending
    data = Marshal.dump(Array.new(50) { Widget.new })
    capture = Memory::Tracker::Capture.new
    frees = []
    pending_at_compaction = nil
    capture.track(Widget) do |_k, event, state|
      if event == :newobj && pending_at_compaction.nil?
        pending_at_compaction = capture.pending_events
        GC.verify_compaction_references(double_heap: true, toward: :empty)
      end
      event == :newobj ? "state" : frees << state
    end
    capture.start
    kept = Marshal.load(data)
    capture.flush
    assert_operator pending_at_compaction, :>=, 49
    assert_equal 50, capture.count_for(Widget)
    kept = nil
    GC.start
    capture.flush
    assert_nil kept
    assert_equal 50, frees.size
    assert_equal ["state"], frees.uniq
    assert_equal 0, capture.count_for(Widget)
  ensure
    capture.stop
  end

  def test_compaction_keeps_classes_and_frames
    capture = Memory::Tracker::Capture.new(track_all: false)
    klass = Class.new
    capture.track(klass, depth: 3)
    capture.start
    kept = Array.new(10) { klass.new } # MARK: compaction site
    GC.verify_compaction_references(double_heap: true, toward: :empty)
    more = Array.new(5) { klass.new }
    assert_equal 15, capture.count_for(klass)
    top = capture.paths(klass).max_by { |p| p[:retained_count] }
    assert_equal 10, top[:retained_count]
    assert_equal "Class#new (#{__FILE__}:#{line_of("MARK: compaction site")})", top[:path].first
    assert_equal 15, kept.size + more.size
  ensure
    capture.stop
  end
end
