"""A second thread registers with the tracker (its first allocation) while the first thread is
busy allocating and the second frees the first's blocks: every count stays exact, in every
mode, whatever the interleaving. tests/programs/thread_start.c describes the workload; each
mode runs it several times."""

import unittest

from mtutil import MemtrackCase, excerpt, kv, thread_by_tid

HOLD, ROUNDS = 2000, 5000  # as in tests/programs/thread_start.c
RUNS = 6


def hold_bytes(indices):
    return sum(24 + i % 50 for i in indices)


class ThreadStart(MemtrackCase):

    def check_mode(self, mode):
        opts = ["--mode", mode]
        check = mode != "sample"  # the invariants' leak sums hold for exact call paths only
        bres, base = self.run_and_load("thread_start", ["baseline"], opts, check=check)
        bmain = thread_by_tid(base, kv(bres.stdout, "main_tid"))
        for _ in range(RUNS):
            res, data = self.run_and_load("thread_start", [], opts, check=check)
            k = kv(res.stdout, "churned")
            main = thread_by_tid(data, kv(res.stdout, "main_tid"))
            worker = thread_by_tid(data, kv(res.stdout, "worker_tid"))
            msg = "mode %s, %d pairs churned\n%s\nthreads:\n%s" % (
                mode, k, res.describe(), excerpt(data["threads"]))
            delta = {key: data["totals"][key] - base["totals"][key] for key in (
                "allocations", "frees", "allocated_bytes", "freed_bytes", "live_blocks",
                "live_bytes", "unknown_frees")}
            self.assertEqual(delta, {
                "allocations": HOLD + k + ROUNDS + 1,
                "frees": HOLD + k + ROUNDS,
                "allocated_bytes": hold_bytes(range(HOLD)) + 48 * k +
                sum(32 + r % 16 for r in range(ROUNDS)) + 777,
                "freed_bytes": hold_bytes(range(HOLD)) + 48 * k +
                sum(32 + r % 16 for r in range(ROUNDS)),
                "live_blocks": 1,
                "live_bytes": 777,
                "unknown_frees": 0,
            }, msg)
            self.assertEqual(data["totals"]["unknown_frees"], 0, msg)
            # Main's own blocks are all gone, half freed by the worker: what is left is the
            # program start's, as without the workload.
            self.assertEqual(main["allocations"] - bmain["allocations"], HOLD + k, msg)
            self.assertEqual(main["live_blocks"], bmain["live_blocks"], msg)
            self.assertEqual(main["live_bytes"], bmain["live_bytes"], msg)
            expected_worker = {"allocations": ROUNDS + 1, "frees": ROUNDS + HOLD // 2,
                               "live_blocks": 1, "live_bytes": 777}
            self.assertEqual({key: worker[key] for key in expected_worker}, expected_worker,
                             msg)
            # The peak: the program start's live bytes, then all of main's held blocks.
            self.assertGreaterEqual(data["totals"]["peak_bytes"],
                                    hold_bytes(range(HOLD)), msg)

    def test_full(self):
        self.check_mode("full")

    def test_count(self):
        self.check_mode("count")

    def test_sample(self):
        self.check_mode("sample")


if __name__ == "__main__":
    unittest.main()
