"""Peaks: the exact global high-water mark and what made it up, and each thread's own."""

import unittest

from mtutil import MemtrackCase, brief, contributors_of, excerpt, kv, parse_kv_lines, \
    thread_by_tid

MiB = 1024 * 1024


class PhasePeak(MemtrackCase):
    """tests/programs/peaks.c: phases of 1 MiB, 3 + 1 MiB and 2 MiB, all freed."""

    _cache = {}

    def data(self):
        if "d" not in self._cache:
            self._cache["d"] = self.run_and_load("peaks")
        return self._cache["d"][1]

    def test_peak_is_exactly_4_mib(self):
        # Temporaries: the last block of phase A, of phase_a2 and of phase C, each freed with
        # no allocation after it.
        self.assertTotals(self.data(), {
            "peak_bytes": 4 * MiB, "peak_blocks": 1024, "allocations": 2560, "frees": 2560,
            "allocated_bytes": 7 * MiB, "freed_bytes": 7 * MiB, "live_blocks": 0,
            "live_bytes": 0, "temporary": 3, "unknown_frees": 0})
        self.assertEqual(self.data()["leaks"], [], excerpt(brief(self.data())))

    def test_peak_contributors_are_the_two_paths(self):
        data = self.data()
        contributors = data["peak"]["contributors"]
        self.assertEqual(len(contributors), 2, excerpt(brief(data)))
        got = {name: [(c["blocks"], c["bytes"]) for c in contributors_of(data, name)]
               for name in ("phase_b", "phase_a2", "phase_a", "phase_c")}
        self.assertEqual(got, {"phase_b": [(768, 3 * MiB)], "phase_a2": [(256, 1 * MiB)],
                               "phase_a": [], "phase_c": []}, excerpt(brief(data)))
        # biggest first, as the leaks
        self.assertEqual([c["bytes"] for c in contributors], [3 * MiB, 1 * MiB],
                         excerpt(brief(data)))

    def test_peak_time_and_thread_peak(self):
        data = self.data()
        self.assertGreaterEqual(data["peak"]["time_ms"], 0, excerpt(data["peak"]))
        pid = kv(self._cache["d"][0].stdout, "pid")
        th = thread_by_tid(data, pid)
        self.assertIsNotNone(th, excerpt(data["threads"]))
        self.assertEqual((th["peak_bytes"], th["live_bytes"], th["allocations"], th["frees"]),
                         (4 * MiB, 0, 2560, 2560), excerpt(th))


class PeakTimes(MemtrackCase):
    """Peak times are taken on the same clock as the capture's duration: a peak cannot come
    after the end, and in a single-threaded program the thread's peak is the global one."""

    def test_times(self):
        for prog, args in (("peaks", []), ("leaks_c", []), ("leaks_c", ["pvalloc"]),
                           ("crash", ["exit", "0"]), ("crash", ["segv"])):
            with self.subTest(prog=prog, args=args):
                res = self.run_memtrack(prog, args, expect_rc=None)
                data = self.load(self.only_capture(res, prog))
                self.check_times(data)
                self.assertEqual(len(data["threads"]), 1, excerpt(data["threads"]))
                th = data["threads"][0]
                if "peak_time_ms" in th:
                    self.assertEqual(th["peak_time_ms"], data["peak"]["time_ms"],
                                     "single thread: its peak is the global peak\n%s" % excerpt(
                                         {"duration_ms": data.get("duration_ms"),
                                          "peak.time_ms": data["peak"]["time_ms"],
                                          "threads": data["threads"]}))


class ThreadPeaks(MemtrackCase):
    """tests/programs/thread_peaks.c: thread i's own peak is 10 * (i + 1) blocks of 1000 bytes,
    all threads hold theirs at the same moment, then stay below it. "baseline" runs the same
    threads without allocating (what is left is what pthread_create allocates)."""

    N = 6
    _cache = {}

    def run_mode(self, mode):
        if mode not in self._cache:
            self._cache[mode] = self.run_and_load("thread_peaks", [mode])
        return self._cache[mode]

    def tids(self, res):
        tids = {vals[0]: vals[1] for key, vals in parse_kv_lines(res.stdout) if key == "tid"}
        self.assertEqual(sorted(tids), list(range(self.N)), res.describe())
        return tids

    def test_each_thread_peak(self):
        res, data = self.run_mode("full")
        for idx, tid in self.tids(res).items():
            th = thread_by_tid(data, tid)
            self.assertIsNotNone(th, "thread %d (tid %d) missing\n%s" % (
                idx, tid, excerpt(data["threads"])))
            n = 10 * (idx + 1)
            allocs = n + 4 * (idx + 1)
            self.assertEqual(
                {k: th[k] for k in ("peak_bytes", "allocations", "allocated_bytes", "frees",
                                    "live_blocks", "live_bytes")},
                {"peak_bytes": 1000 * n, "allocations": allocs, "allocated_bytes": 1000 * allocs,
                 "frees": allocs, "live_blocks": 0, "live_bytes": 0},
                "thread %d\n%s" % (idx, excerpt(th)))

    def test_thread_names(self):
        res, data = self.run_mode("full")
        for idx, tid in self.tids(res).items():
            th = thread_by_tid(data, tid)
            self.assertIsNotNone(th, excerpt(data["threads"]))
            self.assertEqual(th["name"], "peak-%d" % idx, excerpt(th))

    def test_global_peak_is_sum_of_thread_peaks(self):
        _, full = self.run_mode("full")
        _, base = self.run_mode("baseline")
        total = sum(10 * (i + 1) * 1000 for i in range(self.N))
        blocks = sum(10 * (i + 1) for i in range(self.N))
        msg = "full:\n%s\nbaseline:\n%s" % (excerpt(brief(full)), excerpt(brief(base)))
        self.assertEqual(full["totals"]["peak_bytes"] - base["totals"]["peak_bytes"], total, msg)
        self.assertEqual(full["totals"]["peak_blocks"] - base["totals"]["peak_blocks"], blocks,
                         msg)
        held = contributors_of(full, "hold_blocks")
        self.assertEqual((sum(c["blocks"] for c in held), sum(c["bytes"] for c in held)),
                         (blocks, total), msg)
        for name in ("regrow_blocks", "drop_blocks"):
            self.assertEqual(contributors_of(full, name), [], msg)
        # what is live at exit is what pthread_create left, the same as without allocations
        for key in ("live_blocks", "live_bytes", "unknown_frees"):
            self.assertEqual(full["totals"][key], base["totals"][key], msg)


if __name__ == "__main__":
    unittest.main()
