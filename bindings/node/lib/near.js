'use strict'
// NearCache: read Redis through the host's near cache (docs/near-cache.md).
// One table per host, kept consistent with Redis by one agent
// (`shmkv-redis sync`, tools/redis), holds copies of Redis's string values
// for every process of the host; this is the reader's half, the protocol's
// near_get step by step, on an ioredis client of the caller's:
//
//   1. trust the table only while the agent's record (its heartbeat) is there;
//   2. keys the record's prefixes do not cover go to Redis;
//   3. a hit is the answer; a miss takes the key's lease (another caller's
//      lease: wait a few ms for its fill, then Redis);
//   4. with the lease: the record again, then GET and PTTL in one pipeline,
//      then the store under the lease with Redis's lifetime, capped.  A
//      write whose invalidation the agent applies in between voids the
//      lease, so the value read before it is never stored.
const { setTimeout: delay } = require('timers/promises')
const native = require('./native')
const { asBuffer, options, integer, typeError } = require('./args')
const { fromScratch } = require('./scratch')

const AGENT_KEY = Buffer.from('\0shmkv-redis:agent', 'latin1')
const FIRST_PAUSE_MS = 1
const YIELD_MS = 0.1

function startsWith (key, prefix) {
  return key.length >= prefix.length && key.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
}

// The agent's record (its text, a Buffer), parsed: what a reader needs;
// null when it is no record of version 1.  Lines of other names are a
// later agent's settings, ignored.
function parseRecord (text) {
  const lines = text.toString('latin1').split('\n')
  if (lines[0] !== 'shmkv-redis 1' || lines.pop() !== '') return null
  const record = { heartbeatMs: 0, maxTtlMs: 0, prefixes: [] }
  for (const line of lines.slice(1)) {
    const sp = line.indexOf(' ')
    const name = sp < 0 ? line : line.slice(0, sp)
    const value = sp < 0 ? '' : line.slice(sp + 1)
    if (name === 'prefix') {
      if (!/^(?:[0-9a-f]{2})+$/.test(value)) return null
      record.prefixes.push(Buffer.from(value, 'hex'))
    } else if (name === 'heartbeat-ms' || name === 'max-ttl-ms') {
      if (!/^[0-9]+$/.test(value)) return null
      record[name === 'heartbeat-ms' ? 'heartbeatMs' : 'maxTtlMs'] = Number(value)
    }
  }
  return record.heartbeatMs ? record : null
}

// May a fill store key under record: not a reserved key (a NUL byte first),
// and under one of its prefixes (any key when it has none).
function cacheable (record, key) {
  return key[0] !== 0 && (record.prefixes.length === 0 || record.prefixes.some((p) => startsWith(key, p)))
}

// An error of the table (it has the library's negative errno), not of Redis.
function isShmkvError (e) {
  return e instanceof Error && typeof e.errno === 'number' && e.errno < 0 && typeof e.syscall === 'string'
}

class NearCache {
  /** The agent's record's key: its heartbeat and settings. */
  static AGENT_KEY = AGENT_KEY

  #table
  #redis
  #keyPrefix
  #text = null // the record's text as last read, and parsed
  #record = null

  /**
   * table: the near cache's Table (writable: fills take leases); redis: an
   * ioredis client of the Redis the agent tracks (its keyPrefix applies).
   * opts: maxTtl (ms, 0: none), the longest a value this reader fills may
   * stay on top of Redis's own lifetime and the agent's --max-ttl;
   * leaseMs (default 1000), how long a fill's lease lasts; waitMs
   * (default 5), how long a miss waits for another caller's fill.
   */
  constructor (table, redis, opts) {
    if (table === null || typeof table !== 'object' || typeof table._lease !== 'function') {
      throw typeError('table must be a shmkv Table')
    }
    if (redis === null || typeof redis !== 'object' || typeof redis.pipeline !== 'function' ||
        typeof redis.getBuffer !== 'function') {
      throw typeError('redis must be an ioredis client (Redis or Cluster)')
    }
    const o = options(opts)
    this.#table = table
    this.#redis = redis
    this.#keyPrefix = Buffer.from((redis.options && redis.options.keyPrefix) || '')
    this.maxTtl = integer(o.maxTtl, 'maxTtl', 0, native.TTL_MAX)
    this.leaseMs = o.leaseMs === undefined ? 1000 : integer(o.leaseMs, 'leaseMs', 1, native.TTL_MAX)
    this.waitMs = o.waitMs === undefined ? 5 : integer(o.waitMs, 'waitMs', 0, native.TTL_MAX)
    /** Where the gets came from: the table; Redis, stored; Redis, not stored. */
    this.counts = { table: 0, filled: 0, redis: 0 }
  }

