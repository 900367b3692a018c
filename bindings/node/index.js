'use strict'
// shmkv for Node.js: one table in shared memory for every process of a
// cluster and every worker thread.  Table extends the addon's NativeTable:
// the calls that must be fast (getString, has, delete, take, append, ttl,
// size, llen, ...) are its native methods as they are; the methods below check
// their options here, where it is cheap, and pass them on positionally, or
// make Buffers here, where it is cheap too.
const native = require('./lib/native')
const args = require('./lib/args')
const lease = require('./lib/lease')
const { NearCache } = require('./lib/near')
const { scratch, fromScratch, cut } = require('./lib/scratch')

const { NativeTable } = native

function openFlags (o) {
  let flags = 0
  if (o.create === undefined || args.bool(o.create, 'create')) flags |= native.CREATE
  if (args.bool(o.exclusive, 'exclusive')) flags |= native.EXCL
  if (args.bool(o.readonly, 'readonly')) flags |= native.RDONLY
  if (args.bool(o.stats, 'stats')) flags |= native.STATS
  if (args.bool(o.cache, 'cache')) flags |= native.CACHE
  if ((flags & native.EXCL) && !(flags & native.CREATE)) {
    throw args.typeError('exclusive needs create', 'ERR_INVALID_ARG_VALUE')
  }
  return flags
}

function maxBytes (v) {
  const n = args.integer(v, 'maxBytes', 0, 2 ** 41, true)
  if (n > 0 && n < native.MIN_BYTES) {
    throw args.rangeError(`maxBytes must be 0 or at least ${native.MIN_BYTES}; got ${n}`)
  }
  return n
}

function putFlags (o) {
  let flags = 0
  if (args.bool(o.ifAbsent, 'ifAbsent')) flags |= native.IF_ABSENT
  if (args.bool(o.ifPresent, 'ifPresent')) flags |= native.IF_PRESENT
  if (o.ifEqual !== undefined) flags |= native.IF_EQUAL
  if (args.bool(o.keepTtl, 'keepTtl')) flags |= native.KEEP_TTL
  if ((flags & native.IF_ABSENT) && (flags & (native.IF_PRESENT | native.IF_EQUAL))) {
    throw args.typeError('ifAbsent cannot go with ifPresent or ifEqual', 'ERR_INVALID_ARG_VALUE')
  }
  return flags
}

class Table extends NativeTable {
  #name
  #readonly

  /**
   * Opens (by default creates) the table `name`: a file in $SHMKV_DIR or
   * /dev/shm, or a path when the name has a '/'.
   */
  constructor (name, opts) {
    const o = args.options(opts)
    const flags = openFlags(o)
    super(name, flags, args.integer(o.mode, 'mode', 0, 0o7777), maxBytes(o.maxBytes),
      args.integer(o.expectedKeys, 'expectedKeys', 0, Number.MAX_SAFE_INTEGER), scratch)
    this.#name = name
    this.#readonly = (flags & native.RDONLY) !== 0
  }

