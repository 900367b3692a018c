"""What the shmkv tests share: a private table directory per test.

Every test runs with $SHMKV_DIR pointing at a new directory in /dev/shm,
so its tables are files there; table() opens one and arranges for it to
be closed and unlinked; at the end the test fails if anything is left in
the directory, which is then removed.  Processes are forked with
multiprocessing's "fork" context (the handles of the parent live on in
the children, as under gunicorn --preload), and reaped by run_all().
"""
import multiprocessing
import os
import shutil
import tempfile
import unittest

import shmkv

FORK = multiprocessing.get_context("fork")


class TableTest(unittest.TestCase):
    """A TestCase whose tables live in a private $SHMKV_DIR."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shmkv-pytest-", dir="/dev/shm")
        self._old_dir = os.environ.get("SHMKV_DIR")
        os.environ["SHMKV_DIR"] = self.dir
        self.addCleanup(self._remove_dir)
        self._n = 0

    def _remove_dir(self):
        if self._old_dir is None:
            del os.environ["SHMKV_DIR"]
        else:
            os.environ["SHMKV_DIR"] = self._old_dir
        left = os.listdir(self.dir)
        shutil.rmtree(self.dir)
        self.assertEqual(left, [], "tables left behind")

    def name(self):
        """A table name of its own for this test."""
        self._n += 1
        return "t%d" % self._n

    def table(self, name=None, **options):
        """Open (create) a table that is closed and unlinked after the test."""
        name = name or self.name()
        t = shmkv.Table(name, **options)
        self.addCleanup(shmkv.unlink, name, missing_ok=True)
        self.addCleanup(t.close)
        return t


def run_all(target, args_list, timeout=60):
    """Run target(*args) in a forked process per args; return their exit
    codes.  A process that outlives timeout is killed (and fails)."""
    procs = [FORK.Process(target=target, args=args) for args in args_list]
    for p in procs:
        p.start()
    codes = []
    for p in procs:
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join()
        codes.append(p.exitcode)
    return codes


def child(fn):
    """Decorate a process body: exit 0 if it returns, 1 if it raises
    (with its traceback on stderr), without running the parent's cleanups."""
    def run(*args):
        try:
            fn(*args)
        except BaseException:
            import traceback
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    return run
