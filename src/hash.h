/* hash.h - the keyed 64-bit hash that places keys (hash.c). */
#ifndef SHMKV_HASH_H
#define SHMKV_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t shmkv__hash64(const void *key, size_t len, uint64_t seed0, uint64_t seed1);

#endif
