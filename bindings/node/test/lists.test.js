'use strict'
// Lists and queues: every list method and its errors, the table's other
// calls on lists, waits on the thread pool (woken by another process,
// timing out, ended by close() or a worker's end, never blocking the event
// loop), bounded pushes (refused at the bound, waiting for room, woken by
// a pop from another process), and producers, consumers and movers in
// child processes losing or doubling nothing.  The children are
// fixtures/list-worker.js.
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
  assert.equal(t.push('q', 'b'), true)
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
  assert.equal(t.pushMany('q', ['1', '2', '3']), true)
  t.pushMany('q', new Set(['0', '-1']), { end: 'head' })   // reversed, as one by one
  assert.equal(t.pushMany('q', []), true)
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
    () => t.move('list', 'pair'), () => t.push('pair', 'x', { maxLen: 3 }), () => t.pushMany('pair', ['x'], { maxLen: 3 })]
  const pairCalls = [() => t.get('list'), () => t.getString('list'), () => t.set('list', 'x'),
    () => t.add('list', 'x'), () => t.replace('list', 'x'), () => t.incr('list'), () => t.append('list', 'x'),
    () => t.take('list'), () => t.ttl('list'), () => t.expire('list', 5), () => t.getMany(['list']),
    () => t.getOrSet('list', () => 'x')]
  for (const call of [...listCalls, ...pairCalls]) assert.throws(call, shmkvError('EMEDIUMTYPE'), String(call))
  for (const call of [() => t.popAsync('pair', { timeout: 5000 }), () => t.popManyAsync('pair', 3),
    () => t.moveAsync('pair', 'list'), () => t.moveAsync('list', 'pair'), () => t.pushAsync('pair', 'x', { maxLen: 3 }),
    () => t.pushManyAsync('pair', ['x', 'y'], { maxLen: 3, timeout: 100 })]) {
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
  for (const call of [() => c.push('q', 'x'), () => c.pushMany('q', ['x']), () => c.pop('q'), () => c.move('q', 'r'),
    () => c.push('q', 'x', { maxLen: 2 })]) {
    assert.throws(call, shmkvError('EOPNOTSUPP'))
  }
  await assert.rejects(c.popAsync('q', { timeout: 100 }), shmkvError('EOPNOTSUPP'))
  await assert.rejects(c.pushAsync('q', 'x', { maxLen: 2 }), shmkvError('EOPNOTSUPP'))
  assert.deepEqual([c.llen('q'), c.lrange('q'), c.size], [0, [], 0])
  c.close()
  Table.unlink(name + 'c')

  const t = new Table(name)
  t.push('q', 'e')
  const r = new Table(name, { readonly: true })
  assert.equal(r.llen('q'), 1)
  assert.deepEqual(strings(r.lrange('q')), ['e'])
  assert.equal([...r.lists()].length, 1)
  for (const call of [() => r.push('q', 'x'), () => r.pop('q'), () => r.popMany('q', 1), () => r.move('q', 'd'),
    () => r.pushMany('q', ['x'], { maxLen: 5 })]) {
    assert.throws(call, shmkvError('EROFS'))
  }
  await assert.rejects(r.pushAsync('q', 'x', { maxLen: 5 }), shmkvError('EROFS'))
  r.close()
  t.close()
  for (const call of [() => t.push('q', 'x'), () => t.pop('q'), () => t.llen('q'), () => t.lrange('q')]) {
    assert.throws(call, shmkvError('EBADF'))
  }
  await assert.rejects(t.popAsync('q'), shmkvError('EBADF'))
  assert.throws(() => t.push('q', 'x', { maxLen: 5 }), shmkvError('EBADF'))
  await assert.rejects(t.pushAsync('q', 'x', { maxLen: 5 }), shmkvError('EBADF'))
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

test('bounded push and pushMany: true below the bound, false at it at once, nothing pushed', withTable({}, (t) => {
  assert.equal(t.push('q', 'a', { maxLen: 3 }), true)                // made if absent
  assert.equal(t.pushMany('q', ['b', 'c'], { maxLen: 3 }), true)     // up to the bound
  const start = Date.now()
  assert.equal(t.push('q', 'd', { maxLen: 3 }), false)               // at it: refused, no wait
  assert.equal(t.pushMany('q', ['d'], { maxLen: 3, timeout: 0 }), false)
  assert.equal(t.push('q', 'd', { maxLen: 2 }), false)               // past a smaller one
  assert.ok(Date.now() - start < 100, `took ${Date.now() - start} ms`)
  assert.deepEqual(strings(t.lrange('q')), ['a', 'b', 'c'])
  assert.equal(t.pushMany('q', ['d', 'e'], { maxLen: 4 }), false)    // all or nothing: one would fit
  assert.deepEqual(strings(t.lrange('q')), ['a', 'b', 'c'])
  assert.equal(t.pushMany('q', new Set(['d', 'e']), { maxLen: 5 }), true)
  assert.equal(t.pushMany('q', [], { maxLen: 1 }), true)             // nothing always fits
  assert.equal(t.push('q', 'f', { maxLen: Number.MAX_SAFE_INTEGER }), true)
  assert.equal(t.push('q', 'g'), true)                               // unbounded as ever
  assert.deepEqual(strings(t.lrange('q')), ['a', 'b', 'c', 'd', 'e', 'f', 'g'])
  assert.equal(t.push('q', 'h', { maxLen: 7 }), false)
  assert.equal(String(t.pop('q')), 'a')                              // a pop makes room ...
  assert.equal(t.push('q', 'h', { maxLen: 7 }), true)                // ... for one more
  assert.equal(t.push('q', 'i', { maxLen: 7 }), false)
  assert.equal(t.llen('q'), 7)
}))

test('bounded pushes at the head: reversed as ever, the same bound', withTable({}, async (t) => {
  assert.equal(t.push('h', 'b', { end: 'head', maxLen: 2 }), true)
  assert.equal(t.push('h', 'a', { end: 'head', maxLen: 2 }), true)
  assert.equal(t.push('h', 'z', { end: 'head', maxLen: 2 }), false)
  assert.deepEqual(strings(t.lrange('h')), ['a', 'b'])
  assert.equal(t.pushMany('m', ['1', '2', '3'], { end: 'head', maxLen: 3 }), true)
  assert.equal(t.pushMany('m', ['0'], { end: 'head', maxLen: 3 }), false)
  assert.deepEqual(strings(t.lrange('m')), ['3', '2', '1'])
  const waiting = t.pushAsync('h', 'new', { end: 'head', maxLen: 2, timeout: 5000 })
  setTimeout(() => t.pop('h', { end: 'tail' }), 50)                  // room, at the other end
  assert.equal(await waiting, true)
  assert.deepEqual(strings(t.lrange('h')), ['new', 'a'])
  const many = t.pushManyAsync('m', ['4', '5'], { end: 'head', maxLen: 3, timeout: 5000 })
  setTimeout(() => t.popMany('m', 2, { end: 'tail' }), 50)
  assert.equal(await many, true)
  assert.deepEqual(strings(t.lrange('m')), ['5', '4', '3'])
}))

test('pushAsync and pushManyAsync: at once with room, else false after about their timeout, the event loop free',
  withTable({}, async (t) => {
    t.pushMany('q', ['1', '2'])
    assert.equal(await t.pushAsync('q', '3', { maxLen: 3 }), true)   // room: at once
    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    try {
      for (const [call, ms] of [[() => t.pushAsync('q', 'x', { maxLen: 3, timeout: 200 }), 200],
        [() => t.pushManyAsync('q', ['x', 'y'], { maxLen: 4, timeout: 200 }), 200],  // one would fit: not enough
        [() => t.pushAsync('q', 'x', { maxLen: 3, timeout: 600 }), 600]]) {    // over several slices
        const start = Date.now()
        ticks = 0
        assert.equal(await call(), false)
        const took = Date.now() - start
        assert.ok(took >= ms - 50 && took < ms + 1800, `took ${took} ms`)
        assert.ok(ticks >= 5, `the event loop ran ${ticks} times meanwhile`)
      }
    } finally {
      clearInterval(timer)
    }
    const start = Date.now()
    assert.equal(await t.pushAsync('q', 'x', { maxLen: 3, timeout: 0 }), false)
    assert.ok(Date.now() - start < 100)
    assert.deepEqual(strings(t.lrange('q')), ['1', '2', '3'])         // nothing pushed by any of them
    assert.equal(await t.pushManyAsync('q', ['4'], { maxLen: 4, timeout: 0 }), true)
    assert.equal(await t.pushManyAsync('q', [], { maxLen: 1 }), true)
    assert.deepEqual(strings(t.lrange('q')), ['1', '2', '3', '4'])
  }))

test('a bounded pushAsync waiting for ever is woken by a pop from another process', { timeout: 30000 },
  withTable({}, async (t, name) => {
    t.pushMany('bounded', ['0', '1', '2'])
    let most = 0
    const timer = setInterval(() => { most = Math.max(most, t.llen('bounded')) }, 2)
    try {
      let start = Date.now()
      let popper = child(name, 'popLater', 400, 3, 1)                 // pops '0' after 400 ms, finding 3
      assert.equal(await t.pushAsync('bounded', '3', { maxLen: 3 }), true)   // for ever
      let took = Date.now() - start
      assert.ok(took >= 350 && took < 5000, `took ${took} ms`)
      assert.equal(await popper, 0)
      assert.deepEqual(strings(t.lrange('bounded')), ['1', '2', '3'])
      // two elements wait for room for both: the first pop is not enough
      t.delete('bounded')
      t.pushMany('bounded', ['0', '1', '2'])
      start = Date.now()
      popper = child(name, 'popLater', 300, 3, 2)                     // pops '0', then '1' 100 ms later
      assert.equal(await t.pushManyAsync('bounded', ['3', '4'], { maxLen: 3, timeout: Infinity }), true)
      took = Date.now() - start
      assert.ok(took >= 350 && took < 5000, `took ${took} ms`)
      assert.equal(await popper, 0)
      assert.deepEqual(strings(t.lrange('bounded')), ['2', '3', '4'])
    } finally {
      clearInterval(timer)
    }
    assert.equal(most, 3, 'the list filled up to maxLen and never passed it')
  }))

test('bounded producers in 3 processes and a consumer: the list never past maxLen, every job once, in order',
  { timeout: 60000 }, withTable({}, async (t, name) => {
    const max = 4
    const count = 300
    const producers = [0, 1, 2].map((w) => child(name, 'boundedProducer', w, count, max))
    const got = []
    let most = 0
    while (got.length < 3 * count) {
      const n = t.llen('bq')
      assert.ok(n <= max, `${n} elements on a list of maxLen ${max}`)
      most = Math.max(most, n)
      const v = await t.popAsync('bq', { timeout: 30000 })
      assert.ok(v !== undefined, 'starved')
      got.push(String(v))
    }
    assert.deepEqual(await Promise.all(producers), [0, 0, 0])
    assert.ok(most <= max)
    assert.equal(t.llen('bq'), 0)
    for (const w of [0, 1, 2]) {                                     // each producer's jobs, once and in order
      assert.deepEqual(got.filter((j) => j.startsWith(`${w}:`)), Array.from({ length: count }, (_, i) => `${w}:${i}`))
    }
    assert.deepEqual(t.check(), [])
  }))

test('a push wait pushes the values as they were passed; close() ends it with EBADF, nothing pushed',
  withTable({}, async (t, name) => {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
    for (const popAfter of [100, 400]) {                             // in the first wait slice, and a later one
      t.delete('full')
      t.push('full', 'x')
      const b = Buffer.from('orig')
      const view = new Uint8Array([111, 107])                        // 'ok'
      const waiting = t.pushManyAsync('full', [b, view, 'str'], { maxLen: 3 })
      b.fill('!')                                                    // changed ...
      structuredClone(view.buffer, { transfer: [view.buffer] })      // ... and detached meanwhile
      await sleep(popAfter)
      assert.deepEqual(strings(t.lrange('full')), ['x'])
      assert.equal(String(t.pop('full')), 'x')
      assert.equal(await waiting, true)
      assert.deepEqual(strings(t.lrange('full')), ['orig', 'ok', 'str'])
    }

    const u = new Table(name)
    const waiting = u.pushAsync('full', 'never', { maxLen: 3 })
    const start = Date.now()
    setTimeout(() => u.close(), 100)
    await assert.rejects(waiting, shmkvError('EBADF'))
    assert.ok(Date.now() - start < 2000)
    t.pop('full')                                                    // room, after the wait's end
    await sleep(300)
    assert.deepEqual(strings(t.lrange('full')), ['ok', 'str'])
  }))

test('bounded pushes: bad maxLen and the like throw, or reject from the async forms, and change nothing',
  withTable({}, async (t) => {
    t.push('q', 'e')
    const cases = [
      [() => t.push('q', 'x', { maxLen: 0 }), RangeError], [() => t.push('q', 'x', { maxLen: -1 }), RangeError],
      [() => t.push('q', 'x', { maxLen: 1.5 }), RangeError], [() => t.push('q', 'x', { maxLen: NaN }), RangeError],
      [() => t.push('q', 'x', { maxLen: Infinity }), RangeError], [() => t.push('q', 'x', { maxLen: 2 ** 53 }), RangeError],
      [() => t.push('q', 'x', { maxLen: '3' }), TypeError], [() => t.push('q', 'x', { maxLen: 3n }), TypeError],
      [() => t.push('q', 'x', { maxLen: null }), TypeError], [() => t.pushMany('q', ['a'], { maxLen: 0 }), RangeError],
      [() => t.pushMany('q', ['a', 'b', 'c'], { maxLen: 2 }), RangeError],   // could never fit
      [() => t.pushMany('q', new Set(['a', 'b']), { maxLen: 1 }), RangeError],
      [() => t.push('q', 'x', { maxLen: 5, timeout: 100 }), TypeError],       // never waits
      [() => t.pushMany('q', ['x'], { maxLen: 5, timeout: 100 }), TypeError],
      [() => t.push('q', 'x', { maxLen: 5, end: 'left' }), TypeError], [() => t.push('q', 42, { maxLen: 5 }), TypeError],
      [() => t.pushMany('q', ['a', 5], { maxLen: 5 }), TypeError], [() => t.push('', 'x', { maxLen: 5 }), RangeError]
    ]
    for (const [call, Class] of cases) assert.throws(call, argError(Class), String(call))
    const asyncCases = [
      [() => t.pushAsync('q', 'x'), TypeError], [() => t.pushAsync('q', 'x', {}), TypeError],   // maxLen needed
      [() => t.pushAsync('q', 'x', { timeout: 100 }), TypeError], [() => t.pushManyAsync('q', ['x']), TypeError],
      [() => t.pushAsync('q', 'x', { maxLen: 0 }), RangeError], [() => t.pushAsync('q', 'x', { maxLen: -2 }), RangeError],
      [() => t.pushAsync('q', 'x', { maxLen: 2.5 }), RangeError], [() => t.pushAsync('q', 'x', { maxLen: '2' }), TypeError],
      [() => t.pushManyAsync('q', ['a', 'b'], { maxLen: 1 }), RangeError],
      [() => t.pushAsync('q', 'x', { maxLen: 5, timeout: -1 }), RangeError],
      [() => t.pushAsync('q', 'x', { maxLen: 5, timeout: 1.5 }), RangeError],
      [() => t.pushAsync('q', 'x', { maxLen: 5, timeout: '1' }), TypeError],
      [() => t.pushAsync('q', 'x', { maxLen: 5, end: 'x' }), TypeError], [() => t.pushAsync('q', 'x', 5), TypeError],
      [() => t.pushManyAsync('q', 'abc', { maxLen: 5 }), TypeError], [() => t.pushAsync('q', 42, { maxLen: 5 }), TypeError],
      [() => t.pushAsync('', 'x', { maxLen: 5 }), RangeError]
    ]
    for (const [call, Class] of asyncCases) {
      const p = call()
      assert.ok(p instanceof Promise, String(call))                  // rejects, never throws
      await assert.rejects(p, argError(Class), String(call))
    }
    assert.deepEqual(strings(t.lrange('q')), ['e'])
  }))
