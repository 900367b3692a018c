'use strict'
// bench.js runs, at a tiny size, and reports what it measured (its own
// checks fail it if a get misses); the npm peers are optional there.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')
require('./helpers') // its tables go to this file's private $SHMKV_DIR

test('bench.js measures shmkv and a Map from 2 processes', { timeout: 60000 }, () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'bench.js'), '--keys', '500',
    '--seconds', '0.1', '--procs', '2', '--systems', 'shmkv,map', '--json'], { encoding: 'utf8' })
  const r = JSON.parse(out)
  for (const system of ['shmkv', 'map']) {
    for (const op of ['get', 'set']) {
      assert.ok(r.rows[system][op][2].opsPerSec > 0, `${system} ${op}`)
    }
  }
  assert.ok(r.calls['shmkv _noop(key) (no library call)'] > 0)
  assert.ok(r.calls['shmkv get(key) -> Buffer'] > 0)
})
