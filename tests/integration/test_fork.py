"""fork(): parent and child each write their own capture with their own leaks."""

import unittest

from mtutil import MemtrackCase, brief, excerpt, kv, leaks_of, parse_kv_lines


class Fork(MemtrackCase):
    """tests/programs/forker.c: the parent leaks 3 x 300 (parent_leak), the child 2 x 700
    (child_leak) and makes one temporary 64-byte allocation (child_temp)."""

    def pids(self, res):
        parent = kv(res.stdout, "pid")
        child = kv(res.stdout, "childpid")
        lines = dict((k, v) for k, v in parse_kv_lines(res.stdout))
        self.assertEqual(lines.get("child", [None])[0], child, res.describe())
        return parent, child, lines["child"][1]

    def check_parent(self, data, parent):
        self.assertEqual(data["pid"], parent, excerpt(brief(data)))
        self.assertEqual(data["parent_pid"], 0, excerpt(brief(data)))
        self.assertLeak(data, "parent_leak", 3, 900)
        self.assertNoLeak(data, "child_leak")
        self.assertNoLeak(data, "child_temp")
        self.assertEqual(data["end"], {"reason": "exit", "value": 0}, excerpt(brief(data)))

    def check_child(self, data, parent, child, end):
        self.assertEqual(data["pid"], child, excerpt(brief(data)))
        self.assertEqual(data["parent_pid"], parent, excerpt(brief(data)))
        self.assertLeak(data, "child_leak", 2, 1400)
        self.assertNoLeak(data, "parent_leak")
        self.assertNoLeak(data, "child_temp")
        self.assertEqual(data["end"], end, excerpt(brief(data)))

    def test_default_names(self):
        res = self.run_memtrack("forker", ["exit"])
        parent, child, status = self.pids(res)
        self.assertEqual(status, 5, res.describe())
        caps = sorted(f for f in res.files() if f.endswith(".mtc"))
        self.assertEqual(caps, sorted(["memtrack.forker.%d.mtc" % parent,
                                       "memtrack.forker.%d.mtc" % child]), res.describe())
        pdata = self.load(self.default_capture(res, "forker", parent))
        self.check_parent(pdata, parent)
        self.assertTotals(pdata, {"allocations": 3, "frees": 0, "allocated_bytes": 900,
                                  "live_blocks": 3, "live_bytes": 900, "temporary": 0,
                                  "unknown_frees": 0, "peak_bytes": 900})
        cdata = self.load(self.default_capture(res, "forker", child))
        self.check_child(cdata, parent, child, {"reason": "exit", "value": 5})
        self.assertTotals(cdata, {"allocations": 3, "frees": 1, "allocated_bytes": 1464,
                                  "freed_bytes": 64, "live_blocks": 2, "live_bytes": 1400,
                                  "temporary": 1, "unknown_frees": 0, "peak_bytes": 1464})

    def test_child_quick_exit(self):
        res = self.run_memtrack("forker", ["quick"])
        parent, child, status = self.pids(res)
        self.assertEqual(status, 6, res.describe())
        self.check_parent(self.load(self.default_capture(res, "forker", parent)), parent)
        cdata = self.load(self.default_capture(res, "forker", child))
        self.check_child(cdata, parent, child, {"reason": "_exit", "value": 6})

    def test_output_option(self):
        # -o FILE without %p: the parent writes FILE, the child FILE.<childpid>
        res = self.run_memtrack("forker", ["exit"], opts=["-o", "cap.mtc"])
        parent, child, _ = self.pids(res)
        self.assertEqual(sorted(res.files()), sorted(["cap.mtc", "cap.mtc.%d" % child]),
                         res.describe())
        self.check_parent(self.load(res.path("cap.mtc")), parent)
        self.check_child(self.load(res.path("cap.mtc.%d" % child)), parent, child,
                         {"reason": "exit", "value": 5})

    def test_output_option_with_pid(self):
        res = self.run_memtrack("forker", ["exit"], opts=["-o", "cap.%p.mtc"])
        parent, child, _ = self.pids(res)
        self.assertEqual(sorted(res.files()), sorted(["cap.%d.mtc" % parent,
                                                      "cap.%d.mtc" % child]), res.describe())
        self.check_parent(self.load(res.path("cap.%d.mtc" % parent)), parent)
        self.check_child(self.load(res.path("cap.%d.mtc" % child)), parent, child,
                         {"reason": "exit", "value": 5})

    def test_blocks_from_before_the_fork(self):
        # prefork: prefork_leak (111) is leaked by both; prefork_shared (222) is freed by the
        # child only. Whether the child's capture inherits the parent's live blocks is not
        # specified; either way the child's figures must be consistent.
        res = self.run_memtrack("forker", ["prefork"])
        parent, child, status = self.pids(res)
        self.assertEqual(status, 5, res.describe())
        pdata = self.load(self.default_capture(res, "forker", parent))
        self.check_parent(pdata, parent)
        self.assertLeak(pdata, "prefork_leak", 1, 111)
        self.assertLeak(pdata, "prefork_shared", 1, 222)
        self.assertTotals(pdata, {"allocations": 5, "frees": 0, "live_blocks": 5,
                                  "live_bytes": 1233, "unknown_frees": 0})
        cdata = self.load(self.default_capture(res, "forker", child), inherited=True)
        self.check_child(cdata, parent, child, {"reason": "exit", "value": 5})
        self.assertNoLeak(cdata, "prefork_shared")
        inherited = bool(leaks_of(cdata, "prefork_leak"))
        if inherited:
            self.assertLeak(cdata, "prefork_leak", 1, 111)
            self.assertEqual(cdata["totals"]["unknown_frees"], 0, excerpt(brief(cdata)))
            self.assertTotals(cdata, {"live_blocks": 3, "live_bytes": 1511})
        else:
            self.assertEqual(cdata["totals"]["unknown_frees"], 1, excerpt(brief(cdata)))
            self.assertTotals(cdata, {"live_blocks": 2, "live_bytes": 1400})


if __name__ == "__main__":
    unittest.main()
