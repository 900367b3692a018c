"""Lists and queues: every list method and its errors, the mapping's
calls on lists, waiting pops (woken by another process, timing out,
signals, the GIL let go), and producers, consumers and movers in many
processes losing or doubling nothing."""
import errno
import os
import signal
import threading
import time

import shmkv
from support import FORK, TableTest, child, run_all


class ListMethodsTest(TableTest):
    def test_push_pop_both_ends(self):
        t = self.table()
        self.assertIsNone(t.push("q", b"b"))
        t.push("q", bytearray(b"c"), end="tail")
        t.push(b"q", memoryview(b"a"), end="head")
        t.push("q", b"")                                  # empty elements are elements
        self.assertEqual(t.llen("q"), 4)
        self.assertEqual(t.lrange("q"), [b"a", b"b", b"c", b""])
        self.assertEqual(t.list_pop("q"), b"a")
        self.assertEqual(t.list_pop("q", end="tail"), b"")
        self.assertEqual(t.list_pop("q", end="tail"), b"c")
        self.assertEqual(t.list_pop("q", end="head"), b"b")
        self.assertIsNone(t.list_pop("q"))                # empty
        self.assertIsNone(t.list_pop("never"))            # absent
        self.assertEqual(t.llen("q"), 0)
        self.assertEqual(t.llen("never"), 0)

    def test_push_many_and_pop_many(self):
        t = self.table()
        t.push_many("q", [b"1", b"2", b"3"])
        t.push_many("q", (v for v in [b"0", b"-1"]), end="head")   # reversed, as one by one
        t.push_many("q", [])
        self.assertEqual(t.lrange("q"), [b"-1", b"0", b"1", b"2", b"3"])
        self.assertEqual(t.list_pop_many("q", 2), [b"-1", b"0"])
        self.assertEqual(t.list_pop_many("q", 2, end="tail"), [b"3", b"2"])
        self.assertEqual(t.list_pop_many("q", 10**12), [b"1"])   # a huge count is fine
        self.assertEqual(t.list_pop_many("q", 5), [])
        self.assertEqual(t.list_pop_many("absent", 5), [])

    def test_elements_of_every_size(self):
        t = self.table()
        sizes = [0, 1, 4095, 4096, 4097, 70000, 300000]
        t.push_many("q", [bytes([i]) * n for i, n in enumerate(sizes)])
        for i, n in enumerate(sizes):
            self.assertEqual(t.list_pop("q"), bytes([i]) * n)
        big = [b"x" * 200000, b"y", b"z" * 70000, b"w"] + [b"v" * 1000] * 100
        t.push_many("q", big)
        batches = []
        while t.llen("q"):
            batches.append(t.list_pop_many("q", 50))      # batches stop at what fits
        self.assertTrue(all(batches))
        self.assertEqual([e for b in batches for e in b], big)
        t.push("m", b"m" * 100000)
        self.assertEqual(t.move("m", "n"), b"m" * 100000)
        self.assertEqual(t.lrange("n"), [b"m" * 100000])

    def test_lrange_indexes(self):
        t = self.table()
        t.push_many("q", [b"%d" % i for i in range(10)])
        every = [b"%d" % i for i in range(10)]
        for start, stop in [(0, -1), (0, 0), (2, 4), (-3, -1), (-100, 2), (5, 100),
                            (8, 2), (10, 20), (-1, -2), (0, 2**70), (-2**70, 1)]:
            with self.subTest(start=start, stop=stop):
                a = start if start >= 0 else max(10 + start, 0)
                b = stop if stop >= 0 else 10 + stop
                self.assertEqual(t.lrange("q", start, stop), every[a:b + 1])
        self.assertEqual(t.lrange("q", 7), every[7:])
        self.assertEqual(t.llen("q"), 10)                  # nothing removed

    def test_move_between_ends_and_lists(self):
        t = self.table()
        t.push_many("src", [b"a", b"b", b"c"])
        self.assertEqual(t.move("src", "dst"), b"a")       # head to tail
        self.assertEqual(t.move("src", "dst", from_end="tail", to_end="head"), b"c")
        self.assertEqual(t.lrange("dst"), [b"c", b"a"])
        self.assertEqual(t.move("dst", "dst", from_end="head", to_end="tail"), b"c")  # rotate
        self.assertEqual(t.lrange("dst"), [b"a", b"c"])
        self.assertEqual(t.move("src", "src"), b"b")       # same end: stays where it was
        self.assertEqual(t.lrange("src"), [b"b"])
        t.list_pop("src")
        self.assertIsNone(t.move("src", "dst"))
        self.assertIsNone(t.move("absent", "dst"))
        self.assertNotIn("absent", t)                     # an empty move creates nothing

    def test_mapping_on_lists(self):
        t = self.table()
        t["pair"] = b"v"
        t.push("list", b"e")
        self.assertIn("list", t)                          # the key is taken
        self.assertEqual(len(t), 2)                       # len counts lists ...
        self.assertEqual(list(t), [b"pair"])              # ... iteration visits pairs only
        self.assertEqual(dict(t.items()), {b"pair": b"v"})
        self.assertEqual(list(t.values()), [b"v"])
        self.assertEqual(list(t.lists()), [(b"list", [b"e"])])
        t.push_many("two", [b"1", b"2"])
        self.assertEqual(sorted(t.lists()), [(b"list", [b"e"]), (b"two", [b"1", b"2"])])
        del t["list"]                                     # deletes the list whole
        self.assertNotIn("list", t)
        self.assertEqual(t.llen("list"), 0)
        t.push("list", b"new")                            # and it can be made anew
        self.assertEqual(t.lrange("list"), [b"new"])
        t.list_pop("list")
        self.assertIn("list", t)                          # an empty list stays a key
        t.set("list2", b"x")
        t.clear()                                         # clear removes lists too
        self.assertEqual((len(t), t.llen("two")), (0, 0))
        self.assertEqual(t.check(), [])


