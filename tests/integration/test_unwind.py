"""The unwinder: in a program built with frame pointers (tests/programs/fp_paths.c, and the
library it dlopens), `--unwind auto` follows them and must give exactly the call paths, down to
each return address, that `--unwind dwarf` (libunwind alone) gives: through deep recursion, a
thread's start, qsort calling back (code without frame pointers in between), strdup from two
call sites, a library loaded while the program runs, an atexit handler, and a signal handler
on an alternate stack; and two builds of one library, with and without frame pointers, loaded
and unloaded in turn. A program built
without frame pointers is unwound by libunwind alone. Bad values are refused."""

import os
import unittest

from mtutil import MemtrackCase, excerpt, kv, program, report, run_proc_env, MEMTRACK

ROUNDS = 2000  # as in tests/programs/fp_paths.c


def user_function(stack):
    """The innermost frame's function that is the program's own (not libc's)."""
    for f in stack:
        fn = f.get("function") or ""
        if not fn.startswith(("__", "msort", "_IO")) and fn not in ("strdup", "malloc"):
            return fn
    return None


def paths(data):
    """Every leaked path as (blocks, bytes, ((module, offset) of each frame...))."""
    out = []
    for leak in data["leaks"]:
        frames = tuple((os.path.basename(f["module"] or ""), f["offset"]) for f in leak["stack"])
        out.append((leak["live_blocks"], leak["live_bytes"], frames))
    return sorted(out)


