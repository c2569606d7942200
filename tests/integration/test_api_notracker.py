"""The C API's error codes and messages, and every API call made by one program
(tests/programs/api_notracker.c) in each way a program meets the API: with no tracker (every
call returns MEMTRACK_ENOTRACKER, tagged allocations still allocate), linked with -lmemtrack,
under `memtrack run`, and linked and under `memtrack run` at once."""

import os
import unittest

from mtutil import ApiCase, api_errors, counts, api_counts


class ErrorCodes(ApiCase):

    def test_strerror_and_err_name_for_every_code(self):
        """memtrack_err_name/memtrack_strerror give the header's name and message for every
        code of MEMTRACK_ERRNO_MAP, "MEMTRACK_OK"/"success" for 0, and "MEMTRACK_UNKNOWN"/
        "unknown error" for anything else; they work without a tracker."""
        table = api_errors()
        values = [v for v, _ in table.values()]
        self.assertEqual(len(values), len(set(values)), "two errors share a value: %r" % table)
        self.assertTrue(all(v < 0 for v in values), "an error code is not negative: %r" % table)
        res, _ = self.run_api("api_notracker", ["errors"], mode="plain")
        names, msgs = {}, {}
        for line in res.stdout.splitlines():
            kind, code, text = line.split(" ", 2)
            (names if kind == "err" else msgs)[int(code)] = text
        by_value = {v: ("MEMTRACK_" + n, m) for n, (v, m) in table.items()}
        by_value[0] = ("MEMTRACK_OK", "success")
        for v in values:
            self.assertIn(v, names, "code %d of the map was not printed\n%s" % (
                v, res.describe()))
        self.assertGreaterEqual(len(names), len(by_value) + 5)
        for code in names:
            want = by_value.get(code, ("MEMTRACK_UNKNOWN", "unknown error"))
            self.assertEqual((names[code], msgs.get(code)), want, "code %d" % code)


class EveryCall(ApiCase):
    """The same sequence of calls, in each mode (see api_notracker.c calls())."""

    def calls(self, mode):
        snap = os.path.join(self.tempdir(), "snap.mtc")
        res, lines = self.run_api("api_notracker", ["calls", snap], mode=mode)
        return res, lines, snap

    # Allocations work in every mode, and errno survives every call.
    ALWAYS = {
        "malloc_tagged_ok": 1, "calloc_tagged_zeroed": 1, "new_zeroed": 1,
        "new_array_zeroed": 1, "malloc_tagged_null_name_ok": 1,
        "calloc_tagged_overflow_null": 1, "calloc_tagged_overflow_enomem": 1, "errno_kept": 1,
    }

    def test_without_tracker(self):
        res, lines, snap = self.calls("plain")
        E = self.E["ENOTRACKER"]
        expected = {k: E for k in (
            "running", "start", "running_after_start", "totals", "totals_null",
            "count_for_unknown", "count_for_null_name", "count_for_null_out", "tag_push",
            "tag_pop", "tag_pop_again", "tag_push_null", "tag_pop_after_null", "track_paths",
            "track_paths_bad", "count_for_after", "snapshot", "snapshot_null", "stop",
            "stop_again", "clear", "running_at_end")}
        expected.update(self.ALWAYS)
        expected["totals_is_zero"] = 0  # the output struct is left alone
        self.assertLines(lines, expected, res)
        self.assertNotIn("nt_class_counts", lines)
        self.assertFalse(os.path.exists(snap), "a snapshot without a tracker wrote a file")
        self.assertEqual([f for f in res.files() if f.endswith(".mtc")], [], res.describe())
        self.assertEqual(res.stderr, "", res.describe())

    def test_later_functions_without_tracker(self):
        """Names, callbacks, peaks, stages, top paths, frame names: MEMTRACK_ENOTRACKER."""
        res, lines = self.run_api("api_notracker", ["later"], mode="plain")
        E = self.E["ENOTRACKER"]
        expected = {k: E for k in (
            "name_block", "track_var", "track", "untrack", "flush", "peak", "thread_peak",
            "peak_reset", "thread_peak_reset", "stage_begin", "stage_end", "top_paths",
            "frame_name")}
        expected["top_paths_count_untouched"] = 1
        self.assertLines(lines, expected, res)

    def expected_with_tracker(self, started_before):
        E = self.E
        expected = {
            "running": 1 if started_before else 0,
            "start": 0 if started_before else 1,
            "running_after_start": 1,
            "totals": 0, "totals_is_zero": 1, "totals_null": E["EINVAL"],
            "count_for_unknown": E["ENOENT"], "count_for_null_name": E["EINVAL"],
            "count_for_null_out": E["EINVAL"],
            "tag_push": 0, "tag_pop": 0, "tag_pop_again": E["ESTATE"],
            "tag_push_null": E["EINVAL"],
            "tag_pop_after_null": 0,  # a refused push still enters a scope
            "track_paths": 0, "track_paths_bad": E["EINVAL"],
            "count_for_after": 0, "snapshot": 0, "snapshot_null": E["EINVAL"],
            "stop": 1, "stop_again": 0, "clear": 0, "running_at_end": 0,
        }
        expected.update(self.ALWAYS)
        return expected

    def check_tracked(self, mode, started_before):
        res, lines, snap = self.calls(mode)
        self.assertLines(lines, self.expected_with_tracker(started_before), res, mode)
        # malloc(24) inside the scope, memtrack_malloc_tagged(100), memtrack_calloc_tagged(10,
        # 10), all freed; the overflowing calloc allocated nothing.
        self.assertEqual(api_counts(lines, "nt_class_counts"), counts(3, 3, 224, 224),
                         res.describe())
        data = self.load(snap)
        classes = {c["name"]: c for c in data["classes"]}
        self.assertIn("nt_class", classes, res.describe())
        got = {k: classes["nt_class"][k] for k in ("new_count", "free_count", "new_bytes")}
        self.assertEqual(got, {"new_count": 3, "free_count": 3, "new_bytes": 224})
        # MEMTRACK_NEW(point) and MEMTRACK_NEW_ARRAY(point, 5): two blocks, 16 + 5 * 16 bytes.
        got = {k: classes["point"][k] for k in ("new_count", "free_count", "new_bytes")}
        self.assertEqual(got, {"new_count": 2, "free_count": 2, "new_bytes": 96})
        self.assertEqual(res.stderr.count("memtrack:"), 1 if mode.startswith("run") else 0,
                         res.describe())
        return res

    def test_linked(self):
        self.check_tracked("linked", started_before=False)

    def test_under_memtrack_run(self):
        self.check_tracked("run", started_before=True)

    def test_linked_under_memtrack_run(self):
        """A program built with -lmemtrack and run under `memtrack run` talks to the tracker
        `memtrack run` preloaded (it comes first), which is already running."""
        self.check_tracked("run_linked", started_before=True)


if __name__ == "__main__":
    unittest.main()
