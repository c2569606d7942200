"""The three modes (`memtrack run --mode`, MEMTRACK_MODE): what each keeps, exact counts in all
of them, and sample mode's estimates. tests/programs/sample_sites.c allocates from three call
sites with known sizes; tests/programs/churn.c churns blocks across eight threads."""

import math
import os
import unittest

from mtutil import (MEMTRACK, ApiCase, MemtrackCase, Result, all_stacks, contributors_of,
                    excerpt, leak_sum, program, report, run_proc_env, thread_by_tid)

# As in tests/programs/sample_sites.c
SMALL_N, SMALL_SIZE = 200000, 48
MEDIUM_N, MEDIUM_SIZE = 20000, 1000
LARGE_N, LARGE_SIZE = 40, 2 << 20
SITES = {  # function: (blocks made, size, blocks live at the end)
    "site_small": (SMALL_N, SMALL_SIZE, SMALL_N // 2),
    "site_medium": (MEDIUM_N, MEDIUM_SIZE, MEDIUM_N),
    "site_large": (LARGE_N, LARGE_SIZE, LARGE_N),
}
MEAN = 16384
SEED = "12345"

# As in tests/programs/churn.c
N, ROUNDS, LEFT = 8, 2000, 3


def churn_block_size(idx, r):
    return 16 + 8 * idx + 16 * (r % 5)


def standard_error(truth, n, size, mean):
    """Of the estimate of `truth`, made of n blocks of `size` bytes each sampled with
    probability p and then counted 1/p times: truth * sqrt((1 - p) / (n p))."""
    p = -math.expm1(-size / mean)
    return truth * math.sqrt((1 - p) / (n * p))


class Modes(MemtrackCase):

    _cache = {}

    def run_env(self, prog, args=(), opts=(), env=None):
        """`memtrack run OPTS -- PROG ARGS` with `env` added; returns (Result, capture JSON)."""
        key = (prog, tuple(args), tuple(opts), tuple(sorted((env or {}).items())))
        if key in self._cache:
            return self._cache[key]
        workdir = self.tempdir()
        argv = [MEMTRACK, "run", "-o", "out.mtc"] + list(opts) + ["--", program(prog)] + list(args)
        res = Result(argv, run_proc_env(argv, env=env, cwd=workdir), workdir)
        self.assertEqual(res.returncode, 0, res.describe())
        data = self.load(res.path("out.mtc"), check=False)
        self.check_invariants(data)
        self._cache[key] = (res, data)
        return res, data

    def check_invariants(self, data, inherited=False):
        """The common invariants; in sample mode the leaks and peak contributors hold estimates,
        which need not add up to the exact totals, so those are checked for the other modes."""
        if not data.get("estimated"):
            return super().check_invariants(data, inherited)
        t = data["totals"]
        self.assertEqual(t["allocations"] - t["frees"], t["live_blocks"], excerpt(t))
        self.assertEqual(t["allocated_bytes"] - t["freed_bytes"], t["live_bytes"], excerpt(t))
        self.assertEqual(data["peak"]["blocks"], t["peak_blocks"], excerpt(data["peak"]))
        for key in ("allocations", "allocated_bytes", "frees", "live_blocks", "live_bytes"):
            self.assertEqual(sum(th[key] for th in data["threads"]), t[key], key)

    def sites(self, mode, env=None):
        return self.run_env("sample_sites", opts=["--mode", mode] if mode else [], env=env)[1]

    # --- selection

    def test_mode_recorded(self):
        for opt, env, name in ((None, None, "full"), ("full", None, "full"),
                               ("count", None, "count"), (None, {"MEMTRACK_MODE": "count"}, "count"),
                               ("sample=%d" % MEAN, None, "sample"),
                               (None, {"MEMTRACK_MODE": "sample"}, "sample")):
            data = self.sites(opt, env)
            self.assertEqual(data["mode"], name, (opt, env))
            self.assertEqual(data["estimated"], name == "sample", (opt, env))
        self.assertEqual(self.sites("sample=%d" % MEAN)["sample_mean_bytes"], MEAN)
        self.assertEqual(self.sites(None, {"MEMTRACK_MODE": "sample"})["sample_mean_bytes"],
                         512 * 1024)

    def test_bad_modes_refused(self):
        for bad in ("sample=", "sample=0", "sample=12k", "sample=-5", "sampled", "fast",
                    "sample=1099511627777"):
            workdir = self.tempdir()
            argv = [MEMTRACK, "run", "--mode", bad, "--", program("sample_sites")]
            proc = run_proc_env(argv, cwd=workdir)
            self.assertEqual(proc.returncode, 2, "%s\n%s" % (bad, proc.stderr))
            self.assertIn("--mode takes", proc.stderr)
            # The same through the environment: the program runs, untracked, with a message.
            argv = [MEMTRACK, "run", "-o", "x.mtc", "--", program("sample_sites")]
            proc = run_proc_env(argv, env={"MEMTRACK_MODE": bad}, cwd=workdir)
            self.assertIn("MEMTRACK_MODE='%s'" % bad, proc.stderr)
            self.assertFalse(os.path.exists(os.path.join(workdir, "x.mtc")), bad)
        workdir = self.tempdir()
        argv = [MEMTRACK, "run", "-o", "x.mtc", "--mode", "sample", "--", program("sample_sites")]
        proc = run_proc_env(argv, env={"MEMTRACK_SEED": "0x12"}, cwd=workdir)
        self.assertIn("MEMTRACK_SEED='0x12'", proc.stderr)

    # --- effects

    def test_totals_exact_in_every_mode(self):
        full = self.sites("full")["totals"]
        for mode in ("count", "sample", "sample=%d" % MEAN, "sample=1"):
            got = self.sites(mode, {"MEMTRACK_SEED": SEED})["totals"]
            for key in ("allocations", "frees", "allocated_bytes", "freed_bytes", "live_blocks",
                        "live_bytes", "peak_bytes", "temporary", "unknown_frees"):
                self.assertEqual(got[key], full[key], "%s: totals.%s" % (mode, key))

    def test_full_mode_exact_per_site(self):
        data = self.sites("full")
        for name, (n, size, live) in SITES.items():
            self.assertEqual(leak_sum(data, name), (live, live * size), name)

    def test_count_mode_keeps_no_stacks(self):
        data = self.sites("count")
        self.assertEqual([s for _, s in all_stacks(data) if s], [], excerpt(data["leaks"]))
        for name in SITES:
            self.assertEqual(leak_sum(data, name), (0, 0), name)

    def test_sample_mode_every_block_of_the_mean(self):
        """With a mean of 1 byte every allocation is sampled with weight 1: sample mode then
        gives full mode's figures exactly."""
        data = self.sites("sample=1", {"MEMTRACK_SEED": SEED})
        full = self.sites("full")
        self.assertEqual(data["sampled_allocations"], full["totals"]["allocations"])
        for name, (n, size, live) in SITES.items():
            self.assertEqual(leak_sum(data, name), (live, live * size), name)

    def test_sample_estimates_near_the_truth(self):
        """Each site's leaked bytes and blocks, and its bytes at the peak, are within four
        standard errors of the exact figures (seeded, so the outcome is the same every run)."""
        data = self.sites("sample=%d" % MEAN, {"MEMTRACK_SEED": SEED})
        self.assertGreater(data["sampled_allocations"], 0)
        for name, (n, size, live) in SITES.items():
            blocks, nbytes = leak_sum(data, name)
            se = standard_error(live * size, live, size, MEAN)
            self.assertLessEqual(abs(nbytes - live * size), 4 * se + 1,
                                 "%s: estimated %d bytes, truth %d" % (name, nbytes, live * size))
            se = standard_error(live, live, size, MEAN)
            self.assertLessEqual(abs(blocks - live), 4 * se + 1,
                                 "%s: estimated %d blocks, truth %d" % (name, blocks, live))
            # The peak comes before the frees: every block made is live then.
            peak = sum(c["bytes"] for c in contributors_of(data, name))
            se = standard_error(n * size, n, size, MEAN)
            self.assertLessEqual(abs(peak - n * size), 4 * se + 1,
                                 "%s: estimated %d bytes at the peak, truth %d" % (
                                     name, peak, n * size))
        # 2 MiB blocks are far above the mean: all recorded, each standing for itself.
        self.assertEqual(leak_sum(data, "site_large"), (LARGE_N, LARGE_N * LARGE_SIZE))

    def test_sample_repeatable_with_a_seed(self):
        runs = [self.run_env("sample_sites", ["again"] if i else [],
                             ["--mode", "sample=%d" % MEAN], {"MEMTRACK_SEED": SEED})[1]
                for i in range(2)]
        self.assertEqual([leak_sum(runs[0], n) for n in SITES],
                         [leak_sum(runs[1], n) for n in SITES])
        self.assertEqual(runs[0]["sampled_allocations"], runs[1]["sampled_allocations"])

    def test_sample_reports_say_estimates(self):
        res, _ = self.run_env("sample_sites", opts=["--mode", "sample=%d" % MEAN],
                              env={"MEMTRACK_SEED": SEED})
        proc = report(res.path("out.mtc"), fmt="text")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("are estimates", proc.stdout)
        self.assertIn("  #1  ~", proc.stdout)

    # --- exact counts under eight threads

    def test_churn_exact_in_count_and_sample_modes(self):
        for mode in ("count", "sample", "sample=64"):
            res, data = self.run_env("churn", ["run"], ["--mode", mode])
            _, base = self.run_env("churn", ["baseline"], ["--mode", mode])
            tids = {v[0]: v[1] for k, v in
                    ((line.split()[0], list(map(int, line.split()[1:])))
                     for line in res.stdout.splitlines() if line.startswith("tid "))
                    }
            self.assertEqual(sorted(tids), list(range(N)), res.describe())
            for idx, tid in tids.items():
                th = thread_by_tid(data, tid)
                made = sum(churn_block_size(idx, r) for r in range(ROUNDS))
                left = sum(churn_block_size(idx, r) for r in range(ROUNDS - LEFT, ROUNDS))
                expected = {"allocations": 2 * ROUNDS, "allocated_bytes": made + 32 * ROUNDS,
                            "frees": 2 * ROUNDS - LEFT, "live_blocks": LEFT,
                            "live_bytes": left}
                self.assertEqual({k: th[k] for k in expected}, expected, "%s thread %d" % (
                    mode, idx))
            delta = {k: data["totals"][k] - base["totals"][k] for k in (
                "allocations", "frees", "live_blocks", "temporary", "unknown_frees")}
            self.assertEqual(delta, {"allocations": N * 2 * ROUNDS,
                                     "frees": N * (2 * ROUNDS - LEFT),
                                     "live_blocks": N * LEFT, "temporary": N * ROUNDS,
                                     "unknown_frees": 0}, mode)


class ModesThroughTheApi(ApiCase):
    """A program linked with -lmemtrack reads MEMTRACK_MODE at memtrack_start()
    (tests/programs/api_paths.c, as in test_api_paths's count-mode checks)."""

    def test_linked_sample_mode(self):
        for mode in ("linked", "run_linked"):
            snap = os.path.join(self.tempdir(), "paths.mtc")
            res, lines = self.run_api("api_paths", [snap], mode=mode,
                                      env={"MEMTRACK_MODE": "sample=1", "MEMTRACK_SEED": "7"})
            self.assertLines(lines, {"start": 0 if mode == "run_linked" else 1, "snapshot": 0},
                             res)
            data = self.load(snap, check=False)
            self.assertEqual((data["mode"], data["estimated"], data["sample_mean_bytes"]),
                             ("sample", True, 1), mode)
            # Exact totals; with a mean of one byte every block is sampled at weight 1.
            self.assertTotals(data, {"live_blocks": 21, "live_bytes": 333 + 888 + 1665 + 888 +
                                     3330 + 66}, mode)
            self.assertEqual(sum(e["live_blocks"] for e in data["leaks"]), 21, mode)

    def test_linked_bad_mode(self):
        res, lines = self.run_api("api_paths", [os.path.join(self.tempdir(), "x.mtc")],
                                  mode="linked", env={"MEMTRACK_MODE": "sample=lots"},
                                  expect_rc=None)
        self.assertLines(lines, {"start": self.E["ENOMEM"]}, res)
        self.assertIn("MEMTRACK_MODE='sample=lots'", res.stderr)


if __name__ == "__main__":
    unittest.main()
