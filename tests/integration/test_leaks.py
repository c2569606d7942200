"""Leaks by function name, with exact blocks and bytes, for every C allocation function and for
C++ new/new[]; exact totals for a program whose every allocation is known."""

import unittest

from mtutil import (MemtrackCase, brief, excerpt, fn_name, is_operator_new, kv, leaks_of,
                    contributors_of, source_line, user_frame_index)


class CLeaks(MemtrackCase):
    """tests/programs/leaks_c.c: see the comments there for every figure."""

    _cache = {}

    def data(self, mode=None):
        if mode not in self._cache:
            res, data = self.run_and_load("leaks_c", [mode] if mode else [])
            self._cache[mode] = (res, data)
        return self._cache[mode][1]

    def result(self):
        self.data()
        return self._cache[None][0]

    def test_malloc_leak_and_its_frame(self):
        data = self.data()
        self.assertLeak(data, "leak_malloc", 3, 300)
        entries = leaks_of(data, "leak_malloc")
        self.assertEqual(len(entries), 1, "one call path expected\n" + excerpt(brief(data)))
        stack = entries[0]["stack"]
        top = stack[0]
        msg = excerpt(entries[0])
        # The innermost frame is the caller of malloc: no memtrack hook, no malloc frame.
        self.assertEqual(fn_name(top), "leak_malloc", msg)
        self.assertTrue((top.get("file") or "").endswith("leaks_c.c"), msg)
        self.assertEqual(top.get("line"), source_line("leaks_c.c", "leak_malloc"), msg)
        self.assertTrue((top.get("module") or "").endswith("/leaks_c"), msg)
        self.assertIs(top.get("inlined"), False, msg)
        self.assertEqual(fn_name(stack[1]), "main", msg)

    def test_calloc_leak(self):
        self.assertLeak(self.data(), "leak_calloc", 2, 480)

    def test_realloc_chain_leaks_once_with_final_size(self):
        data = self.data()
        self.assertLeak(data, "grow_chain", 1, 1000)
        entry = leaks_of(data, "grow_chain")[0]
        self.assertEqual(entry["stack"][0].get("line"), source_line("leaks_c.c", "grow_chain"),
                         "the leak's call path is the last realloc's\n" + excerpt(entry))

    def test_aligned_allocation_functions(self):
        data = self.data()
        self.assertLeak(data, "leak_posix_memalign", 1, 200)
        self.assertLeak(data, "leak_aligned_alloc", 1, 256)
        self.assertLeak(data, "leak_memalign", 1, 300)
        self.assertLeak(data, "leak_valloc", 1, 500)
        self.assertLeak(data, "leak_pvalloc", 1, 8192)

    def test_pvalloc_records_requested_size(self):
        # FORMAT.md: sizes are the sizes the program asked for, not the allocator's usable
        # size. pvalloc(5000) asks for 5000 bytes (glibc rounds the block up to 8192).
        data = self.data("pvalloc")
        self.assertLeak(data, "leak_pvalloc_odd", 1, 5000)
        self.assertTotals(data, {"allocations": 1, "allocated_bytes": 5000, "live_blocks": 1,
                                 "live_bytes": 5000, "frees": 0})

    def test_reallocarray(self):
        self.assertLeak(self.data(), "leak_reallocarray", 1, 90)

    def test_zero_size_block(self):
        self.assertLeak(self.data(), "leak_zero", 1, 0)

    def test_freed_blocks_are_not_leaks(self):
        data = self.data()
        for name in ("temp_pairs", "not_temp", "calloc_free", "free_nulls"):
            self.assertNoLeak(data, name)

    def test_exact_totals(self):
        # allocations: 3 malloc + 2 calloc + 4 grow_chain + 5 aligned + 2 reallocarray
        #   + 5 temp_pairs + 2 not_temp + 1 calloc_free + 1 malloc(0) = 25
        # frees: 3 (grow_chain) + 1 (reallocarray) + 5 + 2 + 1 = 12; free(NULL) x3 not counted
        # temporary: 3 realloc'd-away blocks in grow_chain, 1 in leak_reallocarray,
        #   5 temp_pairs, b of not_temp, calloc_free = 11
        # peak: all leaks but the 0-byte one (11318 bytes, 12 blocks) + calloc_free's 100
        self.assertTotals(self.data(), {
            "allocations": 25, "frees": 12, "allocated_bytes": 11873, "freed_bytes": 555,
            "live_blocks": 13, "live_bytes": 11318, "temporary": 11, "unknown_frees": 0,
            "peak_bytes": 11418, "peak_blocks": 13})

    def test_peak_contributors(self):
        data = self.data()
        found = contributors_of(data, "calloc_free")
        self.assertEqual([(c["blocks"], c["bytes"]) for c in found], [(1, 100)],
                         excerpt(brief(data)))
        found = contributors_of(data, "leak_malloc")
        self.assertEqual([(c["blocks"], c["bytes"]) for c in found], [(3, 300)],
                         excerpt(brief(data)))

    def test_single_thread(self):
        self.data()
        res, data = self._cache[None]
        pid = kv(res.stdout, "pid")
        self.assertEqual(data["pid"], pid, excerpt(brief(data)))
        self.assertEqual(data["parent_pid"], 0, excerpt(brief(data)))
        self.assertEqual(len(data["threads"]), 1, excerpt(data["threads"]))
        th = data["threads"][0]
        self.assertEqual(th["tid"], pid, excerpt(th))
        self.assertEqual((th["allocations"], th["allocated_bytes"], th["frees"],
                          th["live_blocks"], th["live_bytes"], th["peak_bytes"]),
                         (25, 11873, 12, 13, 11318, 11418), excerpt(th))
        self.assertEqual(data["end"], {"reason": "exit", "value": 0}, excerpt(brief(data)))

    def test_stderr_summary_line(self):
        res = self.result()
        lines = [l for l in res.stderr.splitlines() if l.startswith("memtrack:")]
        self.assertEqual(len(lines), 1, res.describe())
        cap = "memtrack.leaks_c.%d.mtc" % kv(res.stdout, "pid")
        self.assertIn(cap, lines[0], "the summary line names the capture\n" + res.describe())
        self.assertEqual(res.stdout.splitlines()[-1], "kept 13", res.describe())


