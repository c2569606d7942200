"""memtrack_track_paths (tests/programs/api_paths.c): with MEMTRACK_MODE=count only the classes
that ask for call paths get them; the other tagged leaks have just their class marker frame
"[class NAME]" and untagged ones an empty stack. Checked in a snapshot's JSON report, under
`memtrack run` and linked, and in full mode (where a class's depth overrides --depth)."""

import os
import unittest

from mtutil import ApiCase, excerpt, fn_name

MARKER = "[class %s]"


def functions(entry):
    return [fn_name(f) for f in entry["stack"]]


def code_frames(entry):
    return [f for f in functions(entry) if not f.startswith("[class ")]


class TrackPaths(ApiCase):

    _cache = {}

    def snapshot(self, mode, env=None, opts=()):
        key = (mode, tuple(sorted((env or {}).items())), tuple(opts))
        if key not in self._cache:
            snap = os.path.join(self.tempdir(), "paths.mtc")
            res, lines = self.run_api("api_paths", [snap], mode=mode, env=env, opts=opts)
            self.assertLines(lines, {"start": 0 if mode == "run" else 1, "snapshot": 0}, res)
            self._cache[key] = (res, lines, snap)
        return self._cache[key]

    def load_snapshot(self, mode, env=None, opts=(), check=True):
        res, lines, snap = self.snapshot(mode, env, opts)
        data = self.load(snap, check=check)
        for e in data["leaks"]:
            self.assertIn("class", e, excerpt(e))
        return res, lines, data

    def by_class(self, data):
        out = {}
        for e in data["leaks"]:
            out.setdefault(e["class"], []).append(e)
        return out

    def test_arguments(self):
        E = self.E
        res, lines, _ = self.snapshot("run", {"MEMTRACK_MODE": "count"})
        self.assertLines(lines, {
            "paths_null": E["EINVAL"], "paths_empty": E["EINVAL"], "paths_256": E["EINVAL"],
            "paths_depth_257": E["EINVAL"], "paths_depth_256": 0, "paths_depth_0": 0,
            # the class is created by memtrack_track_paths
            "count_for_created": 0,
            "paths_traced": 0, "paths_reset": 0, "paths_shallow": 0, "paths_reset_off": 0,
        }, res)

    def check_count_mode(self, mode):
        res, lines, data = self.load_snapshot(mode, {"MEMTRACK_MODE": "count"})
        msg = excerpt(data["leaks"])
        self.assertEqual(data["mode"], "count", "not a count-mode capture")
        depths = {c["name"]: c["depth"] for c in data["classes"]}
        self.assertEqual({k: depths.get(k) for k in ("traced", "shallow", "reset", "plain",
                                                     "deepest")},
                         {"traced": 16, "shallow": 2, "reset": 0, "plain": 0, "deepest": 0})
        self.assertTotals(data, {"live_blocks": 21, "live_bytes": 333 + 888 + 1665 + 888 +
                                 3330 + 66})
        classes = self.by_class(data)
        self.assertEqual(sorted(classes), ["plain", "reset", "shallow", "traced", "untagged"],
                         msg)

        # The class with paths: its own frames, the class marker outermost.
        traced = classes["traced"]
        self.assertEqual(len(traced), 1, msg)
        self.assertEqual((traced[0]["live_blocks"], traced[0]["live_bytes"]), (3, 333))
        f = functions(traced[0])
        self.assertEqual(f[:3], ["leak", "leak_traced", "main"], msg)
        self.assertEqual(f[-1], MARKER % "traced", msg)
        self.assertLessEqual(len(code_frames(traced[0])), 16, msg)

        # Without paths: the marker only; untagged: nothing.
        self.assertEqual([(functions(e), e["live_blocks"], e["live_bytes"])
                          for e in classes["plain"]], [([MARKER % "plain"], 4, 888)], msg)
        self.assertEqual([(functions(e), e["live_blocks"], e["live_bytes"])
                          for e in classes["untagged"]], [([], 5, 1665)], msg)

        # Paths while asked for, then back to the mode's default (none).
        reset = sorted((functions(e), e["live_blocks"], e["live_bytes"])
                       for e in classes["reset"])
        self.assertEqual(len(reset), 2, msg)
        self.assertEqual(reset[0], ([MARKER % "reset"], 6, 3330), msg)
        self.assertEqual(reset[1][0][:2], ["leak", "leak_reset_before"], msg)
        self.assertEqual(reset[1][1:], (2, 888), msg)

        # Depth 2: the two innermost frames and the marker.
        self.assertEqual([(functions(e), e["live_blocks"]) for e in classes["shallow"]],
                         [(["shallow_4", "shallow_3", MARKER % "shallow"], 1)], msg)
        self.assertIs(data["truncated_stacks"], True)

    def test_count_mode_under_memtrack_run(self):
        self.check_count_mode("run")

    def test_count_mode_linked(self):
        """Linked, the first memtrack_start() reads MEMTRACK_MODE."""
        self.check_count_mode("linked")

    def test_full_mode(self):
        """In full mode every class has call paths; "traced" keeps at most 16 frames."""
        res, lines, data = self.load_snapshot("run")
        msg = excerpt(data["leaks"])
        self.assertEqual(data["mode"], "full")
        classes = self.by_class(data)
        self.assertEqual([functions(e)[:2] + functions(e)[-1:] for e in classes["plain"]],
                         [["leak", "leak_plain", MARKER % "plain"]], msg)
        self.assertEqual([functions(e)[:2] for e in classes["untagged"]],
                         [["leak", "leak_untagged"]], msg)
        self.assertFalse(any(f.startswith("[class") for e in classes["untagged"]
                             for f in functions(e)), msg)
        self.assertEqual(sorted(functions(e)[1] for e in classes["reset"]),
                         ["leak_reset_after", "leak_reset_before"], msg)

    def test_class_depth_beyond_run_depth(self):
        """memtrack run --depth 3: untagged and "plain" paths keep 3 frames, "traced" (asked
        for 16) keeps more."""
        res, lines, data = self.load_snapshot("run", opts=("--depth", "3"), check=False)
        msg = excerpt(data["leaks"])
        classes = self.by_class(data)
        self.assertEqual([functions(e) for e in classes["untagged"]],
                         [["leak", "leak_untagged", "main"]], msg)
        self.assertEqual([functions(e) for e in classes["plain"]],
                         [["leak", "leak_plain", "main", MARKER % "plain"]], msg)
        traced = code_frames(classes["traced"][0])
        self.assertGreater(len(traced), 3, msg)
        self.assertLessEqual(len(traced), 16, msg)

    def test_capture_depth_covers_class_depth(self):
        """docs/FORMAT.md: META.depth is "the maximum number of frames recorded per call path";
        a class asking for more frames than --depth must not break that (either the capture
        says the larger depth, or the format documents per-class depths)."""
        res, lines, data = self.load_snapshot("run", opts=("--depth", "3"), check=False)
        longest = max(len(code_frames(e)) for e in data["leaks"])
        self.assertLessEqual(longest, data["depth"], "capture depth %d, but a call path of %d "
                             "frames\n%s" % (data["depth"], longest, excerpt(data["leaks"])))


if __name__ == "__main__":
    unittest.main()
