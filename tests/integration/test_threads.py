"""Eight threads churning with cross-thread frees through shared queues: exact counts per
thread and in total (relative to a baseline run of the same threads that allocates nothing,
which leaves what pthread_create itself allocates)."""

import unittest

from mtutil import MemtrackCase, excerpt, parse_kv_lines, thread_by_tid

N, ROUNDS, LEFT = 8, 2000, 3  # as in tests/programs/churn.c


def block_size(idx, r):
    return 16 + 8 * idx + 16 * (r % 5)


def produced_bytes(idx):
    return sum(block_size(idx, r) for r in range(ROUNDS))


def left_bytes(idx):
    """Bytes of the blocks thread idx made that its consumer never freed (the last LEFT)."""
    return sum(block_size(idx, r) for r in range(ROUNDS - LEFT, ROUNDS))


class CrossThreadChurn(MemtrackCase):

    _cache = {}

    def run_mode(self, mode):
        if mode not in self._cache:
            self._cache[mode] = self.run_and_load("churn", [mode])
        return self._cache[mode]

    def tids(self, res):
        tids = {vals[0]: vals[1] for key, vals in parse_kv_lines(res.stdout) if key == "tid"}
        self.assertEqual(sorted(tids), list(range(N)), res.describe())
        return tids

    def test_per_thread_counts(self):
        res, data = self.run_mode("full")
        for idx, tid in self.tids(res).items():
            th = thread_by_tid(data, tid)
            self.assertIsNotNone(th, "thread %d (tid %d) missing\n%s" % (
                idx, tid, excerpt(data["threads"])))
            expected = {
                "name": "churn-%d" % idx,
                "allocations": 2 * ROUNDS,                 # produce + scratch
                "allocated_bytes": produced_bytes(idx) + 32 * ROUNDS,
                "frees": (ROUNDS - LEFT) + ROUNDS,         # its predecessor's blocks + scratch
                "live_blocks": LEFT,                       # its own blocks left in the queue
                "live_bytes": left_bytes(idx),
            }
            self.assertEqual({k: th.get(k) for k in expected}, expected,
                             "thread %d\n%s" % (idx, excerpt(th)))
            self.assertGreaterEqual(th["peak_bytes"], left_bytes(idx) + 32, excerpt(th))

    def test_totals_relative_to_baseline(self):
        _, full = self.run_mode("full")
        _, base = self.run_mode("baseline")
        delta = {k: full["totals"][k] - base["totals"][k] for k in (
            "allocations", "frees", "allocated_bytes", "live_blocks", "live_bytes",
            "temporary", "unknown_frees")}
        expected = {
            "allocations": N * 2 * ROUNDS,
            "frees": N * (2 * ROUNDS - LEFT),
            "allocated_bytes": sum(produced_bytes(i) for i in range(N)) + N * 32 * ROUNDS,
            "live_blocks": N * LEFT,
            "live_bytes": sum(left_bytes(i) for i in range(N)),
            "temporary": N * ROUNDS,  # scratch only: produced blocks are freed elsewhere
            "unknown_frees": 0,
        }
        self.assertEqual(delta, expected, "full - baseline\nfull:\n%s\nbaseline:\n%s" % (
            excerpt(full["totals"]), excerpt(base["totals"])))
        self.assertEqual(base["totals"]["unknown_frees"], 0, excerpt(base["totals"]))

    def test_leaks_by_function(self):
        _, data = self.run_mode("full")
        self.assertLeak(data, "produce", N * LEFT, sum(left_bytes(i) for i in range(N)))
        self.assertNoLeak(data, "scratch")
        self.assertNoLeak(data, "consume", inclusive=True)

    def test_thread_list(self):
        res, data = self.run_mode("full")
        tids = set(self.tids(res).values())
        listed = {t["tid"] for t in data["threads"]}
        self.assertTrue(tids <= listed, excerpt(data["threads"]))
        # the workers plus the main thread, and nothing else
        self.assertEqual(len(data["threads"]), N + 1, excerpt(data["threads"]))


if __name__ == "__main__":
    unittest.main()
