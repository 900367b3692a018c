"""Many processes on one table, as a pre-forking server's workers: the
handle opened before fork() works in every child; values written over
each other stay whole; counters count every increment; get_or_set
computes once for a crowd."""
import hashlib
import os
import random
import threading
import time

import shmkv
from support import FORK, TableTest, child, run_all

KEYS = [b"shared%d" % i for i in range(64)]


def sealed(key, body):
    """A value that proves itself: the digest of key and body, then body."""
    return hashlib.blake2b(key + body, digest_size=16).digest() + body


def check_sealed(key, value):
    if hashlib.blake2b(key + value[16:], digest_size=16).digest() != value[:16]:
        raise AssertionError("torn or foreign value at %r (%d bytes)" % (key, len(value)))


class ForkTest(TableTest):
    def test_four_workers_hammer_overlapping_keys(self):
        t = self.table()
        for k in KEYS:
            t[k] = sealed(k, b"")

        @child
        def worker(seed):
            rng = random.Random(seed)
            end = time.monotonic() + 1.5
            n = 0
            while time.monotonic() < end:
                k = rng.choice(KEYS)
                op = rng.randrange(10)
                if op < 4:                         # sizes on every read path
                    size = rng.choice((0, 100, 1000, 1100, 5000, 40000))
                    t[k] = sealed(k, rng.randbytes(size))
                elif op < 8:
                    check_sealed(k, t[k])
                elif op == 8:
                    for k2, v in t.get_many(rng.sample(KEYS, 16)).items():
                        check_sealed(k2, v)
                else:
                    seen = 0
                    for k2, v in t.items():
                        if k2 != b"ops":               # a finished worker's count
                            check_sealed(k2, v)
                            seen += 1
                    assert seen == len(KEYS), seen
                n += 1
            t.incr(b"ops", n)

        self.assertEqual(run_all(worker, [(i,) for i in range(4)]), [0] * 4)
        self.assertGreater(int(t[b"ops"]), 1000)
        for k in KEYS:
            check_sealed(k, t[k])
        self.assertEqual(len(t), len(KEYS) + 1)
        self.assertEqual(t.check(), [])

    def test_incr_is_exact_across_processes_and_threads(self):
        t = self.table()
        per_worker = 3000

        @child
        def worker(i):
            def count():
                for _ in range(per_worker // 3):
                    t.incr(b"total")
                    t.incr(b"worker%d" % i, 2)
            threads = [threading.Thread(target=count) for _ in range(3)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()

        self.assertEqual(run_all(worker, [(i,) for i in range(6)]), [0] * 6)
        self.assertEqual(t[b"total"], b"%d" % (6 * per_worker))
        for i in range(6):
            self.assertEqual(int(t[b"worker%d" % i]), 2 * per_worker)

    def test_get_or_set_computes_once_for_eight_processes(self):
        t = self.table()
        barrier = FORK.Barrier(8)

        def compute():
            t.incr(b"computed")
            time.sleep(0.3)                        # slow, so the others pile up
            return b"the value"

        @child
        def worker():
            barrier.wait(10)
            value = t.get_or_set(b"key", compute, wait=10)
            assert value == b"the value", value

        self.assertEqual(run_all(worker, [()] * 8), [0] * 8)
        self.assertEqual(t[b"computed"], b"1")
        self.assertEqual(t[b"key"], b"the value")
        st = t.stats()
        self.assertEqual((st["leases_granted"], st["leases_filled"]), (1, 1))

    def test_a_failed_compute_elsewhere_does_not_stall_the_others(self):
        t = self.table()
        started = FORK.Event()

        def fail():
            started.set()
            time.sleep(0.3)
            raise RuntimeError("backend down")

        @child
        def holder():
            try:
                t.get_or_set(b"key", fail)
            except RuntimeError:
                return
            raise AssertionError("compute's error was swallowed")

        p = FORK.Process(target=holder)
        p.start()
        self.assertTrue(started.wait(10))
        begin = time.monotonic()
        self.assertEqual(t.get_or_set(b"key", lambda: b"mine", wait=30), b"mine")
        self.assertLess(time.monotonic() - begin, 5)
        p.join(10)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(t[b"key"], b"mine")

    def test_handle_lives_on_in_children(self):
        t = self.table()
        t[b"parent"] = b"1"

        @child
        def worker(i):
            assert t[b"parent"] == b"1"
            t[b"child%d" % i] = b"%d" % os.getpid()
            with self.assertRaises(ValueError):    # closing in a child is its own
                t.close()
                t.get(b"parent")

        self.assertEqual(run_all(worker, [(i,) for i in range(3)]), [0] * 3)
        self.assertEqual(sorted(k for k in t if k.startswith(b"child")),
                         [b"child0", b"child1", b"child2"])
        self.assertEqual(t[b"parent"], b"1")       # still open here

    def test_fork_while_another_thread_is_in_a_call(self):
        # the child must not inherit the parent thread's call in progress
        t = self.table()
        t[b"big"] = b"x" * (16 << 20)
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                t.get(b"big")

        th = threading.Thread(target=reader)
        th.start()
        try:
            path = os.path.join(self.dir, t.name)

            def mapped():
                with open("/proc/self/maps") as f:
                    return path in f.read()

            @child
            def worker():
                assert mapped()
                t.close()                          # at once: no call of ours is running
                assert t.closed and not mapped()
                with shmkv.Table(t.name) as again:
                    assert len(again[b"big"]) == 16 << 20

            self.assertEqual(run_all(worker, [()] * 4), [0] * 4)
        finally:
            stop.set()
            th.join()
