'use strict'
// Lists and queues: every list method and its errors, the table's other
// calls on lists, waits on the thread pool (woken by another process,
// timing out, ended by close() or a worker's end, never blocking the event
// loop), and producers, consumers and movers in child processes losing or
// doubling nothing.  The children are fixtures/list-worker.js.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { Table } = require('..')
const { tableName, shmkvError, argError } = require('./helpers')

const worker = path.join(__dirname, 'fixtures', 'list-worker.js')

function withTable (opts, fn) {
  return async () => {
    const name = tableName('lists')
    const t = new Table(name, opts)
    try {
      await fn(t, name)
    } finally {
      t.close()
      Table.unlink(name)
    }
  }
}

const strings = (bufs) => bufs.map(String)

// Runs list-worker.js with args; resolves to its exit code (stderr shown).
function child (...args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [worker, ...args.map(String)], { stdio: ['ignore', 'inherit', 'inherit'] })
    p.on('error', reject)
    p.on('exit', (code, signal) => resolve(signal || code))
  })
}

test('push and pop at both ends; pop never waits', withTable({}, (t) => {
  assert.equal(t.push('q', 'b'), undefined)
  t.push('q', Buffer.from('c'), { end: 'tail' })
  t.push(Buffer.from('q'), new Uint8Array([97]), { end: 'head' })
  t.push('q', '')                                     // an empty element is one
  assert.equal(t.llen('q'), 4)
  assert.deepEqual(strings(t.lrange('q')), ['a', 'b', 'c', ''])
  assert.deepEqual(t.pop('q'), Buffer.from('a'))
  assert.ok(Buffer.isBuffer(t.pop('q', { end: 'tail' })))
  assert.equal(String(t.pop('q', { end: 'tail' })), 'c')
  assert.equal(String(t.pop('q', { end: 'head', timeout: 0 })), 'b')
  assert.equal(t.pop('q'), undefined)                 // empty
  assert.equal(t.pop('never'), undefined)             // absent
  assert.equal(t.llen('q'), 0)
  assert.equal(t.llen('never'), 0)
}))

test('pushMany and popMany', withTable({}, (t) => {
  t.pushMany('q', ['1', '2', '3'])
  t.pushMany('q', new Set(['0', '-1']), { end: 'head' })   // reversed, as one by one
  t.pushMany('q', [])
  assert.deepEqual(strings(t.lrange('q')), ['-1', '0', '1', '2', '3'])
  assert.deepEqual(strings(t.popMany('q', 2)), ['-1', '0'])
  assert.deepEqual(strings(t.popMany('q', 2, { end: 'tail' })), ['3', '2'])
  assert.deepEqual(strings(t.popMany('q', Number.MAX_SAFE_INTEGER)), ['1'])
  assert.deepEqual(t.popMany('q', 5), [])
  assert.deepEqual(t.popMany('absent', 5), [])
}))

test('elements of every size, through the scratch and past it', withTable({}, (t) => {
  const sizes = [0, 1, 16383, 16384, 16385, 70000, 300000]
  t.pushMany('q', sizes.map((n, i) => Buffer.alloc(n, i)))
  for (const [i, n] of sizes.entries()) assert.deepEqual(t.pop('q'), Buffer.alloc(n, i))
  const big = [Buffer.alloc(200000, 1), Buffer.from('y'), Buffer.alloc(70000, 2), Buffer.from('w'),
    ...Array.from({ length: 100 }, () => Buffer.alloc(1000, 3))]
  t.pushMany('q', big)
  const batches = []
  while (t.llen('q')) batches.push(t.popMany('q', 50))   // a batch stops at what fits
  assert.ok(batches.every((b) => b.length > 0))
  assert.deepEqual(batches.flat(), big)
  t.push('m', Buffer.alloc(100000, 9))
  assert.deepEqual(t.move('m', 'n'), Buffer.alloc(100000, 9))
  assert.deepEqual(t.lrange('n'), [Buffer.alloc(100000, 9)])
}))

