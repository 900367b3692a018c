"""shmkv.near: read Redis through the host's near cache.

One shmkv table per host holds copies of Redis string values for every
process of the host, and one agent per host (`shmkv-redis sync TABLE
--redis ADDR`, tools/redis) keeps it consistent with Redis's own
invalidations.  NearCache is the reader's half, docs/near-cache.md's
near_get, on a redis-py client of the caller's:

    import redis, shmkv
    from shmkv.near import NearCache
    near = NearCache(shmkv.Table("app-cache"), redis.Redis(unix_socket_path="/run/redis/redis.sock"))
    near.get("user:42")          # bytes, or None when Redis has no such key

Writes go to Redis through the client, as before: the agent learns of
them from Redis and deletes the table's copy.
"""
import math
import os
import time

from . import KEY_MAX, Error

AGENT_KEY = b"\0shmkv-redis:agent"  # the agent's record: its heartbeat and settings


class _Record:
    """The agent's record, parsed (docs/near-cache.md, "The table and the
    agent's record"): only what a reader needs."""

    __slots__ = ("max_ttl_ms", "prefixes")

    def __init__(self, max_ttl_ms, prefixes):
        self.max_ttl_ms = max_ttl_ms
        self.prefixes = prefixes

    @classmethod
    def parse(cls, text):
        """The record in text, or None when it is no record of version 1."""
        lines = text.split(b"\n")
        if lines[0] != b"shmkv-redis 1" or lines[-1] != b"":
            return None
        settings = {b"heartbeat-ms": 0, b"max-ttl-ms": 0}
        prefixes = []
        try:
            for line in lines[1:-1]:
                name, _, value = line.partition(b" ")
                if name == b"prefix":
                    prefixes.append(bytes.fromhex(value.decode("ascii")))
                    if not prefixes[-1] or value != prefixes[-1].hex().encode():
                        return None  # empty, upper case or spaced: not the agent's hex
                elif name in settings:
                    if not value.isdigit():
                        return None
                    settings[name] = int(value)
                # other lines: settings of a later agent, for readers to ignore
        except (ValueError, UnicodeDecodeError):
            return None
        if not settings[b"heartbeat-ms"]:
            return None
        return cls(settings[b"max-ttl-ms"], tuple(prefixes))

    def cacheable(self, key):
        """May a fill store key: not a reserved key (a NUL byte first), and
        under one of the agent's prefixes (any key when it has none)."""
        return key[:1] != b"\0" and (not self.prefixes or key.startswith(self.prefixes))


def _seconds(ms):
    """ms as the seconds that the binding turns back into exactly ms (it
    rounds up), None for 0 (no lifetime)."""
    return (ms - 0.5) / 1000 if ms else None


