# frozen_string_literal: true

module Memory
  module Tracker
    # Watches every class's live count and, for the classes that keep growing, records the
    # call paths of their allocations: sample! now and then (or run), then statistics(klass).
    class Sampler
      # The history of one class's live count.
      class Sample
        attr_reader :current, :maximum, :increases

        def initialize
          @current = @maximum = @increases = 0
        end

        # Records a new live count; true when it is above every earlier one.
        def sample!(count)
          @current = count
          return false unless count > @maximum

          @maximum = count
          @increases += 1
          true
        end
      end

      attr_reader :capture, :depth, :increases_threshold, :samples

      # depth: frames recorded per allocation of the classes analysed. increases_threshold:
      # how many times a class's live count must reach a new high before it is analysed.
      def initialize(depth: 10, increases_threshold: 10)
        @depth = Integer(depth)
        raise ArgumentError, "depth must be between 1 and 256, got #{@depth}" unless (1..256).cover?(@depth)

        @increases_threshold = Integer(increases_threshold)
        @capture = Capture.new(track_all: true)
        @samples = {}
        @analysed = {}
      end

      def start
        @capture.start
      end

      def stop
        @capture.stop
      end

      def running?
        @capture.running?
      end

      # Records the call path of every later allocation of klass.
      def track_with_analysis(klass)
        @capture.track(klass, depth: @depth)
        @analysed[klass] = true
        klass
      end

      def analysing?(klass)
        @analysed.key?(klass)
      end

      # The classes being analysed.
      def analysed
        @analysed.keys
      end

      # What is known of klass: live_count (all live objects counted), total_allocations and
      # retained_allocations (of the allocations whose call path was recorded), the paths
      # holding the most live objects and the frames they share most.
      def statistics(klass, limit: 10)
        Tracker.untracked { statistics_of(klass, limit) }
      end

      # Takes one sample of every class's live count. A class whose count has reached a new
      # high increases_threshold times starts being analysed; each such class is yielded and
      # all of them are returned. (What the sampler allocates itself is not tracked.)
      def sample!(&block)
        started = Tracker.untracked { sample_classes }
        started.each(&block) if block
        started
      end

      # Samples every `interval` seconds, `times` times (nil: until the thread is stopped),
      # yielding the classes that start being analysed.
      def run(interval: 60, times: nil, &block)
        count = 0
        until times && count >= times
          sleep(interval)
          sample!(&block)
          count += 1
        end
        self
      end

      private

      def statistics_of(klass, limit)
        tree = @capture.call_tree(klass)
        {
          live_count: @capture.count_for(klass),
          total_allocations: tree.total_allocations,
          retained_allocations: tree.retained_allocations,
          top_paths: tree.top_paths(limit),
          hotspots: tree.hotspots(limit * 2)
        }
      end

      def sample_classes
        started = []
        @capture.each do |klass, allocations|
          sample = (@samples[klass] ||= Sample.new)
          next unless sample.sample!(allocations.retained_count)
          next if analysing?(klass) || sample.increases < @increases_threshold

          track_with_analysis(klass)
          started << klass
        end
        started
      end
    end
  end
end
