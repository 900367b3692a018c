'use strict'
// Opening, closing and removing tables: every option and its errors.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Table, MIN_BYTES, KEY_MAX, VAL_MAX, TTL_MAX, version } = require('..')
const { dir, tableName, shmkvError } = require('./helpers')

test('a table is created by default, in $SHMKV_DIR, and keeps its pairs', () => {
  const name = tableName()
  const t = new Table(name)
  assert.equal(t.name, name)
  assert.equal(t.readonly, false)
  assert.ok(fs.existsSync(path.join(dir, name)))
  t.set('k', 'v')
  t.close()
  const again = new Table(name, { create: false })
  assert.equal(again.getString('k'), 'v')
  again.close()
  assert.equal(Table.unlink(name), true)
  assert.equal(Table.unlink(name), false)
  assert.equal(fs.existsSync(path.join(dir, name)), false)
})

test('create: false on a missing table throws ENOENT with the name', () => {
  const name = tableName()
  assert.throws(() => new Table(name, { create: false }), (e) => {
    shmkvError('ENOENT')(e)
    assert.equal(e.syscall, 'shmkv_open')
    assert.equal(e.path, name)
    return true
  })
})

test('exclusive fails with EEXIST when the table exists', () => {
  const name = tableName()
  const t = new Table(name, { exclusive: true })
  assert.throws(() => new Table(name, { exclusive: true }), shmkvError('EEXIST'))
  t.close()
  Table.unlink(name)
})

test('a name with a slash is a path', () => {
  const file = path.join(dir, tableName('path'))
  const t = new Table(file)
  t.set('a', 'b')
  t.close()
  assert.ok(fs.existsSync(file))
  Table.unlink(file)
})

test('mode sets the new file\'s permission bits exactly', () => {
  const name = tableName()
  const t = new Table(name, { mode: 0o640 })
  assert.equal(fs.statSync(path.join(dir, name)).mode & 0o777, 0o640)
  t.close()
  Table.unlink(name)
})

test('maxBytes (number or bigint), stats and cache reach the new table', () => {
  const a = tableName()
  const t = new Table(a, { maxBytes: 1n << 20n, stats: true })
  const s = t.stats()
  assert.equal(s.maxBytes, 1 << 20)
  assert.equal(s.readStats, true)
  assert.equal(s.cache, false)
  t.get('missing')
  t.set('there', 'x')
  t.get('there')
  assert.equal(t.stats().hits, 1)
  assert.equal(t.stats().misses, 1)
  t.close()
  const b = tableName()
  const c = new Table(b, { cache: true, maxBytes: MIN_BYTES })
  assert.equal(c.stats().cache, true)
  c.close()
  Table.unlink(a)
  Table.unlink(b)
})

test('a cache without maxBytes is refused by the library with EINVAL', () => {
  assert.throws(() => new Table(tableName(), { cache: true }), shmkvError('EINVAL'))
})

test('an existing table keeps its own mode and limits', () => {
  const name = tableName()
  const t = new Table(name, { maxBytes: 1 << 20 })
  const u = new Table(name, { maxBytes: 8 << 20, cache: true })
  assert.equal(u.stats().maxBytes, 1 << 20)
  assert.equal(u.stats().cache, false)
  t.close()
  u.close()
  Table.unlink(name)
})

test('a file that is not a table gives EBADMSG', () => {
  const name = tableName('junk')
  fs.writeFileSync(path.join(dir, name), Buffer.alloc(8192, 7))
  assert.throws(() => new Table(name), shmkvError('EBADMSG'))
  fs.unlinkSync(path.join(dir, name))
})

test('a directory gives EISDIR', () => {
  const name = tableName('dir')
  fs.mkdirSync(path.join(dir, name))
  assert.throws(() => new Table(name), shmkvError('EISDIR'))
  fs.rmdirSync(path.join(dir, name))
})

test('close is idempotent; a closed table throws EBADF from every method', () => {
  const name = tableName()
  const t = new Table(name)
  t.set('k', 'v')
  t.close()
  t.close()
  const calls = [
    () => t.get('k'), () => t.getString('k'), () => t.has('k'), () => t.set('k', 'v'),
    () => t.add('k', 'v'), () => t.replace('k', 'v'), () => t.delete('k'), () => t.take('k'),
    () => t.incr('n'), () => t.append('k', 'v'), () => t.ttl('k'), () => t.expire('k', 5),
    () => t.getMany(['k']), () => t.setMany([['k', 'v']]), () => t.clear(), () => t.stats(),
    () => t.check(), () => t.size, () => [...t], () => t.getOrSet('k', () => 'v')
  ]
  for (const call of calls) assert.throws(call, shmkvError('EBADF'))
  Table.unlink(name)
})

test('the module exports the library\'s limits and version', () => {
  assert.equal(KEY_MAX, 65535)
  assert.equal(VAL_MAX, 2 ** 32 - 1)
  assert.equal(TTL_MAX, 2 ** 46)
  assert.equal(MIN_BYTES, 256 * 1024)
  assert.match(version, /^\d+\.\d+\.\d+$/)
})
