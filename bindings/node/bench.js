#!/usr/bin/env node
'use strict'
// bench.js - gets and sets of small values from 1 and 2 processes: shmkv
// against what a Node cluster uses instead, in one run.
//
//   node bench.js [--keys N] [--seconds S] [--value-bytes B] [--procs 1,2]
//                 [--systems shmkv,map,lru,ipc,redis] [--runs R] [--json]
//
// Peers (each skipped, with a note, when it is not there):
//   map    a Map in each process (not shared: each process has its own)
//   lru    lru-cache (npm) in each process (not shared either)
//   ipc    a cache in the primary process that workers reach over the
//          cluster's IPC channel, as lru-cache-for-clusters-as-promised,
//          memored or cluster-shared-memory do: a request message with an
//          id, the primary's lru-cache answers, a promise resolves
//   redis  redis-server through the redis npm client: $REDIS_URL, else a
//          private redis-server on a Unix socket when one is installed
// Workers are cluster workers released together; each runs one operation
// for S seconds over N keys in a shuffled order, one request at a time
// (the async peers await each), and checks that every get hits.  Then the
// per-call costs in this process: the addon's no-op call (the method call,
// the handle and the key's conversion, no library call) beside get, set
// and Map.get.  Each figure is the median of R runs (default 1).
// `make bench-node` installs the npm peers and runs this.
const cluster = require('node:cluster')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { parseArgs } = require('node:util')
const { performance } = require('node:perf_hooks')
const { Table } = require('.')

// An npm peer, loaded only by the processes that use it (the redis client
// takes most of a second to load); null when it is not installed.
function optional (name) {
  try {
    return require(name)
  } catch {
    return null
  }
}

const keyOf = (i) => 'key:' + i
const shuffled = (n) => {
  const a = Array.from({ length: n }, (_, i) => i)
  let s = 12345
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]]
  }
  return a.map(keyOf)
}

// A client of one system in a worker: get(k) and set(k, v), sync or async.
const clients = {
  shmkv (task) {
    const t = new Table(task.table, { create: false })
    return { get: (k) => t.getString(k), set: (k, v) => t.set(k, v), close: () => t.close() }
  },
  map (task) {
    const m = new Map()
    for (let i = 0; i < task.keys; i++) m.set(keyOf(i), task.value)
    return { get: (k) => m.get(k), set: (k, v) => m.set(k, v) }
  },
  lru (task) {
    const c = new (optional('lru-cache').LRUCache)({ max: 2 * task.keys })
    for (let i = 0; i < task.keys; i++) c.set(keyOf(i), task.value)
    return { get: (k) => c.get(k), set: (k, v) => c.set(k, v) }
  },
  ipc () {
    let next = 0
    const pending = new Map()
    process.on('message', (m) => {
      if (!m.a) return
      pending.get(m.a[0])(m.a[1])
      pending.delete(m.a[0])
    })
    const call = (op, k, v) => new Promise((resolve) => {
      const id = next++
      pending.set(id, resolve)
      process.send({ q: [id, op, k, v] })
    })
    return { async: true, get: (k) => call('get', k), set: (k, v) => call('set', k, v) }
  },
  async redis (task) {
    const c = optional('redis').createClient(task.redis)
    await c.connect()
    return { async: true, get: (k) => c.get(k), set: (k, v) => c.set(k, v), close: () => c.quit() }
  }
}

// Runs op for task.seconds; the number of operations and of missed gets.
// The synchronous systems and the asynchronous ones each have their own
// loop, so that neither pays for the other's way of calling.
function measureSync (c, task, keys) {
  const end = performance.now() + task.seconds * 1000
  let ops = 0
  let misses = 0
  let i = task.id * 7919
  do {
    for (let j = 0; j < 1024; j++) {
      const k = keys[i++ % keys.length]
      if (task.op === 'set') c.set(k, task.value)
      else if (c.get(k) === undefined) misses++
    }
    ops += 1024
  } while (performance.now() < end)
  return { ops, misses, seconds: task.seconds }
}

async function measureAsync (c, task, keys) {
  const end = performance.now() + task.seconds * 1000
  let ops = 0
  let misses = 0
  let i = task.id * 7919
  do {
    for (let j = 0; j < 64; j++) {
      const k = keys[i++ % keys.length]
      if (task.op === 'set') await c.set(k, task.value)
      else if ((await c.get(k)) == null) misses++
    }
    ops += 64
  } while (performance.now() < end)
  return { ops, misses, seconds: task.seconds }
}

