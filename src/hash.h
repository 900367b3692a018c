/*
 * hash.h - the 64-bit keyed hash that places keys (inline: every
 * operation starts with it, and keys are mostly short).
 *
 * The construction is the multiply-and-fold ("mum") scheme published with
 * wyhash: 64x64->128-bit multiplies whose halves are xored together, which
 * mixes every input bit into every output bit at about one multiply per 8
 * bytes.  Keys up to 16 bytes (the common case) are read as at most two
 * overlapping words and finished with two multiplies.
 *
 * The two seed words are random per table (kept in the file header), so
 * keys crafted to collide on one table do not collide on another.  Shard
 * selection uses the top bits of the result and the index tag the low 24,
 * so both ends must be well mixed: the final fold provides that.
 */
#ifndef SHMKV_HASH_H
#define SHMKV_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_K0 0xa0761d6478bd642full
#define HASH_K1 0xe7037ed1a0b428dbull
#define HASH_K2 0x8ebc6af09c88c6e3ull

static inline uint64_t hash_mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hash_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t hash_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* The word a key of len bytes is hashed from: the table's two seed words
 * and the length. */
static inline uint64_t shmkv__hash_seed(uint64_t seed0, uint64_t seed1, size_t len)
{
    return seed0 ^ hash_mum(seed1 ^ HASH_K0, (uint64_t)len ^ HASH_K1);
}

/* The usual key, 8 bytes, from its seed word (shmkv__hash_seed(.., 8),
 * which a handle keeps: one multiply less on the way to the bucket): one
 * load, the same words the 4..16-byte way reads as two pairs of halves. */
static inline uint64_t shmkv__hash64_8(const void *key, uint64_t seed8)
{
    uint64_t b = hash_rd64(key), a = b << 32 | b >> 32;
    return hash_mum(HASH_K1 ^ 8, hash_mum(a ^ HASH_K1, b ^ seed8));
}

__attribute__((always_inline)) static inline uint64_t shmkv__hash64(const void *key, size_t len, uint64_t seed0,
                                                                   uint64_t seed1)
{
    const uint8_t *p = key;
    uint64_t seed = shmkv__hash_seed(seed0, seed1, len);
    uint64_t a, b;

    if (len == 8)
        return shmkv__hash64_8(p, seed);
    if (len <= 16) {
        if (len >= 4) {
            size_t q = (len >> 3) << 2; /* 0 for 4..7 bytes, 4 for 8..16 */
            a = hash_rd32(p) << 32 | hash_rd32(p + q);
            b = hash_rd32(p + len - 4) << 32 | hash_rd32(p + len - 4 - q);
        } else { /* (no key is empty, but the hash reads nothing then) */
            a = len ? (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 | p[len - 1] : 0;
            b = 0;
        }
    } else {
        size_t i = len;
        if (i > 32) {
            /* two independent lanes so the multiplies overlap in the
             * pipeline, folded together after them (only then: folding
             * the second lane's untouched start, seed ^ K2, cancelled the
             * seed, and keys of 17 to 32 bytes hashed the same in every
             * table until format 7; test_hash) */
            uint64_t s2 = seed ^ HASH_K2;
            do {
                seed = hash_mum(hash_rd64(p) ^ HASH_K1, hash_rd64(p + 8) ^ seed);
                s2 = hash_mum(hash_rd64(p + 16) ^ HASH_K2, hash_rd64(p + 24) ^ s2);
                p += 32;
                i -= 32;
            } while (i > 32);
            seed ^= s2;
        }
        if (i > 16) {
            seed = hash_mum(hash_rd64(p) ^ HASH_K1, hash_rd64(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = hash_rd64(p + i - 16);
        b = hash_rd64(p + i - 8);
    }
    return hash_mum(HASH_K1 ^ (uint64_t)len, hash_mum(a ^ HASH_K1, b ^ seed));
}

#endif