class Unwind(MemtrackCase):

    _cache = {}

    def run_fp(self, how):
        if how not in self._cache:
            res, data = self.run_and_load(
                "fp_paths", [program("fp_plugin.so")], ["--unwind", how])
            self._cache[how] = (res, data)
        return self._cache[how]

    def test_same_paths_as_dwarf(self):
        res_a, auto = self.run_fp("auto")
        res_d, dwarf = self.run_fp("dwarf")
        self.assertTrue(auto["frame_pointers"], excerpt(auto["totals"]))
        self.assertFalse(dwarf["frame_pointers"])
        self.assertEqual(kv(res_a.stdout, "compares"), kv(res_d.stdout, "compares"))
        self.assertEqual(paths(auto), paths(dwarf),
                         "auto:\n%s\ndwarf:\n%s" % (excerpt(auto["leaks"]), excerpt(dwarf["leaks"])))
        for key in ("allocations", "frees", "allocated_bytes", "live_blocks", "live_bytes"):
            self.assertEqual(auto["totals"][key], dwarf["totals"][key], key)

    def test_each_path_exact(self):
        res, data = self.run_fp("auto")
        compares = kv(res.stdout, "compares")
        by_fn = {}
        for leak in data["leaks"]:
            fn = user_function(leak["stack"])
            b, n = by_fn.get(fn, (0, 0))
            by_fn[fn] = (b + leak["live_blocks"], n + leak["live_bytes"])
        msg = excerpt(data["leaks"])
        self.assertEqual(by_fn.get("deep"), (ROUNDS, sum(100 + i % 8 for i in range(ROUNDS))), msg)
        self.assertEqual(by_fn.get("in_thread"), (ROUNDS, 200 * ROUNDS), msg)
        self.assertEqual(by_fn.get("compare_alloc"), (compares, 300 * compares), msg)
        self.assertEqual(by_fn.get("main"), (2 * ROUNDS, 17 * ROUNDS), msg)  # the strdups
        self.assertEqual(by_fn.get("plugin_leaf"), (ROUNDS, 400 * ROUNDS), msg)
        self.assertEqual(by_fn.get("at_exit_alloc"), (1, 500), msg)
        self.assertEqual(by_fn.get("on_signal"), (1, 600), msg)
        # deep(d) leaks from a path with d + 1 frames of deep, then main: eight paths
        deep = sorted(sum(1 for f in leak["stack"] if f["function"] == "deep")
                      for leak in data["leaks"] if user_function(leak["stack"]) == "deep")
        self.assertEqual(deep, list(range(1, 9)), msg)
        # the two strdup call sites in main are two paths, one per size
        dups = sorted((leak["live_bytes"] // leak["live_blocks"], leak["live_blocks"])
                      for leak in data["leaks"] if user_function(leak["stack"]) == "main")
        self.assertEqual(dups, [(8, ROUNDS), (9, ROUNDS)], msg)
        # every path from main goes on to the program's entry
        for leak in data["leaks"]:
            fns = [f["function"] for f in leak["stack"]]
            if "main" in fns:
                self.assertEqual(fns[-1], "_start", excerpt(leak))

    def test_reloaded_libraries(self):
        """Two builds of one library, with and without frame pointers, loaded and unloaded in
        turn (usually at the same address): the remembered verdicts must follow the build, so
        both unwinders give the same paths, and each build its exact blocks."""
        args = [program("fp_plugin.so"), program("nofp_plugin.so")]
        res, auto = self.run_and_load("fp_reload", args, ["--unwind", "auto"])
        _, dwarf = self.run_and_load("fp_reload", args, ["--unwind", "dwarf"])
        self.assertTrue(auto["frame_pointers"])
        self.assertEqual(paths(auto), paths(dwarf),
                         "auto:\n%s\ndwarf:\n%s" % (excerpt(auto["leaks"]), excerpt(dwarf["leaks"])))
        # 40 rounds, 10 blocks of 400 bytes each, every other round from each build: two paths
        # (the builds' code differs), each with its exact blocks
        plugin = []
        for leak in auto["leaks"]:
            fns = [f["function"] for f in leak["stack"]]
            if fns and fns[0] == "plugin_leaf":
                self.assertEqual(fns[:3], ["plugin_leaf", "fp_plugin_alloc", "main"],
                                 excerpt(leak))
                plugin.append((leak["live_blocks"], leak["live_bytes"]))
        self.assertEqual(plugin, [(200, 80000), (200, 80000)], excerpt(auto["leaks"]))
        # The capture cannot tell which build a frame at the shared addresses was made in: the
        # report says so, once, naming the first build (here the same functions either way).
        proc = report(self.only_capture(res, "fp_reload"), "text")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "memtrack: warning: %s was loaded where %s had been "
                         "unloaded; frames at those addresses are named after fp_plugin.so, and "
                         "some may be nofp_plugin.so's\n" % (args[1], args[0]))

    def test_reloads_do_not_grow_the_tracker(self):
        """Every dlclose replaces the table of which modules keep frame pointers; a replaced
        table is freed once no thread is inside a hook, so 6000 loads and unloads (12000
        tables) leave the tracker's memory where 50 left it (it grew by a 1 MiB slab every
        ~2500 tables when they were kept)."""
        args = [program("fp_plugin.so"), program("nofp_plugin.so")]
        engine = {}
        for rounds in (50, 6000):
            _, data = self.run_and_load("fp_reload", args + [str(rounds), "0"],
                                        ["--unwind", "auto"])
            self.assertFalse([leak for leak in data["leaks"] if leak["stack"] and
                              leak["stack"][0]["function"] == "plugin_leaf"], rounds)
            engine[rounds] = data["engine_bytes"]
        self.assertLess(engine[6000] - engine[50], 1 << 20, engine)

    def test_without_frame_pointers(self):
        _, data = self.run_and_load("leaks_c", [], ["--unwind", "auto"])
        self.assertFalse(data["frame_pointers"])
        self.assertGreater(len(data["leaks"]), 0)

    def test_bad_values(self):
        res = self.run_memtrack("leaks_c", [], ["--unwind", "fast"], expect_rc=2)
        self.assertEqual(res.stderr.count("\n"), 1, res.describe())
        self.assertIn("--unwind takes auto or dwarf, not", res.stderr, res.describe())
        self.assertEqual([f for f in res.files() if f.endswith(".mtc")], [])
        env = dict(os.environ, MEMTRACK_UNWIND="fp")
        proc = run_proc_env([MEMTRACK, "run", "--", program("leaks_c")], env=env)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("MEMTRACK_UNWIND='fp' in the environment is not 'auto' or 'dwarf'",
                      proc.stderr)


if __name__ == "__main__":
    unittest.main()
