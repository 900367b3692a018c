'use strict'
// shmkv for Node.js: one table in shared memory for every process of a
// cluster and every worker thread.  Table extends the addon's NativeTable:
// the calls that must be fast (getString, has, delete, take, append, ttl,
// size, ...) are its native methods as they are; the methods below check
// their options here, where it is cheap, and pass them on positionally, or
// make Buffers here, where it is cheap too.
const native = require('./lib/native')
const args = require('./lib/args')
const lease = require('./lib/lease')
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
}

module.exports = {
  Table,
  KEY_MAX: native.KEY_MAX,
  VAL_MAX: native.VAL_MAX,
  TTL_MAX: native.TTL_MAX,
  MIN_BYTES: native.MIN_BYTES,
  version: native.version
}