class ListErrorsTest(TableTest):
    def test_wrong_kind_both_ways(self):
        t = self.table()
        t["pair"] = b"v"
        t.push("list", b"e")
        list_calls = [lambda: t.push("pair", b"x"), lambda: t.push_many("pair", [b"x"]),
                      lambda: t.list_pop("pair"), lambda: t.list_pop("pair", timeout=5),
                      lambda: t.list_pop_many("pair", 2), lambda: t.llen("pair"),
                      lambda: t.lrange("pair"), lambda: t.move("pair", "list"),
                      lambda: t.move("list", "pair")]
        pair_calls = [lambda: t["list"], lambda: t.get("list"), lambda: t.set("list", b"x"),
                      lambda: t.__setitem__("list", b"x"), lambda: t.add("list", b"x"),
                      lambda: t.replace("list", b"x"), lambda: t.incr("list"),
                      lambda: t.append("list", b"x"), lambda: t.take("list"),
                      lambda: t.pop("list"), lambda: t.ttl("list"),
                      lambda: t.expire("list", 5), lambda: t.get_many(["list"]),
                      lambda: t.get_or_set("list", lambda: b"x")]
        for i, call in enumerate(list_calls + pair_calls):
            with self.subTest(call=i), self.assertRaises(shmkv.WrongTypeError) as cm:
                call()
            self.assertIsInstance(cm.exception, TypeError)
            self.assertIsInstance(cm.exception, shmkv.Error)
            self.assertEqual(cm.exception.errno, errno.EMEDIUMTYPE)
        # and nothing changed
        self.assertEqual((t["pair"], t.lrange("list")), (b"v", [b"e"]))
        self.assertEqual(t.check(), [])

    def test_bad_arguments(self):
        t = self.table()
        t.push("q", b"e")
        for call, exc in [(lambda: t.push("q", "text"), TypeError),       # values are bytes
                          (lambda: t.push("q", b"x", end="left"), shmkv.InvalidError),
                          (lambda: t.push("q", b"x", end=0), TypeError),
                          (lambda: t.push("q", b"x", "head"), TypeError),  # end is a keyword
                          (lambda: t.push("", b"x"), shmkv.InvalidError),
                          (lambda: t.push("k" * 70000, b"x"), shmkv.InvalidError),
                          (lambda: t.push_many("q", b"abc"), TypeError),   # not one value
                          (lambda: t.push_many("q", [b"a", "b"]), TypeError),
                          (lambda: t.push_many("q", 5), TypeError),
                          (lambda: t.list_pop("q", timeout=-1), shmkv.InvalidError),
                          (lambda: t.list_pop("q", timeout=float("nan")), shmkv.InvalidError),
                          (lambda: t.list_pop("q", timeout="1"), TypeError),
                          (lambda: t.list_pop("q", end="middle"), shmkv.InvalidError),
                          (lambda: t.list_pop("q", wait=1), TypeError),
                          (lambda: t.list_pop_many("q", 0), shmkv.InvalidError),
                          (lambda: t.list_pop_many("q", -3), shmkv.InvalidError),
                          (lambda: t.list_pop_many("q", 1.5), TypeError),
                          (lambda: t.move("q", "d", from_end="x"), shmkv.InvalidError),
                          (lambda: t.move("q", "d", to_end=None), TypeError),
                          (lambda: t.move("q", ""), shmkv.InvalidError),
                          (lambda: t.lrange("q", 1.0), TypeError),
                          (lambda: t.lrange("q", 0, "1"), TypeError),
                          (lambda: t.llen(5), TypeError)]:
            with self.subTest(call=call), self.assertRaises(exc):
                call()
        self.assertEqual(t.lrange("q"), [b"e"])           # a refused push pushes nothing
        self.assertEqual(t.llen("d"), 0)
        with self.assertRaises(shmkv.InvalidError) as cm:
            t.push("q", b"x", end="left")
        self.assertIn('end must be "head" or "tail"', str(cm.exception))

    def test_cache_refuses_lists(self):
        t = self.table(cache=True, max_bytes=shmkv.MIN_BYTES)
        for call in [lambda: t.push("q", b"x"), lambda: t.push_many("q", [b"x"]),
                     lambda: t.list_pop("q"), lambda: t.list_pop_many("q", 2),
                     lambda: t.move("q", "r")]:
            with self.subTest(call=call), self.assertRaises(shmkv.Error) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)
        self.assertEqual((t.llen("q"), t.lrange("q"), len(t)), (0, [], 0))

    def test_read_only_and_closed(self):
        name = self.name()
        t = self.table(name)
        t.push("q", b"e")
        r = shmkv.Table(name, readonly=True)
        self.addCleanup(r.close)
        self.assertEqual((r.llen("q"), r.lrange("q"), list(r.lists())), (1, [b"e"], [(b"q", [b"e"])]))
        for call in [lambda: r.push("q", b"x"), lambda: r.list_pop("q"),
                     lambda: r.list_pop_many("q", 1), lambda: r.move("q", "d")]:
            with self.subTest(call=call), self.assertRaises(shmkv.ReadOnlyError):
                call()
        t.close()
        for call in [lambda: t.push("q", b"x"), lambda: t.list_pop("q", timeout=1),
                     lambda: t.llen("q"), lambda: t.lrange("q"), lambda: t.move("q", "d")]:
            with self.subTest(call=call), self.assertRaises(ValueError):
                call()


