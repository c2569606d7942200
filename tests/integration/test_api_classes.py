"""Classes through the C API (tests/programs/api_classes.c), linked with -lmemtrack and under
`memtrack run`, with exact counts from memtrack_count_for: typed allocations, tagged
malloc/calloc, nested scoped tags, bad names, "untagged" = totals - tagged classes, deep
nesting, and 8 threads tagging at once."""

import unittest

from mtutil import ApiCase, api_counts, counts

NTHREADS, ROUNDS = 8, 500  # as in api_classes.c
HANDED = ROUNDS // 4
DEEP = 70


def thread_class(i):
    """thrI: ROUNDS blocks of 8 * (i + 1) bytes, all but the last i + 1 freed."""
    size = 8 * (i + 1)
    freed = ROUNDS - (i + 1)
    return counts(ROUNDS, freed, ROUNDS * size, freed * size)


def shared_class():
    """Per thread and round: a 32-byte memtrack_malloc_tagged block (every 4th handed to main,
    which frees every other one of those after the join) and a 48-byte block in a nested
    scope, freed at once."""
    handed_freed = (HANDED + 1) // 2
    freed32 = (ROUNDS - HANDED) + handed_freed
    return counts(NTHREADS * 2 * ROUNDS, NTHREADS * (freed32 + ROUNDS),
                  NTHREADS * 80 * ROUNDS, NTHREADS * (32 * freed32 + 48 * ROUNDS))


