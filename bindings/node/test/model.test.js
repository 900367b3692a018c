'use strict'
// Random operation sequences checked against a Map, the model: after
// every operation the table must answer as the Map does; now and then the
// whole content is compared by iterating, and the table is closed and
// reopened.  Keys are given as strings, Buffers and Uint8Arrays alike.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Table } = require('..')
const { tableName, rng } = require('./helpers')

const INT64 = /^-?\d{1,19}$/
const MAX = 2n ** 63n - 1n
const MIN = -(2n ** 63n)

function run (seed, steps) {
  const r = rng(seed)
  const name = tableName('model')
  let t = new Table(name)
  const model = new Map() // latin1 of the key's bytes -> Buffer
  const keyBytes = () => Buffer.from('key' + r(48))
  const asKeyArg = (b) => [b.toString(), b, new Uint8Array(b)][r(3)]
  const value = () => r(10) === 0 ? Buffer.alloc(0) : Buffer.from('v'.repeat(r(40)) + r(1000))
  const numeric = () => Buffer.from(String(r(2000) - 1000))

  const ops = {
    set (k, m) { const v = value(); assert.equal(t.set(asKeyArg(k), v), true); model.set(m, v) },
    setIfAbsent (k, m) { const v = value(); assert.equal(t.set(asKeyArg(k), v, { ifAbsent: true }), !model.has(m)); if (!model.has(m)) model.set(m, v) },
    replace (k, m) { const v = value(); assert.equal(t.replace(asKeyArg(k), v), model.has(m)); if (model.has(m)) model.set(m, v) },
    ifEqual (k, m) {
      const cur = model.get(m)
      const expected = cur && r(2) ? cur : value()
      const v = value()
      const wrote = cur !== undefined && cur.equals(expected)
      assert.equal(t.set(asKeyArg(k), v, { ifEqual: expected }), wrote)
      if (wrote) model.set(m, v)
    },
    add (k, m) { const v = numeric(); assert.equal(t.add(asKeyArg(k), v), !model.has(m)); if (!model.has(m)) model.set(m, v) },
    delete (k, m) { assert.equal(t.delete(asKeyArg(k)), model.delete(m)) },
    take (k, m) { assert.deepEqual(t.take(asKeyArg(k)), model.get(m)); model.delete(m) },
    get (k, m) { assert.deepEqual(t.get(asKeyArg(k)), model.get(m)) },
    getString (k, m) { assert.equal(t.getString(asKeyArg(k)), model.has(m) ? model.get(m).toString() : undefined) },
    has (k, m) { assert.equal(t.has(asKeyArg(k)), model.has(m)) },
    append (k, m) { const v = value(); t.append(asKeyArg(k), v); model.set(m, Buffer.concat([model.get(m) || Buffer.alloc(0), v])) },
    incr (k, m) {
      const delta = BigInt(r(200) - 100)
      const cur = model.has(m) ? model.get(m).toString() : '0'
      const n = INT64.test(cur) ? BigInt(cur) : null
      if (n === null || n < MIN || n > MAX) {
        assert.throws(() => t.incr(asKeyArg(k), delta), { code: 'EDOM' })
        return
      }
      const got = t.incr(asKeyArg(k), delta)
      assert.equal(BigInt(got), n + delta)
      model.set(m, Buffer.from(String(n + delta)))
    },
    getMany () {
      const keys = Array.from({ length: r(8) }, keyBytes)
      assert.deepEqual(t.getMany(keys.map(asKeyArg)), keys.map((b) => model.get(b.toString('latin1'))))
    },
    setMany () {
      const pairs = Array.from({ length: r(8) }, () => [keyBytes(), value()])
      assert.equal(t.setMany(pairs.map(([k, v]) => [asKeyArg(k), v])), pairs.length)
      for (const [k, v] of pairs) model.set(k.toString('latin1'), v)
    },
    size () { assert.equal(t.size, model.size) },
    compare () {
      const seen = new Map()
      for (const [k, v] of t) seen.set(k.toString('latin1'), v)
      assert.deepEqual(seen, model)
    },
    reopen () { t.close(); t = new Table(name, { create: false }) },
    clear () { if (r(10) === 0) { t.clear(); model.clear() } }
  }
  const names = Object.keys(ops)
  for (let i = 0; i < steps; i++) {
    const op = names[r(names.length)]
    const k = keyBytes()
    try {
      ops[op](k, k.toString('latin1'))
    } catch (e) {
      e.message = `seed ${seed}, step ${i}, ${op} ${k}: ${e.message}`
      throw e
    }
  }
  ops.compare()
  assert.deepEqual(t.check(), [])
  t.close()
  Table.unlink(name)
}

for (const seed of [1, 2, 3, 4]) {
  test(`random operations against a Map, seed ${seed}`, () => run(seed, 4000))
}
