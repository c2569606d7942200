# frozen_string_literal: true

module Memory
  module Tracker
    # A tree of call paths with counts: every path is stored once, from the outermost frame
    # at the root's children down to the innermost. Each node keeps inclusive counts (its
    # whole subtree) and self counts (paths that end at it), so totals can be read at the
    # root and the tree can be pruned without losing any count.
    class CallTree
      # One frame of a path. total_count/retained_count are inclusive.
      class Node
        attr_reader :location, :parent, :children
        attr_accessor :total_count, :retained_count, :self_total_count, :self_retained_count

        def initialize(location, parent)
          @location = location
          @parent = parent
          @children = {}
          @total_count = @retained_count = 0
          @self_total_count = @self_retained_count = 0
        end

        def child(location)
          @children[location] ||= Node.new(location, self)
        end

        # The frames from this node up to the root's child: innermost first.
        def path
          frames = []
          node = self
          while node.parent
            frames << node.location
            node = node.parent
          end
          frames
        end
      end

      attr_reader :root

      def initialize
        @root = Node.new(nil, nil)
      end

      # Records a call path (frames innermost first, as Capture#paths gives them) that made
      # total_count allocations, retained_count of them still alive. Returns its leaf node.
      def record(path, total_count: 1, retained_count: total_count)
        total_count = Integer(total_count)
        retained_count = Integer(retained_count)
        if total_count.negative? || retained_count.negative? || retained_count > total_count
          raise ArgumentError, "counts must satisfy 0 <= retained_count (#{retained_count}) <= total_count (#{total_count})"
        end

        node = @root
        add(node, total_count, retained_count)
        path.reverse_each do |location|
          node = node.child(location)
          add(node, total_count, retained_count)
        end
        node.self_total_count += total_count
        node.self_retained_count += retained_count
        node
      end

      # Allocations recorded in all.
      def total_allocations
        @root.total_count
      end

      # Recorded allocations still alive.
      def retained_allocations
        @root.retained_count
      end

      # The paths holding the most live objects (then the most allocations), biggest first:
      # [{path:, count:, total_count:, retained_count:}], count being retained_count.
      def top_paths(limit = 10)
        paths = []
        each_node(root: true) { |node| paths << node if node.self_total_count.positive? }
        paths.sort_by! { |n| [-n.self_retained_count, -n.self_total_count, n.path] }
        paths.first(limit).map do |n|
          {path: n.path, count: n.self_retained_count, total_count: n.self_total_count,
           retained_count: n.self_retained_count}
        end
      end

      # The frames that appear in the paths holding the most live objects: a frame's counts
      # are those of every path it is on (once per path, even when it recurses).
      # {location => {count:, total_count:, retained_count:}}, biggest first.
      def hotspots(limit = 20)
        sums = Hash.new { |h, k| h[k] = [0, 0] }
        each_node(root: true) do |node|
          next unless node.self_total_count.positive?

          node.path.uniq.each do |location|
            sums[location][0] += node.self_total_count
            sums[location][1] += node.self_retained_count
          end
        end
        top = sums.sort_by { |location, (total, retained)| [-retained, -total, location] }.first(limit)
        top.to_h do |location, (total, retained)|
          [location, {count: retained, total_count: total, retained_count: retained}]
        end
      end

      # Keeps, under every node, the `limit` children with the most allocations (then the
      # most live objects); the counts of the subtrees removed become their parent's self
      # counts, so inclusive counts and totals do not change. Returns how many nodes went.
      def prune!(limit)
        limit = Integer(limit)
        raise ArgumentError, "limit must be >= 0, got #{limit}" if limit.negative?

        prune_node(@root, limit)
      end

      # Forgets every path.
      def clear!
        @root = Node.new(nil, nil)
        self
      end

      # Calls the block with every node below the root (and the root too with root: true).
      def each_node(root: false, &block)
        block.call(@root) if root
        stack = @root.children.values
        until stack.empty?
          node = stack.pop
          block.call(node)
          stack.concat(node.children.values)
        end
      end

      private

      def add(node, total, retained)
        node.total_count += total
        node.retained_count += retained
      end

      def prune_node(node, limit)
        removed = 0
        if node.children.size > limit
          ranked = node.children.values.sort_by { |c| [-c.total_count, -c.retained_count, c.location] }
          ranked.drop(limit).each do |gone|
            node.self_total_count += gone.total_count
            node.self_retained_count += gone.retained_count
            node.children.delete(gone.location)
            removed += count_nodes(gone)
          end
        end
        node.children.each_value { |child| removed += prune_node(child, limit) }
        removed
      end

      def count_nodes(node)
        1 + node.children.each_value.sum { |c| count_nodes(c) }
      end
    end
  end
end
