'use strict'
// A deterministic generator (xorshift32): rng(seed)(n) is 0 to n - 1, so a
// failing run can be repeated.
module.exports = function rng (seed) {
  let s = seed >>> 0 || 1
  return (n) => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s % n
  }
}
