'use strict'
// Bad arguments throw TypeError or RangeError (with Node's codes) and
// change nothing; no argument, however odd, crashes the process.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Table, KEY_MAX } = require('..')
const { NativeTable } = require('../lib/native')
const { tableName, rng, argError } = require('./helpers')

const name = tableName()
const t = new Table(name)
test.after(() => { t.close(); Table.unlink(name) })

const notBytes = [undefined, null, 1, 1n, true, Symbol('s'), {}, [], [1, 2], () => 'k', new Date(), new ArrayBuffer(4)]

test('a key must be a string, Buffer or view', () => {
  for (const bad of notBytes) {
    for (const call of [(k) => t.get(k), (k) => t.getString(k), (k) => t.has(k), (k) => t.set(k, 'v'),
      (k) => t.delete(k), (k) => t.take(k), (k) => t.incr(k), (k) => t.append(k, 'v'), (k) => t.ttl(k),
      (k) => t.expire(k, 1), (k) => t.getMany([k]), (k) => t.setMany([[k, 'v']]),
      (k) => t.getOrSet(k, () => 'v')]) {
      assert.throws(() => call(bad), argError(TypeError), String(call))
    }
  }
  assert.equal(t.size, 0)
})

test('a key must be 1 to KEY_MAX bytes, counted in UTF-8', () => {
  for (const bad of ['', Buffer.alloc(0), new Uint8Array(0), 'x'.repeat(KEY_MAX + 1), Buffer.alloc(KEY_MAX + 1),
    'é'.repeat(KEY_MAX / 2 + 1) /* 65536 bytes in 32768 characters */]) {
    for (const call of [() => t.get(bad), () => t.set(bad, 'v'), () => t.delete(bad), () => t.getMany([bad])]) {
      assert.throws(call, argError(RangeError))
    }
  }
  assert.equal(t.set('x'.repeat(KEY_MAX), 'longest'), true)
  assert.equal(t.getString(Buffer.alloc(KEY_MAX, 'x')), 'longest')
  t.clear()
})

test('a value must be a string, Buffer or view', () => {
  for (const bad of notBytes) {
    for (const call of [(v) => t.set('k', v), (v) => t.add('k', v), (v) => t.replace('k', v),
      (v) => t.append('k', v), (v) => t.setMany([['k', v]]), (v) => t.set('k', 'v', { ifEqual: v })]) {
      if (bad === undefined && String(call).includes('ifEqual')) continue // no condition
      assert.throws(() => call(bad), argError(TypeError), `${String(call)} with ${typeof bad}`)
    }
  }
  assert.equal(t.size, 0)
})

test('lifetimes must be integers from 0 to TTL_MAX ms', () => {
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 47]) {
    assert.throws(() => t.set('k', 'v', { ttl: bad }), argError(RangeError))
    assert.throws(() => t.expire('k', bad), argError(RangeError))
    assert.throws(() => t.incr('k', 1, { ttl: bad }), argError(RangeError))
    assert.throws(() => t.setMany([['k', 'v']], { ttl: bad }), argError(RangeError))
  }
  for (const bad of ['5', null, {}, 5n]) {
    assert.throws(() => t.set('k', 'v', { ttl: bad }), argError(TypeError))
    assert.throws(() => t.expire('k', bad), argError(TypeError))
  }
  assert.throws(() => t.expire('k'), argError(TypeError))
  assert.equal(t.size, 0)
})

test('options must be objects of the right types, and agree', () => {
  for (const bad of [null, 5, 'x', true]) {
    assert.throws(() => t.set('k', 'v', bad), argError(TypeError))
    assert.throws(() => t.add('k', 'v', bad), argError(TypeError))
    assert.throws(() => t.incr('k', 1, bad), argError(TypeError))
    assert.throws(() => t.getOrSet('k', () => 'v', bad), argError(TypeError))
  }
  assert.throws(() => t.set('k', 'v', { ifAbsent: 1 }), argError(TypeError))
  assert.throws(() => t.set('k', 'v', { keepTtl: 'yes' }), argError(TypeError))
  assert.throws(() => t.set('k', 'v', { ifAbsent: true, ifPresent: true }), argError(TypeError))
  assert.throws(() => t.set('k', 'v', { ifAbsent: true, ifEqual: 'v' }), argError(TypeError))
  assert.throws(() => t.set('k', 'v', { keepTtl: true, ttl: 5 }), argError(TypeError))
  assert.equal(t.size, 0)
})

test('incr deltas: safe integers or int64 bigints', () => {
  for (const bad of [1.5, 2 ** 53, -(2 ** 53), NaN, Infinity, 2n ** 63n, -(2n ** 63n) - 1n]) {
    assert.throws(() => t.incr('n', bad), argError(RangeError))
  }
  for (const bad of ['1', null, {}, true]) assert.throws(() => t.incr('n', bad), argError(TypeError))
  assert.equal(t.has('n'), false)
})

test('batches must be iterables of keys or pairs', () => {
  for (const bad of [5, 'abc', null, undefined, true]) assert.throws(() => t.getMany(bad), argError(TypeError))
  for (const bad of [5, 'abc', null, undefined, [1], [null], ['ab']]) {
    assert.throws(() => t.setMany(bad), argError(TypeError), String(bad))
  }
  assert.throws(() => t.setMany([['ok', '1'], [5, 'v']]), argError(TypeError))
  assert.equal(t.has('ok'), false, 'a bad pair stops the batch before any write')
})

