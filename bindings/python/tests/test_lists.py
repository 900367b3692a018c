"""Lists and queues: every list method and its errors, the mapping's
calls on lists, waiting pops (woken by another process, timing out,
signals, the GIL let go), bounded pushes (max_len: room, timing out,
woken by a pop from another process), and producers, consumers and movers in many
processes losing or doubling nothing."""
import errno
import os
import signal
import threading
import time

import shmkv
from support import FORK, TableTest, child, run_all


def signals_during_a_wait(test, wait_half_s, nothing, wait_for_ever):
    """A SIGALRM handler that returns lets wait_half_s (a wait of 0.5 s that
    nothing ends) go on for the time left, then return nothing; one that
    raises ends even wait_for_ever with its exception (as Ctrl-C would)."""
    seen = []
    old = signal.signal(signal.SIGALRM, lambda *a: seen.append(time.monotonic()))
    test.addCleanup(signal.signal, signal.SIGALRM, old)
    test.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)  # first: none left to kill us
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    test.assertIs(wait_half_s(), nothing)
    took = time.monotonic() - start
    test.assertEqual(len(seen), 1)
    test.assertGreaterEqual(took, 0.49)
    test.assertLess(took, 2.0)

    class Stop(Exception):
        pass

    def stop(*a):
        raise Stop
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, 0.25)
    with test.assertRaises(Stop):
        wait_for_ever()


class ListMethodsTest(TableTest):
    def test_push_pop_both_ends(self):
        t = self.table()
        self.assertIs(t.push("q", b"b"), True)            # True, as a bounded push's
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
        self.assertIs(t.push_many("q", []), True)
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
                      lambda: t.move("list", "pair"), lambda: t.push("pair", b"x", max_len=5),
                      lambda: t.push_many("pair", [b"x"], max_len=5, timeout=1)]
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
        signals_during_a_wait(self, lambda: t.list_pop("q", timeout=0.5), None,
                              lambda: t.move("q", "d", timeout=None))
        self.assertEqual(t.llen("d"), 0)


