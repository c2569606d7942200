"""memtrack_snapshot from a running program (tests/programs/api_snapshot.c), linked and under
`memtrack run`: refused arguments and unwritable paths (the program goes on), two snapshots
showing the exact live blocks of their moment, and snapshots taken while 4 threads churn —
two of them at the same moment — each one consistent."""

import errno
import os
import unittest

from mtutil import ApiCase, excerpt, fn_name, thread_by_tid

RING = 16  # as in api_snapshot.c
CHURN_SNAPSHOTS = ("churn_1", "pair_a", "pair_b", "churn_2", "churn_3")


class Snapshot(ApiCase):

    _cache = {}

    def run_mode(self, mode):
        if mode not in self._cache:
            d = self.tempdir()
            res, lines = self.run_api("api_snapshot", [d], mode=mode)
            self._cache[mode] = (res, lines, d)
        return self._cache[mode]

    def modes(self):
        return [(m,) + self.run_mode(m) for m in ("linked", "run")]

    def snap(self, d, name, check=True):
        path = os.path.join(d, name + ".mtc")
        self.assertTrue(os.path.exists(path), "snapshot %s missing: %s" % (name, os.listdir(d)))
        data = self.load(path, check=check)
        self.assertEqual(data["end"]["reason"], "snapshot", name)
        return data

    def class_of(self, data, name):
        for c in data["classes"]:
            if c["name"] == name:
                return c
        self.fail("class %s not in the capture: %s" % (name, excerpt(data["classes"])))

    def class_leaks(self, data, name):
        entries = [e for e in data["leaks"] if e["class"] == name]
        return (sum(e["live_blocks"] for e in entries), sum(e["live_bytes"] for e in entries))

    def test_refused_and_failed(self):
        """NULL and "" are MEMTRACK_EINVAL; a path in a missing directory, or a directory,
        MEMTRACK_EIO; linked before memtrack_start(), MEMTRACK_ENOTSTARTED. Nothing is left
        behind and the program goes on."""
        E = self.E
        for mode, res, lines, d in self.modes():
            expected = {"snap_null": E["EINVAL"], "snap_empty": E["EINVAL"],
                        "snap_missing_dir": E["EIO"], "snap_is_dir": E["EIO"],
                        "snap_1": 0, "snap_2": 0, "snap_3": 0}
            if mode == "linked":
                expected.update({"initially_running": 0, "start": 1,
                                 "snap_before_start": E["ENOTSTARTED"]})
            else:
                expected.update({"initially_running": 1, "start": 0})
            self.assertLines(lines, expected, res, mode)
            self.assertEqual(sorted(os.listdir(d)), sorted(
                n + ".mtc" for n in ("s1", "s2", "s3") + CHURN_SNAPSHOTS), mode)

    def test_eio_leaves_errno(self):
        """memtrack.h: on MEMTRACK_EIO "errno is left as the system set it, for the reason"."""
        for mode, res, lines, d in self.modes():
            self.assertLines(lines, {"snap_missing_dir_errno": errno.ENOENT}, res, mode)
            self.assertNotEqual(lines["snap_is_dir_errno"][0], 0, res.describe())

    def test_two_moments(self):
        """s1: hold_a (10 x 100) and class snap_a (3 x 1000) live; s2: 4 of hold_a freed,
        hold_b (7 x 250) added. Nothing else was allocated."""
        for mode, res, lines, d in self.modes():
            s1 = self.snap(d, "s1")
            self.assertTotals(s1, {"allocations": 13, "frees": 0, "allocated_bytes": 4000,
                                   "live_blocks": 13, "live_bytes": 4000, "unknown_frees": 0},
                              mode)
            self.assertLeak(s1, "hold_a", 10, 1000)
            self.assertLeak(s1, "hold_a_tagged", 3, 3000, inclusive=True)
            self.assertEqual(self.class_leaks(s1, "snap_a"), (3, 3000))
            self.assertEqual(self.class_of(s1, "snap_a")["live_count"], 3)

            s2 = self.snap(d, "s2")
            self.assertTotals(s2, {"allocations": 20, "frees": 4, "allocated_bytes": 5750,
                                   "freed_bytes": 400, "live_blocks": 16, "live_bytes": 5350,
                                   "peak_bytes": 5350, "peak_blocks": 16}, mode)
            self.assertLeak(s2, "hold_a", 6, 600)
            self.assertLeak(s2, "hold_b", 7, 1750)
            self.assertEqual(self.class_leaks(s2, "snap_a"), (3, 3000))

    def test_while_threads_churn(self):
        """Snapshots taken while 4 threads allocate and free: each is one consistent moment
        (check_invariants: allocations - frees == live, threads add up to the totals, leaks to
        the live figures), class "churn" agrees with its leaks, and no churning thread has
        more than its ring of blocks live."""
        for mode, res, lines, d in self.modes():
            self.assertLines(lines, {k: 0 for k in (
                "snap_churn_1", "snap_churn_2", "snap_churn_3", "snap_pair_a", "snap_pair_b")},
                res, mode)
            tids = [lines["churn_tid_%d" % i][0] for i in range(4)]
            news = {}
            for name in CHURN_SNAPSHOTS:
                data = self.snap(d, name)
                churn = self.class_of(data, "churn")
                news[name] = churn["new_count"]
                self.assertEqual(self.class_leaks(data, "churn"),
                                 (churn["live_count"], churn["live_bytes"]), name)
                self.assertEqual(churn["new_count"] - churn["free_count"], churn["live_count"])
                live = 0
                for tid in tids:
                    th = thread_by_tid(data, tid)
                    self.assertIsNotNone(th, "%s: churning thread %d missing" % (name, tid))
                    self.assertLessEqual(th["live_blocks"], RING, excerpt(th))
                    self.assertGreaterEqual(th["allocations"], 2000, excerpt(th))
                    live += th["live_blocks"]
                self.assertEqual(live, churn["live_count"], name)
                for e in data["leaks"]:
                    if e["class"] == "churn":
                        self.assertEqual(fn_name(e["stack"][0]), "churn_alloc", excerpt(e))
                # The blocks of the two moments before the churn are still there.
                self.assertLeak(data, "hold_a", 6, 600)
                self.assertLeak(data, "hold_b", 7, 1750)
            self.assertLess(news["churn_1"], news["churn_2"], news)
            self.assertLess(news["churn_2"], news["churn_3"], news)
            for pair in ("pair_a", "pair_b"):
                self.assertLess(news["churn_1"], news[pair], news)
                self.assertLess(news[pair], news["churn_3"], news)

    def test_after_churn(self):
        for mode, res, lines, d in self.modes():
            s3 = self.snap(d, "s3")
            churn = self.class_of(s3, "churn")
            self.assertEqual((churn["live_count"], churn["live_bytes"]), (0, 0), mode)
            self.assertEqual(churn["new_count"], lines["churn_new_at_end"][0])
            self.assertEqual(self.class_leaks(s3, "churn"), (0, 0))
            self.assertLeak(s3, "hold_a", 6, 600)
            self.assertLeak(s3, "hold_b", 7, 1750)
            self.assertEqual(self.class_leaks(s3, "snap_a"), (3, 3000))
            for i in range(4):
                th = thread_by_tid(s3, lines["churn_tid_%d" % i][0])
                self.assertEqual(th["live_blocks"], 0, excerpt(th))
                self.assertGreater(th["end_ms"], 0, "churning thread not ended\n" + excerpt(th))
            self.assertLines(lines, {"churn_live_at_end": 0}, res)


if __name__ == "__main__":
    unittest.main()
