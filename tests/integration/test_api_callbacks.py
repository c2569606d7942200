"""Callbacks on tracked classes (memtrack_track/untrack/flush) through tests/programs/
api_callbacks.c, with no tracker, linked and under `memtrack run`: exact numbers of on_new and
on_free calls after memtrack_flush, each block's state handed from on_new to on_free (NULL for
blocks from before memtrack_track, or when on_new is NULL), the class's events in program
order, one callback at a time and only where the header allows (memtrack's thread or a thread
inside memtrack_flush), callbacks that allocate in their own class (counted, no events, no
endless loop), memtrack_flush refused in a callback, untrack and re-registration, and 4 threads
at once. Also builds and runs examples/class_lifetimes.c."""

import os
import re
import shutil
import unittest

from mtutil import ApiCase, ExampleCase, api_counts, counts, excerpt, fn_name, leaks_of

OBJ_SIZES = [100 + i for i in range(17)]  # make_obj(i)
PRE = 3 * 50                              # 3 blocks of "obj" from before memtrack_track


class Callbacks(ApiCase):

    _cache = {}

    def run_mode(self, mode):
        if mode not in self._cache:
            self._cache[mode] = self.run_api("api_callbacks", mode=mode)
        return self._cache[mode]

    def modes(self):
        return [(m,) + self.run_mode(m) for m in ("linked", "run")]

    def stats(self, lines, prefix):
        keys = ("news", "frees", "new_bytes", "free_bytes", "null_frees", "state_errors",
                "bad_args", "on_cb_thread", "on_flushing_thread", "elsewhere", "cb_allocs")
        return {k: lines["%s_%s" % (prefix, k)][0] for k in keys}

    def class_counts(self, lines, key):
        vals = lines[key]
        self.assertEqual(vals[0], 0, "memtrack_count_for failed: %r" % vals)
        lines = dict(lines)
        lines[key] = vals[1:]
        return api_counts(lines, key)

    def test_no_tracker(self):
        res, lines = self.run_mode("plain")
        E = self.E["ENOTRACKER"]
        self.assertLines(lines, {"start": E, "none_track": E, "none_untrack": E,
                                 "none_flush": E}, res)

    def test_arguments(self):
        """NULL, "", "untagged" and a 256-byte name are MEMTRACK_EINVAL; untracking a class
        never seen, or one without callbacks, or twice, MEMTRACK_ENOENT; flush and
        (re)registration 0."""
        E = self.E
        for mode, res, lines in self.modes():
            self.assertLines(lines, {
                "start": 1 if mode == "linked" else 0,
                "track_null": E["EINVAL"], "track_empty": E["EINVAL"],
                "track_untagged": E["EINVAL"], "track_256": E["EINVAL"],
                "untrack_unknown": E["ENOENT"], "untrack_plain": E["ENOENT"],
                "track_obj": 0, "untrack_obj": 0, "untrack_obj_again": E["ENOENT"],
                "track_keeper": 0, "retrack_obj": 0, "track_stale": 0, "track_stale_again": 0, "track_later": 0,
                "track_later_again": 0, "track_conc": 0,
                "flush_1": 0, "flush_again": 0, "flush_2": 0, "flush_3": 0, "flush_4": 0,
            }, res, mode)

    def test_exact_events_and_states(self):
        """10 blocks allocated after memtrack_track, 4 of them and the 3 earlier ones freed:
        after memtrack_flush, 10 on_new and 7 on_free with their sizes; the 3 earlier blocks'
        states NULL, every other state the one on_new returned for that very block, given
        once; the class name and user pointer as registered; in program order."""
        for mode, res, lines in self.modes():
            want = {"news": 10, "frees": 7, "new_bytes": sum(OBJ_SIZES[:10]),
                    "free_bytes": sum(OBJ_SIZES[:4]) + PRE, "null_frees": 3,
                    "state_errors": 0, "bad_args": 0, "cb_allocs": 17}
            got = self.stats(lines, "obj_1")
            self.assertEqual({k: got[k] for k in want}, want, mode + "\n" + res.describe())
            self.assertEqual(lines["obj_1_sequence_ok"], [1],
                             "events not delivered in program order (%s)" % mode)
            # A second flush has nothing left to deliver.
            self.assertEqual(lines["obj_news_after_flush_again"], [10], mode)

    def test_where_callbacks_run(self):
        """Only on memtrack's thread ("memtrack-cb") or on a thread inside memtrack_flush,
        never elsewhere (never inside the allocating thread's malloc), one at a time."""
        for mode, res, lines in self.modes():
            for prefix in ("obj_3", "obj2_3", "stale1", "stale2", "conc"):
                s = self.stats(lines, prefix)
                self.assertEqual(s["elsewhere"], 0, "%s %s: %r" % (mode, prefix, s))
                self.assertEqual(s["on_cb_thread"] + s["on_flushing_thread"],
                                 s["news"] + s["frees"], "%s %s: %r" % (mode, prefix, s))
            self.assertEqual(lines["max_inside"], [1], "callbacks ran concurrently (%s)" % mode)

    def test_flush_inside_callback(self):
        for mode, res, lines in self.modes():
            self.assertLines(lines, {"flush_in_callback": self.E["ESTATE"]}, res, mode)

    def test_callbacks_allocating_in_their_class(self):
        """Each callback allocates and frees an 8-byte block of its own class: counted by
        memtrack_count_for, no events for them (the numbers of callbacks stay exact), and the
        program ends (no endless loop)."""
        for mode, res, lines in self.modes():
            cb = lines["obj_1_cb_allocs"][0]
            self.assertEqual(cb, 17, mode)
            self.assertEqual(self.class_counts(lines, "counts_obj_1"),
                             counts(3 + 10 + cb, 7 + cb, PRE + sum(OBJ_SIZES[:10]) + 8 * cb,
                                    PRE + sum(OBJ_SIZES[:4]) + 8 * cb), mode)

    def test_untrack_and_register_again(self):
        """Events from before memtrack_untrack are delivered (2 more news), none after it (5
        allocations and 3 frees unseen); registered again with another user pointer, the 5
        blocks allocated while untracked come to the new on_free with no state."""
        for mode, res, lines in self.modes():
            want = {"news": 12, "frees": 7, "new_bytes": sum(OBJ_SIZES[:12]),
                    "free_bytes": sum(OBJ_SIZES[:4]) + PRE, "null_frees": 3,
                    "state_errors": 0, "cb_allocs": 19}
            for prefix in ("obj_2", "obj_3"):
                got = self.stats(lines, prefix)
                self.assertEqual({k: got[k] for k in want}, want, "%s %s" % (mode, prefix))
            got = self.stats(lines, "obj2_3")
            want2 = {"news": 0, "frees": 5, "free_bytes": sum(OBJ_SIZES[12:]), "null_frees": 5,
                     "state_errors": 0, "bad_args": 0}
            self.assertEqual({k: got[k] for k in want2}, want2, mode)
            self.assertEqual(self.class_counts(lines, "counts_obj_3"), counts(
                3 + 17 + 19, 3 + 4 + 3 + 5 + 19, PRE + sum(OBJ_SIZES) + 8 * 19,
                PRE + sum(OBJ_SIZES[:7]) + sum(OBJ_SIZES[12:]) + 8 * 19), mode)

    def test_no_stale_state(self):
        """A block freed while its class was untracked must not hand its state to a later
        block at the same address: registered again with on_new NULL, the new block's on_free
        gets NULL (memtrack.h: the state is NULL if on_new is NULL)."""
        for mode, res, lines in self.modes():
            self.assertEqual(lines["stale_same_address"], [1],
                             "the allocator did not reuse the address; the check is void")
            s1, s2 = self.stats(lines, "stale1"), self.stats(lines, "stale2")
            self.assertEqual((s1["news"], s1["frees"]), (1, 0), mode)
            self.assertEqual((s2["news"], s2["frees"]), (0, 1), mode)
            self.assertEqual(s2["null_frees"], 1,
                             "%s: on_free got a state although on_new is NULL (the state of an "
                             "earlier block at that address, freed while untracked)" % mode)

    def test_no_stale_state_for_block_made_while_untracked(self):
        """The same leftover state, but the later block at that address is made while the
        class is untracked and freed once it is tracked again: it was allocated before the
        call, so its on_free gets NULL (memtrack.h: "Events of blocks allocated before the
        call have no state"), not the state of the earlier block."""
        for mode, res, lines in self.modes():
            self.assertEqual(lines["later_same_address"], [1],
                             "the allocator did not reuse the address; the check is void")
            s1, s2 = self.stats(lines, "later1"), self.stats(lines, "later2")
            self.assertEqual((s1["news"], s1["frees"]), (1, 0), mode)
            self.assertEqual((s2["news"], s2["frees"]), (0, 1), mode)
            self.assertEqual(s2["null_frees"], 1,
                             "%s: on_free of a block allocated while untracked got the state of "
                             "an earlier block at that address" % mode)

    def test_class_made_by_track(self):
        """memtrack.h: classes are made by memtrack_track too: count_for answers, all zero."""
        for mode, res, lines in self.modes():
            self.assertEqual(lines["counts_conc_registered"], [0] * 7, mode)

    def test_four_threads(self):
        """4 threads, 500 allocations and 500 frees each, all of a tracked class: after the
        join and a flush, exactly 2000 on_new and 2000 on_free, every state right, bytes equal
        to what the threads allocated; count_for adds the callbacks' own 4000 blocks."""
        for mode, res, lines in self.modes():
            nbytes = lines["conc_bytes"][0]
            want = {"news": 2000, "frees": 2000, "new_bytes": nbytes, "free_bytes": nbytes,
                    "null_frees": 0, "state_errors": 0, "bad_args": 0, "cb_allocs": 4000}
            got = self.stats(lines, "conc")
            self.assertEqual({k: got[k] for k in want}, want, mode)
            self.assertEqual(self.class_counts(lines, "counts_conc"),
                             counts(6000, 6000, nbytes + 8 * 4000, nbytes + 8 * 4000), mode)

    def capture(self):
        res, lines = self.run_mode("run")
        return lines, self.load(self.only_capture(res, "api_callbacks"), check=False)

    def test_capture_is_consistent(self):
        """The final capture of the run (callbacks allocated in it too, on memtrack's thread
        and in memtrack_flush) adds up, and class "conc" has all its blocks freed. (The
        frames of its call paths are checked by the next test.)"""
        lines, data = self.capture()
        t = data["totals"]
        self.assertEqual(t["allocations"] - t["frees"], t["live_blocks"])
        self.assertEqual(t["allocated_bytes"] - t["freed_bytes"], t["live_bytes"])
        self.assertEqual(sum(e["live_blocks"] for e in data["leaks"]), t["live_blocks"])
        self.assertEqual(sum(c["bytes"] for c in data["peak"]["contributors"]),
                         data["peak"]["bytes"])
        self.assertIs(data["degraded"], False)
        conc = [c for c in data["classes"] if c["name"] == "conc"]
        self.assertEqual([(c["new_count"], c["free_count"]) for c in conc], [(6000, 6000)])

    def test_callback_allocation_call_paths(self):
        """A block a callback allocated (keeper_new, delivered by memtrack_flush from main)
        is a leak whose call path starts in the callback and goes down to main through the
        program's flush(); like every call path (mtutil's invariants), it holds no frame of
        memtrack's own library (deliver, deliver_here, memtrack__flush)."""
        lines, data = self.capture()
        self.assertEqual(lines["keeper_kept"], [1])
        entries = leaks_of(data, "keeper_new")
        self.assertEqual([(e["live_blocks"], e["live_bytes"]) for e in entries], [(1, 33)],
                         excerpt(data["leaks"]))
        stack = entries[0]["stack"]
        functions = [fn_name(f) for f in stack]
        self.assertIn("main", functions)
        self.assertLess(functions.index("flush"), functions.index("main"), functions)
        ours = ["%s (%s)" % (fn_name(f), os.path.basename(f.get("module") or ""))
                for f in stack if "libmemtrack" in os.path.basename(f.get("module") or "")]
        self.assertEqual(ours, [], "memtrack's own frames in a call path: %s" % functions)


