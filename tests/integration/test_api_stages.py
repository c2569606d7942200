"""Stages and peaks through the C API (tests/programs/api_stages.c), with no tracker, linked and
under `memtrack run`: memtrack_peak and memtrack_thread_peak exact through known phases, the
resets (global and per thread, each leaving the other mark alone), 4 threads' own marks, bad
stage names; then the snapshot's `stages[]` (each period's name, peak, time and contributors)
and overall peak. Also builds and runs examples/stage_peaks.c in every way a program meets
the API."""

import os
import re
import shutil
import unittest

from mtutil import (MEMTRACK, ApiCase, ExampleCase, by_function, excerpt, peak_line,
                    run_proc_env, thread_by_tid)

SETUP = 100                      # setup(): held from the start to the end
LOAD = 1000 * 1000               # load(): 1000 x 1000 B
PROCESS = 300 * 1000             # process(): 300 x 1000 B, 200 of them freed before the reset
BUMP = 4096
THREAD_SIZE = [1024 * (i + 1) for i in range(4)]  # thread i: 8 blocks of THREAD_SIZE[i]
THREADS_HELD = sum(8 * s for s in THREAD_SIZE)
TEARDOWN = 50 * 10
NAME63 = "x" * 63

# The periods of the capture, oldest first: (name, peak bytes, {innermost function: (blocks,
# bytes)} of the contributors at that peak).
STAGES = [
    (None, SETUP, {"setup": (1, SETUP)}),
    ("load", SETUP + LOAD, {"load": (1000, LOAD), "setup": (1, SETUP)}),
    ("process", SETUP + PROCESS, {"process": (300, PROCESS), "setup": (1, SETUP)}),
    # after memtrack_peak_reset: the same stage goes on, its mark restarted from 100 blocks
    ("process", SETUP + 100000 + BUMP,
     {"process": (100, 100000), "bump": (1, BUMP), "setup": (1, SETUP)}),
    # after memtrack_stage_end: unnamed, its peak what was live at its start
    (None, SETUP + 100000, {"process": (100, 100000), "setup": (1, SETUP)}),
    ("threads", SETUP + THREADS_HELD, {"thread_alloc": (32, THREADS_HELD), "setup": (1, SETUP)}),
    ("teardown", SETUP + TEARDOWN, {"teardown": (50, TEARDOWN), "setup": (1, SETUP)}),
    (NAME63, SETUP, {"setup": (1, SETUP)}),
    (None, SETUP, {"setup": (1, SETUP)}),
]


