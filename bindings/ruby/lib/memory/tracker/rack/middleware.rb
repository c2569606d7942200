# frozen_string_literal: true

require "memory/tracker"

module Memory
  module Tracker
    module Rack
      # Rack middleware: takes a sample of every class's live count after every `every`
      # requests, and logs the classes that keep growing with the call path that holds the
      # most of their objects. With gc: true a full GC runs before each sample, so garbage not
      # yet collected does not count as growth (exact, but a full GC every `every` requests).
      class Middleware
        attr_reader :sampler, :requests

        # logger: anything with #warn (Logger) or #puts (IO); default $stderr.
        def initialize(app, sampler: nil, every: 100, logger: $stderr, depth: 10, increases_threshold: 10,
                       gc: false)
          @app = app
          @sampler = sampler || Sampler.new(depth: depth, increases_threshold: increases_threshold)
          @every = Integer(every)
          raise ArgumentError, "every must be >= 1, got #{@every}" if @every < 1

          @logger = logger
          @gc = gc
          @requests = 0
          @sampler.start
        end

        def call(env)
          @app.call(env)
        ensure
          @requests += 1
          sample if (@requests % @every).zero?
        end

        private

        def sample
          GC.start if @gc
          growing = @sampler.sample!
          growing.each do |klass|
            log("memory-tracker: #{klass} keeps growing (#{@sampler.capture.count_for(klass)} live); recording where it is allocated")
          end
          (@sampler.analysed - growing).each do |klass|
            sample = @sampler.samples[klass]
            next unless sample && sample.current == sample.maximum && sample.current.positive?

            top = @sampler.statistics(klass, limit: 1)[:top_paths].first
            next unless top

            log("memory-tracker: #{klass} grew to #{sample.current} live; #{top[:count]} held from #{top[:path].first || '(no frames)'}")
          end
        end

        def log(message)
          @logger.respond_to?(:warn) && !@logger.is_a?(IO) ? @logger.warn(message) : @logger.puts(message)
        end
      end
    end
  end
end