@unittest.skipUnless(shutil.which(os.environ.get("CC") or "cc"), "no C compiler")
class ClassLifetimesExample(ExampleCase):
    """examples/class_lifetimes.c: built linked and plain, run linked, plain, under `memtrack
    run` and linked under `memtrack run`."""

    EXAMPLE = "class_lifetimes"

    def test_without_tracker(self):
        out = self.run_example(False, False)
        self.assertRegex(out, r"^memtrack: no tracker in this process[^\n]*\n$")

    def test_with_tracker(self):
        """Every block of each class measured (none untimed); requests (freed at once) live
        shorter than sessions (a 10 ms round), sessions shorter than the cache (the whole
        run)."""
        for linked, under_run in ((True, False), (False, True), (True, True)):
            out = self.run_example(linked, under_run)
            what = "linked=%s run=%s\n%s" % (linked, under_run, out)
            rows = {m.group(1): (int(m.group(2)), float(m.group(3))) for m in re.finditer(
                r"^(\w+)\s+(\d+)\s+([\d.]+) ms$", out, re.M)}
            self.assertEqual({k: v[0] for k, v in rows.items()},
                             {"cache": 16, "session": 16, "request": 200}, what)
            self.assertNotIn("without a time", out, what)
            self.assertGreaterEqual(rows["session"][1], 10.0, what)
            self.assertLess(rows["request"][1], rows["session"][1], what)
            self.assertLess(rows["session"][1], rows["cache"][1], what)


if __name__ == "__main__":
    unittest.main()