class NearCache:
    """NearCache(table, redis, *, max_ttl=None, lease=1.0, wait=0.005)

    table: the near cache's shmkv.Table (writable: fills take leases),
    the one the agent keeps.  redis: a redis-py client (redis.Redis) of
    the Redis server the agent tracks; values come back as bytes whether
    or not it decodes responses.  max_ttl (seconds, None for none): the
    longest a value this reader fills may stay, on top of the key's own
    lifetime in Redis and the agent's --max-ttl.  lease (seconds): how
    long a fill's lease lasts, enough for a Redis round trip.  wait
    (seconds): how long a miss waits for another process's fill of the
    key before reading Redis itself.

    counts: how many gets came from the table ("table"), from Redis and
    were stored for every process ("filled"), or from Redis without
    storing ("redis": no live agent, a key the agent does not track, a
    fill that lost its lease to a write, ...).

    Like the client, one NearCache serves one thread at a time unless the
    client is thread-safe (redis.Redis is: its connections come from a
    pool).  After fork(), make a new client (and NearCache) in the child.
    """

    def __init__(self, table, redis, *, max_ttl=None, lease=1.0, wait=0.005):
        if max_ttl is not None and not max_ttl > 0:
            raise ValueError("max_ttl must be more than 0 seconds, or None")
        self.table = table
        self.redis = redis
        self.max_ttl_ms = 0 if max_ttl is None else math.ceil(max_ttl * 1000)
        self.lease = lease
        self.wait = wait
        self.counts = {"table": 0, "filled": 0, "redis": 0}
        self._text = None      # the record's text as last read, and parsed
        self._record = None

    def get(self, key):
        """Redis's value of key (str keys are UTF-8), like GET: bytes, or
        None when Redis has no such key.  From the table while the agent
        is alive; else from Redis, stored for every process when the
        key's lease is this caller's.  Redis's errors (redis.ResponseError
        for a key of another type, redis.ConnectionError) are raised."""
        k = key.encode() if isinstance(key, str) else bytes(key)
        if (not k or len(k) > KEY_MAX or not self._agent_alive()
                or not ((self._record and self._record.cacheable(k)) or self._may_store(k))):
            return self._from_redis(k)
        start = time.monotonic()
        deadline = start + self.wait
        pause = 0.00005
        while True:
            try:
                value, lease = self.table._get_lease(k, self.lease)
            except Error:  # a table that fails (a lock held too long) is passed by
                return self._from_redis(k)
            if value is not None:
                self.counts["table"] += 1
                return value
            if lease:
                return self._fill(k, lease)
            # another process holds the lease (with the agent's --refresh,
            # often the agent): its fill is one round trip away.  For the
            # first 100 us give the CPU to whoever is runnable and look
            # again, as a nap would oversleep the round trip; then nap.
            now = time.monotonic()
            if now >= deadline:
                return self._from_redis(k)
            if now - start < 0.0001:
                os.sched_yield()
                continue
            time.sleep(pause)
            pause = min(pause * 2, 0.0008)

    # ---- the steps -----------------------------------------------------------

    def _agent_alive(self):
        """The agent's heartbeat is in the table (a ttl call counts as no read)."""
        try:
            self.table.ttl(AGENT_KEY)
        except KeyError:
            return False
        return True

    def _may_store(self, k):
        """May k be stored, by the record in the table now (read again only
        when its text changed)."""
        text = self.table.get(AGENT_KEY)
        if text != self._text:
            self._text, self._record = text, None if text is None else _Record.parse(text)
        return self._record is not None and self._record.cacheable(k)

    def _from_redis(self, k):
        self.counts["redis"] += 1
        value = self.redis.get(k)
        return value.encode() if isinstance(value, str) else value

    def _give_up(self, k):
        """Void the lease (a delete) so that others need not wait it out."""
        try:
            del self.table[k]
        except (KeyError, Error):  # absent: the delete voided the lease all the same
            pass

    def _fill(self, k, lease):
        # The record again: a new agent may track other prefixes.
        if not self._may_store(k):
            self._give_up(k)
            return self._from_redis(k)
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(k)
        pipe.pttl(k)
        t0 = time.monotonic()
        try:
            value, pttl = pipe.execute(raise_on_error=False)
        except BaseException:
            self._give_up(k)
            raise
        if value is None or isinstance(value, Exception):
            self._give_up(k)
            self.counts["redis"] += 1
            if value is None:
                return None
            raise value
        if isinstance(value, str):
            value = value.encode()
        ttl_ms = self._ttl_ms(pttl, t0)  # just before the store: it counts from there
        stored = False
        if ttl_ms is None:
            self._give_up(k)
        else:
            try:
                stored = self.table._put_leased(k, value, lease, ttl=_seconds(ttl_ms))
            except Error:  # too large for the table, say: nobody else is to wait for it
                self._give_up(k)
        # not stored (False): a write's invalidation voided the lease, and its
        # value is newer than this one: leave the key alone
        self.counts["filled" if stored else "redis"] += 1
        return value

    def _ttl_ms(self, pttl, t0):
        """The lifetime to store a fill with (0: none), or None not to store:
        what Redis had left for the key (pttl, asked at t0; -1 none, -2
        gone) less the time since and 1 ms for the rounding of both clocks,
        capped by the agent's --max-ttl and this reader's max_ttl."""
        if not isinstance(pttl, int) or pttl < -1:
            return None
        ttl = 0
        if pttl >= 0:
            ttl = pttl - math.ceil((time.monotonic() - t0) * 1000) - 1
            if ttl <= 0:
                return None
        for cap in (self._record.max_ttl_ms, self.max_ttl_ms):
            if cap and (not ttl or ttl > cap):
                ttl = cap
        return ttl
