"""`memtrack run` options and pass-through: --depth, -o and %p, exit status, stdin/stdout and
arguments; memtrack's own frames never show in a stack."""

import os
import shutil
import unittest

from mtutil import (MEMTRACK, PRELOAD_NAME, MemtrackCase, all_stacks, brief, excerpt, fn_name,
                    kv, leaks_of, run_plain, run_proc, source_line)


class Depth(MemtrackCase):
    """tests/programs/deep.c N: leaf_alloc <- recurse x (N + 1) <- main <- libc start-up."""

    def deep_stack(self, opts, args=()):
        res, data = self.run_and_load("deep", list(args), opts=opts)
        entries = leaks_of(data, "leaf_alloc")
        self.assertEqual([(e["live_blocks"], e["live_bytes"]) for e in entries], [(1, 123)],
                         excerpt(brief(data)))
        return data, entries[0]["stack"]

    def test_depth_limits_stack(self):
        for depth in (1, 2, 5, 17):
            with self.subTest(depth=depth):
                data, stack = self.deep_stack(["--depth", str(depth)])
                names = [fn_name(f) for f in stack]
                self.assertEqual(names, ["leaf_alloc"] + ["recurse"] * (depth - 1),
                                 excerpt(stack))
                self.assertEqual(data["depth"], depth, excerpt(brief(data)))

    def test_deep_recursion_cut_at_depth(self):
        data, stack = self.deep_stack(["--depth", "64"], ["150"])
        self.assertEqual(len(stack), 64, excerpt(stack))
        self.assertEqual([fn_name(f) for f in stack], ["leaf_alloc"] + ["recurse"] * 63)

    def test_full_stack_without_frame_pointers(self):
        data, stack = self.deep_stack(["--depth", "100"])
        names = [fn_name(f) for f in stack]
        msg = excerpt(stack, 8000)
        self.assertEqual(names[:53], ["leaf_alloc"] + ["recurse"] * 51 + ["main"], msg)
        self.assertGreater(len(stack), 53, "libc's start-up frames below main\n" + msg)
        lines = [f.get("line") for f in stack[:53]]
        self.assertEqual(lines, [source_line("deep.c", "leaf_alloc"),
                                 source_line("deep.c", "recurse_leaf")] +
                         [source_line("deep.c", "recurse_self")] * 50 +
                         [source_line("deep.c", "main_call")], msg)
        for f in stack[:53]:
            self.assertTrue((f.get("file") or "").endswith("deep.c"), msg)
            self.assertTrue((f.get("module") or "").endswith("/deep"), msg)

    def test_default_depth(self):
        data, stack = self.deep_stack([])
        depth = data["depth"]
        self.assertGreaterEqual(depth, 1, excerpt(brief(data)))
        if depth >= 55:
            self.assertEqual([fn_name(f) for f in stack[:53]],
                             ["leaf_alloc"] + ["recurse"] * 51 + ["main"], excerpt(stack))
        else:
            self.assertEqual(len(stack), depth, excerpt(stack))


class OutputAndPassThrough(MemtrackCase):

    def test_output_file(self):
        res = self.run_memtrack("leaks_c", opts=["-o", "out.mtc"])
        self.assertEqual(res.files(), ["out.mtc"], res.describe())
        data = self.load(res.path("out.mtc"))
        self.assertEqual(data["pid"], kv(res.stdout, "pid"))
        self.assertLeak(data, "leak_malloc", 3, 300)
        self.assertIn("out.mtc", res.stderr, res.describe())

    def test_output_file_elsewhere(self):
        other = self.tempdir()
        target = os.path.join(other, "elsewhere.mtc")
        res = self.run_memtrack("leaks_c", opts=["-o", target])
        self.assertEqual(res.files(), [], res.describe())
        self.assertEqual(os.listdir(other), ["elsewhere.mtc"])
        self.assertLeak(self.load(target), "leak_calloc", 2, 480)

    def test_output_file_pid(self):
        res = self.run_memtrack("leaks_c", opts=["-o", "cap-%p.mtc"])
        pid = kv(res.stdout, "pid")
        self.assertEqual(res.files(), ["cap-%d.mtc" % pid], res.describe())
        self.assertEqual(self.load(res.path("cap-%d.mtc" % pid))["pid"], pid)

    def test_exit_status(self):
        for code in (3, 0, 42):
            with self.subTest(code=code):
                res = self.run_memtrack("crash", ["exit", str(code)], expect_rc=code)
                data = self.load(self.only_capture(res, "crash"))
                self.assertEqual(data["end"], {"reason": "exit", "value": code})

    def test_stdout_identical(self):
        plain = run_plain("stdio_prog")
        self.assertEqual(plain.returncode, 0, plain.stderr)
        res = self.run_memtrack("stdio_prog")
        self.assertEqual(res.stdout, plain.stdout)
        self.assertEqual(
            [l for l in res.stderr.splitlines() if not l.startswith("memtrack:")], [],
            "the program's stderr is untouched\n" + res.describe())
        data = self.load(self.only_capture(res, "stdio_prog"))
        words = ["pear", "apple", "fig", "banana", "cherry", "kiwi"]
        self.assertLeak(data, "keep_words", 6, sum(len(w) + 1 for w in words))
        self.assertLeak(data, "push_node", 6, 6 * 16)
        self.assertNoLeak(data, "main")  # strdup / realloc / asprintf results all freed

    def test_stdin_and_arguments_pass_through(self):
        cat = shutil.which("cat")
        d = self.tempdir()
        text = "line one\nline two\n" * 1000
        proc = run_proc([MEMTRACK, "run", "--", cat], cwd=d, input=text)
        self.assertEqual((proc.returncode, proc.stdout), (0, text), proc.stderr)
        # options after the program are the program's own
        echo = shutil.which("echo")
        proc = run_proc([MEMTRACK, "run", echo, "--depth", "0", "-o", "x", "a b", ""], cwd=d)
        self.assertEqual((proc.returncode, proc.stdout), (0, "--depth 0 -o x a b \n"),
                         proc.stderr)
        self.assertNotIn("x", os.listdir(d))


class OwnFrames(MemtrackCase):

    def test_innermost_frame_is_the_program(self):
        _, data = self.run_and_load("leaks_c")
        for where, stack in all_stacks(data):
            self.assertTrue(stack, "empty stack in %s\n%s" % (where, excerpt(brief(data))))
            mods = [f.get("module") or "" for f in stack]
            self.assertFalse(any(PRELOAD_NAME in m for m in mods), excerpt(stack))
            self.assertTrue(mods[0].endswith("/leaks_c"),
                            "innermost frame should be the caller of the allocation function "
                            "in the program\n" + excerpt(stack))


if __name__ == "__main__":
    unittest.main()
