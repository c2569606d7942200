# frozen_string_literal: true

require_relative "helper"

class TestCapture < Minitest::Test
  include TrackerTestHelper

  Widget = Class.new
  Gadget = Class.new

  def garbage(count)
    count.times { Widget.new }
    nil
  end

  def test_start_and_stop_say_whether_the_state_changed
    capture = Memory::Tracker::Capture.new
    refute capture.running?
    assert_equal true, capture.start
    assert_equal false, capture.start
    assert capture.running?
    assert_equal true, capture.stop
    assert_equal false, capture.stop
    refute capture.running?
  end

  def test_count_for_counts_live_objects_of_a_class
    with_capture do |capture|
      kept = Array.new(15) { Widget.new }
      garbage(10)
      assert_equal 25, capture[Widget].new_count
      # 25 live unless a GC ran meanwhile (always, under GC.stress).
      assert_includes [15, 25], capture.count_for(Widget)
      GC.start
      assert_equal 15, capture.count_for(Widget)
      assert_equal 25, capture[Widget].new_count
      assert_equal 10, capture[Widget].free_count
      assert_equal 15, capture[Widget].retained_count
      assert_equal 0, capture.count_for(Gadget)
      kept.clear
    end
  end

  def test_objects_allocated_before_start_never_make_counts_negative
    before = Array.new(50) { Widget.new }
    capture = Memory::Tracker::Capture.new
    capture.start
    after = Array.new(5) { Widget.new }
    before = nil
    GC.start
    assert_nil before
    assert_equal 5, capture.count_for(Widget)
    assert_equal 0, capture[Widget].free_count
    assert_operator capture.unknown_free_count, :>=, 50
    assert_equal 5, after.size
  ensure
    capture.stop
  end

  def test_totals
    with_capture(track_all: false) do |capture|
      capture.track(Widget)
      kept = Array.new(7) { Widget.new }
      3.times { Widget.new }
      GC.start
      assert_equal 10, capture.new_count
      assert_equal 3, capture.free_count
      assert_equal 7, capture.retained_count
      assert_equal 7, kept.size
    end
  end

  def test_two_captures_at_once
    first = Memory::Tracker::Capture.new
    second = Memory::Tracker::Capture.new(track_all: false)
    second.track(Gadget)
    first.start
    a = Array.new(4) { Widget.new }
    second.start
    b = Array.new(6) { Gadget.new }
    first.stop
    c = Array.new(2) { Gadget.new }
    assert_equal 4, first.count_for(Widget)
    assert_equal 6, first.count_for(Gadget)
    assert_equal 0, second.count_for(Widget)
    assert_equal 8, second.count_for(Gadget)
    b = c = nil
    GC.start
    # The stopped capture still sees the frees of what it counted.
    assert_equal 0, first.count_for(Gadget)
    assert_equal 0, second.count_for(Gadget)
    assert_equal 4, first.count_for(Widget)
    assert_nil b
    assert_nil c
    assert_equal 4, a.size
  ensure
    first.stop
    second.stop
  end

  def test_track_untrack_and_tracking
    capture = Memory::Tracker::Capture.new(track_all: false)
    refute capture.tracking?(Widget)
    assert_equal Widget, capture.track(Widget)
    assert capture.tracking?(Widget)
    capture.start
    kept = [Widget.new, Widget.new, Gadget.new]
    assert_equal 2, capture.count_for(Widget)
    assert_equal 0, capture.count_for(Gadget)
    assert_equal true, capture.untrack(Widget)
    refute capture.tracking?(Widget)
    kept << Widget.new
    assert_equal 2, capture.count_for(Widget)
    assert_equal false, capture.untrack(Widget)
    assert_equal 4, kept.size
  ensure
    capture.stop
  end

  def test_track_all_tracks_every_class_and_can_be_switched_off
    capture = Memory::Tracker::Capture.new
    assert capture.track_all?
    assert capture.tracking?(Gadget)
    capture.track_all = false
    refute capture.tracking?(Gadget)
    capture.start
    kept = [Gadget.new]
    assert_equal 0, capture.count_for(Gadget)
    capture.track_all = true
    kept << Gadget.new
    assert_equal 1, capture.count_for(Gadget)
  ensure
    capture.stop
  end

  def test_each_yields_classes_with_their_counts
    with_capture do |capture|
      kept = Array.new(3) { Gadget.new }
      seen = capture.each.to_h
      assert_equal 3, seen.fetch(Gadget).new_count
      assert_equal 0, seen.fetch(Gadget).free_count
      assert_equal 3, seen.fetch(Gadget).retained_count
      assert_equal 3 * Memory::Tracker::Capture::SLOT_SIZE, seen.fetch(Gadget).new_bytes
      assert_equal 3, kept.size
    end
  end

  def test_clear_raises_while_running_and_forgets_counts_when_stopped
    capture = Memory::Tracker::Capture.new
    capture.start
    kept = Array.new(3) { Widget.new }
    error = assert_raises(RuntimeError) { capture.clear }
    assert_match(/running capture/, error.message)
    capture.stop
    capture.clear
    assert_equal 0, capture.count_for(Widget)
    assert_equal 0, capture.new_count
    kept = nil
    GC.start
    assert_nil kept
    assert_equal 0, capture.count_for(Widget)
    assert_equal 0, capture.free_count
  end

  def test_bad_arguments
    capture = Memory::Tracker::Capture.new
    error = assert_raises(TypeError) { capture.track("Hash") }
    assert_equal 'track expects a Class, got "Hash" (String)', error.message
    assert_raises(TypeError) { capture.track(Comparable) }
    assert_raises(TypeError) { capture.count_for(nil) }
    assert_raises(TypeError) { capture.untrack(42) }
    assert_raises(ArgumentError) { capture.track(Widget, depth: 257) }
    assert_raises(ArgumentError) { Memory::Tracker::Capture.new(depth: -1) }
    assert_raises(TypeError) { capture.track(Widget, &nil).then { capture.send(:_track, Widget, nil, 42) } }
  end

  def test_anonymous_classes_collected_while_tracked
    capture = Memory::Tracker::Capture.new
    capture.start
    weak = 20.times.map do
      klass = Class.new
      Array.new(3) { klass.new }
      nil
    end
    kept_class = Class.new
    kept = Array.new(2) { kept_class.new }
    GC.start
    GC.start
    # The collected classes are gone from each; the one still referenced is there.
    classes = capture.each.map { |klass, _| klass }
    assert_includes classes, kept_class
    assert_equal 2, capture.count_for(kept_class)
    assert_equal 20, weak.size
    # New anonymous classes, possibly at the addresses of collected ones, start from zero.
    fresh = Class.new
    one = fresh.new
    assert_equal 1, capture.count_for(fresh)
    assert one
    assert_equal 2, kept.size
  ensure
    capture.stop
  end

  def anonymous_instances(count)
    klass = Class.new
    Array.new(count) { klass.new }
    ObjectSpace::WeakMap.new.tap { |w| w[klass] = true }
  end

  def test_counted_anonymous_classes_can_be_collected
    capture = Memory::Tracker::Capture.new
    capture.start
    refs = Array.new(20) { anonymous_instances(2) }
    4.times { GC.start }
    alive = refs.count { |w| w.keys.any? }
    # Held weakly: (almost) all are collected; a few may stay, held by the conservative stack scan.
    assert_operator alive, :<, 20
    anonymous = capture.each.count { |klass, _| klass.name.nil? }
    assert_operator anonymous, :<=, alive
  ensure
    capture.stop
  end

  def test_tracked_classes_are_held_until_untracked
    capture = Memory::Tracker::Capture.new(track_all: false)
    ref = ObjectSpace::WeakMap.new
    capture.untrack(Class.new.tap { |k| ref[k] = true }) # weak from the start
    klass = Class.new
    ref2 = ObjectSpace::WeakMap.new
    ref2[klass] = true
    capture.track(klass) { nil }
    klass = nil
    4.times { GC.start }
    assert_nil klass
    assert ref2.keys.any?, "a tracked class must stay alive"
    held = ref2.keys.first
    assert capture.tracking?(held)
    capture.untrack(held)
    refute capture.tracking?(held)
  end

  def test_peak
    capture = Memory::Tracker::Capture.new(track_all: false)
    capture.track(Widget)
    capture.start
    assert_equal 30, Array.new(30) { Widget.new }.size # all live at once, then garbage
    GC.start
    kept = Array.new(10) { Widget.new }
    peak = capture.peak
    assert_equal 30, peak[:count]
    assert_equal 30 * Memory::Tracker::Capture::SLOT_SIZE, peak[:bytes]
    assert_operator peak[:seconds], :>, 0
    assert_equal 10, capture.count_for(Widget)
    capture.stop
    capture.clear
    assert_equal 0, capture.peak[:count]
    assert_equal 10, kept.size
  end

  def test_untracked_blocks_are_not_counted
    with_capture do |capture|
      result = Memory::Tracker.untracked { Array.new(5) { Widget.new } }
      assert_equal 5, result.size
      assert_raises(ArgumentError) { Memory::Tracker.untracked { Widget.new and raise ArgumentError } }
      kept = Widget.new # counted again after the block, even one that raised
      assert_equal 1, capture.count_for(Widget)
      assert kept
    end
  end

  def test_gc_stress
    capture = Memory::Tracker::Capture.new
    events = []
    capture.track(Widget) { |_klass, event, state| events << [event, state]; :s }
    capture.start
    GC.stress = true
    kept = Array.new(3) { Widget.new }
    2.times { Widget.new }
    GC.stress = false
    GC.start
    capture.flush
    assert_equal 3, capture.count_for(Widget)
    assert_equal 5, events.count { |e, _| e == :newobj }
    assert_equal [[:freeobj, :s]] * 2, events.select { |e, _| e == :freeobj }
    assert_equal 3, kept.size
  ensure
    GC.stress = false
    capture.stop
  end
