'use strict'
// Argument checks with Node's own error classes and codes: TypeError
// (ERR_INVALID_ARG_TYPE for a wrong type, ERR_INVALID_ARG_VALUE for
// options that contradict each other) and RangeError (ERR_OUT_OF_RANGE).
const native = require('./native')

const NONE = Object.freeze({})

function typeError (msg, code = 'ERR_INVALID_ARG_TYPE') {
  const e = new TypeError(msg)
  e.code = code
  return e
}

function rangeError (msg) {
  const e = new RangeError(msg)
  e.code = 'ERR_OUT_OF_RANGE'
  return e
}

function describe (v) {
  return v === null ? 'null' : typeof v
}

// An options object (undefined: none).
function options (o, name = 'options') {
  if (o === undefined) return NONE
  if (o === null || typeof o !== 'object') throw typeError(`${name} must be an object; got ${describe(o)}`)
  return o
}

function bool (v, name) {
  if (v === undefined) return false
  if (typeof v !== 'boolean') throw typeError(`${name} must be a boolean; got ${describe(v)}`)
  return v
}

// An integer from min to max (a number, or a bigint where big is true).
function integer (v, name, min, max, big = false) {
  if (v === undefined) return 0
  if (big && typeof v === 'bigint') v = Number(v) // beyond max either way if inexact
  if (typeof v !== 'number') throw typeError(`${name} must be a number; got ${describe(v)}`)
  if (!Number.isInteger(v) || v < min || v > max) {
    throw rangeError(`${name} must be an integer from ${min} to ${max}; got ${v}`)
  }
  return v
}

// A lifetime in ms, 0 for none.
function ttl (v, name = 'ttl') {
  return integer(v, name, 0, native.TTL_MAX)
}

// The ttl option of an options object.
function ttlOption (opts) {
  return opts === undefined ? 0 : ttl(options(opts).ttl)
}

// A list's end: 'head' or 'tail' as the library's number; dflt if undefined.
function end (v, name, dflt) {
  if (v === undefined) return dflt
  if (v === 'head') return native.HEAD
  if (v === 'tail') return native.TAIL
  if (typeof v !== 'string') throw typeError(`${name} must be 'head' or 'tail'; got ${describe(v)}`)
  throw typeError(`${name} must be 'head' or 'tail'; got '${v}'`, 'ERR_INVALID_ARG_VALUE')
}

// How long a wait may last, ms: undefined or Infinity for ever (-1).
function timeout (v) {
  if (v === undefined || v === Infinity) return -1
  return integer(v, 'timeout', 0, Number.MAX_SAFE_INTEGER)
}

// A list index: a safe integer, negative from the tail.
function index (v, name, dflt) {
  if (v === undefined) return dflt
  return integer(v, name, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
}

// The options of a call that never waits: a timeout there is a mistake.
function noWait (o, call) {
  if (o.timeout !== undefined && o.timeout !== 0) {
    throw typeError(`${call} never waits: use ${call}Async for a timeout`, 'ERR_INVALID_ARG_VALUE')
  }
  return o
}

// Keys or entries: an array or another iterable (not a string).
function list (v, name) {
  if (Array.isArray(v)) return v
  if (v === null || typeof v !== 'object' || typeof v[Symbol.iterator] !== 'function') {
    throw typeError(`${name} must be an array or another iterable; got ${describe(v)}`)
  }
  return Array.from(v)
}

// setMany's entries: an iterable of [key, value] (a Map, an array of
// pairs) or a plain object's own properties, flattened to [k0, v0, ...].
function flatEntries (entries) {
  const pairs = entries !== null && typeof entries === 'object' && typeof entries[Symbol.iterator] !== 'function'
    ? Object.entries(entries)
    : list(entries, 'entries')
  const flat = new Array(2 * pairs.length)
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]
    if (p === null || typeof p !== 'object') throw typeError(`entries[${i}] must be a [key, value] pair; got ${describe(p)}`)
    flat[2 * i] = p[0]
    flat[2 * i + 1] = p[1]
  }
  return flat
}

// A value as getOrSet returns it, or a key as NearCache reads it: a Buffer.
function asBuffer (v, what = 'compute must return') {
  if (Buffer.isBuffer(v)) return v
  if (typeof v === 'string') return Buffer.from(v)
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  throw typeError(`${what} a string, Buffer or Uint8Array; got ${describe(v)}`)
}

module.exports = {
  typeError, rangeError, options, bool, integer, ttl, ttlOption, end, timeout, index, noWait, list, flatEntries, asBuffer
}
