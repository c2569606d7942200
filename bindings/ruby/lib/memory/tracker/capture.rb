# frozen_string_literal: true

module Memory
  module Tracker
    # What a capture has counted for one class: objects allocated and freed while it ran.
    Allocations = Struct.new(:new_count, :free_count, :new_bytes, :free_bytes) do
      # Objects of the class still alive (never negative).
      def retained_count
        new_count > free_count ? new_count - free_count : 0
      end
    end

    # Counts live objects per class, and (for the classes that ask) the call paths that
    # allocated them. The methods implemented in C are documented in bindings/ruby/README.md.
    class Capture
      # Bytes counted for each object: the size of a heap slot.
      SLOT_SIZE = GC::INTERNAL_CONSTANTS[:BASE_SLOT_SIZE] || GC::INTERNAL_CONSTANTS[:RVALUE_SIZE] || 40

      # depth: frames recorded for every allocation (0: none; classes can still ask with
      # track(klass, depth:)). track_all: count every class, not only those given to track.
      def initialize(depth: 0, track_all: true)
        _setup(Integer(depth), track_all, SLOT_SIZE)
      end

      # Tracks klass (its objects are counted from now on). With a block, calls it as
      # block.call(klass, :newobj, nil) after each allocation and
      # block.call(klass, :freeobj, state) after each free, where state is what the :newobj
      # call returned for that object. depth: call-path frames to record for this class.
      def track(klass, depth: nil, &block)
        _track(klass, depth, block)
      end

      # Yields each class the capture knows and is still alive, with its Allocations.
      def each
        return enum_for(:each) unless block_given?

        _each_class do |klass, new_count, free_count|
          yield klass, Allocations.new(new_count, free_count, new_count * SLOT_SIZE, free_count * SLOT_SIZE)
        end
      end

      # The Allocations of one class (all zero for a class never seen).
      def [](klass)
        Allocations.new(*_counts_for(klass))
      end

      # Every recorded call path of klass, as hashes with :path (frames, innermost first,
      # "label (path:line)"), :total_count (allocations), :retained_count (still live) and
      # :retained_bytes.
      def paths(klass)
        _paths(klass).map do |path, total, retained, bytes|
          {path: path, total_count: total, retained_count: retained, retained_bytes: bytes}
        end
      end

      # A CallTree of klass's recorded call paths.
      def call_tree(klass)
        tree = CallTree.new
        _paths(klass).each do |path, total, retained, _bytes|
          tree.record(path, total_count: total, retained_count: retained)
        end
        tree
      end
    end
  end
end
