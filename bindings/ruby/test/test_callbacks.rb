# frozen_string_literal: true

require_relative "helper"

class TestCallbacks < Minitest::Test
  include TrackerTestHelper

  Widget = Class.new
  Gadget = Class.new

  def test_state_returned_on_newobj_is_given_back_on_freeobj_in_event_order
    capture = Memory::Tracker::Capture.new(track_all: false)
    events = []
    serial = 0
    capture.track(Widget) do |klass, event, state|
      events << [klass, event, state]
      serial += 1 if event == :newobj
      "widget #{serial}"
    end
    capture.start
    kept = Widget.new
    make(Widget, 2)
    GC.start
    capture.stop
    newobj = events.select { |_, e, _| e == :newobj }
    freeobj = events.select { |_, e, _| e == :freeobj }
    assert_equal [[Widget, :newobj, nil]] * 3, newobj
    assert_equal ["widget 2", "widget 3"], freeobj.map(&:last).sort
    assert(events.all? { |k, _, _| k == Widget })
    # Every free comes after the allocation of its object.
    assert_operator events.index(freeobj.first), :>, events.index(newobj.last)
    assert kept
  end

  def test_callbacks_do_not_run_inside_the_allocation
    capture = Memory::Tracker::Capture.new(track_all: false)
    calls = 0
    capture.track(Widget) { calls += 1 }
    capture.start
    Widget.new
    pending = capture.pending_events
    assert_operator pending, :>=, 0
    capture.flush
    assert_equal 1, calls
  ensure
    capture.stop
  end

  def test_allocations_inside_callbacks_are_not_tracked
    capture = Memory::Tracker::Capture.new
    capture.track(Widget) { |_k, event, _s| Array.new(3) { Gadget.new } if event == :newobj }
    capture.start
    kept = Array.new(4) { Widget.new }
    capture.flush
    assert_equal 4, capture.count_for(Widget)
    assert_equal 0, capture[Gadget].new_count
    assert_equal 4, kept.size
  ensure
    capture.stop
  end

  def test_callbacks_that_raise_are_counted_and_the_others_still_run
    capture = Memory::Tracker::Capture.new(track_all: false)
    seen = []
    capture.track(Widget) do |_k, event, _s|
      seen << event
      raise ArgumentError, "boom #{seen.size}" if seen.size == 2

      :ok
    end
    capture.start
    kept = Array.new(3) { Widget.new }
    capture.flush
    assert_equal %i[newobj newobj newobj], seen
    assert_equal 1, capture.callback_errors
    assert_instance_of ArgumentError, capture.last_error
    assert_equal "boom 2", capture.last_error.message
    assert_equal 3, capture.count_for(Widget)
    assert_equal 3, kept.size
  ensure
    capture.stop
  end

  def test_untrack_stops_callbacks_and_releases_states
    capture = Memory::Tracker::Capture.new(track_all: false)
    frees = []
    capture.track(Widget) { |_k, event, state| event == :newobj ? :state : frees << state }
    capture.start
    make(Widget, 2)
    capture.flush
    capture.untrack(Widget)
    GC.start
    capture.flush
    assert_equal [], frees
  ensure
    capture.stop
  end

  def test_callback_must_be_callable
    capture = Memory::Tracker::Capture.new
    error = assert_raises(TypeError) { capture.send(:_track, Widget, nil, 42) }
    assert_equal "the callback must respond to #call", error.message
  end
end
