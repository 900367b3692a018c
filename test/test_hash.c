/*
 * test_hash.c - the keyed hash (hash.h shmkv__hash64), which places every
 * key: its tag and its shard are in the file, so the function is part of
 * the format and must never change.
 *  - known: answers for keys of 0 to 48 bytes (every branch: 0, which no
 *    key is but which once read a byte before the key (ASan), 1-3, 4-7,
 *    8 with its own way, 9-16, the 16-byte tail, one and more 32-byte
 *    rounds), fixed at format 7 (17 to 32 bytes changed there: below);
 *  - eight: the way of 8-byte keys (one load, from the seed word a handle
 *    keeps) against the 4-16 byte definition written out, for many keys
 *    and seeds;
 *  - seeds: either seed word moves every hash, of every length.  Keys of
 *    17 to 32 bytes did not: the two lanes of long keys were folded
 *    together even when no round had run, which cancelled the seed, so
 *    such keys hashed the same in every table and keys crafted to collide
 *    in one collided in all (format 7 fixed it).
 */
#include "harness.h"

#include "hash.h"

#include <stdint.h>
#include <string.h>

static const uint64_t known_answers[49] = {
    0x5afab4ff0976bb08ull, 0x6bb0caa95cef4ae4ull, 0xcb896f8b9ac820fcull,
    0xce9ba1eda6c8243full, 0x811c116c539049ffull, 0x7ed525872baea716ull,
    0x29f3b7954f970f28ull, 0xc45d9635b896c4a9ull, 0x50bb039799fd765full,
    0x7c77af61e5317a7cull, 0xdcb981fb023ef357ull, 0x0b221c16ed0b6891ull,
    0xfdcb79d97b42dfb2ull, 0x7c33d74523a454faull, 0x8945e9f966f0944eull,
    0xf0bcf20b569d0f2aull, 0xf2bf32d84c89193dull, 0x567f084c6204bf21ull,
    0x403e0e099d9c8b07ull, 0xb2d52f36844adb52ull, 0x4774ec7412f17e32ull,
    0x3a8462e9c18fa148ull, 0x70d054b0d4463e63ull, 0x6faa25c32104ed01ull,
    0xd65562bd1528e3e3ull, 0x0982a2c30a08bb10ull, 0x8bf46f8de7846f22ull,
    0xb979ddde6762b62cull, 0xafa7c16ce6bd5634ull, 0x64e3d34ed9e60b6cull,
    0xcc1ea63f56db84acull, 0xae3e1cb448fe9674ull, 0x71d20f1ed53fd3fbull,
    0x50b137f82a06bfcfull, 0x02314813e972c336ull, 0x7fa7ff931d6759b3ull,
    0xf33c667add56c587ull, 0x41b803316a044a34ull, 0xca6b91577a839771ull,
    0xe306717ebf2d4d95ull, 0x5f1b5f26ee914a2full, 0xe83d8e33f61483d5ull,
    0xff7b928ea5a59073ull, 0xab106210d139052aull, 0x40aa6097455a3a2full,
    0x54d04229a8a00efaull, 0x0b3a24222cfef46dull, 0x57bc62168059602dull,
    0x1ca6474fdd9834a5ull,
};

static const uint64_t S0 = 0x0123456789abcdefull, S1 = 0xfedcba9876543210ull;

static void fill_key(unsigned char *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        k[i] = (unsigned char)(i * 37 + 11);
}

static void test_known(void)
{
    unsigned char k[48];
    fill_key(k, sizeof k);
    for (size_t len = 0; len <= 48; len++) {
        uint64_t h = shmkv__hash64(k, len, S0, S1);
        CHECKF(h == known_answers[len], "%zu bytes: %#llx, want %#llx", len, (unsigned long long)h,
               (unsigned long long)known_answers[len]);
    }
}

static uint64_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The 4-16 byte definition for 8 bytes: two pairs of 32-bit halves. */
static uint64_t ref8(const unsigned char *p, uint64_t s0, uint64_t s1)
{
    uint64_t seed = s0 ^ hash_mum(s1 ^ HASH_K0, 8 ^ HASH_K1);
    uint64_t a = rd32(p) << 32 | rd32(p + 4), b = rd32(p + 4) << 32 | rd32(p);
    return hash_mum(HASH_K1 ^ 8, hash_mum(a ^ HASH_K1, b ^ seed));
}

static void test_eight(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned n = 0; n < 100000 && !h_failures_local(); n++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned char k[8];
        memcpy(k, &x, 8);
        uint64_t s0 = x * 3, s1 = x ^ (x >> 29);
        CHECKF(shmkv__hash64(k, 8, s0, s1) == ref8(k, s0, s1), "key %#llx", (unsigned long long)x);
        /* and from the seed word a handle keeps for 8-byte keys */
        CHECKF(shmkv__hash64_8(k, shmkv__hash_seed(s0, s1, 8)) == ref8(k, s0, s1), "key %#llx, seed word",
               (unsigned long long)x);
    }
}

static void test_seeds(void)
{
    unsigned char k[48];
    fill_key(k, sizeof k);
    for (size_t len = 0; len <= 48; len++) {
        uint64_t h = shmkv__hash64(k, len, S0, S1);
        CHECKF(shmkv__hash64(k, len, S0 ^ 1, S1) != h, "%zu bytes: seed0 ignored", len);
        CHECKF(shmkv__hash64(k, len, S0, S1 ^ (1ull << 40)) != h, "%zu bytes: seed1 ignored", len);
    }
}

static const struct h_part parts[] = {
    { "known", test_known },
    { "eight", test_eight },
    { "seeds", test_seeds },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_hash", parts, H_NPARTS(parts));
}