async function worker () {
  const task = JSON.parse(process.env.BENCH_TASK)
  const c = await clients[task.system](task)
  const go = new Promise((resolve) => process.on('message', (m) => m.go && resolve()))
  process.send({ ready: true })
  await go
  const keys = shuffled(task.keys)
  const result = c.async ? await measureAsync(c, task, keys) : measureSync(c, task, keys)
  if (c.close) await c.close()
  process.send({ result }, () => process.exit(0))
}

// Forks procs workers for system/op, releases them together, and sums
// their operations per second; the primary answers the ipc peer's requests
// from store.
function runWorkers (task, procs, store) {
  return new Promise((resolve, reject) => {
    const results = []
    let ready = 0
    let exited = 0
    const workers = []
    for (let id = 0; id < procs; id++) {
      const w = cluster.fork({ BENCH_TASK: JSON.stringify({ ...task, id }) })
      w.on('message', (m) => {
        if (m.q) {
          const [qid, op, k, v] = m.q
          w.send({ a: [qid, op === 'get' ? store.get(k) : (store.set(k, v), true)] })
        } else if (m.ready && ++ready === procs) {
          for (const x of workers) x.send({ go: true })
        } else if (m.result) {
          results.push(m.result)
        }
      })
      w.on('exit', (code) => {
        if (code !== 0) reject(new Error(`${task.system} worker exited ${code}`))
        else if (++exited === procs) resolve(sum(results))
      })
      workers.push(w)
    }
  })
}

// The element whose by() is the median.
function median (a, by) {
  return a.slice().sort((x, y) => by(x) - by(y))[(a.length - 1) >> 1]
}

function sum (results) {
  const ops = results.reduce((a, r) => a + r.ops / r.seconds, 0)
  const misses = results.reduce((a, r) => a + r.misses, 0)
  return { opsPerSec: ops, misses }
}

// A private redis-server on a Unix socket, or $REDIS_URL; null if neither.
async function startRedis () {
  if (process.env.REDIS_URL) return { options: { url: process.env.REDIS_URL }, stop () {} }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'))
  const sock = path.join(dir, 'redis.sock')
  const server = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' })
  const failed = await new Promise((resolve) => {
    server.on('error', () => resolve(true))
    const poll = setInterval(() => { if (fs.existsSync(sock)) { clearInterval(poll); resolve(false) } }, 20)
    setTimeout(() => { clearInterval(poll); resolve(true) }, 5000)
  })
  const stop = () => { server.kill(); fs.rmSync(dir, { recursive: true, force: true }) }
  process.on('exit', stop)
  if (failed) { stop(); return null }
  return { options: { socket: { path: sock } }, stop }
}

// What each system needs in the primary: the table, the ipc store, the
// Redis server, loaded with every key; null (and why) when it is missing.
async function setUp (system, o) {
  const pairs = Array.from({ length: o.keys }, (_, i) => [keyOf(i), o.value])
  if (system === 'shmkv') {
    const table = `bench-node-${process.pid}`
    const t = new Table(table, { expectedKeys: o.keys })
    t.setMany(pairs)
    t.close()
    return { task: { table }, down: () => Table.unlink(table) }
  }
  if (system === 'map') return { task: {} }
  const LRU = optional('lru-cache')
  if ((system === 'lru' || system === 'ipc') && !LRU) return { skip: 'lru-cache is not installed (make bench-node)' }
  if (system === 'lru') return { task: {} }
  if (system === 'ipc') {
    const store = new LRU.LRUCache({ max: 2 * o.keys })
    for (const [k, v] of pairs) store.set(k, v)
    return { task: {}, store }
  }
  const redis = optional('redis')
  if (!redis) return { skip: 'the redis client is not installed (make bench-node)' }
  const server = await startRedis()
  if (!server) return { skip: 'no redis-server here (and no REDIS_URL)' }
  const c = redis.createClient(server.options)
  await c.connect()
  for (let i = 0; i < pairs.length; i += 1000) await c.mSet(pairs.slice(i, i + 1000).flat())
  await c.quit()
  return { task: { redis: server.options }, down: server.stop }
}

// ns per call in this process, over about ms milliseconds.
function perCall (fn, ms) {
  const keys = shuffled(1000)
  let n = 0
  const t0 = performance.now()
  let t1
  do {
    for (let j = 0; j < 10000; j++) fn(keys[j % 1000])
    n += 10000
    t1 = performance.now()
  } while (t1 - t0 < ms)
  return ((t1 - t0) * 1e6) / n
}

