# frozen_string_literal: true

require_relative "helper"
require "memory/tracker/rack/middleware"
require "stringio"

class TestRackMiddleware < Minitest::Test
  Session = Class.new

  def test_logs_classes_that_keep_growing
    sessions = []
    app = lambda do |_env|
      3.times { sessions << Session.new } # REQUEST: leaks sessions
      [200, {"content-type" => "text/plain"}, ["ok"]]
    end
    log = StringIO.new
    middleware = Memory::Tracker::Rack::Middleware.new(app, every: 2, logger: log, depth: 6, increases_threshold: 3)
    responses = Array.new(12) { middleware.call({"PATH_INFO" => "/"}) }
    middleware.sampler.stop
    assert_equal [200, {"content-type" => "text/plain"}, ["ok"]], responses.last
    assert_equal 12, middleware.requests
    lines = log.string.lines
    assert_includes lines, "memory-tracker: #{Session} keeps growing (18 live); recording where it is allocated\n"
    line = File.readlines(__FILE__).index { |l| l.include?("REQUEST: leaks") } + 1
    assert_includes lines,
                    "memory-tracker: #{Session} grew to 36 live; 18 held from Class#new (#{__FILE__}:#{line})\n"
    assert_equal 36, sessions.size
  end

  def test_logs_to_a_logger_with_warn
    require "logger"
    sessions = []
    app = ->(_env) { sessions << Session.new and [204, {}, []] }
    out = StringIO.new
    logger = Logger.new(out)
    logger.formatter = ->(severity, _time, _prog, message) { "#{severity} #{message}\n" }
    middleware = Memory::Tracker::Rack::Middleware.new(app, every: 1, logger: logger, increases_threshold: 2, gc: true)
    4.times { middleware.call({}) }
    middleware.sampler.stop
    assert_includes out.string.lines, "WARN memory-tracker: #{Session} keeps growing (2 live); recording where it is allocated\n"
    assert_equal 4, sessions.size
  end

  def test_every_must_be_positive
    assert_raises(ArgumentError) { Memory::Tracker::Rack::Middleware.new(->(_) {}, every: 0) }
  end
end

# The example config.ru, run by a minimal stand-in for Rack::Builder (no rack gem needed),
# which like Rack's evaluates the file in a block at the top level.
class TestRackExample < Minitest::Test
  class Builder
    attr_reader :app

    def initialize(path)
      @middleware = []
      config = eval("proc do\n#{File.read(path)}\nend", TOPLEVEL_BINDING, path, 0)
      instance_eval(&config)
    end

    def use(klass, *args, **options)
      @middleware << [klass, args, options]
    end

    def run(app)
      @app = @middleware.reverse.inject(app) { |inner, (klass, args, options)| klass.new(inner, *args, **options) }
    end
  end

  def test_example_config_ru_names_the_leaking_line
    path = File.expand_path("../examples/config.ru", __dir__)
    log = StringIO.new
    saved = $stderr
    $stderr = log
    app = Builder.new(path).app
    $stderr = saved
    status = nil
    600.times { status, = app.call({"PATH_INFO" => "/"}) }
    app.sampler.stop
    assert_equal 200, status
    leak = File.readlines(path).index { |l| l.include?("the leak:") } + 1
    assert_match(/^memory-tracker: String keeps growing \(\d+ live\); recording where it is allocated$/, log.string)
    assert_match(/^memory-tracker: String grew to \d+ live; \d+ held from .* \(#{Regexp.escape(path)}:#{leak}\)$/, log.string)
  ensure
    $stderr = saved if saved
  end
end