test('lrange: indexes from the head, negative from the tail, nothing removed', withTable({}, (t) => {
  const every = Array.from({ length: 10 }, (_, i) => String(i))
  t.pushMany('q', every)
  const cases = [[0, -1], [0, 0], [2, 4], [-3, -1], [-100, 2], [5, 100], [8, 2], [10, 20], [-1, -2],
    [0, Number.MAX_SAFE_INTEGER], [-Number.MAX_SAFE_INTEGER, 1]]
  for (const [start, stop] of cases) {
    const a = start >= 0 ? start : Math.max(10 + start, 0)
    const b = stop >= 0 ? stop : 10 + stop
    assert.deepEqual(strings(t.lrange('q', start, stop)), every.slice(a, b + 1), `${start}..${stop}`)
  }
  assert.deepEqual(strings(t.lrange('q', 7)), every.slice(7))
  assert.deepEqual(strings(t.lrange('q')), every)
  assert.deepEqual(t.lrange('absent'), [])
  assert.equal(t.llen('q'), 10)
}))

test('move between ends and lists', withTable({}, (t) => {
  t.pushMany('src', ['a', 'b', 'c'])
  assert.equal(String(t.move('src', 'dst')), 'a')     // head to tail
  assert.equal(String(t.move('src', 'dst', { from: 'tail', to: 'head' })), 'c')
  assert.deepEqual(strings(t.lrange('dst')), ['c', 'a'])
  assert.equal(String(t.move('dst', 'dst')), 'c')     // a rotation
  assert.deepEqual(strings(t.lrange('dst')), ['a', 'c'])
  assert.equal(String(t.move('src', 'src', { from: 'head', to: 'head' })), 'b')
  assert.deepEqual(strings(t.lrange('src')), ['b'])
  t.pop('src')
  assert.equal(t.move('src', 'dst'), undefined)
  assert.equal(t.move('absent', 'dst2'), undefined)
  assert.equal(t.has('dst2'), false)                  // an empty move makes nothing
}))

test('the table\'s other calls on lists: has, size, iteration, delete, clear', withTable({}, (t) => {
  t.set('pair', 'v')
  t.push('list', 'e')
  assert.equal(t.has('list'), true)                   // the key is taken
  assert.equal(t.size, 2)                             // size counts lists ...
  assert.deepEqual([...t].map(([k, v]) => [String(k), String(v)]), [['pair', 'v']])  // ... iteration not
  assert.deepEqual(strings([...t.keys()]), ['pair'])
  t.pushMany('two', ['1', '2'])
  const lists = [...t.lists()].map(([k, e]) => [String(k), strings(e)]).sort()
  assert.deepEqual(lists, [['list', ['e']], ['two', ['1', '2']]])
  assert.equal(t.delete('list'), true)                // a list goes whole
  assert.equal(t.has('list'), false)
  assert.equal(t.llen('list'), 0)
  t.push('list', 'new')
  assert.deepEqual(strings(t.lrange('list')), ['new'])
  t.pop('list')
  assert.equal(t.has('list'), true)                   // emptied, it stays a key
  t.clear()
  assert.equal(t.size, 0)
  assert.deepEqual([...t.lists()], [])
  assert.deepEqual(t.check(), [])
}))

test('wrong kind both ways: EMEDIUMTYPE, and nothing changes', withTable({}, async (t) => {
  t.set('pair', 'v')
  t.push('list', 'e')
  const listCalls = [() => t.push('pair', 'x'), () => t.pushMany('pair', ['x']), () => t.pop('pair'),
    () => t.popMany('pair', 2), () => t.llen('pair'), () => t.lrange('pair'), () => t.move('pair', 'list'),
    () => t.move('list', 'pair')]
  const pairCalls = [() => t.get('list'), () => t.getString('list'), () => t.set('list', 'x'),
    () => t.add('list', 'x'), () => t.replace('list', 'x'), () => t.incr('list'), () => t.append('list', 'x'),
    () => t.take('list'), () => t.ttl('list'), () => t.expire('list', 5), () => t.getMany(['list']),
    () => t.getOrSet('list', () => 'x')]
  for (const call of [...listCalls, ...pairCalls]) assert.throws(call, shmkvError('EMEDIUMTYPE'), String(call))
  for (const call of [() => t.popAsync('pair', { timeout: 5000 }), () => t.popManyAsync('pair', 3),
    () => t.moveAsync('pair', 'list'), () => t.moveAsync('list', 'pair')]) {
    await assert.rejects(call(), shmkvError('EMEDIUMTYPE'), String(call))
  }
  assert.equal(t.getString('pair'), 'v')
  assert.deepEqual(strings(t.lrange('list')), ['e'])
  assert.deepEqual(t.check(), [])
}))

