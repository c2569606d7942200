# frozen_string_literal: true

require_relative "helper"

class TestCallTree < Minitest::Test
  def tree
    t = Memory::Tracker::CallTree.new
    t.record(%w[leaf_a mid main], total_count: 10, retained_count: 6)
    t.record(%w[leaf_b mid main], total_count: 4, retained_count: 4)
    t.record(%w[leaf_c main], total_count: 3, retained_count: 0)
    t.record(%w[main], total_count: 1, retained_count: 1)
    t
  end

  def test_totals
    t = tree
    assert_equal 18, t.total_allocations
    assert_equal 11, t.retained_allocations
  end

  def test_top_paths_by_retained_then_total
    paths = tree.top_paths(3)
    assert_equal [%w[leaf_a mid main], %w[leaf_b mid main], %w[main]], paths.map { |p| p[:path] }
    assert_equal({path: %w[leaf_a mid main], count: 6, total_count: 10, retained_count: 6}, paths.first)
    assert_equal 4, tree.top_paths.size
  end

  def test_hotspots_count_each_frame_once_per_path
    t = tree
    t.record(%w[rec rec main], total_count: 2, retained_count: 2)
    spots = t.hotspots(3)
    assert_equal %w[main mid leaf_a], spots.keys
    assert_equal({count: 13, total_count: 20, retained_count: 13}, spots["main"])
    assert_equal({count: 2, total_count: 2, retained_count: 2}, t.hotspots["rec"])
  end

  def test_prune_keeps_counts_consistent
    t = tree
    removed = t.prune!(1)
    # Under main: mid (14) stays, leaf_c (3) goes; under mid: leaf_a (10) stays, leaf_b goes.
    assert_equal 2, removed
    assert_equal 18, t.total_allocations
    assert_equal 11, t.retained_allocations
    main = t.root.children.fetch("main")
    assert_equal %w[mid], main.children.keys
    assert_equal 4, main.self_total_count
    assert_equal 1, main.self_retained_count
    mid = main.children.fetch("mid")
    assert_equal %w[leaf_a], mid.children.keys
    assert_equal [4, 4], [mid.self_total_count, mid.self_retained_count]
    # The paths' self counts still add up to the totals.
    assert_equal 18, t.top_paths(100).sum { |p| p[:total_count] }
    assert_equal 11, t.top_paths(100).sum { |p| p[:retained_count] }
    assert_equal 0, t.prune!(1)
  end

  def test_prune_to_zero_folds_everything_into_the_root
    t = tree
    assert_equal 5, t.prune!(0)
    assert_empty t.root.children
    assert_equal [{path: [], count: 11, total_count: 18, retained_count: 11}], t.top_paths
  end

  def test_bad_counts
    t = Memory::Tracker::CallTree.new
    assert_raises(ArgumentError) { t.record(%w[a], total_count: 1, retained_count: 2) }
    assert_raises(ArgumentError) { t.record(%w[a], total_count: -1, retained_count: -1) }
    assert_raises(ArgumentError) { t.prune!(-1) }
    assert_equal 0, t.total_allocations
  end

  def test_clear
    t = tree
    t.clear!
    assert_equal 0, t.total_allocations
    assert_empty t.top_paths
  end
end
