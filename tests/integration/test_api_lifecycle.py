"""The tracker's life through the C API (tests/programs/api_lifecycle.c): start, stop, running,
clear and totals, linked with -lmemtrack (off until memtrack_start()) and under `memtrack run`
(running from the outset), with exact counts: blocks made before tracking and freed later are
unknown frees (never negative counts), frees are seen while stopped, allocations are not."""

import os
import unittest

from mtutil import ApiCase, api_counts, counts

ZERO = counts(0, 0, 0, 0)


class Lifecycle(ApiCase):

    _cache = {}

    def run_mode(self, mode):
        if mode not in self._cache:
            d = self.tempdir()
            res, lines = self.run_api("api_lifecycle", [d], mode=mode)
            self._cache[mode] = (res, lines, d)
        return self._cache[mode]

    def test_before_start_linked(self):
        """Linked, before memtrack_start(): not running, no class known, totals zero, a
        snapshot refused, stop and clear harmless no-ops."""
        res, lines, d = self.run_mode("linked")
        E = self.E
        self.assertLines(lines, {
            "initially_running": 0, "pre_running": 0,
            "pre_count_for_untagged": E["ENOENT"], "pre_count_for_life": E["ENOENT"],
            "pre_snapshot": E["ENOTSTARTED"], "pre_stop": 0, "pre_clear": 0,
            "pre_tag_push": 0, "pre_tag_pop": 0, "pre_track_paths": 0,
            "pre_running_after_setup": 0,
        }, res)
        self.assertEqual(api_counts(lines, "pre_totals"), ZERO, res.describe())
        self.assertNotIn("pre_totals_rc", lines, res.describe())
        self.assertEqual(api_counts(lines, "pre_totals_after_setup"), ZERO, res.describe())
        self.assertFalse(os.path.exists(os.path.join(d, "pre.mtc")), res.describe())

    def test_snapshot_before_start_after_setup(self):
        """memtrack_snapshot is MEMTRACK_ENOTSTARTED "if tracking never started" — also after
        calls (memtrack_tag_push, memtrack_track_paths) that set the tracker up without
        starting it."""
        res, lines, d = self.run_mode("linked")
        self.assertLines(lines, {"pre_snapshot_after_setup": self.E["ENOTSTARTED"]}, res)
        self.assertFalse(os.path.exists(os.path.join(d, "pre_setup.mtc")),
                         "a capture was written before tracking ever started")

    def check_life(self, mode, started_before):
        res, lines, d = self.run_mode(mode)
        E = self.E
        self.assertLines(lines, {
            "initially_running": 1 if started_before else 0,
            "start": 0 if started_before else 1, "start_again": 0, "running": 1,
            "clear_while_running": E["ERUNNING"],
            "stop": 1, "stop_again": 0, "running_stopped": 0, "clear": 0, "clear_again": 0,
            "restart": 1, "stop2": 1, "running_stopped2": 0, "snapshot_stopped": 0,
            "restart2": 1, "stop3": 1, "clear_end": 0,
        }, res, mode)
        if started_before:
            self.assertNotIn("pre_running", lines, res.describe())
        got = {k: api_counts(lines, k) for k in (
            "after_clear", "after_clear_untagged", "t1", "life1", "untagged1", "t2", "t3",
            "life3", "untagged3", "t4", "life4", "life_after_clear", "totals_after_clear_end")}
        expected = {
            # clear forgets everything (stopped); the untagged class is still known.
            "after_clear": ZERO, "after_clear_untagged": ZERO,
            # 8 x 100 untagged, 4 x 50 "life"; 5 frees of blocks made before the clear change
            # nothing.
            "t1": counts(12, 0, 1000, 0), "life1": counts(4, 0, 200, 0),
            "untagged1": counts(8, 0, 800, 0),
            "t2": counts(12, 3, 1000, 250),
            # Stopped: 5 allocations not counted; frees of 3 + 1 recorded blocks and the free
            # half of a realloc are; frees of unknown blocks are not.
            "t3": counts(12, 8, 1000, 700), "life3": counts(4, 2, 200, 100),
            "untagged3": counts(8, 6, 800, 600),
            "t4": counts(12, 12, 1000, 1000), "life4": counts(4, 4, 200, 200),
            # clear keeps classes (count_for still answers) but zeroes their counts.
            "life_after_clear": ZERO, "totals_after_clear_end": ZERO,
        }
        self.assertEqual(got, expected, res.describe())

        # A snapshot taken while stopped shows the live blocks of that moment.
        data = self.load(os.path.join(d, "stopped.mtc"))
        self.assertTotals(data, {"allocations": 12, "frees": 8, "allocated_bytes": 1000,
                                 "freed_bytes": 700, "live_blocks": 4, "live_bytes": 300,
                                 "unknown_frees": 12, "peak_bytes": 1000, "peak_blocks": 12})
        self.assertEqual(data["end"]["reason"], "snapshot")
        classes = {c["name"]: c for c in data["classes"]}
        self.assertEqual({k: classes["life"][k] for k in ("live_count", "live_bytes")},
                         {"live_count": 2, "live_bytes": 100})
        by_class = {}
        for e in data["leaks"]:
            b = by_class.setdefault(e["class"], [0, 0])
            b[0] += e["live_blocks"]
            b[1] += e["live_bytes"]
        self.assertEqual(by_class, {"untagged": [2, 200], "life": [2, 100]})
        self.assertLeak(data, "main", 2, 200)
        return res, lines

    def test_life_linked(self):
        self.check_life("linked", started_before=False)

    def test_life_under_memtrack_run(self):
        """Under `memtrack run` the same program behaves as linked and started: start returns
        0, and the rest is the same."""
        res, _ = self.check_life("run", started_before=True)
        # The final capture: everything was freed or cleared.
        data = self.load(self.only_capture(res, "api_lifecycle"))
        self.assertTotals(data, {"allocations": 0, "live_blocks": 0})

    def test_clear_while_threads_free(self):
        """memtrack_clear while 4 threads free 20000 blocks recorded before it: whatever was
        freed before the clear is forgotten with the rest, what is freed after it is an
        unknown free; the figures afterwards are exactly zero and the capture is whole."""
        for mode in ("linked", "run"):
            res, lines, d = self.run_mode(mode)
            self.assertLines(lines, {"clear_race_start": 1, "clear_race_stop": 1,
                                     "clear_race_clear": 0, "clear_race_snapshot": 0}, res, mode)
            self.assertEqual(api_counts(lines, "clear_race_totals"), ZERO, res.describe())
            self.assertEqual(api_counts(lines, "clear_race_class"), ZERO, res.describe())
            data = self.load(os.path.join(d, "clear_race.mtc"))
            self.assertTotals(data, {"allocations": 0, "frees": 0, "live_blocks": 0,
                                     "live_bytes": 0})
            self.assertLessEqual(data["totals"]["unknown_frees"], 20000 + 16)

    def test_start_stop_race(self):
        """8 threads call memtrack_start at once, then memtrack_stop: exactly one of each
        returns 1, the others 0."""
        for mode in ("linked", "run"):
            res, lines, _ = self.run_mode(mode)
            self.assertLines(lines, {
                "race_start_sum": 1, "race_start_errors": 0, "race_running_after_start": 1,
                "race_stop_sum": 1, "race_stop_errors": 0, "race_running_after_stop": 0,
            }, res, mode)


if __name__ == "__main__":
    unittest.main()
