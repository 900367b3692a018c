'use strict'
// getOrSet and getOrSetAsync on leases, in one process (the cluster test
// runs them across processes).
const test = require('node:test')
const assert = require('node:assert/strict')
const { Table } = require('..')
const { tableName, shmkvError, argError } = require('./helpers')

function fresh (opts) {
  const name = tableName()
  const t = new Table(name, opts)
  return { t, name, done () { t.close(); Table.unlink(name) } }
}

test('getOrSet computes and stores on a miss, then hits', () => {
  const { t, done } = fresh()
  let calls = 0
  const compute = (key) => { calls++; return 'made from ' + key }
  assert.deepEqual(t.getOrSet('k', compute), Buffer.from('made from k'))
  assert.deepEqual(t.getOrSet('k', compute), Buffer.from('made from k'))
  assert.equal(calls, 1)
  assert.equal(t.getString('k'), 'made from k')
  assert.deepEqual(t.getOrSet('b', () => new Uint8Array([1, 2])), Buffer.from([1, 2]))
  assert.deepEqual(t.getOrSet('t', () => 'x', { ttl: 60000 }), Buffer.from('x'))
  assert.ok(t.ttl('t') > 0)
  const s = t.stats()
  assert.equal(s.leasesGranted, 3)
  assert.equal(s.leasesFilled, 3)
  done()
})

test('getOrSet: compute errors propagate; a bad result is a TypeError and stores nothing', () => {
  const { t, done } = fresh()
  assert.throws(() => t.getOrSet('k', () => { throw new Error('boom') }), /boom/)
  assert.throws(() => t.getOrSet('n', () => 42), argError(TypeError))
  assert.equal(t.has('n'), false)
  assert.throws(() => t.getOrSet('k', 'not a function'), argError(TypeError))
  assert.throws(() => t.getOrSet('k', () => 'v', { timeout: -1 }), argError(RangeError))
  done()
})

test('a waiter polls for the lease holder\'s value, then computes unstored at its timeout', () => {
  const { t, name, done } = fresh()
  const other = new Table(name)
  const lease = other._lease('k', 60000) // another caller holds the lease
  assert.equal(typeof lease, 'bigint')
  assert.notEqual(lease, 0n)
  const t0 = Date.now()
  assert.deepEqual(t.getOrSet('k', () => 'mine', { timeout: 50 }), Buffer.from('mine'))
  assert.ok(Date.now() - t0 >= 50, 'it waited')
  assert.equal(t.has('k'), false, 'a waiter does not store')
  assert.equal(other._putLeased('k', 'theirs', 0, lease), true)
  assert.deepEqual(t.getOrSet('k', () => 'mine'), Buffer.from('theirs'))
  other.close()
  done()
})

test('a write of the key voids the lease: the stale value is not stored', () => {
  const { t, done } = fresh()
  const v = t.getOrSet('k', () => {
    t.set('k', 'newer') // written while computing
    return 'stale'
  })
  assert.deepEqual(v, Buffer.from('stale'))
  assert.equal(t.getString('k'), 'newer')
  done()
})

test('a lease that lapses lets the next caller compute and store', () => {
  const { t, name, done } = fresh()
  const other = new Table(name)
  assert.notEqual(other._lease('k', 30), 0n) // its holder "dies"
  other.close()
  assert.deepEqual(t.getOrSet('k', () => 'after', { timeout: 5000 }), Buffer.from('after'))
  assert.equal(t.getString('k'), 'after')
  done()
})

test('getOrSetAsync awaits a compute that returns a promise', async () => {
  const { t, done } = fresh()
  let calls = 0
  const compute = async (key) => { calls++; await new Promise((resolve) => setTimeout(resolve, 5)); return 'async ' + key }
  const [a, b] = await Promise.all([t.getOrSetAsync('k', compute), t.getOrSetAsync('k', compute)])
  assert.deepEqual(a, Buffer.from('async k'))
  assert.deepEqual(b, Buffer.from('async k'))
  assert.equal(calls, 1, 'the second call waited for the first one\'s value')
  assert.deepEqual(await t.getOrSetAsync('k', compute), Buffer.from('async k'))
  await assert.rejects(t.getOrSetAsync('x', async () => { throw new Error('nope') }), /nope/)
  await assert.rejects(t.getOrSetAsync('x', 5), argError(TypeError))
  done()
})

test('a read-only table computes on a miss without waiting or storing', () => {
  const { t, name, done } = fresh()
  t.set('there', 'stored')
  const ro = new Table(name, { readonly: true })
  assert.deepEqual(ro.getOrSet('there', () => 'no'), Buffer.from('stored'))
  const t0 = Date.now()
  assert.deepEqual(ro.getOrSet('k', () => 'computed', { timeout: 2000 }), Buffer.from('computed'))
  assert.ok(Date.now() - t0 < 1000)
  assert.equal(t.has('k'), false)
  assert.throws(() => ro._putLeased('k', 'v', 0, 1n), shmkvError('EROFS'))
  ro.close()
  done()
})
