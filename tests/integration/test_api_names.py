"""Named blocks (MEMTRACK_TRACK, memtrack_name_block) through tests/programs/api_names.c, with
no tracker, linked and under `memtrack run`: a named leak shows in the JSON leak entry's `names`
(name, file, line exact) and in the text report (`named: NAME (FILE:LINE)`); a freed named
block and realloc'd ones (moved or in place) lose their names, a block named again after its
realloc has the new one; names are cut at 127 bytes; blocks the tracker does not know are
MEMTRACK_ENOENT, bad arguments MEMTRACK_EINVAL."""

import os
import unittest

from mtutil import ApiCase, excerpt, leaks_of, report, source_line

SRC = "api_names.c"


class NamedBlocks(ApiCase):

    _cache = {}

    def run_mode(self, mode):
        if mode not in self._cache:
            snap = os.path.join(self.tempdir(), "names.mtc")
            res, lines = self.run_api("api_names", [snap], mode=mode)
            file_line = [l for l in res.stdout.splitlines() if l.startswith("file ")]
            self.assertEqual(len(file_line), 1, res.describe())
            self._cache[mode] = (res, lines, snap, file_line[0][5:])
        return self._cache[mode]

    def modes(self):
        return [(m,) + self.run_mode(m) for m in ("linked", "run")]

    def snapshot(self, mode):
        res, lines, snap, src = self.run_mode(mode)
        self.assertEqual(lines.get("snapshot"), [0], res.describe())
        return self.load(snap)

    def names_of(self, data, function):
        entries = leaks_of(data, function)
        self.assertEqual(len(entries), 1, "%s: %s" % (function, excerpt(data["leaks"])))
        return [(n["name"], n["file"], n["line"]) for n in entries[0]["names"]]

    def test_no_tracker(self):
        res, lines, snap, src = self.run_mode("plain")
        E = self.E["ENOTRACKER"]
        self.assertLines(lines, {"initially_running": E, "start": E, "none_name": E}, res)

    def test_arguments_and_unknown_blocks(self):
        """NULL block, NULL or empty name, negative line: MEMTRACK_EINVAL. A static array, a
        stack variable, an address inside a block, a freed block and (linked) a block from
        before memtrack_start: MEMTRACK_ENOENT."""
        E = self.E
        for mode, res, lines, snap, src in self.modes():
            expected = {
                "name_null_block": E["EINVAL"], "name_null_name": E["EINVAL"],
                "name_empty_name": E["EINVAL"], "name_negative_line": E["EINVAL"],
                "name_static": E["ENOENT"], "name_stack": E["ENOENT"],
                "name_inside_block": E["ENOENT"], "name_freed_block": E["ENOENT"],
                "track_config": 0, "track_temp": 0, "track_grown": 0, "track_shrunk": 0,
                "track_renamed_1": 0, "track_renamed_2": 0, "item0": 0, "item1": 0,
                "item2": 0, "track_long": 0}
            if mode == "linked":
                expected["name_before_start"] = E["ENOENT"]
            self.assertLines(lines, expected, res, mode)

    def test_named_leak_in_json(self):
        """config: name, file (__FILE__ as compiled) and line of MEMTRACK_TRACK exact."""
        for mode, res, lines, snap, src in self.modes():
            data = self.snapshot(mode)
            self.assertTrue(src.endswith(SRC), src)
            self.assertEqual(self.names_of(data, "make_config"),
                             [("config", src, source_line(SRC, "config"))], mode)
            entry = leaks_of(data, "make_config")[0]
            self.assertEqual((entry["live_blocks"], entry["live_bytes"]), (1, 64), mode)
            self.assertRegex(entry["names"][0]["address"], r"^0x[0-9a-f]+$")

    def test_freed_and_reallocated_blocks_lose_their_names(self):
        """temp (freed) is gone; grown (realloc'd, moved) and shrunk (realloc'd in place) are
        live without names; renamed has its second name's line."""
        for mode, res, lines, snap, src in self.modes():
            data = self.snapshot(mode)
            self.assertEqual(lines["grown_moved"], [1], "the check needs a moving realloc")
            self.assertEqual(lines["shrunk_in_place"], [1], "the check needs realloc in place")
            self.assertEqual(leaks_of(data, "make_temp"), [], mode)
            self.assertEqual(self.names_of(data, "make_grown"), [], mode)
            self.assertEqual(self.names_of(data, "make_shrunk"), [], mode)
            self.assertEqual(self.names_of(data, "make_renamed"),
                             [("renamed", src, source_line(SRC, "renamed_2"))], mode)
            every = [n["name"] for e in data["leaks"] for n in e.get("names", [])]
            for gone in ("temp", "grown", "shrunk"):
                self.assertNotIn(gone, every, mode)

    def test_several_names_in_one_path_and_long_names(self):
        for mode, res, lines, snap, src in self.modes():
            data = self.snapshot(mode)
            self.assertEqual(sorted(self.names_of(data, "make_items")),
                             [("item%d" % i, "items.c", 100 + i) for i in range(3)], mode)
            self.assertEqual(self.names_of(data, "make_long"), [("n" * 127, "f" * 127, 7)], mode)

    def test_text_report(self):
        for mode, res, lines, snap, src in self.modes():
            proc = report(snap, fmt="text")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            text = proc.stdout
            self.assertIn("named: config (%s:%d)" % (src, source_line(SRC, "config")), text)
            self.assertIn("named: renamed (%s:%d)" % (src, source_line(SRC, "renamed_2")), text)
            for i in range(3):
                self.assertIn("item%d (items.c:%d)" % (i, 100 + i), text)
            for gone in ("temp", "grown", "shrunk"):
                self.assertNotIn("named: %s " % gone, text)
                self.assertNotIn(", %s (" % gone, text)


if __name__ == "__main__":
    unittest.main()
