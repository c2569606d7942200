"""Failure semantics of the allocation functions are the same with and without memtrack, and
memtrack counts only what succeeded (tests/programs/failsem.c)."""

import re
import unittest

from mtutil import MemtrackCase, brief, excerpt, run_plain


class FailureSemantics(MemtrackCase):

    _cache = {}

    def runs(self):
        if "r" not in self._cache:
            plain = run_plain("failsem")
            res, data = self.run_and_load("failsem", expect_rc=None)
            self._cache["r"] = (plain, res, data)
        return self._cache["r"]

    def test_plain_run_passes(self):
        plain, _, _ = self.runs()
        self.assertEqual(plain.returncode, 0, "without memtrack:\n" + plain.stdout)
        self.assertNotIn("FAIL", plain.stdout)

    def test_same_behaviour_under_memtrack(self):
        plain, res, _ = self.runs()
        fails = [l for l in res.stdout.splitlines() if l.startswith("FAIL")]
        self.assertEqual(fails, [], "checks failing under memtrack\n" + res.describe())
        self.assertEqual(res.stdout, plain.stdout,
                         "behaviour differs under memtrack (left: memtrack, right: plain)")
        self.assertEqual(res.returncode, 0, res.describe())

    def test_counts(self):
        plain, res, data = self.runs()
        m = re.search(r"^expect allocations (\d+) frees (\d+) allocated_bytes (\d+) "
                      r"freed_bytes (\d+) temporary (\d+)$", plain.stdout, re.M)
        self.assertIsNotNone(m, plain.stdout)
        allocs, frees, abytes, fbytes, temp = map(int, m.groups())
        # the block that survived the failed reallocs is the one live block
        self.assertTotals(data, {
            "allocations": allocs, "frees": frees, "allocated_bytes": abytes,
            "freed_bytes": fbytes, "temporary": temp, "live_blocks": 1, "live_bytes": 64,
            "unknown_frees": 0})

    def test_failed_realloc_keeps_block_tracked(self):
        _, _, data = self.runs()
        self.assertLeak(data, "keep_alloc", 1, 64)
        self.assertNoLeak(data, "try_grow", inclusive=False)
        self.assertEqual(len(data["leaks"]), 1, excerpt(brief(data)))


if __name__ == "__main__":
    unittest.main()