  get name () { return this.#name }
  get readonly () { return this.#readonly }

  /** The value as a Buffer; undefined if absent. */
  get (key) {
    return fromScratch(this._get(key))
  }

  /** Stores the pair; false when a condition (ifAbsent, ifPresent, ifEqual) fails. */
  set (key, value, opts) {
    if (opts === undefined) return this._put(key, value, 0, 0)
    const o = args.options(opts)
    const flags = putFlags(o)
    const ms = args.ttl(o.ttl)
    if ((flags & native.KEEP_TTL) && ms !== 0) {
      throw args.typeError('keepTtl cannot go with a ttl', 'ERR_INVALID_ARG_VALUE')
    }
    return this._put(key, value, flags, ms, o.ifEqual)
  }

  /** Stores the pair only if the key is absent; false if it is there. */
  add (key, value, opts) {
    return this._put(key, value, native.IF_ABSENT, args.ttlOption(opts))
  }

  /** Stores the pair only if the key is present; false if it is absent. */
  replace (key, value, opts) {
    return this._put(key, value, native.IF_PRESENT, args.ttlOption(opts))
  }

  /** Adds delta to the decimal integer at key (absent: 0); the new value. */
  incr (key, delta = 1, opts) {
    return this._incr(key, delta, args.ttlOption(opts))
  }

  /** Gives the pair a new lifetime (0: none); false if the key is absent. */
  expire (key, ttl) {
    if (ttl === undefined) throw args.typeError('expire needs a ttl (ms; 0: never expires)')
    return this._expire(key, args.ttl(ttl))
  }

  /** The values of the keys (Buffers, undefined where absent), in one batch. */
  getMany (keys) {
    const r = this._getMany(args.list(keys, 'keys'))
    return cut(r[0], r, 1)
  }

  /** Stores the pairs in one batch; the number stored. */
  setMany (entries, opts) {
    return this._putMany(args.flatEntries(entries), args.ttlOption(opts))
  }

  /** The value, computed by compute(key) and stored by one caller only on a miss. */
  getOrSet (key, compute, opts) {
    return lease.getOrSet(this, key, compute, opts)
  }

  /** getOrSet for a compute that returns a promise: a promise of the value. */
  getOrSetAsync (key, compute, opts) {
    return lease.getOrSetAsync(this, key, compute, opts)
  }

  /** [key, value] of every pair (Buffers), a piece of the table at a time. */
  * entries () {
    let cursor = 0n
    do {
      const piece = this._scan(cursor)
      cursor = piece[0]
      const parts = cut(piece[1], piece, 2)
      for (let i = 0; i < parts.length; i += 2) yield [parts[i], parts[i + 1]]
    } while (cursor !== 0n)
  }

  * keys () {
    for (const [k] of this.entries()) yield k
  }

  * values () {
    for (const [, v] of this.entries()) yield v
  }

  [Symbol.iterator] () {
    return this.entries()
  }

  // ---- lists and queues: ends 'head' and 'tail'; waits in ms ----

  /**
   * Adds value at an end (default 'tail') of the list at key, made if absent: true.  With maxLen,
   * only while the list holds fewer than maxLen elements: false (nothing pushed) when it is full.
   * Never waits.
   */
  push (key, value, opts) {
    if (opts === undefined) return this._push(key, value, native.TAIL)
    const o = args.noWait(args.options(opts), 'push')
    return this._push(key, value, args.end(o.end, 'end', native.TAIL), maxLen(o.maxLen, 1))
  }

  /** Pushes the values in one step, all or nothing (at the head they end up reversed); maxLen as push's. */
  pushMany (key, values, opts) {
    if (opts === undefined) return this._pushMany(key, args.list(values, 'values'), native.TAIL)
    const o = args.noWait(args.options(opts), 'pushMany')
    const e = args.end(o.end, 'end', native.TAIL)
    const v = args.list(values, 'values')
    return this._pushMany(key, v, e, maxLen(o.maxLen, v.length))
  }

  /** Removes and returns the element at an end (default 'head'); undefined if none. Never waits. */
  pop (key, opts) {
    const o = args.noWait(args.options(opts), 'pop')
    return fromScratch(this._pop(key, args.end(o.end, 'end', native.HEAD)))
  }

  /** Up to count elements from an end at once, in the order they come off; [] if none. */
  popMany (key, count, opts) {
    const o = args.noWait(args.options(opts), 'popMany')
    const r = this._popMany(key, args.end(o.end, 'end', native.HEAD), popCount(count))
    return cut(r[0], r, 1)
  }

  /** Pops element from src onto dst atomically (default head to tail); undefined if src is empty. */
  move (src, dst, opts) {
    const o = args.noWait(args.options(opts), 'move')
    return fromScratch(this._move(src, dst, args.end(o.from, 'from', native.HEAD), args.end(o.to, 'to', native.TAIL)))
  }

  /** pop that waits up to timeout ms (default: for ever) on the thread pool: a promise. */
  async popAsync (key, opts) {
    const o = args.options(opts)
    const e = args.end(o.end, 'end', native.HEAD)
    const ms = args.timeout(o.timeout)
    const v = fromScratch(this._pop(key, e))
    if (v !== undefined || ms === 0) return v
    const r = await waiting((slice) => this._popWait(key, e, 1, slice), ms)
    return r.length > 1 ? r[0] : undefined
  }

  /** popMany that waits as popAsync for the first element. */
  async popManyAsync (key, count, opts) {
    const o = args.options(opts)
    const e = args.end(o.end, 'end', native.HEAD)
    const n = popCount(count)
    const ms = args.timeout(o.timeout)
    let r = this._popMany(key, e, n)
    if (r.length === 1 && ms !== 0) r = await waiting((slice) => this._popWait(key, e, n, slice), ms)
    return cut(r[0], r, 1)
  }

  /** move that waits as popAsync for an element in src. */
  async moveAsync (src, dst, opts) {
    const o = args.options(opts)
    const from = args.end(o.from, 'from', native.HEAD)
    const to = args.end(o.to, 'to', native.TAIL)
    const ms = args.timeout(o.timeout)
    const v = fromScratch(this._move(src, dst, from, to))
    if (v !== undefined || ms === 0) return v
    const r = await waiting((slice) => this._moveWait(src, dst, from, to, slice), ms)
    return r.length > 1 ? r[0] : undefined
  }

  /** push bounded by maxLen (needed) that waits as popAsync for room: a promise of true, or false. */
  async pushAsync (key, value, opts) {
    return pushWaiting(this, key, [value], args.options(opts))
  }

  /** pushMany bounded by maxLen (needed) that waits as popAsync for room for all the values. */
  async pushManyAsync (key, values, opts) {
    return pushWaiting(this, key, args.list(values, 'values'), args.options(opts))
  }

  /** The elements from index start to stop, both included (negative: from the tail), not removed. */
  lrange (key, start, stop) {
    const r = this._lrange(key, args.index(start, 'start', 0), args.index(stop, 'stop', -1))
    return cut(r[0], r, 1)
  }

  /** [key, elements] of every list (Buffers), a piece of the table at a time. */
  * lists () {
    let cursor = 0n
    do {
      const piece = this._scanLists(cursor)
      cursor = piece[0]
      const bytes = piece[1]
      for (let i = 2, at = 0; i < piece.length;) {
        const key = bytes.subarray(at, at += piece[i])
        const elements = new Array(piece[i + 1])
        i += 2
        for (let j = 0; j < elements.length; j++) elements[j] = bytes.subarray(at, at += piece[i++])
        yield [key, elements]
      }
    } while (cursor !== 0n)
  }
}

// A wait of ms (-1: for ever) as waits of a slice at most on the thread
// pool, one after the other (src/lists.cc says why): wait(sliceMs) gives
// a promise of a result, which done(result) tells final: by default
// [Buffer, lengths...], with no lengths if nothing came.
const WAIT_SLICE_MS = 250

async function waiting (wait, ms, done = (r) => r.length > 1) {
  const end = ms < 0 ? Infinity : performance.now() + ms
  for (;;) {
    const left = end - performance.now()
    const r = await wait(Math.max(0, Math.min(WAIT_SLICE_MS, Math.ceil(left))))
    if (done(r) || left <= WAIT_SLICE_MS) return r
  }
}

// pushAsync and pushManyAsync: a push at once when there is room, else
// the waits of a push of copies of the values (a view's bytes copied now:
// what is pushed is what was passed, even if the caller changes or
// transfers its buffer meanwhile; strings never change).
async function pushWaiting (t, key, values, o) {
  const e = args.end(o.end, 'end', native.TAIL)
  if (o.maxLen === undefined) throw args.typeError('maxLen must be a number; got undefined')
  const max = maxLen(o.maxLen, values.length)
  const ms = args.timeout(o.timeout)
  const pushed = t._pushMany(key, values, e, max)
  if (pushed || ms === 0) return pushed
  const kept = values.map(keep)
  return waiting((slice) => t._pushWait(key, kept, e, max, slice), ms, (r) => r)
}

function popCount (count) {
  if (count === undefined) throw args.typeError('count must be a number; got undefined')
  return args.integer(count, 'count', 1, Number.MAX_SAFE_INTEGER)
}

// A bounded push's maxLen: 0 (none) if undefined; else an integer from 1
// that the n values fit (more would never fit: the library's EINVAL).
function maxLen (v, n) {
  if (v === undefined) return 0
  const max = args.integer(v, 'maxLen', 1, Number.MAX_SAFE_INTEGER)
  if (n > max) throw args.rangeError(`${n} values can never fit in a list of maxLen ${max}`)
  return max
}

// A value as it is now: a view's bytes copied (none if it was detached),
// a string as it is.
function keep (v) {
  if (!ArrayBuffer.isView(v)) return v
  return v.byteLength ? Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) : Buffer.alloc(0)
}

module.exports = {
  Table,
  NearCache,
  KEY_MAX: native.KEY_MAX,
  VAL_MAX: native.VAL_MAX,
  TTL_MAX: native.TTL_MAX,
  MIN_BYTES: native.MIN_BYTES,
  version: native.version
}
