# frozen_string_literal: true

module Memory
  module Tracker
    VERSION = "0.1.0"
  end
end
