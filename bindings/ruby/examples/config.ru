# frozen_string_literal: true

# A Rack app that leaks, watched by Memory::Tracker::Rack::Middleware. From the checkout:
#   ruby -Ibindings/ruby/lib -S rackup bindings/ruby/examples/config.ru
# (with any Rack server), then request / a few hundred times: after a while the log names
# String as growing and the line below as the place that keeps the strings.
require "memory/tracker/rack/middleware"

SEEN = []

app = lambda do |env|
  SEEN << "#{env['PATH_INFO']} at #{Time.now.to_f}" # the leak: every request keeps a string
  [200, {"content-type" => "text/plain"}, ["#{SEEN.size} requests so far\n"]]
end

use Memory::Tracker::Rack::Middleware, every: 50, increases_threshold: 5, depth: 8, gc: true
run app