  /**
   * Redis's value of key, like GET: a promise of a Buffer, or of null when
   * Redis has no such key.  Redis's errors reject it (after the lease is
   * given back).
   */
  async get (key) {
    const rk = asBuffer(key, 'key must be') // as the client sends it
    const k = this.#keyPrefix.length ? Buffer.concat([this.#keyPrefix, rk]) : rk // as Redis names it
    if (k.length === 0 || k.length > native.KEY_MAX || !this.#agentAlive() ||
        !((this.#record && cacheable(this.#record, k)) || this.#mayStore(k))) {
      return this.#fromRedis(rk)
    }
    const start = performance.now()
    const deadline = start + this.waitMs
    for (;;) {
      let r
      try {
        r = this.#table._lease(k, this.leaseMs)
      } catch (e) {
        if (!isShmkvError(e)) throw e
        return this.#fromRedis(rk) // a table that fails (a lock held too long) is passed by
      }
      if (typeof r !== 'bigint') {
        this.counts.table++
        return fromScratch(r)
      }
      if (r !== 0n) return this.#fill(k, rk, r)
      // another caller holds the lease (with the agent's --refresh, often
      // the agent): its fill is one round trip away.  For the first
      // YIELD_MS let the event loop turn and look again, as the shortest
      // timer (1 ms) would oversleep the round trip; then wait on timers.
      const now = performance.now()
      if (now >= deadline) return this.#fromRedis(rk)
      await (now - start < YIELD_MS ? new Promise(setImmediate) : delay(FIRST_PAUSE_MS))
    }
  }

  // The agent's heartbeat is in the table (a ttl call counts as no read).
  #agentAlive () {
    return this.#table.ttl(AGENT_KEY) !== undefined
  }

  // May k be stored, by the record in the table now (parsed again only
  // when its text changed)?
  #mayStore (k) {
    const text = this.#table.get(AGENT_KEY) || null
    const same = text === null ? this.#text === null : this.#text !== null && text.equals(this.#text)
    if (!same) {
      this.#text = text
      this.#record = text && parseRecord(text)
    }
    return this.#record !== null && cacheable(this.#record, k)
  }

  async #fromRedis (rk) {
    this.counts.redis++
    return this.#redis.getBuffer(rk)
  }

  // Void the lease (a delete) so that others need not wait it out.
  #giveUp (k) {
    try {
      this.#table.delete(k)
    } catch (e) {
      if (!isShmkvError(e)) throw e
    }
  }

  async #fill (k, rk, lease) {
    if (!this.#mayStore(k)) { // a new agent may track other prefixes
      this.#giveUp(k)
      return this.#fromRedis(rk)
    }
    const t0 = performance.now()
    let answers
    try {
      answers = await this.#redis.pipeline().getBuffer(rk).pttl(rk).exec()
    } catch (e) {
      this.#giveUp(k)
      throw e
    }
    const [[error, value], [, pttl]] = answers
    if (error || value === null) {
      this.#giveUp(k)
      this.counts.redis++
      if (error) throw error
      return null
    }
    const ttl = this.#ttlMs(pttl, t0) // just before the store: it counts from there
    let stored = false
    if (ttl < 0) {
      this.#giveUp(k)
    } else {
      try {
        // false: a write's invalidation voided the lease, and its value is
        // newer than this one: the key is left alone
        stored = this.#table._putLeased(k, value, ttl, lease)
      } catch (e) {
        if (!isShmkvError(e)) throw e
        this.#giveUp(k) // too large for the table, say: nobody is to wait for it
      }
    }
    this.counts[stored ? 'filled' : 'redis']++
    return value
  }

  // The lifetime to store a fill with (0: none), or -1 not to store: what
  // Redis had left for the key (pttl, asked at t0; -1 none, -2 gone) less
  // the time since and 1 ms for the rounding of both clocks, capped by the
  // agent's --max-ttl and this reader's maxTtl.
  #ttlMs (pttl, t0) {
    if (typeof pttl !== 'number' || pttl < -1) return -1
    let ttl = 0
    if (pttl >= 0) {
      ttl = pttl - Math.ceil(performance.now() - t0) - 1
      if (ttl <= 0) return -1
    }
    for (const cap of [this.#record.maxTtlMs, this.maxTtl]) {
      if (cap && (!ttl || ttl > cap)) ttl = cap
    }
    return ttl
  }
}

module.exports = { NearCache, AGENT_KEY }
