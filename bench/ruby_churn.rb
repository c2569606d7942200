# frozen_string_literal: true

# The Ruby gem's overhead on an object-churn workload, as ratios to an untracked run in the
# same process sequence (modes alternated inside every round, so a noisy moment on a shared
# machine hits all of them alike).
#
#   ruby bench/ruby_churn.rb [--runs 5] [--iterations 200000]
#
# Modes:
#   plain      no capture
#   count      Capture.new started (every class counted, no call paths)
#   analysis   Sampler analysing Hash and Array (call paths of depth 10 for those classes)
#   full       Capture.new(depth: 10): a call path for every object
#   objspace   for reference: Ruby's own ObjectSpace.trace_object_allocations (file and line
#              of every object, no counts)
#
# The workload makes strings, arrays, hashes and small objects from call paths a few frames
# deep and keeps a ring of 1000 of them live, so frees interleave with allocations; it prints
# the seconds of the churn alone (the capture is set up before the clock starts).
require "rbconfig"

$LOAD_PATH.unshift(File.expand_path("../bindings/ruby/lib", __dir__))

MODES = %w[plain count analysis full objspace].freeze

Point = Struct.new(:x, :y)

def leaf(i)
  case i % 4
  when 0 then "item #{i}"
  when 1 then [i, i + 1, i + 2]
  when 2 then {id: i, name: "n"}
  else Point.new(i, -i)
  end
end

def middle(i) = leaf(i)
def outer(i) = middle(i)

def churn(iterations)
  ring = Array.new(1000)
  iterations.times { |i| ring[i % 1000] = outer(i) }
  ring.count(&:nil?)
end

def run_one(mode, iterations)
  require "memory/tracker" unless mode == "plain"
  tracker = case mode
            when "count" then Memory::Tracker::Capture.new.tap(&:start)
            when "full" then Memory::Tracker::Capture.new(depth: 10).tap(&:start)
            when "objspace"
              require "objspace"
              ObjectSpace.trace_object_allocations_start
              nil
            when "analysis"
              Memory::Tracker::Sampler.new(depth: 10).tap do |s|
                s.track_with_analysis(Hash)
                s.track_with_analysis(Array)
                s.start
              end
            end
  GC.start
  t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  churn(iterations)
  elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
  tracker&.stop
  puts format("%.6f", elapsed)
end

def median(values)
  s = values.sort
  s.size.odd? ? s[s.size / 2] : (s[s.size / 2 - 1] + s[s.size / 2]) / 2.0
end

def compare(runs, iterations)
  times = Hash.new { |h, k| h[k] = [] }
  runs.times do
    MODES.each do |mode|
      out = IO.popen([RbConfig.ruby, __FILE__, "--mode", mode, "--iterations", iterations.to_s], &:read)
      raise "#{mode} run failed" unless $?.success?

      times[mode] << Float(out)
    end
  end
  base = median(times["plain"])
  puts "ruby #{RUBY_VERSION}, #{iterations} iterations, median of #{runs} runs"
  puts "| mode | median seconds | ratio to plain |"
  puts "| --- | --- | --- |"
  MODES.each do |mode|
    m = median(times[mode])
    puts format("| %s | %.3f | %.2f |", mode, m, m / base)
  end
end

args = ARGV.each_slice(2).to_h
iterations = Integer(args.fetch("--iterations", "200000"))
if args["--mode"]
  abort "unknown mode #{args['--mode']}" unless MODES.include?(args["--mode"])
  run_one(args["--mode"], iterations)
else
  compare(Integer(args.fetch("--runs", "5")), iterations)
end