test('bad arguments throw, or reject from the async forms, and change nothing', withTable({}, async (t) => {
  t.push('q', 'e')
  const cases = [
    [() => t.push('q', 'x', { end: 'left' }), TypeError], [() => t.push('q', 'x', { end: 0 }), TypeError],
    [() => t.push('q', 'x', 'head'), TypeError], [() => t.push('', 'x'), RangeError],
    [() => t.push('q', 42), TypeError], [() => t.pushMany('q', 'abc'), TypeError],
    [() => t.pushMany('q', ['a', 5]), TypeError], [() => t.pushMany('q', 5), TypeError],
    [() => t.pop('q', { timeout: 100 }), TypeError], [() => t.pop('q', { end: 'middle' }), TypeError],
    [() => t.popMany('q'), TypeError], [() => t.popMany('q', 0), RangeError], [() => t.popMany('q', 1.5), RangeError],
    [() => t.popMany('q', 2, { timeout: 5 }), TypeError], [() => t.move('q', 'd', { from: 'x' }), TypeError],
    [() => t.move('q', 'd', { to: null }), TypeError], [() => t.move('q', 'd', { timeout: 1 }), TypeError],
    [() => t.move('q', ''), RangeError], [() => t.lrange('q', '1'), TypeError], [() => t.lrange('q', 0, 1.5), RangeError],
    [() => t.llen(5), TypeError]
  ]
  for (const [call, Class] of cases) assert.throws(call, argError(Class), String(call))
  for (const [call, Class] of [[() => t.popAsync('q', { timeout: -1 }), RangeError],
    [() => t.popAsync('q', { timeout: 1.5 }), RangeError], [() => t.popAsync('q', { timeout: '1' }), TypeError],
    [() => t.popManyAsync('q', 0), RangeError], [() => t.moveAsync('q', 'd', { to: 'x' }), TypeError]]) {
    await assert.rejects(call(), argError(Class), String(call))
  }
  assert.deepEqual(strings(t.lrange('q')), ['e'])
  assert.equal(t.llen('d'), 0)
}))

test('caches refuse lists (EOPNOTSUPP); read-only tables refuse writes; closed tables EBADF', async () => {
  const name = tableName('lists')
  const c = new Table(name + 'c', { cache: true, maxBytes: 1 << 20 })
  for (const call of [() => c.push('q', 'x'), () => c.pushMany('q', ['x']), () => c.pop('q'), () => c.move('q', 'r')]) {
    assert.throws(call, shmkvError('EOPNOTSUPP'))
  }
  await assert.rejects(c.popAsync('q', { timeout: 100 }), shmkvError('EOPNOTSUPP'))
  assert.deepEqual([c.llen('q'), c.lrange('q'), c.size], [0, [], 0])
  c.close()
  Table.unlink(name + 'c')

  const t = new Table(name)
  t.push('q', 'e')
  const r = new Table(name, { readonly: true })
  assert.equal(r.llen('q'), 1)
  assert.deepEqual(strings(r.lrange('q')), ['e'])
  assert.equal([...r.lists()].length, 1)
  for (const call of [() => r.push('q', 'x'), () => r.pop('q'), () => r.popMany('q', 1), () => r.move('q', 'd')]) {
    assert.throws(call, shmkvError('EROFS'))
  }
  r.close()
  t.close()
  for (const call of [() => t.push('q', 'x'), () => t.pop('q'), () => t.llen('q'), () => t.lrange('q')]) {
    assert.throws(call, shmkvError('EBADF'))
  }
  await assert.rejects(t.popAsync('q'), shmkvError('EBADF'))
  Table.unlink(name)
})

test('waits time out after about their timeout, without blocking the event loop', withTable({}, async (t) => {
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  try {
    for (const [call, empty] of [[() => t.popAsync('q', { timeout: 300 }), undefined],
      [() => t.popManyAsync('q', 3, { timeout: 300 }), []], [() => t.moveAsync('q', 'd', { timeout: 300 }), undefined]]) {
      const start = Date.now()
      ticks = 0
      assert.deepEqual(await call(), empty)
      const took = Date.now() - start
      assert.ok(took >= 295 && took < 2000, `took ${took} ms`)
      assert.ok(ticks >= 5, `the event loop ran ${ticks} times meanwhile`)
    }
  } finally {
    clearInterval(timer)
  }
  const start = Date.now()
  assert.equal(await t.popAsync('q', { timeout: 0 }), undefined)
  assert.ok(Date.now() - start < 100)
  t.push('q', 'ready')
  assert.equal(String(await t.popAsync('q', { timeout: 0 })), 'ready')   // found at once
  t.pushMany('q', ['1', '2'])
  assert.deepEqual(strings(await t.popManyAsync('q', 5)), ['1', '2'])
}))