test('open arguments', () => {
  for (const bad of [undefined, 5, null, {}]) assert.throws(() => new Table(bad), argError(TypeError))
  for (const bad of ['', 'a\0b']) assert.throws(() => new Table(bad), argError(TypeError))
  for (const bad of [null, 5, 'x']) assert.throws(() => new Table(tableName(), bad), argError(TypeError))
  for (const opt of ['create', 'exclusive', 'readonly', 'cache', 'stats']) {
    assert.throws(() => new Table(tableName(), { [opt]: 'yes' }), argError(TypeError))
  }
  assert.throws(() => new Table(tableName(), { create: false, exclusive: true }), argError(TypeError))
  for (const bad of [1000, 2 ** 42, -1, 1.5, 2n ** 70n]) {
    assert.throws(() => new Table(tableName(), { maxBytes: bad }), argError(RangeError))
  }
  assert.throws(() => new Table(tableName(), { maxBytes: '1M' }), argError(TypeError))
  assert.throws(() => new Table(tableName(), { mode: -1 }), argError(RangeError))
  assert.throws(() => new Table(tableName(), { mode: 0o10000 }), argError(RangeError))
  assert.throws(() => new Table(tableName(), { expectedKeys: -5 }), argError(RangeError))
  for (const bad of [5, null, '']) assert.throws(() => Table.unlink(bad), argError(TypeError))
})

test('the native class checks its own arguments and its receiver', () => {
  const scratch = Buffer.alloc(64)
  assert.throws(() => new NativeTable(tableName(), 1, 0, 0, 0), argError(TypeError)) // no scratch
  assert.throws(() => new NativeTable(tableName(), 'flags', 0, 0, 0, scratch), argError(TypeError))
  assert.throws(() => new NativeTable(tableName(), 1, -1, 0, 0, scratch), argError(RangeError))
  assert.throws(() => NativeTable(tableName()), TypeError)
  assert.throws(() => Table.prototype.get.call({}, 'k'))
  assert.throws(() => Table.prototype.get.call(undefined, 'k'))
  assert.throws(() => Object.getOwnPropertyDescriptor(NativeTable.prototype, 'size').get.call({}))
  assert.throws(() => t._scan(5), argError(TypeError))
  assert.throws(() => t._scan(12345678901234n))
  assert.throws(() => t._putLeased('k', 'v', 0, 'lease'), argError(TypeError))
  assert.throws(() => t._putLeased('k', 'v', 0, -1n), argError(RangeError))
  assert.throws(() => t._putLeased('k', 'v', 0, 0n)) // EINVAL from the library
  assert.throws(() => t._put('k', 'v', 1 << 20), /EINVAL/)
})

test('user code run while converting arguments cannot pull the table away', () => {
  const name2 = tableName()
  const u = new Table(name2)
  const keys = ['a', 'b']
  Object.defineProperty(keys, 1, { get () { u.close(); return 'b' } })
  assert.throws(() => u.getMany(keys), /EBADF/)
  const v = new Table(name2)
  const detachLater = new Uint8Array(new ArrayBuffer(4))
  const pairs = [['a', detachLater], ['b', 'x']]
  Object.defineProperty(pairs, 1, { get () { structuredClone(detachLater.buffer, { transfer: [detachLater.buffer] }); return ['b', 'x'] } })
  assert.equal(v.setMany(pairs), 2) // the detached view is empty by the time it is read
  assert.deepEqual(v.get('a'), Buffer.alloc(0))
  v.close()
  Table.unlink(name2)
})

test('random calls with odd arguments never crash and leave a sound table', () => {
  const r = rng(12345)
  const detached = new Uint8Array(new ArrayBuffer(8))
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  const odd = [...notBytes, 'k', 'k2', Buffer.from('k'), '', 'x'.repeat(70000), detached, new Float64Array([1, 2]),
    new DataView(new ArrayBuffer(3)), -1, 0, 2 ** 60, 1.5, -0, NaN, 2n ** 64n, -1n, { ttl: 5 }, { ifEqual: 5 },
    { ttl: -1 }, { ifAbsent: true }, new Map([[1, 2]]), [['k', 'v']], [[1]], new Proxy({}, {}),
    Object.create(null), new Set(['k'])]
  const methods = ['get', 'getString', 'has', 'set', 'add', 'replace', 'delete', 'take', 'incr', 'append', 'ttl',
    'expire', 'getMany', 'setMany', 'getOrSet', '_put', '_incr', '_lease', '_putLeased', '_scan', '_getMany',
    '_putMany', '_expire', '_noop', 'push', 'pushMany', 'pop', 'popMany', 'move', 'llen', 'lrange', '_push',
    '_pushMany', '_pop', '_popMany', '_move', '_lrange', '_scanLists']
  const pick = () => odd[r(odd.length)]
  for (let i = 0; i < 20000; i++) {
    const m = methods[r(methods.length)]
    const a = [pick(), pick(), pick(), pick(), pick()]
    try {
      t[m](...a)
    } catch (e) {
      assert.ok(e instanceof Error, `${m} threw ${e}`)
      assert.ok(e instanceof TypeError || e instanceof RangeError || typeof e.code === 'string',
        `${m}: ${e.message}`)
    }
  }
  assert.deepEqual(t.check(), [])
})
