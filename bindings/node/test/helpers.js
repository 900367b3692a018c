'use strict'
// Shared by the test files: every table a test file (and the processes and
// threads it starts) makes lives in one private directory ($SHMKV_DIR),
// removed when the file's process exits, pass or fail.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const rng = require('./rng')

const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()
const dir = fs.mkdtempSync(path.join(base, 'shmkv-node-test-'))
process.env.SHMKV_DIR = dir
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))

let serial = 0
function tableName (what = 't') {
  return `${what}-${process.pid}-${++serial}`
}

// An error that shmkv threw for errno name `code`.
function shmkvError (code) {
  return (e) => {
    assert.ok(e instanceof Error, 'an Error')
    assert.equal(e.code, code)
    assert.equal(typeof e.errno, 'number')
    assert.ok(e.errno < 0, 'errno is negative, as in Node')
    assert.match(e.message, new RegExp('^' + code + ': '))
    return true
  }
}

// A TypeError or RangeError with Node's code.
function argError (Class) {
  const code = Class === RangeError ? 'ERR_OUT_OF_RANGE' : /^ERR_INVALID_ARG_(TYPE|VALUE)$/
  return (e) => {
    assert.ok(e instanceof Class, `${Class.name}, got ${e && e.name}: ${e && e.message}`)
    if (code instanceof RegExp) assert.match(e.code, code)
    else assert.equal(e.code, code)
    return true
  }
}

module.exports = { dir, tableName, rng, shmkvError, argError }
