#!/usr/bin/env python3
"""bench.py - shmkv from Python next to the other ways Python processes
share a key-value store, in one run: gets and sets of small values from 1
and 2 processes, and what the binding adds to each call.

    PYTHONPATH=build/python/bench /usr/bin/python3 bindings/python/bench.py
    make bench-python                         (builds, installs the peers)

Peers, each skipped (and said so) when its Debian package is missing:
  lmdb        python3-lmdb: one write transaction per set, and gets either
              with a read transaction each (they see the latest writes, as
              shmkv's do) or all in one long read transaction (a snapshot)
  diskcache   python3-diskcache: SQLite under a cache API
  manager     multiprocessing.Manager().dict(): a server process, pickling
  redis       python3-redis and redis-server: a private server on a Unix
              socket, without persistence
Every store lives in /dev/shm (so no disk is timed), holds --keys keys of
--value bytes, and is opened anew in each worker process after fork.  Each
phase runs --seconds in every process at once; the figure is the sum of
their operations per second, the median of --runs runs; the runs go in
rounds of every phase of every system.  Every get must hit: a miss is an
error.

The one-get section times one get of a key in the CPU caches for every
system, a dict.get, Table.get and t[key], and shmkv_get called from C:
what each API costs when memory does not, and what Table.get adds to the
C get, next to a dict.get.
"""
import argparse
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# This script's directory holds the package's sources, without the built
# extension: take the package from PYTHONPATH (or site-packages) instead.
sys.path.remove(os.path.dirname(os.path.abspath(__file__)))
import shmkv  # noqa: E402

FORK = multiprocessing.get_context("fork")


# ---- the systems: setup in the parent, connect in each worker ---------------

class Shmkv:
    name = "shmkv"

    def setup(self, tmp):
        self.path = os.path.join(tmp, "table")
        shmkv.Table(self.path).close()

    def connect(self):
        t = shmkv.Table(self.path)
        return t.get, t.__setitem__, t.set_many

    def teardown(self):
        shmkv.unlink(self.path)


class Lmdb:
    name = "lmdb"
    snapshot = False

    def setup(self, tmp):
        import lmdb
        self.lmdb = lmdb
        self.path = os.path.join(tmp, type(self).__name__)
        self.open().close()

    def open(self):
        # sync=False: no fsync per commit, as neither shmkv nor a cache does
        return self.lmdb.open(self.path, map_size=4 << 30, sync=False, metasync=False)

    def connect(self):
        env = self.open()
        if self.snapshot:
            get = env.begin().get
        else:
            def get(k):
                with env.begin() as txn:
                    return txn.get(k)

        def put(k, v):
            with env.begin(write=True) as txn:
                txn.put(k, v)

        def put_many(pairs):
            with env.begin(write=True) as txn:
                for k, v in pairs.items():
                    txn.put(k, v)
        return get, put, put_many

    def teardown(self):
        shutil.rmtree(self.path)


class LmdbSnapshot(Lmdb):
    name = "lmdb, one read txn"
    snapshot = True
    gets_only = True


class DiskCache:
    name = "diskcache"

    def setup(self, tmp):
        import diskcache
        self.diskcache = diskcache
        self.path = os.path.join(tmp, "diskcache")
        self.diskcache.Cache(self.path).close()

    def connect(self):
        c = self.diskcache.Cache(self.path)

        def put_many(pairs):
            with c.transact():
                for k, v in pairs.items():
                    c.set(k, v)
        return c.get, c.set, put_many

    def teardown(self):
        shutil.rmtree(self.path)


class Manager:
    name = "Manager().dict()"

    def setup(self, tmp):
        self.manager = FORK.Manager()
        self.d = self.manager.dict()

    def connect(self):
        return self.d.get, self.d.__setitem__, self.d.update

    def teardown(self):
        self.manager.shutdown()


