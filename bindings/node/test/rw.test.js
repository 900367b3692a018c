'use strict'
// Every read and write, with its documented results and errors.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Table } = require('..')
const { tableName, shmkvError } = require('./helpers')

// A fresh table for each test, closed and removed after it.
function withTable (opts, fn) {
  return () => {
    const name = tableName()
    const t = new Table(name, opts)
    try {
      fn(t, name)
    } finally {
      t.close()
      Table.unlink(name)
    }
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

test('get, getString and has, with absent keys', withTable({}, (t) => {
  assert.equal(t.get('nope'), undefined)
  assert.equal(t.getString('nope'), undefined)
  assert.equal(t.has('nope'), false)
  assert.equal(t.set('k', 'value'), true)
  assert.deepEqual(t.get('k'), Buffer.from('value'))
  assert.ok(Buffer.isBuffer(t.get('k')))
  assert.equal(t.getString('k'), 'value')
  assert.equal(t.has('k'), true)
}))

test('keys and values as strings (UTF-8), Buffers, Uint8Arrays and other views are their bytes', withTable({}, (t) => {
  t.set('clé', 'é')
  assert.deepEqual(t.get(Buffer.from('clé')), Buffer.from('é'))
  assert.deepEqual(t.get(new Uint8Array(Buffer.from('clé'))), Buffer.from('é'))
  // a view into the middle of a larger buffer: only its own bytes
  const big = Buffer.from('xxclé!!')
  assert.equal(t.getString(big.subarray(2, 6)), 'é')
  assert.equal(t.getString(new DataView(big.buffer, big.byteOffset + 2, 4)), 'é')
  const binary = Buffer.from([0, 255, 0, 1])
  t.set(binary, new Uint16Array([0x0102, 0x0304]))
  assert.deepEqual(t.get(binary), Buffer.from(new Uint16Array([0x0102, 0x0304]).buffer))
  assert.equal(t.has(Buffer.from([0, 255, 0])), false)
}))

test('empty values, and values of every size path (stack, long, very long)', withTable({}, (t) => {
  t.set('empty', '')
  assert.deepEqual(t.get('empty'), Buffer.alloc(0))
  assert.equal(t.getString('empty'), '')
  assert.equal(t.has('empty'), true)
  for (const n of [1, 16383, 16384, 16385, 300000, 3 << 20]) {
    const v = Buffer.alloc(n, n % 251)
    v[n - 1] = 42
    t.set('v' + n, v)
    assert.deepEqual(t.get('v' + n), v)
    assert.equal(t.getString('v' + n).length, n)
  }
  // a long string key and value (past the inline buffers)
  const longKey = 'ké'.repeat(5000)
  const longValue = 'välue'.repeat(10000)
  t.set(longKey, longValue)
  assert.equal(t.getString(longKey), longValue)
}))

test('set with ifAbsent, ifPresent, ifEqual and keepTtl returns whether it wrote', withTable({}, (t) => {
  assert.equal(t.set('k', '1', { ifPresent: true }), false)
  assert.equal(t.has('k'), false)
  assert.equal(t.set('k', '1', { ifAbsent: true }), true)
  assert.equal(t.set('k', '2', { ifAbsent: true }), false)
  assert.equal(t.getString('k'), '1')
  assert.equal(t.set('k', '3', { ifPresent: true }), true)
  assert.equal(t.set('k', '4', { ifEqual: 'nope' }), false)
  assert.equal(t.set('k', '4', { ifEqual: Buffer.from('3') }), true)
  assert.equal(t.set('absent', '4', { ifEqual: '3' }), false)
  assert.equal(t.getString('k'), '4')
  t.set('k', '5', { ttl: 60000 })
  assert.equal(t.set('k', '6', { keepTtl: true }), true)
  assert.ok(t.ttl('k') > 50000, 'keepTtl kept the lifetime')
  t.set('k', '7')
  assert.equal(t.ttl('k'), 0, 'a plain set gives no lifetime')
}))

test('add and replace', withTable({}, (t) => {
  assert.equal(t.replace('k', 'a'), false)
  assert.equal(t.add('k', 'a'), true)
  assert.equal(t.add('k', 'b'), false)
  assert.equal(t.replace('k', 'c', { ttl: 60000 }), true)
  assert.equal(t.getString('k'), 'c')
  assert.ok(t.ttl('k') > 0)
  assert.equal(t.add('t', 'x', { ttl: 60000 }), true)
  assert.ok(t.ttl('t') > 0)
}))

test('delete and take', withTable({}, (t) => {
  assert.equal(t.delete('k'), false)
  t.set('k', 'v')
  assert.equal(t.delete('k'), true)
  assert.equal(t.has('k'), false)
  assert.equal(t.take('k'), undefined)
  t.set('k', 'taken')
  assert.deepEqual(t.take('k'), Buffer.from('taken'))
  assert.equal(t.take('k'), undefined)
  t.set('e', '')
  assert.deepEqual(t.take('e'), Buffer.alloc(0))
}))

test('incr: numbers, negative deltas, bigints beyond 2^53, errors', withTable({}, (t) => {
  assert.equal(t.incr('n'), 1)
  assert.equal(t.incr('n', 41), 42)
  assert.equal(t.incr('n', -50), -8)
  assert.equal(t.getString('n'), '-8')
  assert.equal(t.incr('n', 8n), 0)
  const edge = 2 ** 53 - 1
  assert.equal(t.incr('big', edge), edge)
  assert.equal(typeof t.incr('big', 0), 'number')
  assert.equal(t.incr('big', 1), 2n ** 53n)
  assert.equal(t.incr('big', 2n ** 60n), 2n ** 53n + 2n ** 60n)
  assert.equal(t.incr('big', -(2n ** 60n) - 1n), edge)
  t.set('max', (2n ** 63n - 1n).toString())
  assert.throws(() => t.incr('max'), shmkvError('ERANGE'))
  assert.equal(t.getString('max'), (2n ** 63n - 1n).toString())
  assert.equal(t.incr('min', -(2n ** 63n)), -(2n ** 63n))
  t.set('text', 'abc')
  assert.throws(() => t.incr('text'), shmkvError('EDOM'))
  assert.equal(t.incr('fresh', 5, { ttl: 60000 }), 5)
  assert.ok(t.ttl('fresh') > 0)
}))

test('append creates and extends', withTable({}, (t) => {
  t.append('log', 'a')
  t.append('log', Buffer.from('b'))
  t.append('log', new Uint8Array([99]))
  assert.equal(t.getString('log'), 'abc')
  t.set('exp', 'x', { ttl: 60000 })
  t.append('exp', 'y')
  assert.ok(t.ttl('exp') > 0, 'append keeps the lifetime')
}))

test('ttl, expire and expiry', withTable({}, (t) => {
  assert.equal(t.ttl('k'), undefined)
  assert.equal(t.expire('k', 100), false)
  t.set('k', 'v')
  assert.equal(t.ttl('k'), 0)
  assert.equal(t.expire('k', 60000), true)
  const left = t.ttl('k')
  assert.ok(left > 59000 && left <= 60000, `ttl ${left}`)
  assert.equal(t.expire('k', 0), true)
  assert.equal(t.ttl('k'), 0)
  t.set('short', 'v', { ttl: 30 })
  t.expire('k', 30)
  sleep(60)
  for (const key of ['short', 'k']) {
    assert.equal(t.get(key), undefined)
    assert.equal(t.has(key), false)
    assert.equal(t.ttl(key), undefined)
    assert.equal(t.expire(key, 10), false)
  }
  assert.equal(t.add('short', 'again'), true, 'an expired key is absent to add')
}))

test('getMany: each key its own result, from arrays and other iterables', withTable({}, (t) => {
  const long = Buffer.alloc(100000, 3)
  t.set('a', '1')
  t.set('long', long)
  t.set('e', '')
  assert.deepEqual(t.getMany([]), [])
  assert.deepEqual(t.getMany(['a', 'missing', 'long', Buffer.from('e')]),
    [Buffer.from('1'), undefined, long, Buffer.alloc(0)])
  assert.deepEqual(t.getMany(new Set(['a'])), [Buffer.from('1')])
  const keys = Array.from({ length: 1000 }, (_, i) => 'k' + i)
  keys.forEach((k, i) => { if (i % 2) t.set(k, 'v' + i) })
  t.getMany(keys).forEach((v, i) => assert.deepEqual(v, i % 2 ? Buffer.from('v' + i) : undefined))
}))

test('setMany: arrays of pairs, Maps and plain objects, with a ttl', withTable({}, (t) => {
  assert.equal(t.setMany([['a', '1'], [Buffer.from('b'), Buffer.from('2')]]), 2)
  assert.equal(t.setMany(new Map([['c', '3']])), 1)
  assert.equal(t.setMany({ d: '4', e: '5' }, { ttl: 60000 }), 2)
  assert.equal(t.setMany([]), 0)
  assert.deepEqual(t.getMany(['a', 'b', 'c', 'd', 'e']).map(String), ['1', '2', '3', '4', '5'])
  assert.equal(t.ttl('a'), 0)
  assert.ok(t.ttl('e') > 0)
  const many = Array.from({ length: 2000 }, (_, i) => ['m' + i, 'x'.repeat(i % 100)])
  assert.equal(t.setMany(many), 2000)
  assert.equal(t.getString('m1999'), 'x'.repeat(99))
}))

test('clear, size and stats', withTable({}, (t) => {
  assert.equal(t.size, 0)
  t.setMany(Array.from({ length: 100 }, (_, i) => ['k' + i, 'v']))
  t.delete('k0')
  assert.equal(t.size, 99)
  const s = t.stats()
  assert.equal(s.keys, 99)
  assert.equal(s.puts, 100)
  assert.equal(s.dels, 1)
  assert.ok(s.usedBytes > 0 && s.fileBytes >= s.usedBytes)
  assert.ok(s.loadFactor > 0)
  t.clear()
  assert.equal(t.size, 0)
  assert.equal(t.get('k5'), undefined)
  assert.equal(t.stats().puts, 100, 'clear keeps the counters')
  assert.deepEqual(t.check(), [])
}))

test('a full store throws ENOSPC and stays usable', withTable({ maxBytes: 256 * 1024 }, (t) => {
  const v = Buffer.alloc(1000, 1)
  let stored = 0
  assert.throws(() => { for (;;) { t.set('k' + stored, v); stored++ } }, shmkvError('ENOSPC'))
  assert.ok(stored > 50, `stored ${stored}`)
  assert.deepEqual(t.get('k0'), v)
  for (let i = 0; i < 20; i++) t.delete('k' + i)
  t.set('again', v)
  assert.deepEqual(t.get('again'), v)
  assert.deepEqual(t.check(), [])
}))

test('a pair larger than the table is E2BIG; a cache evicts instead of filling', () => {
  const name = tableName()
  const t = new Table(name, { maxBytes: 256 * 1024 })
  assert.throws(() => t.set('huge', Buffer.alloc(300 * 1024)), shmkvError('E2BIG'))
  t.close()
  Table.unlink(name)
  const cname = tableName()
  const c = new Table(cname, { cache: true, maxBytes: 256 * 1024 })
  for (let i = 0; i < 2000; i++) c.set('k' + i, Buffer.alloc(500, 1))
  assert.ok(c.stats().evictions > 0)
  assert.ok(c.size < 2000)
  assert.throws(() => c.set('big', Buffer.alloc(64 * 1024)), shmkvError('E2BIG'))
  c.close()
  Table.unlink(cname)
})
