"""The capture says what the tracker's own memory holds (MEMORY section): the live table and
the call tree, parts of META.engine_bytes. tests/programs/many_live.c keeps 200 000 blocks live:
the table must cost at most 48 bytes per live block (the performance issue's target), and the
text report says how much."""

import re
import unittest

from mtutil import MemtrackCase, report

N = 200000


class EngineMemory(MemtrackCase):

    def test_parts_of_the_tracker_memory(self):
        res, data = self.run_and_load("many_live", [str(N)])
        self.assertLeak(data, "keep_many", N, 32 * N)
        table, tree = data["engine_live_table_bytes"], data["engine_call_tree_bytes"]
        self.assertGreaterEqual(table, 32 * N)  # an entry per block, at least
        self.assertLessEqual(table, 48 * N)
        self.assertGreater(tree, 0)
        self.assertLessEqual(table + tree, data["engine_bytes"])
        text = report(self.only_capture(res, "many_live"), fmt="text").stdout
        m = re.search(r"^Tracker:  .* of its own memory: live table .* \(([\d.]+) bytes per block "
                      r"live at the peak\), call tree .*$", text, re.M)
        self.assertIsNotNone(m, text[:800])
        self.assertAlmostEqual(float(m.group(1)), table / (N + 1), delta=0.06)

    def test_small_programs_get_no_per_block_figure(self):
        res, data = self.run_and_load("many_live", ["10"])
        text = report(self.only_capture(res, "many_live"), fmt="text").stdout
        line = [l for l in text.splitlines() if l.startswith("Tracker:")]
        self.assertEqual(len(line), 1, text[:800])
        self.assertNotIn("per block", line[0])


if __name__ == "__main__":
    unittest.main()