end

class TestCaptureLifecycle < Minitest::Test
  Widget = Class.new

  def test_threads_allocating_at_once_are_all_counted
    capture = Memory::Tracker::Capture.new(track_all: false)
    capture.track(Widget)
    capture.start
    kept = Queue.new
    threads = Array.new(4) { Thread.new { 1000.times { kept << Widget.new; Thread.pass if rand < 0.01 } } }
    threads.each(&:join)
    assert_equal 4000, capture.count_for(Widget)
    assert_equal 4000, capture.new_count
    assert_equal 4000, kept.size
  ensure
    capture.stop
  end

  def test_a_running_capture_collected_without_stop
    2.times do
      capture = Memory::Tracker::Capture.new
      capture.track(Widget) { :state }
      capture.start
      Array.new(10) { Widget.new }
      capture = nil
      assert_nil capture
    end
    GC.start
    GC.start
    # No capture runs now: the NEWOBJ hook was switched off after the GC freed the last one.
    assert_equal false, Memory::Tracker.hooks[:newobj]
    survivor = Memory::Tracker::Capture.new
    survivor.start
    kept = Array.new(3) { Widget.new }
    GC.start
    assert_equal 3, survivor.count_for(Widget)
    assert_equal 3, kept.size
  ensure
    survivor&.stop
  end

  def test_copy_and_uninitialized_use_are_refused
    capture = Memory::Tracker::Capture.new
    error = assert_raises(TypeError) { capture.dup }
    assert_equal "a Memory::Tracker::Capture cannot be copied", error.message
    assert_raises(TypeError) { capture.clone }
    bare = Memory::Tracker::Capture.allocate
    error = assert_raises(RuntimeError) { bare.start }
    assert_equal "uninitialized Memory::Tracker::Capture", error.message
    assert_raises(RuntimeError) { capture.send(:initialize) }
  end
end

class TestCapturePaths < Minitest::Test
  # A whole call path, from a script of its own so the stack is short and known.
  def test_paths_run_from_the_allocation_to_the_main_script
    script = <<~RUBY
      require "memory/tracker"
      Thing = Class.new
      def make(list) = list << Thing.new
      capture = Memory::Tracker::Capture.new(depth: 16)
      capture.start
      list = []
      3.times { make(list) }
      capture.stop
      capture.paths(Thing).each { |p| puts p[:path].join(" | "), p[:retained_count] }
    RUBY
    lib = File.expand_path("../lib", __dir__)
    out = IO.popen([RbConfig.ruby, "-I#{lib}", "-e", script], &:read)
    assert_predicate $?, :success?
    assert_equal "Class#new (-e:3) | Object#make (-e:3) | block in <main> (-e:7) | Integer#times (-e:7) | <main> (-e:7)\n3\n",
                 out
  end
end
