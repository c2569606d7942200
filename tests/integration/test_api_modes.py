"""memtrack_set_mode / memtrack_mode (tests/programs/api_modes.c): linked with -lmemtrack the
mode is chosen before the tracker is set up, over MEMTRACK_MODE, and shows in the capture;
afterwards, and under memtrack run (set up at once, its --mode applies), it is refused with
MEMTRACK_ESTATE; bad values with MEMTRACK_EINVAL; without a tracker MEMTRACK_ENOTRACKER."""

import os
import unittest

from mtutil import ApiCase, leak_sum


class Modes(ApiCase):

    def test_no_tracker(self):
        res, lines = self.run_api("api_modes", mode="plain")
        E = self.E
        self.assertLines(lines, {
            "mode_before": E["ENOTRACKER"], "set_unknown": E["ENOTRACKER"],
            "set_mean_too_large": E["ENOTRACKER"], "set_sample": E["ENOTRACKER"],
            "start": E["ENOTRACKER"], "mode_after": E["ENOTRACKER"],
            "set_late": E["ENOTRACKER"], "totals_rc": E["ENOTRACKER"],
        }, res)

    def test_linked_sample_mode_over_the_environment(self):
        cap = os.path.join(self.tempdir(), "modes.mtc")
        res, lines = self.run_api("api_modes", mode="linked",
                                  env={"MEMTRACK_MODE": "count", "MEMTRACK_OUTPUT": cap})
        E = self.E
        self.assertLines(lines, {
            "mode_before": E["ENOTSTARTED"], "set_unknown": E["EINVAL"],
            "set_mean_too_large": E["EINVAL"], "set_sample": 0, "start": 1,
            "mode_after": 2, "set_late": E["ESTATE"], "totals_rc": 0,
            "allocations": 100, "live_bytes": 100000,
        }, res)
        data = self.load(cap)
        self.assertEqual(data["mode"], "sample")
        self.assertEqual(data["sample_mean_bytes"], 64)
        # Every 1000-byte block is sampled at a mean of 64 bytes but for e^-15.6 odds, each
        # weighing 1/(1 - e^-15.6): the estimate is the exact figure.
        self.assertEqual(leak_sum(data, "keep_blocks"), (100, 100000))

    def test_under_memtrack_run(self):
        res, lines = self.run_api("api_modes", mode="run_linked", opts=["--mode", "count"])
        E = self.E
        self.assertLines(lines, {
            "mode_before": 1, "set_unknown": E["EINVAL"], "set_mean_too_large": E["EINVAL"],
            "set_sample": E["ESTATE"], "start": 0, "mode_after": 1,
            "set_late": E["ESTATE"], "totals_rc": 0, "allocations": 100,
        }, res)


if __name__ == "__main__":
    unittest.main()
