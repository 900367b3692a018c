'use strict'
// The scratch Buffer that every table of this thread reads a value into
// (src/table.h says why); fromScratch copies a value out of it into a
// Buffer of its own, from Node's pool when small.
const SCRATCH_BYTES = 16384
const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)

// Below this length a loop copies faster than Buffer's copy, which makes
// a view of its source first (about half a get's cost for small values).
const LOOP_COPY_BYTES = 64

// r: what _get or _lease returned: a length in the scratch, or anything
// else (a Buffer, undefined, a lease), given back as it is.
function fromScratch (r) {
  if (typeof r !== 'number') return r
  const b = Buffer.allocUnsafe(r)
  if (r <= LOOP_COPY_BYTES) {
    for (let i = 0; i < r; i++) b[i] = scratch[i]
  } else {
    scratch.copy(b, 0, 0, r)
  }
  return b
}

// _getMany's and _scan's results: one Buffer, then the lengths of its
// parts (-1: absent), cut into views of it.
function cut (bytes, lengths, from) {
  const out = new Array(lengths.length - from)
  for (let i = from, at = 0; i < lengths.length; i++) {
    const n = lengths[i]
    out[i - from] = n < 0 ? undefined : bytes.subarray(at, at += n)
  }
  return out
}

module.exports = { scratch, fromScratch, cut }