test('a wait is woken by a push from another process', withTable({}, async (t, name) => {
  const start = Date.now()
  let pusher = child(name, 'pushLater', 300)
  const v = await t.popAsync('wake')                  // for ever
  const took = Date.now() - start
  assert.match(String(v), /^pushed by \d+$/)
  assert.ok(took >= 250 && took < 5000, `took ${took} ms`)
  assert.equal(await pusher, 0)
  pusher = child(name, 'pushLater', 200)
  assert.match(String(await t.moveAsync('wake', 'mine', { timeout: 30000 })), /^pushed by/)  // woken, not timed out
  assert.equal(await pusher, 0)
  assert.equal(t.llen('mine'), 1)
}))

test('more waits than pool threads all get served, and other pool work goes on', withTable({}, async (t) => {
  const waits = Array.from({ length: 6 }, () => t.popAsync('q', { timeout: 20000 }))
  const start = Date.now()
  await fs.promises.readFile(__filename)              // the pool is not held for ever
  assert.ok(Date.now() - start < 2000)
  t.pushMany('q', ['0', '1', '2', '3', '4', '5'])
  assert.deepEqual(strings(await Promise.all(waits)).sort(), ['0', '1', '2', '3', '4', '5'])
}))

test('close() ends the table\'s waits with EBADF; a worker thread ends while it waits', withTable({}, async (t, name) => {
  const u = new Table(name)
  const waiting = u.popAsync('q')
  const start = Date.now()
  setTimeout(() => u.close(), 100)
  await assert.rejects(waiting, shmkvError('EBADF'))
  assert.ok(Date.now() - start < 2000)
  t.push('q', 'kept')                                 // the closed waiter took nothing
  assert.equal(String(t.pop('q')), 'kept')

  const w = new Worker(`
    const { Table } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const t = new Table(${JSON.stringify(name)})
    t.popAsync('never').then(() => process.exit(3))
    require('node:worker_threads').parentPort.postMessage('waiting')`, { eval: true })
  await new Promise((resolve) => w.once('message', resolve))
  const stop = Date.now()
  await w.terminate()
  assert.ok(Date.now() - stop < 3000, `terminate took ${Date.now() - stop} ms`)
}))

test('producers and consumers in 6 processes: every job once', { timeout: 60000 }, withTable({}, async (t, name) => {
  const consumers = [1, 2, 3].map(() => child(name, 'consumer'))
  assert.deepEqual(await Promise.all([0, 1, 2].map((w) => child(name, 'producer', w, 1000))), [0, 0, 0])
  t.pushMany('jobs', ['stop', 'stop', 'stop'])        // behind every job
  assert.deepEqual(await Promise.all(consumers), [0, 0, 0])
  const got = strings(t.lrange('got'))
  const expected = [0, 1, 2].flatMap((w) => Array.from({ length: 1000 }, (_, j) => `${w}:${j}`))
  assert.equal(got.length, expected.length)           // nothing doubled ...
  assert.deepEqual(got.sort(), expected.sort())       // ... nothing lost
  assert.equal(t.llen('jobs'), 0)
  assert.deepEqual(t.check(), [])
}))

test('moves from 4 processes at once are exact', { timeout: 60000 }, withTable({}, async (t, name) => {
  const n = 3000
  t.pushMany('a', Array.from({ length: n }, (_, i) => String(i)))
  assert.deepEqual(await Promise.all([0, 1, 2, 3].map((w) => child(name, 'mover', w, 1000))), [0, 0, 0, 0])
  const every = strings([...t.lrange('a'), ...t.lrange('b')])
  assert.equal(every.length, n)
  assert.deepEqual(every.sort(), Array.from({ length: n }, (_, i) => String(i)).sort())
  assert.deepEqual(t.check(), [])
}))
