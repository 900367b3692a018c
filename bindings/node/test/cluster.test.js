'use strict'
// A Node cluster sharing one table with no hop through the primary: 4
// workers hammer overlapping keys with checksummed values (one more is
// killed midway), count with incr exactly, and fill a key with getOrSet
// once between them.  The workers are fixtures/cluster-worker.js.
const test = require('node:test')
const assert = require('node:assert/strict')
const cluster = require('node:cluster')
const path = require('node:path')
const { Table } = require('..')
const { tableName } = require('./helpers')
const { checkValue } = require('./fixtures/checked-values')

cluster.setupPrimary({ exec: path.join(__dirname, 'fixtures', 'cluster-worker.js') })
test.after(() => {
  for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL')
})

// Forks a worker per entry of envs, starts job in all of them at once, and
// resolves to their results when every one has exited; a worker given
// killAfterMs is killed then (it must not finish first), and its result
// is the signal.
function runWorkers (table, job, envs) {
  return new Promise((resolve, reject) => {
    const results = []
    let ready = 0
    let exited = 0
    const workers = envs.map((env, i) => {
      const w = cluster.fork({ TABLE: table, WORKER_ID: String(i), ...env })
      w.on('message', (m) => {
        if (m.ready && ++ready === envs.length) {
          for (const x of workers) x.send({ job })
          envs.forEach((e, j) => {
            if (e.killAfterMs) setTimeout(() => workers[j].process.kill('SIGKILL'), Number(e.killAfterMs))
          })
        } else if (!m.ready) {
          results[i] = m
        }
      })
      w.on('exit', (code, signal) => {
        if (envs[i].killAfterMs) results[i] = { signal }
        else if (code !== 0 || !results[i] || !results[i].ok) {
          reject(new Error(`worker ${i} exited ${code} ${signal}: ${results[i] && results[i].error}`))
        }
        if (++exited === envs.length) resolve(results)
      })
      return w
    })
  })
}

function withTable (fn) {
  return async () => {
    const name = tableName('cluster')
    const t = new Table(name)
    try {
      await fn(t, name)
    } finally {
      t.close()
      Table.unlink(name)
    }
  }
}

test('4 workers on overlapping keys: every value read whole; a killed fifth harms nothing', { timeout: 120000 },
  withTable(async (t, name) => {
    const envs = [0, 1, 2, 3].map(() => ({ STEPS: '20000' }))
    envs.push({ STEPS: '100000000', killAfterMs: '300' })
    const results = await runWorkers(name, 'hammer', envs)
    assert.equal(results[4].signal, 'SIGKILL', 'the fifth was killed while it worked')
    for (const r of results.slice(0, 4)) assert.ok(r.reads > 1000, `reads ${r.reads}`)
    let n = 0
    for (const [, v] of t) { checkValue(v); n++ }
    assert.ok(n > 0 && n <= 64)
    assert.equal(t.size, n)
    assert.deepEqual(t.check(), [])
  }))

test('incr across processes: every increment counted, each result handed out once', { timeout: 120000 },
  withTable(async (t, name) => {
    const steps = 5000
    const start = 2n ** 53n - 100n // the counter passes 2^53 midway: numbers, then bigints
    t.set('big', String(start))
    const results = await runWorkers(name, 'incr', [0, 1, 2, 3].map(() => ({ STEPS: String(steps) })))
    const all = results.flatMap((r) => r.got).sort((a, b) => a - b)
    assert.equal(all.length, 4 * steps)
    all.forEach((n, i) => assert.equal(n, i + 1))
    assert.equal(t.getString('total'), String(4 * steps))
    assert.equal(t.incr('big', 0), start + BigInt(4 * steps))
  }))

test('getOrSet across processes: one computes, all get its value', { timeout: 60000 },
  withTable(async (t, name) => {
    for (const job of ['getOrSet', 'getOrSetAsync']) {
      const results = await runWorkers(name, job, [0, 1, 2, 3].map(() => ({})))
      const values = new Set(results.map((r) => r.value))
      assert.equal(values.size, 1, [...values].join(', '))
      assert.match([...values][0], /^from worker \d$/)
      assert.equal(t.getString(job === 'getOrSet' ? 'computed' : 'computed-async'), '1')
    }
  }))
