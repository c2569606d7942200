"""memtrack_top_paths and memtrack_frame_name (tests/programs/api_toppaths.c): class "widget"
allocated from 4 known functions, ranked by live blocks with exact live and total figures;
untagged paths; in count mode a class without memtrack_track_paths has one path without frames,
with them the same ranking as in full mode; max 0, NULL and unknown-class cases.

Frame names: tests/CMakeLists.txt builds the programs without -rdynamic, so dladdr() finds no
symbol for the program's own functions and memtrack_frame_name gives "MODULE+0xOFFSET" (the
header's second form); the tests check that the offset falls inside the expected function (by
`nm`). A copy built here with -rdynamic checks the first form, "function+0xOFF (module)"."""

import os
import re
import shutil
import subprocess
import unittest

from mtutil import MEMTRACK, ApiCase, api_lines, api_program, compile_c, run_proc_env

# function -> (live_count, live_bytes, total_count, total_bytes), in ranking order
WIDGET = [("make_a", (5, 320, 8, 512)), ("make_b", (3, 384, 3, 384)),
          ("make_c", (1, 1000, 6, 6000)), ("make_d", (0, 0, 2, 64))]
UNTAGGED = [("make_u1", (4, 64, 4, 64)), ("make_u2", (2, 32, 2, 32))]
CFLAGS = ["-std=gnu17", "-O1", "-g", "-fomit-frame-pointer", "-fno-inline",
          "-fno-optimize-sibling-calls"]


