/*
 * hooks.h - a test's way into the read-through path (near.c): the race
 * test widens the window between a fill's Redis read and its store, where
 * a write's invalidation must void the lease.  NULL (the default) costs a
 * pointer test per fill.
 */
#ifndef SHMKV_REDIS_HOOKS_H
#define SHMKV_REDIS_HOOKS_H

#include <stddef.h>

/* Called by a fill after Redis answered and before shmkv_put_leased. */
extern void (*shmkv_redis__before_store)(const void *key, size_t klen);

#endif
