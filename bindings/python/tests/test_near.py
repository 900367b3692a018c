"""shmkv.near.NearCache against a real redis-server and a real agent.

Each test starts redis-server on a Unix socket in a private directory and
the agent (build/shmkv-redis sync, `make redis`) on a table of its own,
and stops both at the end.  Writes go through redis-py, as an
application's would: the table learns of them from Redis.
"""
import gc
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

import redis

from shmkv.near import AGENT_KEY, NearCache
from support import TableTest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TOOL = os.environ.get("SHMKV_REDIS_TOOL", os.path.join(ROOT, "build", "shmkv-redis"))
# long enough that a busy machine's stalls of the agent do not let its
# record lapse in the middle of a test
HEARTBEAT_MS = "2000"
BOUND = 3.0  # seconds: how long a fill or an invalidation may take at most


class HookedRedis(redis.Redis):
    """A redis-py client that runs after_read() once a pipeline's answers
    are in: between a fill's Redis read and its store."""

    after_read = None

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction, shard_hint)
        execute, hook = pipe.execute, self.after_read

        def execute_then_hook(*args, **kw):
            answers = execute(*args, **kw)
            if hook:
                hook()
            return answers
        pipe.execute = execute_then_hook
        return pipe


class NearTest(TableTest):
    def setUp(self):
        super().setUp()
        if not os.access(TOOL, os.X_OK):
            self.fail("%s is missing: make redis" % TOOL)
        self.tmp = tempfile.mkdtemp(prefix="shmkv-near-py-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.sock = os.path.join(self.tmp, "redis.sock")
        self.server = self.spawn(["redis-server", "--port", "0", "--unixsocket", self.sock,
                                  "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                                  "--dir", self.tmp], "redis.log")
        self.redis = self.client()
        # (redis-py 4.3 leaves a socket open when a connect fails)
        self.until(lambda: os.path.exists(self.sock) and self._pings(), "redis-server answers")
        self.path = os.path.join(self.dir, self.name())
        self.t = self.table(self.path, cache=True, max_bytes=8 << 20, stats=True)
        self.agent = self.start_agent()

    # ---- the fixture ---------------------------------------------------------

    def spawn(self, argv, log):
        with open(os.path.join(self.tmp, log), "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.addCleanup(self.stop, proc)
        return proc

    @staticmethod
    def stop(proc, sig=signal.SIGTERM):
        """Stop proc (if it still runs); its exit status."""
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait()

    def client(self, cls=redis.Redis):
        c = cls(unix_socket_path=self.sock, socket_timeout=5)
        self.addCleanup(c.close)
        return c

    def _pings(self):
        try:
            return self.redis.ping()
        except redis.ConnectionError:
            return False

    def start_agent(self, *extra):
        agent = self.spawn([TOOL, "sync", self.path, "--redis", self.sock, "--prefix", "n:",
                            "--heartbeat", HEARTBEAT_MS, *extra], "agent.log")
        self.until(lambda: AGENT_KEY in self.t or agent.poll() is not None, "the agent's heartbeat")
        self.assertIsNone(agent.poll(), "the agent exited")
        return agent

    def until(self, cond, what, bound=10.0):
        end = time.monotonic() + bound
        while not cond():
            if time.monotonic() > end:
                self.fail("%s: not within %g s" % (what, bound))
            time.sleep(0.002)

    def fill(self, near, key):
        """near.get(key) until the table holds the value, and still holds
        it 20 ms later: a fill right after a write may lose its lease to
        that write's own invalidation, or store the value before the agent
        applies that invalidation, which then deletes it (a miss, never a
        stale value; the C tests met it in CI)."""
        end = time.monotonic() + BOUND
        while time.monotonic() < end:
            value = near.get(key)
            if self.t.get(key) == value is not None:
                time.sleep(0.02)
                if self.t.get(key) == value:
                    return value
            time.sleep(0.002)
        self.fail("%r was not stored within %g s" % (key, BOUND))

    def settle(self, sentinel=b"n:sentinel"):
        """Wait until the agent has applied every write made so far.  Redis
        sends it the invalidations in order, so once a copy of a sentinel
        key is deleted by the invalidation of a write made after them (the
        SET before the fill, if the agent is slow; else the one after),
        every earlier write's invalidation has been applied."""
        self.redis.set(sentinel, b"s")
        self.fill(NearCache(self.t, self.redis), sentinel)
        self.redis.set(sentinel, b"s2")
        self.until(lambda: sentinel not in self.t, "the sentinel's invalidation", BOUND)

    # ---- the tests -----------------------------------------------------------

    def test_fill_then_hit(self):
        near = NearCache(self.t, self.redis)
        self.redis.set("n:a", b"\0\xffone", px=60000)
        self.assertEqual(self.fill(near, "n:a"), b"\0\xffone")
        # stored as Redis's bytes, for every process and binding, and no
        # longer than Redis keeps it
        self.assertEqual(self.t.get(b"n:a"), b"\0\xffone")
        self.assertLessEqual(self.t.ttl(b"n:a"), self.redis.pttl("n:a") / 1000 + 0.05)
        counts = dict(near.counts)
        self.assertEqual(near.get(b"n:a"), b"\0\xffone")
        self.assertEqual(near.counts, dict(counts, table=counts["table"] + 1))
        # a value that reads as a number stays bytes
        self.redis.set("n:num", b"42")
        self.assertEqual(self.fill(near, "n:num"), b"42")
        self.assertEqual(near.get("n:num"), b"42")
        # no lifetime in Redis: the reader's cap, else none
        self.redis.set("n:b", b"two")
        self.assertEqual(self.fill(NearCache(self.t, self.redis, max_ttl=0.5), "n:b"), b"two")
        self.assertTrue(0 < self.t.ttl(b"n:b") <= 0.5)
        self.redis.set("n:c", b"three")
        self.fill(near, "n:c")
        self.assertIsNone(self.t.ttl(b"n:c"))
        # absent in Redis: None, nothing stored, the lease given back
        self.assertIsNone(near.get("n:none"))
        self.assertNotIn(b"n:none", self.t)
        value, lease = self.t._get_lease(b"n:none")
        self.assertNotEqual(lease, 0, "the lease was not given back")
        self.t.pop(b"n:none", None)  # voids it

    def test_agent_max_ttl(self):
        self.assertEqual(self.stop(self.agent), 0)
        self.start_agent("--max-ttl", "300")
        self.redis.set("n:a", b"one", px=60000)
        self.fill(NearCache(self.t, self.redis, max_ttl=10), "n:a")
        self.assertTrue(0 < self.t.ttl(b"n:a") <= 0.3)

    def test_write_is_invalidated(self):
        near = NearCache(self.t, self.redis)
        self.redis.set("n:k", b"old")
        self.fill(near, "n:k")
        self.assertEqual(near.get("n:k"), b"old")
        self.redis.set("n:k", b"new")
        self.until(lambda: near.get("n:k") == b"new", "the new value", BOUND)
        self.assertEqual(self.fill(near, "n:k"), b"new")
        self.redis.append("n:k", b"er")
        self.until(lambda: near.get("n:k") == b"newer", "the appended value", BOUND)
        self.redis.delete("n:k")
        self.until(lambda: near.get("n:k") is None, "the delete", BOUND)
        self.assertNotIn(b"n:k", self.t)

    def test_agent_stopped(self):
        near = NearCache(self.t, self.redis)
        self.redis.set("n:k", b"v1")
        self.fill(near, "n:k")
        self.assertEqual(self.stop(self.agent), 0, "the agent's exit status on SIGTERM")
        self.assertNotIn(AGENT_KEY, self.t)
        self.redis.set("n:k", b"v2")
        redis_reads = near.counts["redis"]
        for _ in range(3):
            self.assertEqual(near.get("n:k"), b"v2")
        self.assertEqual(near.counts["redis"], redis_reads + 3)
        self.assertEqual(len(self.t), 0, "a get stored something without an agent")

    def test_keys_not_cached(self):
        near = NearCache(self.t, self.redis)
        for key in (b"other:k", b"\0n:reserved"):
            self.redis.set(key, b"v")
            self.assertEqual(near.get(key), b"v")
            self.assertEqual(near.get(key), b"v")
            self.assertNotIn(key, self.t)
        self.assertEqual(near.counts, {"table": 0, "filled": 0, "redis": 4})

    def test_redis_errors_give_the_lease_back(self):
        near = NearCache(self.t, self.redis)
        self.redis.rpush("n:list", b"a")
        with self.assertRaises(redis.ResponseError):
            near.get("n:list")
        value, lease = self.t._get_lease(b"n:list")
        self.assertNotEqual(lease, 0, "the lease was not given back")
        self.t.pop(b"n:list", None)
        self.stop(self.server)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # redis-py's, of the failed connect
            with self.assertRaises(redis.ConnectionError):
                near.get("n:gone")
            gc.collect()
        self.assertNotIn(b"n:gone", self.t)

    def test_fill_loses_its_lease_to_a_write(self):
        # the write lands between the fill's Redis read and its store, and
        # the agent applies it before the store: the store must do nothing
        self.redis.set("n:k", b"older")
        writer = self.client()
        hooked = self.client(HookedRedis)
        voided = self.t.stats()["leases_voided"]

        def write_and_wait():
            writer.set("n:k", b"newer")
            self.until(lambda: self.t.stats()["leases_voided"] > voided, "the lease voided", BOUND)
        hooked.after_read = write_and_wait
        near = NearCache(self.t, hooked)
        self.assertEqual(near.get("n:k"), b"older")  # Redis's answer, not stored
        self.assertEqual(near.counts, {"table": 0, "filled": 0, "redis": 1})
        self.assertNotIn(b"n:k", self.t)
        self.assertEqual(self.fill(NearCache(self.t, self.redis), "n:k"), b"newer")

    def test_fills_racing_with_writes_leave_nothing_stale(self):
        keys = [b"n:race:%d" % i for i in range(6)]
        seed = random.randrange(1 << 32)
        rng = random.Random(seed)
        writer = self.client()
        fillers = []
        for i in range(2):
            c = self.client(HookedRedis)
            delay = random.Random(seed + i)
            # half the fills sleep up to 1 ms between Redis's answer and the store
            c.after_read = lambda d=delay: d.random() < 0.5 and time.sleep(d.random() / 1000)
            fillers.append(NearCache(self.t, c))
        cached = 0
        for round_ in range(250):
            stop = threading.Event()

            def write(r=random.Random(rng.random())):
                while not stop.is_set():
                    self.write_once(writer, r, r.choice(keys))

            def read(near, r=random.Random(rng.random())):
                while not stop.is_set():
                    near.get(r.choice(keys))
            threads = [threading.Thread(target=write)]
            threads += [threading.Thread(target=read, args=(near,)) for near in fillers]
            for th in threads:
                th.start()
            time.sleep(0.01)
            stop.set()
            for th in threads:
                th.join()
            self.settle()
            for key in keys:
                cached += self.check_key(key, "round %d (seed %d)" % (round_, seed))
        filled = sum(near.counts["filled"] for near in fillers)
        hits = sum(near.counts["table"] for near in fillers)
        self.assertGreater(filled, 0)
        self.assertGreater(hits, 0)
        self.assertGreater(cached, 0, "no round ended with a key in the table")
        self.assertGreater(self.t.stats()["leases_voided"], 0, "no write ever raced with a fill")

    @staticmethod
    def write_once(client, r, key):
        """A write of a random kind, as the C tests' race makes them."""
        value = b"v%d" % r.randrange(1000)
        kind = r.randrange(20)
        if kind < 2:
            client.delete(key)
        elif kind < 4:
            client.set(key, value, px=30 + r.randrange(400))
        elif kind == 4:
            client.append(key, value)
        elif kind == 5:
            client.pexpire(key, 30 + r.randrange(400))
        elif kind == 6:
            client.persist(key)
        else:
            client.set(key, value)

    def check_key(self, key, where):
        """Redis's value and PTTL of key (read first), against the table's;
        1 if the table holds it."""
        pipe = self.redis.pipeline(transaction=False)
        value, pttl = pipe.get(key).pttl(key).execute()
        held = self.t.get(key)
        left = self.t.ttl(key) if held is not None else None
        if held is None:
            return 0
        self.assertEqual(held, value, "%s: %r is stale in the table" % (where, key))
        if pttl >= 0:
            # a filler descheduled between its ttl's computation and its
            # store gives the copy that much longer
            self.assertIsNotNone(left, "%s: %r never expires, Redis's in %d ms" % (where, key, pttl))
            self.assertLessEqual(left * 1000, pttl + 50, "%s: %r outlives Redis's" % (where, key))
        return 1


if __name__ == "__main__":
    unittest.main()