def symbols(path):
    """{function: (start, end)} of a binary's defined functions, by `nm -S`."""
    out = subprocess.run(["nm", "-S", "--defined-only", path], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start, size = int(parts[0], 16), int(parts[1], 16)
            syms[parts[3]] = (start, start + size)
    return syms


class TopPaths(ApiCase):

    _cache = {}

    def run_mode(self, mode, count_mode=False, with_paths=False, prog="api_toppaths",
                 prog_path=None):
        key = (mode, count_mode, with_paths, prog_path)
        if key not in self._cache:
            env = {"MEMTRACK_MODE": "count"} if count_mode else None
            args = ["paths"] if with_paths else []
            if prog_path:
                argv = [prog_path] + args
                if mode == "run":
                    argv = [MEMTRACK, "run", "--"] + argv
                proc = run_proc_env(argv, env, cwd=self.tempdir())
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                res = proc
                lines = api_lines(proc.stdout)
            else:
                res, lines = self.run_api(prog, args, mode=mode, env=env)
            names = {}
            for line in res.stdout.splitlines():
                k, _, v = line.partition(" ")
                if k.endswith("_name") or k.endswith("_name1"):
                    names[k] = v
            self._cache[key] = (res, lines, names)
        return self._cache[key]

    def top(self, lines, key):
        """[(live_count, live_bytes, total_count, total_bytes, nframes)] of `KEY_i` lines."""
        self.assertEqual(lines.get(key + "_99"), [0], "memtrack_top_paths(%s) failed" % key)
        n = lines[key + "_98"][0]
        return [tuple(lines["%s_%d" % (key, i)]) for i in range(n)]

    def program_path(self, mode):
        return api_program("api_toppaths", linked=mode == "linked")

    def check_module_offset(self, name, prog, function):
        """NAME is "PROG+0xOFF" with OFF - inside `function` of PROG (a PIE: the offset is the
        ELF address)."""
        m = re.fullmatch(r"(.+)\+0x([0-9a-f]+)", name or "")
        self.assertTrue(m, "frame name %r is not MODULE+0xOFF" % name)
        self.assertEqual(os.path.realpath(m.group(1)), os.path.realpath(prog), name)
        start, end = symbols(prog)[function]
        off = int(m.group(2), 16)
        self.assertTrue(start <= off < end, "%s: offset 0x%x not in %s [0x%x, 0x%x)" % (
            name, off, function, start, end))

    def test_no_tracker(self):
        res, lines, _ = self.run_mode("plain")
        E = self.E["ENOTRACKER"]
        self.assertLines(lines, {"start": E, "none_top": E, "none_frame_name": E}, res)

    def test_ranking_full_mode(self):
        """4 paths of "widget", biggest live count first (make_d: none live, 2 allocated),
        exact live and total figures, frames from the allocating function up (>= 2: the
        function, then main); max 2 gives the first two."""
        for mode in ("linked", "run"):
            res, lines, names = self.run_mode(mode)
            top = self.top(lines, "widget")
            self.assertEqual([t[:4] for t in top], [w for _, w in WIDGET], mode)
            for t in top:
                self.assertGreaterEqual(t[4], 2, mode)
                self.assertLessEqual(t[4], 32, mode)
            self.assertEqual([t[:4] for t in self.top(lines, "widget_max2")],
                             [w for _, w in WIDGET[:2]], mode)
            self.assertEqual([t[:4] for t in self.top(lines, "untagged")],
                             [u for _, u in UNTAGGED], mode)

    def test_frame_names_without_rdynamic(self):
        """Built without -rdynamic: "MODULE+0xOFF", the offset inside the allocating function
        for frames[0] and inside main for frames[1]."""
        for mode in ("linked", "run"):
            res, lines, names = self.run_mode(mode)
            prog = self.program_path(mode)
            for i, (fn, _) in enumerate(WIDGET):
                self.check_module_offset(names.get("widget_%d_name" % i), prog, fn)
                self.check_module_offset(names.get("widget_%d_name1" % i), prog, "main")
            for i, (fn, _) in enumerate(UNTAGGED):
                self.check_module_offset(names.get("untagged_%d_name" % i), prog, fn)

    @unittest.skipUnless(shutil.which(os.environ.get("CC") or "cc"), "no C compiler")
    def test_frame_names_with_rdynamic(self):
        """Built with -rdynamic (the functions in the dynamic symbol table):
        "make_a+0xOFF (PROG)"."""
        d = self.tempdir()
        for mode in ("linked", "run"):
            out = os.path.join(d, "api_toppaths_rdynamic_" + mode)
            proc = compile_c(os.path.join("tests", "programs", "api_toppaths.c"), out,
                             linked=mode == "linked", extra=CFLAGS + ["-rdynamic"])
            self.assertEqual(proc.returncode, 0, proc.stderr)
            res, lines, names = self.run_mode(mode, prog_path=out)
            self.assertEqual([t[:4] for t in self.top(lines, "widget")],
                             [w for _, w in WIDGET], mode)
            syms = symbols(out)
            for i, (fn, _) in enumerate(WIDGET):
                for key, want in (("widget_%d_name" % i, fn), ("widget_%d_name1" % i, "main")):
                    name = names.get(key)
                    m = re.fullmatch(r"(\w+)\+0x([0-9a-f]+) \((.+)\)", name or "")
                    self.assertTrue(m, "%s: %r is not FUNCTION+0xOFF (MODULE)" % (key, name))
                    self.assertEqual(m.group(1), want, name)
                    self.assertEqual(os.path.realpath(m.group(3)), os.path.realpath(out), name)
                    start, end = syms[want]
                    self.assertLess(int(m.group(2), 16), end - start, name)

    def test_count_mode_without_paths(self):
        """MEMTRACK_MODE=count, no memtrack_track_paths: one path per class, no frames, with
        the class's whole live and total figures."""
        for mode in ("linked", "run"):
            res, lines, names = self.run_mode(mode, count_mode=True)
            self.assertEqual(self.top(lines, "widget"), [(9, 1704, 19, 6960, 0)], mode)
            self.assertEqual(self.top(lines, "untagged"), [(6, 96, 6, 96, 0)], mode)
            self.assertEqual(names, {}, mode)

    def test_count_mode_with_paths(self):
        """MEMTRACK_MODE=count with memtrack_track_paths("widget", 16): the full ranking with
        frames for "widget"; untagged still without frames."""
        for mode in ("linked", "run"):
            res, lines, names = self.run_mode(mode, count_mode=True, with_paths=True)
            self.assertEqual(lines.get("track_paths"), [0])
            top = self.top(lines, "widget")
            self.assertEqual([t[:4] for t in top], [w for _, w in WIDGET], mode)
            self.assertTrue(all(2 <= t[4] <= 16 for t in top), top)
            self.assertEqual(self.top(lines, "untagged"), [(6, 96, 6, 96, 0)], mode)
            prog = self.program_path(mode)
            self.check_module_offset(names.get("widget_0_name"), prog, "make_a")

    def test_arguments(self):
        """max 0 (with or without out): 0 paths, *count set to 0; out NULL with max > 0, count
        NULL, class NULL: MEMTRACK_EINVAL; an unknown class: MEMTRACK_ENOENT. frame_name: NULL
        buffer or length 0 MEMTRACK_EINVAL; too small MEMTRACK_ENOBUFS, cut and terminated."""
        E = self.E
        for mode in ("linked", "run"):
            res, lines, names = self.run_mode(mode)
            self.assertLines(lines, {
                "max0_null_out": 0, "max0_null_out_count": 0, "max0": 0, "max0_count": 0,
                "null_out": E["EINVAL"], "null_count": E["EINVAL"], "null_class": E["EINVAL"],
                "unknown_class": E["ENOENT"], "name_null_buf": E["EINVAL"],
                "name_len0": E["EINVAL"], "name_small": E["ENOBUFS"],
                "name_small_terminated": 1}, res, mode)


if __name__ == "__main__":
    unittest.main()
