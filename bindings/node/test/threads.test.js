'use strict'
// worker_threads: the addon loads in every worker (it is context-aware),
// and threads share one table as processes do.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { Table } = require('..')
const { tableName } = require('./helpers')
const { checkValue } = require('./fixtures/checked-values')

const fixture = path.join(__dirname, 'fixtures', 'thread-worker.js')

// Resolves to the worker's result message once it has exited.
function runThread (workerData) {
  return new Promise((resolve, reject) => {
    const w = new Worker(fixture, { workerData })
    let result
    w.on('message', (m) => { if (m.done) result = m })
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`thread exited ${code}`))))
  })
}

test('4 threads and the main thread share one table', { timeout: 60000 }, async () => {
  const name = tableName('threads')
  const t = new Table(name)
  const steps = 5000
  const results = await Promise.all([0, 1, 2, 3].map((id) => runThread({ table: name, id, steps, job: 'mixed' })))
  for (const r of results) assert.ok(r.reads > 0)
  assert.equal(t.getString('total'), String(4 * steps))
  for (const id of [0, 1, 2, 3]) assert.equal(t.getString('thread' + id), String(steps))
  for (const [k, v] of t) if (k.toString().startsWith('key')) checkValue(v)
  assert.deepEqual(t.check(), [])
  t.close()
  Table.unlink(name)
})

test('a thread terminated mid-write, and one that never closes its tables, leave a sound table', { timeout: 60000 }, async () => {
  const name = tableName('threads')
  const t = new Table(name)
  for (let round = 0; round < 3; round++) {
    const w = new Worker(fixture, { workerData: { table: name, id: round, job: 'forever' } })
    await new Promise((resolve, reject) => {
      w.on('error', reject)
      w.on('message', (m) => m.started && setTimeout(resolve, 100))
    })
    assert.equal(await w.terminate(), 1)
  }
  await runThread({ table: name, id: 9, job: 'leave' })
  assert.equal(t.getString('left49'), 'x')
  for (const v of t.values()) if (v.length > 1) checkValue(v)
  assert.deepEqual(t.check(), [])
  t.set('after', 'fine')
  assert.equal(t.getString('after'), 'fine')
  t.close()
  Table.unlink(name)
})