class CxxLeaks(MemtrackCase):
    """tests/programs/leaks_cpp.cpp; totals are taken relative to its "baseline" mode, which
    allocates nothing itself (the C++ runtime's own allocations are in both)."""

    _cache = {}

    def data(self, mode=None):
        if mode not in self._cache:
            self._cache[mode] = self.run_and_load("leaks_cpp", [mode] if mode else [])[1]
        return self._cache[mode]

    def assertNewLeak(self, name, blocks, nbytes):
        data = self.data()
        self.assertLeak(data, name, blocks, nbytes)
        for entry in leaks_of(data, name):
            stack = entry["stack"]
            # operator new's frames come first, then the user's function.
            self.assertTrue(is_operator_new(fn_name(stack[0])),
                            "innermost frame should be operator new\n" + excerpt(entry))
            i = user_frame_index(stack)
            self.assertTrue((stack[i].get("file") or "").endswith("leaks_cpp.cpp"),
                            excerpt(entry))

    def test_new(self):
        self.assertNewLeak("leak_new", 4, 4 * 48)

    def test_new_array(self):
        self.assertNewLeak("leak_new_array", 2, 2 * 100)

    def test_new_array_with_cookie(self):
        self.assertNewLeak("leak_new_array_cookie", 1, 3 * 16 + 8)

    def test_aligned_new(self):
        self.assertNewLeak("leak_new_aligned", 1, 128)

    def test_vector(self):
        data = self.data()
        # the vector object itself, directly below operator new ...
        self.assertNewLeak("leak_vector", 1, 24)
        # ... and its buffer, allocated further down inside std::vector.
        self.assertLeak(data, "leak_vector", 2, 24 + 1000, inclusive=True)

    def test_deleted_objects_do_not_leak(self):
        data = self.data()
        self.assertNoLeak(data, "no_leak_new", inclusive=True)
        self.assertNoLeak(data, "no_leak_array", inclusive=True)

    def test_totals_relative_to_baseline(self):
        full, base = self.data(), self.data("baseline")
        delta = {k: full["totals"][k] - base["totals"][k] for k in (
            "allocations", "frees", "allocated_bytes", "freed_bytes", "live_blocks",
            "live_bytes", "temporary", "unknown_frees")}
        # 4 + 2 + 1 + 1 + 2 (vector) + 1 + 1 allocations; the last two deleted at once.
        self.assertEqual(delta, {
            "allocations": 12, "frees": 2, "allocated_bytes": 1688, "freed_bytes": 88,
            "live_blocks": 10, "live_bytes": 1600, "temporary": 2, "unknown_frees": 0},
            "full - baseline\nfull:\n%s\nbaseline:\n%s" % (excerpt(full["totals"]),
                                                           excerpt(base["totals"])))
        self.assertEqual(base["totals"]["unknown_frees"], 0, excerpt(base["totals"]))


if __name__ == "__main__":
    unittest.main()
