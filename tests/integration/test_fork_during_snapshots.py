"""fork() while another thread writes snapshots and a third churns (tests/programs/
api_fork_snapshot.c): no child may hang on a lock or a pause left by the parent's threads;
each child and the parent write valid captures."""

import glob
import os
import unittest

from mtutil import BUILD_DIR, MEMTRACK, MemtrackCase, run_proc

PROGRAM = os.path.join(BUILD_DIR, "tests", "programs", "api_fork_snapshot")


class ForkDuringSnapshots(MemtrackCase):

    def test_children_run_and_capture(self):
        d = self.tempdir()
        # run_proc kills the whole process group on timeout: a hung child is not left behind.
        proc = run_proc([MEMTRACK, "run", "-o", os.path.join(d, "run.%p.mtc"), "--", PROGRAM, d],
                        timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("children_ok 40", proc.stdout)
        runs = glob.glob(os.path.join(d, "run.*.mtc"))
        self.assertEqual(len(runs), 41, runs)  # 40 children and the parent
        for path in runs + glob.glob(os.path.join(d, "snap.*.mtc")):
            data = self.load(path, check=False)
            self.assertFalse(data["degraded"], path)


if __name__ == "__main__":
    unittest.main()
