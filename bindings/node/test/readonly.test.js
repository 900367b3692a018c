'use strict'
// Read-only tables: every read works, every write throws EROFS.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Table } = require('..')
const { tableName, shmkvError } = require('./helpers')

test('a read-only handle reads, iterates and checks, and refuses every write', () => {
  const name = tableName()
  const w = new Table(name)
  w.setMany([['a', '1'], ['b', '2']])
  w.set('t', 'x', { ttl: 60000 })
  const ro = new Table(name, { readonly: true, create: false })
  assert.equal(ro.readonly, true)
  assert.equal(ro.getString('a'), '1')
  assert.deepEqual(ro.get(Buffer.from('b')), Buffer.from('2'))
  assert.equal(ro.has('a'), true)
  assert.deepEqual(ro.getMany(['a', 'zz']), [Buffer.from('1'), undefined])
  assert.ok(ro.ttl('t') > 0)
  assert.equal(ro.size, 3)
  assert.equal(new Set([...ro.keys()].map(String)).size, 3)
  assert.deepEqual(ro.check(), [])
  assert.equal(ro.stats().keys, 3)
  const writes = [
    () => ro.set('a', 'x'), () => ro.set('a', 'x', { ifAbsent: true }), () => ro.add('n', 'x'),
    () => ro.replace('a', 'x'), () => ro.delete('a'), () => ro.take('a'), () => ro.incr('c'),
    () => ro.append('a', 'x'), () => ro.expire('a', 10), () => ro.clear(),
    () => ro.setMany([['a', 'x']])
  ]
  for (const write of writes) assert.throws(write, shmkvError('EROFS'))
  assert.equal(ro.getString('a'), '1')
  // the writer's later writes are visible to the reader
  w.set('a', 'changed')
  assert.equal(ro.getString('a'), 'changed')
  ro.close()
  w.close()
  Table.unlink(name)
})