class WaitingTest(TableTest):
    def test_timeout_returns_nothing_after_about_that_long(self):
        t = self.table()
        for call, empty in [(lambda: t.list_pop("q", timeout=0.3), None),
                            (lambda: t.list_pop_many("q", 3, timeout=0.3), []),
                            (lambda: t.move("q", "d", timeout=0.3), None)]:
            start = time.monotonic()
            self.assertEqual(call(), empty)
            took = time.monotonic() - start
            self.assertGreaterEqual(took, 0.29)
            self.assertLess(took, 2.0)
        start = time.monotonic()
        self.assertIsNone(t.list_pop("q", timeout=0))
        self.assertLess(time.monotonic() - start, 0.1)

    def test_pop_woken_by_a_push_from_another_process(self):
        t = self.table()
        for wait in [None, 30]:
            @child
            def pusher():
                time.sleep(0.3)
                t.push("q", b"wake")

            p = FORK.Process(target=pusher)
            start = time.monotonic()
            p.start()
            self.assertEqual(t.list_pop("q", timeout=wait), b"wake")
            took = time.monotonic() - start
            p.join(10)
            self.assertEqual(p.exitcode, 0)
            self.assertGreaterEqual(took, 0.25)
            self.assertLess(took, 3.0)                    # woken, not timed out

    def test_move_and_pop_many_wake_too(self):
        t = self.table()

        @child
        def pusher():
            time.sleep(0.2)
            t.push_many("jobs", [b"j1", b"j2"])
            time.sleep(0.2)
            t.push("more", b"m")

        p = FORK.Process(target=pusher)
        p.start()
        start = time.monotonic()
        self.assertEqual(t.move("jobs", "mine", timeout=20), b"j1")
        self.assertEqual(t.list_pop_many("more", 5, timeout=20), [b"m"])
        self.assertLess(time.monotonic() - start, 5.0)
        p.join(10)
        self.assertEqual((p.exitcode, t.lrange("mine"), t.lrange("jobs")), (0, [b"j1"], [b"j2"]))

    def test_wait_lets_other_threads_run(self):
        t = self.table()
        pusher = threading.Timer(0.2, t.push, ("q", b"from a thread"))
        pusher.start()
        self.assertEqual(t.list_pop("q", timeout=20), b"from a thread")  # GIL released
        pusher.join()

    def test_close_ends_a_wait_in_another_thread(self):
        name = self.name()
        t = self.table(name)
        u = shmkv.Table(name)
        ended = []

        def waiter():
            try:
                u.list_pop("q", timeout=None)
            except ValueError as e:                       # closed, as a file
                ended.append(e)
        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.1)
        start = time.monotonic()
        u.close()
        th.join(5)
        self.assertFalse(th.is_alive())
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertEqual(len(ended), 1)
        t.push("q", b"kept")                              # the closed waiter took nothing
        self.assertEqual(t.list_pop("q"), b"kept")

    def test_signals_during_a_wait(self):
        t = self.table()
        seen = []
        old = signal.signal(signal.SIGALRM, lambda *a: seen.append(time.monotonic()))
        self.addCleanup(signal.signal, signal.SIGALRM, old)
        # a handler that returns: the wait goes on for the time left
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        self.assertIsNone(t.list_pop("q", timeout=0.5))
        took = time.monotonic() - start
        self.assertEqual(len(seen), 1)
        self.assertGreaterEqual(took, 0.49)
        self.assertLess(took, 2.0)

        class Stop(Exception):
            pass

        def stop(*a):
            raise Stop
        signal.signal(signal.SIGALRM, stop)
        # a handler that raises ends even a wait for ever (as Ctrl-C would),
        # whenever it comes
        signal.setitimer(signal.ITIMER_REAL, 0.25)
        with self.assertRaises(Stop):
            t.move("q", "d", timeout=None)
        self.assertEqual(t.llen("d"), 0)