function overhead (o) {
  const name = `bench-node-call-${process.pid}`
  const t = new Table(name)
  const map = new Map()
  for (let i = 0; i < 1000; i++) { t.set(keyOf(i), o.value); map.set(keyOf(i), o.value) }
  const buf = Buffer.from(keyOf(1))
  const ms = Math.min(500, 1000 * o.seconds)
  const r = {
    'shmkv _noop(key) (no library call)': perCall((k) => t._noop(k), ms),
    'shmkv _noop(Buffer key)': perCall(() => t._noop(buf), ms),
    'shmkv has(key)': perCall((k) => t.has(k), ms),
    'shmkv get(key) -> Buffer': perCall((k) => t.get(k), ms),
    'shmkv getString(key)': perCall((k) => t.getString(k), ms),
    'shmkv set(key, value)': perCall((k) => t.set(k, o.value), ms),
    'Map get(key)': perCall((k) => map.get(k), ms)
  }
  t.close()
  Table.unlink(name)
  return r
}

const fmt = (x) => x >= 1e6 ? (x / 1e6).toFixed(2) + ' M' : (x / 1e3).toFixed(1) + ' k'

function report (o, rows, skipped, calls) {
  const out = [`${o.keys} keys, ${o.valueBytes}-byte values, ${o.seconds} s per run, median of ${o.runs}, ` +
    `${os.cpus().length} CPUs (${os.cpus()[0].model.trim()}), Node ${process.version}`, '',
    '| system | op | ' + o.procs.map((p) => `${p} proc${p > 1 ? 's' : ''} ops/s`).join(' | ') + ' |',
    '|---|---|' + o.procs.map(() => '---:').join('|') + '|']
  for (const [system, ops] of Object.entries(rows)) {
    for (const [op, byProcs] of Object.entries(ops)) {
      out.push(`| ${system} | ${op} | ` + o.procs.map((p) => fmt(byProcs[p].opsPerSec)).join(' | ') + ' |')
    }
  }
  for (const peer of ['ipc', 'redis']) {
    if (!rows.shmkv || !rows[peer]) continue
    const ratios = o.procs.map((p) => (rows.shmkv.get[p].opsPerSec / rows[peer].get[p].opsPerSec).toFixed(0) + '×')
    out.push('', `shmkv gets / ${peer} gets: ${ratios.join(', ')} (${o.procs.join(', ')} processes)`)
  }
  for (const [s, why] of Object.entries(skipped)) out.push(`skipped ${s}: ${why}`)
  out.push('', '| per call, 1 process | ns |', '|---|---:|')
  for (const [what, ns] of Object.entries(calls)) out.push(`| ${what} | ${ns.toFixed(0)} |`)
  return out.join('\n')
}

async function primary () {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '2' },
      'value-bytes': { type: 'string', default: '32' },
      procs: { type: 'string', default: '1,2' },
      systems: { type: 'string', default: 'shmkv,map,lru,ipc,redis' },
      runs: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false }
    }
  })
  const o = {
    keys: Number(values.keys),
    seconds: Number(values.seconds),
    valueBytes: Number(values['value-bytes']),
    procs: values.procs.split(',').map(Number),
    systems: values.systems.split(','),
    runs: Number(values.runs)
  }
  o.value = 'v'.repeat(o.valueBytes)
  const rows = {}
  const skipped = {}
  for (const system of o.systems) {
    if (!clients[system]) throw new Error('unknown system ' + system)
    const s = await setUp(system, o)
    if (s.skip) { skipped[system] = s.skip; continue }
    rows[system] = {}
    for (const op of ['get', 'set']) {
      rows[system][op] = {}
      for (const procs of o.procs) {
        const task = { ...s.task, system, op, keys: o.keys, seconds: o.seconds, value: o.value }
        const runs = []
        for (let i = 0; i < o.runs; i++) {
          const r = await runWorkers(task, procs, s.store)
          if (op === 'get' && r.misses) throw new Error(`${system}: ${r.misses} gets missed`)
          runs.push(r)
        }
        rows[system][op][procs] = median(runs, (r) => r.opsPerSec)
      }
    }
    if (s.down) s.down()
  }
  const callRuns = Array.from({ length: o.runs }, () => overhead(o))
  const calls = {}
  for (const what of Object.keys(callRuns[0])) calls[what] = median(callRuns, (c) => c[what])[what]
  console.log(values.json ? JSON.stringify({ options: o, rows, skipped, calls }, null, 2) : report(o, rows, skipped, calls))
}

if (cluster.isPrimary) {
  primary().catch((e) => { console.error(e); process.exit(1) })
} else {
  worker().catch((e) => { console.error(e); process.exit(1) })
}
