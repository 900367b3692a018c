'use strict'
// NearCache against a real redis-server and a real agent (shmkv-redis
// sync), both started per test in a private directory and stopped at its
// end (fixtures/near-servers.js).  Writes go through ioredis, as an
// application's would: the table learns of them from Redis.
const test = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: delay } = require('node:timers/promises')
const { NearCache } = require('..')
const { servers, HookedRedis, until, fill, settle, BOUND_MS } = require('./fixtures/near-servers')
const rng = require('./rng')
const { argError } = require('./helpers')

const b = (s) => Buffer.from(s, 'latin1')

test('a fill, then hits; values as Redis has them; lifetimes from PTTL and the caps', async (t) => {
  const f = await servers(t)
  const near = new NearCache(f.table, f.redis)
  await f.redis.set('n:a', b('\0\xffone'), 'PX', 60000)
  assert.deepEqual(await fill(f, near, 'n:a'), b('\0\xffone'))
  assert.deepEqual(f.table.get('n:a'), b('\0\xffone')) // Redis's bytes, for every process
  assert.ok(f.table.ttl('n:a') <= (await f.redis.pttl('n:a')) + 50, 'no longer than Redis keeps it')
  const counts = { ...near.counts }
  assert.deepEqual(await near.get(b('n:a')), b('\0\xffone'))
  assert.deepEqual(near.counts, { ...counts, table: counts.table + 1 })
  // no lifetime in Redis: the reader's cap, else none
  await f.redis.set('n:b', 'two')
  await fill(f, new NearCache(f.table, f.redis, { maxTtl: 500 }), 'n:b')
  assert.ok(f.table.ttl('n:b') > 0 && f.table.ttl('n:b') <= 500)
  await f.redis.set('n:c', 'three')
  await fill(f, near, 'n:c')
  assert.equal(f.table.ttl('n:c'), 0)
  // absent in Redis: null, nothing stored, the lease given back
  assert.equal(await near.get('n:none'), null)
  assert.equal(f.table.has('n:none'), false)
  const lease = f.table._lease('n:none', 1000)
  assert.ok(lease > 0n, 'the lease was not given back')
  f.table.delete('n:none') // voids it
})

test('the agent\'s --max-ttl caps a fill\'s lifetime', async (t) => {
  const f = await servers(t)
  assert.equal(await f.stop(f.agent), 0)
  f.agent = await f.startAgent('--max-ttl', '300')
  await f.redis.set('n:a', 'one', 'PX', 60000)
  await fill(f, new NearCache(f.table, f.redis, { maxTtl: 10000 }), 'n:a')
  assert.ok(f.table.ttl('n:a') > 0 && f.table.ttl('n:a') <= 300)
})

test('a write through ioredis is invalidated: the next gets see it', async (t) => {
  const f = await servers(t)
  const near = new NearCache(f.table, f.redis)
  await f.redis.set('n:k', 'old')
  await fill(f, near, 'n:k')
  assert.deepEqual(await near.get('n:k'), b('old'))
  await f.redis.set('n:k', 'new')
  await until(async () => (await near.get('n:k')).equals(b('new')), 'the new value', BOUND_MS)
  assert.deepEqual(await fill(f, near, 'n:k'), b('new'))
  await f.redis.append('n:k', 'er')
  await until(async () => (await near.get('n:k')).equals(b('newer')), 'the appended value', BOUND_MS)
  await f.redis.del('n:k')
  await until(async () => (await near.get('n:k')) === null, 'the delete', BOUND_MS)
  assert.equal(f.table.has('n:k'), false)
})

test('with the agent stopped, gets read Redis and store nothing', async (t) => {
  const f = await servers(t)
  const near = new NearCache(f.table, f.redis)
  await f.redis.set('n:k', 'v1')
  await fill(f, near, 'n:k')
  assert.equal(await f.stop(f.agent), 0, 'the agent\'s exit code on SIGTERM')
  assert.equal(f.table.has(NearCache.AGENT_KEY), false)
  await f.redis.set('n:k', 'v2')
  const before = near.counts.redis
  for (let i = 0; i < 3; i++) assert.deepEqual(await near.get('n:k'), b('v2'))
  assert.equal(near.counts.redis, before + 3)
  assert.equal(f.table.size, 0, 'a get stored something without an agent')
})

test('keys the agent does not track, and reserved keys, are read from Redis every time', async (t) => {
  const f = await servers(t)
  const near = new NearCache(f.table, f.redis)
  for (const key of [b('other:k'), b('\0n:reserved')]) {
    await f.redis.set(key, 'v')
    assert.deepEqual(await near.get(key), b('v'))
    assert.deepEqual(await near.get(key), b('v'))
    assert.equal(f.table.has(key), false)
  }
  assert.deepEqual(near.counts, { table: 0, filled: 0, redis: 4 })
})

test('a client\'s keyPrefix names the key in Redis and in the table', async (t) => {
  const f = await servers(t)
  const prefixed = f.client(undefined, { keyPrefix: 'n:' })
  const near = new NearCache(f.table, prefixed)
  await prefixed.set('p', 'one') // Redis's n:p
  await until(async () => (await near.get('p')).equals(b('one')) && f.table.has('n:p'), 'a fill of n:p', BOUND_MS)
  assert.deepEqual(f.table.get('n:p'), b('one'))
  await prefixed.set('p', 'two')
  await until(async () => (await near.get('p')).equals(b('two')), 'the new value', BOUND_MS)
})