class Classes(ApiCase):

    _cache = {}

    def run_mode(self, mode):
        if mode not in self._cache:
            self._cache[mode] = self.run_api("api_classes", mode=mode)
        return self._cache[mode]

    def cls(self, lines, name):
        return api_counts(lines, "class:" + name)

    def each_mode(self):
        """(mode, Result, lines) of the linked run and of the run under `memtrack run` (the
        failure messages show which: they hold the command)."""
        return [(mode,) + self.run_mode(mode) for mode in ("linked", "run")]

    def test_start(self):
        for mode, res, lines in self.each_mode():
            self.assertLines(lines, {"start": 1 if mode == "linked" else 0,
                                     "pop_without_push": self.E["ESTATE"]}, res)

    def test_typed_and_tagged_allocations(self):
        """MEMTRACK_NEW/MEMTRACK_NEW_ARRAY tag with the type's name; the tagged allocators
        with theirs."""
        for mode, res, lines in self.each_mode():
            self.assertLines(lines, {"typed_zeroed": 1}, res)
            got = {k: self.cls(lines, k) for k in ("point", "struct_segment", "buffer_typed")}
            self.assertEqual(got, {
                # 5 x MEMTRACK_NEW(point) (16 bytes) + 2 x MEMTRACK_NEW_ARRAY(point, 10);
                # 3 singles and 1 array freed.
                "point": counts(7, 4, 5 * 16 + 2 * 160, 3 * 16 + 160),
                "struct_segment": counts(1, 0, 32, 0),
                # 3 x memtrack_malloc_tagged(100) (one freed) + memtrack_calloc_tagged(4, 25).
                "buffer_typed": counts(4, 1, 400, 100),
            }, res.describe())

    def test_scopes_nest_innermost_wins(self):
        """Nested scopes: the innermost wins, allocations inside libc (strdup, calloc,
        realloc) are tagged, an explicit tag wins over the scope, and the scope is back
        after it; pops without a push are MEMTRACK_ESTATE."""
        for mode, res, lines in self.each_mode():
            self.assertLines(lines, {
                "scope_push_outer": 0, "scope_push_inner": 0, "scope_pop_inner": 0,
                "scope_pop_outer": 0, "scope_pop_extra": self.E["ESTATE"],
                "push_untagged": 0, "pop_untagged": 0}, res)
            got = {k: self.cls(lines, k) for k in ("outer", "inner", "buffer")}
            self.assertEqual(got, {
                "outer": counts(3, 0, 10 + 30 + 12, 0),
                # malloc 20 x 2, strdup("hello"), calloc(2, 7), realloc(20 -> 40)
                "inner": counts(5, 1, 20 + 20 + 6 + 14 + 40, 20),
                "buffer": counts(5, 1, 408, 100),
            }, res.describe())
            # malloc(40), malloc(16) in a scope named "untagged", and three tagged
            # allocations with bad names (NULL, "", 256 bytes): 16 bytes each.
            self.assertLines(lines, {"untagged_delta": [5, 104]}, res)

    def test_tagged_alloc_with_bad_name_leaves_no_scope(self):
        """memtrack_malloc_tagged/memtrack_calloc_tagged with a bad tag (NULL, "", 256 bytes)
        still allocate (untagged), and must leave the thread's tag stack as it was."""
        for mode, res, lines in self.each_mode():
            self.assertLines(lines, {"scopes_left_by_tagged_allocs": 0}, res)

    def test_bad_names(self):
        E = self.E
        for mode, res, lines in self.each_mode():
            self.assertLines(lines, {
                "push_null": E["EINVAL"], "push_empty": E["EINVAL"], "push_256": E["EINVAL"],
                "pop_after_bad_names": E["ESTATE"], "push_255": 0, "push_255_pop": 0,
                "count_for_256": E["EINVAL"], "count_for_empty": E["EINVAL"],
                "count_for_null": E["EINVAL"], "count_for_null_out": E["EINVAL"],
                "count_for_unknown": E["ENOENT"], "class:long256_rc": E["EINVAL"],
            }, res)
            # A refused push still enters a scope, which must be popped.
            self.assertLines(lines, {"push_null_pop": 0, "push_empty_pop": 0,
                                     "push_256_pop": 0}, res)
            self.assertEqual(self.cls(lines, "long255"), counts(1, 0, 255, 0))

    def test_deep_nesting(self):
        """70 nested scopes: the innermost wins down to 64; pushes past 64 are refused with
        MEMTRACK_ERANGE, yet entered (each is popped), and tag as the 64th."""
        for mode, res, lines in self.each_mode():
            self.assertLines(lines, {
                "deep_push_failures": DEEP - 64, "deep_push_first_error": self.E["ERANGE"],
                "deep_push_first_failed": 64, "deep_pops_ok": DEEP - 30,
                "deep_pop_extra": self.E["ESTATE"]}, res)
            got = {"lvl%02d" % i: self.cls(lines, "lvl%02d" % i) for i in range(DEEP)}
            expected = {k: counts(0, 0, 0, 0) for k in got}
            expected["lvl63"] = counts(1, 0, 1, 0)  # pushed 70 deep
            expected["lvl59"] = counts(1, 0, 2, 0)  # 60 deep
            expected["lvl39"] = counts(1, 0, 3, 0)  # 40 deep
            self.assertEqual(got, expected, "innermost scope lost past some depth\n" +
                             res.describe())

    def test_threads(self):
        """8 threads at once, each with its own class and a shared one, creating 16 classes
        at the same moment; tags are per thread (main's scope tags none of theirs)."""
        for mode, res, lines in self.each_mode():
            self.assertLines(lines, {"main_scope_push": 0, "main_scope_pop": 0,
                                     "thread_pop_empty_not_estate": 0}, res)
            got = {"thr%02d" % i: self.cls(lines, "thr%02d" % i) for i in range(NTHREADS)}
            got.update({"race%02d" % i: self.cls(lines, "race%02d" % i) for i in range(16)})
            got["shared"] = self.cls(lines, "shared")
            got["main_scope"] = self.cls(lines, "main_scope")
            expected = {"thr%02d" % i: thread_class(i) for i in range(NTHREADS)}
            # race00..race15: each thread 4 one-byte blocks per class, freed at once.
            expected.update({"race%02d" % i: counts(NTHREADS * 4, NTHREADS * 4,
                                                    NTHREADS * 4, NTHREADS * 4)
                             for i in range(16)})
            expected["shared"] = shared_class()
            expected["main_scope"] = counts(0, 0, 0, 0)
            self.assertEqual(got, expected, res.describe())

    def test_untagged_is_totals_minus_tagged(self):
        for mode, res, lines in self.each_mode():
            tot = api_counts(lines, "totals")
            un = api_counts(lines, "untagged_counts")
            tagged = api_counts(lines, "tagged_sum")
            self.assertEqual({k: un[k] + tagged[k] for k in ("new_count", "free_count",
                                                             "new_bytes", "free_bytes")},
                             {k: tot[k] for k in ("new_count", "free_count", "new_bytes",
                                                  "free_bytes")}, res.describe())
            self.assertEqual(tot["live_count"], tot["new_count"] - tot["free_count"])
            self.assertGreaterEqual(un["new_count"], 5, res.describe())

    def test_final_capture_classes(self):
        """Under `memtrack run` the capture's classes (JSON) match memtrack_count_for."""
        res, lines = self.run_mode("run")
        data = self.load(self.only_capture(res, "api_classes"))
        classes = {c["name"]: c for c in data["classes"]}
        for name in ["thr%02d" % i for i in range(NTHREADS)] + ["shared", "point"]:
            want = self.cls(lines, name)
            self.assertEqual({k: classes[name][k] for k in want}, want, name)
        live = {}
        for e in data["leaks"]:
            live[e["class"]] = live.get(e["class"], 0) + e["live_blocks"]
        for name, c in classes.items():
            self.assertEqual(live.get(name, 0), c["live_count"], "class %s: leaks %r\n%r" % (
                name, live, c))


if __name__ == "__main__":
    unittest.main()