class Stages(ApiCase):

    _cache = {}

    def run_mode(self, mode, late=False):
        key = (mode, late)
        if key not in self._cache:
            snap = os.path.join(self.tempdir(), "stages.mtc")
            res, lines = self.run_api("api_stages", [snap] + (["late"] if late else []),
                                      mode=mode)
            self._cache[key] = (res, lines, snap)
        return self._cache[key]

    def modes(self):
        return [(m,) + self.run_mode(m) for m in ("linked", "run")]

    def peaks(self, lines, keys):
        return {k: peak_line(lines, k)[:2] for k in keys}

    def snapshot(self, mode, late=False):
        res, lines, snap = self.run_mode(mode, late)
        self.assertEqual(lines.get("snapshot"), [0], res.describe())
        return self.load(snap)

    # --- the API's own answers

    def test_no_tracker(self):
        res, lines, snap = self.run_mode("plain")
        E = self.E["ENOTRACKER"]
        self.assertLines(lines, {k: E for k in (
            "initially_running", "start", "none_stage_begin", "none_stage_end", "none_peak",
            "none_thread_peak", "none_peak_reset", "none_thread_peak_reset")}, res)
        self.assertFalse(os.path.exists(snap))

    def test_arguments(self):
        """Stage names of 1 to 63 bytes: NULL, "" and 64 bytes are MEMTRACK_EINVAL (and cut
        nothing: see test_capture_stages); a NULL out is MEMTRACK_EINVAL; linked, a peak reset
        before the tracker exists is MEMTRACK_ENOTSTARTED."""
        E = self.E
        for mode, res, lines, snap in self.modes():
            expected = {"begin_null": E["EINVAL"], "begin_empty": E["EINVAL"],
                        "begin_64": E["EINVAL"], "peak_null": E["EINVAL"],
                        "thread_peak_null": E["EINVAL"], "begin_load": 0, "begin_process": 0,
                        "process_reset": 0, "end_process": 0, "begin_threads": 0,
                        "begin_teardown": 0, "begin_63": 0, "end_63": 0, "t_reset_load": 0,
                        "start": 1 if mode == "linked" else 0}
            if mode == "linked":
                expected["peak_reset_before_start"] = E["ENOTSTARTED"]
            self.assertLines(lines, expected, res, mode)

    def test_global_peaks(self):
        """memtrack_peak: (current, peak) exact at every step; a stage's mark restarts from
        what is live, as memtrack_peak_reset's does; the thread reset leaves it alone."""
        held = SETUP + 100000
        expected = {
            "p_setup": (SETUP, SETUP),
            "load_begin": (SETUP, SETUP),
            "load_held": (SETUP + LOAD, SETUP + LOAD),
            "load_done": (SETUP, SETUP + LOAD),
            "load_after_t_reset": (SETUP, SETUP + LOAD),
            "process_begin": (SETUP, SETUP),
            "process_held": (SETUP + PROCESS, SETUP + PROCESS),
            "process_part": (held, SETUP + PROCESS),
            "process_after_reset": (held, held),
            "bump_held": (held + BUMP, held + BUMP),
            "process_after_bump": (held, held + BUMP),
            "after_process_end": (held, held),
            "process_freed": (SETUP, held),
            "threads_done": (SETUP, SETUP + THREADS_HELD),
            "teardown_held": (SETUP + TEARDOWN, SETUP + TEARDOWN),
            "teardown_done": (SETUP, SETUP + TEARDOWN),
            "final": (0, SETUP),
        }
        for mode, res, lines, snap in self.modes():
            self.assertEqual(self.peaks(lines, expected), expected, mode + "\n" + res.describe())

    def test_thread_peaks(self):
        """memtrack_thread_peak: the calling thread's blocks, wherever freed. main's reset
        restarts only main's mark; the global reset leaves main's alone; 6 blocks main made
        and thread 0 freed leave main's figures; each of 4 threads has its exact marks."""
        main = {
            "t_load_held": (SETUP + LOAD, SETUP + LOAD),
            "t_load_done": (SETUP, SETUP + LOAD),
            "t_load_reset": (SETUP, SETUP),
            "t_process_held": (SETUP + PROCESS, SETUP + PROCESS),
            "t_process_after_reset": (SETUP + 100000, SETUP + PROCESS),
            "t_main_remote": (SETUP + 6 * 512, SETUP + PROCESS),
            "t_main_threads_done": (SETUP, SETUP + PROCESS),
        }
        for mode, res, lines, snap in self.modes():
            self.assertEqual(self.peaks(lines, main), main, mode + "\n" + res.describe())
            for i, s in enumerate(THREAD_SIZE):
                want = {"start": (0, 0), "held": (8 * s, 8 * s), "half": (4 * s, 8 * s),
                        "after_reset": (4 * s, 4 * s), "again": (5 * s, 5 * s),
                        "end": (0, 5 * s)}
                got = {k: peak_line(lines, "t%d_%s" % (i, k))[:2] for k in want}
                self.assertEqual(got, want, "%s thread %d\n%s" % (mode, i, res.describe()))
                self.assertEqual(lines["t%d_reset" % i], [0])

    def test_peak_time_after_reset(self):
        """A mark restarted by memtrack_peak_reset or a stage is reached at the reset: its time
        cannot be earlier than a mark reached before the reset."""
        for mode, res, lines, snap in self.modes():
            t = {k: peak_line(lines, k)[2] for k in (
                "p_setup", "load_begin", "process_part", "process_after_reset",
                "process_after_bump", "after_process_end", "teardown_done", "final")}
            self.assertGreaterEqual(t["load_begin"], t["p_setup"], "%s %r" % (mode, t))
            self.assertGreaterEqual(t["process_after_reset"], t["process_part"],
                                    "%s %r" % (mode, t))
            self.assertGreaterEqual(t["after_process_end"], t["process_after_bump"],
                                    "%s %r" % (mode, t))
            self.assertGreaterEqual(t["final"], t["teardown_done"], "%s %r" % (mode, t))

    def test_peak_time_is_when_reached(self):
        """The load peak is reached before a 50 ms pause: its time, asked for just after it was
        reached, is the same when asked again after the pause (and in the capture)."""
        for mode, res, lines, snap in self.modes():
            held = peak_line(lines, "load_held")[2]
            done = peak_line(lines, "load_done")[2]
            self.assertLess(abs(done - held), 5 * 10**6,
                            "%s: the load peak's time moved from %.3f ms to %.3f ms" % (
                                mode, held / 1e6, done / 1e6))
            tdone = peak_line(lines, "t_load_done")[2]
            theld = peak_line(lines, "t_load_held")[2]
            self.assertLess(abs(tdone - theld), 5 * 10**6,
                            "%s: the thread's peak time moved from %.3f ms to %.3f ms" % (
                                mode, theld / 1e6, tdone / 1e6))

    # --- the capture

    def test_capture_stages(self):
        """stages[]: every period, oldest first, with its name (null when unnamed), its exact
        peak and the contributors at that peak (innermost function, blocks, bytes); each period
        starts where the one before ended; the last is still running (end_ms null)."""
        for mode in ("linked", "run"):
            data = self.snapshot(mode)
            stages = data.get("stages")
            self.assertIsInstance(stages, list, mode)
            msg = "%s\n%s" % (mode, excerpt([{k: s[k] for k in (
                "name", "start_ms", "end_ms", "peak_bytes", "peak_time_ms")} for s in stages]))
            self.assertEqual([(s["name"], s["peak_bytes"]) for s in stages],
                             [(n, p) for n, p, _ in STAGES], msg)
            for i, (s, (name, peak, contrib)) in enumerate(zip(stages, STAGES)):
                got = by_function(s["contributors"])
                self.assertEqual(got, contrib, "%s stage #%d %s\n%s" % (
                    mode, i, name, excerpt(s["contributors"])))
                self.assertEqual(sum(c["bytes"] for c in s["contributors"]), peak)
                if i + 1 < len(stages):
                    self.assertIsNotNone(s["end_ms"], msg)
                    self.assertEqual(stages[i + 1]["start_ms"], s["end_ms"], msg)
                    self.assertLessEqual(s["start_ms"], s["end_ms"], msg)
            self.assertIsNone(stages[-1]["end_ms"], msg)
            self.assertEqual(stages[0]["start_ms"], 0, msg)
            # The load stage's peak time is the one memtrack_peak gave after the load.
            load_ns = peak_line(self.run_mode(mode)[1], "load_done")[2]
            self.assertAlmostEqual(stages[1]["peak_time_ms"], load_ns / 1e6, delta=1e-3,
                                   msg=msg)

    def test_capture_stage_peak_times(self):
        """Each period's peak_time_ms lies within [start_ms, end_ms] (the capture's end for
        the last)."""
        for mode in ("linked", "run"):
            data = self.snapshot(mode)
            bad = []
            for i, s in enumerate(data["stages"]):
                end = s["end_ms"] if s["end_ms"] is not None else data["duration_ms"]
                if not s["start_ms"] <= s["peak_time_ms"] <= end:
                    bad.append("#%d %s: peak at %s ms, period %s..%s ms" % (
                        i, s["name"], s["peak_time_ms"], s["start_ms"], s["end_ms"]))
            self.assertEqual(bad, [], mode)

    def test_capture_overall_peak(self):
        """The overall peak is the biggest stage's (load), with load's contributors, though
        smaller stages came after it."""
        for mode in ("linked", "run"):
            data = self.snapshot(mode)
            peak = data["peak"]
            self.assertEqual((peak["bytes"], peak["blocks"]), (SETUP + LOAD, 1001), mode)
            self.assertEqual(by_function(peak["contributors"]),
                             {"load": (1000, LOAD), "setup": (1, SETUP)}, mode)
            self.assertEqual(peak["time_ms"], data["stages"][1]["peak_time_ms"], mode)
            self.assertTotals(data, {"live_blocks": 0, "live_bytes": 0,
                                     "peak_bytes": SETUP + LOAD}, mode)

    def test_capture_overall_peak_in_current_stage(self):
        """With a last stage "late" that holds 2000 x 1000 B (the biggest peak) and frees half
        before the snapshot: the overall peak is late's, still running, with its contributors
        at that peak (not what is live at the snapshot)."""
        late = 2000 * 1000
        for mode in ("linked", "run"):
            res, lines, snap = self.run_mode(mode, late=True)
            self.assertEqual(peak_line(lines, "late_done")[:2], (late // 2, late), mode)
            data = self.snapshot(mode, late=True)
            stages = data["stages"]
            self.assertEqual([(s["name"], s["peak_bytes"]) for s in stages],
                             [(n, p) for n, p, _ in STAGES] + [("late", late)], mode)
            self.assertIsNone(stages[-1]["end_ms"])
            self.assertEqual(by_function(stages[-1]["contributors"]),
                             {"late": (2000, late)}, mode)
            peak = data["peak"]
            self.assertEqual((peak["bytes"], peak["blocks"]), (late, 2000), mode)
            self.assertEqual(by_function(peak["contributors"]), {"late": (2000, late)}, mode)
            self.assertEqual(peak["time_ms"], stages[-1]["peak_time_ms"], mode)
            self.assertTrue(stages[-1]["start_ms"] <= peak["time_ms"] <= data["duration_ms"],
                            mode)
            self.assertTotals(data, {"live_blocks": 1000, "live_bytes": late // 2,
                                     "peak_bytes": late, "peak_blocks": 2000}, mode)

    def test_capture_threads(self):
        """The capture's per-thread figures agree with what each thread was told (its mark
        since its own reset), and main's mark is the one since main's reset."""
        for mode in ("linked", "run"):
            data = self.snapshot(mode)
            lines = self.run_mode(mode)[1]
            for i, s in enumerate(THREAD_SIZE):
                th = thread_by_tid(data, lines["t%d_tid" % i][0])
                self.assertIsNotNone(th, "%s: thread %d missing" % (mode, i))
                self.assertEqual((th["allocations"], th["allocated_bytes"], th["live_blocks"],
                                  th["peak_bytes"]), (9, 9 * s, 0, 5 * s),
                                 "%s thread %d\n%s" % (mode, i, excerpt(th)))
            main = [t for t in data["threads"] if t["tid"] == data["pid"]]
            self.assertEqual(len(main), 1, excerpt(data["threads"]))
            self.assertEqual(main[0]["peak_bytes"], SETUP + PROCESS, excerpt(main[0]))

    def test_text_report_lists_stages(self):
        res, lines, snap = self.run_mode("run")
        proc = run_proc_env([MEMTRACK, "report", snap])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text = proc.stdout
        self.assertIn("\nStages\n", text)
        section = text.split("\nStages\n", 1)[1]
        order = [m.group(1) for m in re.finditer(r"^  (\S+), ", section, re.M)]
        self.assertEqual([o for o in order if o in ("load", "process", "threads", "teardown")],
                         ["load", "process", "process", "threads", "teardown"], section)
        self.assertIn(NAME63 + ", ", section)


@unittest.skipUnless(shutil.which(os.environ.get("CC") or "cc"), "no C compiler")
class StagePeaksExample(ExampleCase):
    """examples/stage_peaks.c: built linked and plain, run linked, plain, under `memtrack run`
    and linked under `memtrack run`."""

    RECORDS = 2000 * 512 + 2000 * 8

    EXAMPLE = "stage_peaks"

    def test_without_tracker(self):
        out = self.run_example(False, False)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertRegex(lines[0], r"^memtrack: no tracker in this process")
        self.assertRegex(lines[1], r"^done \(checksum \d+\)$")

    def test_with_tracker(self):
        for linked, under_run in ((True, False), (False, True), (True, True)):
            out = self.run_example(linked, under_run)
            what = "linked=%s run=%s\n%s" % (linked, under_run, out)
            self.assertIn("tracking started by the program" if not under_run
                          else "already tracking (memtrack run)", out, what)
            stages = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in re.finditer(
                r"^stage (\w+): peak (\d+) bytes at [\d.]+ ms, (\d+) bytes live", out, re.M)}
            units = [int(m.group(1)) for m in re.finditer(
                r"^unit \d: peak (\d+) bytes above the %d held" % self.RECORDS, out, re.M)]
            scratch = [(u + 1) * 16 * (4096 + 8) for u in range(4)]
            self.assertEqual(units, scratch, what)
            self.assertEqual(stages, {"load": (self.RECORDS, self.RECORDS),
                                      "process": (self.RECORDS + scratch[-1], self.RECORDS),
                                      "teardown": (self.RECORDS, 0)}, what)


if __name__ == "__main__":
    unittest.main()