class Redis:
    name = "redis"

    def setup(self, tmp):
        import redis
        self.redis = redis
        server = shutil.which("redis-server")
        if not server:
            raise ImportError("redis-server not found")
        self.sock = os.path.join(tmp, "redis.sock")
        self.proc = subprocess.Popen(
            [server, "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL)
        for _ in range(500):
            if os.path.exists(self.sock):
                break
            time.sleep(0.01)
        self.connect()[0](b"ping")

    def connect(self):
        r = self.redis.Redis(unix_socket_path=self.sock)

        def put_many(pairs):
            r.mset(pairs)
        return r.get, r.set, put_many

    def teardown(self):
        self.proc.terminate()
        self.proc.wait()


SYSTEMS = {"shmkv": Shmkv, "lmdb": Lmdb, "lmdb-snapshot": LmdbSnapshot,
           "diskcache": DiskCache, "manager": Manager, "redis": Redis}


# ---- phases -------------------------------------------------------------------

def work(system, phase, keys, value, seconds, barrier, results):
    """One worker: phase ("get" or "set") for seconds; puts (ops, misses)."""
    get, put, _ = system.connect()
    keys = list(keys)
    random.Random(os.getpid()).shuffle(keys)
    chunks = [keys[i:i + 1000] for i in range(0, len(keys), 1000)]
    ops = misses = 0
    barrier.wait()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        chunk = chunks[ops // 1000 % len(chunks)]
        if phase == "get":
            for k in chunk:
                if get(k) is None:
                    misses += 1
        else:
            for k in chunk:
                put(k, value)
        ops += len(chunk)
    results.put((ops / (time.perf_counter() - end + seconds), misses))


def load_all(system, keys, value):
    """Store every key, in batches; in a process of its own, since LMDB
    and SQLite handles must not cross a fork."""
    _, _, put_many = system.connect()
    for i in range(0, len(keys), 10000):
        put_many({k: value for k in keys[i:i + 10000]})


def run_phase(system, phase, procs, keys, value, seconds):
    barrier = FORK.Barrier(procs)
    results = FORK.Queue()
    workers = [FORK.Process(target=work, args=(system, phase, keys, value, seconds, barrier,
                                               results)) for _ in range(procs)]
    for w in workers:
        w.start()
    got = [results.get(timeout=seconds + 120) for _ in workers]
    for w in workers:
        w.join()
        if w.exitcode:
            raise RuntimeError("%s %s worker failed" % (system.name, phase))
    misses = sum(m for _, m in got)
    if misses:
        raise RuntimeError("%s: %d gets missed" % (system.name, misses))
    return sum(r for r, _ in got)


def prepare(names, keys, value, tmp):
    """Set up and load each system that is installed: ({name: system},
    {name: why it is not})."""
    ready, skipped = {}, {}
    for n in names:
        system = SYSTEMS[n]()
        try:
            system.setup(tmp)
        except ImportError as e:
            skipped[system.name] = "not installed (%s)" % e
            continue
        ready[system.name] = system
        load = FORK.Process(target=load_all, args=(system, keys, value))
        load.start()
        load.join()
        if load.exitcode:
            raise RuntimeError("%s: loading failed" % system.name)
    return ready, skipped


def bench_all(systems, keys, value, args):
    """{name: {(phase, procs): median rate}}: runs in rounds, each round
    every phase of every system once, so that a change in the machine's
    load falls on all of them alike."""
    samples = {name: {} for name in systems}
    for r in range(args.runs):
        for name, system in systems.items():
            for phase in ("get",) if getattr(system, "gets_only", False) else ("get", "set"):
                for procs in (1, 2):
                    rate = run_phase(system, phase, procs, keys, value, args.seconds)
                    samples[name].setdefault((phase, procs), []).append(rate)
        print("bench: round %d of %d done" % (r + 1, args.runs), file=sys.stderr)
    return {name: {k: statistics.median(v) for k, v in s.items()} for name, s in samples.items()}


# ---- one call, on hot keys -------------------------------------------------------

def per_call(systems, keys, rounds):
    """Nanoseconds per get of 1000 keys that are in the CPU caches, for
    each system (its get as the phases call it), a dict, Table.get and
    t[key], and shmkv_get from C, less the loop's own time.  Each figure
    is the best of rounds passes, each pass run twice and the second timed
    (the first brings its data into the caches), the systems taking turns."""
    keys = tuple(keys[:1000])
    t = shmkv.Table(systems["shmkv"].path) if "shmkv" in systems else None
    d = dict.fromkeys(keys, b"")

    def loop_of(get):
        def loop():
            for k in keys:
                get(k)
        return loop

    def empty():
        for k in keys:
            pass

    def subscript():
        for k in keys:
            t[k]

    loops = {name: loop_of(system.connect()[0]) for name, system in systems.items()}
    loops.update({"dict.get": loop_of(d.get), "loop": empty})
    if t:
        loops.update({"t[key]": subscript,
                      "C shmkv_get": lambda: shmkv._shmkv._c_get_loop(t, keys)})
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(rounds):
        for name, loop in loops.items():
            loop()
            start = time.perf_counter()
            loop()
            best[name] = min(best[name], time.perf_counter() - start)
    if t:
        t.close()
    ns = {name: b / len(keys) * 1e9 for name, b in best.items()}
    return {name: v - (0 if name == "C shmkv_get" else ns["loop"])
            for name, v in ns.items() if name != "loop"}


# ---- the report ----------------------------------------------------------------

def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "%s, %d CPUs, %s, Python %s (%s)" % (cpu, os.cpu_count(), platform.platform(),
                                              platform.python_version(), sys.executable)


def fmt(rate):
    return "%.0f k" % (rate / 1e3) if rate >= 1e4 else "%.1f k" % (rate / 1e3)


def report(rows, skipped, hot, args):
    print("## Python: shmkv next to other shared stores\n")
    print("Machine: %s" % machine())
    print("Keys: %d of %d bytes, values %d bytes; operations/s summed over the processes,"
          " median of %d runs of %.1f s.\n" % (args.keys, len(b"key:00000000"), args.value,
                                               args.runs, args.seconds))
    print("| system | get, 1 proc | get, 2 procs | set, 1 proc | set, 2 procs |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        cells = [fmt(row[k]) if k in row else "-" for k in
                 (("get", 1), ("get", 2), ("set", 1), ("set", 2))]
        print("| %s | %s |" % (name, " | ".join(cells)))
    for name, why in skipped.items():
        print("| %s | %s | | | |" % (name, why))
    base = rows.get("shmkv")
    if base:
        print("\nshmkv's get rate as a multiple of each peer's (1 proc / 2 procs):\n")
        for name, row in rows.items():
            if name != "shmkv":
                print("- %s: %.1fx / %.1fx" % (name, base["get", 1] / row["get", 1],
                                               base["get", 2] / row["get", 2]))
    print("\nOne get of a key in the CPU caches (ns; best of %d passes over 1000 keys,"
          " the loop's own time taken off):\n" % args.rounds)
    print("| " + " | ".join("shmkv Table.get" if n == "shmkv" else n for n in hot) + " |")
    print("|" + "---:|" * len(hot))
    print("| " + " | ".join("%.0f" % v for v in hot.values()) + " |")
    if "shmkv" in hot:
        added = hot["shmkv"] - hot["C shmkv_get"]
        print("\nTable.get takes %.0f ns beyond the C get: %.1fx a dict.get.  shmkv's hot get"
              " as a multiple of each peer's speed:\n" % (added, added / hot["dict.get"]))
        for name in rows:
            if name != "shmkv":
                print("- %s: %.1fx" % (name, hot[name] / hot["shmkv"]))
    print("\nCommand: %s" % " ".join([os.path.basename(sys.executable)] + sys.argv))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=100000, help="keys in each store (100000)")
    p.add_argument("--value", type=int, default=100, help="value size, bytes (100)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of each phase (2)")
    p.add_argument("--runs", type=int, default=3, help="runs of each phase, median (3)")
    p.add_argument("--rounds", type=int, default=50,
                   help="passes of the one-call figures, best (50)")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help="comma-separated, of: " + ", ".join(SYSTEMS))
    p.add_argument("--quick", action="store_true", help="10000 keys, one run of 0.3 s")
    args = p.parse_args()
    if args.quick:
        args.keys, args.seconds, args.runs, args.rounds = 10000, 0.3, 1, 5
    names = args.systems.split(",")
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        p.error("unknown systems: %s" % ", ".join(unknown))
    tmp = tempfile.mkdtemp(prefix="shmkv-pybench-", dir="/dev/shm")
    try:
        keys = [b"key:%08d" % i for i in range(args.keys)]
        value = os.urandom(args.value)
        systems, skipped = prepare(names, keys, value, tmp)
        try:
            rows = bench_all(systems, keys, value, args)
            hot = per_call(systems, keys, args.rounds)
        finally:
            for system in systems.values():
                system.teardown()
        report(rows, skipped, hot, args)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
