"""Memory over time: a program that holds 1 MiB more every 20 ms and then gives it back
(tests/programs/ramp.c) gives a timeline that rises to the peak and falls back, in time order,
sampled about every 10 ms, ending at the capture's moment; the text report draws it."""

import unittest

from mtutil import MemtrackCase, run_proc, MEMTRACK

MIB = 64 * 16384


class Timeline(MemtrackCase):

    def test_ramp(self):
        res, data = self.run_and_load("ramp", [])
        t = data["timeline"]
        samples = t["samples"]
        self.assertEqual(t["interval_ms"], 10)
        self.assertGreaterEqual(len(samples), 10)  # 400 ms of sleeps, sampled every 10 ms
        times = [s[0] for s in samples]
        self.assertEqual(times, sorted(times))
        self.assertLessEqual(times[-1], data["duration_ms"])
        live = [s[1] for s in samples]
        # Never above the exact peak; it reached 10 MiB (+ what libc holds) and fell back.
        self.assertLessEqual(max(live), data["totals"]["peak_bytes"])
        self.assertGreaterEqual(max(live), 9 * MIB)
        top = live.index(max(live))
        # It rose: the first sample (10 ms in, later on a busy machine) is below the top.
        self.assertLess(live[0], max(live))
        self.assertLess(live[-1], MIB)
        self.assertTrue(0 < top < len(live) - 1)
        # The last sample is the capture's moment: the live figures agree with the totals.
        self.assertEqual(samples[-1][1], data["totals"]["live_bytes"])
        self.assertEqual(samples[-1][2], data["totals"]["live_blocks"])
        self.assertTrue(all(s[3] > 0 for s in samples), "resident memory read")
        text = run_proc([MEMTRACK, "report", self.only_capture(res, "ramp")]).stdout
        self.assertRegex(text, r"Memory over time \(live bytes, %d samples" % len(samples))
        self.assertIn("^ peak", text)


if __name__ == "__main__":
    unittest.main()
