'use strict'
// keys(), values(), entries() and for...of through the scan cursor.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Table } = require('..')
const { tableName } = require('./helpers')

function fresh () {
  const name = tableName()
  return { t: new Table(name), done (t) { t.close(); Table.unlink(name) } }
}

test('an empty table yields nothing', () => {
  const { t, done } = fresh()
  assert.deepEqual([...t], [])
  assert.deepEqual([...t.keys()], [])
  done(t)
})

test('every pair once, as Buffers, by every iterator', () => {
  const { t, done } = fresh()
  const want = new Map()
  for (let i = 0; i < 3000; i++) {
    const k = 'key' + i
    const v = 'v'.repeat(i % 50) + i
    t.set(k, v)
    want.set(k, v)
  }
  const seen = new Map()
  for (const [k, v] of t) {
    assert.ok(Buffer.isBuffer(k) && Buffer.isBuffer(v))
    assert.equal(seen.has(k.toString()), false, 'visited once')
    seen.set(k.toString(), v.toString())
  }
  assert.deepEqual(seen, want)
  assert.deepEqual(new Set([...t.keys()].map(String)), new Set(want.keys()))
  assert.deepEqual([...t.values()].map(String).sort(), [...want.values()].sort())
  assert.deepEqual(new Map([...t.entries()].map(([k, v]) => [String(k), String(v)])), want)
  done(t)
})

test('writes while iterating: every pair present throughout is seen once', () => {
  const { t, done } = fresh()
  for (let i = 0; i < 2000; i++) t.set('stay' + i, 'x')
  const seen = new Set()
  let n = 0
  for (const [k] of t) {
    const s = k.toString()
    if (s.startsWith('stay')) {
      assert.equal(seen.has(s), false)
      seen.add(s)
    }
    t.set('new' + n, 'y') // may or may not be visited
    if (n % 3 === 0) t.delete('new' + (n - 1))
    n++
  }
  assert.equal(seen.size, 2000)
  done(t)
})

test('an iterator left early, and one whose table closes, end cleanly', () => {
  const { t, done } = fresh()
  for (let i = 0; i < 5000; i++) t.set('k' + i, 'v')
  const it = t.keys()
  it.next()
  it.return()
  assert.equal(it.next().done, true)
  const open = t.entries()
  let threw
  try {
    for (let i = 0; ; i++) {
      if (open.next().done) break
      if (i === 10) t.close()
    }
  } catch (e) {
    threw = e
  }
  // the first piece may hold every pair; if not, the next one throws EBADF
  if (threw) assert.equal(threw.code, 'EBADF')
  done(t)
})