class ProcessesTest(TableTest):
    def test_producers_and_consumers(self):
        t = self.table()
        producers, consumers, per = 3, 3, 2000

        @child
        def producer(who):
            for i in range(0, per, 10):
                t.push_many("jobs", [b"%d:%d" % (who, j) for j in range(i, i + 10)])

        @child
        def consumer():
            got = []
            while True:
                job = t.list_pop("jobs", timeout=30)
                assert job is not None, "starved"
                if job == b"stop":
                    break
                got.append(job)
            t.push_many("got", got)

        # the consumers start first and wait; once every producer is done,
        # a stop for each consumer goes behind the jobs
        cons = [FORK.Process(target=consumer) for _ in range(consumers)]
        for p in cons:
            p.start()
        self.assertEqual(run_all(producer, [(w,) for w in range(producers)]), [0] * producers)
        t.push_many("jobs", [b"stop"] * consumers)
        for p in cons:
            p.join(30)
        self.assertEqual([p.exitcode for p in cons], [0] * consumers)
        got = t.lrange("got")
        expect = [b"%d:%d" % (w, j) for w in range(producers) for j in range(per)]
        self.assertEqual(len(got), len(expect))           # nothing doubled ...
        self.assertEqual(sorted(got), sorted(expect))     # ... nothing lost
        self.assertEqual(t.llen("jobs"), 0)
        self.assertEqual(t.check(), [])

    def test_moves_are_exact_under_concurrency(self):
        t = self.table()
        n = 3000
        t.push_many("a", [b"%d" % i for i in range(n)])

        @child
        def mover(who):
            # each mover shuttles elements back and forth between two lists,
            # and now and then parks one in its own list and returns it
            end = time.monotonic() + 1.5
            moved = 0
            while time.monotonic() < end:
                src, dst = ("a", "b") if (moved + who) % 2 == 0 else ("b", "a")
                if t.move(src, dst, from_end=("head", "tail")[who % 2],
                          to_end=("tail", "head")[moved % 2]) is not None:
                    moved += 1
                if moved % 50 == 0 and t.move(src, "mine%d" % who) is not None:
                    assert t.move("mine%d" % who, dst) is not None
            assert t.llen("mine%d" % who) == 0

        self.assertEqual(run_all(mover, [(i,) for i in range(4)]), [0] * 4)
        every = t.lrange("a") + t.lrange("b")
        self.assertEqual(len(every), n)
        self.assertEqual(sorted(every), sorted(b"%d" % i for i in range(n)))
        self.assertEqual(t.check(), [])

    def test_a_consumer_killed_while_waiting(self):
        t = self.table()

        @child
        def waiter():
            t.list_pop("q", timeout=None)

        p = FORK.Process(target=waiter)
        p.start()
        time.sleep(0.2)
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        t.push("q", b"still here")                        # nobody took it
        self.assertEqual(t.list_pop("q", timeout=1), b"still here")
        self.assertEqual(t.check(), [])
