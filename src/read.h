/* read.h - what the lock-free read path (read.c) offers the other API files. */
#ifndef SHMKV_READ_H
#define SHMKV_READ_H

#include "handle.h"

#include <stddef.h>
#include <stdint.h>

/* Find the list at key lock-free and call fn(db, lrun, ctx) with its list
 * run; fn reads racily and copies what it needs, and is called again if
 * a writer disturbed the look (its result is only kept from an
 * undisturbed one).  Returns fn's result, -ENOENT (absent), -EMEDIUMTYPE
 * (a pair), -EBADMSG. */
int shmkv__read_list(shmkv *db, const void *key, size_t klen, int (*fn)(shmkv *db, uint64_t lrun, void *ctx),
                     void *ctx);

/* The list run of the list at key (hash h), lock-free, never taking the
 * shard's lock (a lane's holder calls it: lanes come after shard locks).
 * 0, -ENOENT, -EMEDIUMTYPE, -EBADMSG, or -EAGAIN when writers disturbed
 * every look. */
int shmkv__find_list(shmkv *db, uint64_t h, const void *key, size_t klen, uint64_t *lrun);

#endif
