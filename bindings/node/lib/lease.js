'use strict'
// getOrSet on the library's leases: of all the processes and threads that
// miss one key at once, one is granted its lease, computes the value and
// stores it (unless a write of the key came in between: then its value is
// stale and is not stored); the others poll the table until the value is
// there.  A waiter that has waited `timeout` ms computes the value itself
// without storing it, and one whose lease holder died gets the lease when
// it lapses (`leaseMs`).  A read-only table cannot store: a miss computes.
//
// The protocol is a generator of steps, COMPUTE or a pause in ms, that a
// synchronous driver (getOrSet) and an asynchronous one (getOrSetAsync,
// for compute functions returning promises) both run.
const { setTimeout: delay } = require('timers/promises')
const { asBuffer, options, integer, ttl, typeError } = require('./args')
const { fromScratch } = require('./scratch')

const COMPUTE = Symbol('compute')
const FIRST_PAUSE_MS = 1
const LONGEST_PAUSE_MS = 20

function leaseOptions (compute, opts) {
  if (typeof compute !== 'function') throw typeError(`compute must be a function; got ${typeof compute}`)
  const o = options(opts)
  return {
    ttl: ttl(o.ttl),
    leaseMs: integer(o.leaseMs, 'leaseMs', 0, 2 ** 46), // 0: the library's 10 s
    timeout: o.timeout === undefined ? 5000 : integer(o.timeout, 'timeout', 0, 2 ** 46)
  }
}

function * steps (table, key, o) {
  let deadline = 0
  let pause = FIRST_PAUSE_MS
  for (;;) {
    const r = table._lease(key, o.leaseMs)
    if (typeof r !== 'bigint') return fromScratch(r) // a hit
    if (r !== 0n) { // ours to fill
      const value = asBuffer(yield COMPUTE)
      table._putLeased(key, value, o.ttl, r)
      return value
    }
    const now = Date.now()
    if (deadline === 0) deadline = now + o.timeout
    if (table.readonly || now >= deadline) return asBuffer(yield COMPUTE)
    yield pause
    pause = Math.min(2 * pause, LONGEST_PAUSE_MS)
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))

function getOrSet (table, key, compute, opts) {
  const it = steps(table, key, leaseOptions(compute, opts))
  for (let s = it.next(); ;) {
    if (s.done) return s.value
    if (s.value === COMPUTE) s = it.next(compute(key))
    else s = it.next(Atomics.wait(sleeper, 0, 0, s.value))
  }
}

async function getOrSetAsync (table, key, compute, opts) {
  const it = steps(table, key, leaseOptions(compute, opts))
  for (let s = it.next(); ;) {
    if (s.done) return s.value
    if (s.value === COMPUTE) s = it.next(await compute(key))
    else s = it.next(await delay(s.value))
  }
}

module.exports = { getOrSet, getOrSetAsync }