class BoundedPushTest(TableTest):
    """push and push_many with max_len: a bounded queue."""

    def test_below_and_at_the_bound(self):
        t = self.table()
        self.assertIs(t.push_many("q", [b"1", b"2"], max_len=3), True)
        self.assertIs(t.push("q", b"3", max_len=3), True)   # exactly max_len fits
        self.assertEqual(t.lrange("q"), [b"1", b"2", b"3"])
        for call in [lambda: t.push("q", b"4", max_len=3),
                     lambda: t.push("q", b"4", max_len=3, timeout=0),
                     lambda: t.push("q", b"4", max_len=2),     # already past it
                     lambda: t.push_many("q", [b"4", b"5"], max_len=4)]:  # one fits, not both
            start = time.monotonic()
            with self.subTest(call=call):
                self.assertIs(call(), False)
                self.assertLess(time.monotonic() - start, 0.1)  # did not wait
        self.assertEqual(t.lrange("q"), [b"1", b"2", b"3"])  # nothing pushed
        self.assertIs(t.push_many("q", [b"4", b"5"], max_len=5), True)
        self.assertIs(t.push_many("q", [], max_len=1), True)  # nothing always fits
        self.assertIs(t.push("q", b"6", max_len=2**70), True)  # past any list: no bound
        self.assertEqual(t.lrange("q"), [b"1", b"2", b"3", b"4", b"5", b"6"])
        self.assertEqual(t.check(), [])

    def test_head_end(self):
        t = self.table()
        self.assertIs(t.push_many("q", [b"a", b"b"], end="head", max_len=3), True)
        self.assertIs(t.push("q", b"c", end="head", max_len=3), True)
        self.assertIs(t.push("q", b"d", end="head", max_len=3), False)
        self.assertEqual(t.lrange("q"), [b"c", b"b", b"a"])
        t.list_pop("q", end="tail")
        self.assertIs(t.push("q", b"d", end="head", max_len=3), True)
        self.assertEqual(t.lrange("q"), [b"d", b"c", b"b"])

    def test_timeout_returns_false_after_about_that_long(self):
        t = self.table()
        t.push_many("q", [b"1", b"2"])
        for call in [lambda: t.push("q", b"x", max_len=2, timeout=0.2),
                     lambda: t.push_many("q", [b"x", b"y"], max_len=3, timeout=0.2)]:
            start = time.monotonic()
            with self.subTest(call=call):
                self.assertIs(call(), False)
                took = time.monotonic() - start
                self.assertGreaterEqual(took, 0.15)
                self.assertLess(took, 2.0)
        self.assertEqual(t.lrange("q"), [b"1", b"2"])

    def test_waiting_push_woken_by_a_pop_from_another_process(self):
        t = self.table()
        t.push_many("q", [b"a", b"b"])

        @child
        def popper():
            time.sleep(0.2)
            assert t.list_pop("q") == b"a"

        p = FORK.Process(target=popper)
        start = time.monotonic()
        p.start()
        self.assertIs(t.push("q", b"c", max_len=2, timeout=None), True)
        took = time.monotonic() - start
        p.join(10)
        self.assertEqual(p.exitcode, 0)
        self.assertGreaterEqual(took, 0.15)               # it waited for the pop
        self.assertLess(took, 3.0)
        self.assertEqual(t.lrange("q"), [b"b", b"c"])

    def test_a_slow_consumer_holds_the_producer_back(self):
        t = self.table()
        n, bound = 30, 3

        @child
        def consumer():
            time.sleep(0.2)
            got = []
            while len(got) < n:
                assert t.llen("q") <= bound, "list past max_len"
                e = t.list_pop("q", timeout=10)
                assert e is not None, "starved"
                got.append(e)
                time.sleep(0.005)
            t.push_many("got", got)

        p = FORK.Process(target=consumer)
        p.start()
        start = time.monotonic()
        for i in range(n):
            self.assertIs(t.push("q", b"%d" % i, max_len=bound, timeout=None), True)
            self.assertLessEqual(t.llen("q"), bound)
        took = time.monotonic() - start
        p.join(30)
        self.assertEqual(p.exitcode, 0)
        self.assertGreaterEqual(took, 0.15)               # held back until the consumer began
        self.assertEqual(t.lrange("got"), [b"%d" % i for i in range(n)])
        self.assertEqual(t.llen("q"), 0)

    def test_wait_lets_other_threads_run(self):
        t = self.table()
        t.push("q", b"a")
        popper = threading.Timer(0.2, t.list_pop, ("q",))
        popper.start()
        self.assertIs(t.push("q", b"b", max_len=1, timeout=20), True)  # GIL released
        popper.join()
        self.assertEqual(t.lrange("q"), [b"b"])

    def test_signals_during_a_wait(self):
        t = self.table()
        t.push("q", b"a")
        signals_during_a_wait(self, lambda: t.push("q", b"b", max_len=1, timeout=0.5), False,
                              lambda: t.push_many("q", [b"b"], max_len=1, timeout=None))
        self.assertEqual(t.lrange("q"), [b"a"])

    def test_more_values_than_max_len_and_bad_max_len(self):
        t = self.table()
        for call in [lambda: t.push_many("q", [b"1", b"2", b"3", b"4"], max_len=3),
                     lambda: t.push_many("q", [b"1", b"2"], max_len=1, timeout=None),
                     lambda: t.push("q", b"1", max_len=0),
                     lambda: t.push_many("q", [], max_len=0),
                     lambda: t.push("q", b"1", max_len=-1),
                     lambda: t.push("q", b"1", max_len=-2**70),
                     lambda: t.push("q", b"1", max_len=5, timeout=-1)]:
            with self.subTest(call=call), self.assertRaises(ValueError) as cm:
                call()
            self.assertIsInstance(cm.exception, shmkv.InvalidError)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(shmkv.InvalidError) as cm:
            t.push_many("q", [b"1", b"2", b"3", b"4"], max_len=3)
        self.assertIn("4 values could never fit in a list of max_len 3", str(cm.exception))
        with self.assertRaises(shmkv.InvalidError) as cm:
            t.push("q", b"1", max_len=0)
        self.assertIn("max_len must be 1 or more", str(cm.exception))
        self.assertNotIn("q", t)                          # nothing pushed, nothing created

    def test_bad_types(self):
        t = self.table()
        t.push("q", b"e")
        for call in [lambda: t.push("q", b"x", max_len="3"),
                     lambda: t.push("q", b"x", max_len=1.5),
                     lambda: t.push_many("q", [b"x"], max_len=[3]),
                     lambda: t.push("q", b"x", max_len=3, timeout="1"),
                     lambda: t.push("q", "text", max_len=3),
                     lambda: t.push_many("q", b"abc", max_len=3),
                     lambda: t.push("q", b"x", 3),                    # max_len is a keyword
                     # a timeout means nothing without max_len: refused, not ignored
                     lambda: t.push("q", b"x", timeout=1),
                     lambda: t.push("q", b"x", timeout=0),
                     lambda: t.push("q", b"x", timeout=None),
                     lambda: t.push_many("q", [b"x"], max_len=None, timeout=1)]:
            with self.subTest(call=call), self.assertRaises(TypeError) as cm:
                call()
            self.assertNotIsInstance(cm.exception, shmkv.Error)
        with self.assertRaises(TypeError) as cm:
            t.push_many("q", [b"x"], timeout=1)
        self.assertIn("push_many() takes a timeout only with max_len", str(cm.exception))
        with self.assertRaises(TypeError) as cm:
            t.push("q", b"x", max_len=1.0)
        self.assertIn("max_len must be an int or None, not float", str(cm.exception))
        self.assertEqual(t.lrange("q"), [b"e"])


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