test('Redis\'s errors reject the get and give the lease back', async (t) => {
  const f = await servers(t)
  const near = new NearCache(f.table, f.redis)
  await f.redis.rpush('n:list', 'a')
  await assert.rejects(near.get('n:list'), /WRONGTYPE/)
  assert.ok(f.table._lease('n:list', 1000) > 0n, 'the lease was not given back')
  f.table.delete('n:list')
  const impatient = f.client(undefined, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  await until(() => impatient.status === 'ready', 'a connection')
  await f.stop(f.server)
  await assert.rejects(new NearCache(f.table, impatient).get('n:gone'))
  assert.equal(f.table.has('n:gone'), false)
  assert.ok(f.table._lease('n:gone', 1000) > 0n, 'the lease was not given back')
  f.table.delete('n:gone')
})

test('bad arguments', async (t) => {
  const f = await servers(t)
  assert.throws(() => new NearCache({}, f.redis), argError(TypeError))
  assert.throws(() => new NearCache(f.table, {}), argError(TypeError))
  assert.throws(() => new NearCache(f.table, f.redis, { maxTtl: -1 }), argError(RangeError))
  assert.throws(() => new NearCache(f.table, f.redis, { leaseMs: 0 }), argError(RangeError))
  await assert.rejects(new NearCache(f.table, f.redis).get(42), argError(TypeError))
})

test('a fill that loses its lease to a write returns Redis\'s answer and stores nothing', async (t) => {
  const f = await servers(t)
  await f.redis.set('n:k', 'older')
  const writer = f.client()
  const hooked = f.client(HookedRedis)
  const voided = f.table.stats().leasesVoided
  // the write lands between the fill's Redis read and its store, and the
  // agent applies it before the store: the store must do nothing
  hooked.afterRead = async () => {
    await writer.set('n:k', 'newer')
    await until(() => f.table.stats().leasesVoided > voided, 'the lease voided', BOUND_MS)
  }
  const near = new NearCache(f.table, hooked)
  assert.deepEqual(await near.get('n:k'), b('older'))
  assert.deepEqual(near.counts, { table: 0, filled: 0, redis: 1 })
  assert.equal(f.table.has('n:k'), false)
  assert.deepEqual(await fill(f, new NearCache(f.table, f.redis), 'n:k'), b('newer'))
})

// A write of a random kind, as the C tests' race makes them.
function writeOnce (client, r, key) {
  const value = `v${r(1000)}`
  const kind = r(20)
  if (kind < 2) return client.del(key)
  if (kind < 4) return client.set(key, value, 'PX', 30 + r(400))
  if (kind === 4) return client.append(key, value)
  if (kind === 5) return client.pexpire(key, 30 + r(400))
  if (kind === 6) return client.persist(key)
  return client.set(key, value)
}

// Redis's value and PTTL of key (read first), against the table's; 1 if
// the table holds it.
async function checkKey (f, key, where) {
  const [[, value], [, pttl]] = await f.redis.pipeline().getBuffer(key).pttl(key).exec()
  const held = f.table.get(key)
  const left = f.table.ttl(key)
  if (held === undefined) return 0
  assert.deepEqual(held, value, `${where}: ${key} is stale in the table`)
  if (pttl >= 0) {
    // a filler stalled between its ttl's computation and its store gives
    // the copy that much longer
    assert.ok(left > 0, `${where}: ${key} never expires, Redis's in ${pttl} ms`)
    assert.ok(left <= pttl + 50, `${where}: ${key} outlives Redis's (${left} > ${pttl} ms)`)
  }
  return 1
}

test('fills racing with writes leave no stale value', async (t) => {
  const f = await servers(t)
  const keys = Array.from({ length: 6 }, (_, i) => `n:race:${i}`)
  const seed = (Math.random() * 2 ** 32) >>> 0
  const r = rng(seed)
  const writer = f.client()
  const fillers = [0, 1].map(() => {
    const c = f.client(HookedRedis)
    // half the fills wait up to 1 ms between Redis's answer and the store
    c.afterRead = () => r(2) ? delay(r(2)) : undefined
    return new NearCache(f.table, c)
  })
  let cached = 0
  for (let round = 0; round < 250; round++) {
    let stop = false
    const write = async () => { while (!stop) await writeOnce(writer, r, keys[r(keys.length)]) }
    const read = async (near) => {
      while (!stop) {
        await near.get(keys[r(keys.length)])
        await new Promise(setImmediate) // a hit settles at once: let the timers run
      }
    }
    const racers = [write(), ...fillers.map(read)]
    await delay(10)
    stop = true
    await Promise.all(racers)
    await settle(f)
    for (const key of keys) cached += await checkKey(f, key, `round ${round} (seed ${seed})`)
  }
  assert.ok(fillers.some((n) => n.counts.filled > 0), 'no fill')
  assert.ok(fillers.some((n) => n.counts.table > 0), 'no hit')
  assert.ok(cached > 0, 'no round ended with a key in the table')
  assert.ok(f.table.stats().leasesVoided > 0, 'no write ever raced with a fill')
})
